"""Sky regions as order-29 HEALPix index ranges, and the HEALPix cell arithmetic.

The ranges are always a superset of the region: they may admit extra rows, never lose one.
The cell coverage is computed here (:func:`_cover`) rather than taken from
``cdshealpix.cone_search`` / ``mocpy``: their cone coverage is an approximation that
was found (cdshealpix 0.9, mocpy 0.21) to drop cells on the rim of some cones from ~5°
up (and most of them past ~140°), whatever depth_delta or flat is set to,
and each cdshealpix call carries tens of µs of fixed cost. Ours judges every cell by a
cap measured to contain it, so the result is a superset by construction; cdshealpix
is still the reference that the tests and the SQL functions use.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import astropy.units as u
import cdshealpix.nested as hp
import numpy as np
import numpy.typing as npt
from astropy.coordinates import Latitude, Longitude

from skydock.engine.spatial.polygon import _classify, _prepare_polygon, box_vertices
from skydock.engine.spatial.sphere import (
    _SLACK,
    FloatArray,
    _check_max_ranges,
    _lonlat,
    _position,
    _radius,
    _valid,
    _xyz,
)
from skydock.errors import QuerySyntaxError

ORDER = 29
FULL_SKY = np.array([[0, 12 * 4**ORDER - 1]], dtype=np.int64)

Ranges = npt.NDArray[np.int64]

# sqrt(mean cell area) at order 0, in degrees; a cell at order d is this / 2**d wide.
_MEAN_CELL_DEG = math.degrees(math.sqrt(math.pi / 3.0))
# Upper bound on the distance from any cell's centre to any point of it, times 2**d.
# Measured over every cell to order 7 (and a sample at 8): the maximum grows towards
# 61.25° and is always reached at a corner; 64° leaves a 4 % margin.
_CELL_RADIUS_DEG = 64.0
# A non-adjacent cell is at least ~0.675 mean cell widths away (measured to order 6);
# cross-match radii up to half a mean width keep every partner in the 3×3 block.
_XMATCH_FRACTION = 0.5


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


def fill_narrow_gaps(ranges: Ranges, factor: float) -> Ranges:
    """Fills every gap narrower than ``factor`` times the ranges' own total width.

    A gap that narrow costs at most a few times the cover's own reading, while one range
    fewer saves DuckDB planning time (a single range is no OR at all). A wide gap, where
    a small region straddles the boundary of a large cell, is kept: filling it could
    mean reading a large part of the table.
    """
    if len(ranges) <= 1:
        return ranges
    width = int(np.sum(ranges[:, 1] - ranges[:, 0] + 1))
    wide = np.flatnonzero(ranges[1:, 0] - ranges[:-1, 1] > factor * width)
    starts = np.concatenate([[0], wide + 1])
    ends = np.concatenate([wide, [len(ranges) - 1]])
    return np.column_stack([ranges[starts, 0], ranges[ends, 1]]).astype(np.int64)


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
# Cells


def _check_order(order: object) -> int:
    as_float = float(order) if isinstance(order, int | float | np.integer | np.floating) else -1.0
    if not (as_float.is_integer() and 0 <= as_float <= ORDER):
        raise QuerySyntaxError(f"HEALPix order must be an integer from 0 to 29; got {order!r}")
    return int(as_float)


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
