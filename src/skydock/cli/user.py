"""``skydock user add|list|disable|enable|passwd|token``: accounts in the data directory."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from skydock.cli.options import DataDir

if TYPE_CHECKING:
    from skydock.server.services.auth import AuthService

app = typer.Typer(help="Manage platform accounts.", no_args_is_help=True)

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def _auth(data_dir: Path) -> AuthService:
    from skydock.server.config import Config
    from skydock.server.factory import Factory

    return Factory(Config(data_dir=data_dir)).auth_service()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@app.command("add")
def add(
    data_dir: DataDir,
    name: Annotated[str, typer.Argument(help="Login name: lower-case letters, digits, '_'.")],
    admin: Annotated[bool, typer.Option(help="May manage other accounts.")] = False,
    password_stdin: PasswordStdin = False,
) -> None:
    """Create an account."""
    info = _auth(data_dir).add_user(name, _password(password_stdin), admin=admin)
    typer.echo(f"added {info.name} (uid {info.uid}{', admin' if info.admin else ''})")


@app.command("list")
def list_users(data_dir: DataDir) -> None:
    """List the accounts."""
    for u in _auth(data_dir).list_users():
        state = "disabled" if u.disabled else "active"
        role = "admin" if u.admin else "user"
        typer.echo(f"{u.name:<24} {u.uid:>6}  {role:<5}  {state:<8}  {u.created_at:%Y-%m-%d}")


@app.command("disable")
def disable(data_dir: DataDir, name: str) -> None:
    """Disable an account and end all of its sessions."""
    _auth(data_dir).set_disabled(name, True)
    typer.echo(f"disabled {name}")


@app.command("enable")
def enable(data_dir: DataDir, name: str) -> None:
    """Enable a disabled account again."""
    _auth(data_dir).set_disabled(name, False)
    typer.echo(f"enabled {name}")


@app.command("passwd")
def passwd(data_dir: DataDir, name: str, password_stdin: PasswordStdin = False) -> None:
    """Set a new password (and end the account's sessions)."""
    _auth(data_dir).set_password(name, _password(password_stdin))
    typer.echo(f"password changed for {name}")


@app.command("token")
def token(
    data_dir: DataDir,
    name: str,
    hours: Annotated[float, typer.Option(help="Lifetime of the token.")] = 24.0,
) -> None:
    """Print a new token for an account (for unattended runs; keep it secret)."""
    typer.echo(_auth(data_dir).issue_token(name, ttl=timedelta(hours=hours), label="cli"))
