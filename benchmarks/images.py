"""Image cutouts: a 1′ cutout of a 4096² image over HTTP against reading the whole file.

    uv run --frozen --all-extras python -m benchmarks.images [--size 4096] [--repeats 30]

A 4096×4096 float32 image (64 MiB, TAN WCS at 0.25″/px, noise plus sources) is written
to a scratch directory and registered; a real ``skydock serve`` answers
``/api/images/cutout`` (FITS and PNG, 1′ = 240×240 px) at random positions. Baselines
in the same run: the engine's cutout in-process (what HTTP adds), and what a user
without a cutout service does — ``astropy.io.fits.getdata(memmap=False)``, the whole file, then
``Cutout2D`` with the WCS. Prints medians and ratios; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import httpx
import numpy as np
from astropy.io import fits
from astropy.nddata import Cutout2D
from astropy.wcs import WCS

from benchmarks.serve import skydock_server
from skydock.engine.images import ImageRegistry, read_cutout, square_box

SCALE_ARCSEC = 0.25
CUTOUT_DEG = 1 / 60


def make_image(path: Path, n: int, seed: int) -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.2]
    wcs.wcs.crpix = [(n + 1) / 2, (n + 1) / 2]
    wcs.wcs.cd = [[-SCALE_ARCSEC / 3600, 0], [0, SCALE_ARCSEC / 3600]]
    rng = np.random.default_rng(seed)
    data = rng.normal(0.0, 1.0, (n, n)).astype(np.float32)
    ys, xs = rng.integers(5, n - 5, (2, 2000))
    data[ys, xs] += 200.0
    header = wcs.to_header()
    header["FILTER"] = "r"
    fits.PrimaryHDU(data, header).writeto(path)
    return wcs


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1e3


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=4096, help="image side in pixels")
    parser.add_argument("--repeats", type=int, default=30, help="cutouts per measurement")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    n = args.size
    with tempfile.TemporaryDirectory(prefix="skydock-bench-images-") as tmp:
        root = Path(tmp)
        source = root / "big.fits"
        print(f"writing a {n}×{n} float32 image ({n * n * 4 / 2**20:.0f} MiB) …")
        wcs = make_image(source, n, args.seed)
        registry = ImageRegistry.for_data_dir(root / "data")
        (record,) = registry.ingest([source], collection="bench", band="r")
        path = registry.path_of(record)
        rng = np.random.default_rng(args.seed)
        margin = 300
        px = rng.uniform(margin, n - margin, (args.repeats, 2))
        positions = [tuple(map(float, wcs.pixel_to_world_values(x, y))) for x, y in px]

        whole: list[float] = []
        for ra, dec in positions[: max(5, args.repeats // 3)]:
            t0 = time.perf_counter()
            data = fits.getdata(path, memmap=False)
            Cutout2D(data, (ra, dec), (240, 240), wcs=wcs, mode="partial")
            whole.append(time.perf_counter() - t0)
            del data

        engine: list[float] = []
        for ra, dec in positions:
            t0 = time.perf_counter()
            read_cutout(path, record, square_box(registry.wcs_of(record), ra, dec, CUTOUT_DEG))
            engine.append(time.perf_counter() - t0)
        tracemalloc.start()
        read_cutout(path, record, square_box(registry.wcs_of(record), *positions[0], CUTOUT_DEG))
        _, engine_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        tracemalloc.start()
        fits.getdata(path, memmap=False)
        _, whole_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        http: dict[str, list[float]] = {"fits": [], "png": []}
        with skydock_server(root / "data") as url, httpx.Client(base_url=url, timeout=60) as c:
            for fmt in http:
                for ra, dec in positions[:3]:  # warm-up
                    c.get(
                        "/api/images/cutout",
                        params={"ra": ra, "dec": dec, "size": CUTOUT_DEG, "format": fmt},
                    )
                for ra, dec in positions:
                    t0 = time.perf_counter()
                    r = c.get(
                        "/api/images/cutout",
                        params={"ra": ra, "dec": dec, "size": CUTOUT_DEG, "format": fmt},
                    )
                    http[fmt].append(time.perf_counter() - t0)
                    r.raise_for_status()

    base = median_ms(whole)
    print(f"\n1′ cutout (240×240 px) of a {n}×{n} float32 image, {args.repeats} positions")
    print(f"{'method':<44}{'median':>10}{'÷ whole-file':>14}")
    rows = (
        ("astropy: getdata(memmap=False) + Cutout2D", base),
        ("engine in-process (section read)", median_ms(engine)),
        ("HTTP /api/images/cutout format=fits", median_ms(http["fits"])),
        ("HTTP /api/images/cutout format=png", median_ms(http["png"])),
    )
    for name, ms in rows:
        print(f"{name:<44}{ms:>8.2f} ms{ms / base:>13.3f}")
    print(
        f"\npeak Python allocation: section read {engine_peak / 2**20:.2f} MiB, "
        f"whole file {whole_peak / 2**20:.1f} MiB"
    )


if __name__ == "__main__":
    main()
