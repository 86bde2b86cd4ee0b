"""Sky regions as order-29 HEALPix index ranges, and the exact geometry in SQL.

Serving tables are sorted by ``_healpix_29`` (nested scheme, order 29), so a region turned
into a few ``_healpix_29 BETWEEN lo AND hi`` ranges lets DuckDB skip every row group
outside it; a Dec band and an exact test then keep exactly the rows inside. The ranges
are always a superset of the region: they may admit extra rows, never lose one.

The cell coverage is computed here (:func:`_cover`) rather than taken from
``cdshealpix.cone_search`` / ``mocpy``: their cone coverage is an approximation that
was found to drop cells on the rim of cones from ~15° up (and most of them past ~150°),
and each cdshealpix call carries tens of µs of fixed cost. Ours judges every cell by a
cap that provably contains it, so the result is a superset by construction; cdshealpix
is still the reference that the tests and the SQL functions use.

Geometry conventions, shared by the range builders, the SQL helpers and the UDFs:

- Angles are degrees; positions are ICRS (ra, dec).
- A cone holds the points whose great-circle distance from the centre is at most the radius.
- A polygon has great-circle (shortest arc) edges. Its vertices must lie in an open
  hemisphere; its inside is the region that edges enclose within that hemisphere (the
  smaller of the two), whatever the winding. Self-intersecting polygons follow the
  even-odd rule.
- A box is the ADQL 2.0 (§2.4.4) BOX: see :func:`box_vertices`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import astropy.units as u
import cdshealpix.nested as hp
import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
from astropy.coordinates import Latitude, Longitude
from duckdb.func import FunctionNullHandling, PythonUDFType

from skydock.errors import QuerySyntaxError

ORDER = 29
FULL_SKY = np.array([[0, 12 * 4**ORDER - 1]], dtype=np.int64)

Ranges = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

# sqrt(mean cell area) at order 0, in degrees; a cell at order d is this / 2**d wide.
_MEAN_CELL_DEG = math.degrees(math.sqrt(math.pi / 3.0))
# Upper bound on the distance from any cell's centre to any point of it, times 2**d.
# Measured over every cell to order 7 (and a sample at 8): the maximum grows towards
# 61.25° and is always reached at a corner; 64° leaves a 4 % margin.
_CELL_RADIUS_DEG = 64.0
# A non-adjacent cell is at least ~0.675 mean cell widths away (measured to order 6);
# cross-match radii up to half a mean width keep every partner in the 3×3 block.
_XMATCH_FRACTION = 0.5
# Radians of float noise allowed for when judging a cell against a region's edge.
_SLACK = 1e-12
_DEC_PAD_DEG = 1e-9


# ---------------------------------------------------------------------------------------
# Ranges


def cone_ranges(ra_deg: float, dec_deg: float, radius_deg: float, max_ranges: int = 64) -> Ranges:
    """Order-29 index ranges ``[lo, hi]`` (inclusive, sorted, merged) covering a cone."""
    ra, dec = _position(ra_deg, dec_deg)
    radius = _radius(radius_deg)
    _check_max_ranges(max_ranges)
    if radius >= 180.0:
        return FULL_SKY.copy()
    centre = _xyz(ra, dec)
    reach = math.radians(radius)

    def classify(q: FloatArray, rho: float) -> npt.NDArray[np.int8]:
        dist = 2.0 * np.arcsin(np.minimum(np.linalg.norm(q - centre, axis=1) / 2.0, 1.0))
        status = np.ones(len(q), dtype=np.int8)
        status[dist + rho < reach - _SLACK] = 2
        status[dist - rho > reach + _SLACK] = 0
        return status

    return _cover(classify, ra, dec, radius, max_ranges)


def polygon_ranges(vertices: Sequence[tuple[float, float]], max_ranges: int = 64) -> Ranges:
    """Order-29 index ranges covering a polygon (see the module notes for the geometry)."""
    _check_max_ranges(max_ranges)
    poly = _prepare_polygon(vertices)
    chord = float(np.max(np.linalg.norm(poly.xyz - poly.centre, axis=1)))
    reach = math.degrees(2.0 * math.asin(min(1.0, chord / 2.0)))
    lon, lat = _lonlat(poly.centre[None, :])

    def classify(q: FloatArray, rho: float) -> npt.NDArray[np.int8]:
        return _classify(poly, q, rho)

    return _cover(classify, float(lon[0]), float(lat[0]), reach + 1e-9, max_ranges)


def _cover(
    classify: Callable[[FloatArray, float], npt.NDArray[np.int8]],
    ra: float,
    dec: float,
    reach_deg: float,
    max_ranges: int,
) -> Ranges:
    """Cells covering a region that lies within ``reach_deg`` of (ra, dec), as ranges.

    Start from cells sure to hold the region: the 3×3 block around the centre at the
    deepest order whose blocks span the reach (see :func:`xmatch_order`), or the 12 base
    cells. Each cell is then judged through a cap that bounds it (centre plus the largest
    centre-to-corner distance at its order): outside the region, inside it, or crossing
    its edge. Crossing cells are split (several orders at once when few) until the next
    split would pass ``4 * max_ranges`` cells; inside and crossing cells become ranges,
    and the smallest gaps are filled until at most ``max_ranges`` remain. Every step
    keeps a superset, so no row is lost.
    """
    # Cells are tracked both as nested indices and as (face, x, y), whose children are
    # (face, 2x + i, 2y + j): no bit shuffling inside the loop.
    if reach_deg > _XMATCH_FRACTION * _MEAN_CELL_DEG:
        depth, cells, face = 0, np.arange(12, dtype=np.int64), np.arange(12, dtype=np.int64)
        x = y = np.zeros(12, dtype=np.int64)
    else:
        depth = _xmatch_depth(reach_deg)
        cells, face, x, y = _block(ra, dec, depth)
    budget = 4 * max_ranges
    kept_cells: list[npt.NDArray[np.int64]] = []
    kept_depths: list[npt.NDArray[np.int64]] = []
    while True:
        rho = math.radians(_CELL_RADIUS_DEG / 2.0**depth)
        status = classify(_cell_centres(face, x, y, depth), rho)
        inside = cells[status == 2]
        kept_cells.append(inside)
        kept_depths.append(np.full(inside.size, depth, dtype=np.int64))
        split = status == 1
        crossing = cells[split]
        steps = 0  # orders to descend at once: as many as the budget allows
        while depth + steps < ORDER and crossing.size * 4 ** (steps + 1) <= budget:
            steps += 1
        if steps == 0:
            break
        cells, face, x, y = crossing, face[split], x[split], y[split]
        for _ in range(steps):
            cells = (cells[:, None] * 4 + _CHILD).ravel()
            face = np.repeat(face, 4)
            x = (2 * x[:, None] + (_CHILD & 1)).ravel()
            y = (2 * y[:, None] + (_CHILD >> 1)).ravel()
        depth += steps
    kept_cells.append(crossing)
    kept_depths.append(np.full(crossing.size, depth, dtype=np.int64))
    ranges = _cells_to_ranges(np.concatenate(kept_cells), np.concatenate(kept_depths))
    return _limit(ranges, max_ranges)


def box_ranges(
    ra_deg: float, dec_deg: float, width_deg: float, height_deg: float, max_ranges: int = 64
) -> Ranges:
    """Order-29 index ranges covering an ADQL BOX (see :func:`box_vertices`)."""
    return polygon_ranges(box_vertices(ra_deg, dec_deg, width_deg, height_deg), max_ranges)


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


def _cells_to_ranges(ipix: npt.ArrayLike, depths: npt.ArrayLike) -> Ranges:
    cells = np.asarray(ipix).astype(np.int64)
    shift = 2 * (ORDER - np.asarray(depths).astype(np.int64))
    return _merge(np.column_stack([cells << shift, ((cells + 1) << shift) - 1]))


def _merge(ranges: Ranges) -> Ranges:
    """Sorts ranges and joins those that overlap or touch."""
    if len(ranges) == 0:
        return np.empty((0, 2), dtype=np.int64)
    ranges = ranges[np.argsort(ranges[:, 0], kind="stable")]
    reach = np.maximum.accumulate(ranges[:, 1])
    breaks = np.flatnonzero(ranges[1:, 0] > reach[:-1] + 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks - 1, [len(ranges) - 1]])
    return np.column_stack([ranges[starts, 0], reach[ends]]).astype(np.int64)


def _limit(ranges: Ranges, max_ranges: int) -> Ranges:
    """Fills the smallest gaps until at most ``max_ranges`` ranges remain.

    Of all ways to reach that count this one adds the fewest index values, which is what
    row-group pruning on sorted ``_healpix_29`` cares about.
    """
    if len(ranges) <= max_ranges:
        return ranges
    gaps = ranges[1:, 0] - ranges[:-1, 1]
    first_kept = len(gaps) - (max_ranges - 1)  # keep the max_ranges - 1 widest gaps
    kept = np.sort(np.argpartition(gaps, first_kept - 1)[first_kept:])
    starts = np.concatenate([[0], kept + 1])
    ends = np.concatenate([kept, [len(ranges) - 1]])
    return np.column_stack([ranges[starts, 0], ranges[ends, 1]]).astype(np.int64)


# ---------------------------------------------------------------------------------------
# Polygon geometry


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


# ---------------------------------------------------------------------------------------
# Cross-match


def xmatch_order(radius_deg: float) -> int:
    """Deepest order (≤ 29) at which a point's cell and its neighbours hold every partner.

    Any point within ``radius_deg`` of a point in cell C lies in C or one of its (up to 8)
    neighbours when the radius is smaller than the distance between C and any cell not
    touching it. That distance was measured at ≥ 0.675 mean cell widths; the order chosen
    keeps the radius at most half a mean width (1″ gives order 16, 3.2″ cells).
    """
    radius = _radius(radius_deg)
    limit = _XMATCH_FRACTION * _MEAN_CELL_DEG
    if radius > limit:
        raise QuerySyntaxError(
            f"cross-match radius {radius_deg!r}° is too large; at most {limit:.1f}° is supported"
        )
    return _xmatch_depth(radius)


def _xmatch_depth(radius_deg: float) -> int:
    return min(ORDER, math.floor(math.log2(_XMATCH_FRACTION * _MEAN_CELL_DEG / radius_deg)))


def neighbour_cells(
    ra: npt.ArrayLike, dec: npt.ArrayLike, order: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each point's own cell at ``order`` and its neighbours, as (row_index, cell) pairs.

    Points with a missing or impossible position (NaN, |dec| > 90) match nothing and are
    left out.
    """
    _check_order(order)
    ra_arr = np.asarray(ra, dtype=np.float64).ravel()
    dec_arr = np.asarray(dec, dtype=np.float64).ravel()
    if ra_arr.shape != dec_arr.shape:
        raise QuerySyntaxError(f"ra and dec differ in length: {ra_arr.size} and {dec_arr.size}")
    rows = np.flatnonzero(_valid(ra_arr, dec_arr))
    if rows.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    cells = _hash(ra_arr[rows], dec_arr[rows], order)
    block = hp.neighbours(cells, order, num_threads=1)
    present = block >= 0
    return np.repeat(rows, 9)[present.ravel()].astype(np.int64), block[present].astype(np.int64)


# ---------------------------------------------------------------------------------------
# SQL


def cone_sql(
    ra_expr: str,
    dec_expr: str,
    ra_deg: float,
    dec_deg: float,
    radius_deg: float,
    ranges_column: str | None = "_healpix_29",
    max_ranges: int = 64,
) -> str:
    """A pruned, exact cone predicate: index ranges, a Dec band, then the distance."""
    ra, dec = _position(ra_deg, dec_deg)
    radius = _radius(radius_deg)
    parts = []
    if ranges_column is not None:
        parts.append(_ranges_sql(ranges_column, cone_ranges(ra, dec, radius, max_ranges)))
    parts.append(_dec_band_sql(dec_expr, dec - radius, dec + radius))
    parts.append(f"skydock_dist({ra_expr}, {dec_expr}, {_num(ra)}, {_num(dec)}) <= {_num(radius)}")
    return "(" + " AND ".join(p for p in parts if p) + ")"


def polygon_sql(ra_expr: str, dec_expr: str, vertices: Sequence[tuple[float, float]]) -> str:
    """An exact point-in-polygon test as SQL.

    Convex polygons become inline dot products of the point's unit vector with each edge's
    inward normal (no UDF, so DuckDB vectorises it); others call ``skydock_in_polygon``.
    """
    poly = _prepare_polygon(vertices)
    if not poly.convex:
        flat = ", ".join(_num(float(x)) for pair in np.asarray(vertices, float) for x in pair)
        return f"skydock_in_polygon({ra_expr}, {dec_expr}, [{flat}]::DOUBLE[])"
    ra_r, dec_r = f"radians({ra_expr})", f"radians({dec_expr})"
    tests = [
        f"cos({dec_r}) * ({_num(nx)} * cos({ra_r}) + {_num(ny)} * sin({ra_r}))"
        f" + {_num(nz)} * sin({dec_r}) >= 0"
        for nx, ny, nz in poly.normals.tolist()
    ]
    return "(" + " AND ".join(tests) + ")"


def polygon_predicate_sql(
    ra_expr: str,
    dec_expr: str,
    vertices: Sequence[tuple[float, float]],
    ranges_column: str | None = "_healpix_29",
    max_ranges: int = 64,
) -> str:
    """A pruned, exact polygon predicate: index ranges, a Dec band, then the exact test."""
    poly = _prepare_polygon(vertices)
    parts = []
    if ranges_column is not None:
        parts.append(_ranges_sql(ranges_column, polygon_ranges(vertices, max_ranges)))
    parts.append(_dec_band_sql(dec_expr, *_dec_extent(poly)))
    parts.append(polygon_sql(ra_expr, dec_expr, vertices))
    return "(" + " AND ".join(p for p in parts if p) + ")"


def _ranges_sql(column: str, ranges: Ranges) -> str:
    if np.array_equal(ranges, FULL_SKY):
        return ""
    terms = [f"{column} BETWEEN {int(lo)} AND {int(hi)}" for lo, hi in ranges.tolist()]
    return "(" + " OR ".join(terms) + ")"


def _dec_band_sql(dec_expr: str, lo: float, hi: float) -> str:
    lo, hi = lo - _DEC_PAD_DEG, hi + _DEC_PAD_DEG
    if lo > -90.0 and hi < 90.0:
        return f"({dec_expr}) BETWEEN {_num(lo)} AND {_num(hi)}"
    if lo > -90.0:
        return f"({dec_expr}) >= {_num(lo)}"
    if hi < 90.0:
        return f"({dec_expr}) <= {_num(hi)}"
    return ""


def _num(value: float) -> str:
    """A DOUBLE literal that reads back as exactly ``value`` (never DECIMAL, never ``--``)."""
    text = repr(float(value))
    if not math.isfinite(value):
        raise ValueError(f"cannot write {text} as a SQL number")
    if "e" not in text:
        text += "e0"
    return f"({text})" if text.startswith("-") else text


# ---------------------------------------------------------------------------------------
# DuckDB functions

_DIST_MACRO = """
CREATE OR REPLACE MACRO skydock_dist(ra1, dec1, ra2, dec2) AS degrees(2 * atan2(
  sqrt(pow(sin(radians(dec2 - dec1) / 2), 2)
       + cos(radians(dec1)) * cos(radians(dec2)) * pow(sin(radians(ra2 - ra1) / 2), 2)),
  sqrt(pow(sin(radians(dec2 + dec1) / 2), 2)
       + cos(radians(dec1)) * cos(radians(dec2)) * pow(cos(radians(ra2 - ra1) / 2), 2))))
"""


def register_udfs(con: duckdb.DuckDBPyConnection) -> None:
    """Creates the SQL functions translated queries use, on ``con``'s database.

    - ``skydock_dist(ra1, dec1, ra2, dec2)``: great-circle distance in degrees. A
      haversine written as ``2·atan2(√h, √h')`` where h' is the haversine to the antipode,
      so it is accurate from 0 to 180° and never takes asin of a value above 1.
    - ``skydock_healpix(ra, dec, order)``: nested cell index (NULL for a missing position).
    - ``skydock_xmatch_cells(ra, dec, order)``: the cell and its neighbours, BIGINT[].
    - ``skydock_in_polygon(ra, dec, verts)``: exact test, verts flat [ra1, dec1, ...].

    Safe to call again on the same database; works with external access disabled and the
    configuration locked.
    """
    con.execute(_DIST_MACRO)
    existing = {
        row[0]
        for row in con.execute(
            "SELECT function_name FROM duckdb_functions() WHERE function_name LIKE 'skydock_%'"
        ).fetchall()
    }
    double, bigint = duckdb.sqltypes.DOUBLE, duckdb.sqltypes.BIGINT
    functions: list[tuple[str, Callable[..., pa.Array], list[Any], Any]] = [
        ("skydock_healpix", _udf_healpix, [double, double, bigint], bigint),
        (
            "skydock_xmatch_cells",
            _udf_xmatch_cells,
            [double, double, bigint],
            duckdb.list_type(bigint),
        ),
        (
            "skydock_in_polygon",
            _udf_in_polygon,
            [double, double, duckdb.list_type(double)],
            duckdb.sqltypes.BOOLEAN,
        ),
    ]
    for name, func, params, returns in functions:
        if name not in existing:
            con.create_function(
                name,
                func,
                params,
                returns,
                type=PythonUDFType.ARROW,
                null_handling=FunctionNullHandling.SPECIAL,
            )


def _udf_healpix(ra: pa.ChunkedArray, dec: pa.ChunkedArray, order: pa.ChunkedArray) -> pa.Array:
    ra_np, dec_np, order_np = _floats(ra), _floats(dec), _floats(order)
    valid = _valid(ra_np, dec_np) & np.isfinite(order_np)
    out = np.zeros(len(ra_np), dtype=np.int64)
    for value in np.unique(order_np[valid]):
        rows = valid & (order_np == value)
        out[rows] = _hash(ra_np[rows], dec_np[rows], _check_order(value))
    return pa.array(out, mask=~valid)


def _udf_xmatch_cells(
    ra: pa.ChunkedArray, dec: pa.ChunkedArray, order: pa.ChunkedArray
) -> pa.Array:
    ra_np, dec_np, order_np = _floats(ra), _floats(dec), _floats(order)
    valid = _valid(ra_np, dec_np) & np.isfinite(order_np)
    counts = np.zeros(len(ra_np), dtype=np.int64)
    pieces: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []
    for value in np.unique(order_np[valid]):
        rows = np.flatnonzero(valid & (order_np == value))
        index, cells = neighbour_cells(ra_np[rows], dec_np[rows], _check_order(value))
        pieces.append((rows[index], cells))
        counts[rows] = np.bincount(index, minlength=rows.size)
    row_of = np.concatenate([p[0] for p in pieces]) if pieces else np.empty(0, np.int64)
    cells_all = np.concatenate([p[1] for p in pieces]) if pieces else np.empty(0, np.int64)
    values = cells_all[np.argsort(row_of, kind="stable")]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(values, type=pa.int64()), mask=pa.array(~valid)
    )


def _udf_in_polygon(ra: pa.ChunkedArray, dec: pa.ChunkedArray, verts: pa.ChunkedArray) -> pa.Array:
    ra_np, dec_np = _floats(ra), _floats(dec)
    lists = verts.combine_chunks() if verts.num_chunks else pa.array([], pa.list_(pa.float64()))
    valid = _valid(ra_np, dec_np) & ~lists.is_null().to_numpy(zero_copy_only=False)
    out = np.zeros(len(ra_np), dtype=bool)
    offsets = lists.offsets.to_numpy()
    values = lists.values.to_numpy(zero_copy_only=False)
    for first, rows in _same_lists(offsets, values):
        rows = rows[valid[rows]]
        if rows.size:
            poly = _cached_polygon(tuple(values[offsets[first] : offsets[first + 1]].tolist()))
            out[rows] = _contains(poly, _xyz(ra_np[rows], dec_np[rows]))
    return pa.array(out, mask=~valid)


def _same_lists(
    offsets: npt.NDArray[np.int32], values: FloatArray
) -> list[tuple[int, npt.NDArray[np.int64]]]:
    """Rows grouped by identical vertex lists, as (first row, rows); usually one group."""
    n = len(offsets) - 1
    lengths = np.diff(offsets)
    if n and np.all(lengths == lengths[0]) and offsets[-1] - offsets[0] == n * lengths[0]:
        block = values[offsets[0] : offsets[-1]].reshape(n, int(lengths[0]))
        if np.all(block == block[0]):
            return [(0, np.arange(n))]
    groups: dict[tuple[float, ...], list[int]] = {}
    for i in range(n):
        groups.setdefault(tuple(values[offsets[i] : offsets[i + 1]].tolist()), []).append(i)
    return [(rows[0], np.array(rows, dtype=np.int64)) for rows in groups.values()]


# ---------------------------------------------------------------------------------------
# Small helpers


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


def _check_order(order: object) -> int:
    as_float = float(order) if isinstance(order, int | float | np.integer | np.floating) else -1.0
    if not (as_float.is_integer() and 0 <= as_float <= ORDER):
        raise QuerySyntaxError(f"HEALPix order must be an integer from 0 to 29; got {order!r}")
    return int(as_float)


def _valid(ra: FloatArray, dec: FloatArray) -> npt.NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        return np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90.0)


def _floats(column: pa.ChunkedArray) -> FloatArray:
    return np.asarray(column.cast(pa.float64()).to_numpy(), dtype=np.float64)


def _hash(ra: FloatArray, dec: FloatArray, order: int) -> npt.NDArray[np.int64]:
    cells = hp.lonlat_to_healpix(Longitude(ra, u.deg), Latitude(dec, u.deg), order, num_threads=1)
    return np.asarray(cells).astype(np.int64)


def _cell_of(ra_deg: float, dec_deg: float, depth: int) -> int:
    """Nested index of the cell holding one position (the HEALPix ang2pix recipe).

    Plain Python for one point: cdshealpix's per-call overhead is ~100× the arithmetic.
    A point within float noise of a cell edge may land in the cell next door, which the
    callers' margins absorb.
    """
    nside = 1 << depth
    z = math.sin(math.radians(dec_deg))
    tt = (ra_deg % 360.0) / 90.0
    tt = tt - 4.0 if tt >= 4.0 else tt
    if abs(z) <= 2.0 / 3.0:
        up, down = nside * (0.5 + tt), nside * z * 0.75
        jp, jm = int(up - down), int(up + down)
        fp, fm = jp >> depth, jm >> depth
        face = (fp | 4) if fp == fm else (fp if fp < fm else fm + 8)
        ix, iy = jm & (nside - 1), nside - (jp & (nside - 1)) - 1
    else:
        ntt = min(3, int(tt))
        tp = tt - ntt
        cos_d = math.cos(math.radians(dec_deg))
        tmp = nside * math.sqrt(3.0 * cos_d * cos_d / (1.0 + abs(z)))  # √(3(1-|z|))
        jp, jm = min(int(tp * tmp), nside - 1), min(int((1.0 - tp) * tmp), nside - 1)
        if z >= 0:
            face, ix, iy = ntt, nside - jm - 1, nside - jp - 1
        else:
            face, ix, iy = ntt + 8, jp, jm
    return (face << (2 * depth)) | _spread_bits(ix) | (_spread_bits(iy) << 1)


def _spread_bits(v: int) -> int:
    """Moves bit k of ``v`` to bit 2k (the nested interleaving, for one coordinate)."""
    v &= 0xFFFFFFFF
    v = (v | (v << 16)) & 0x0000FFFF0000FFFF
    v = (v | (v << 8)) & 0x00FF00FF00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v << 2)) & 0x3333333333333333
    return (v | (v << 1)) & 0x5555555555555555


def _cell_centres(
    face: npt.NDArray[np.int64], ix: npt.NDArray[np.int64], iy: npt.NDArray[np.int64], depth: int
) -> FloatArray:
    """Unit vectors to the centres of cells given as (face, x, y) (HEALPix xyf2loc).

    Written here because each cdshealpix call costs tens of µs (hundreds on a busy
    machine) before any arithmetic, and the range builders call it once per order.
    1 - |z| is kept apart near the poles so points stay exact to ~1e-16 rad at order 29.
    """
    nside = 1 << depth
    x, y = ix + 0.5, iy + 0.5
    ring = _FACE_ROW[face] * nside - x - y
    north, south = ring < nside, ring > 3 * nside
    polar = north | south
    if polar.any():
        nr = np.where(north, ring, np.where(south, 4 * nside - ring, nside))
        t = (nr / nside) ** 2 / 3.0  # 1 - |z| in the polar caps
        z = np.where(polar, np.where(north, 1.0 - t, t - 1.0), (2 * nside - ring) / (1.5 * nside))
        sin_theta = np.where(polar, np.sqrt(t * (2.0 - t)), np.sqrt((1.0 - z) * (1.0 + z)))
    else:  # the common case: all equatorial, a shorter recipe
        nr = np.full(len(ring), float(nside))
        z = (2 * nside - ring) / (1.5 * nside)
        sin_theta = np.sqrt((1.0 - z) * (1.0 + z))
    phi = (math.pi / 4.0) * (_FACE_COL[face] * nr + x - y) / nr
    out = np.empty((len(z), 3))
    out[:, 0] = sin_theta * np.cos(phi)
    out[:, 1] = sin_theta * np.sin(phi)
    out[:, 2] = z
    return out


def _block(
    ra_deg: float, dec_deg: float, depth: int
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]
]:
    """The cell holding a position and its 7 or 8 neighbours, as (nested, face, x, y).

    The HEALPix library's neighbour walk in (x, y, face) space: step one cell in each
    compass direction, and when the step leaves the base face, move to the adjacent face
    and reorient the coordinates (tables below; 24 cells per order have only 7).
    """
    cell = _cell_of(ra_deg, dec_deg, depth)
    nside = 1 << depth
    face = cell >> (2 * depth)
    local = cell & ((1 << (2 * depth)) - 1)
    ix, iy = _compact_int(local), _compact_int(local >> 1)
    found = {cell: (face, ix, iy)}
    for dx, dy in _STEPS:
        x, y, slot = ix + dx, iy + dy, 4
        if x < 0 or x >= nside:
            x, slot = x % nside, slot + (1 if x >= nside else -1)
        if y < 0 or y >= nside:
            y, slot = y % nside, slot + (3 if y >= nside else -3)
        to_face = _NEXT_FACE[slot][face]
        if to_face < 0:
            continue
        bits = _REORIENT[slot][face >> 2]
        x = nside - x - 1 if bits & 1 else x
        y = nside - y - 1 if bits & 2 else y
        x, y = (y, x) if bits & 4 else (x, y)
        found[(to_face << (2 * depth)) | _spread_bits(x) | (_spread_bits(y) << 1)] = (to_face, x, y)
    keys = sorted(found)
    coords = np.array([found[k] for k in keys], dtype=np.int64).reshape(-1, 3)
    return np.array(keys, dtype=np.int64), coords[:, 0], coords[:, 1], coords[:, 2]


def _compact_int(v: int) -> int:
    """The even bits of ``v`` packed together (inverse of :func:`_spread_bits`)."""
    v &= 0x5555555555555555
    v = (v | (v >> 1)) & 0x3333333333333333
    v = (v | (v >> 2)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v >> 4)) & 0x00FF00FF00FF00FF
    v = (v | (v >> 8)) & 0x0000FFFF0000FFFF
    return (v | (v >> 16)) & 0x00000000FFFFFFFF


# Compass steps, and per step class (0..8 = S, SE, E, SW, same face, NE, W, NW, N) the
# face reached from each base face and how its coordinates flip (1: x, 2: y, 4: swap).
_STEPS = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]
_NEXT_FACE = [
    [8, 9, 10, 11, -1, -1, -1, -1, 10, 11, 8, 9],
    [5, 6, 7, 4, 8, 9, 10, 11, 9, 10, 11, 8],
    [-1, -1, -1, -1, 5, 6, 7, 4, -1, -1, -1, -1],
    [4, 5, 6, 7, 11, 8, 9, 10, 11, 8, 9, 10],
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    [1, 2, 3, 0, 0, 1, 2, 3, 5, 6, 7, 4],
    [-1, -1, -1, -1, 7, 4, 5, 6, -1, -1, -1, -1],
    [3, 0, 1, 2, 3, 0, 1, 2, 4, 5, 6, 7],
    [2, 3, 0, 1, -1, -1, -1, -1, 0, 1, 2, 3],
]
_REORIENT = [
    [0, 0, 3],
    [0, 0, 6],
    [0, 0, 0],
    [0, 0, 5],
    [0, 0, 0],
    [5, 0, 0],
    [0, 0, 0],
    [6, 0, 0],
    [3, 0, 0],
]
_CHILD = np.arange(4, dtype=np.int64)
_FACE_ROW = np.array([2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4], dtype=np.int64)
_FACE_COL = np.array([1, 3, 5, 7, 0, 2, 4, 6, 1, 3, 5, 7], dtype=np.int64)


def _xyz(ra_deg: npt.ArrayLike, dec_deg: npt.ArrayLike) -> FloatArray:
    a, d = np.radians(ra_deg), np.radians(dec_deg)
    cos_d = np.cos(d)
    return np.stack([cos_d * np.cos(a), cos_d * np.sin(a), np.sin(d)], axis=-1)


def _lonlat(xyz: FloatArray) -> tuple[FloatArray, FloatArray]:
    lon = np.degrees(np.arctan2(xyz[:, 1], xyz[:, 0])) % 360.0
    lat = np.degrees(np.arctan2(xyz[:, 2], np.hypot(xyz[:, 0], xyz[:, 1])))
    return lon, lat
