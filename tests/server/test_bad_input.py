"""Bad input of every kind: a 4xx naming the problem, never a 500, and the server serves on."""

from __future__ import annotations

import httpx
import pytest

from tests.server.conftest import login

NATIVE_CASES = [
    ({"q": "SELEC id FROM test.points"}, 400, "syntax_error"),
    ({"q": "SELECT id FROM nowhere.table1"}, 404, "unknown_table"),
    ({"q": "SELECT nosuch FROM test.points"}, 400, "unknown_column"),
    ({"q": "DROP TABLE test.points"}, 403, "query_refused"),
    ({"q": "SELECT * FROM read_csv('/etc/passwd')"}, 403, "query_refused"),
    ({"q": "SELECT id FROM test.points", "format": "xlsx"}, 400, "bad_format"),
    ({"q": "SELECT id FROM test.points", "lang": "cobol"}, 400, "bad_request"),
    ({"q": "SELECT id FROM test.points", "maxrec": "-1"}, 400, "bad_request"),
    ({"q": ""}, 400, "bad_request"),
    ({}, 400, "bad_request"),
    ({"q": "SELECT id FROM test.points", "out": "vos://x.csv"}, 401, "unauthenticated"),
    ({"q": "SELECT 1/0 AS x"}, 400, None),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("params", "status", "code"), NATIVE_CASES)
async def test_native_query_refusals(
    client: httpx.AsyncClient, params: dict[str, str], status: int, code: str | None
) -> None:
    r = await client.get("/api/query", params=params)
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "message"} and body["message"]
    if code:
        assert body["error"] == code
    ok = await client.get("/api/query", params={"q": "SELECT count(*) FROM test.points"})
    assert ok.status_code == 200 and ok.text == "count\n30000\n"


@pytest.mark.anyio
async def test_messages_name_the_problem(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/query", params={"q": "SELECT magg FROM test.points"})
    assert "magg" in r.json()["message"] and "mag" in r.json()["message"]
    r = await client.get("/api/query", params={"q": "SELECT id FROM test.pointz"})
    assert "test.pointz" in r.json()["message"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "token", ["alice.1000.1000.$1$" + "z" * 30, "not a token", "x" * 5000, "Bearer"]
)
async def test_bad_tokens_are_401_everywhere(client: httpx.AsyncClient, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    r = await client.get("/api/query", params={"q": "SELECT 1 AS x"}, headers=headers)
    assert r.status_code == 401 and r.json()["error"] == "unauthenticated"
    r = await client.get(
        "/query/query", params={"sql": "SELECT 1 AS x"}, headers={"X-DL-AuthToken": token}
    )
    assert r.status_code == 401 and r.text.startswith("Error: ")


@pytest.mark.anyio
async def test_huge_query_text_is_refused(client: httpx.AsyncClient, users: dict) -> None:
    headers = await login(client, "alice")
    text = "SELECT id FROM test.points WHERE " + " OR ".join(f"id = {i}" for i in range(60_000))
    r = await client.post("/api/query", data={"q": text}, headers=headers)
    assert 400 <= r.status_code < 500, r.text[:300]
    assert r.json()["message"]


DATALAB_CASES = [
    ({"sql": "select nope from nowhere"}, "nowhere"),
    ({"sql": "selec 1"}, "could not parse"),
    ({}, "No query specified"),
    ({"sql": "select id from demo.stars", "ofmt": "xlsx"}, "xlsx"),
    ({"sql": "select id from demo.stars", "out": "vos://a.csv"}, "log in"),
    ({"sql": "select id from demo.stars", "out": "mydb://t"}, "log in"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("params", "needle"), DATALAB_CASES)
async def test_datalab_query_errors_are_plain_text(
    client: httpx.AsyncClient, params: dict[str, str], needle: str
) -> None:
    r = await client.get("/query/query", params=params)
    assert 400 <= r.status_code < 500
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text.startswith("Error: ") and needle.lower() in r.text.lower(), r.text
