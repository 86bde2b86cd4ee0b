"""``skydock storage ls|get|put|mv|cp|rm|mkdir|rmdir``: your files on a server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skydock.cli.remote import Token, Url, connect, write_out

app = typer.Typer(help="Your files on a Skydock server (vos://).", no_args_is_help=True)
Remote = Annotated[str, typer.Argument(help="A path in your storage (vos:// optional).")]


@app.command("ls")
def ls(
    path: Annotated[str, typer.Argument(help="Directory (default: your home).")] = "",
    url: Url = None,
    token: Token = None,
    user: Annotated[str | None, typer.Option(help="List another user's public space.")] = None,
    long: Annotated[bool, typer.Option("--long", "-l", help="Type, size and date.")] = False,
) -> None:
    """List a directory."""
    for e in connect(url, token).ls(path, user=user):
        name = e["name"] + ("/" if e["type"] == "dir" else "")
        if long:
            typer.echo(
                f"{e['type']:<4} {e.get('size') or 0:>12}  {e.get('modified') or '':<25}  {name}"
            )
        else:
            typer.echo(name)


@app.command("get")
def get(
    remote: Remote,
    local: Annotated[
        str | None, typer.Argument(help="Local file or directory; '-' for standard output.")
    ] = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Download a file (streamed)."""
    client = connect(url, token)
    if local == "-":
        write_out(client.get(remote))
        return
    saved = client.get(remote, Path(local) if local else Path.cwd())
    typer.echo(f"saved {saved}", err=True)


@app.command("put")
def put(
    local: Annotated[Path, typer.Argument(help="The local file.", exists=True, dir_okay=False)],
    remote: Remote,
    url: Url = None,
    token: Token = None,
) -> None:
    """Upload a file (streamed); a REMOTE ending in '/' is a directory to put it in."""
    target = remote + local.name if remote.endswith("/") else remote
    entry = connect(url, token).put(local, target)
    typer.echo(f"stored {entry.get('path', target)} ({entry.get('size')} bytes)")


@app.command("mv")
def mv(src: Remote, dst: Remote, url: Url = None, token: Token = None) -> None:
    """Move or rename (into DST if it is a directory)."""
    typer.echo(connect(url, token).mv(src, dst).get("path", dst))


@app.command("cp")
def cp(src: Remote, dst: Remote, url: Url = None, token: Token = None) -> None:
    """Copy a file."""
    typer.echo(connect(url, token).cp(src, dst).get("path", dst))


@app.command("rm")
def rm(path: Remote, url: Url = None, token: Token = None) -> None:
    """Delete a file."""
    connect(url, token).rm(path)


@app.command("mkdir")
def mkdir(
    path: Remote,
    url: Url = None,
    token: Token = None,
    parents: Annotated[bool, typer.Option("--parents", "-p", help="Make parents too.")] = False,
) -> None:
    """Make a directory."""
    connect(url, token).mkdir(path, parents=parents)


@app.command("rmdir")
def rmdir(
    path: Remote,
    url: Url = None,
    token: Token = None,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Also delete what is in it.")
    ] = False,
) -> None:
    """Remove a directory."""
    connect(url, token).rmdir(path, recursive=recursive)
