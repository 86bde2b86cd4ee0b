"""The ``skydock`` command: ``skydock <noun> <verb>``."""

from __future__ import annotations

import sys

import typer

from skydock.errors import SkydockError

app = typer.Typer(
    name="skydock",
    help="Skydock: survey catalogs through SQL and ADQL, next to the data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from skydock.cli import (
        catalog,
        demo,
        images,
        jobs,
        mydb,
        nbtest,
        query,
        remote,
        serve,
        storage,
        user,
    )

    app.add_typer(catalog.app, name="catalog")
    app.add_typer(demo.app, name="demo")
    app.add_typer(user.app, name="user")
    app.add_typer(images.app, name="images")
    app.command("query")(query.query)
    app.command("serve")(serve.serve)
    # Against a server, through skydock.client:
    app.command("login")(remote.login)
    app.command("logout")(remote.logout)
    app.command("whoami")(remote.whoami)
    app.add_typer(remote.app, name="remote")
    app.add_typer(jobs.app, name="jobs")
    app.add_typer(storage.app, name="storage")
    app.add_typer(mydb.app, name="mydb")
    app.command("nbtest")(nbtest.nbtest)


def main() -> None:
    _register()
    try:
        app()
    except SkydockError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        sys.exit(2)
