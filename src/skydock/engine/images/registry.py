"""Image collections on disk: which FITS images exist, where they are on the sky, in
which band and at what time.

Images live under ``<data_dir>/images/<collection>/<obs_id>.fits``; the registry is one
small Parquet file beside them (``images/registry.parquet``), rewritten atomically on
every ingest. It is kept apart from the metadata database on purpose: images are data,
like catalogs, and an operator backs up or moves one folder.

Only headers are read at ingest (the WCS, band, time); pixels are never loaded here.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import re
import shutil
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from astropy.io import fits
from astropy.time import Time
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS, FITSFixedWarning

from skydock.engine.images.regions import FloatArray, Region, separation
from skydock.errors import CatalogError, ConflictError, NotFoundError

IMAGES_DIR = "images"
REGISTRY_FILE = "registry.parquet"
_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,62}$")
_OBS_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$")
BORDER_SAMPLES = 128

# Wavelength ranges (metres) of the usual optical/near-IR broad bands (DECam-like
# ugrizY half-power widths); `--wavelength` overrides or names others.
BANDS: dict[str, tuple[float, float]] = {
    "u": (330e-9, 400e-9),
    "g": (398e-9, 548e-9),
    "r": (562e-9, 720e-9),
    "i": (699e-9, 853e-9),
    "z": (818e-9, 1002e-9),
    "y": (952e-9, 1059e-9),
}


@dataclass(frozen=True)
class ImageRecord:
    """One registered image: what an ObsCore row says about it, plus where it is."""

    collection: str
    obs_id: str
    band: str
    file: str  # relative to the images directory
    hdu: int
    naxis1: int
    naxis2: int
    s_ra: float
    s_dec: float
    s_fov: float  # degrees, the diameter of the smallest circle holding the image
    s_resolution: float  # arcsec per pixel
    s_region: str  # "POLYGON ICRS ra dec ..." (the four corners)
    em_min: float
    em_max: float
    t_min: float  # MJD
    t_max: float
    t_exptime: float
    target_name: str
    instrument_name: str
    facility_name: str
    size_bytes: int

    @property
    def publisher_did(self) -> str:
        return f"ivo://skydock/images?{self.collection}/{self.obs_id}"

    @property
    def key(self) -> str:
        return f"{self.collection}/{self.obs_id}"

    def corners(self) -> FloatArray:
        words = self.s_region.split()[2:]
        return np.array([float(w) for w in words]).reshape(-1, 2)


_FIELDS = frozenset(f.name for f in fields(ImageRecord))
_SCHEMA = pa.schema(
    [
        pa.field(
            f.name,
            {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}[
                str(f.type)
            ],
        )
        for f in fields(ImageRecord)
    ]
)


def open_wcs(header: fits.Header) -> WCS:
    """The celestial WCS of an image header, quietly (header fix-ups are not news)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        warnings.simplefilter("ignore", AstropyWarning)
        return WCS(header)


def border_pixels(naxis1: int, naxis2: int, n: int = BORDER_SAMPLES) -> FloatArray:
    """Pixel positions (0-based x, y) around the image's outer edge and on a coarse grid
    inside it: the points an overlap test samples."""
    x_hi, y_hi = naxis1 - 0.5, naxis2 - 0.5
    t = np.linspace(0.0, 1.0, n + 1)
    xs = -0.5 + t * naxis1
    ys = -0.5 + t * naxis2
    edges = [
        np.column_stack([xs, np.full_like(xs, -0.5)]),
        np.column_stack([xs, np.full_like(xs, y_hi)]),
        np.column_stack([np.full_like(ys, -0.5), ys]),
        np.column_stack([np.full_like(ys, x_hi), ys]),
    ]
    gx, gy = np.meshgrid(np.linspace(-0.5, x_hi, 17), np.linspace(-0.5, y_hi, 17))
    edges.append(np.column_stack([gx.ravel(), gy.ravel()]))
    return np.concatenate(edges)


def describe(
    path: Path,
    *,
    collection: str,
    band: str,
    hdu: int | None = None,
    obs_id: str | None = None,
    wavelength: tuple[float, float] | None = None,
) -> ImageRecord:
    """What the registry needs to know about one FITS image, from its header alone."""
    path = Path(path)
    check_collection(collection)
    band = band.strip()
    if not band:
        raise CatalogError("--band must name the image's band (g, r, i, ...)")
    if wavelength is None:
        if band.lower() not in BANDS:
            raise CatalogError(
                f"band {band!r} has no known wavelength range; use one of "
                f"{', '.join(BANDS)} or give --wavelength LO,HI in nm"
            )
        wavelength = BANDS[band.lower()]
    obs_id = obs_id or path.name.split(".")[0]
    if not _OBS_ID.match(obs_id):
        raise CatalogError(
            f"image id {obs_id!r} must be letters, digits, '_', '.', '+' or '-' (rename "
            "the file or pass --id)"
        )
    try:
        with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
            index = _image_hdu(hdul, hdu, path)
            header = hdul[index].header.copy()
    except (OSError, ValueError) as exc:
        raise CatalogError(f"{path}: not a readable FITS file ({exc})") from None
    wcs = open_wcs(header)
    if not wcs.has_celestial or wcs.naxis != 2:
        raise CatalogError(
            f"{path}: HDU {index} has no 2-D celestial WCS (CTYPE1/2 RA---TAN/DEC--TAN...); "
            "only sky images can be registered"
        )
    nx, ny = int(header["NAXIS1"]), int(header["NAXIS2"])
    corners_px = np.array([[-0.5, -0.5], [nx - 0.5, -0.5], [nx - 0.5, ny - 0.5], [-0.5, ny - 0.5]])
    cra, cdec = wcs.pixel_to_world_values(corners_px[:, 0], corners_px[:, 1])
    mra, mdec = wcs.pixel_to_world_values((nx - 1) / 2.0, (ny - 1) / 2.0)
    mra, mdec = float(mra) % 360.0, float(mdec)
    fov = 2.0 * float(separation(cra, cdec, mra, mdec).max())
    scale = float(np.mean(np.abs(_pixel_scales(wcs)))) * 3600.0
    t_min, t_max, exptime = _times(header, path)
    region = "POLYGON ICRS " + " ".join(
        f"{a % 360.0:.8f} {d:.8f}" for a, d in zip(cra, cdec, strict=True)
    )
    return ImageRecord(
        collection=collection,
        obs_id=obs_id,
        band=band,
        file=f"{collection}/{obs_id}.fits",
        hdu=index,
        naxis1=nx,
        naxis2=ny,
        s_ra=mra,
        s_dec=mdec,
        s_fov=fov,
        s_resolution=scale,
        s_region=region,
        em_min=float(wavelength[0]),
        em_max=float(wavelength[1]),
        t_min=t_min,
        t_max=t_max,
        t_exptime=exptime,
        target_name=str(header.get("OBJECT", "")),
        instrument_name=str(header.get("INSTRUME", "")),
        facility_name=str(header.get("TELESCOP", "")),
        size_bytes=path.stat().st_size,
    )


def _pixel_scales(wcs: WCS) -> FloatArray:
    from astropy.wcs.utils import proj_plane_pixel_scales

    return np.asarray(proj_plane_pixel_scales(wcs.celestial), dtype=np.float64)


def _image_hdu(hdul: fits.HDUList, hdu: int | None, path: Path) -> int:
    if hdu is not None:
        if not 0 <= hdu < len(hdul) or hdul[hdu].header.get("NAXIS", 0) != 2:
            raise CatalogError(f"{path}: HDU {hdu} is not a 2-D image")
        return hdu
    for index, h in enumerate(hdul):
        if h.header.get("NAXIS", 0) == 2 and h.is_image:
            return index
    raise CatalogError(f"{path}: no 2-D image HDU; pass --hdu if the image is elsewhere")


def _times(header: fits.Header, path: Path) -> tuple[float, float, float]:
    """Start and end (MJD) and exposure time (s): MJD-OBS or DATE-OBS, plus EXPTIME."""
    exptime = float(header.get("EXPTIME", 0.0) or 0.0)
    start: float | None = None
    if "MJD-OBS" in header:
        start = float(header["MJD-OBS"])
    elif "DATE-OBS" in header:
        try:
            start = float(Time(str(header["DATE-OBS"]), scale="utc").mjd)
        except ValueError:
            raise CatalogError(
                f"{path}: DATE-OBS {header['DATE-OBS']!r} is not an ISO date"
            ) from None
    if start is None:
        return math.nan, math.nan, exptime
    return start, start + exptime / 86400.0, exptime


def check_collection(name: str) -> None:
    if not _NAME.match(name):
        raise CatalogError(
            f"collection {name!r} must start with a lower-case letter and hold only "
            "a-z, 0-9, '_', '.', '-' (at most 63 characters)"
        )


def near(record: ImageRecord, region: Region) -> bool:
    """A cheap first cut: could the region reach the image at all?"""
    ra, dec, reach = region.reach()
    return reach >= 180.0 or bool(
        separation(record.s_ra, record.s_dec, ra, dec) <= reach + record.s_fov
    )


def overlaps(record: ImageRecord, wcs: WCS, region: Region) -> bool:
    """Whether ``region`` touches the image (see :mod:`.regions` for the geometry)."""
    samples = border_pixels(record.naxis1, record.naxis2)
    sra, sdec = wcs.pixel_to_world_values(samples[:, 0], samples[:, 1])
    if bool(np.any(region.contains(np.asarray(sra) % 360.0, np.asarray(sdec)))):
        return True
    anchors = region.anchors()
    near = separation(anchors[:, 0], anchors[:, 1], record.s_ra, record.s_dec) < record.s_fov
    if not np.any(near):
        return False
    x, y = wcs.world_to_pixel_values(anchors[near, 0], anchors[near, 1])
    inside = (x >= -0.5) & (x <= record.naxis1 - 0.5) & (y >= -0.5) & (y <= record.naxis2 - 0.5)
    return bool(np.any(inside))


class ImageRegistry:
    """The registered images of one data directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._cache: tuple[int, list[ImageRecord]] | None = None
        self._wcs: dict[tuple[str, int], WCS] = {}

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> ImageRegistry:
        return cls(Path(data_dir) / IMAGES_DIR)

    @property
    def registry_path(self) -> Path:
        return self.root / REGISTRY_FILE

    def path_of(self, record: ImageRecord) -> Path:
        return self.root / record.file

    def wcs_of(self, record: ImageRecord) -> WCS:
        """The image's parsed WCS, read from its header once per file version."""
        path = self.path_of(record)
        try:
            key = (str(path), path.stat().st_mtime_ns)
        except OSError:
            raise NotFoundError(
                f"the file of image {record.key} is missing on the server"
            ) from None
        with self._lock:
            wcs = self._wcs.get(key)
        if wcs is None:
            with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
                wcs = open_wcs(hdul[record.hdu].header)
            with self._lock:
                self._wcs[key] = wcs
        return wcs

    def records(self) -> list[ImageRecord]:
        """Every registered image (re-read when the registry file changes)."""
        try:
            mtime = self.registry_path.stat().st_mtime_ns
        except FileNotFoundError:
            return []
        with self._lock:
            if self._cache is None or self._cache[0] != mtime:
                table = pq.read_table(self.registry_path)
                known = [
                    n for n in table.column_names if n in _FIELDS
                ]  # newer files: extra columns
                rows = [ImageRecord(**row) for row in table.select(known).to_pylist()]
                self._cache = (mtime, rows)
            return list(self._cache[1])

    def collections(self) -> dict[str, list[ImageRecord]]:
        out: dict[str, list[ImageRecord]] = {}
        for record in self.records():
            out.setdefault(record.collection, []).append(record)
        return out

    def get(self, key: str) -> ImageRecord:
        """An image by ``collection/obs_id`` or by its publisher DID."""
        wanted = key.removeprefix("ivo://skydock/images?")
        for record in self.records():
            if record.key == wanted:
                return record
        raise NotFoundError(
            f"there is no image {key!r}; ids look like ivo://skydock/images?collection/obs_id "
            "(the obs_publisher_did of a search result)"
        )

    def search(self, region: Region | None = None) -> Iterator[ImageRecord]:
        for record in self.records():
            if region is None or (
                near(record, region) and overlaps(record, self.wcs_of(record), region)
            ):
                yield record

    @contextlib.contextmanager
    def _writing(self) -> Iterator[list[ImageRecord]]:
        """The registry for change under an exclusive file lock, written back atomically."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            records = self.records()
            yield records
            table = pa.Table.from_pylist([asdict(r) for r in records], schema=_SCHEMA)
            tmp = self.registry_path.with_suffix(".tmp")
            pq.write_table(table, tmp)
            tmp.replace(self.registry_path)

    def ingest(
        self,
        files: Sequence[Path],
        *,
        collection: str,
        band: str,
        hdu: int | None = None,
        wavelength: tuple[float, float] | None = None,
        replace_existing: bool = False,
        move: bool = False,
    ) -> list[ImageRecord]:
        """Describe and copy (or move) each file into the collection, then register it.

        Every file is checked before any is copied, so a bad file in a list adds nothing.
        """
        described = [
            describe(Path(f), collection=collection, band=band, hdu=hdu, wavelength=wavelength)
            for f in files
        ]
        seen: set[str] = set()
        for record in described:
            if record.key in seen:
                raise CatalogError(f"two files would both become image {record.key}")
            seen.add(record.key)
        with self._writing() as records:
            existing = {r.key for r in records}
            clash = sorted(existing & seen)
            if clash and not replace_existing:
                raise ConflictError(
                    f"image(s) {', '.join(clash)} already registered; pass --replace to "
                    "overwrite them"
                )
            sources = dict(zip([r.key for r in described], files, strict=True))
            for record in described:
                target = self.root / record.file
                target.parent.mkdir(parents=True, exist_ok=True)
                source = Path(sources[record.key])
                if source.resolve() != target.resolve():
                    tmp = target.with_suffix(".partial")
                    if move:
                        shutil.move(source, tmp)
                    else:
                        shutil.copyfile(source, tmp)
                    tmp.replace(target)
            kept = [r for r in records if r.key not in seen]
            records[:] = kept + described
        return described

    def drop(self, collection: str) -> int:
        """Forget a collection and delete its files; how many images it held."""
        with self._writing() as records:
            gone = [r for r in records if r.collection == collection]
            if not gone:
                raise NotFoundError(f"there is no image collection {collection!r}")
            records[:] = [r for r in records if r.collection != collection]
        shutil.rmtree(self.root / collection, ignore_errors=True)
        return len(gone)
