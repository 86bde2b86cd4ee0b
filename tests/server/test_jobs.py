"""Async jobs through the native API (``/api/jobs``), driven in-process through the real app."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from astropy.io.votable import parse_single_table
from fastapi import FastAPI

from skydock.server.config import Config
from skydock.server.main import create_app
from skydock.server.services.jobs import JobService
from tests.server.conftest import app_factory, login

# Runs for hours on the 30 000-row test catalog unless it is stopped.
SLOW = (
    "SELECT count(*) FROM test.points a, test.points b, test.points c "
    "WHERE a.mag + b.mag < c.mag * random()"
)
QUERY = "SELECT id, ra, dec, mag, kind FROM test.points WHERE id <= 250 ORDER BY id"
FINISHED = {"COMPLETED", "ERROR", "ABORTED"}


@pytest.fixture
def config(data_dir: Path) -> Config:
    return Config(
        data_dir=data_dir,
        auth={"min_password_chars": 5},
        query={"threads": 1},
        jobs={"workers": 4, "per_user": 2},
    )


async def submit(client: httpx.AsyncClient, headers: dict[str, str], **form: Any) -> str:
    r = await client.post("/api/jobs", data=form, headers=headers)
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["phase"] in {"QUEUED", "EXECUTING", "COMPLETED", "ERROR"}
    return str(job["id"])


async def finished(
    client: httpx.AsyncClient, job_id: str, headers: dict[str, str], limit_s: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        r = await client.get(f"/api/jobs/{job_id}", params={"wait": 5}, headers=headers)
        assert r.status_code == 200, r.text
        if r.json()["phase"] in FINISHED:
            return dict(r.json())
    raise AssertionError(f"job {job_id} did not finish in {limit_s} s")


async def until_phase(
    client: httpx.AsyncClient, job_id: str, headers: dict[str, str], phase: str
) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = await client.get(f"/api/jobs/{job_id}", headers=headers)
        if r.json()["phase"] == phase:
            return dict(r.json())
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {phase}: {r.json()}")


def jobs_of(client: httpx.AsyncClient) -> JobService:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    return app_factory(transport.app).job_service()  # type: ignore[arg-type]


def parse(fmt: str, body: bytes) -> pa.Table:
    if fmt == "csv":
        return pcsv.read_csv(io.BytesIO(body))
    if fmt == "parquet":
        return pq.read_table(io.BytesIO(body))
    table = parse_single_table(io.BytesIO(body)).to_table()
    return pa.table({name: list(table[name]) for name in table.colnames})


@pytest.mark.anyio
@pytest.mark.parametrize("fmt", ["csv", "votable", "parquet"])
async def test_result_equals_the_sync_answer(
    client: httpx.AsyncClient, users: dict[str, str], fmt: str
) -> None:
    alice = await login(client, "alice")
    job_id = await submit(client, alice, q=QUERY, format=fmt, run_id="r1")
    job = await finished(client, job_id, alice)
    assert job["phase"] == "COMPLETED", job
    assert job["rows"] == 250
    assert job["overflow"] is False
    assert job["owner"] == "alice"
    assert job["run_id"] == "r1"
    assert job["started"] and job["finished"] and job["destruction"]

    got = await client.get(f"/api/jobs/{job_id}/result", headers=alice)
    assert got.status_code == 200, got.text
    assert got.headers["x-skydock-rows"] == "250"
    sync = await client.get("/api/query", params={"q": QUERY, "format": fmt}, headers=alice)
    assert sync.status_code == 200
    assert got.headers["content-type"].split(";")[0] == sync.headers["content-type"].split(";")[0]
    ours, theirs = parse(fmt, got.content), parse(fmt, sync.content)
    assert ours.column_names == ["id", "ra", "dec", "mag", "kind"]
    assert ours.num_rows == 250
    for name in ours.column_names:
        assert ours[name].to_pylist() == theirs[name].to_pylist(), name
    # Results can be fetched again (the Data Lab client always sends delete=True).
    again = await client.get(f"/api/jobs/{job_id}/result", headers=alice)
    assert again.content == got.content


@pytest.mark.anyio
async def test_bad_sql_ends_in_error_with_the_message(
    client: httpx.AsyncClient, users: dict[str, str]
) -> None:
    alice = await login(client, "alice")
    job_id = await submit(client, alice, q="SELECT nope FROM test.points")
    job = await finished(client, job_id, alice)
    assert job["phase"] == "ERROR"
    assert "nope" in job["error"]
    r = await client.get(f"/api/jobs/{job_id}/result", headers=alice)
    assert r.status_code == 409
    assert "ERROR" in r.json()["message"] and "nope" in r.json()["message"]


@pytest.mark.anyio
async def test_submit_refuses_bad_parameters(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/jobs", data={"q": "SELECT 1", "format": "xls"})
    assert r.status_code == 400 and "xls" in r.json()["message"]
    r = await client.post("/api/jobs", data={"q": "SELECT 1", "run_id": "x" * 65})
    assert r.status_code == 400 and "run_id" in r.json()["message"]
    r = await client.post("/api/jobs", data={"q": "SELECT 1", "out": "vos://x.csv"})
    assert r.status_code == 401


@pytest.mark.anyio
async def test_result_before_completion_is_a_conflict_and_abort_is_quick(
    client: httpx.AsyncClient, users: dict[str, str]
) -> None:
    alice = await login(client, "alice")
    job_id = await submit(client, alice, q=SLOW, execution_duration=600)
    await until_phase(client, job_id, alice, "EXECUTING")
    r = await client.get(f"/api/jobs/{job_id}/result", headers=alice)
    assert r.status_code == 409 and "EXECUTING" in r.json()["message"]

    start = time.monotonic()
    r = await client.post(f"/api/jobs/{job_id}/abort", headers=alice)
    assert r.status_code == 200 and r.json()["phase"] == "ABORTED"
    # The worker is free again: DuckDB really stopped, and the engine still answers.
    while jobs_of(client).running():
        assert time.monotonic() - start < 15, "the aborted query kept running"
        await asyncio.sleep(0.05)
    job = (await client.get(f"/api/jobs/{job_id}", headers=alice)).json()
    assert job["phase"] == "ABORTED"
    quick = await submit(client, alice, q="SELECT count(*) AS n FROM test.points")
    done = await finished(client, quick, alice)
    assert done["phase"] == "COMPLETED"
    body = (await client.get(f"/api/jobs/{quick}/result", headers=alice)).text
    assert body == "n\n30000\n"


@pytest.mark.anyio
async def test_per_user_limit_queues_the_third_job_but_not_other_users(
    client: httpx.AsyncClient, users: dict[str, str]
) -> None:
    alice, bob = await login(client, "alice"), await login(client, "bob")
    a1 = await submit(client, alice, q=SLOW)
    a2 = await submit(client, alice, q=SLOW)
    a3 = await submit(client, alice, q=SLOW)
    b1 = await submit(client, bob, q=SLOW)
    try:
        await until_phase(client, a1, alice, "EXECUTING")
        await until_phase(client, a2, alice, "EXECUTING")
        await until_phase(client, b1, bob, "EXECUTING")
        await asyncio.sleep(1.5)  # longer than an idle worker's poll: a3 had its chance
        third = (await client.get(f"/api/jobs/{a3}", headers=alice)).json()
        assert third["phase"] == "QUEUED"
        listed = (await client.get("/api/jobs", params={"phase": "queued"}, headers=alice)).json()
        assert [j["id"] for j in listed] == [a3]
        # A slot frees up: the waiting job runs.
        await client.post(f"/api/jobs/{a1}/abort", headers=alice)
        await until_phase(client, a3, alice, "EXECUTING")
    finally:
        for job_id, who in ((a1, alice), (a2, alice), (a3, alice), (b1, bob)):
            await client.post(f"/api/jobs/{job_id}/abort", headers=who)


@pytest.mark.anyio
async def test_execution_duration_stops_the_job_with_a_clear_message(
    client: httpx.AsyncClient, users: dict[str, str]
) -> None:
    alice = await login(client, "alice")
    job_id = await submit(client, alice, q=SLOW, execution_duration=1)
    job = await finished(client, job_id, alice, limit_s=30)
    assert job["phase"] == "ERROR"
    assert job["execution_duration"] == 1
    assert "execution duration of 1 s" in job["error"]


@pytest.mark.anyio
async def test_execution_duration_is_capped_by_the_server(
    client: httpx.AsyncClient, users: dict[str, str]
) -> None:
    alice = await login(client, "alice")
    r = await client.post(
        "/api/jobs", data={"q": "SELECT 1", "execution_duration": 10**9}, headers=alice
    )
    assert r.json()["execution_duration"] == 28800
    r = await client.post("/api/jobs", data={"q": "SELECT 1"}, headers=alice)
    assert r.json()["execution_duration"] == 3600


@pytest.mark.anyio
async def test_other_users_cannot_see_fetch_abort_or_delete_a_job(
    client: httpx.AsyncClient, users: dict[str, str]
) -> None:
    alice, bob, root = [await login(client, n) for n in ("alice", "bob", "root")]
    job_id = await submit(client, alice, q=QUERY)
    await finished(client, job_id, alice)
    missing = await client.get("/api/jobs/doesnotexist", headers=bob)
    assert missing.status_code == 404
    for method, path in (
        ("GET", f"/api/jobs/{job_id}"),
        ("GET", f"/api/jobs/{job_id}/result"),
        ("POST", f"/api/jobs/{job_id}/abort"),
        ("DELETE", f"/api/jobs/{job_id}"),
    ):
        for who in (bob, {}):
            r = await client.request(method, path, headers=who)
            assert r.status_code == 404, (method, path, r.text)
            # The same answer as for a job that never existed: nothing is revealed.
            assert r.json()["message"] == missing.json()["message"].replace("doesnotexist", job_id)
    assert (await client.get("/api/jobs", headers=bob)).json() == []
    assert [j["id"] for j in (await client.get("/api/jobs", headers=alice)).json()] == [job_id]
    # The job survived every attempt; an administrator may look at it.
    assert (await client.get(f"/api/jobs/{job_id}/result", headers=alice)).status_code == 200
    assert (await client.get(f"/api/jobs/{job_id}", headers=root)).json()["owner"] == "alice"


@pytest.mark.anyio
async def test_anonymous_jobs_run_on_public_catalogs_but_are_not_listed(
    client: httpx.AsyncClient, users: dict[str, str]
) -> None:
    job_id = await submit(client, {}, q=QUERY, format="csv")
    job = await finished(client, job_id, {})
    assert job["phase"] == "COMPLETED" and job["owner"] == "anonymous"
    r = await client.get(f"/api/jobs/{job_id}/result")
    assert r.status_code == 200 and r.text.startswith("id,ra,dec,mag,kind\n")
    # The id is the only way in: anonymous callers list nothing, users don't see it.
    assert (await client.get("/api/jobs")).json() == []
    alice = await login(client, "alice")
    assert (await client.get(f"/api/jobs/{job_id}", headers=alice)).status_code == 404


@pytest.mark.anyio
async def test_delete_removes_the_job_and_its_result(
    client: httpx.AsyncClient, users: dict[str, str], data_dir: Path
) -> None:
    alice = await login(client, "alice")
    job_id = await submit(client, alice, q=QUERY, format="parquet")
    await finished(client, job_id, alice)
    assert (data_dir / "jobs" / job_id / "result.parquet").is_file()
    r = await client.delete(f"/api/jobs/{job_id}", headers=alice)
    assert r.status_code == 204
    assert not (data_dir / "jobs" / job_id).exists()
    assert (await client.get(f"/api/jobs/{job_id}", headers=alice)).status_code == 404
    assert (await client.get("/api/jobs", headers=alice)).json() == []


@pytest.mark.anyio
async def test_delete_of_a_running_job_stops_it(
    client: httpx.AsyncClient, users: dict[str, str]
) -> None:
    alice = await login(client, "alice")
    job_id = await submit(client, alice, q=SLOW)
    await until_phase(client, job_id, alice, "EXECUTING")
    assert (await client.delete(f"/api/jobs/{job_id}", headers=alice)).status_code == 204
    deadline = time.monotonic() + 15
    while jobs_of(client).running():
        assert time.monotonic() < deadline, "the deleted job kept running"
        await asyncio.sleep(0.05)
    assert (await client.get(f"/api/jobs/{job_id}", headers=alice)).status_code == 404


@pytest.mark.anyio
async def test_wait_returns_when_the_phase_changes(
    client: httpx.AsyncClient, users: dict[str, str]
) -> None:
    alice = await login(client, "alice")
    job_id = await submit(client, alice, q=SLOW)
    await until_phase(client, job_id, alice, "EXECUTING")
    start = time.monotonic()
    r = await client.get(f"/api/jobs/{job_id}", params={"wait": 1}, headers=alice)
    assert r.json()["phase"] == "EXECUTING"
    assert time.monotonic() - start >= 0.9  # it did wait
    await client.post(f"/api/jobs/{job_id}/abort", headers=alice)
    start = time.monotonic()
    r = await client.get(f"/api/jobs/{job_id}", params={"wait": 30}, headers=alice)
    assert r.json()["phase"] == "ABORTED"
    assert time.monotonic() - start < 5  # a finished job answers at once


@pytest.mark.anyio
async def test_expired_jobs_are_destroyed_by_the_sweep(data_dir: Path) -> None:
    config = Config(
        data_dir=data_dir,
        auth={"min_password_chars": 5},
        # Long enough for the job to finish on a loaded machine before it expires.
        jobs={"retention_hours": 10 / 3600, "sweep_interval_s": 0.2},
    )
    app: FastAPI = create_app(config)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        job_id = await submit(client, {}, q=QUERY)
        job = await finished(client, job_id, {})
        assert job["phase"] == "COMPLETED"
        result_dir = data_dir / "jobs" / job_id
        assert (result_dir / "result.csv").is_file()
        archived = await until_phase(client, job_id, {}, "ARCHIVED")
        assert not result_dir.exists()
        assert archived["destruction"] is not None
        r = await client.get(f"/api/jobs/{job_id}/result")
        assert r.status_code == 409 and "destruction" in r.json()["message"]


@pytest.mark.anyio
async def test_datalab_find_jobs_lists_only_the_callers_jobs(
    client: httpx.AsyncClient, users: dict[str, str]
) -> None:
    """``/res/findJobs`` (``qc.jobs()``) shows a user's own jobs and nobody else's."""
    alice, bob = [await login(client, n) for n in ("alice", "bob")]
    job_id = await submit(client, alice, q=QUERY)
    await finished(client, job_id, alice)
    mine = await client.get("/res/findJobs", params={"format": "json"}, headers=alice)
    assert mine.status_code == 200
    # What the client does with the body: quotes swapped, one character cut at each end.
    records = json.loads(mine.text.replace("'", '"')[1:-1])
    assert [(r["jobid"], r["phase"], r["rows"]) for r in records] == [(job_id, "COMPLETED", 250)]
    theirs = await client.get("/res/findJobs", params={"format": "json"}, headers=bob)
    assert json.loads(theirs.text.replace("'", '"')[1:-1]) == []
    one = await client.get("/res/findJobs", params={"jobid": job_id}, headers=bob)
    assert one.status_code == 404 and one.text.startswith("Error:")
    # Bob's delete of everything touches nothing of Alice's.
    await client.get("/res/findJobs", params={"option": "delete"}, headers=bob)
    assert (await client.get(f"/api/jobs/{job_id}", headers=alice)).status_code == 200
    anonymous = await client.get("/res/findJobs")
    assert anonymous.status_code == 401 and "log in" in anonymous.text
    bad = await client.get("/res/findJobs", params={"format": "xml"}, headers=alice)
    assert bad.status_code == 400 and "format" in bad.text
