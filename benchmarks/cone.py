"""Cone searches of four radii at random positions inside the footprint.

Per radius and position: the median of ``repeats`` warm timings of the full query, rows
fetched to Arrow (Skydock, raw DuckDB) or to Python tuples (psycopg); reported is the
median over positions. Row sets are compared between engines for every cone.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.common import Context, Section, explain, fmt_ms, fmt_ratio, log, ratio, timed

RADII: tuple[tuple[str, float], ...] = (
    ("10″", 10 / 3600),
    ("1′", 1 / 60),
    ("0.1°", 0.1),
    ("1°", 1.0),
)
ENGINES = (
    "skydock_adql",
    "skydock_sql",
    "skydock_sql_new",
    "duckdb_translated",
    "duckdb_parquet",
    "postgres",
)
LABELS = {
    "skydock_adql": "ADQL",
    "skydock_sql": "SQL",
    "skydock_sql_new": "SQL new",
    "duckdb_translated": "SQL bare",
    "duckdb_parquet": "Parquet",
    "postgres": "PG+Q3C",
}


def positions(ctx: Context) -> list[tuple[float, float]]:
    """Positions of random catalog rows: inside the footprint, weighted like the data."""
    got = ctx.raw.execute(
        f"SELECT ra, dec FROM {ctx.serving()} "
        f"USING SAMPLE reservoir({ctx.settings.positions} ROWS) "
        f"REPEATABLE ({ctx.settings.seed + 1})"
    ).fetchall()
    return [(float(r), float(d)) for r, d in got]


def exact_distance_sql(ra: float, dec: float, radius: float) -> str:
    """Haversine distance ≤ radius, written out for plain DuckDB (no index, no pruning)."""
    d0, r0 = math.radians(dec), math.radians(ra)
    return (
        f"2 * asin(sqrt(pow(sin((radians(dec) - {d0!r}) / 2), 2) + "
        f"cos(radians(dec)) * {math.cos(d0)!r} * pow(sin((radians(ra) - {r0!r}) / 2), 2))) "
        f"<= {math.radians(radius)!r}"
    )


def run(ctx: Context) -> Section:
    select = (
        f"{ctx.id_column}, ra, dec, mag_r"
        if ctx.objects.column("mag_r")
        else f"{ctx.id_column}, ra, dec"
    )
    id_col = ctx.id_column
    pts = positions(ctx)
    reps = ctx.settings.repeats
    pg_con = ctx.pg.connect() if ctx.pg else None

    def queries(ra: float, dec: float, radius: float) -> dict[str, Callable[[], np.ndarray]]:
        adql = (
            f"SELECT {select} FROM demo.objects WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), "
            f"CIRCLE('ICRS', {ra!r}, {dec!r}, {radius!r}))"
        )
        q3c = f"q3c_radial_query(ra, dec, {ra!r}, {dec!r}, {radius!r})"
        sql = f"SELECT {select} FROM demo.objects WHERE {q3c}"
        raw = f"SELECT {select} FROM {ctx.parquet()} WHERE {exact_distance_sql(ra, dec, radius)}"
        # Skydock's own SQL, translated once, on a plain connection: DuckDB's floor.
        translated = ctx.executor.translate(sql, "sql").sql
        out: dict[str, Callable[[], np.ndarray]] = {
            "skydock_adql": lambda: _ids(ctx.skydock_arrow(adql, "adql"), id_col),
            "skydock_sql": lambda: _ids(ctx.skydock_arrow(sql, "sql"), id_col),
            "skydock_sql_new": lambda: _ids(ctx.skydock_arrow(sql, "sql", cached=False), id_col),
            "duckdb_translated": lambda: _ids(ctx.raw.sql(translated).to_arrow_table(), id_col),
            "duckdb_parquet": lambda: _ids(ctx.raw.sql(raw).to_arrow_table(), id_col),
        }
        if pg_con is not None:
            pg_sql = f"SELECT {select} FROM objects WHERE {q3c}"

            def pg_query() -> np.ndarray:
                rows = pg_con.execute(pg_sql).fetchall()
                return np.sort(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))

            out["postgres"] = pg_query
        return out

    per_radius: dict[str, Any] = {}
    section = Section(
        key="cone",
        title="1. Cone search latency, ms (median over positions of the median of "
        f"{reps} warm runs)",
        caption=f"demo.objects: {ctx.nrows:,} rows; {len(pts)} positions; SELECT {select}. "
        "ADQL, SQL: Skydock's executor (CONTAINS, q3c_radial_query); timed runs repeat the "
        "warm-up's text, so they reuse its cached translation. SQL new: the same with the "
        "translation cache cleared before every run (a query never seen). SQL bare: Skydock's "
        "translated SQL run on a plain DuckDB connection. Parquet: plain DuckDB, distance "
        "WHERE over the HATS files. Ratios below 1: Skydock faster. Row groups: Skydock's "
        "serving copy, first position.",
        columns=[
            "radius",
            "rows",
            *[LABELS[e] for e in ENGINES],
            "SQL/Parquet",
            "SQL/PG",
            "SQL new/PG",
            "ADQL/PG",
            "row groups",
            "rows equal",
        ],
    )
    for label, radius in RADII:
        log(f"cone {label}: {len(pts)} positions")
        times: dict[str, list[float]] = {e: [] for e in ENGINES}
        counts: list[int] = []
        mismatched: list[dict[str, Any]] = []
        for ra, dec in pts:
            results: dict[str, np.ndarray] = {}
            for engine, fn in queries(ra, dec, radius).items():
                t, ids = timed(fn, reps)
                times[engine].append(t)
                results[engine] = ids
            reference = results["skydock_sql"]
            counts.append(len(reference))
            bad = {e: len(ids) for e, ids in results.items() if not np.array_equal(ids, reference)}
            if bad:
                mismatched.append({"ra": ra, "dec": dec, "rows": len(reference), "differs": bad})
        med = {e: (statistics.median(v) if v else None) for e, v in times.items()}
        ra0, dec0 = pts[0]
        plan = explain(
            ctx,
            f"SELECT {select} FROM demo.objects "
            f"WHERE q3c_radial_query(ra, dec, {ra0!r}, {dec0!r}, {radius!r})",
        )
        groups = (
            f"{plan['row_groups_scanned']} / {plan['row_groups_total']}"
            if plan["row_groups_total"]
            else "—"
        )
        section.notes.append(
            f"{label}: SQL {fmt_ms(med['skydock_sql'])} ms of which translation "
            f"{fmt_ms(plan['translate_s'])}; DuckDB profile of the same SQL: total "
            f"{fmt_ms(plan['duckdb_total_s'])} = bind {fmt_ms(plan['duckdb_bind_s'])} + "
            f"optimise {fmt_ms(plan['duckdb_optimise_s'])} + operators "
            f"{fmt_ms(plan['duckdb_operators_s'])} + rest; {plan['healpix_ranges']} HEALPix "
            "ranges"
        )
        per_radius[label] = {
            "radius_deg": radius,
            "median_rows": statistics.median(counts),
            "median_s": med,
            "per_position_s": times,
            "rows": counts,
            "mismatches": mismatched,
            "explain_first_position": plan,
        }
        section.rows.append(
            [
                label,
                f"{statistics.median(counts):,.0f}",
                *[fmt_ms(med[e]) for e in ENGINES],
                fmt_ratio(ratio(med["skydock_sql"], med["duckdb_parquet"])),
                fmt_ratio(ratio(med["skydock_sql"], med["postgres"])),
                fmt_ratio(ratio(med["skydock_sql_new"], med["postgres"])),
                fmt_ratio(ratio(med["skydock_adql"], med["postgres"])),
                groups,
                "yes" if not mismatched else f"[red]no ({len(mismatched)} cones)[/red]",
            ]
        )
        for m in mismatched[:3]:
            section.notes.append(
                f"cone {label} at ({m['ra']:.5f}, {m['dec']:.5f}): {m['rows']} rows in "
                f"Skydock SQL; rows in the engines that differ: {m['differs']}"
            )
    if pg_con is not None:
        pg_con.close()
    section.data = {"positions": pts, "radii": per_radius}
    return section


def _ids(table: Any, column: str) -> np.ndarray:
    return np.sort(table.column(column).to_numpy().astype(np.int64, copy=False))
