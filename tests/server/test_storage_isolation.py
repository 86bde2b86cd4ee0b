"""Who may do what to alice's files: alice, bob and anonymous × private and public ×
every storage operation, through both front doors. Only the allowed ones succeed; every
refusal is a 4xx with a message (Data Lab ``/put`` refuses with 500, as its client needs).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from skydock.server.services.auth import Principal
from tests.server.conftest import app_factory

pytestmark = pytest.mark.anyio

FILES = {"private": "alice://secret.txt", "public": "alice://public/shared.txt"}
DIRS = {"private": "alice://privdir", "public": "alice://public/pubdir"}
READS = {"stat", "ls", "get", "dl_get", "dl_ls", "dl_stat", "dl_isdir", "dl_access"}
NEEDS_OWN_SPACE = {"cp_from"}  # reads alice's file, writes into the caller's own space


@dataclass
class Op:
    name: str
    run: Callable[[httpx.AsyncClient, dict[str, str], str], Awaitable[httpx.Response]]
    on_dir: bool = False
    boolean: bool = False  # answers 200 True/False instead of refusing


def _own_copy(f: str) -> str:
    return "vos://copy-of-" + f.rsplit("/", 1)[-1]


async def _blob_get(c: httpx.AsyncClient, h: dict[str, str], f: str) -> httpx.Response:
    r = await c.get("/storage/get", params={"name": f}, headers=h)
    return await c.get(r.text) if r.status_code == 200 else r


async def _blob_put(c: httpx.AsyncClient, h: dict[str, str], f: str) -> httpx.Response:
    r = await c.get("/storage/put", params={"name": f}, headers=h)
    return await c.put(r.text, content=b"changed") if r.status_code == 200 else r


Runner = Callable[[httpx.AsyncClient, dict[str, str], str], Awaitable[httpx.Response]]
Fields = Callable[[str], dict[str, str]]


def api_get(route: str) -> Runner:
    return lambda c, h, t: c.get(f"/api/storage/{route}", params={"path": t}, headers=h)


def api_post(route: str, fields: Fields) -> Runner:
    return lambda c, h, t: c.post(f"/api/storage/{route}", data=fields(t), headers=h)


def api_file(method: str, **kw: bytes) -> Runner:
    return lambda c, h, t: c.request(method, f"/api/storage/files/{t}", headers=h, **kw)


def dl(route: str, fields: Fields) -> Runner:
    return lambda c, h, t: c.get(f"/storage/{route}", params=fields(t), headers=h)


OPS = [
    Op("stat", api_get("stat")),
    Op("ls", api_get("ls"), on_dir=True),
    Op("get", api_file("GET")),
    Op("put", api_file("PUT", content=b"changed")),
    Op("rm", api_file("DELETE")),
    Op("mv", api_post("mv", lambda t: {"src": t, "dst": t + ".moved"})),
    Op("cp_within", api_post("cp", lambda t: {"src": t, "dst": t + ".copy"})),
    Op("cp_from", api_post("cp", lambda t: {"src": t, "dst": _own_copy(t)})),
    Op("tag", api_post("tag", lambda t: {"path": t, "tag": "t"})),
    Op("mkdir", api_post("mkdir", lambda t: {"path": t + "/new"}), on_dir=True),
    Op("rmdir", api_post("rmdir", lambda t: {"path": t, "recursive": "1"}), on_dir=True),
    Op("dl_get", _blob_get),
    Op("dl_put", _blob_put),
    Op("dl_ls", dl("ls", lambda t: {"name": t}), on_dir=True),
    Op("dl_stat", dl("stat", lambda t: {"name": t})),
    Op("dl_isdir", dl("isdir", lambda t: {"name": t}), on_dir=True, boolean=True),
    Op("dl_access", dl("access", lambda t: {"name": t}), boolean=True),
    Op("dl_rm", dl("rm", lambda t: {"file": t})),
    Op("dl_mkdir", dl("mkdir", lambda t: {"dir": t + "/new"}), on_dir=True),
    Op("dl_rmdir", dl("rmdir", lambda t: {"dir": t}), on_dir=True),
    Op("dl_mv", dl("mv", lambda t: {"from": t, "to": t + ".m"})),
    Op("dl_cp", dl("cp", lambda t: {"from": t, "to": _own_copy(t) + ".dl"})),
    Op("dl_tag", dl("tag", lambda t: {"name": t, "tag": "t"})),
]


def allowed(caller: str, visibility: str, op: str) -> bool:
    if caller == "alice":
        return True
    if op in NEEDS_OWN_SPACE or op == "dl_cp":
        return caller == "bob" and visibility == "public"
    return op in READS and visibility == "public"


def reset(app: FastAPI) -> None:
    """Alice's files as every case starts: one private and one public file and folder."""
    storage = app_factory(app).storage_service()
    alice = Principal(name="alice")
    for visibility in ("private", "public"):
        storage.put(alice, FILES[visibility], [b"alice's data"])
        if not storage.is_dir(alice, DIRS[visibility]):
            storage.mkdir(alice, DIRS[visibility])


async def headers_for(client: httpx.AsyncClient, caller: str) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    pw = {"alice": "alicepw", "bob": "bobpw"}[caller]
    r = await client.get("/auth/login", params={"username": caller}, headers={"X-DL-Password": pw})
    return {"X-DL-AuthToken": r.text}


def judge(caller: str, visibility: str, op: Op, r: httpx.Response) -> str | None:
    """What is wrong with this answer, or None."""
    want = allowed(caller, visibility, op.name)
    case = f"{caller} {op.name} {visibility}: {r.status_code} {r.text[:120]!r}"
    if op.boolean:
        ok = r.status_code == 200 and r.text == ("True" if want else "False")
        return None if ok else case
    if want:
        return None if r.status_code < 300 else case
    expected_status = range(500, 501) if op.name == "dl_put" else range(400, 500)
    if r.status_code not in expected_status or len(r.text) < 10:
        return case
    if op.name.startswith("dl_") and not r.text.startswith("Error: "):
        return case
    return None


@pytest.mark.parametrize("caller", ["alice", "bob", "anonymous"])
async def test_isolation_matrix(
    app: FastAPI, client: httpx.AsyncClient, users: dict, caller: str
) -> None:
    h = await headers_for(client, caller)
    problems = []
    for visibility in ("private", "public"):
        for op in OPS:
            reset(app)
            target = (DIRS if op.on_dir else FILES)[visibility]
            problem = judge(caller, visibility, op, await op.run(client, h, target))
            if problem:
                problems.append(problem)
    assert not problems, "\n".join(problems)


async def test_refused_writes_change_nothing(
    app: FastAPI, client: httpx.AsyncClient, users: dict
) -> None:
    reset(app)
    bob = await headers_for(client, "bob")
    for op in OPS:
        if not allowed("bob", "public", op.name):
            await op.run(client, bob, (DIRS if op.on_dir else FILES)["public"])
    alice = await headers_for(client, "alice")
    r = await client.get("/storage/ls", params={"name": "vos://public"}, headers=alice)
    assert r.text == "pubdir,shared.txt"
    r = await client.get("/api/storage/files/public/shared.txt", headers=alice)
    assert r.content == b"alice's data"
    r = await client.get("/api/storage/stat", params={"path": "public/shared.txt"}, headers=alice)
    assert r.json()["tags"] == []
