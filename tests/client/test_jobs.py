"""Async jobs through the client (docs/api.md, Jobs). Skipped while the server has no
``/api/jobs`` route; they must pass once the job service is merged."""

from __future__ import annotations

import pandas as pd
import pytest

from skydock.client import Client, ConflictError, JobError, NotFoundError, QueryError, set_client
from skydock.client import queryClient as qc  # noqa: N813 - the Data Lab habit
from skydock.client.errors import ForbiddenError
from tests.client.conftest import require
from tests.server.conftest import LiveServer

SQL = "SELECT id, ra, mag FROM test.points WHERE id <= 300 ORDER BY id"
JOB_KEYS = {
    "id", "owner", "phase", "language", "query", "format", "max_rows", "out", "created",
    "started", "finished", "destruction", "rows", "overflow", "error", "execution_duration",
    "run_id",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _jobs_route(live: LiveServer) -> None:
    require(live, "/api/jobs")


def test_submit_wait_result_delete(alice: Client) -> None:
    job = alice.submit(sql=SQL, fmt="pandas", run_id="t1")
    assert set(job.info) >= JOB_KEYS
    assert job.info["owner"] == "alice"
    assert job.info["format"] == "arrow"
    assert job.info["run_id"] == "t1"
    assert job.wait(timeout=120, progress=False) is job
    assert job.phase == "COMPLETED"
    assert job.info["rows"] == 300
    df = job.result()
    pd.testing.assert_frame_equal(df, alice.query(sql=SQL))
    assert str(job.result("table")["mag"].unit) == "mag"
    assert job.result("arrow").num_rows == 300
    assert job.id in [j.id for j in alice.jobs()]
    assert job.id in [j.id for j in alice.jobs(phase="COMPLETED")]
    job.delete()
    with pytest.raises(NotFoundError):
        alice.job(job.id)


def test_csv_job_and_progress(alice: Client, capsys: pytest.CaptureFixture[str]) -> None:
    job = alice.submit(adql="SELECT TOP 5 id FROM test.points ORDER BY id", fmt="csv")
    assert job.info["language"] == "adql"
    job.wait(timeout=120, progress=True)
    assert job.result() == alice.query(
        adql="SELECT TOP 5 id FROM test.points ORDER BY id", fmt="csv"
    )
    assert job.result("pandas")["id"].tolist() == [1, 2, 3, 4, 5]
    assert "COMPLETED" in capsys.readouterr().err


def test_failed_job_raises_its_error(alice: Client) -> None:
    try:
        job = alice.submit(sql="SELECT nosuch FROM test.points")
    except QueryError as exc:  # a server may refuse at submission already
        assert "nosuch" in exc.message
        return
    with pytest.raises(JobError, match="nosuch"):
        job.wait(timeout=120, progress=False)
    assert job.info["phase"] == "ERROR"
    assert "nosuch" in (job.error or "")
    with pytest.raises(ConflictError):
        job.result()


def test_abort_and_privacy(alice: Client, bob: Client) -> None:
    job = alice.submit(sql="SELECT count(*) FROM test.points a, test.points b")
    assert job.abort().info["phase"] in ("ABORTED", "COMPLETED", "ERROR")
    with pytest.raises((NotFoundError, ForbiddenError)):
        bob.job(job.id)
    assert job.id not in [j.id for j in bob.jobs()]


def test_datalab_style_async(alice: Client) -> None:
    set_client(alice)
    jid = qc.query(sql=SQL, async_=True)
    assert isinstance(jid, str) and jid
    assert qc.wait(jid, wait=0.2) == "COMPLETED"
    assert qc.status(jid) == "COMPLETED"
    text = qc.results(jid)
    assert text == alice.query(sql=SQL, fmt="csv")
    assert qc.error(jid) == ""
    df = qc.query(sql=SQL, fmt="pandas", async_=True, wait=True, timeout=120)
    assert df["id"].tolist() == list(range(1, 301))


def test_job_saving_to_mydb_answers_where_the_rows_went(alice: Client) -> None:
    job = alice.submit(sql=SQL, out="mydb://job_saved", drop=True)
    job.wait(timeout=120, progress=False)
    assert job.result() == {"out": "mydb://job_saved", "rows": 300, "overflow": False}
    saved = alice.query(sql="SELECT count(*) AS n FROM mydb://job_saved", fmt="arrow")
    assert saved.column("n").to_pylist() == [300]
