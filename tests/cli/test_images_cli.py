"""``skydock images ingest|list|drop`` on real FITS files and a real data directory."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from skydock.cli import images
from skydock.engine.catalog import CatalogStore
from skydock.engine.executor import DuckDBExecutor
from skydock.engine.images import ImageRegistry
from tests.images.conftest import image_files  # noqa: F401 - the session's test images

root = typer.Typer()
root.add_typer(images.app, name="images")
runner = CliRunner()


def test_ingest_list_drop(tmp_path: Path, image_files: dict) -> None:  # noqa: F811
    files = [str(image_files[k][0]) for k in ("wrap-g", "plain-r")]
    result = runner.invoke(
        root,
        [
            "images",
            "ingest",
            *files,
            "--collection",
            "deep",
            "--band",
            "r",
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2 image(s) registered in deep" in result.stdout
    assert "ivoa.obscore: 2 row(s)" in result.stdout
    executor = DuckDBExecutor(CatalogStore.for_data_dir(tmp_path))
    try:
        table = executor.execute("SELECT obs_id FROM ivoa.obscore ORDER BY obs_id").to_table()
    finally:
        executor.close()
    assert table.column("obs_id").to_pylist() == ["plain-r", "wrap-g"]
    listed = runner.invoke(root, ["images", "list", "--data-dir", str(tmp_path)])
    assert "deep/plain-r" in listed.stdout and "deep/wrap-g" in listed.stdout
    # a custom band needs its wavelengths; a bad range is refused by name
    bad = runner.invoke(
        root,
        [
            "images",
            "ingest",
            files[0],
            "--collection",
            "ha",
            "--band",
            "Ha",
            "--wavelength",
            "660",
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert bad.exit_code != 0 and "--wavelength" in str(bad.exception)
    ok = runner.invoke(
        root,
        [
            "images",
            "ingest",
            files[0],
            "--collection",
            "ha",
            "--band",
            "Ha",
            "--wavelength",
            "650,670",
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert ok.exit_code == 0, ok.output
    (record,) = [r for r in ImageRegistry.for_data_dir(tmp_path).records() if r.collection == "ha"]
    assert abs(record.em_min - 650e-9) < 1e-15 and abs(record.em_max - 670e-9) < 1e-15
    dropped = runner.invoke(root, ["images", "drop", "deep", "--data-dir", str(tmp_path)])
    assert dropped.exit_code == 0 and "2 image(s)" in dropped.stdout
    assert "ivoa.obscore: 1 row(s)" in dropped.stdout
    assert not (tmp_path / "images" / "deep").exists()
    missing = runner.invoke(
        root,
        [
            "images",
            "ingest",
            "nope.fits",
            "--collection",
            "x",
            "--band",
            "r",
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert missing.exit_code != 0 and "no such file" in str(missing.exception)
