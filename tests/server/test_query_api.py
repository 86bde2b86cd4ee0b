"""The native query API, driven in-process through the real app."""

from __future__ import annotations

import io

import httpx
import pyarrow.parquet as pq
import pytest
from astropy.io.votable import parse_single_table


@pytest.mark.anyio
async def test_csv_query(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/api/query", params={"q": "SELECT id, kind FROM test.points WHERE id <= 3 ORDER BY id"}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0] == "id,kind"
    assert [ln.split(",")[0] for ln in lines[1:]] == ["1", "2", "3"]
    assert r.headers["server"].startswith("Skydock")


@pytest.mark.anyio
async def test_votable_keeps_units(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/query",
        data={"q": "SELECT TOP 5 id, mag FROM test.points", "lang": "adql", "format": "votable"},
    )
    assert r.status_code == 200, r.text
    table = parse_single_table(io.BytesIO(r.content)).to_table()
    assert len(table) == 5
    assert str(table["mag"].unit) == "mag"


@pytest.mark.anyio
async def test_parquet_and_maxrec_overflow(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/api/query", params={"q": "SELECT id FROM test.points", "format": "parquet", "maxrec": 7}
    )
    assert r.status_code == 200, r.text
    assert pq.read_table(io.BytesIO(r.content)).num_rows == 7
    assert r.headers["x-skydock-overflow"] == "true"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"q": "SELECT nosuch FROM test.points"}, 400, "nosuch"),
        ({"q": "SELECT * FROM test.nope"}, 404, "test.nope"),
        ({"q": "DROP TABLE test.points"}, 403, "DROP"),
        ({"q": "SELECT 1", "format": "xls"}, 400, "xls"),
        ({"q": "SELEC id FROM test.points"}, 400, ""),
    ],
)
async def test_bad_queries_get_clear_4xx(
    client: httpx.AsyncClient, params: dict[str, str], status: int, needle: str
) -> None:
    r = await client.get("/api/query", params=params)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["message"]
    assert needle.lower() in body["message"].lower()


@pytest.mark.anyio
async def test_tables_lists_columns(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/tables")
    assert r.status_code == 200
    tables = {t["name"]: t for t in r.json()}
    assert sorted(tables) == ["demo.stars", "test.points"]
    table = tables["test.points"]
    assert {c["name"] for c in table["columns"]} >= {"id", "ra", "dec", "mag", "kind"}


@pytest.mark.anyio
async def test_arrow_streams_with_a_trailer(client: httpx.AsyncClient) -> None:
    import pyarrow as pa
    import pyarrow.ipc as ipc

    r = await client.get(
        "/api/query", params={"q": "SELECT id FROM test.points", "format": "arrow", "maxrec": 7}
    )
    assert r.status_code == 200 and r.headers["x-skydock-streamed"] == "true"
    # Any Arrow reader gets the rows (the trailer batch is empty)...
    assert ipc.open_stream(pa.py_buffer(r.content)).read_all().num_rows == 7
    # ...and the last batch's metadata carries the count and the overflow flag.
    reader = ipc.open_stream(pa.py_buffer(r.content))
    metas = []
    while True:
        try:
            metas.append(reader.read_next_batch_with_custom_metadata()[1])
        except StopIteration:
            break
    trailer = {k.decode(): v.decode() for k, v in metas[-1].to_dict().items()}
    assert trailer == {"skydock.rows": "7", "skydock.overflow": "true"}
