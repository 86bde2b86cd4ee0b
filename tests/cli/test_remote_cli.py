"""``skydock login|whoami|logout``, ``skydock remote query``, ``jobs``, ``storage`` and
``mydb`` against a real server, through the Python client."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import skydock.client.default
from skydock.cli import _register
from skydock.cli import app as cli
from skydock.client import QuerySyntaxError
from tests.client.conftest import require
from tests.server import conftest as server
from tests.server.conftest import PASSWORDS, LiveServer

data_dir = server.data_dir
config = server.config
app = server.app
users = server.users
live = server.live

_register()
runner = CliRunner()
SQL = "SELECT id, mag FROM test.points WHERE id <= 5 ORDER BY id"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SKYDOCK_CONFIG_DIR", str(tmp_path / "home"))
    for name in ("SKYDOCK_URL", "SKYDOCK_TOKEN", "SKYDOCK_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    skydock.client.default._default = None
    yield tmp_path / "home"


def run(*args: str, stdin: str | None = None) -> str:
    result = runner.invoke(cli, list(args), input=stdin)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


@pytest.fixture
def logged_in(live: LiveServer, users: dict[str, str]) -> LiveServer:
    run("login", live.url, "alice", "--password-stdin", stdin=PASSWORDS["alice"] + "\n")
    return live


def test_login_whoami_logout(live: LiveServer, users: dict[str, str]) -> None:
    assert "anonymous" in run("whoami", "--url", live.url)
    out = run("login", live.url, "alice", "--password-stdin", stdin="alicepw\n")
    assert f"logged in to {live.url} as alice" in out
    assert run("whoami").strip() == f"alice on {live.url}"  # the URL was remembered
    assert "logged out" in run("logout")
    assert "anonymous" in run("whoami")


def test_remote_query_to_stdout_and_file(logged_in: LiveServer, tmp_path: Path) -> None:
    csv = run("remote", "query", SQL)
    assert pd.read_csv(io.StringIO(csv))["id"].tolist() == [1, 2, 3, 4, 5]
    adql = run("remote", "query", "--adql", "SELECT TOP 2 id FROM test.points ORDER BY id")
    assert adql.splitlines() == ["id", "1", "2"]
    target = tmp_path / "r.parquet"
    run("remote", "query", SQL, "--format", "parquet", "--out", str(target))
    assert pq.read_table(target).column("id").to_pylist() == [1, 2, 3, 4, 5]
    assert run("remote", "query", "-", stdin=SQL) == csv


def test_remote_query_error_carries_the_message(logged_in: LiveServer) -> None:
    result = runner.invoke(cli, ["remote", "query", "SELEC 1"])
    assert result.exit_code != 0
    assert isinstance(result.exception, QuerySyntaxError)
    assert result.exception.message


def test_jobs_cli(logged_in: LiveServer, tmp_path: Path) -> None:
    require(logged_in, "/api/jobs")
    job_id = run("jobs", "submit", SQL).strip()
    assert run("jobs", "wait", job_id, "--timeout", "120").strip().endswith("COMPLETED")
    assert run("jobs", "status", job_id).strip() == "COMPLETED"
    assert run("jobs", "result", job_id) == run("remote", "query", SQL)
    assert job_id in run("jobs", "list")
    run("jobs", "delete", job_id)
    assert job_id not in run("jobs", "list")


def test_storage_cli(logged_in: LiveServer, tmp_path: Path) -> None:
    require(logged_in, "/api/storage/ls")
    local = tmp_path / "f.csv"
    local.write_text("a\n1\n")
    run("storage", "mkdir", "d")
    run("storage", "put", str(local), "d/")
    assert run("storage", "ls", "d").split() == ["f.csv"]
    run("storage", "cp", "d/f.csv", "d/g.csv")
    run("storage", "mv", "d/g.csv", "d/h.csv")
    assert run("storage", "get", "d/h.csv", "-") == "a\n1\n"
    run("storage", "get", "d/h.csv", str(tmp_path))
    assert (tmp_path / "h.csv").read_text() == "a\n1\n"
    run("storage", "rm", "d/h.csv")
    run("storage", "rmdir", "d", "--recursive")
    assert "d/" not in run("storage", "ls")


def test_mydb_cli(logged_in: LiveServer, tmp_path: Path) -> None:
    require(logged_in, "/api/mydb")
    local = tmp_path / "t.csv"
    local.write_text("x,y\n1,2\n3,4\n")
    assert "2 rows" in run("mydb", "import", "t", str(local))
    assert "t" in run("mydb", "list").split()
    assert "x" in run("mydb", "describe", "t")
    run("mydb", "drop", "t")
    assert "t" not in run("mydb", "list").split()
