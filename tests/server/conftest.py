"""Server fixtures: a fresh data directory per test that shares the session's catalogs,
the app in-process (httpx over ASGI), and a real server on a free 127.0.0.1 port."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from skydock.server.config import Config
from skydock.server.factory import Factory
from skydock.server.main import create_app

PASSWORDS = {"alice": "alicepw", "bob": "bobpw", "root": "rootpw"}


@pytest.fixture
def data_dir(tmp_path: Path, catalog_dir: Path) -> Path:
    """An empty data directory whose ``catalogs`` are the session's test catalogs."""
    d = tmp_path / "data"
    d.mkdir()
    (d / "catalogs").symlink_to(catalog_dir / "catalogs", target_is_directory=True)
    return d


@pytest.fixture
def config(data_dir: Path) -> Config:
    # The Data Lab test plan's passwords (bobpw) are shorter than the default minimum.
    return Config(data_dir=data_dir, auth={"min_password_chars": 5})


@pytest.fixture
def app(config: Config) -> FastAPI:
    return create_app(config)


def app_factory(app: FastAPI) -> Factory:
    f: Factory = app.state.factory
    return f


@pytest.fixture
def users(app: FastAPI) -> dict[str, str]:
    """alice and bob (plain users) and root (an administrator), with their passwords."""
    auth = app_factory(app).auth_service()
    for name, pw in PASSWORDS.items():
        auth.add_user(name, pw, admin=name == "root")
    return dict(PASSWORDS)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as c,
    ):
        yield c


async def login(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    """Bearer headers for a fresh login of one of the ``users``."""
    r = await client.post("/api/auth/login", data={"username": name, "password": PASSWORDS[name]})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def factory(self) -> Factory:
        return app_factory(self.app)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@contextlib.contextmanager
def serve(config: Config) -> Iterator[LiveServer]:
    """Run the app under uvicorn on 127.0.0.1 in a thread; stop it on exit."""
    app = create_app(config)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    live = LiveServer(f"http://127.0.0.1:{port}", app, server, thread)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def live(config: Config) -> Iterator[LiveServer]:
    with serve(config) as s:
        yield s
