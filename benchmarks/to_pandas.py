"""One million rows of six columns into a pandas DataFrame, end to end."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pandas as pd

from benchmarks.common import Context, Section, fmt_rate, fmt_ratio, fmt_s, log, ratio, timed

PREFERRED = ("ra", "dec", "mag_g", "mag_r", "mag_z")
NUMERIC = ("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "SMALLINT", "REAL")


def columns(ctx: Context) -> list[str]:
    """The id, ra, dec and three magnitudes (or other numeric columns if those are missing)."""
    chosen = [ctx.id_column] + [c for c in PREFERRED if ctx.objects.column(c)]
    for col in ctx.objects.columns:
        if len(chosen) >= 6:
            break
        if (
            col.name not in chosen
            and col.datatype.upper() in NUMERIC
            and not col.name.startswith("_")
        ):
            chosen.append(col.name)
    return chosen[:6]


def run(ctx: Context) -> Section:
    cols = columns(ctx)
    n = min(ctx.settings.pandas_rows, ctx.nrows)
    select = ", ".join(cols)
    query = "SELECT {cols} FROM {table} LIMIT {n}"
    reps = ctx.settings.repeats
    engines: dict[str, tuple[str, Callable[[], pd.DataFrame]]] = {
        "skydock": (
            "Skydock executor → Arrow → pandas",
            lambda: ctx.skydock_arrow(
                query.format(cols=select, table="demo.objects", n=n)
            ).to_pandas(),
        ),
        "duckdb_serving": (
            "DuckDB .df() on the serving copy",
            lambda: ctx.raw.execute(query.format(cols=select, table=ctx.serving(), n=n)).df(),
        ),
        "duckdb_parquet": (
            "DuckDB .df() on the HATS Parquet",
            lambda: ctx.raw.execute(query.format(cols=select, table=ctx.parquet(), n=n)).df(),
        ),
    }
    if ctx.pg is not None:
        pg_con = ctx.pg.connect()
        pg_sql = query.format(cols=select, table="objects", n=n)

        def via_tuples() -> pd.DataFrame:
            cur = pg_con.execute(pg_sql)
            names = [d.name for d in cur.description or []]
            return pd.DataFrame.from_records(cur.fetchall(), columns=names)

        def via_csv() -> pd.DataFrame:
            buf = io.BytesIO()
            with (
                pg_con.cursor() as cur,
                cur.copy(f"COPY ({pg_sql}) TO STDOUT (FORMAT csv, HEADER)") as copy,
            ):
                for block in copy:
                    buf.write(block)
            buf.seek(0)
            return pd.read_csv(buf)

        engines["pg_psycopg"] = ("PostgreSQL → psycopg rows → pandas", via_tuples)
        engines["pg_csv"] = ("PostgreSQL COPY → CSV → pandas.read_csv (Data Lab path)", via_csv)
    times: dict[str, float] = {}
    shapes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, (label, fn) in list(engines.items()):
        log(f"to pandas: {label}")
        try:
            times[key], frame = timed(fn, reps)
        except Exception as exc:
            errors[key] = f"{type(exc).__name__}: {exc}"
            del engines[key]
            continue
        shapes[key] = list(frame.shape)
    if ctx.pg is not None:
        pg_con.close()
    mine = times.get("skydock")
    section = Section(
        key="pandas",
        title=f"3. {n:,} rows × {len(cols)} columns into pandas (median of {reps})",
        caption=f"SELECT {select} … LIMIT {n:,} from {ctx.nrows:,} rows",
        columns=["path", "seconds", "rows/s", "shape", "Skydock / this"],
    )
    for key, (label, _) in engines.items():
        section.rows.append(
            [
                label,
                fmt_s(times[key]),
                fmt_rate(n / times[key]),
                "×".join(map(str, shapes[key])),
                fmt_ratio(ratio(mine, times[key])),
            ]
        )
    section.notes.extend(f"{k} failed: {v}" for k, v in errors.items())
    bad = [k for k, s in shapes.items() if s != [n, len(cols)]]
    section.notes.extend(f"{k} returned shape {shapes[k]}, expected {[n, len(cols)]}" for k in bad)
    section.data = {
        "rows": n,
        "columns": cols,
        "table_rows": ctx.nrows,
        "median_s": times,
        "shapes": shapes,
        "errors": errors,
    }
    return section
