"""``skydock notebooks deploy|status``: the collection users see as ~/notebooks-latest."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from skydock.cli.options import DataDir

if TYPE_CHECKING:
    from skydock.server.services.notebooks import NotebookService

app = typer.Typer(help="Deploy the notebook collection.", no_args_is_help=True)


def _service(data_dir: Path, git_url: str | None, branch: str | None) -> NotebookService:
    from skydock.server.config import Config
    from skydock.server.factory import Factory

    config = Config(data_dir=data_dir)
    if git_url is not None:
        config.notebooks.git_url = git_url
    if branch is not None:
        config.notebooks.branch = branch
    return Factory(config).notebook_service()


GitUrl = Annotated[
    str | None,
    typer.Option(help="Git remote (default: notebooks.git_url, else the source notebooks/)."),
]
Branch = Annotated[str | None, typer.Option(help="Branch (default: notebooks.branch).")]


@app.command("deploy")
def deploy(data_dir: DataDir, git_url: GitUrl = None, branch: Branch = None) -> None:
    """Fetch the collection and make it current atomically."""
    service = _service(data_dir, git_url, branch)
    release = service.deploy()
    verb = "deployed" if release.changed else "already current:"
    typer.echo(f"{verb} {release.id} from {service.source()} -> {service.current_link}")


@app.command("status")
def status(data_dir: DataDir) -> None:
    """Which release is current and which are kept."""
    service = _service(data_dir, None, None)
    typer.echo(f"current: {service.current() or 'nothing deployed'}")
    typer.echo(f"source:  {service.source()}")
    if service.releases.is_dir():
        for p in sorted(service.releases.iterdir()):
            typer.echo(f"  {p.name}")
