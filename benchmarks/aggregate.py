"""A full-table aggregate with a colour cut, grouped by type: scan speed in rows/s."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from benchmarks.common import Context, Section, fmt_rate, fmt_ratio, fmt_s, log, ratio, timed

QUERY = (
    "SELECT type, count(*) AS n, avg(mag_r) AS mean_mag_r FROM {table} "
    "WHERE mag_g - mag_r > 0.5 GROUP BY type ORDER BY type"
)

Rows = list[tuple[Any, int, float]]


def run(ctx: Context) -> Section:
    reps = ctx.settings.repeats
    engines: dict[str, tuple[str, Callable[[], Rows]]] = {
        "skydock_sql": (
            "Skydock SQL",
            lambda: _rows(ctx.skydock_arrow(QUERY.format(table="demo.objects")).to_pylist()),
        ),
        "skydock_adql": (
            "Skydock ADQL",
            lambda: _rows(
                ctx.skydock_arrow(QUERY.format(table="demo.objects"), "adql").to_pylist()
            ),
        ),
        "duckdb_parquet": (
            "DuckDB on the HATS Parquet",
            lambda: _rows(ctx.raw.execute(QUERY.format(table=ctx.parquet())).fetchall()),
        ),
        "duckdb_serving": (
            "DuckDB on the serving copy",
            lambda: _rows(ctx.raw.execute(QUERY.format(table=ctx.serving())).fetchall()),
        ),
    }
    if ctx.pg is not None:
        pg_con = ctx.pg.connect()

        def pg_query() -> Rows:
            return _rows(pg_con.execute(QUERY.format(table="objects")).fetchall())

        engines["postgres"] = ("PostgreSQL + Q3C", pg_query)
    results: dict[str, float] = {}
    answers: dict[str, Rows] = {}
    errors: dict[str, str] = {}
    for key, (label, fn) in list(engines.items()):
        log(f"aggregate: {label}")
        try:
            results[key], answers[key] = timed(fn, reps)
        except Exception as exc:
            errors[key] = f"{type(exc).__name__}: {exc}"
            del engines[key]
    if ctx.pg is not None:
        pg_con.close()
    reference = answers["skydock_sql"]
    mine = results["skydock_sql"]
    section = Section(
        key="aggregate",
        title=f"2. Full-scan aggregate (median of {reps} warm runs)",
        caption=f"{QUERY.format(table='…')}  —  {ctx.nrows:,} rows",
        columns=["engine", "seconds", "rows/s", "Skydock SQL / this", "same answer"],
    )
    for key, (label, _) in engines.items():
        t = results[key]
        section.rows.append(
            [
                label,
                fmt_s(t),
                fmt_rate(ctx.nrows / t),
                fmt_ratio(ratio(mine, t)),
                "yes" if _same(answers[key], reference) else "[red]no[/red]",
            ]
        )
    section.data = {
        "query": QUERY,
        "rows": ctx.nrows,
        "median_s": results,
        "rows_per_s": {k: ctx.nrows / v for k, v in results.items()},
        "answer": [list(r) for r in reference],
        "same_answer": {k: _same(v, reference) for k, v in answers.items()},
        "errors": errors,
    }
    section.notes.extend(f"{k} failed: {v}" for k, v in errors.items())
    return section


def _rows(rows: list[Any]) -> Rows:
    out = []
    for r in rows:
        values = list(r.values()) if isinstance(r, dict) else list(r)
        out.append((values[0], int(values[1]), float(values[2])))
    return sorted(out, key=lambda v: str(v[0]))


def _same(a: Rows, b: Rows) -> bool:
    if len(a) != len(b):
        return False
    for (ka, na, ma), (kb, nb, mb) in zip(a, b, strict=True):
        if ka != kb or na != nb or not math.isclose(ma, mb, rel_tol=1e-6):
            return False
    return True
