"""Sky regions of an image search (SIA v2 ``POS``) and whether they touch an image.

Three shapes, as DALI writes them (angles in degrees, ICRS):

- ``CIRCLE ra dec radius``;
- ``RANGE ra_lo ra_hi dec_lo dec_hi`` — a coordinate box; ``ra_lo > ra_hi`` runs through
  RA = 0 and ``-Inf``/``+Inf`` stand for open ends;
- ``POLYGON ra1 dec1 ra2 dec2 ra3 dec3 ...`` — great-circle edges (at least 3 vertices).

An image's footprint under a TAN projection is a great-circle quadrilateral, so the
overlap test is geometric: the region touches the image when a point sampled on the
image's border or inside it lies in the region, or when one of the region's own anchor
points (centre, vertices) falls on the image's pixels. The border is sampled densely
(every ~1/128 of a side) so only slivers thinner than that can be missed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skydock.engine.spatial.polygon import _contains, _prepare_polygon
from skydock.engine.spatial.sphere import _xyz
from skydock.errors import InvalidRequestError, QuerySyntaxError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def separation(ra1: npt.ArrayLike, dec1: npt.ArrayLike, ra2: float, dec2: float) -> FloatArray:
    """Great-circle distance in degrees (haversine, stable for small angles)."""
    a1, d1 = np.radians(ra1), np.radians(dec1)
    a2, d2 = math.radians(ra2), math.radians(dec2)
    h = np.sin((d1 - d2) / 2) ** 2 + np.cos(d1) * math.cos(d2) * np.sin((a1 - a2) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


@dataclass(frozen=True)
class Circle:
    ra: float
    dec: float
    radius: float

    def contains(self, ra: FloatArray, dec: FloatArray) -> BoolArray:
        return separation(ra, dec, self.ra, self.dec) <= self.radius

    def anchors(self) -> FloatArray:
        return np.array([[self.ra, self.dec]])

    def reach(self) -> tuple[float, float, float]:
        """A cap (ra, dec, radius) holding the whole region, for a quick rejection."""
        return self.ra, self.dec, self.radius


@dataclass(frozen=True)
class Range:
    ra_lo: float
    ra_hi: float
    dec_lo: float
    dec_hi: float

    @property
    def full_ra(self) -> bool:
        return not (math.isfinite(self.ra_lo) and math.isfinite(self.ra_hi)) or (
            self.ra_hi - self.ra_lo >= 360.0
        )

    def contains(self, ra: FloatArray, dec: FloatArray) -> BoolArray:
        inside_dec = (dec >= self.dec_lo) & (dec <= self.dec_hi)
        if self.full_ra:
            return np.asarray(inside_dec)
        span = (self.ra_hi - self.ra_lo) % 360.0
        return np.asarray(inside_dec & (((ra - self.ra_lo) % 360.0) <= span))

    def anchors(self) -> FloatArray:
        dec_lo, dec_hi = max(self.dec_lo, -90.0), min(self.dec_hi, 90.0)
        if self.full_ra:
            ras = np.arange(0.0, 360.0, 30.0)
        else:
            span = (self.ra_hi - self.ra_lo) % 360.0
            ras = (self.ra_lo + np.linspace(0.0, span, 9)) % 360.0
        decs = np.array([dec_lo, (dec_lo + dec_hi) / 2, dec_hi])
        grid_ra, grid_dec = np.meshgrid(ras, decs)
        return np.column_stack([grid_ra.ravel(), grid_dec.ravel()])

    def reach(self) -> tuple[float, float, float]:
        return 0.0, 0.0, 180.0


@dataclass(frozen=True)
class Polygon:
    vertices: tuple[tuple[float, float], ...]

    def contains(self, ra: FloatArray, dec: FloatArray) -> BoolArray:
        poly = _prepare_polygon(np.array(self.vertices))
        return _contains(poly, _xyz(ra, dec))

    def anchors(self) -> FloatArray:
        return np.array(self.vertices)

    def reach(self) -> tuple[float, float, float]:
        poly = _prepare_polygon(np.array(self.vertices))
        x, y, z = poly.centre
        ra = math.degrees(math.atan2(y, x)) % 360.0
        dec = math.degrees(math.asin(max(-1.0, min(1.0, z))))
        v = np.array(self.vertices)
        return ra, dec, float(separation(v[:, 0], v[:, 1], ra, dec).max())


Region = Circle | Range | Polygon


def _numbers(text: str, words: list[str], what: str) -> list[float]:
    try:
        return [float(w) for w in words]
    except ValueError:
        raise InvalidRequestError(f"POS {text!r}: {what} must be numbers in degrees") from None


def parse_pos(text: str) -> Region:
    """A DALI ``POS`` value as a region; a clear error names what is wrong with it."""
    words = text.split()
    if not words:
        raise InvalidRequestError("POS is empty; use CIRCLE ra dec r, RANGE or POLYGON")
    shape, args = words[0].upper(), words[1:]
    if shape == "CIRCLE":
        if len(args) != 3:
            raise InvalidRequestError(f"POS {text!r}: CIRCLE takes ra dec radius (3 numbers)")
        ra, dec, r = _numbers(text, args, "ra, dec and radius")
        check_position(ra, dec)
        if not (0 < r <= 180):
            raise InvalidRequestError(f"POS {text!r}: radius must be in (0, 180] degrees")
        return Circle(ra % 360.0, dec, r)
    if shape == "RANGE":
        if len(args) != 4:
            raise InvalidRequestError(
                f"POS {text!r}: RANGE takes ra_lo ra_hi dec_lo dec_hi (4 numbers, -Inf/+Inf "
                "for open ends)"
            )
        ra_lo, ra_hi, dec_lo, dec_hi = _numbers(text, args, "the limits")
        if dec_lo > dec_hi:
            raise InvalidRequestError(f"POS {text!r}: dec_lo is above dec_hi")
        if math.isfinite(ra_lo) and math.isfinite(ra_hi) and ra_hi - ra_lo < 360.0:
            ra_lo, ra_hi = ra_lo % 360.0, ra_hi % 360.0
        return Range(ra_lo, ra_hi, dec_lo, dec_hi)
    if shape == "POLYGON":
        if len(args) < 6 or len(args) % 2:
            raise InvalidRequestError(
                f"POS {text!r}: POLYGON takes at least 3 vertices as ra dec pairs"
            )
        flat = _numbers(text, args, "the vertices")
        vertices = tuple((flat[i] % 360.0, flat[i + 1]) for i in range(0, len(flat), 2))
        for ra, dec in vertices:
            check_position(ra, dec)
        try:
            _prepare_polygon(np.array(vertices))
        except QuerySyntaxError as exc:
            raise InvalidRequestError(f"POS {text!r}: {exc.message}") from None
        return Polygon(vertices)
    raise InvalidRequestError(f"POS shape {words[0]!r} is not known; use CIRCLE, RANGE or POLYGON")


def check_position(ra: float, dec: float) -> None:
    if not (math.isfinite(ra) and math.isfinite(dec) and -90.0 <= dec <= 90.0):
        raise InvalidRequestError(
            f"position ({ra}, {dec}) is not on the sky; ra is any finite number of degrees, "
            "dec between -90 and 90"
        )
