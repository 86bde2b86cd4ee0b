"""JobService as the UWS and Data Lab front doors will use it: no HTTP, real objects."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI

from skydock.errors import ConflictError, InvalidRequestError, NotFoundError
from skydock.server.config import Config
from skydock.server.services.auth import ANONYMOUS, Principal
from skydock.server.services.jobs import JobService
from skydock.server.storage.metadata import utcnow
from tests.server.conftest import app_factory
from tests.server.test_jobs import QUERY, SLOW

ALICE = Principal("alice", 1001)
BOB = Principal("bob", 1002)
ROOT = Principal("root", 1003, admin=True)


@pytest.fixture
def config(config: Config) -> Config:
    return config.model_copy(update={"query": config.query.model_copy(update={"threads": 1})})


@pytest.fixture
def jobs(app: FastAPI) -> Iterator[JobService]:
    factory = app_factory(app)
    factory.start()
    try:
        yield factory.job_service()
    finally:
        factory.close()


def test_a_job_waits_pending_until_it_is_run(jobs: JobService) -> None:
    job = jobs.submit(ALICE, QUERY, "sql", "csv", run_id="uws-1")
    assert job.phase == "PENDING"
    # Nothing runs a PENDING job, so a wait for it to finish takes the whole timeout.
    start = time.monotonic()
    assert jobs.wait(job.id, ALICE, 0.5).phase == "PENDING"
    assert time.monotonic() - start >= 0.45
    # UWS PHASE=RUN: the job has left PENDING by the time the call returns.
    assert jobs.run(job.id, ALICE).phase in {"QUEUED", "EXECUTING", "COMPLETED"}
    done = jobs.wait(job.id, ALICE, 30)
    assert done.phase == "COMPLETED" and done.rows == 250
    with pytest.raises(ConflictError, match="only a PENDING job"):
        jobs.run(job.id, ALICE)


def test_wait_with_a_phase_returns_once_the_job_leaves_it(jobs: JobService) -> None:
    job = jobs.submit(ALICE, SLOW, run=True)
    executing = jobs.wait(job.id, ALICE, 30, phase="QUEUED")
    assert executing.phase == "EXECUTING"
    start = time.monotonic()
    assert jobs.wait(job.id, ALICE, 5, phase="COMPLETED").phase == "EXECUTING"
    assert time.monotonic() - start < 1  # not in that phase: answered at once
    jobs.abort(job.id, ALICE)
    assert jobs.wait(job.id, ALICE, 5).phase == "ABORTED"
    assert jobs.error(job.id, ALICE) == "the job was aborted"


def test_parameters_change_only_while_pending_and_the_server_caps_them(
    jobs: JobService,
) -> None:
    job = jobs.submit(ALICE, QUERY)
    longer = jobs.update(job.id, ALICE, execution_duration_s=10**7)
    assert longer.execution_duration_s == jobs.limits.max_execution_duration_s
    late = jobs.update(job.id, ALICE, destruction=job.created_at + timedelta(days=365))
    assert late.destruction_at == job.created_at + jobs.limits.retention
    soon = utcnow() + timedelta(minutes=5)
    assert jobs.update(job.id, ALICE, destruction=soon).destruction_at == soon
    with pytest.raises(InvalidRequestError, match="time zone"):
        jobs.update(job.id, ALICE, destruction=soon.replace(tzinfo=None))
    jobs.run(job.id, ALICE)
    jobs.wait(job.id, ALICE, 30)
    with pytest.raises(ConflictError, match="PENDING"):
        jobs.update(job.id, ALICE, execution_duration_s=60)


def test_listing_is_per_owner_and_admins_may_see_everyone(jobs: JobService) -> None:
    a = jobs.submit(ALICE, QUERY)
    b = jobs.submit(BOB, QUERY)
    anon = jobs.submit(ANONYMOUS, QUERY)
    assert [j.id for j in jobs.list(ALICE)] == [a.id]
    assert [j.id for j in jobs.list(BOB)] == [b.id]
    assert jobs.list(ANONYMOUS) == []
    assert {j.id for j in jobs.list(ROOT, everyone=True)} == {a.id, b.id, anon.id}
    with pytest.raises(NotFoundError):
        jobs.list(ALICE, everyone=True)
    assert jobs.list(ALICE, ["COMPLETED"]) == []
    with pytest.raises(InvalidRequestError, match="HELD"):
        jobs.list(ALICE, ["HELD"])
    assert jobs.get(anon.id, ANONYMOUS).owner == "anonymous"
    with pytest.raises(NotFoundError):
        jobs.get(a.id, BOB)


def test_saving_goes_through_the_query_service(jobs: JobService) -> None:
    """``out=`` jobs call QueryService.save; an unknown scheme is its error, in the job."""
    job = jobs.submit(ALICE, QUERY, out="nosuch://t", run=True)
    done = jobs.wait(job.id, ALICE, 30)
    assert done.phase == "ERROR"
    assert "nosuch" in (done.error or "")


def test_the_sweep_archives_expired_jobs_and_later_forgets_them(jobs: JobService) -> None:
    job = jobs.submit(ALICE, QUERY, run=True)
    assert jobs.wait(job.id, ALICE, 30).phase == "COMPLETED"
    path = jobs.result(job.id, ALICE).path
    assert path.is_file()
    keep = jobs.submit(ALICE, QUERY)
    jobs.update(job.id, ALICE, destruction=utcnow() - timedelta(seconds=1))
    assert jobs.sweep() == [job.id]
    archived = jobs.get(job.id, ALICE)
    assert archived.phase == "ARCHIVED" and archived.result_path is None
    assert not path.exists()
    assert [j.id for j in jobs.list(ALICE)] == [keep.id]  # ARCHIVED only when asked for
    assert [j.id for j in jobs.list(ALICE, ["ARCHIVED"])] == [job.id]
    with pytest.raises(ConflictError, match="destruction"):
        jobs.result(job.id, ALICE)
    # The record goes once it has been archived for the configured time.
    jobs.update(job.id, ALICE, destruction=utcnow() - jobs.limits.archive - timedelta(seconds=1))
    assert jobs.sweep() == []
    with pytest.raises(NotFoundError):
        jobs.get(job.id, ALICE)
    assert jobs.get(keep.id, ALICE).phase == "PENDING"


def test_job_ids_are_letters_and_digits() -> None:
    from skydock.server.services.jobs import new_job_id

    ids = {new_job_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 22 and i.isalnum() and i.isascii() for i in ids)
