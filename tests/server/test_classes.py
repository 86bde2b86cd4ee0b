"""Class accounts: creation, the expiry wipe and its isolation, the periodic check, the CLI
and migration 0002 on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import csv
import hashlib
import re
import sqlite3
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
from fastapi import FastAPI
from sqlalchemy import inspect
from typer.testing import CliRunner

from skydock.cli import _register
from skydock.cli import app as cli_app
from skydock.errors import AuthenticationError, ConflictError, InvalidRequestError
from skydock.server.config import Config
from skydock.server.factory import Factory
from skydock.server.services.auth import Principal
from skydock.server.services.classes import parse_expiry
from skydock.server.storage.metadata import Database, sqlite_url, utcnow
from tests.server.conftest import app_factory, serve
from tests.server.storage_backends import moto_server  # noqa: F401 - a fixture

QUERY = "SELECT id, ra, dec FROM test.points WHERE id <= 5"


@pytest.fixture
def factory(app: FastAPI) -> Iterator[Factory]:
    f = app_factory(app)
    f.start()
    try:
        yield f
    finally:
        f.close()


def test_create_makes_accounts_with_strong_unique_passwords(factory: Factory) -> None:
    expires = utcnow() + timedelta(days=30)
    made = factory.class_service().create("astro", 4, expires)
    assert [c.name for c in made] == [f"astro{n:02d}" for n in range(1, 5)]
    passwords = {c.password for c in made}
    assert len(passwords) == 4
    for c in made:
        assert re.fullmatch(r"([a-z2-9]{4}-){3}[a-z2-9]{4}", c.password)
    auth = factory.auth_service()
    token = auth.login("astro03", made[2].password)
    assert auth.authenticate(token).name == "astro03"
    members = auth.class_members("astro")
    assert len(members) == 4
    assert {m.expires_at for m in members} == {expires.replace(microsecond=expires.microsecond)}
    # The clear-text passwords exist nowhere in the database.
    raw = Path(str(factory.database.url).removeprefix("sqlite:///")).read_bytes()
    assert made[0].password.encode() not in raw


def test_create_refuses_clashes_bad_prefixes_and_past_dates(factory: Factory) -> None:
    classes = factory.class_service()
    later = utcnow() + timedelta(days=1)
    factory.auth_service().add_user("demo02", "somepassword")
    with pytest.raises(ConflictError, match="demo02"):
        classes.create("demo", 3, later)
    assert factory.auth_service().class_members("demo") == []  # all or nothing
    with pytest.raises(InvalidRequestError, match="prefix"):
        classes.create("Bad-Prefix", 3, later)
    with pytest.raises(InvalidRequestError, match="1 to 1000"):
        classes.create("ok", 0, later)
    with pytest.raises(InvalidRequestError, match="past"):
        classes.create("ok", 2, utcnow() - timedelta(seconds=1))


def test_parse_expiry_means_the_end_of_the_day() -> None:
    now = datetime(2027, 1, 1, tzinfo=UTC)
    assert parse_expiry("2027-06-30", now) == datetime(2027, 7, 1, tzinfo=UTC)
    assert parse_expiry("2027-06-30T18:00:00+02:00", now) == datetime(2027, 6, 30, 16, tzinfo=UTC)
    with pytest.raises(InvalidRequestError, match="past"):
        parse_expiry("2026-12-31", now)
    with pytest.raises(InvalidRequestError, match="invalid expiry"):
        parse_expiry("next tuesday", now)


# -- the isolation test ---------------------------------------------------------------


def _tree_digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` (relative name → SHA-256), hidden files included."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _fill(factory: Factory, name: str, seed: int) -> dict[str, object]:
    """Files, a tag, a MyDB table, a finished job, a home and a token for one account."""
    me = Principal(name, 0)
    storage = factory.storage_service()
    storage.put(me, f"results/{name}.csv", [f"a,b\n{seed},{seed * 2}\n".encode()])
    storage.put(me, "public/shared.txt", [f"shared by {name}".encode()])
    storage.tag(me, f"results/{name}.csv", f"tag of {name}")
    mydb = factory.mydb_service()
    mydb.import_arrow(me, "mytable", pa.table({"x": list(range(seed, seed + 10))}))
    jobs = factory.job_service()
    job = jobs.submit(me, QUERY, run=True)
    done = jobs.wait(job.id, me, 60)
    assert done.phase == "COMPLETED", done.error
    home = factory.config.data_dir / "home" / name
    (home / "work").mkdir(parents=True)
    (home / "work" / "notes.ipynb").write_text(f'{{"owner": "{name}"}}')
    token = factory.auth_service().issue_token(name)
    return {"job": job.id, "token": token}


def _snapshot(factory: Factory, name: str, job_id: str) -> dict[str, object]:
    data = factory.config.data_dir
    me = Principal(name, 0)
    jobs = factory.job_service()
    job = jobs.get(job_id, me)
    return {
        "storage": _tree_digest(data / "storage" / name),
        "home": _tree_digest(data / "home" / name),
        "mydb": factory.mydb_service().describe(me, "mytable"),
        "mydb_rows": factory.query_service()
        .run("SELECT x FROM mydb://mytable ORDER BY x", principal=me)
        .small_body(),
        "mydb_file": {
            k: v for k, v in _tree_digest(data / "mydb").items() if k.startswith(f"{name}.")
        },
        "tags": factory.storage_service().stat(me, f"results/{name}.csv").tags,
        "job": (job.phase, job.rows, job.result_path),
        "job_files": _tree_digest(data / "jobs" / job_id),
    }


@pytest.mark.anyio
async def test_expiry_wipes_one_class_and_nothing_else(factory: Factory, app: FastAPI) -> None:
    classes = factory.class_service()
    auth = factory.auth_service()
    soon = utcnow() + timedelta(days=1)
    later = utcnow() + timedelta(days=60)
    expiring = [c.name for c in classes.create("old", 2, soon)]
    staying = [c.name for c in classes.create("new", 2, later)]
    auth.add_user("alice", "alice-password")
    kept = [*staying, "alice"]
    filled = {n: _fill(factory, n, seed) for seed, n in enumerate([*expiring, *kept], 1)}
    before = {n: _snapshot(factory, n, str(filled[n]["job"])) for n in kept}
    # Staged Data Lab uploads of an expiring account go too.
    staged = factory.storage_service().staging_path(Principal(expiring[0], 0), "up.csv")
    staged.write_text("1,2\n")

    wiped = classes.expire(now=utcnow() + timedelta(days=2))

    assert wiped == expiring
    data = factory.config.data_dir
    for n in kept:
        assert _snapshot(factory, n, str(filled[n]["job"])) == before[n], n
        assert auth.authenticate(str(filled[n]["token"])).name == n
    for n in expiring:
        assert not (data / "storage" / n).exists()
        assert not (data / "home" / n).exists()
        assert not (data / "staging" / n).exists()
        assert not factory.executor.mydb_path(n).exists()
        assert not (data / "jobs" / str(filled[n]["job"])).exists()
        assert factory.job_service().list(Principal(n, 0)) == []
        with pytest.raises(AuthenticationError):
            auth.authenticate(str(filled[n]["token"]))
        info = auth.get_user(n)
        assert info.disabled and info.wiped_at is not None
    # Another account's public file under the same name is still readable by all.
    reader = Principal(kept[0], 0)
    assert factory.storage_service().stat(reader, "alice://public/shared.txt").size > 0
    # Through HTTP: the wiped account's token is refused, the others' still work.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for n in expiring:
            r = await client.get(
                "/api/mydb", headers={"Authorization": f"Bearer {filled[n]['token']}"}
            )
            assert r.status_code == 401
        r = await client.get(
            "/api/mydb", headers={"Authorization": f"Bearer {filled['alice']['token']}"}
        )
        assert r.status_code == 200 and [t["name"] for t in r.json()] == ["mytable"]
    # A second run finds nothing more to do.
    assert classes.expire(now=utcnow() + timedelta(days=2)) == []


def test_ordinary_accounts_with_an_expiry_are_never_wiped(factory: Factory) -> None:
    auth = factory.auth_service()
    auth.add_user("carol", "carol-password", expires_at=utcnow() + timedelta(seconds=1))
    storage = factory.storage_service()
    storage.put(Principal("carol", 0), "keep.txt", [b"mine"])
    assert factory.class_service().expire(now=utcnow() + timedelta(days=1)) == []
    assert (factory.config.data_dir / "storage" / "carol" / "keep.txt").read_bytes() == b"mine"


@pytest.mark.slow
def test_the_server_expires_classes_periodically(config: Config) -> None:
    config = config.model_copy(
        update={"classes": config.classes.model_copy(update={"expiry_check_interval_s": 0.2})}
    )
    with serve(config) as live:
        classes = live.factory.class_service()
        made = classes.create("lab", 1, utcnow() + timedelta(seconds=4))
        token = live.factory.auth_service().login("lab01", made[0].password)
        headers = {"Authorization": f"Bearer {token}"}
        r = httpx.put(f"{live.url}/api/storage/files/a.txt", content=b"x", headers=headers)
        assert r.status_code == 201, r.text
        deadline = time.monotonic() + 20
        while live.factory.auth_service().get_user("lab01").wiped_at is None:
            assert time.monotonic() < deadline, "the periodic check never wiped lab01"
            time.sleep(0.1)
        assert httpx.get(f"{live.url}/api/mydb", headers=headers).status_code == 401
        assert not (config.data_dir / "storage" / "lab01").exists(), r.text


# -- the CLI --------------------------------------------------------------------------


def test_cli_writes_the_passwords_to_a_private_csv(data_dir: Path, tmp_path: Path) -> None:
    _register()
    runner = CliRunner()
    out = tmp_path / "class.csv"
    r = runner.invoke(
        cli_app,
        [
            "class",
            "create",
            "stud",
            "--count",
            "3",
            "--expires",
            "2099-01-31",
            "--csv",
            str(out),
            "--data-dir",
            str(data_dir),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "passwords in" in r.output and "-" not in r.output.split("passwords in")[0][-30:]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.DictReader(out.open()))
    assert [row["username"] for row in rows] == ["stud01", "stud02", "stud03"]
    assert all(row["password"] not in r.output for row in rows)
    assert rows[0]["expires_at"] == "2099-02-01T00:00:00+00:00"
    factory = Factory(Config(data_dir=data_dir))
    try:
        assert factory.auth_service().check_password("stud02", rows[1]["password"])
    finally:
        factory.close()
    # Again with the same prefix: refused, the CSV is not overwritten.
    r = runner.invoke(
        cli_app,
        [
            "class",
            "create",
            "stud",
            "-n",
            "2",
            "--expires",
            "2099-01-31",
            "--data-dir",
            str(data_dir),
        ],
    )
    assert r.exit_code != 0
    listed = runner.invoke(cli_app, ["class", "list", "stud", "--data-dir", str(data_dir)])
    assert listed.exit_code == 0 and listed.output.count("active") == 3
    expired = runner.invoke(cli_app, ["class", "expire", "--data-dir", str(data_dir)])
    assert expired.exit_code == 0 and "no class account has expired" in expired.output


# -- migration 0002 -------------------------------------------------------------------


def test_migration_keeps_accounts_made_before_it(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from skydock.server.storage.metadata import MIGRATIONS

    db = Database(sqlite_url(tmp_path))
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0001")
    db.close()
    with sqlite3.connect(tmp_path / "skydock.db") as con:
        con.execute(
            "INSERT INTO users (name, uid, password_hash, admin, disabled, created_at, "
            "failed_logins) VALUES ('olduser', 1000, 'x', 0, 0, '2026-01-01 00:00:00', 0)"
        )
    db = Database(sqlite_url(tmp_path))
    db.upgrade()
    columns = {c["name"] for c in inspect(db.engine).get_columns("users")}
    assert {"class_name", "wiped_at"} <= columns
    from skydock.server.services.auth import AuthService

    info = AuthService(db).get_user("olduser")
    assert info.class_name is None and info.wiped_at is None
    # The migrations and the models describe the same schema.
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from skydock.server.storage.metadata import Base

    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    db.close()


@pytest.mark.integration
def test_class_expiry_on_postgres(tmp_path: Path) -> None:
    from benchmarks.pg import PostgresServer, PostgresUnavailableError

    from tests.server.test_metadata_postgres import SMALL

    server = PostgresServer(SMALL, log=lambda *_: None)
    try:
        server.start()
    except PostgresUnavailableError as exc:
        pytest.skip(str(exc))
    try:
        with server.connect() as con:
            con.execute('CREATE DATABASE "classes"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/classes"
        factory = Factory(Config(data_dir=tmp_path, database_url=url))
        try:
            classes = factory.class_service()
            made = classes.create("pg", 2, utcnow() + timedelta(hours=1))
            factory.auth_service().add_user("keeper", "keeper-password")
            token = factory.auth_service().login("keeper", "keeper-password")
            assert classes.expire(now=utcnow() + timedelta(hours=2)) == [c.name for c in made]
            assert factory.auth_service().authenticate(token).name == "keeper"
            assert all(u.wiped_at for u in factory.auth_service().class_members("pg"))
        finally:
            factory.close()
    finally:
        server.stop()


def test_cli_expire_wipes_what_has_expired(data_dir: Path) -> None:
    factory = Factory(Config(data_dir=data_dir))
    try:
        factory.class_service().create("gone", 1, utcnow() + timedelta(seconds=1))
        factory.class_service().create("here", 1, utcnow() + timedelta(days=1))
        for name in ("gone01", "here01"):
            factory.storage_service().put(Principal(name, 0), "f.txt", [name.encode()])
    finally:
        factory.close()
    time.sleep(1.2)
    _register()
    r = CliRunner().invoke(cli_app, ["class", "expire", "--data-dir", str(data_dir)])
    assert r.exit_code == 0, r.output
    assert "expired 1 accounts: gone01" in r.output
    assert not (data_dir / "storage" / "gone01").exists()
    assert (data_dir / "storage" / "here01" / "f.txt").read_bytes() == b"here01"
    listed = CliRunner().invoke(cli_app, ["class", "list", "--data-dir", str(data_dir)])
    assert "wiped" in listed.output and "active" in listed.output


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_the_storage_wipe_spares_names_sharing_a_prefix(
    backend: str, data_dir: Path, request: pytest.FixtureRequest
) -> None:
    """``ab01`` goes, ``ab010`` (whose keys start with ``ab01``) stays: on disk and on S3."""
    from tests.server.storage_backends import storage_settings

    config = Config(data_dir=data_dir, storage=storage_settings(backend, request))
    factory = Factory(config)
    try:
        factory.class_service().create("ab", 1, utcnow() + timedelta(hours=1))
        factory.auth_service().add_user("ab010", "ab010-password")
        storage = factory.storage_service()
        for name in ("ab01", "ab010"):
            storage.put(Principal(name, 0), "data/f.txt", [name.encode()])
            storage.tag(Principal(name, 0), "data/f.txt", f"{name} tag")
        assert factory.class_service().expire(now=utcnow() + timedelta(hours=2)) == ["ab01"]
        blobs = factory.blob_store
        assert blobs.info("ab01") is None
        assert blobs.info("ab01/data/f.txt") is None
        keeper = Principal("ab010", 0)
        with storage.open_read(keeper, "data/f.txt") as f:
            assert f.read() == b"ab010"
        assert storage.stat(keeper, "data/f.txt").tags == ["ab010 tag"]
    finally:
        factory.close()
