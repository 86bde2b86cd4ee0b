"""``skydock kernel add|list|remove``: shared Jupyter kernels with pinned packages."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skydock.cli.options import DataDir

app = typer.Typer(help="Shared Jupyter kernels with pinned software.", no_args_is_help=True)


@app.command("add")
def add(
    data_dir: DataDir,
    name: Annotated[str, typer.Argument(help="Kernel name: lower-case letters, digits, .-_")],
    requirements: Annotated[
        Path, typer.Option("--requirements", "-r", help="pip requirements file to install.")
    ],
    display_name: Annotated[
        str | None, typer.Option(help="Name shown in Jupyter (default: Python X.Y (NAME)).")
    ] = None,
    python: Annotated[
        str | None, typer.Option(help="Interpreter or version for the environment.")
    ] = None,
) -> None:
    """Build an isolated environment and register it as a kernel every user sees."""
    from rich.console import Console

    from skydock.jupyter.kernels import add_kernel

    console = Console(stderr=True)
    with console.status(f"building kernel {name}…") as status:
        info = add_kernel(
            data_dir,
            name,
            requirements,
            display_name=display_name,
            python=python,
            say=lambda text: status.update(f"{name}: {text}…"),
        )
    typer.echo(f"added kernel {info.name} ({info.display_name}), Python {info.python}")
    for line in info.pinned():
        typer.echo(f"  {line}")


@app.command("list")
def list_kernels(data_dir: DataDir) -> None:
    """Name, Python version and pinned packages of each shared kernel."""
    from skydock.jupyter.kernels import list_kernels as found

    kernels = found(data_dir)
    if not kernels:
        typer.echo("no shared kernels; add one with `skydock kernel add NAME -r FILE`")
    for k in kernels:
        typer.echo(f"{k.name:<24} Python {k.python:<10} {', '.join(k.pinned()) or '-'}")


@app.command("remove")
def remove(data_dir: DataDir, name: str) -> None:
    """Unregister a kernel and delete its environment."""
    from skydock.jupyter.kernels import remove_kernel

    remove_kernel(data_dir, name)
    typer.echo(f"removed kernel {name}")
