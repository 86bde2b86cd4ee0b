"""Spherical polygons: validation, the exact even-odd test, and the cap test for covers.

A polygon has great-circle (shortest arc) edges. Its vertices must lie in an open
hemisphere; its inside is the region that edges enclose within that hemisphere (the
smaller of the two), whatever the winding. Self-intersecting polygons follow the even-odd
rule. A box is the ADQL 2.0 (§2.4.4) BOX: see :func:`box_vertices`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skydock.engine.spatial.sphere import _SLACK, FloatArray, _lonlat, _number, _position, _xyz
from skydock.errors import QuerySyntaxError


def box_vertices(
    ra_deg: float, dec_deg: float, width_deg: float, height_deg: float
) -> list[tuple[float, float]]:
    """The four corners of an ADQL BOX, as the polygon the SQL helpers test against.

    ADQL 2.0 §2.4.4: a cross centred on (ra, dec) with arms along the coordinate axes at
    the centre (the east-west and north-south great circles), extending half the width
    and half the height on either side; the sides are great circles meeting the arm ends
    at right angles. In the gnomonic (tangent-plane) projection about the centre that is
    the rectangle with corners (±tan(w/2), ±tan(h/2)) along (east, north), and these are
    its corners deprojected. At a pole "east" is the direction of increasing RA at the
    given ``ra``. Width and height must lie in (0, 180) degrees.
    """
    ra, dec = _position(ra_deg, dec_deg)
    for name, size in (("width", width_deg), ("height", height_deg)):
        if not 0.0 < _number(name, size) < 180.0:
            raise QuerySyntaxError(
                f"BOX {name} must be a number of degrees in (0, 180); got {size!r}"
            )
    a, d = math.radians(ra), math.radians(dec)
    centre = np.array([math.cos(d) * math.cos(a), math.cos(d) * math.sin(a), math.sin(d)])
    east = np.array([-math.sin(a), math.cos(a), 0.0])
    north = np.array([-math.sin(d) * math.cos(a), -math.sin(d) * math.sin(a), math.cos(d)])
    tx = math.tan(math.radians(width_deg) / 2.0)
    ty = math.tan(math.radians(height_deg) / 2.0)
    corners = np.array(
        [
            centre + sx * tx * east + sy * ty * north
            for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))
        ]
    )
    lon, lat = _lonlat(corners / np.linalg.norm(corners, axis=1)[:, None])
    return [(float(x), float(y)) for x, y in zip(lon, lat, strict=True)]


@dataclass(frozen=True)
class _Polygon:
    """A validated polygon: unit vectors wound so the inside is on the left of each edge."""

    xyz: FloatArray  # (n, 3) vertices
    normals: FloatArray  # (n, 3) unit normal of edge i (vertex i to i+1), pointing inside
    centre: FloatArray  # a direction with every vertex strictly in its hemisphere
    ray_end: FloatArray  # a point on that hemisphere's rim, the far end of the test ray
    convex: bool
    # Derived once, used for every point: p · ray_side[i] > 0 puts vertex i left of the
    # ray from p; p · along[i] >= 0 and p · back[i] >= 0 put p's foot on edge i.
    ray_side: FloatArray
    end_side: npt.NDArray[np.bool_]
    along: FloatArray
    back: FloatArray


def _prepare_polygon(vertices: Sequence[tuple[float, float]] | npt.ArrayLike) -> _Polygon:
    arr = np.asarray(vertices, dtype=np.float64) if len(np.shape(vertices)) else np.empty(0)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise QuerySyntaxError(
            f"a polygon needs a list of (ra, dec) vertex pairs in degrees; got {vertices!r}"
        )
    if not np.all(np.isfinite(arr)) or np.any(np.abs(arr[:, 1]) > 90.0):
        raise QuerySyntaxError(
            f"polygon vertices must be finite with dec in [-90, 90]; got {arr.tolist()!r}"
        )
    xyz = _xyz(arr[:, 0], arr[:, 1])
    distinct = np.linalg.norm(xyz - np.roll(xyz, -1, axis=0), axis=1) > 1e-15
    xyz = xyz[distinct]
    if len(xyz) < 3:
        raise QuerySyntaxError(
            f"a polygon needs at least three distinct vertices; got {arr.tolist()!r}"
        )
    centre = _hemisphere_centre(xyz)
    if centre is None:
        raise QuerySyntaxError(
            "polygon vertices must all lie within one hemisphere (less than 90° from a "
            f"common centre); got {arr.tolist()!r}"
        )
    # Right-handed tangent frame (east, north, centre) for the gnomonic view.
    axis = np.eye(3)[int(np.argmin(np.abs(centre)))]
    east = np.cross(axis, centre)
    east /= np.linalg.norm(east)
    north = np.cross(centre, east)
    depth = xyz @ centre
    px, py = (xyz @ east) / depth, (xyz @ north) / depth
    area2 = float(np.sum(px * np.roll(py, -1) - np.roll(px, -1) * py))
    extent = max(float(np.ptp(px)), float(np.ptp(py)))
    if not abs(area2) > 1e-12 * extent**2:
        raise QuerySyntaxError(
            f"polygon has no area (its vertices are on one great circle): {arr.tolist()!r}"
        )
    if area2 < 0:
        xyz, px, py = xyz[::-1], px[::-1], py[::-1]
    nxt = np.roll(xyz, -1, axis=0)
    normals = np.cross(xyz - nxt, xyz + nxt) / 2.0  # = v_i × v_i+1, with less cancellation
    normals /= np.linalg.norm(normals, axis=1)[:, None]
    ex, ey = np.roll(px, -1) - px, np.roll(py, -1) - py
    turn_cross = ex * np.roll(ey, -1) - ey * np.roll(ex, -1)
    turn_dot = ex * np.roll(ex, -1) + ey * np.roll(ey, -1)
    winding = float(np.sum(np.arctan2(turn_cross, turn_dot))) / (2.0 * math.pi)
    convex = bool(np.all(turn_cross > 0)) and round(winding) == 1
    return _Polygon(
        xyz=xyz,
        normals=normals,
        centre=centre,
        ray_end=east,
        convex=convex,
        ray_side=np.cross(east, xyz),
        end_side=(normals @ east) > 0,
        along=np.cross(normals, xyz),
        back=np.cross(nxt, normals),
    )


def _hemisphere_centre(xyz: FloatArray) -> FloatArray | None:
    """A unit vector within 90° of every vertex, or None (perceptron-style search)."""
    centre = xyz.sum(axis=0)
    for _ in range(1000):
        norm = float(np.linalg.norm(centre))
        if norm > 0:
            centre = centre / norm
            dots = xyz @ centre
            worst = int(np.argmin(dots))
            if dots[worst] > 1e-9:
                return centre
            centre = centre + xyz[worst]
        else:
            centre = xyz[0].copy()
    return None


@functools.lru_cache(maxsize=128)
def _cached_polygon(flat: tuple[float, ...]) -> _Polygon:
    if len(flat) % 2:
        raise QuerySyntaxError(
            "polygon vertices must be a flat list [ra1, dec1, ra2, dec2, ...]; "
            f"got {len(flat)} numbers"
        )
    return _prepare_polygon(np.array(flat, dtype=np.float64).reshape(-1, 2))


def _contains(poly: _Polygon, p: FloatArray) -> npt.NDArray[np.bool_]:
    """Even-odd test: crossings of the arc from each point to the hemisphere rim."""
    side_a = (p @ poly.ray_side.T) > 0
    straddles = side_a != np.roll(side_a, -1, axis=1)
    side_p = (p @ poly.normals.T) > 0
    crossings = np.count_nonzero(straddles & (side_p != poly.end_side), axis=1)
    return ((crossings % 2) == 1) & ((p @ poly.centre) > 0)


def _classify(poly: _Polygon, q: FloatArray, rho: float) -> npt.NDArray[np.int8]:
    """For caps of radius ``rho`` about ``q``: 0 outside the polygon, 1 crossing, 2 inside."""
    within = ((q @ poly.along.T) >= 0) & ((q @ poly.back.T) >= 0)
    near_arc = within & (np.abs(q @ poly.normals.T) <= math.sin(rho) + _SLACK)
    chord = 2.0 * math.sin(rho / 2.0) + _SLACK
    near_vertex = np.linalg.norm(q[:, None, :] - poly.xyz[None, :, :], axis=2) <= chord
    touches = near_arc.any(axis=1) | near_vertex.any(axis=1)
    status = np.where(_contains(poly, q), 2, 0).astype(np.int8)
    status[touches] = 1
    return status


def _dec_extent(poly: _Polygon) -> tuple[float, float]:
    """Lowest and highest Dec reached by the polygon (edges bulge poleward of vertices)."""
    n = poly.normals
    top = np.array([0.0, 0.0, 1.0]) - n[:, 2:3] * n  # each edge's great circle peaks here
    norms = np.linalg.norm(top, axis=1)
    ok = norms > 1e-15
    top[ok] /= norms[ok][:, None]
    points = [poly.xyz]
    for sign in (1.0, -1.0):
        t = sign * top
        on_arc = ok & (np.sum(t * poly.along, axis=1) >= 0) & (np.sum(t * poly.back, axis=1) >= 0)
        points.append(t[on_arc])
    every = np.concatenate(points)
    dec = np.degrees(np.arctan2(every[:, 2], np.hypot(every[:, 0], every[:, 1])))
    lo, hi = float(np.min(dec)), float(np.max(dec))
    poles = _contains(poly, np.array([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]]))
    return (-90.0 if poles[1] else lo), (90.0 if poles[0] else hi)
