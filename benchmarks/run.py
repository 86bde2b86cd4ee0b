"""Run the Skydock benchmark suite: ``python -m benchmarks.run --data-dir .skydock/bench``.

Builds (or reuses) a synthetic ``demo.objects`` of ``--rows`` rows, starts a private
PostgreSQL + Q3C loaded with the same rows, runs the benchmarks, prints one table each
and writes every figure to ``<data-dir>/results/latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from benchmarks import aggregate, cone, crossmatch, data, http, ingest, to_pandas
from benchmarks.common import Context, Section, Settings, console, log
from benchmarks.pg import PostgresServer, PostgresUnavailableError
from skydock.engine import spatial
from skydock.engine.catalog import CatalogStore
from skydock.engine.executor import DuckDBExecutor, Limits

BENCHMARKS: dict[str, Callable[[Context], Section]] = {
    "cone": cone.run,
    "aggregate": aggregate.run,
    "pandas": to_pandas.run,
    "crossmatch": crossmatch.run,
    "http": http.run,
}
ALL = (*BENCHMARKS, "ingest")


def parse_args(argv: list[str] | None = None) -> Settings:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Skydock benchmarks: medians and ratios against baselines run side by side.",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".skydock/bench"),
        help="where the benchmark catalogs and results live (default .skydock/bench)",
    )
    p.add_argument(
        "--rows",
        type=int,
        default=None,
        help="rows in demo.objects (default 10,000,000; --quick: 1,000,000)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a fast development run: 1 M rows, 8 positions, 3 repeats, 20 k targets",
    )
    p.add_argument("--positions", type=int, default=None, help="cone positions per radius (20)")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per measurement (5)")
    p.add_argument("--targets", type=int, default=None, help="crossmatch targets (100,000)")
    p.add_argument(
        "--pandas-rows", type=int, default=1_000_000, help="rows fetched into pandas (1,000,000)"
    )
    p.add_argument("--seed", type=int, default=42, help="random seed for positions and targets")
    p.add_argument(
        "--only", default=",".join(ALL), help=f"comma-separated subset of {', '.join(ALL)}"
    )
    p.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL + Q3C baseline")
    p.add_argument("--no-astropy", action="store_true", help="skip the astropy crossmatch")
    p.add_argument(
        "--rebuild",
        action="store_true",
        help="rebuild demo.objects even if a matching one exists (measures ingest)",
    )
    a = p.parse_args(argv)
    only = frozenset(x.strip() for x in a.only.split(",") if x.strip())
    unknown = only - set(ALL)
    if unknown:
        p.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; choose from {', '.join(ALL)}")
    return Settings(
        data_dir=a.data_dir,
        rows=a.rows or (1_000_000 if a.quick else 10_000_000),
        positions=a.positions or (8 if a.quick else 20),
        repeats=a.repeats or (3 if a.quick else 5),
        targets=a.targets or (20_000 if a.quick else 100_000),
        pandas_rows=a.pandas_rows,
        seed=a.seed,
        postgres=not a.no_postgres,
        astropy=not a.no_astropy,
        rebuild=a.rebuild,
        only=only,
        quick=a.quick,
    )


def environment(pg: PostgresServer | None) -> dict[str, Any]:
    import astropy
    import pyarrow

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "astropy": astropy.__version__,
        "postgres": getattr(pg, "version", None),
        "commit": commit or None,
    }


def plain_connection(executor: DuckDBExecutor) -> tuple[duckdb.DuckDBPyConnection, dict[str, str]]:
    """A plain DuckDB connection on the same serving files, for the baselines.

    Each serving file is attached under the name the executor gave it and also exposed as
    the view ``<schema>.<table>``, so Skydock's translated SQL runs here unchanged.
    """
    raw = duckdb.connect()
    aliases: dict[str, str] = {}
    schemas: set[str] = set()
    for i, meta in enumerate(executor.tables()):
        alias = meta.location[0] if getattr(meta, "location", None) else f"bench_{i}"
        raw.execute(f"ATTACH '{meta.serving_path}' AS {alias} (READ_ONLY)")
        if meta.schema not in schemas:
            raw.execute(f"CREATE SCHEMA {meta.schema}")
            schemas.add(meta.schema)
        raw.execute(f"CREATE VIEW {meta.qualified} AS SELECT * FROM {alias}.main.data")
        aliases[meta.qualified] = alias
    spatial.register_udfs(raw)
    return raw, aliases


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    # Turn a polite kill into an exception, so the PostgreSQL server is stopped on the way out.
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    started = time.perf_counter()
    skydock_dir = settings.data_dir / f"rows-{settings.rows}"
    console.print(
        f"[bold]Skydock benchmarks[/bold]: demo.objects with {settings.rows:,} rows in "
        f"{skydock_dir}; {settings.positions} cone positions, {settings.repeats} repeats, "
        f"{settings.targets:,} crossmatch targets"
    )
    objects, build = data.ensure_objects(settings, skydock_dir)
    targets, targets_build = None, None
    if "crossmatch" in settings.only:
        targets, targets_build = data.ensure_targets(settings, skydock_dir, objects)
    executor = DuckDBExecutor(CatalogStore.for_data_dir(skydock_dir), Limits())
    raw, aliases = plain_connection(executor)
    ctx = Context(
        settings=settings,
        skydock_dir=skydock_dir,
        objects=objects,
        executor=executor,
        raw=raw,
        parquet_glob=str(objects.path / "dataset" / "**" / "*.parquet"),
        serving_alias=aliases[data.OBJECTS],
        targets_alias=aliases.get(data.TARGETS, ""),
        id_column=objects.id_column or "ls_id",
        targets=targets,
    )
    sections: list[Section] = []
    pg_loads: dict[str, Any] = {}
    pg: PostgresServer | None = None
    try:
        if settings.postgres:
            pg = PostgresServer(log=log)
            try:
                pg.start()
            except PostgresUnavailableError as exc:
                console.print(f"[yellow]PostgreSQL baseline skipped:[/yellow] {exc}")
                pg.stop()
                pg = None
        if pg is not None:
            work = skydock_dir / "work"
            pg_loads["objects"] = data.load_into_postgres(
                pg, raw, ctx.serving(), objects, "objects", work
            )
            if ctx.targets is not None:
                pg_loads["targets"] = data.load_into_postgres(
                    pg, raw, f"{ctx.targets_alias}.main.data", ctx.targets, "targets", work
                )
                ctx.pg_targets = True
            ctx.pg = pg
        for key, bench in BENCHMARKS.items():
            if key not in settings.only:
                continue
            try:
                section = bench(ctx)
            except Exception:
                console.print(f"[red]benchmark {key} failed:[/red]")
                console.print(traceback.format_exc())
                continue
            section.show()
            sections.append(section)
        if "ingest" in settings.only:
            section = ingest.section(
                build, targets_build, pg_loads.get("objects"), pg_loads.get("targets")
            )
            section.show()
            sections.append(section)
        report = {
            "settings": {
                k: (str(v) if isinstance(v, Path) else sorted(v) if isinstance(v, frozenset) else v)
                for k, v in vars(settings).items()
            },
            "rows": objects.nrows,
            "environment": environment(pg),
            "results": {s.key: s.to_json() for s in sections},
            "wall_s": time.perf_counter() - started,
        }
    finally:
        ctx.executor.close()
        if pg is not None:
            pg.stop()
    out = settings.data_dir / "results"
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, default=_json_default)
    (out / "latest.json").write_text(text)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (out / f"{stamp}-rows-{settings.rows}.json").write_text(text)
    console.print(
        f"\nwrote {out / 'latest.json'}; total {report['wall_s'] / 60:.1f} min "
        f"for {objects.nrows:,} rows"
    )
    return 0


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
