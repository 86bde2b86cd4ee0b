"""The metadata database on a real PostgreSQL 15 server that the test starts and stops."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from benchmarks.pg import PostgresServer, PostgresUnavailableError, Tuning
from sqlalchemy import inspect

from skydock.errors import AuthenticationError
from skydock.server.config import Config
from skydock.server.services.auth import AuthPolicy, AuthService
from skydock.server.storage.metadata import Database
from tests.server.conftest import serve

# One PostgreSQL server for the module, on one xdist worker.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("postgres")]

SMALL = Tuning(
    shared_buffers="128MB",
    work_mem="16MB",
    maintenance_work_mem="64MB",
    effective_cache_size="512MB",
)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer(SMALL, log=lambda *_: None)
    try:
        server.start()
    except PostgresUnavailableError as exc:  # only where PostgreSQL cannot be installed
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres: PostgresServer, request: pytest.FixtureRequest) -> str:
    name = "md_" + request.node.name.lower().replace("[", "_").replace("]", "")[:40]
    with postgres.connect() as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}"')
        con.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:{postgres.port}/{name}"


def test_migrations_create_the_schema(pg_url: str) -> None:
    db = Database(pg_url)
    db.upgrade()
    db.upgrade()  # idempotent
    tables = set(inspect(db.engine).get_table_names())
    assert {"users", "tokens", "jobs", "storage_tags", "alembic_version"} <= tables
    db.close()


def test_accounts_and_tokens_on_postgres(pg_url: str) -> None:
    db = Database(pg_url)
    db.upgrade()
    auth = AuthService(db, AuthPolicy(max_failed_logins=2, min_password_chars=5))
    auth.add_user("alice", "alicepw")
    auth.add_user("bob", "bobpw")
    token = auth.login("alice", "alicepw")
    assert auth.authenticate(token).name == "alice"
    assert [u.uid for u in auth.list_users()] == [1000, 1001]
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            auth.login("bob", "wrong")
    assert not auth.check_password("bob", "bobpw")  # locked: the failures were kept
    auth.logout(token)
    assert not auth.token_is_live(token)
    db.close()


def test_server_runs_on_postgres(pg_url: str, data_dir: Path) -> None:
    config = Config(data_dir=data_dir, database_url=pg_url, auth={"min_password_chars": 5})
    with serve(config) as live:
        live.factory.auth_service().add_user("alice", "alicepw")
        r = httpx.post(
            f"{live.url}/api/auth/login", data={"username": "alice", "password": "alicepw"}
        )
        assert r.status_code == 200, r.text
        who = httpx.get(
            f"{live.url}/api/auth/whoami",
            headers={"Authorization": f"Bearer {r.json()['token']}"},
        )
        assert who.json()["username"] == "alice"
    assert not (data_dir / "skydock.db").exists()
