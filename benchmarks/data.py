"""The benchmark data: the demo survey, the crossmatch targets, and their PostgreSQL copies.

``demo.objects`` is built with the real ``skydock demo build`` command (timed: that is the
ingest benchmark) and kept in the data directory, so later runs reuse it; ``--rebuild``
builds it again. The crossmatch targets are catalog rows moved by a fraction of an
arcsecond (plus a share moved far enough not to match), ingested as ``demo.targets``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.common import Settings, log
from benchmarks.pg import PostgresServer, pg_type
from skydock.engine.catalog import HEALPIX_COLUMN, CatalogStore, TableMeta

OBJECTS = "demo.objects"
TARGETS = "demo.targets"
STATE_FILE = "bench-state.json"
MATCH_FRACTION = 0.9
MATCH_MAX_ARCSEC = 0.6  # matched targets sit 0–0.6″ (mean 0.3″) from their object
MISS_ARCSEC = (5.0, 10.0)  # the others sit this far away: no 1″ match


def read_state(skydock_dir: Path) -> dict[str, Any]:
    path = skydock_dir / STATE_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def write_state(skydock_dir: Path, state: dict[str, Any]) -> None:
    skydock_dir.mkdir(parents=True, exist_ok=True)
    (skydock_dir / STATE_FILE).write_text(json.dumps(state, indent=2))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def ensure_objects(settings: Settings, skydock_dir: Path) -> tuple[TableMeta, dict[str, Any]]:
    """``demo.objects`` with ``settings.rows`` rows, built (and timed) when needed.

    Returns the table and the record of the build that made it.
    """
    store = CatalogStore.for_data_dir(skydock_dir)
    state = read_state(skydock_dir)
    build = state.get("objects")
    if store.exists(OBJECTS) and not settings.rebuild and build is not None:
        meta = store.get(OBJECTS)
        if build.get("rows") == settings.rows:
            log(f"reusing {OBJECTS} ({meta.nrows:,} rows, built {build.get('built_at')})")
            return meta, {**build, "reused": True}
    for name in list(store.list()):
        store.drop(name.qualified)
    state = {}
    write_state(skydock_dir, state)
    log(f"building {OBJECTS} with {settings.rows:,} rows: skydock demo build")
    cmd = [
        sys.executable,
        "-c",
        "from skydock.cli import main; main()",
        "demo",
        "build",
        "--data-dir",
        str(skydock_dir),
        "--rows",
        str(settings.rows),
        "--only",
        "objects",
        "--no-progress",
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - start
    meta = store.get(OBJECTS)
    build = {
        "rows": settings.rows,
        "catalog_rows": meta.nrows,
        "tables": [t.qualified for t in store.list()],
        "seconds": seconds,
        "built_at": now(),
        "disk_bytes": _du(meta.path),
    }
    state["objects"] = build
    write_state(skydock_dir, state)
    return meta, {**build, "reused": False}


def ensure_targets(
    settings: Settings, skydock_dir: Path, objects: TableMeta
) -> tuple[TableMeta, dict[str, Any]]:
    """``demo.targets``: ``settings.targets`` positions near (or far from) catalog objects."""
    from skydock.engine.ingest import ingest_catalog

    store = CatalogStore.for_data_dir(skydock_dir)
    state = read_state(skydock_dir)
    wanted = {"n": settings.targets, "seed": settings.seed}
    record = state.get("targets")
    if store.exists(TARGETS) and record and record.get("spec") == wanted:
        log(f"reusing {TARGETS} ({record['rows']:,} rows)")
        return store.get(TARGETS), {**record, "reused": True}
    if store.exists(TARGETS):
        store.drop(TARGETS)
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{objects.serving_path}' AS src (READ_ONLY)")
        table = make_targets(con, "src.main.data", settings.targets, settings.seed)
    work = skydock_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    src = work / "targets.parquet"
    pq.write_table(table, src)
    log(f"ingesting {TARGETS} ({table.num_rows:,} rows) with ingest_catalog")
    start = time.perf_counter()
    meta = ingest_catalog(
        store,
        [src],
        TARGETS,
        ra="ra",
        dec="dec",
        id_column="target_id",
        description="Benchmark crossmatch targets",
        progress=False,
    )
    seconds = time.perf_counter() - start
    record = {
        "spec": wanted,
        "rows": table.num_rows,
        "seconds": seconds,
        "built_at": now(),
        "matched_by_construction": round(settings.targets * MATCH_FRACTION),
    }
    state["targets"] = record
    write_state(skydock_dir, state)
    return meta, {**record, "reused": False}


def make_targets(raw: duckdb.DuckDBPyConnection, serving: str, n: int, seed: int) -> pa.Table:
    """Random catalog positions, most moved < 0.6″, the rest 5–10″, in random directions."""
    picked = raw.execute(
        f"SELECT ra, dec FROM {serving} USING SAMPLE reservoir({int(n)} ROWS) REPEATABLE ({seed})"
    ).fetchnumpy()
    ra = np.asarray(picked["ra"], dtype=np.float64)
    dec = np.asarray(picked["dec"], dtype=np.float64)
    rng = np.random.default_rng(seed)
    count = len(ra)
    near = rng.random(count) < MATCH_FRACTION
    sep_arcsec = np.where(
        near,
        rng.uniform(0.0, MATCH_MAX_ARCSEC, count),
        rng.uniform(*MISS_ARCSEC, count),
    )
    ra2, dec2 = offset_by(
        ra, dec, rng.uniform(0.0, 2 * np.pi, count), np.radians(sep_arcsec / 3600)
    )
    order = rng.permutation(count)
    return pa.table(
        {
            "target_id": np.arange(1, count + 1, dtype=np.int64),
            "ra": ra2[order],
            "dec": dec2[order],
        }
    )


def offset_by(
    ra_deg: np.ndarray, dec_deg: np.ndarray, pa_rad: np.ndarray, sep_rad: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Move each position ``sep`` along position angle ``pa`` (east of north) on the sphere."""
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    sin_dec2 = np.sin(dec) * np.cos(sep_rad) + np.cos(dec) * np.sin(sep_rad) * np.cos(pa_rad)
    dec2 = np.arcsin(np.clip(sin_dec2, -1.0, 1.0))
    dra = np.arctan2(
        np.sin(pa_rad) * np.sin(sep_rad) * np.cos(dec),
        np.cos(sep_rad) - np.sin(dec) * sin_dec2,
    )
    return np.degrees(ra + dra) % 360.0, np.degrees(dec2)


def pg_columns(meta: TableMeta) -> list[tuple[str, str]]:
    """The catalog's columns PostgreSQL can hold, with their PostgreSQL types."""
    columns = []
    for col in meta.columns:
        typ = pg_type(col.datatype)
        if typ is not None and col.name != HEALPIX_COLUMN:
            columns.append((col.name, typ))
    return columns


def load_into_postgres(
    pg: PostgresServer,
    raw: duckdb.DuckDBPyConnection,
    source: str,
    meta: TableMeta,
    pg_table: str,
    work: Path,
) -> dict[str, Any]:
    """Export ``source`` to CSV with DuckDB, then COPY, index, CLUSTER and ANALYZE it."""
    columns = pg_columns(meta)
    skipped = [c.name for c in meta.columns if c.name not in {n for n, _ in columns}]
    work.mkdir(parents=True, exist_ok=True)
    csv = work / f"{pg_table}.csv"
    names = ", ".join(f'"{n}"' for n, _ in columns)
    start = time.perf_counter()
    raw.execute(f"COPY (SELECT {names} FROM {source}) TO '{csv}' (HEADER, DELIMITER ',')")
    export_s = time.perf_counter() - start
    log(
        f"loading {pg_table} into PostgreSQL "
        f"({meta.nrows:,} rows, {csv.stat().st_size / 1e9:.2f} GB of CSV)"
    )
    steps = pg.load_csv(pg_table, columns, csv, ra=meta.ra, dec=meta.dec)
    csv.unlink()
    pg.prewarm(pg_table)
    return {
        "rows": meta.nrows,
        "columns": len(columns),
        "skipped_columns": skipped,
        "csv_export_s": export_s,
        "steps_s": steps,
        "load_s": sum(steps.values()),
    }


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
