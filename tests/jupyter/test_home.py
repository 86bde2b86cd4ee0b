"""A notebook home: its login files and links, and the unmodified Data Lab client in it.

The Data Lab check runs ``dl`` in a fresh Python process with exactly the environment the
spawner gives a server (HOME, SKYDOCK_URL, PYTHONPATH with the start-up hook) against a
real API, with no login call, and compares the answer with the rows the test catalog was
built from.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from skydock.jupyter.home import (
    STARTUP_DIR,
    HomeLayout,
    link,
    notebook_collection,
    prepare_home,
)
from tests.conftest import STARS
from tests.server.conftest import LiveServer

DL_SCRIPT = """
import json
from dl import authClient as ac, queryClient as qc, storeClient as sc
rows = qc.query(sql="SELECT name FROM demo.stars ORDER BY id", fmt="csv")
print(json.dumps({
    "whoami": ac.whoAmI(),
    "urls": [ac.get_svc_url(), qc.get_svc_url(), sc.get_svc_url()],
    "names": rows.splitlines()[1:],
    "ls": sc.ls("vos://"),
}))
"""


def _spawned_env(home: Path, url: str, hook: bool = True) -> dict[str, str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "SKYDOCK_URL": url, "LANG": "C.UTF-8"}
    if hook:
        env["PYTHONPATH"] = str(STARTUP_DIR)
    return env


def _run_dl(home: Path, env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", DL_SCRIPT],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_prepare_home_writes_private_login_files(tmp_path: Path) -> None:
    home = tmp_path / "home" / "alice"
    storage = tmp_path / "storage" / "alice"
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    token = "alice.1001.1001.$1$" + "x" * 30
    layout = HomeLayout(home=home, storage=storage, notebooks=notebooks)
    prepare_home(layout, "alice", token, "http://127.0.0.1:8000/")
    id_token = home / ".datalab" / "id_token.alice"
    assert id_token.read_text() == token  # no newline: the client reads it verbatim
    assert (home / ".skydock" / "token").read_text() == token
    for secret in (id_token, home / ".datalab" / "dl.conf", home / ".skydock" / "token"):
        assert secret.stat().st_mode & 0o077 == 0, secret
    conf = configparser.RawConfigParser()
    conf.read(home / ".datalab" / "dl.conf")
    assert conf.get("login", "status") == "loggedin"
    assert conf.get("login", "user") == "alice"
    assert conf.get("query", "svc_url") == "http://127.0.0.1:8000/query"
    assert (home / "storage").resolve() == storage.resolve()
    assert storage.is_dir()
    assert (home / "notebooks-latest").resolve() == notebooks.resolve()
    # A second start rewrites the token and keeps the links.
    prepare_home(layout, "alice", token + "y", "http://127.0.0.1:8000")
    assert id_token.read_text() == token + "y"


def test_links_never_replace_the_users_own_files(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "storage").mkdir()
    (home / "storage" / "mine.txt").write_text("keep me")
    assert not link(home / "storage", tmp_path / "elsewhere")
    assert (home / "storage" / "mine.txt").read_text() == "keep me"
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    assert link(home / "nb", old)
    assert link(home / "nb", new)  # a link of ours is re-aimed
    assert (home / "nb").resolve() == new.resolve()


def test_notebook_collection_prefers_the_deployed_one(tmp_path: Path) -> None:
    repo = tmp_path / "repo-notebooks"
    (repo / "01").mkdir(parents=True)
    (repo / "01" / "a.ipynb").write_text("{}")
    data_dir = tmp_path / "data"
    copy = notebook_collection(data_dir, repo)
    assert copy is not None and copy != repo
    assert (copy / "01" / "a.ipynb").read_text() == "{}"  # a copy: runs never touch repo
    assert notebook_collection(tmp_path / "empty", None) is None
    deployed = data_dir / "notebooks" / "current"
    deployed.mkdir(parents=True)
    assert notebook_collection(data_dir, repo) == deployed


def test_datalab_client_works_with_no_login(
    live: LiveServer, users: dict[str, str], tmp_path: Path
) -> None:
    token = live.factory.auth_service().issue_token("alice", label="test")
    home = tmp_path / "home" / "alice"
    prepare_home(HomeLayout(home=home), "alice", token, live.url)
    result = _run_dl(home, _spawned_env(home, live.url))
    assert result["whoami"] == "alice"
    assert result["urls"] == [f"{live.url}/auth", f"{live.url}/query", f"{live.url}/storage"]
    assert result["names"] == [name for _, _, name in STARS]
    assert "public" in str(result["ls"])  # storage answered with the user's token


def test_without_the_hook_the_client_would_go_to_noirlab(
    live: LiveServer, users: dict[str, str], tmp_path: Path
) -> None:
    """The control: what the start-up hook changes is real."""
    home = tmp_path / "home"
    prepare_home(HomeLayout(home=home), "alice", "alice.1.1.$1$" + "z" * 24, live.url)
    script = "from dl import queryClient as qc; print(qc.get_svc_url())"
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=_spawned_env(home, live.url, hook=False),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        pytest.fail(done.stderr[-2000:])
    assert "noirlab.edu" in done.stdout
