"""What the client sends for jobs, storage and MyDB, checked against docs/api.md with a
recording transport (the live-server tests cover these once the routes exist)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pandas as pd
import pytest

from skydock.client import Client, JobError, NotFoundError, WaitTimeoutError

Handler = Callable[[httpx.Request], httpx.Response]


def recording(handler: Handler) -> tuple[Client, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return handler(request)

    c = Client(url="http://sky.test", token="tok")
    c._http = httpx.Client(base_url=c.url, transport=httpx.MockTransport(record))
    return c, seen


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def job_json(phase: str, **extra: object) -> dict[str, object]:
    return {"id": "j1", "owner": "alice", "phase": phase, "format": "csv", **extra}


def test_submit_sends_the_form_and_wait_long_polls() -> None:
    phases = iter(["QUEUED", "EXECUTING", "COMPLETED"])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json=job_json("PENDING", format="arrow"))
        if request.url.path == "/api/jobs/j1":
            return httpx.Response(200, json=job_json(next(phases), format="arrow"))
        raise AssertionError(request)

    c, seen = recording(handler)
    job = c.submit(adql="SELECT 1", fmt="table", maxrec=5, out="mydb://t", run_id="r")
    assert seen[0].url.path == "/api/jobs"
    assert seen[0].headers["authorization"] == "Bearer tok"
    assert form(seen[0]) == {
        "q": "SELECT 1",
        "lang": "adql",
        "format": "arrow",
        "maxrec": "5",
        "out": "mydb://t",
        "drop": "false",
        "run_id": "r",
    }
    job.wait(timeout=30, progress=False)
    assert job.info["phase"] == "COMPLETED"
    assert all(int(r.url.params["wait"]) >= 1 for r in seen[1:])


def test_wait_raises_job_error_and_times_out() -> None:
    c, _ = recording(
        lambda r: httpx.Response(200, json=job_json("ERROR", error="column x does not exist"))
    )
    job = c.job("j1")
    job.info["phase"] = "EXECUTING"
    with pytest.raises(JobError, match="column x"):
        job.wait(progress=False)
    c, _ = recording(lambda r: httpx.Response(200, json=job_json("EXECUTING")))
    with pytest.raises(WaitTimeoutError, match="j1"):
        c.job("j1").wait(timeout=0.3, progress=False)


def test_job_result_abort_delete_list() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/jobs":
            assert request.url.params["phase"] == "COMPLETED"
            return httpx.Response(200, json=[job_json("COMPLETED")])
        if path == "/api/jobs/j1/result":
            return httpx.Response(200, text="a,b\n1,x\n")
        if path == "/api/jobs/j1/abort":
            assert request.method == "POST"
            return httpx.Response(200, json=job_json("ABORTED"))
        if path == "/api/jobs/j1" and request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(200, json=job_json("COMPLETED"))

    c, _ = recording(handler)
    (job,) = c.jobs(phase="COMPLETED")
    assert job.result() == "a,b\n1,x\n"
    assert job.result("pandas")["b"].tolist() == ["x"]
    assert job.abort().info["phase"] == "ABORTED"
    job.delete()


def test_storage_requests(tmp_path: Path) -> None:
    entry = {"name": "f", "path": "d/f", "type": "file", "size": 3, "public": False}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            return httpx.Response(201, json=entry)
        if request.url.path.startswith("/api/storage/files/") and request.method == "GET":
            return httpx.Response(200, content=b"abc")
        if request.method == "DELETE":
            return httpx.Response(204)
        if request.url.path == "/api/storage/stat":
            return httpx.Response(404, json={"error": "not_found", "message": "no file 'x'"})
        return httpx.Response(200, json=entry if request.method == "POST" else [entry])

    c, seen = recording(handler)
    src = tmp_path / "up.bin"
    src.write_bytes(b"x" * 3_000_000)
    c.put(src, "vos://d/up.bin", overwrite=False)
    put = seen[-1]
    assert put.url.path == "/api/storage/files/d/up.bin"
    assert put.url.params["overwrite"] == "false"
    assert put.headers["content-length"] == "3000000"
    assert "transfer-encoding" not in put.headers
    assert put.content == src.read_bytes()
    c.put(b"abc", "/d/f")
    assert seen[-1].url.path == "/api/storage/files/d/f"
    assert c.get("d/f") == b"abc"
    assert c.get("d/f", tmp_path).read_bytes() == b"abc"
    assert c.ls("d", user="bob") == [entry]
    assert dict(seen[-1].url.params) == {"path": "d", "user": "bob"}
    c.mv("a", "b")
    assert (seen[-1].url.path, form(seen[-1])) == ("/api/storage/mv", {"src": "a", "dst": "b"})
    c.cp("a", "b")
    c.mkdir("d/e", parents=True)
    assert form(seen[-1]) == {"path": "d/e", "parents": "true"}
    c.rmdir("d", recursive=True)
    assert form(seen[-1]) == {"path": "d", "recursive": "true"}
    c.tag("d/f", "keep")
    assert form(seen[-1]) == {"path": "d/f", "tag": "keep"}
    c.rm("vos://d/f")
    assert (seen[-1].method, seen[-1].url.path) == ("DELETE", "/api/storage/files/d/f")
    with pytest.raises(NotFoundError, match="no file 'x'") as err:
        c.stat("x")
    assert err.value.code == "not_found" and err.value.status == 404


def test_mydb_requests(tmp_path: Path) -> None:
    table = {"name": "t", "rows": 3, "columns": [], "indexes": []}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(201 if request.method == "POST" else 200, json=table)

    c, seen = recording(handler)
    c.mydb_import("mydb://t", pd.DataFrame({"a": [1, 2, 3]}), drop=True)
    req = seen[-1]
    assert req.url.path == "/api/mydb/t/import"
    assert req.headers["content-type"].startswith("multipart/form-data")
    body = req.content
    assert b'name="file"; filename="table.parquet"' in body
    assert b'name="drop"\r\n\r\ntrue' in body and b'name="format"\r\n\r\nparquet' in body
    local = tmp_path / "x.fits"
    local.write_bytes(b"SIMPLE")
    c.mydb_import("t", local, append=True)
    assert b'filename="x.fits"' in seen[-1].content
    assert b'name="format"\r\n\r\nfits' in seen[-1].content
    c.mydb_import("t", "vos://in.csv")
    assert form(seen[-1]) == {"path": "vos://in.csv", "drop": "false", "append": "false"}
    c.mydb_rename("t", "mydb://u")
    assert (seen[-1].url.path, form(seen[-1])) == ("/api/mydb/t/rename", {"to": "u"})
    c.mydb_copy("t", "v")
    c.mydb_truncate("t")
    assert seen[-1].url.path == "/api/mydb/t/truncate"
    c.mydb_index("t", ra="ra", dec="dec")
    assert form(seen[-1]) == {"ra": "ra", "dec": "dec"}
    c.mydb_drop("t")
    assert (seen[-1].method, seen[-1].url.path) == ("DELETE", "/api/mydb/t")
    with pytest.raises(Exception, match="not a local file"):
        c.mydb_import("t", "no/such.csv")


def test_route_missing_gives_not_found_naming_the_url() -> None:
    c, _ = recording(lambda r: httpx.Response(404, json={"detail": "Not Found"}))
    with pytest.raises(NotFoundError, match=r"sky\.test/api/mydb"):
        c.mydb_list()
