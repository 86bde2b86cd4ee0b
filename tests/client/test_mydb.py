"""MyDB through the client (docs/api.md, MyDB). Skipped while the server has no
``/api/mydb`` route; they must pass once the MyDB service is merged."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from astropy.table import Table

from skydock.client import Client, ConflictError, NotFoundError, set_client
from skydock.client import queryClient as qc  # noqa: N813 - the Data Lab habit
from tests.client.conftest import require
from tests.server.conftest import LiveServer

FRAME = pd.DataFrame({"oid": [1, 2, 3], "ra": [10.0, 20.0, 30.0], "dec": [-1.0, 0.0, 1.0]})


@pytest.fixture(autouse=True)
def _mydb_route(live: LiveServer) -> None:
    require(live, "/api/mydb")


def test_import_dataframe_list_describe_query_drop(alice: Client) -> None:
    table = alice.mydb_import("t1", FRAME)
    assert table["name"] == "t1" and table["rows"] == 3
    assert "t1" in [t["name"] for t in alice.mydb_list()]
    info = alice.mydb_describe("mydb://t1")
    assert [c["name"] for c in info["columns"]] == ["oid", "ra", "dec"]
    assert "indexes" in info
    back = alice.query(sql="SELECT oid, ra, dec FROM mydb://t1 ORDER BY oid")
    pd.testing.assert_frame_equal(back, FRAME, check_dtype=False)
    with pytest.raises(ConflictError):
        alice.mydb_import("t1", FRAME)
    assert alice.mydb_import("t1", FRAME, append=True)["rows"] == 6
    assert alice.mydb_import("t1", FRAME, drop=True)["rows"] == 3
    alice.mydb_drop("t1")
    with pytest.raises(NotFoundError):
        alice.mydb_describe("t1")


def test_import_other_sources(alice: Client, tmp_path: Path) -> None:
    astro = Table({"a": [1.5, 2.5]}, names=["a"])
    astro["a"].unit = "deg"
    assert alice.mydb_import("from_astropy", astro)["rows"] == 2
    assert alice.mydb_import("from_arrow", pa.table({"k": [1, 2, 3, 4]}))["rows"] == 4
    local = tmp_path / "l.csv"
    local.write_text("u,v\n1,x\n2,y\n")
    assert alice.mydb_import("from_file", local)["rows"] == 2
    assert alice.mydb_import("from_bytes", b"u\n7\n", format="csv")["rows"] == 1
    if route_has_storage(alice):
        alice.put(b"w\n5\n6\n", "imp.csv")
        assert alice.mydb_import("from_vos", "vos://imp.csv")["rows"] == 2


def route_has_storage(client: Client) -> bool:
    from tests.client.conftest import route_exists

    return route_exists(client.url, "/api/storage/ls")


def test_rename_copy_truncate_index(alice: Client, bob: Client) -> None:
    alice.mydb_import("src", FRAME)
    assert alice.mydb_copy("src", "dup")["name"] == "dup"
    assert alice.mydb_rename("dup", "mydb://moved")["name"] == "moved"
    assert alice.mydb_truncate("moved")["rows"] == 0
    assert alice.mydb_index("src", "oid")["indexes"]
    assert alice.mydb_index("src", ra="ra", dec="dec")["name"] == "src"
    names = {t["name"] for t in alice.mydb_list()}
    assert {"src", "moved"} <= names and "dup" not in names
    assert "src" not in {t["name"] for t in bob.mydb_list()}


def test_query_out_to_mydb(alice: Client) -> None:
    sql = "SELECT id, ra, dec FROM test.points WHERE id <= 40"
    info = alice.query(sql=sql, out="mydb://sel")
    assert info["rows"] == 40 and info["out"].endswith("sel")
    with pytest.raises(ConflictError):
        alice.query(sql=sql, out="mydb://sel")
    assert alice.query(sql=sql + " AND id <= 10", out="mydb://sel", drop=True)["rows"] == 10
    assert alice.mydb_describe("sel")["rows"] == 10


def test_datalab_style_mydb(alice: Client, tmp_path: Path) -> None:
    set_client(alice)
    assert qc.mydb_import("dl1", FRAME) == "OK"
    assert qc.mydb_import("dl2", "a,b\n1,2\n") == "OK"
    assert {"dl1", "dl2"} <= set(qc.mydb_list().split())
    assert qc.mydb_list("dl1").splitlines()[0].startswith("oid,")
    assert qc.query(sql="SELECT * FROM test.points WHERE id < 4", out="mydb://dl3") == "OK"
    assert qc.query(sql="SELECT count(*) AS n FROM mydb://dl3", fmt="pandas")["n"][0] == 3
    assert qc.mydb_rename("dl2", "dl4") == "OK"
    assert qc.mydb_copy("dl4", "dl5") == "OK"
    assert qc.mydb_truncate("dl5") == "OK"
    assert qc.mydb_index("dl1", "oid") == "OK"
    assert qc.mydb_index("dl1", q3c="ra,dec") == "OK"
    for t in ("dl1", "dl3", "dl4", "dl5"):
        assert qc.mydb_drop(t) == "OK"
    assert qc.mydb_list() == ""
