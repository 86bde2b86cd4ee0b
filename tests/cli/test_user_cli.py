"""``skydock user``: accounts made on the command line work for logins."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from skydock.cli import _register, app
from skydock.server.config import Config
from skydock.server.factory import Factory

_register()
runner = CliRunner()


def run(*args: str, stdin: str | None = None) -> str:
    result = runner.invoke(app, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def test_add_list_passwd_disable_token(tmp_path: Path) -> None:
    d = str(tmp_path)
    assert "added alice" in run(
        "user", "add", "alice", "--data-dir", d, "--password-stdin", stdin="longpassword\n"
    )
    run("user", "add", "root", "--admin", "--data-dir", d, "--password-stdin", stdin="rootroot1\n")
    listing = run("user", "list", "--data-dir", d)
    assert "alice" in listing and "admin" in listing
    auth = Factory(Config(data_dir=tmp_path)).auth_service()
    assert auth.check_password("alice", "longpassword")
    run("user", "passwd", "alice", "--data-dir", d, "--password-stdin", stdin="otherpassword\n")
    assert auth.check_password("alice", "otherpassword")
    token = run("user", "token", "alice", "--data-dir", d).strip()
    assert auth.authenticate(token).name == "alice"
    run("user", "disable", "alice", "--data-dir", d)
    assert not auth.token_is_live(token)
    assert "disabled" in run("user", "list", "--data-dir", d)


def test_bad_name_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["user", "add", "Bad Name", "--data-dir", str(tmp_path), "--password-stdin"],
        input="longpassword\n",
    )
    assert result.exit_code != 0
