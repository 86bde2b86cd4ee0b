"""Async jobs across server restarts, on a real uvicorn server and a real SQLite file."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from skydock.server.config import Config
from skydock.server.services.jobs import RESTARTED
from skydock.server.storage.jobs import JobStore
from skydock.server.storage.metadata import Database, sqlite_url, utcnow
from tests.server.conftest import PASSWORDS, serve
from tests.server.test_jobs import QUERY, SLOW

FINISHED = {"COMPLETED", "ERROR", "ABORTED"}


@pytest.fixture
def config(data_dir: Path) -> Config:
    return Config(data_dir=data_dir, auth={"min_password_chars": 5}, query={"threads": 1})


def login(url: str, name: str) -> dict[str, str]:
    r = httpx.post(f"{url}/api/auth/login", data={"username": name, "password": PASSWORDS[name]})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def phase_of(url: str, job_id: str, headers: dict[str, str], wait: float = 0) -> dict[str, Any]:
    r = httpx.get(f"{url}/api/jobs/{job_id}", params={"wait": wait}, headers=headers, timeout=90)
    assert r.status_code == 200, r.text
    return dict(r.json())


def until(url: str, job_id: str, headers: dict[str, str], phases: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = phase_of(url, job_id, headers, wait=2)
        if job["phase"] in phases:
            return job
    raise AssertionError(f"job {job_id} never reached {phases}")


def seed(data_dir: Path, **values: Any) -> str:
    """Write a job row as a previous server process would have left it."""
    db = Database(sqlite_url(data_dir))
    db.upgrade()
    now = utcnow()
    job_id = f"seeded{values['phase'].lower()}"
    row = {
        "id": job_id,
        "owner": "alice",
        "language": "sql",
        "query": QUERY,
        "format": "csv",
        "execution_duration_s": 600,
        "created_at": now - timedelta(minutes=5),
        "destruction_at": now + timedelta(days=1),
        "overflow": False,
        "drop": False,
    }
    row.update(values)
    JobStore(db).insert(**row)
    db.close()
    return job_id


@pytest.mark.slow
def test_a_completed_result_survives_a_restart(config: Config) -> None:
    with serve(config) as first:
        first.factory.auth_service().add_user("alice", PASSWORDS["alice"])
        alice = login(first.url, "alice")
        r = httpx.post(
            f"{first.url}/api/jobs", data={"q": QUERY, "format": "votable"}, headers=alice
        )
        job_id = r.json()["id"]
        assert until(first.url, job_id, alice, FINISHED)["phase"] == "COMPLETED"
        before = httpx.get(f"{first.url}/api/jobs/{job_id}/result", headers=alice)
        assert before.status_code == 200
    with serve(config) as second:
        # The login token is in the metadata database too: it still works.
        again = httpx.get(f"{second.url}/api/jobs/{job_id}/result", headers=alice)
        assert again.status_code == 200, again.text
        assert again.content == before.content
        job = phase_of(second.url, job_id, alice)
        assert job["phase"] == "COMPLETED" and job["rows"] == 250


@pytest.mark.slow
def test_jobs_left_by_a_crashed_process_are_recovered(config: Config, data_dir: Path) -> None:
    crashed = seed(data_dir, phase="EXECUTING", worker="gone-host:4242:w0", started_at=utcnow())
    waiting = seed(data_dir, phase="QUEUED")
    (data_dir / "jobs" / crashed).mkdir(parents=True)
    (data_dir / "jobs" / crashed / "result.csv.part").write_text("id\n1\n")
    with serve(config) as live:
        live.factory.auth_service().add_user("alice", PASSWORDS["alice"])
        alice = login(live.url, "alice")
        job = phase_of(live.url, crashed, alice)
        assert job["phase"] == "ERROR"
        assert job["error"] == RESTARTED
        assert "submit it again" in job["error"]
        assert not (data_dir / "jobs" / crashed).exists()
        # A job that had not started yet is simply run.
        queued = until(live.url, waiting, alice, FINISHED)
        assert queued["phase"] == "COMPLETED" and queued["rows"] == 250


@pytest.mark.slow
def test_a_job_running_at_shutdown_is_not_left_executing(config: Config) -> None:
    with serve(config) as first:
        first.factory.auth_service().add_user("alice", PASSWORDS["alice"])
        alice = login(first.url, "alice")
        job_id = httpx.post(f"{first.url}/api/jobs", data={"q": SLOW}, headers=alice).json()["id"]
        until(first.url, job_id, alice, {"EXECUTING"})
        start = time.monotonic()
    assert time.monotonic() - start < 30  # shutting down interrupted the query
    with serve(config) as second:
        job = phase_of(second.url, job_id, alice)
        assert job["phase"] == "ERROR"
        assert job["error"] == RESTARTED
