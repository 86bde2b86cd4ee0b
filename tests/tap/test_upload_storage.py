"""TAP uploads by URL from the platform's own storage (the only URLs it fetches)."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from astropy.io.votable import parse_single_table
from astropy.table import Table

from tests.server.conftest import login


def votable_bytes(table: Table) -> bytes:
    buf = io.BytesIO()
    table.write(buf, format="votable")
    return buf.getvalue()


@pytest.mark.anyio
async def test_upload_from_storage_joins_a_catalog(client: httpx.AsyncClient, users: dict) -> None:
    alice = await login(client, "alice")
    ids = np.array([1, 2, 3, 5], dtype=np.int64)
    put = await client.put(
        "/api/storage/files/mine.vot", content=votable_bytes(Table({"wanted": ids})), headers=alice
    )
    assert put.status_code == 201, put.text
    query = (
        "SELECT p.id FROM test.points AS p JOIN TAP_UPLOAD.mine AS m ON p.id = m.wanted "
        "ORDER BY p.id"
    )
    for uri in ("vos://mine.vot", "http://test/api/storage/files/mine.vot"):
        r = await client.post(
            "/tap/sync",
            data={"LANG": "ADQL", "QUERY": query, "UPLOAD": f"mine,{uri}"},
            headers=alice,
        )
        assert r.status_code == 200, r.text
        got = parse_single_table(io.BytesIO(r.content)).to_table()
        assert list(got["id"]) == list(ids)


@pytest.mark.anyio
async def test_upload_from_storage_needs_read_access(
    client: httpx.AsyncClient, users: dict
) -> None:
    alice = await login(client, "alice")
    bob = await login(client, "bob")
    table = votable_bytes(Table({"x": [1, 2]}))
    await client.put("/api/storage/files/private.vot", content=table, headers=alice)
    for headers in (bob, {}):
        r = await client.post(
            "/tap/sync",
            data={
                "LANG": "ADQL",
                "QUERY": "SELECT * FROM TAP_UPLOAD.t",
                "UPLOAD": "t,alice://private.vot",
            },
            headers=headers,
        )
        assert 400 <= r.status_code < 500
        assert b"QUERY_STATUS" in r.content and b"ERROR" in r.content
    other = await client.post(
        "/tap/sync",
        data={"LANG": "ADQL", "QUERY": "SELECT 1 AS x", "UPLOAD": "t,https://example.org/t.vot"},
        headers=alice,
    )
    assert other.status_code == 400 and b"does not reach other sites" in other.content
