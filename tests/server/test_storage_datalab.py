"""Data Lab ``/storage``: exact bodies and codes, signed links, and the real client."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from skydock.server.config import Config
from tests.server import storage_backends
from tests.server.conftest import LiveServer, app_factory
from tests.server.storage_backends import make_app, running

config = storage_backends.config  # every test here runs over both backends
moto_server = storage_backends.moto_server

pytestmark = pytest.mark.anyio
LONG_LINE = re.compile(r"^([-d]rw[-rwx]{7})  alice  (\d+)  \d\d \w{3} \d{4} \d\d:\d\d  (\S+)$")


async def dl_login(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    pw = {"alice": "alicepw", "bob": "bobpw"}[name]
    r = await client.get("/auth/login", params={"username": name}, headers={"X-DL-Password": pw})
    assert r.status_code == 200, r.text
    return {"X-DL-AuthToken": r.text}


async def upload(client: httpx.AsyncClient, h: dict[str, str], name: str, body: bytes) -> None:
    r = await client.get("/storage/put", params={"name": name}, headers=h)
    assert r.status_code == 200, r.text
    assert (await client.put(r.text, content=body)).status_code == 201


async def test_hello(client: httpx.AsyncClient) -> None:
    for path in ("/storage", "/storage/"):
        r = await client.get(path)
        assert r.status_code == 200 and r.text.lower().startswith("hello world")


async def test_get_and_put_links(client: httpx.AsyncClient, users: dict) -> None:
    h = await dl_login(client, "alice")
    r = await client.get("/storage/put", params={"name": "vos://res.csv"}, headers=h)
    assert r.status_code == 200
    assert r.text.startswith("http://test/storage/blob/") and "\n" not in r.text
    put = await client.put(r.text, content=b"a,b\n1,2\n")  # the link needs no token
    assert put.status_code == 201
    r = await client.get("/storage/get", params={"name": "vos://res.csv"}, headers=h)
    assert r.status_code == 200 and r.text.startswith("http://test/storage/blob/")
    got = await client.get(r.text)
    assert got.content == b"a,b\n1,2\n"
    assert got.headers["content-length"] == "8"
    assert "content-encoding" not in got.headers
    # A download link cannot be used to upload, and a changed key is refused.
    refused = await client.put(r.text, content=b"evil")
    assert refused.status_code == 403 and refused.text.startswith("Error: ")
    key = r.text.rsplit("/", 1)[1]
    forged = await client.get(f"/storage/blob/{key[:-2]}AA")
    assert forged.status_code == 403 and forged.text.startswith("Error: ")


async def test_links_use_the_public_url_and_expire(config: Config, users: dict) -> None:
    changed = config.model_copy(update={"public_url": "https://sky.example.org/base/"})
    app = make_app(storage_backends.with_storage(changed, url_ttl_s=0.001))
    async with running(app) as client:
        h = await dl_login(client, "alice")
        r = await client.get("/storage/put", params={"name": "x.csv"}, headers=h)
        assert r.text.startswith("https://sky.example.org/base/storage/blob/")
        path = "/" + r.text.split("/base/", 1)[1]
        late = await client.put(path, content=b"x")
        assert late.status_code == 403 and "expired" in late.text


async def test_get_of_a_missing_file_is_never_a_200(client: httpx.AsyncClient, users: dict) -> None:
    h = await dl_login(client, "alice")
    r = await client.get("/storage/get", params={"name": "vos://missing.csv"}, headers=h)
    assert r.status_code == 404 and r.text.startswith("Error: ") and "does not exist" in r.text


async def test_put_refusals_are_500(client: httpx.AsyncClient, users: dict) -> None:
    alice = await dl_login(client, "alice")
    bob = await dl_login(client, "bob")
    await upload(client, alice, "vos://public/f.csv", b"x")
    cases = [
        ({}, "vos://anon.csv"),
        ({"X-DL-AuthToken": "anonymous.0.0.anon_access"}, "vos://anon.csv"),
        ({"X-DL-AuthToken": "alice.1.1.$1$not-a-real-token-at-all-xx"}, "vos://x.csv"),
        (bob, "alice://public/x.csv"),
        (alice, "vos://public"),
        (alice, "vos://../bob/x.csv"),
        (alice, None),
    ]
    for headers, name in cases:
        params = {"name": name} if name else {}
        r = await client.get("/storage/put", params=params, headers=headers)
        assert r.status_code == 500, (name, r.text)
        assert r.text.startswith("Error: "), r.text


async def test_ls_formats(client: httpx.AsyncClient, users: dict) -> None:
    h = await dl_login(client, "alice")
    await upload(client, h, "vos://res.csv", b"a,b\n1,2\n")
    await upload(client, h, "vos://B.csv", b"b")
    assert (
        await client.get("/storage/mkdir", params={"dir": "vos://d1"}, headers=h)
    ).status_code == 201

    async def ls(name: str, fmt: str = "csv") -> str:
        r = await client.get("/storage/ls", params={"name": name, "format": fmt}, headers=h)
        assert r.status_code == 200, r.text
        return r.text

    assert await ls("vos://") == "B.csv,d1,public,res.csv,tmp"  # byte order
    assert await ls("vos://") == await ls("vos:///") == await ls("")
    assert await ls("vos://res.csv") == "res.csv"
    assert await ls("vos://d1") == await ls("vos://d1/") == ""
    long = await ls("vos://", "long")
    assert long.endswith("\n")
    lines = long.splitlines()
    parsed = [LONG_LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert [m.group(3) for m in parsed if m] == ["B.csv", "d1/", "public/", "res.csv", "tmp/"]
    assert [m.group(2) for m in parsed if m and m.group(3) == "res.csv"] == ["8"]
    r = await client.get("/storage/ls", params={"name": "vos://nope"}, headers=h)
    assert r.status_code == 404 and r.text.startswith("Error: ")


async def test_stat_isdir_access(client: httpx.AsyncClient, users: dict) -> None:
    h = await dl_login(client, "alice")
    await upload(client, h, "vos://res.csv", b"12345")
    r = await client.get(
        "/storage/stat", params={"name": "vos://res.csv", "verbose": "True"}, headers=h
    )
    body = json.loads(r.text)
    assert set(body) == {
        "name", "groupread", "groupwrite", "publicread", "owner", "perms", "target", "size", "type"
    }  # fmt: skip
    assert all(isinstance(v, str) for v in body.values())
    assert (body["name"], body["size"], body["type"], body["owner"]) == (
        "res.csv",
        "5",
        "data",
        "alice",
    )
    r = await client.get(
        "/storage/stat", params={"name": "vos://"}, headers={"X-DL-AuthToken": h["X-DL-AuthToken"]}
    )
    assert json.loads(r.text)["type"] == "container"
    assert (
        await client.get("/storage/stat", params={"name": "vos://no"}, headers=h)
    ).status_code == 404

    async def isdir(name: str, headers: dict[str, str]) -> str:
        r = await client.get("/storage/isdir", params={"name": name}, headers=headers)
        assert r.status_code == 200
        return r.text

    assert await isdir("vos://", h) == "True"
    assert await isdir("vos://public", h) == "True"
    assert await isdir("vos://res.csv", h) == "False"
    assert await isdir("vos://missing", h) == "False"
    assert await isdir("vos://../x", h) == "False"
    assert (
        await isdir("vos://", {"X-DL-AuthToken": "alice.1.1.$1$bad-bad-bad-bad-bad-bad-bad"})
        == "False"
    )
    for mode, expected in (("r", "True"), ("w", "True"), ("None", "True")):
        r = await client.get(
            "/storage/access", params={"name": "vos://res.csv", "mode": mode}, headers=h
        )
        assert r.text == expected
    r = await client.get("/storage/access", params={"name": "vos://res.csv", "mode": "w"})
    assert r.status_code == 200 and r.text == "False"


async def test_mkdir_rm_rmdir_mv_cp_tag(client: httpx.AsyncClient, users: dict) -> None:
    h = await dl_login(client, "alice")

    async def call(route: str, **params: str) -> httpx.Response:
        return await client.get(f"/storage/{route}", params=params, headers=h)

    await upload(client, h, "vos://up.csv", b"a,b\n1,2\n")
    assert (await call("mkdir", dir="vos://d1")).status_code == 201
    again = await call("mkdir", dir="vos://d1")
    assert again.status_code == 409 and "already exists" in again.text
    assert (await call("mv", **{"from": "vos://up.csv", "to": "vos://d1"})).text == "COMPLETED"
    assert (
        await call("cp", **{"from": "vos://d1/up.csv", "to": "vos://c.csv"})
    ).text == "COMPLETED"
    assert (await call("ls", name="vos://d1")).text == "up.csv"
    assert (await call("tag", name="vos://c.csv", tag="mine")).text == "OK"
    rm = await call("rm", file="vos://d1/up.csv")
    assert rm.status_code == 204 and rm.text == ""
    gone = await call("rm", file="vos://d1/up.csv")
    assert gone.status_code == 404 and "does not exist" in gone.text
    await upload(client, h, "vos://d1/sub/deep.csv", b"x")
    assert (await call("rmdir", dir="vos://d1")).status_code == 204  # recursive, as on NOIRLab
    bad = await call("mv", **{"from": "vos://nope", "to": "vos://x"})
    assert "COMPLETED" not in bad.text and bad.text.startswith("Error: ")
    for route in ("load", "ln"):
        r = await call(route, name="vos://x", endpoint="https://example.org/x")
        assert r.status_code == 400 and r.text.startswith("Error: ")


async def test_xfer_stages_chunks_for_imports(app, client: httpx.AsyncClient, users: dict) -> None:
    h = await dl_login(client, "alice")
    for body, init in ((b"a,b\n", "True"), (b"1,2\n", "False"), (b"3,4\n", "False")):
        headers = {**h, "X-DL-FileName": "table.csv", "X-DL-InitXfer": init}
        r = await client.post("/storage/xfer", content=body, headers=headers)
        assert r.status_code == 200, r.text
    storage = app_factory(app).storage_service()
    alice = app_factory(app).auth_service().authenticate(h["X-DL-AuthToken"])
    assert storage.staging_path(alice, "table.csv").read_bytes() == b"a,b\n1,2\n3,4\n"
    anon = await client.post("/storage/xfer", content=b"x", headers={"X-DL-FileName": "t.csv"})
    assert anon.status_code == 401 and anon.text.startswith("Error: ")
    bad = {**h, "X-DL-FileName": "../../escape.csv", "X-DL-InitXfer": "True"}
    assert (await client.post("/storage/xfer", content=b"x", headers=bad)).status_code == 400


# -- the real astro-datalab client, one process per run (its state is global) ----------

CLIENT_STORIES = r"""
import os, sys
BASE = sys.argv[1]
from dl import authClient as ac, queryClient as qc, storeClient as sc
from dl.helpers.utils import convert
import requests
ac.set_svc_url(BASE + "/auth"); qc.set_svc_url(BASE + "/query"); sc.set_svc_url(BASE + "/storage")

assert sc.isAlive(BASE + "/storage")
tok = ac.login("alice", "alicepw")
assert ac.whoAmI() == "alice", ac.whoAmI()
CSV = "id,ra,dec,name\n1,10.0,-5.0,a\n2,11.0,-4.0,b\n3,12.0,-3.0,c\n4,13.0,-2.0,d\n5,14.0,-1.0,e\n"
open("res.csv", "w").write(CSV)
assert sc.put("./res.csv", "vos://res.csv") == ["OK"]

# 24
listing = sc.ls("vos://")
assert listing == "public,res.csv,tmp", listing
long = sc.ls("vos://", format="long")
assert any(line.endswith("public/") for line in long.splitlines()), long
# 25, 26
s = sc.get("vos://res.csv")
assert isinstance(s, str) and s == CSV, repr(s)
assert convert(s, "pandas").shape == (5, 4)
assert sc.get("vos://res.csv", "./got.csv") == ["OK"]
assert open("got.csv").read() == s
# 27
assert sc.stat("vos://res.csv")["type"] == "data"
assert sc.stat("vos://")["type"] == "container"
assert sc.access("vos://res.csv") is True
# 28
open("up.csv", "w").write("a,b\n1,2\n")
assert sc.put("./up.csv", "vos://up.csv") == ["OK"]
assert sc.get("vos://up.csv") == "a,b\n1,2\n"
# 29
assert sc.mv("vos://up.csv", "vos://moved.csv") == "OK"
assert sc.mkdir("vos://d1") == "OK"
again = sc.mkdir("vos://d1")
assert "already exists" in again, again
assert sc.mv("vos://moved.csv", "vos://d1") == "OK"
assert sc.ls("vos://d1") == "moved.csv"
# put into a directory appends the file's name (isdir must say True)
assert sc.put("./up.csv", "vos://d1") == ["OK"]
assert sc.ls("vos://d1") == "moved.csv,up.csv"
# 30
assert sc.rm("vos://d1/moved.csv") == "OK"
again = sc.rm("vos://d1/moved.csv")
assert "does not exist" in again, again
assert sc.rmdir("vos://d1") == "OK"
assert sc.ls("vos://") == "public,res.csv,tmp"
# 31
missing = sc.get("vos://missing.csv", "./m.csv")
assert isinstance(missing, list) and missing[0].startswith("Error: "), missing
try:
    sc.get("vos://missing.csv")
except requests.exceptions.RequestException:
    pass
else:
    raise AssertionError("an in-memory get of a missing file should fail in requests")
# 32
assert sc.put("./up.csv", "vos://public/") == ["OK"]
# 33
assert ac.logout(tok) == "OK"
assert ac.whoAmI() == "anonymous"
assert "rror" in ac.logout(tok)
# anonymous (G): reads public files, writes nothing
assert sc.get("alice://public/up.csv") == "a,b\n1,2\n"
refused = sc.put("./up.csv", "vos://anon.csv")
assert isinstance(refused, list) and refused[0].startswith("Error"), refused
# 34
btok = ac.login("bob", "bobpw")
assert "up.csv" in sc.ls("alice://public").split(","), sc.ls("alice://public")
assert sc.get("alice://public/up.csv") == "a,b\n1,2\n"
# 35
refused = sc.put("./up.csv", "alice://public/x.csv")
assert isinstance(refused, list) and refused[0].startswith("Error"), refused
private = sc.get("alice://res.csv", "./x.csv")
assert isinstance(private, list) and private[0].startswith("Error: "), private
assert sc.ls("alice://public") == "up.csv"
print("STORIES OK")
"""


def run_client(live: LiveServer, home: Path, script: str) -> None:
    """Run ``script`` with the real client in a fresh HOME and working directory."""
    home.mkdir()
    path = home / "stories.py"
    path.write_text(textwrap.dedent(script))
    env = {**os.environ, "HOME": str(home)}
    done = subprocess.run(
        [sys.executable, str(path), live.url],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "STORIES OK" in done.stdout


def test_datalab_client_storage_stories(live: LiveServer, users: dict, tmp_path: Path) -> None:
    run_client(live, tmp_path / "home", CLIENT_STORIES)
