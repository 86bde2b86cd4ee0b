"""1,000 spectra to the client in one request, against baselines in the same run.

    uv run --all-extras python -m benchmarks.spectra --data-dir .skydock/bench-spectra

Builds ``demo.objects`` (200,000 rows) and ``demo.specobj`` (3,000 spectra, 3,101 pixels
each) in the data directory when they are missing, starts ``skydock serve`` in its own
process on a free 127.0.0.1 port and times, as medians of ``--repeats`` runs:

- ``Client.spectra(ids=1000)`` into Arrow, astropy and specutils, and by SQL query;
- the raw store read in-process (the floor: a binary search and a take on the
  memory-mapped file, no HTTP);
- the same 1,000 spectra as one FITS file each (the classic archive layout), read one
  by one with astropy.io.fits;
- the same 1,000 fetched one request each from ``GET /api/spectra/{id}``.

Run by hand; never a timed test.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.serve import skydock_server

N = 1000


def timed(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ensure_demo(data_dir: Path) -> None:
    from skydock.demo.build import build_demo
    from skydock.engine.catalog import CatalogStore

    if not CatalogStore.for_data_dir(data_dir).exists("demo.specobj"):
        print("building demo.objects (200,000 rows) and demo.specobj (3,000 spectra) …")
        build_demo(data_dir, rows=200_000, only="objects,specobj", if_missing=True)


def write_fits_files(directory: Path, table: Any, wave: np.ndarray) -> list[Path]:
    """One FITS file per spectrum: a binary table of wavelength, flux, ivar, mask, model."""
    from astropy.io import fits

    from skydock.client import spectra_array

    arrays = {name: spectra_array(table, name) for name in ("flux", "ivar", "mask", "model")}
    paths = []
    for i, tid in enumerate(table.column("targetid").to_pylist()):
        cols = [fits.Column(name="wavelength", format="D", array=wave)]
        cols += [
            fits.Column(name=name, format="B" if name == "mask" else "E", array=values[i])
            for name, values in arrays.items()
        ]
        hdu = fits.BinTableHDU.from_columns(cols)
        hdu.header["TARGETID"] = str(tid)
        path = directory / f"spec-{tid}.fits"
        hdu.writeto(path)
        paths.append(path)
    return paths


def read_fits_files(paths: list[Path]) -> int:
    from astropy.io import fits

    total = 0
    for path in paths:
        with fits.open(path, memmap=False) as hdul:
            data = hdul[1].data
            total += len(np.asarray(data["flux"]))
    return total


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.spectra", description=__doc__)
    p.add_argument("--data-dir", type=Path, default=Path(".skydock/bench-spectra"))
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    data_dir: Path = args.data_dir
    ensure_demo(data_dir)

    from skydock.client import Client, wavelength
    from skydock.engine.spectra import SpectraStore

    collection = SpectraStore(data_dir).collection("demo.specobj")
    rng = np.random.default_rng(1)
    ids = [int(i) for i in rng.choice(collection.ids, size=N, replace=False)]
    npix = len(collection.wavelength)
    print(
        f"{N:,} of {len(collection):,} spectra, {npix:,} pixels each "
        f"({N * npix * 13 / 1e6:.0f} MB of flux, ivar, mask and model)"
    )

    results: dict[str, float] = {}
    results["raw store read, in-process"] = timed(lambda: collection.read(ids), args.repeats)
    with skydock_server(data_dir) as url, Client(url=url) as client:
        sql = f"SELECT targetid, z, class FROM demo.specobj ORDER BY targetid LIMIT {N}"
        results["Client.spectra(ids) → Arrow"] = timed(
            lambda: client.spectra(ids=ids), args.repeats
        )
        results["Client.spectra(sql) → Arrow"] = timed(
            lambda: client.spectra(sql=sql), args.repeats
        )
        results["Client.spectra(ids) → astropy"] = timed(
            lambda: client.spectra(ids=ids, fmt="astropy"), args.repeats
        )
        results["Client.spectra(ids) → specutils"] = timed(
            lambda: client.spectra(ids=ids, fmt="specutils"), args.repeats
        )
        import httpx

        with httpx.Client(base_url=url) as http:
            results["1,000 × GET /api/spectra/{id}"] = timed(
                lambda: [http.get(f"/api/spectra/{i}").raise_for_status() for i in ids], 1
            )
        table = client.spectra(ids=ids)
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_fits_files(Path(tmp), table, wavelength(table))
        results["1,000 FITS files, astropy one by one"] = timed(
            lambda: read_fits_files(paths), args.repeats
        )

    ours = results["Client.spectra(ids) → Arrow"]
    print(f"\n{'path':<42} {'median':>10} {'vs Client.spectra(ids)':>24}")
    for name, seconds in results.items():
        print(f"{name:<42} {seconds * 1000:>8.0f} ms {seconds / ours:>23.2f}×")
    print(f"\ntarget: {N:,} spectra to the client in under 2 s: {ours:.2f} s")


if __name__ == "__main__":
    main()
