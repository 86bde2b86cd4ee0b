"""Storage backends for the storage tests: a local directory and a real S3-compatible
server (moto in server mode, in its own process so its memory is not ours).

Test modules import ``config`` from here to run every test over both backends.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from fastapi import FastAPI

from skydock.server.config import Config
from skydock.server.main import create_app
from tests.server.conftest import PASSWORDS, app_factory, free_port

BACKENDS = ["local", "s3"]


@dataclass
class MotoServer:
    endpoint: str

    def new_bucket(self) -> str:
        name = f"skydock-{secrets.token_hex(6)}"
        s3 = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        s3.create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, proc)
        yield MotoServer(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("moto server exited at start-up")
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        time.sleep(0.1)
    raise RuntimeError("moto server did not start")


def storage_settings(kind: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    if kind == "local":
        return {"kind": "local"}
    moto: MotoServer = request.getfixturevalue("moto_server")
    return {
        "kind": "s3",
        "url": f"s3://{moto.new_bucket()}/users",
        "endpoint_url": moto.endpoint,
        "region": "us-east-1",
        "key": "testing",
        "secret": "testing",
    }


@pytest.fixture(params=BACKENDS)
def config(request: pytest.FixtureRequest, data_dir: Path) -> Config:
    """The server configuration, once with local storage and once with S3 storage."""
    return Config(
        data_dir=data_dir,
        auth={"min_password_chars": 5},
        storage=storage_settings(request.param, request),
    )


def with_storage(config: Config, **changes: Any) -> Config:
    """``config`` with some storage settings changed (quotas, caps)."""
    storage = config.storage.model_copy(update=changes)
    return config.model_copy(update={"storage": storage})


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client for ``app``, with the test users added."""
    auth = app_factory(app).auth_service()
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as c,
    ):
        for name, pw in PASSWORDS.items():
            if not auth.user_exists(name):
                auth.add_user(name, pw, admin=name == "root")
        yield c


def make_app(config: Config) -> FastAPI:
    return create_app(config)
