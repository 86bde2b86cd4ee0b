"""``skydock query``: run SQL or ADQL against the local catalogs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from skydock.cli.options import DataDir


def query(
    text: Annotated[str, typer.Argument(help="The query; '-' reads it from standard input.")],
    data_dir: DataDir,
    adql: Annotated[bool, typer.Option("--adql", help="The query is ADQL, not SQL.")] = False,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="csv, tsv, votable, votable-binary2, fits, parquet, arrow or json.",
        ),
    ] = "csv",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here instead of standard output.")
    ] = None,
    max_rows: Annotated[
        int | None, typer.Option("--max-rows", help="Stop after this many rows.")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds before giving up.")] = 600,
) -> None:
    """Run one SQL (PostgreSQL-flavoured, with q3c_*) or ADQL query on the local catalogs."""
    from skydock.engine.catalog import CatalogStore
    from skydock.engine.executor import SPILL_DIR, DuckDBExecutor, Limits
    from skydock.engine.formats import normalise_format

    if text == "-":
        text = sys.stdin.read()
    fmt = normalise_format(fmt)
    executor = DuckDBExecutor(
        CatalogStore.for_data_dir(data_dir), Limits(temp_directory=data_dir / SPILL_DIR)
    )
    result = executor.execute(text, "adql" if adql else "sql", max_rows=max_rows, timeout_s=timeout)
    with result:
        if out is None:
            result.write(fmt, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            tmp = out.with_name(out.name + ".part")
            try:
                with tmp.open("wb") as sink:
                    result.write(fmt, sink)
                tmp.replace(out)
            finally:
                tmp.unlink(missing_ok=True)
    if result.overflow:
        typer.echo(f"note: stopped at --max-rows {max_rows}; more rows matched", err=True)
