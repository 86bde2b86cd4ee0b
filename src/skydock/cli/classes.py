"""``skydock class create|list|expire``: class and demo accounts in the data directory.

(The module is ``classes``: ``class`` is a Python keyword.)
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from skydock.cli.options import DataDir

if TYPE_CHECKING:
    from skydock.server.factory import Factory

app = typer.Typer(help="Create and expire class and demo accounts.", no_args_is_help=True)


def _factory(data_dir: Path) -> Factory:
    from skydock.server.config import Config
    from skydock.server.factory import Factory

    return Factory(Config(data_dir=data_dir))


@app.command("create")
def create(
    data_dir: DataDir,
    prefix: Annotated[str, typer.Argument(help="Account names are PREFIX01, PREFIX02, …")],
    count: Annotated[int, typer.Option("--count", "-n", help="How many accounts.")],
    expires: Annotated[
        str,
        typer.Option(help="Last day the accounts work (YYYY-MM-DD, UTC) or an ISO time."),
    ],
    csv_file: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            help="Write names and passwords here (mode 0600) instead of printing them.",
        ),
    ] = None,
) -> None:
    """Create COUNT accounts with generated passwords, shown once (or written to --csv)."""
    from skydock.server.services.classes import parse_expiry

    moment = parse_expiry(expires)
    if csv_file is not None and csv_file.exists():
        raise typer.BadParameter(f"{csv_file} exists; choose a new file", param_hint="--csv")
    factory = _factory(data_dir)
    try:
        made = factory.class_service().create(prefix, count, moment)
    finally:
        factory.close()
    if csv_file is not None:
        fd = os.open(csv_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(["username", "password", "expires_at"])
            for c in made:
                out.writerow([c.name, c.password, c.expires_at.isoformat()])
        typer.echo(f"created {len(made)} accounts of class {prefix}; passwords in {csv_file}")
        return
    typer.echo(f"# class {prefix}: {len(made)} accounts, expiring {moment.isoformat()}")
    typer.echo("# the passwords are not stored anywhere: keep this list")
    for c in made:
        typer.echo(f"{c.name}\t{c.password}")


@app.command("list")
def list_accounts(
    data_dir: DataDir,
    prefix: Annotated[str | None, typer.Argument(help="One class only.")] = None,
) -> None:
    """List class accounts with their expiry and state."""
    factory = _factory(data_dir)
    try:
        members = factory.auth_service().class_members(prefix)
    finally:
        factory.close()
    for u in members:
        state = "wiped" if u.wiped_at else "disabled" if u.disabled else "active"
        until = u.expires_at.isoformat() if u.expires_at else "never"
        typer.echo(f"{u.name:<24} {u.class_name or '':<16} {state:<8} expires {until}")


@app.command("expire")
def expire(data_dir: DataDir) -> None:
    """Wipe the storage, MyDB, jobs, home and tokens of expired class accounts; disable them."""
    factory = _factory(data_dir)
    try:
        wiped = factory.class_service().expire()
    finally:
        factory.close()
    if not wiped:
        typer.echo("no class account has expired")
        return
    typer.echo(f"expired {len(wiped)} accounts: {', '.join(wiped)}")
