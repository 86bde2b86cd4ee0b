"""Timing, the shared run context and the report every benchmark writes into."""

from __future__ import annotations

import dataclasses
import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from benchmarks.pg import PostgresServer
from skydock.engine.catalog import TableMeta
from skydock.engine.executor import DuckDBExecutor, Language
from skydock.engine.sql import clear_translation_cache

T = TypeVar("T")
SLOW_S = 0.5
SLOW_REPEATS = 3
# Wide enough for the tables when output goes to a file or a pipe (``make bench | tee``).
console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)


def log(message: str) -> None:
    console.print(f"[dim]· {message}[/dim]")


def timed(
    fn: Callable[[], T], repeats: int, warmup: int = 1, slow_s: float = SLOW_S
) -> tuple[float, T]:
    """Median wall time of ``repeats`` calls after ``warmup`` untimed ones, and a result.

    A call slower than ``slow_s`` (a full scan of a large table) is timed at most
    ``SLOW_REPEATS`` times, which keeps the 10 M-row run inside its time budget.
    """
    first: float | None = None
    for _ in range(warmup):
        start = time.perf_counter()
        fn()
        first = time.perf_counter() - start
    if first is not None and first > slow_s:
        repeats = min(repeats, SLOW_REPEATS)
    times = []
    result: list[T] = []
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        result[:] = [fn()]
        times.append(time.perf_counter() - start)
    return statistics.median(times), result[0]


def ratio(ours: float | None, base: float | None) -> float | None:
    if ours is None or base is None or base <= 0:
        return None
    return ours / base


def fmt_ratio(value: float | None) -> str:
    if value is None:
        return "—"
    style = "green" if value < 0.95 else ("red" if value > 1.05 else "")
    text = f"{value:.2f}"
    return f"[{style}]{text}[/{style}]" if style else text


def fmt_ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1e3:,.1f}"


def fmt_s(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:,.3f}"


def fmt_rate(rows_per_s: float | None) -> str:
    if rows_per_s is None:
        return "—"
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if rows_per_s >= scale:
            return f"{rows_per_s / scale:,.1f} {unit}"
    return f"{rows_per_s:,.0f}"


def fmt_rows(n: int) -> str:
    return f"{n:,}"


@dataclass
class Settings:
    """What the user asked for on the command line."""

    data_dir: Path
    rows: int
    positions: int
    repeats: int
    targets: int
    pandas_rows: int
    seed: int
    postgres: bool
    astropy: bool
    rebuild: bool
    only: frozenset[str]
    quick: bool


@dataclass
class Context:
    """Everything the benchmarks share: the catalogs, the engines and the baselines."""

    settings: Settings
    skydock_dir: Path
    objects: TableMeta
    executor: DuckDBExecutor
    raw: duckdb.DuckDBPyConnection
    parquet_glob: str
    serving_alias: str
    targets_alias: str
    id_column: str
    pg: PostgresServer | None = None
    targets: TableMeta | None = None
    pg_targets: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def nrows(self) -> int:
        return self.objects.nrows

    def parquet(self) -> str:
        """The raw-DuckDB table expression over the catalog's HATS Parquet files."""
        return f"read_parquet('{self.parquet_glob}')"

    def serving(self) -> str:
        return f"{self.serving_alias}.main.data"

    def skydock_arrow(
        self, text: str, language: Language = "sql", *, cached: bool = True
    ) -> pa.Table:
        if not cached:
            clear_translation_cache()
        return self.executor.execute(text, language).to_table()


@dataclass
class Section:
    """One benchmark's findings: a table for people and plain numbers for JSON."""

    key: str
    title: str
    caption: str
    columns: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def render(self) -> Table:
        table = Table(title=self.title, caption=self.caption, title_justify="left")
        for i, name in enumerate(self.columns):
            table.add_column(name, justify="left" if i == 0 else "right")
        for row in self.rows:
            table.add_row(*row)
        return table

    def show(self) -> None:
        console.print()
        console.print(self.render())
        for note in self.notes:
            console.print(f"  [yellow]note:[/yellow] {note}")

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "caption": self.caption, **self.data, "notes": self.notes}


_ROW_GROUPS = re.compile(r"Row Groups Scanned:\s*([\d,]+)\s*/\s*([\d,]+)")


def explain(ctx: Context, text: str, language: Language = "sql", runs: int = 3) -> dict[str, Any]:
    """Where the time of one Skydock query goes: translation, binding, optimising, running.

    Translation is timed through the executor; ``EXPLAIN ANALYZE`` there reports the row
    groups read; DuckDB's own profiler, on the plain connection running the same SQL,
    splits DuckDB's time. Times are medians of ``runs``.
    """
    translate_times: list[float] = []
    profiles: list[dict[str, float]] = []
    for _ in range(runs):
        clear_translation_cache()  # time the translation itself, not a cache hit
        start = time.perf_counter()
        translation = ctx.executor.translate(text, language)
        translate_times.append(time.perf_counter() - start)
        profiles.append(_profile(ctx, translation.sql))
    plan = ctx.executor.run(
        dataclasses.replace(translation, sql="EXPLAIN ANALYZE " + translation.sql)
    ).to_table()
    rendered = "\n".join(str(v) for v in plan.column(plan.num_columns - 1).to_pylist())
    scanned = total = 0
    for a, b in _ROW_GROUPS.findall(rendered):
        scanned += int(a.replace(",", ""))
        total += int(b.replace(",", ""))
    return {
        "translate_s": statistics.median(translate_times),
        **{k: statistics.median(p[k] for p in profiles) for k in profiles[0]},
        "row_groups_scanned": scanned if total else None,
        "row_groups_total": total or None,
        "sql_chars": len(translation.sql),
        "healpix_ranges": translation.sql.count("BETWEEN"),
        "sql": translation.sql if len(translation.sql) < 4000 else translation.sql[:4000] + " …",
    }


def _profile(ctx: Context, sql: str) -> dict[str, float]:
    """DuckDB's profiler on the plain connection: total, binding, optimiser, operators."""
    out = ctx.skydock_dir / "work" / "profile.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    con = ctx.raw
    con.execute("PRAGMA enable_profiling = 'json'")
    con.execute("SET profiling_mode = 'detailed'")
    con.execute(f"SET profiling_output = '{out}'")
    try:
        con.execute(sql).fetchall()
    finally:
        con.execute("PRAGMA disable_profiling")
    data = json.loads(out.read_text())
    return {
        "duckdb_total_s": float(data["query"]["total_time"]),
        "duckdb_bind_s": float(data["planner"]["total_time"]),
        "duckdb_optimise_s": float(data["optimizer"]["total_time"]),
        "duckdb_operators_s": float(data["query"]["cpu_time"]),
    }
