"""``skydock catalog ...`` end to end: real files, a real data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
import yaml
from typer.testing import CliRunner

from skydock.cli import catalog
from skydock.engine.catalog import CatalogStore
from skydock.engine.spectra import ARRAYS, collection_path, write_collection
from skydock.errors import CatalogError, CatalogExistsError, UnknownTableError
from tests.conftest import make_points

# A root app holding only the catalog commands, so these tests do not depend on the
# other subcommand modules; ``cli.main`` adds only the "error: ..." mapping, tested below.
root = typer.Typer()
root.add_typer(catalog.app, name="catalog")
runner = CliRunner()


@pytest.fixture
def files(tmp_path: Path) -> Path:
    pq.write_table(make_points(500, seed=31), tmp_path / "a.parquet")
    second = make_points(300, seed=32)
    second = second.set_column(0, "id", pa.array(second["id"].to_numpy() + 1_000))
    pq.write_table(second, tmp_path / "b.parquet")
    (tmp_path / "meta.yaml").write_text(
        yaml.safe_dump(
            {
                "description": "Points for the CLI test",
                "columns": {"mag": {"unit": "mag", "ucd": "phot.mag", "description": "A mag"}},
            }
        )
    )
    return tmp_path


def run(*args: str, input_: str | None = None) -> tuple[int, str, BaseException | None]:
    result = runner.invoke(root, list(args), input=input_)
    return result.exit_code, result.output, result.exception


def test_ingest_list_describe_drop(files: Path) -> None:
    data = files / "data"
    code, out, exc = run(
        "catalog",
        "ingest",
        str(files / "*.parquet"),
        "--table",
        "demo.points",
        "--ra",
        "RA",
        "--dec",
        "dec",
        "--id",
        "id",
        "--meta",
        str(files / "meta.yaml"),
        "--data-dir",
        str(data),
        "--no-progress",
        "--partition-rows",
        "200",
    )
    assert exc is None, out
    assert code == 0
    assert "ingested demo.points: 800 rows, 6 columns" in out

    path = data / "catalogs" / "demo" / "points"
    with duckdb.connect(str(path / "serving.duckdb"), read_only=True) as con:
        [(count,)] = con.execute("SELECT count(*) FROM data").fetchall()
    assert count == 800
    assert len(list((path / "dataset").glob("Norder=*/Dir=*/*.parquet"))) >= 4

    code, out, _ = run("catalog", "list", "--data-dir", str(data))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["name", "rows", "columns", "description"]
    assert lines[2].split()[:3] == ["demo.points", "800", "6"]
    assert "Points for the CLI test" in lines[2]

    code, out, _ = run("catalog", "describe", "demo.points", "--data-dir", str(data))
    assert code == 0
    assert out.startswith("demo.points — Points for the CLI test")
    assert "rows: 800   ra: ra   dec: dec   id: id" in out
    mag_line = next(line for line in out.splitlines() if line.startswith("mag "))
    assert mag_line.split() == ["mag", "FLOAT", "mag", "phot.mag", "A", "mag"]
    ra_line = next(line for line in out.splitlines() if line.startswith("ra "))
    assert "deg" in ra_line and "pos.eq.ra;meta.main" in ra_line

    code, out, _ = run("catalog", "drop", "demo.points", "--data-dir", str(data), input_="n\n")
    assert code == 1
    assert path.is_dir(), "declining the prompt must keep the catalog"

    # A table with spectra (as demo.specobj has) loses them with it; others keep theirs.
    spectra = write_collection(
        collection_path(data, "demo.points"),
        np.array([2**60 + 1, 2**60 + 2]),
        np.linspace(3600.0, 9800.0, 8),
        {k: np.zeros((2, 8), dtype=np.uint8 if k == "mask" else np.float32) for k in ARRAYS},
    )
    kept = write_collection(
        collection_path(data, "demo.other"),
        np.array([7]),
        np.linspace(3600.0, 9800.0, 8),
        {k: np.zeros((1, 8), dtype=np.uint8 if k == "mask" else np.float32) for k in ARRAYS},
    )
    code, out, _ = run("catalog", "drop", "demo.points", "--yes", "--data-dir", str(data))
    assert code == 0
    assert "dropped demo.points" in out
    assert not path.exists()
    assert not spectra.parent.exists() and "deleted its spectra" in out
    assert kept.is_file()
    code, out, _ = run("catalog", "list", "--data-dir", str(data))
    assert "no catalogs" in out


def test_errors_surface_as_skydock_errors(files: Path) -> None:
    data = files / "data"
    base = ["catalog", "ingest", str(files / "a.parquet"), "--data-dir", str(data)]
    _, _, exc = run(*base, "--table", "demo.p", "--ra", "raj2000", "--dec", "dec", "--no-progress")
    assert isinstance(exc, CatalogError)
    assert "did you mean 'ra'" in str(exc)
    assert not (data / "catalogs" / "demo").exists()

    code, _, exc = run(*base, "--table", "demo.p", "--ra", "ra", "--dec", "dec", "--no-progress")
    assert code == 0 and exc is None
    _, _, exc = run(*base, "--table", "demo.p", "--ra", "ra", "--dec", "dec", "--no-progress")
    assert isinstance(exc, CatalogExistsError)

    _, _, exc = run("catalog", "describe", "demo.q", "--data-dir", str(data))
    assert isinstance(exc, UnknownTableError)
    assert "did you mean demo.p" in str(exc)
    _, _, exc = run("catalog", "drop", "nosuch.table", "--yes", "--data-dir", str(data))
    assert isinstance(exc, UnknownTableError)


def test_missing_required_options_are_usage_errors(files: Path) -> None:
    code, out, _ = run("catalog", "ingest", str(files / "a.parquet"), "--ra", "ra", "--dec", "dec")
    assert code == 2
    assert "--table" in out


def test_main_prints_error_and_exits_2(files: Path) -> None:
    """Through the real entry point, with every subcommand registered."""
    data = files / "data"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from skydock.cli import main; sys.argv[0] = 'skydock'; main()",
            "catalog",
            "ingest",
            str(files / "a.parquet"),
            "--table",
            "demo.p",
            "--ra",
            "ra",
            "--dec",
            "declination",
            "--data-dir",
            str(data),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: --dec column 'declination' is not in")
    assert CatalogStore.for_data_dir(data).list() == []
