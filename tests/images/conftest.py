"""Image fixtures: small FITS fields rendered from known source lists, registered in a
throwaway data directory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from skydock.demo.images import render
from skydock.engine.images import ImageRegistry


@dataclass(frozen=True)
class Sources:
    ra: np.ndarray
    dec: np.ndarray
    flux: np.ndarray


def tan_wcs(ra: float, dec: float, n: int, scale_arcsec: float, rotation_deg: float = 0.0) -> WCS:
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [ra, dec]
    w.wcs.crpix = [(n + 1) / 2 + 3.3, (n + 1) / 2 - 7.1]  # off-centre on purpose
    s = scale_arcsec / 3600
    c, si = np.cos(np.radians(rotation_deg)), np.sin(np.radians(rotation_deg))
    w.wcs.cd = [[-s * c, s * si], [s * si, s * c]]
    return w


def make_image(
    path: Path,
    wcs: WCS,
    n: int,
    sources: Sources,
    *,
    band: str = "r",
    mjd: float = 60000.0,
    sigma_px: float = 1.6,
    noise: float = 0.0,
    seed: int = 1,
) -> Path:
    x, y = wcs.world_to_pixel_values(sources.ra, sources.dec)
    data = render((n, n), x, y, sources.flux, np.full(len(x), sigma_px))
    if noise:
        data += np.random.default_rng(seed).normal(0, noise, data.shape).astype(np.float32)
    header = wcs.to_header()
    header["FILTER"] = band
    header["MJD-OBS"] = mjd
    header["EXPTIME"] = 60.0
    fits.PrimaryHDU(data, header).writeto(path, overwrite=True)
    return path


def random_sources(ra: float, dec: float, half_deg: float, count: int, seed: int) -> Sources:
    rng = np.random.default_rng(seed)
    cosd = np.cos(np.radians(dec))
    return Sources(
        ra=(ra + rng.uniform(-half_deg, half_deg, count) / cosd) % 360.0,
        dec=dec + rng.uniform(-half_deg, half_deg, count),
        flux=rng.uniform(2e3, 2e4, count),
    )


# Three fields: one across RA = 0, one near the south pole, one ordinary; g/r/i for the
# first, r only for the others (different epochs).
FIELDS: Sequence[tuple[str, float, float, str, float]] = (
    ("wrap", 0.02, 10.0, "g", 60000.0),
    ("wrap", 0.02, 10.0, "r", 60000.1),
    ("wrap", 0.02, 10.0, "i", 60000.2),
    ("polar", 45.0, -88.9, "r", 60100.0),
    ("plain", 150.0, 2.0, "r", 60200.0),
)
N = 256
SCALE = 1.0  # arcsec/pixel → fields of 4.3′


@pytest.fixture(scope="session")
def image_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, WCS, Sources]]:
    root = tmp_path_factory.mktemp("image-files")
    out = {}
    for name, ra, dec, band, mjd in FIELDS:
        wcs = tan_wcs(ra, dec, N, SCALE, rotation_deg=0.0 if name != "polar" else 25.0)
        sources = random_sources(ra, dec, N * SCALE / 3600 / 2, 25, seed=hash(name) % 1000)
        path = make_image(root / f"{name}-{band}.fits", wcs, N, sources, band=band, mjd=mjd)
        out[f"{name}-{band}"] = (path, wcs, sources)
    return out


@pytest.fixture
def images_dir(tmp_path: Path, image_files: dict[str, tuple[Path, WCS, Sources]]) -> Path:
    """A data directory with collection ``test`` holding the five images."""
    registry = ImageRegistry.for_data_dir(tmp_path)
    for key, (path, _, _) in image_files.items():
        registry.ingest([path], collection="test", band=key.split("-")[1])
    return tmp_path
