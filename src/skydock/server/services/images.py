"""Image search and cutouts: the logic behind SIA v2, SODA and ``/api/images``.

SIA parameters follow DALI: names are case-insensitive, a parameter given several times
is an OR of its values, different parameters are ANDed. Numeric constraints (``BAND``,
``TIME``, ``FOV``, ``SPATRES``, ``EXPTIME``) are intervals ``lo hi`` (``-Inf``/``+Inf``
for open ends) or a single value; an image matches when its own interval overlaps.
Every collection is public: anonymous callers see what signed-in ones see.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

from skydock.engine.images import (
    ImageRecord,
    ImageRegistry,
    NoOverlapError,
    Region,
    obscore,
    parse_pos,
    read_cutout,
    region_box,
    render,
    square_box,
)
from skydock.engine.images.regions import check_position, separation
from skydock.errors import InvalidRequestError, NotFoundError

FITS_TYPE = "application/fits"
_KNOWN_FORMATS = {
    "votable",
    "application/x-votable+xml",
    "text/xml",
    "application/x-votable+xml;content=datalink",
}


@dataclass(frozen=True)
class ImageLimits:
    max_cutout_pixels: int = 4096 * 4096
    default_maxrec: int = 1000
    max_maxrec: int = 100_000
    max_size_deg: float = 2.0


@dataclass(frozen=True)
class SearchAnswer:
    records: list[ImageRecord]
    overflow: bool


@dataclass(frozen=True)
class Picture:
    """A cutout's bytes, their media type and a file name for Content-Disposition."""

    body: bytes
    media_type: str
    filename: str


def _params(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key.upper(), []).append(value)
    return out


def _interval(name: str, text: str) -> tuple[float, float]:
    words = text.split()
    try:
        values = [float(w) for w in words]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or any(math.isnan(v) for v in values):
        raise InvalidRequestError(
            f"{name} {text!r} must be one number or an interval 'lo hi' (-Inf/+Inf allowed)"
        )
    lo, hi = values[0], values[-1]
    if lo > hi:
        raise InvalidRequestError(f"{name} {text!r}: the lower limit is above the upper one")
    return lo, hi


def _overlap(lo: float, hi: float, a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return False
    return a <= hi and b >= lo


def _numeric(record: ImageRecord, name: str) -> tuple[float, float]:
    if name == "BAND":
        return record.em_min, record.em_max
    if name == "TIME":
        return record.t_min, record.t_max
    if name == "FOV":
        return record.s_fov, record.s_fov
    if name == "SPATRES":
        return record.s_resolution, record.s_resolution
    return record.t_exptime, record.t_exptime  # EXPTIME


_TEXT: dict[str, Callable[[ImageRecord], str]] = {
    "COLLECTION": lambda r: r.collection,
    "ID": lambda r: r.publisher_did,
    "FACILITY": lambda r: r.facility_name,
    "INSTRUMENT": lambda r: r.instrument_name,
    "TARGET": lambda r: r.target_name,
    "DPTYPE": lambda _: "image",
    "CALIB": lambda _: "2",
    "FORMAT": lambda _: "image/fits",
}


class ImageService:
    """Searches and cuts the registered images of one data directory."""

    def __init__(self, registry: ImageRegistry, limits: ImageLimits) -> None:
        self.registry = registry
        self.limits = limits

    # -- SIA v2 --------------------------------------------------------------------------

    def search(self, pairs: Sequence[tuple[str, str]]) -> SearchAnswer:
        """The images matching an SIA v2 query's parameters, at most MAXREC of them."""
        params = _params(pairs)
        fmt = params.get("RESPONSEFORMAT", ["votable"])[-1].strip().lower()
        if fmt not in _KNOWN_FORMATS:
            raise InvalidRequestError(
                f"RESPONSEFORMAT {fmt!r} is not supported; SIA answers are VOTables "
                "(application/x-votable+xml)"
            )
        maxrec = self._maxrec(params.get("MAXREC", []))
        regions = [parse_pos(p) for p in params.get("POS", [])]
        numeric = {
            name: [_interval(name, v) for v in params.get(name, [])]
            for name in ("BAND", "TIME", "FOV", "SPATRES", "EXPTIME")
        }
        text = {name: params.get(name, []) for name in _TEXT}
        if params.get("POL"):
            return SearchAnswer([], False)  # the images carry no polarization states
        found: list[ImageRecord] = []
        overflow = False
        for record in self.registry.records():
            if any(values and _TEXT[n](record) not in values for n, values in text.items()):
                continue
            if any(
                intervals
                and not any(_overlap(lo, hi, *_numeric(record, n)) for lo, hi in intervals)
                for n, intervals in numeric.items()
            ):
                continue
            if regions and not any(self._touches(record, r) for r in regions):
                continue
            if len(found) >= maxrec:
                overflow = True
                break
            found.append(record)
        return SearchAnswer(found, overflow)

    def _touches(self, record: ImageRecord, region: Region) -> bool:
        from skydock.engine.images.registry import near, overlaps

        return near(record, region) and overlaps(record, self.registry.wcs_of(record), region)

    def _maxrec(self, values: list[str]) -> int:
        if not values:
            return self.limits.default_maxrec
        text = values[-1].strip()
        if not text.isdigit():
            raise InvalidRequestError(f"MAXREC {text!r} must be a whole number (0 or more)")
        return min(int(text), self.limits.max_maxrec)

    def votable(self, answer: SearchAnswer, *, file_url: str, soda_url: str) -> bytes:
        return obscore.votable(
            answer.records, file_url=file_url, soda_url=soda_url, overflow=answer.overflow
        )

    # -- SODA ----------------------------------------------------------------------------

    def soda_cutout(self, pairs: Sequence[tuple[str, str]]) -> Picture:
        """A FITS cutout of one image (``ID``) over ``CIRCLE``, ``POLYGON`` or ``POS``."""
        params = _params(pairs)
        ids = params.get("ID", [])
        if len(ids) != 1:
            raise InvalidRequestError(
                f"give exactly one ID (an obs_publisher_did from the SIA search); got {len(ids)}"
            )
        record = self.registry.get(ids[0].strip())
        shapes: list[Region] = []
        for value in params.get("CIRCLE", []):
            shapes.append(parse_pos(f"CIRCLE {value}"))
        for value in params.get("POLYGON", []):
            shapes.append(parse_pos(f"POLYGON {value}"))
        shapes += [parse_pos(v) for v in params.get("POS", [])]
        if len(shapes) != 1:
            raise InvalidRequestError(
                "give one region: CIRCLE='ra dec radius', POLYGON='ra1 dec1 ...' or "
                f"POS='CIRCLE ...'/'RANGE ...'/'POLYGON ...' (got {len(shapes)}); the whole "
                "image is at the search result's access_url"
            )
        wcs = self.registry.wcs_of(record)
        try:
            box = region_box(wcs, shapes[0], record.naxis1, record.naxis2)
        except NoOverlapError:
            raise NoOverlapError(
                f"the region does not overlap image {record.key} (its footprint is "
                f"{record.s_region})"
            ) from None
        hdu = read_cutout(
            self.registry.path_of(record), record, box, max_pixels=self.limits.max_cutout_pixels
        )
        return Picture(_fits_bytes(hdu), FITS_TYPE, f"{record.obs_id}-cutout.fits")

    # -- native cutouts ------------------------------------------------------------------

    def cutout(
        self,
        ra: float,
        dec: float,
        size: float,
        *,
        band: str | None = None,
        bands: str | None = None,
        fmt: str = "fits",
        stretch: str = "asinh",
        collection: str | None = None,
    ) -> Picture:
        """A square cutout ``size`` degrees on a side centred on (ra, dec).

        One band gives FITS, PNG or JPEG; ``bands`` (three, listed blue to red, e.g.
        ``g,r,i``) gives a colour picture with the reddest band in red. The cutout keeps
        its full size at an image edge, NaN (black in pictures) off the image.
        """
        check_position(ra, dec)
        ra %= 360.0
        if not (0 < size <= self.limits.max_size_deg):
            raise InvalidRequestError(
                f"size {size} must be a positive number of degrees, at most "
                f"{self.limits.max_size_deg}"
            )
        fmt = fmt.lower()
        if fmt not in ("fits", *render.PICTURE_FORMATS):
            raise InvalidRequestError(f"format {fmt!r} is not known; use fits, png or jpeg")
        if fmt != "fits":
            render.check_picture(fmt, stretch)
        if bands:
            names = [b.strip() for b in bands.split(",") if b.strip()]
            if len(names) != 3:
                raise InvalidRequestError(
                    f"bands {bands!r} must name three bands, blue to red (e.g. g,r,i)"
                )
            if fmt == "fits":
                raise InvalidRequestError("a colour composite is a picture: use format=png or jpeg")
            records = self._composite(ra, dec, names, collection)
            arrays = [self._square(r, ra, dec, size).data for r in records]
            blue, green, red = arrays
            body = render.encode(render.colour(red, green, blue, stretch), fmt)
            name = f"cutout-{'-'.join(names)}.{fmt}"
            return Picture(body, render.PICTURE_FORMATS[fmt], name)
        record = self.find(ra, dec, band=band, collection=collection)
        hdu = self._square(record, ra, dec, size)
        if fmt == "fits":
            return Picture(_fits_bytes(hdu), FITS_TYPE, f"{record.obs_id}-cutout.fits")
        body = render.encode(render.grey(hdu.data, stretch), fmt)
        return Picture(body, render.PICTURE_FORMATS[fmt], f"{record.obs_id}-cutout.{fmt}")

    def _square(self, record: ImageRecord, ra: float, dec: float, size: float) -> fits.PrimaryHDU:
        box = square_box(self.registry.wcs_of(record), ra, dec, size)
        return read_cutout(
            self.registry.path_of(record),
            record,
            box,
            pad=True,
            max_pixels=self.limits.max_cutout_pixels,
        )

    def covering(
        self, ra: float, dec: float, *, band: str | None = None, collection: str | None = None
    ) -> list[ImageRecord]:
        """Images holding (ra, dec) on their pixels, the most central first."""
        scored: list[tuple[float, ImageRecord]] = []
        for record in self.registry.records():
            if band is not None and record.band != band:
                continue
            if collection is not None and record.collection != collection:
                continue
            if separation(record.s_ra, record.s_dec, ra, dec) > record.s_fov / 2:
                continue
            x, y = self.registry.wcs_of(record).world_to_pixel_values(ra, dec)
            margin = min(x + 0.5, record.naxis1 - 0.5 - x, y + 0.5, record.naxis2 - 0.5 - y)
            if np.isfinite(margin) and margin >= 0:
                scored.append((-float(margin), record))
        return [r for _, r in sorted(scored, key=lambda s: s[0])]

    def find(
        self, ra: float, dec: float, *, band: str | None, collection: str | None
    ) -> ImageRecord:
        found = self.covering(ra, dec, band=band, collection=collection)
        if not found:
            self._no_image(ra, dec, band, collection)
        return found[0]

    def _composite(
        self, ra: float, dec: float, bands: list[str], collection: str | None
    ) -> list[ImageRecord]:
        per_band = [self.covering(ra, dec, band=b, collection=collection) for b in bands]
        for b, found in zip(bands, per_band, strict=True):
            if not found:
                self._no_image(ra, dec, b, collection)
        # Prefer three images of one collection (and so, usually, one pixel grid).
        for first in per_band[0]:
            same = [[r for r in found if r.collection == first.collection] for found in per_band]
            if all(same):
                return [s[0] for s in same]
        return [found[0] for found in per_band]

    def _no_image(self, ra: float, dec: float, band: str | None, collection: str | None) -> None:
        where = f"({ra:.6f}, {dec:.6f})"
        what = " ".join(
            p
            for p in (f"band {band}" if band else "", f"in {collection}" if collection else "")
            if p
        )
        bands = sorted({r.band for r in self.registry.records()})
        raise NoOverlapError(
            f"no image{' ' + what if what else ''} covers {where}; bands held: "
            f"{', '.join(bands) or 'none (no images are registered)'}; "
            "/api/images lists the collections and their footprints"
        )

    # -- listing and files ---------------------------------------------------------------

    def collections(self) -> list[dict[str, object]]:
        out = []
        for name, records in sorted(self.registry.collections().items()):
            out.append(
                {
                    "collection": name,
                    "images": len(records),
                    "bands": sorted({r.band for r in records}),
                    "fields": sorted(
                        {(round(r.s_ra, 4), round(r.s_dec, 4), round(r.s_fov, 4)) for r in records}
                    ),
                }
            )
        return out

    def file(self, collection: str, filename: str) -> Path:
        obs_id = filename.removesuffix(".fits")
        record = self.registry.get(f"{collection}/{obs_id}")
        path = self.registry.path_of(record)
        if not path.is_file():
            raise NotFoundError(f"the file of image {record.key} is missing on the server")
        return path

    def availability(self) -> tuple[bool, str]:
        try:
            count = len(self.registry.records())
        except OSError as exc:
            return False, f"the image registry cannot be read: {exc}"
        return True, f"{count} image(s) registered"


def _fits_bytes(hdu: fits.PrimaryHDU) -> bytes:
    out = io.BytesIO()
    hdu.writeto(out)
    return out.getvalue()
