"""SQL for the exact region tests, and the DuckDB functions that translated queries call.

A region predicate is three parts joined by AND: order-29 index ranges that let DuckDB
skip row groups of a table sorted by ``_healpix_29``, a Dec band, then the exact test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
from duckdb.func import FunctionNullHandling, PythonUDFType

from skydock.engine.spatial.healpix import (
    FULL_SKY,
    Ranges,
    _check_order,
    _hash,
    cone_ranges,
    fill_narrow_gaps,
    neighbour_cells,
    polygon_ranges,
)
from skydock.engine.spatial.polygon import (
    _cached_polygon,
    _contains,
    _dec_extent,
    _prepare_polygon,
)
from skydock.engine.spatial.sphere import FloatArray, _position, _radius, _valid, _xyz

_DEC_PAD_DEG = 1e-9
# Ranges per region in SQL. A row group holds ~120k rows (tens of square degrees of a
# dense survey), so finer covers skip nothing more, while every extra BETWEEN costs
# DuckDB bind and optimise time (benchmarks/cone.py, 10 M rows: 4-8 ranges were fastest).
SQL_MAX_RANGES = 8
SMALL_CONE_MAX_RANGES = 4
SMALL_CONE_DEG = 0.5
# Small cones also fill gaps narrower than this many times their cover's width: on 10 M
# rows that left one range for most cones (no OR: ~0.25 ms less DuckDB planning) while
# a cone across a large cell's boundary keeps its two distant ranges.
SMALL_CONE_GAP_FACTOR = 4.0


# ---------------------------------------------------------------------------------------
# Region predicates


def cone_sql(
    ra_expr: str,
    dec_expr: str,
    ra_deg: float,
    dec_deg: float,
    radius_deg: float,
    ranges_column: str | None = "_healpix_29",
    max_ranges: int | None = None,
) -> str:
    """A pruned, exact cone predicate: index ranges, a Dec band, then the distance."""
    ra, dec = _position(ra_deg, dec_deg)
    radius = _radius(radius_deg)
    if max_ranges is None:
        # Small cones fit in a row group or two whatever the cover, so fewer ranges only
        # save planning; wide ones still gain from a finer cover (benchmarks/cone.py).
        max_ranges = SMALL_CONE_MAX_RANGES if radius < SMALL_CONE_DEG else SQL_MAX_RANGES
    parts = []
    if ranges_column is not None:
        ranges = cone_ranges(ra, dec, radius, max_ranges)
        if radius < SMALL_CONE_DEG:
            ranges = fill_narrow_gaps(ranges, SMALL_CONE_GAP_FACTOR)
        parts.append(_ranges_sql(ranges_column, ranges))
    parts.append(_dec_band_sql(dec_expr, dec - radius, dec + radius))
    parts.append(_within_sql(ra_expr, dec_expr, ra, dec, radius))
    return "(" + (" AND ".join(p for p in parts if p) or "TRUE") + ")"


def _within_sql(ra_expr: str, dec_expr: str, ra: float, dec: float, radius: float) -> str:
    """``distance <= radius`` as a haversine inequality with the constants folded.

    Comparing haversines instead of angles needs no asin, sqrt or degrees per row, and the
    smaller expression binds and plans faster: DuckDB's planning was most of a small
    cone's time. sin² of half the RA difference is periodic, so RA = 0/360 needs no care.
    """
    if radius >= 180.0:
        return ""
    half = math.pi / 360.0
    limit = math.sin(math.radians(radius) / 2.0) ** 2
    return (
        f"(pow(sin(({dec_expr}) * {_num(half)} - {_num(dec * half)}), 2)"
        f" + cos(({dec_expr}) * {_num(2 * half)}) * {_num(math.cos(math.radians(dec)))}"
        f" * pow(sin(({ra_expr}) * {_num(half)} - {_num(ra * half)}), 2)) <= {_num(limit)}"
    )


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
    max_ranges: int = SQL_MAX_RANGES,
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


def _floats(column: pa.ChunkedArray) -> FloatArray:
    return np.asarray(column.cast(pa.float64()).to_numpy(), dtype=np.float64)
