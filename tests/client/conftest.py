"""Client fixtures: the real server on a free port (from the server tests), a private
``~/.skydock``, and a check that the routes a test drives are served."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import skydock.client.default
from skydock.client import Client
from tests.server import conftest as server
from tests.server.conftest import PASSWORDS, LiveServer

# The server tests' fixtures, reused: a data directory, the app, its users, a live server.
data_dir = server.data_dir
config = server.config
app = server.app
users = server.users
live = server.live

_ROUTES: dict[str, bool] = {}


@pytest.fixture(autouse=True)
def skydock_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh config directory, no SKYDOCK_URL/TOKEN in the environment, no default client."""
    home = tmp_path / "skydock-home"
    monkeypatch.setenv("SKYDOCK_CONFIG_DIR", str(home))
    for name in ("SKYDOCK_URL", "SKYDOCK_TOKEN", "SKYDOCK_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    skydock.client.default._default = None
    yield home
    skydock.client.default._default = None


def route_exists(url: str, path: str) -> bool:
    """False only when the server has no such route: FastAPI's bare 404, not our JSON one."""
    if path not in _ROUTES:
        r = httpx.get(url + path, timeout=10)
        missing = r.status_code == 404 and "error" not in _json(r)
        _ROUTES[path] = not missing
    return _ROUTES[path]


def _json(r: httpx.Response) -> dict[str, object]:
    try:
        body = r.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def require(live: LiveServer, path: str) -> None:
    assert route_exists(live.url, path), f"the server does not serve {path}"


@pytest.fixture
def alice(live: LiveServer, users: dict[str, str]) -> Iterator[Client]:
    c = Client(url=live.url)
    c.login("alice", PASSWORDS["alice"], save=False)
    yield c
    c.close()


@pytest.fixture
def bob(live: LiveServer, users: dict[str, str]) -> Iterator[Client]:
    c = Client(url=live.url)
    c.login("bob", PASSWORDS["bob"], save=False)
    yield c
    c.close()
