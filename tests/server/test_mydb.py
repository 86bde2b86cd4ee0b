"""MyDB through the native API: create from queries, manage, import, join, isolation."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from astropy.io.votable import parse_single_table
from astropy.table import Table
from fastapi import FastAPI

from tests.server.conftest import app_factory, login

pytestmark = pytest.mark.anyio


async def _csv(client: httpx.AsyncClient, headers: dict[str, str], q: str, **kw: str) -> pa.Table:
    r = await client.get("/api/query", params={"q": q, "format": "parquet", **kw}, headers=headers)
    assert r.status_code == 200, r.text
    return pq.read_table(io.BytesIO(r.content))


async def _save(
    client: httpx.AsyncClient, headers: dict[str, str], q: str, out: str, **kw: str
) -> httpx.Response:
    return await client.post("/api/query", data={"q": q, "out": out, **kw}, headers=headers)


@pytest.fixture
async def alice(client: httpx.AsyncClient, users: dict[str, str]) -> dict[str, str]:
    return await login(client, "alice")


@pytest.fixture
async def bob(client: httpx.AsyncClient, users: dict[str, str]) -> dict[str, str]:
    return await login(client, "bob")


async def test_create_from_sql_and_adql_then_manage(
    client: httpx.AsyncClient, alice: dict[str, str], points_table: pa.Table
) -> None:
    r = await _save(
        client, alice, "SELECT id, ra, dec, mag FROM test.points WHERE id <= 100", "mydb://bright"
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"out": "mydb://bright", "rows": 100, "overflow": False}
    r = await _save(
        client,
        alice,
        "SELECT TOP 10 id, kind FROM test.points ORDER BY id",
        "mydb://kinds",
        lang="adql",
    )
    assert r.json()["rows"] == 10, r.text

    got = await _csv(client, alice, "SELECT * FROM mydb://bright ORDER BY id")
    want = points_table.slice(0, 100).select(["id", "ra", "dec", "mag"])
    assert got.column_names == ["id", "ra", "dec", "mag"]
    assert got["id"].to_pylist() == want["id"].to_pylist()
    assert np.array_equal(got["ra"].to_numpy(), want["ra"].to_numpy())
    assert np.array_equal(got["mag"].to_numpy(), want["mag"].to_numpy())

    listing = (await client.get("/api/mydb", headers=alice)).json()
    assert [t["name"] for t in listing] == ["bright", "kinds"]
    assert listing[0]["rows"] == 100
    assert [c["name"] for c in listing[0]["columns"]] == ["id", "ra", "dec", "mag"]

    # Saving again without drop is refused, naming the table; drop replaces it.
    r = await _save(client, alice, "SELECT 1 AS x", "mydb://bright")
    assert r.status_code == 409 and "bright" in r.json()["message"]
    r = await _save(client, alice, "SELECT 1 AS x", "mydb://bright", drop="true")
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == 1
    desc = (await client.get("/api/mydb/bright", headers=alice)).json()
    assert desc == {
        "name": "bright",
        "rows": 1,
        "columns": [{"name": "x", "datatype": "INTEGER"}],
        "indexes": [],
    }
    service = app_factory(client._transport.app).mydb_service()  # type: ignore[attr-defined]
    assert service.columns(_principal(client, "alice"), "mydb://kinds") == [
        ("id", "bigint"),
        ("kind", "text"),
    ]

    r = await client.post("/api/mydb/kinds/copy", data={"to": "kinds2"}, headers=alice)
    assert r.status_code == 201 and r.json()["rows"] == 10
    r = await client.post("/api/mydb/kinds2/index", data={"column": "id"}, headers=alice)
    assert r.status_code == 200 and r.json()["indexes"] == ["id"]
    r = await client.post("/api/mydb/kinds2/rename", data={"to": "kinds3"}, headers=alice)
    assert r.status_code == 200 and r.json()["name"] == "kinds3"
    assert r.json()["indexes"] == ["id"]  # kept across the rename
    r = await client.post("/api/mydb/kinds3/rename", data={"to": "kinds"}, headers=alice)
    assert r.status_code == 409 and "kinds" in r.json()["message"]
    r = await client.post("/api/mydb/kinds3/truncate", headers=alice)
    assert r.status_code == 200 and r.json()["rows"] == 0
    r = await client.delete("/api/mydb/kinds3", headers=alice)
    assert r.status_code == 204
    r = await client.get("/api/mydb/kinds3", headers=alice)
    assert r.status_code == 404 and "kinds3" in r.json()["message"]
    assert service.list_tables(_principal(client, "alice")) == ["bright", "kinds"]


def _principal(client: httpx.AsyncClient, name: str):  # type: ignore[no-untyped-def]
    app: FastAPI = client._transport.app  # type: ignore[attr-defined]
    for user in app_factory(app).auth_service().list_users():
        if user.name == name:
            from skydock.server.services.auth import Principal

            return Principal(user.name, user.uid, user.admin)
    raise AssertionError(name)


async def test_spatial_index_sorts_and_queries_still_answer(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    q = "SELECT id, ra, dec FROM test.points WHERE id <= 5000"
    assert (await _save(client, alice, q, "mydb://pos")).status_code == 200
    cone = "SELECT id FROM {t} WHERE q3c_radial_query(ra, dec, 200, -10, 20) ORDER BY id"
    before = await _csv(client, alice, cone.format(t="mydb.pos"))
    r = await client.post("/api/mydb/pos/index", data={"ra": "ra", "dec": "dec"}, headers=alice)
    assert r.status_code == 200, r.text
    assert r.json()["indexes"] == ["ra,dec"]
    assert [c["name"] for c in r.json()["columns"]] == ["id", "ra", "dec"]
    after = await _csv(client, alice, cone.format(t="mydb.pos"))
    direct = await _csv(
        client, alice, cone.format(t="test.points").replace("ORDER", "AND id <= 5000 ORDER")
    )
    assert after["id"].to_pylist() == before["id"].to_pylist() == direct["id"].to_pylist()
    assert len(after) > 50
    r = await client.post("/api/mydb/pos/index", data={"column": "nope"}, headers=alice)
    assert r.status_code == 400 and "nope" in r.json()["message"]


async def test_join_with_a_catalog_in_sql_and_adql(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    ids = pa.table({"pid": [3, 5, 8, 13], "note": ["a", "b", "c", "d"]})
    buf = io.BytesIO()
    pq.write_table(ids, buf)
    r = await client.post(
        "/api/mydb/wanted/import", files={"file": ("wanted.parquet", buf.getvalue())}, headers=alice
    )
    assert r.status_code == 201, r.text
    sql = await _csv(
        client,
        alice,
        "SELECT w.note, p.id, p.kind FROM mydb://wanted w JOIN test.points p ON p.id = w.pid "
        "ORDER BY p.id",
    )
    adql = await _csv(
        client,
        alice,
        "SELECT w.note, p.id, p.kind FROM mydb.wanted AS w JOIN test.points AS p "
        "ON p.id = w.pid ORDER BY p.id",
        lang="adql",
    )
    assert sql["id"].to_pylist() == [3, 5, 8, 13]
    assert sql["note"].to_pylist() == ["a", "b", "c", "d"]
    assert adql.to_pylist() == sql.to_pylist()
    kinds = await _csv(
        client, alice, "SELECT kind FROM test.points WHERE id IN (3,5,8,13) ORDER BY id"
    )
    assert sql["kind"].to_pylist() == kinds["kind"].to_pylist()


def _votable_bytes(table: Table) -> bytes:
    buf = io.BytesIO()
    table.write(buf, format="votable")
    return buf.getvalue()


def _fits_bytes(table: Table) -> bytes:
    buf = io.BytesIO()
    table.write(buf, format="fits")
    return buf.getvalue()


def _sample(n: int = 500) -> Table:
    rng = np.random.default_rng(5)
    return Table(
        {
            "ID": np.arange(n, dtype=np.int64),
            "RA": rng.uniform(0, 360, n),
            "Dec": rng.uniform(-90, 90, n),
            "flux": rng.normal(size=n).astype(np.float32),
            "name": [f"obj{i}" for i in range(n)],
        }
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet", "fits", "votable"])
async def test_import_matches_an_independent_read(
    client: httpx.AsyncClient, alice: dict[str, str], fmt: str
) -> None:
    sample = _sample()
    if fmt == "csv":
        text = io.StringIO()
        sample.write(text, format="ascii.csv")
        data = text.getvalue().encode()
        reference = pacsv.read_csv(io.BytesIO(data))
    elif fmt == "parquet":
        buf = io.BytesIO()
        pq.write_table(pa.table({k: np.asarray(sample[k]) for k in sample.colnames}), buf)
        data = buf.getvalue()
        reference = pq.read_table(io.BytesIO(data))
    elif fmt == "fits":
        data = _fits_bytes(sample)
        reference = _astropy_arrow(Table.read(io.BytesIO(data), format="fits"))
    else:
        data = _votable_bytes(sample)
        reference = _astropy_arrow(parse_single_table(io.BytesIO(data)).to_table())
    r = await client.post(
        "/api/mydb/imported/import", files={"file": (f"sample.{fmt}", data)}, headers=alice
    )
    assert r.status_code == 201, r.text
    assert r.json()["rows"] == len(sample)
    got = await _csv(client, alice, "SELECT * FROM mydb.imported ORDER BY id")
    assert got.column_names == ["id", "ra", "dec", "flux", "name"]  # folded to lower case
    for ours, theirs in zip(got.column_names, reference.column_names, strict=True):
        a, b = got[ours].to_pylist(), reference[theirs].to_pylist()
        if isinstance(a[0], float):
            assert np.allclose(np.asarray(a), np.asarray(b), rtol=1e-6), ours
        else:
            assert a == b, ours


def _astropy_arrow(table: Table) -> pa.Table:
    cols = {}
    for name in table.colnames:
        values = np.asarray(table[name])
        if values.dtype.kind in "SU":
            values = np.asarray(
                [v.decode() if isinstance(v, bytes) else str(v) for v in values], dtype=object
            )
        else:
            values = values.astype(values.dtype.newbyteorder("="))
        cols[name] = values
    return pa.table(cols)


async def test_import_drop_append_and_dataframe(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    import pandas as pd

    service = app_factory(client._transport.app).mydb_service()  # type: ignore[attr-defined]
    me = _principal(client, "alice")
    frame = pd.DataFrame({"A": [1, 2, 3], "b": [0.5, 1.5, np.nan], "c": ["x", None, "z"]})
    info = service.import_arrow(me, "mydb://frame", frame)
    assert info.rows == 3 and [c for c, _ in info.columns] == ["a", "b", "c"]
    got = await _csv(client, alice, "SELECT * FROM mydb.frame ORDER BY a")
    assert got["a"].to_pylist() == [1, 2, 3]
    assert got["b"].to_pylist()[:2] == [0.5, 1.5] and got["b"].to_pylist()[2] is None
    assert got["c"].to_pylist() == ["x", None, "z"]
    service.import_arrow(me, "frame", frame.iloc[:1], append=True)
    assert service.describe(me, "frame").rows == 4
    service.import_arrow(me, "frame", frame.iloc[:2], drop=True)
    assert service.describe(me, "frame").rows == 2
    csv = b"a,b,c\n9,9.5,q\n"
    r = await client.post(
        "/api/mydb/frame/import",
        files={"file": ("more.txt", csv)},
        data={"format": "csv", "append": "true"},
        headers=alice,
    )
    assert r.status_code == 201, r.text
    assert r.json()["rows"] == 3
    r = await client.post("/api/mydb/frame/import", files={"file": ("x.csv", csv)}, headers=alice)
    assert r.status_code == 409 and "frame" in r.json()["message"]


async def test_isolation_between_users(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    assert (await _save(client, alice, "SELECT 1 AS secret", "mydb://t")).status_code == 200
    assert (
        await _save(client, alice, "SELECT 1 AS only_alice", "mydb://private")
    ).status_code == 200
    assert (await _save(client, bob, "SELECT 2 AS mine", "mydb://t")).status_code == 200
    # mydb://t names the caller's own table.
    got = await _csv(client, bob, "SELECT * FROM mydb://t")
    assert got.column_names == ["mine"] and got["mine"].to_pylist() == [2]
    got = await _csv(client, alice, "SELECT * FROM mydb://t")
    assert got.column_names == ["secret"]
    assert [t["name"] for t in (await client.get("/api/mydb", headers=bob)).json()] == ["t"]
    for method, url, kw in [
        ("GET", "/api/mydb/private", {}),
        ("DELETE", "/api/mydb/private", {}),
        ("POST", "/api/mydb/private/truncate", {}),
        ("POST", "/api/mydb/private/rename", {"data": {"to": "x"}}),
        ("POST", "/api/mydb/private/copy", {"data": {"to": "x"}}),
        ("POST", "/api/mydb/private/index", {"data": {"column": "only_alice"}}),
    ]:
        r = await client.request(method, url, headers=bob, **kw)
        assert r.status_code == 404, (method, url, r.text)
        assert "private" in r.json()["message"] and "only_alice" not in r.json()["message"]
    r = await client.get("/api/query", params={"q": "SELECT * FROM mydb.private"}, headers=bob)
    assert r.status_code == 404 and "'private'" in r.json()["message"]
    r = await client.get(
        "/api/query", params={"q": "SELECT * FROM mydb__alice.main.private"}, headers=bob
    )
    assert r.status_code == 404
    # Importing under the same name makes bob's own table; alice's stays as it was.
    r = await client.post(
        "/api/mydb/private/import", files={"file": ("p.csv", b"z\n7\n")}, headers=bob
    )
    assert r.status_code == 201
    assert (await _csv(client, alice, "SELECT * FROM mydb.private")).column_names == ["only_alice"]


@pytest.mark.parametrize(
    ("method", "url", "kw"),
    [
        ("GET", "/api/mydb", {}),
        ("GET", "/api/mydb/t", {}),
        ("DELETE", "/api/mydb/t", {}),
        ("POST", "/api/mydb/t/import", {"files": {"file": ("a.csv", b"x\n1\n")}}),
        ("POST", "/api/mydb/t/rename", {"data": {"to": "u"}}),
        ("POST", "/api/mydb/t/copy", {"data": {"to": "u"}}),
        ("POST", "/api/mydb/t/truncate", {}),
        ("POST", "/api/mydb/t/index", {"data": {"column": "x"}}),
        ("POST", "/api/query", {"data": {"q": "SELECT 1", "out": "mydb://t"}}),
    ],
)
async def test_anonymous_has_no_mydb(
    client: httpx.AsyncClient, method: str, url: str, kw: dict[str, object]
) -> None:
    r = await client.request(method, url, **kw)  # type: ignore[arg-type]
    assert r.status_code == 401, r.text
    assert "log in" in r.json()["message"]
    r = await client.get("/api/query", params={"q": "SELECT * FROM mydb.t"})
    assert r.status_code == 404 and "anonymous" in r.json()["message"]


@pytest.mark.parametrize(
    ("name", "status", "needle"),
    [
        ("Bad-Name", 400, "Bad-Name"),
        ("1abc", 400, "1abc"),
        ("__x", 400, "__x"),
        ("a" * 64, 400, "63"),
        ("nosuch", 404, "nosuch"),
    ],
)
async def test_bad_table_names(
    client: httpx.AsyncClient, alice: dict[str, str], name: str, status: int, needle: str
) -> None:
    r = await client.get(f"/api/mydb/{name}", headers=alice)
    assert r.status_code == status, r.text
    assert needle in r.json()["message"]
    r = await _save(client, alice, "SELECT 1 AS x", f"mydb://{name}")
    # Saving under a valid new name creates the table; a bad name is refused the same way.
    assert r.status_code == (200 if status == 404 else status), r.text


@pytest.mark.parametrize(
    ("filename", "data", "fmt", "needle"),
    [
        ("t.xlsx", b"PK\x03\x04", None, "t.xlsx"),
        ("t.csv", b"a\n1\n", "excel", "excel"),
        ("t.parquet", b"PAR1 this is not parquet", None, "t.parquet"),
        ("t.fits", b"SIMPLE  =  garbage", None, "t.fits"),
        ("t.vot", b"<VOTABLE><oops", None, "t.vot"),
    ],
)
async def test_bad_imports_change_nothing(
    client: httpx.AsyncClient,
    alice: dict[str, str],
    filename: str,
    data: bytes,
    fmt: str | None,
    needle: str,
) -> None:
    assert (await _save(client, alice, "SELECT 42 AS keep", "mydb://t")).status_code == 200
    form = {"drop": "true", **({"format": fmt} if fmt else {})}
    r = await client.post(
        "/api/mydb/t/import", files={"file": (filename, data)}, data=form, headers=alice
    )
    assert 400 <= r.status_code < 500, r.text
    assert needle in r.json()["message"]
    assert "/tmp" not in r.json()["message"] and "upload-" not in r.json()["message"]
    got = await _csv(client, alice, "SELECT * FROM mydb.t")
    assert got.to_pylist() == [{"keep": 42}]
    assert (await client.get("/api/mydb", headers=alice)).json()[0]["name"] == "t"


async def test_an_import_failing_midway_keeps_the_old_table(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    assert (await _save(client, alice, "SELECT 42 AS n", "mydb://t")).status_code == 200
    # The type is guessed from the first rows; a later row disagrees: the read fails late.
    rows = "n\n" + "1\n" * 30_000 + "oops\n"
    r = await client.post(
        "/api/mydb/t/import",
        files={"file": ("late.csv", rows.encode())},
        data={"drop": "true"},
        headers=alice,
    )
    assert r.status_code == 400, r.text
    assert "late.csv" in r.json()["message"]
    got = await _csv(client, alice, "SELECT * FROM mydb.t")
    assert got.to_pylist() == [{"n": 42}]
    r = await client.post(
        "/api/mydb/t/import",
        files={"file": ("more.csv", b"n\nnot a number\n")},
        data={"append": "true"},
        headers=alice,
    )
    assert r.status_code == 400, r.text
    assert (await _csv(client, alice, "SELECT count(*) AS c FROM mydb.t"))["c"].to_pylist() == [1]
