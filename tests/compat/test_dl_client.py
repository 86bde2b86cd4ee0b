"""The unmodified ``astro-datalab`` client from PyPI against a live Skydock server.

Each group of the wire spec's user stories (§10) runs in its own process with a fresh
HOME, as the spec's harness asks: the client's login state and its sticky ``wait`` are
global. The stories themselves are in ``dl_stories.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.conftest import PASSWORDS, LiveServer

STORIES = Path(__file__).with_name("dl_stories.py")


@pytest.fixture
def platform(live: LiveServer) -> LiveServer:
    auth = live.factory.auth_service()
    for name in ("alice", "bob"):
        auth.add_user(name, PASSWORDS[name])
    return live


def run_group(server: LiveServer, group: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, str(STORIES), server.url, group],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, f"{result.stderr[-3000:]}\n{result.stdout[-1000:]}"
    assert result.stdout.strip().endswith("ok")


@pytest.mark.parametrize("group", ["auth", "sync", "async", "mydb", "storage"])
def test_datalab_client_stories(platform: LiveServer, group: str, tmp_path: Path) -> None:
    run_group(platform, group, tmp_path)
