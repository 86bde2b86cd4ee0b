"""Positions on the sphere: argument checks, unit vectors and the float tolerance.

Shared by the polygon geometry, the HEALPix covers and the SQL helpers; angles are degrees.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from skydock.errors import QuerySyntaxError

FloatArray = npt.NDArray[np.float64]

# Radians of float noise allowed for when judging a cell against a region's edge.
_SLACK = 1e-12


def _position(ra_deg: float, dec_deg: float) -> tuple[float, float]:
    ra, dec = _number("ra", ra_deg), _number("dec", dec_deg)
    if not math.isfinite(ra):
        raise QuerySyntaxError(f"ra must be a finite number of degrees; got {ra_deg!r}")
    if not (-90.0 <= dec <= 90.0):
        raise QuerySyntaxError(f"dec must be between -90 and 90 degrees; got {dec_deg!r}")
    return ra % 360.0, dec


def _radius(radius_deg: float) -> float:
    radius = _number("radius", radius_deg)
    if not (radius > 0.0 and math.isfinite(radius)):
        raise QuerySyntaxError(
            f"radius must be a positive, finite number of degrees; got {radius_deg!r}"
        )
    return radius


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise QuerySyntaxError(f"{name} must be a number of degrees; got {value!r}")
    return float(value)


def _check_max_ranges(max_ranges: int) -> None:
    if not isinstance(max_ranges, int) or max_ranges < 1:
        raise ValueError(f"max_ranges must be a positive integer; got {max_ranges!r}")


def _valid(ra: FloatArray, dec: FloatArray) -> npt.NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        return np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90.0)


def _xyz(ra_deg: npt.ArrayLike, dec_deg: npt.ArrayLike) -> FloatArray:
    a, d = np.radians(ra_deg), np.radians(dec_deg)
    cos_d = np.cos(d)
    return np.stack([cos_d * np.cos(a), cos_d * np.sin(a), np.sin(d)], axis=-1)


def _lonlat(xyz: FloatArray) -> tuple[FloatArray, FloatArray]:
    lon = np.degrees(np.arctan2(xyz[:, 1], xyz[:, 0])) % 360.0
    lat = np.degrees(np.arctan2(xyz[:, 2], np.hypot(xyz[:, 0], xyz[:, 1])))
    return lon, lat
