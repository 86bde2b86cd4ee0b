"""Crossmatch of the ``demo.targets`` catalog with ``demo.objects`` within 1″.

Skydock runs it as a catalog-to-catalog join (SQL ``q3c_join``, ADQL
``CONTAINS(POINT, CIRCLE)``); PostgreSQL runs ``q3c_join`` with both tables q3c-indexed;
astropy runs ``search_around_sky`` on in-memory arrays (tree building included, because
every call on fresh coordinates builds it). All pairs are compared.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.common import Context, Section, explain, fmt_ratio, fmt_s, log, ratio, timed

RADIUS_DEG = 1 / 3600
ASTROPY_REPEATS = 3


def run(ctx: Context) -> Section:
    assert ctx.targets is not None
    reps = ctx.settings.repeats
    idc = ctx.id_column
    r = repr(RADIUS_DEG)
    sql = (
        f"SELECT t.target_id, o.{idc} FROM demo.targets AS t JOIN demo.objects AS o "
        f"ON q3c_join(t.ra, t.dec, o.ra, o.dec, {r})"
    )
    adql = (
        f"SELECT t.target_id, o.{idc} FROM demo.targets AS t JOIN demo.objects AS o "
        f"ON 1 = CONTAINS(POINT('ICRS', o.ra, o.dec), CIRCLE('ICRS', t.ra, t.dec, {r}))"
    )

    def pairs_of(table: Any) -> np.ndarray:
        a = table.column(0).to_numpy().astype(np.int64)
        b = table.column(1).to_numpy().astype(np.int64)
        return _sorted_pairs(a, b)

    engines: dict[str, tuple[str, Callable[[], np.ndarray], int]] = {
        "skydock_sql": ("Skydock SQL q3c_join", lambda: pairs_of(ctx.skydock_arrow(sql)), reps),
        "skydock_adql": (
            "Skydock ADQL CONTAINS join",
            lambda: pairs_of(ctx.skydock_arrow(adql, "adql")),
            reps,
        ),
    }
    pg_con = ctx.pg.connect() if ctx.pg is not None and ctx.pg_targets else None
    if pg_con is not None:
        pg_sql = (
            f"SELECT t.target_id, o.{idc} FROM targets AS t, objects AS o "
            f"WHERE q3c_join(t.ra, t.dec, o.ra, o.dec, {r})"
        )

        def pg_query() -> np.ndarray:
            rows = pg_con.execute(pg_sql).fetchall()
            arr = np.array(rows, dtype=np.int64).reshape(-1, 2)
            return _sorted_pairs(arr[:, 0], arr[:, 1])

        engines["postgres"] = ("PostgreSQL q3c_join", pg_query, reps)
    if ctx.settings.astropy:
        engines["astropy"] = ("astropy search_around_sky", _astropy(ctx), ASTROPY_REPEATS)

    times: dict[str, float] = {}
    pairs: dict[str, np.ndarray] = {}
    errors: dict[str, str] = {}
    for key, (label, fn, n) in list(engines.items()):
        log(f"crossmatch: {label}")
        try:
            times[key], pairs[key] = timed(fn, n, warmup=1 if key != "astropy" else 0)
        except Exception as exc:
            errors[key] = f"{type(exc).__name__}: {exc}"
            del engines[key]
    if pg_con is not None:
        pg_con.close()
    reference = pairs.get("skydock_sql")
    mine = times.get("skydock_sql")
    ntargets = ctx.targets.nrows
    section = Section(
        key="crossmatch",
        title=f"4. Crossmatch {ntargets:,} targets × {ctx.nrows:,} objects within 1″",
        caption=f"median of {reps} (astropy: {ASTROPY_REPEATS}, tree build included); "
        "pairs compared as sorted (target_id, id) sets",
        columns=["engine", "seconds", "pairs", "Skydock SQL / this", "same pairs"],
    )
    for key, (label, _, _) in engines.items():
        same = reference is not None and np.array_equal(pairs[key], reference)
        section.rows.append(
            [
                label,
                fmt_s(times[key]),
                f"{len(pairs[key]):,}",
                fmt_ratio(ratio(mine, times[key])),
                "yes" if same else "[red]no[/red]",
            ]
        )
    section.notes.extend(f"{k} failed: {v}" for k, v in errors.items())
    plan: dict[str, Any] | None = None
    try:
        plan = explain(ctx, sql)
        section.notes.append(
            f"Skydock SQL: translation {fmt_s(plan['translate_s'])} s, DuckDB "
            f"{fmt_s(plan['duckdb_total_s'])} s (profiled on a plain connection); "
            "the translated SQL is in the JSON"
        )
    except Exception as exc:
        section.notes.append(f"EXPLAIN ANALYZE of the SQL join failed: {exc}")
    section.data = {
        "explain_sql": plan,
        "targets": ntargets,
        "objects": ctx.nrows,
        "radius_deg": RADIUS_DEG,
        "median_s": times,
        "pairs": {k: len(v) for k, v in pairs.items()},
        "same_pairs": {
            k: bool(reference is not None and np.array_equal(v, reference))
            for k, v in pairs.items()
        },
        "errors": errors,
    }
    return section


def _astropy(ctx: Context) -> Callable[[], np.ndarray]:
    from astropy import units as u
    from astropy.coordinates import SkyCoord, search_around_sky

    start = time.perf_counter()
    cat = ctx.raw.execute(f"SELECT {ctx.id_column}, ra, dec FROM {ctx.serving()}").fetchnumpy()
    tgt = ctx.raw.execute(
        f"SELECT target_id, ra, dec FROM {ctx.targets_alias}.main.data"
    ).fetchnumpy()
    log(f"astropy: arrays loaded in {time.perf_counter() - start:.1f} s (not timed)")
    cat_ids = np.asarray(cat[ctx.id_column], dtype=np.int64)
    tgt_ids = np.asarray(tgt["target_id"], dtype=np.int64)

    def match() -> np.ndarray:
        # Fresh SkyCoords: each call builds its k-d tree, as a user's script would.
        targets = SkyCoord(ra=tgt["ra"] * u.deg, dec=tgt["dec"] * u.deg)
        catalog = SkyCoord(ra=cat["ra"] * u.deg, dec=cat["dec"] * u.deg)
        i_tgt, i_cat, _, _ = search_around_sky(targets, catalog, RADIUS_DEG * u.deg)
        return _sorted_pairs(tgt_ids[i_tgt], cat_ids[i_cat])

    return match


def _sorted_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    pairs = np.stack([np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)], axis=1)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return pairs[order]
