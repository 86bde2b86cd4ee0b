"""``skydock catalog``: ingest survey files, list, describe and drop catalog tables."""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from skydock.cli.options import DataDir

app = typer.Typer(
    help="Ingest survey files as catalog tables; list, describe and drop them.",
    no_args_is_help=True,
)


@app.command("ingest")
def ingest(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Input files or glob patterns (quote globs): FITS binary tables, CSV, "
            "TSV, Parquet or VOTable, all with the same columns.",
            show_default=False,
        ),
    ],
    table: Annotated[str, typer.Option("--table", "-t", help="Name to publish as, SCHEMA.TABLE.")],
    ra: Annotated[str, typer.Option("--ra", help="Right ascension column (degrees).")],
    dec: Annotated[str, typer.Option("--dec", help="Declination column (degrees).")],
    data_dir: DataDir,
    id_column: Annotated[
        str | None, typer.Option("--id", help="Unique identifier column (checked).")
    ] = None,
    meta: Annotated[
        Path | None,
        typer.Option(
            "--meta",
            help="YAML sidecar: {description: ..., columns: {name: {unit, ucd, description}}}.",
        ),
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="Table description.")
    ] = None,
    partition_rows: Annotated[
        int, typer.Option("--partition-rows", help="Most rows in one HATS partition.")
    ] = 1_000_000,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show progress bars.")
    ] = True,
) -> None:
    """Ingest files as one catalog table: a HATS catalog plus a sorted serving copy."""
    from skydock.engine.catalog import CatalogStore
    from skydock.engine.ingest import ingest_catalog

    start = time.perf_counter()
    meta_out = ingest_catalog(
        CatalogStore.for_data_dir(data_dir),
        sources,
        table,
        ra=ra,
        dec=dec,
        id_column=id_column,
        meta=meta,
        description=description,
        progress=progress,
        partition_rows=partition_rows,
    )
    seconds = time.perf_counter() - start
    typer.echo(
        f"ingested {meta_out.qualified}: {meta_out.nrows:,} rows, {len(meta_out.columns)} "
        f"columns in {seconds:.1f} s → {meta_out.path}"
    )


@app.command("list")
def list_tables(data_dir: DataDir) -> None:
    """List the catalog tables with their row and column counts."""
    from skydock.engine.catalog import CatalogStore

    tables = CatalogStore.for_data_dir(data_dir).list()
    if not tables:
        typer.echo(f"no catalogs in {data_dir}; add one with 'skydock catalog ingest'")
        return
    rows = [
        [t.qualified, f"{t.nrows:,}", str(len(t.columns)), _clip(t.description, 60)] for t in tables
    ]
    typer.echo(_layout(["name", "rows", "columns", "description"], rows, right=frozenset({1, 2})))


@app.command("describe")
def describe(
    table: Annotated[str, typer.Argument(help="SCHEMA.TABLE", show_default=False)],
    data_dir: DataDir,
) -> None:
    """Show a table's description and its columns with type, unit, UCD and description."""
    from skydock.engine.catalog import CatalogStore

    meta = CatalogStore.for_data_dir(data_dir).get(table)
    typer.echo(meta.qualified + (f" — {meta.description}" if meta.description else ""))
    position = f"rows: {meta.nrows:,}   ra: {meta.ra}   dec: {meta.dec}"
    if meta.id_column:
        position += f"   id: {meta.id_column}"
    typer.echo(position)
    typer.echo(f"path: {meta.path}")
    typer.echo("")
    rows = [[c.name, c.datatype, c.unit, c.ucd, c.description] for c in meta.columns]
    typer.echo(_layout(["column", "type", "unit", "ucd", "description"], rows))


@app.command("drop")
def drop(
    table: Annotated[str, typer.Argument(help="SCHEMA.TABLE", show_default=False)],
    data_dir: DataDir,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a catalog table and all its files."""
    from skydock.engine.catalog import CatalogStore

    store = CatalogStore.for_data_dir(data_dir)
    meta = store.get(table)
    if not yes:
        typer.confirm(
            f"drop {meta.qualified} ({meta.nrows:,} rows) and delete {meta.path}?", abort=True
        )
    store.drop(meta.qualified)
    typer.echo(f"dropped {meta.qualified}")
    # A table's spectra (demo.specobj's) mean nothing without it; the next build would
    # overwrite them, but a drop should not leave them behind.
    from skydock.engine.spectra import collection_path

    spectra = collection_path(data_dir, meta.qualified).parent
    if spectra.is_dir():
        shutil.rmtree(spectra)
        typer.echo(f"deleted its spectra in {spectra}")


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _layout(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: frozenset[int] = frozenset()
) -> str:
    """A plain aligned text table; easy to read, grep and diff."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])
