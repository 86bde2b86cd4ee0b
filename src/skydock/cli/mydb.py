"""``skydock mydb list|describe|drop|import``: your personal database on a server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skydock.cli.remote import Token, Url, connect

app = typer.Typer(help="Your MyDB tables on a Skydock server.", no_args_is_help=True)
Table = Annotated[str, typer.Argument(help="Table name (mydb:// optional).")]


@app.command("list")
def list_tables(url: Url = None, token: Token = None) -> None:
    """Your tables and their row counts."""
    for t in connect(url, token).mydb_list():
        typer.echo(f"{t['name']:<32} {t.get('rows', ''):>12}")


@app.command("describe")
def describe(table: Table, url: Url = None, token: Token = None) -> None:
    """Columns, types and indexes of a table."""
    info = connect(url, token).mydb_describe(table)
    typer.echo(f"{info['name']}: {info.get('rows')} rows")
    for c in info.get("columns", []):
        typer.echo(f"  {c['name']:<32} {c.get('datatype', '')}")
    if info.get("indexes"):
        typer.echo(f"  indexes: {', '.join(map(str, info['indexes']))}")


@app.command("drop")
def drop(table: Table, url: Url = None, token: Token = None) -> None:
    """Delete a table."""
    connect(url, token).mydb_drop(table)
    typer.echo(f"dropped {table}")


@app.command("import")
def import_table(
    table: Table,
    source: Annotated[
        str, typer.Argument(help="A local csv/parquet/fits/votable file, or vos://path.")
    ],
    url: Url = None,
    token: Token = None,
    drop: Annotated[bool, typer.Option("--drop", help="Replace an existing table.")] = False,
    append: Annotated[bool, typer.Option("--append", help="Add to an existing table.")] = False,
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv, parquet, fits or votable.")
    ] = None,
) -> None:
    """Create a table from a file."""
    data: str | Path = source if source.startswith("vos://") else Path(source)
    info = connect(url, token).mydb_import(table, data, drop=drop, append=append, format=fmt)
    typer.echo(f"{info['name']}: {info.get('rows')} rows")
