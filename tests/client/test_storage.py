"""User storage through the client (docs/api.md, Storage). Skipped while the server has
no ``/api/storage`` routes; they must pass once the storage service is merged."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from skydock.client import Client, ForbiddenError, NotFoundError, set_client
from skydock.client import storeClient as sc  # noqa: N813 - the Data Lab habit
from tests.client.conftest import require
from tests.server.conftest import LiveServer

ENTRY_KEYS = {"name", "path", "type", "size", "modified", "public"}


@pytest.fixture(autouse=True)
def _storage_route(live: LiveServer) -> None:
    require(live, "/api/storage/ls")


def test_put_get_ls_stat_rm(alice: Client, tmp_path: Path) -> None:
    alice.mkdir("results")
    entry = alice.put(b"a,b\n1,2\n", "results/x.csv")
    assert set(entry) >= ENTRY_KEYS
    assert entry["name"] == "x.csv" and entry["size"] == 8 and entry["type"] == "file"
    assert [e["name"] for e in alice.ls("results")] == ["x.csv"]
    assert "x.csv" in [e["name"] for e in alice.ls("vos://results/")]
    info = alice.stat("vos://results/x.csv")
    assert info["size"] == 8 and "tags" in info
    assert alice.get("results/x.csv") == b"a,b\n1,2\n"
    saved = alice.get("/results/x.csv", tmp_path)
    assert saved == tmp_path / "x.csv" and saved.read_bytes() == b"a,b\n1,2\n"
    alice.rm("results/x.csv")
    with pytest.raises(NotFoundError):
        alice.stat("results/x.csv")


def test_large_file_streams_both_ways(alice: Client, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    assert alice.put(src, "big.bin")["size"] == src.stat().st_size
    back = alice.get("big.bin", tmp_path / "back.bin")
    assert back.read_bytes() == src.read_bytes()


def test_mv_cp_tag_rmdir_quota(alice: Client) -> None:
    alice.mkdir("a/b", parents=True)
    alice.put(b"hello", "a/b/f.txt")
    assert alice.cp("a/b/f.txt", "a/g.txt")["name"] == "g.txt"
    assert alice.mv("a/g.txt", "a/b")["path"].endswith("b/g.txt")
    assert sorted(e["name"] for e in alice.ls("a/b")) == ["f.txt", "g.txt"]
    assert alice.tag("a/b/f.txt", "keep")
    assert "keep" in str(alice.stat("a/b/f.txt")["tags"])
    quota = alice.quota()
    assert quota["used"] >= 10 and "limit" in quota
    alice.rmdir("a", recursive=True)
    with pytest.raises(NotFoundError):
        alice.ls("a")


def test_sharing_through_public(alice: Client, bob: Client) -> None:
    alice.put(b"shared", "public/s.txt")
    alice.put(b"secret", "private.txt")
    assert "s.txt" in [e["name"] for e in bob.ls("public", user="alice")]
    assert bob.get("alice://public/s.txt") == b"shared"
    with pytest.raises((ForbiddenError, NotFoundError)):
        bob.get("alice://private.txt")
    with pytest.raises((ForbiddenError, NotFoundError)):
        bob.put(b"x", "alice://public/s.txt")


def test_query_out_to_storage(alice: Client) -> None:
    sql = "SELECT id, mag FROM test.points WHERE id <= 50 ORDER BY id"
    info = alice.query(sql=sql, fmt="csv", out="vos://q.csv")
    assert info["rows"] == 50 and info["overflow"] is False and "q.csv" in info["out"]
    assert alice.get("q.csv").decode() == alice.query(sql=sql, fmt="csv")


def test_datalab_style_store(alice: Client, tmp_path: Path) -> None:
    set_client(alice)
    local = tmp_path / "t.csv"
    local.write_text("x,y\n1,2\n")
    assert sc.mkdir("vos://d/") == "OK"
    assert sc.put(str(local), "vos://d/") == "OK"
    assert sc.ls("vos://d") == "t.csv"
    assert pd.read_csv(pd.io.common.StringIO(sc.get("vos://d/t.csv")))["y"].tolist() == [2]
    assert sc.get("vos://d/t.csv", mode="binary") == b"x,y\n1,2\n"
    assert sc.get("vos://d/t.csv", str(tmp_path / "copy.csv")) == "OK"
    assert (tmp_path / "copy.csv").read_text() == "x,y\n1,2\n"
    assert sc.cp("vos://d/t.csv", "vos://d/u.csv") == "OK"
    assert sc.mv("vos://d/u.csv", "vos://d/v.csv") == "OK"
    assert sc.ls("vos://d") == "t.csv,v.csv"
    assert sc.stat("vos://d/v.csv")["size"] == 8
    assert sc.rm("vos://d/v.csv") == "OK"
    assert sc.saveAs("hello", "vos://d/h.txt") == "OK"
    assert sc.get("vos://d/h.txt") == "hello"
    assert sc.rmdir("vos://d") == "OK"
