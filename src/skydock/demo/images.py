"""Demo image fields: simulated survey images rendered from the demo catalogs.

Each field is a TAN-projected image (north up, east left) in the g, r and i bands. The
sources are the catalog's own rows, read back through the query engine: every row with
a magnitude in the band becomes a Gaussian profile (the seeing, widened by the object's
size for galaxies) with that flux, on a sky whose noise makes the 5σ point-source depth
about the catalog's. So a cutout of the image shows exactly what the table lists, and a
row's RA/Dec is where its light is.

Pixel values are fluxes on an AB zero point of 30 (``MAGZERO``): a source of magnitude m
holds ``10**(-0.4 (m - 30))`` in total.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from astropy.io import fits
from astropy.wcs import WCS

from skydock.demo import smash

ZERO_POINT = 30.0
BANDS = ("g", "r", "i")
FWHM_ARCSEC = {"g": 1.2, "r": 1.05, "i": 0.95}
MJD_START = 60676.0  # 2025-01-01
EXPTIME = 90.0
_FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
_erf = np.frompyfunc(math.erf, 1, 1)


def erf(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(_erf(values), dtype=np.float64)


@dataclass(frozen=True)
class Field:
    """One imaged field: where, how big, from which catalog."""

    name: str
    table: str  # demo.smash or demo.objects
    ra: float
    dec: float
    pixels: int
    scale_arcsec: float
    target: str

    @property
    def collection(self) -> str:
        return self.table

    @property
    def radius_deg(self) -> float:
        """Radius of the circle holding the whole image (the catalog query's cone)."""
        return self.pixels * self.scale_arcsec / 3600.0 * math.sqrt(2.0) / 2.0 + 0.01


FIELDS = (
    Field(
        "hydra2",
        "demo.smash",
        smash.DWARF_RA,
        smash.DWARF_DEC,
        2048,
        0.6,
        "Hydra II-like dwarf galaxy",
    ),
    Field(
        "field169", "demo.smash", smash.FIELD_RA, smash.FIELD_DEC, 2048, 1.0, "SMASH-like field 169"
    ),
    Field("south0", "demo.objects", 0.0, -50.0, 2048, 1.5, "survey field across RA 0"),
)

# Column names of each catalog: magnitudes per band, and a size where there is one.
_MAGS = {
    "demo.smash": {"g": "gmag", "r": "rmag", "i": "imag"},
    "demo.objects": {"g": "mag_g", "r": "mag_r", "i": "mag_i"},
}
_DEPTH = {
    "demo.smash": {"g": 25.3, "r": 25.0, "i": 24.6},
    "demo.objects": {"g": 24.0, "r": 23.4, "i": 23.0},
}


def field_wcs(field: Field) -> WCS:
    """A TAN WCS centred on the field; RA grows to the left (east), Dec upwards."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [field.ra % 360.0, field.dec]
    w.wcs.crpix = [(field.pixels + 1) / 2.0, (field.pixels + 1) / 2.0]
    scale = field.scale_arcsec / 3600.0
    w.wcs.cd = [[-scale, 0.0], [0.0, scale]]
    w.wcs.radesys = "ICRS"
    w.wcs.cunit = ["deg", "deg"]
    return w


def sky_sigma(depth: float, fwhm_px: float) -> float:
    """Per-pixel noise giving a 5σ point-source detection at ``depth`` (optimal PSF
    photometry on a Gaussian: noise-equivalent area 4πσ²)."""
    flux5 = 10.0 ** (-0.4 * (depth - ZERO_POINT))
    sigma_psf = fwhm_px * _FWHM_TO_SIGMA
    return flux5 / 5.0 / math.sqrt(4.0 * math.pi) / sigma_psf


def render(
    shape: tuple[int, int],
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    flux: npt.ArrayLike,
    sigma_px: npt.ArrayLike,
) -> npt.NDArray[np.float32]:
    """Gaussian sources on an empty image: source k holds ``flux[k]`` in total, centred
    on 0-based pixel (x[k], y[k]), and each profile is integrated over the pixels (error
    functions), so centroids are exact even for narrow profiles."""
    ny, nx = shape
    image = np.zeros(shape, dtype=np.float64)
    xs, ys = np.asarray(x, float), np.asarray(y, float)
    fs, ss = np.asarray(flux, float), np.asarray(sigma_px, float)
    for xc, yc, f, s in zip(xs, ys, fs, ss, strict=True):
        half = math.ceil(5.0 * s) + 1
        ix, iy = round(xc), round(yc)
        x0, x1 = max(ix - half, 0), min(ix + half + 1, nx)
        y0, y1 = max(iy - half, 0), min(iy + half + 1, ny)
        if x0 >= x1 or y0 >= y1:
            continue
        scale = s * math.sqrt(2.0)
        ex = erf((np.arange(x0, x1 + 1) - 0.5 - xc) / scale)
        ey = erf((np.arange(y0, y1 + 1) - 0.5 - yc) / scale)
        image[y0:y1, x0:x1] += f * 0.25 * np.outer(np.diff(ey), np.diff(ex))
    return image.astype(np.float32)


def _sources(executor: object, field: Field) -> dict[str, np.ndarray]:
    """The catalog rows that can land on the field, as numpy columns."""
    from skydock.engine.executor import DuckDBExecutor

    assert isinstance(executor, DuckDBExecutor)
    mags = ", ".join(_MAGS[field.table].values())
    size = "shape_r" if field.table == "demo.objects" else "sharp"
    sql = (
        f"SELECT ra, dec, {mags}, {size} AS size FROM {field.table} "
        f"WHERE q3c_radial_query(ra, dec, {field.ra % 360.0}, {field.dec}, {field.radius_deg})"
    )
    with executor.execute(sql) as result:
        table = result.to_table()
    out = {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
    if field.table == "demo.smash":
        # DAOPHOT sharpness back to a half-light radius (the generator's own relation).
        sharp = np.clip(np.nan_to_num(out["size"].astype(float)), 0.0, 0.85)
        out["size"] = 0.7 * sharp / (0.9 - sharp)
    return out


def render_field(
    field: Field, band: str, sources: dict[str, np.ndarray], seed: int
) -> fits.PrimaryHDU:
    """One band of one field: the sources plus sky noise, with a full header."""
    wcs = field_wcs(field)
    fwhm_px = FWHM_ARCSEC[band] / field.scale_arcsec
    mag = np.asarray(sources[_MAGS[field.table][band]], dtype=float)
    ok = np.isfinite(mag)
    x, y = wcs.world_to_pixel_values(sources["ra"][ok], sources["dec"][ok])
    half_light = np.nan_to_num(np.asarray(sources["size"], float)[ok]) / field.scale_arcsec
    sigma = np.hypot(fwhm_px * _FWHM_TO_SIGMA, half_light / 1.1774)
    flux = 10.0 ** (-0.4 * (mag[ok] - ZERO_POINT))
    shape = (field.pixels, field.pixels)
    image = render(shape, x, y, flux, sigma)
    rng = np.random.default_rng([seed, zlib_crc(field.name), BANDS.index(band)])
    noise = sky_sigma(_DEPTH[field.table][band], fwhm_px)
    image += rng.normal(0.0, noise, shape).astype(np.float32)
    header = wcs.to_header()
    header["BUNIT"] = ("flux", "AB flux on the MAGZERO scale")
    header["MAGZERO"] = (ZERO_POINT, "AB magnitude of a total of 1")
    header["FILTER"] = band
    header["OBJECT"] = field.target
    header["TELESCOP"] = "Skydock demo"
    header["INSTRUME"] = "simulated imager"
    header["SEEING"] = (FWHM_ARCSEC[band], "PSF FWHM, arcsec")
    header["SKYSIG"] = (noise, "sky noise per pixel")
    header["MJD-OBS"] = MJD_START + zlib_crc(field.name) % 365 + BANDS.index(band) * 0.01
    header["EXPTIME"] = EXPTIME
    header["NSOURCES"] = (int(ok.sum()), "catalog rows rendered")
    return fits.PrimaryHDU(data=image, header=header)


def zlib_crc(text: str) -> int:
    import zlib

    return zlib.crc32(text.encode())


def collections_present(data_dir: Path) -> list[str]:
    from skydock.engine.images import ImageRegistry

    have = set(ImageRegistry.for_data_dir(data_dir).collections())
    return sorted({f.collection for f in FIELDS} & have)


def build_images(
    data_dir: Path,
    *,
    seed: int,
    progress: bool = True,
    log: Callable[[str], None] = lambda _: None,
    fields: Iterable[Field] = FIELDS,
) -> list[tuple[str, int]]:
    """Render and register every field whose catalog is built; (collection, images)."""
    from skydock.engine.catalog import CatalogStore
    from skydock.engine.executor import DuckDBExecutor
    from skydock.engine.images import ImageRegistry

    store = CatalogStore.for_data_dir(data_dir)
    registry = ImageRegistry.for_data_dir(data_dir)
    wanted = [f for f in fields if store.exists(f.table)]
    for f in fields:
        if f not in wanted:
            log(f"images {f.name}: skipped, {f.table} is not built")
    jobs = [(f, b) for f in wanted for b in BANDS]
    steps: Iterable[tuple[Field, str]] = jobs
    if progress and jobs:
        from tqdm import tqdm

        steps = tqdm(jobs, desc="rendering demo images", unit="image")
    scratch = store.staging_dir() / "images"
    scratch.mkdir(parents=True, exist_ok=True)
    done: dict[str, int] = {}
    executor = DuckDBExecutor(store)
    try:
        cache: dict[str, dict[str, np.ndarray]] = {}
        for field, band in steps:
            if field.name not in cache:
                cache = {field.name: _sources(executor, field)}
            hdu = render_field(field, band, cache[field.name], seed)
            path = scratch / f"{field.name}-{band}.fits"
            hdu.writeto(path, overwrite=True)
            registry.ingest(
                [path], collection=field.collection, band=band, replace_existing=True, move=True
            )
            done[field.collection] = done.get(field.collection, 0) + 1
        if done:
            from skydock.engine.images.obscore import publish

            publish(data_dir, registry.records())
    finally:
        executor.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return sorted(done.items())
