"""``skydock hub config``: a ``jupyterhub_config.py`` for each way of running servers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skydock.cli.options import DataDir
from skydock.jupyter.hubconfig import SPAWNERS, HubSettings, render_config

app = typer.Typer(help="JupyterHub on Skydock accounts.", no_args_is_help=True)


@app.callback()
def _hub() -> None:
    """JupyterHub configuration (``skydock up`` runs the embedded one)."""


@app.command("config")
def config(
    data_dir: DataDir,
    spawner: Annotated[
        str, typer.Option(help=f"How servers run: {', '.join(SPAWNERS)}.")
    ] = "local",
    api_url: Annotated[
        str, typer.Option(help="Skydock API as the hub reaches it.")
    ] = "http://127.0.0.1:8001",
    public_url: Annotated[
        str, typer.Option(help="The one URL users, notebooks and TOPCAT use.")
    ] = "http://127.0.0.1:8000",
    cull_timeout: Annotated[
        int, typer.Option(help="Seconds of inactivity before a server is stopped.")
    ] = 3600,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Print a JupyterHub configuration for the local, Kubernetes or batch spawner."""
    if spawner not in SPAWNERS:
        raise typer.BadParameter(
            f"unknown spawner {spawner!r}; choose one of {', '.join(SPAWNERS)}",
            param_hint="--spawner",
        )
    settings = HubSettings(
        data_dir=data_dir,
        api_url=api_url,
        public_url=public_url,
        bind_url=public_url,
        cull_timeout=cull_timeout,
        spawner=spawner,
    )
    text = render_config(settings)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        typer.echo(f"wrote {output}", err=True)
