"""Talking to a Skydock server with the Python client: ``skydock login|logout|whoami``
and ``skydock remote query`` (``skydock query`` stays the local, data-directory one)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from skydock.client import Client

Url = Annotated[
    str | None,
    typer.Option("--url", help="Server URL (default: SKYDOCK_URL, then the last `skydock login`)."),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token", help="Token (default: SKYDOCK_TOKEN, SKYDOCK_TOKEN_FILE, stored login)."
    ),
]
Adql = Annotated[bool, typer.Option("--adql", help="The query is ADQL, not SQL.")]
MaxRows = Annotated[int | None, typer.Option("--max-rows", help="Return at most this many rows.")]

app = typer.Typer(help="Run queries on a Skydock server.", no_args_is_help=True)


def connect(url: str | None, token: str | None) -> Client:
    from skydock.client import Client

    return Client(url=url, token=token)


def write_out(data: Any) -> None:
    """Text or bytes to standard output, as they are."""
    if isinstance(data, str):
        sys.stdout.write(data)
        sys.stdout.flush()
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def read_query(text: str) -> str:
    return sys.stdin.read() if text == "-" else text


def login(
    url: Annotated[str, typer.Argument(help="The server, e.g. https://sky.example.org.")],
    user: Annotated[str, typer.Argument(help="Your user name.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Log in to a server; the token is kept in ~/.skydock/config.json (mode 0600)."""
    from skydock.client.config import config_path

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True)
    client = connect(url, None)
    client.login(user, password)
    typer.echo(f"logged in to {client.url} as {user} (token kept in {config_path()})")


def logout(url: Url = None, token: Token = None) -> None:
    """Revoke the token on the server and forget it here."""
    client = connect(url, token)
    client.logout()
    typer.echo(f"logged out of {client.url}")


def whoami(url: Url = None, token: Token = None) -> None:
    """Who the server thinks you are."""
    client = connect(url, token)
    me = client.whoami()
    role = " (admin)" if me.get("admin") else ""
    typer.echo(f"{me['username']}{role} on {client.url}")


@app.command("query")
def query(
    text: Annotated[str, typer.Argument(help="The query; '-' reads it from standard input.")],
    url: Url = None,
    token: Token = None,
    adql: Adql = False,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="csv, tsv, votable, votable-binary2, fits, parquet, arrow or json.",
        ),
    ] = "csv",
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            "-o",
            help="A local file, or vos://path / mydb://table to save on the server.",
        ),
    ] = None,
    max_rows: MaxRows = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds before giving up.")
    ] = None,
    drop: Annotated[bool, typer.Option("--drop", help="Replace an existing out target.")] = False,
) -> None:
    """Run one SQL or ADQL query on the server."""
    text = read_query(text)
    sql, adql_text = (None, text) if adql else (text, None)
    client = connect(url, token)
    if out is None:
        if fmt.lower() in ("arrow", "pandas", "table", "polars"):
            raise typer.BadParameter("binary table formats need --out FILE", param_hint="--format")
        write_out(client.query(sql, adql_text, fmt=fmt, maxrec=max_rows, timeout=timeout))
        return
    target: str | Path = out if "://" in out else Path(out)
    info = client.query(
        sql, adql_text, fmt=fmt, maxrec=max_rows, timeout=timeout, out=target, drop=drop
    )
    more = " (stopped at the row cap; more rows matched)" if info["overflow"] else ""
    typer.echo(f"{info['rows']} rows saved to {info['out']}{more}", err=True)
