"""Data Lab ``/storage``: the storeClient's endpoints, bodies and status codes.

``get`` and ``put`` answer with an absolute link to ``/storage/blob/<signed key>``; the
client then downloads from or uploads to that link with no token of its own. Refusals
go through the one error renderer as ``Error: ...`` plain text, except ``/put`` (the
client only sees a 500 as an error) and the boolean checks, which are always 200.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from skydock.errors import InvalidRequestError, SkydockError
from skydock.server.handlers.datalab.common import (
    boolean,
    error_text,
    flag,
    hello_routes,
    required,
    text,
)
from skydock.server.handlers.deps import Caller, Services, principal
from skydock.server.handlers.storage import body_chunks, content_length, stream_download
from skydock.server.services.auth import ANONYMOUS, Principal
from skydock.server.services.storage import Entry

router = APIRouter(prefix="/storage", include_in_schema=False)
hello_routes(router, "storage")

HOME = "vos://"
BLOB_PATH = "/storage/blob/"
FILE_PERMS = "-rw-rw-r-x"
DIR_PERMS = "drwxrwxr-x"
From = Annotated[str | None, Query(alias="from")]


def _caller_or_anonymous(request: Request) -> Principal:
    """For the boolean checks, which must answer True/False even to a bad token."""
    try:
        return principal(request)
    except SkydockError:
        return ANONYMOUS


def _link(services: Services, request: Request, key: str) -> str:
    base = services.config.public_url or str(request.base_url)
    return base.rstrip("/") + BLOB_PATH + key


def _long_line(entry: Entry) -> str:
    when = entry.modified or datetime.now(UTC)
    perms = DIR_PERMS if entry.is_dir else FILE_PERMS
    name = entry.name + ("/" if entry.is_dir else "")
    return f"{perms}  {entry.owner}  {entry.size}  {when:%d %b %Y %H:%M}  {name}\n"


@router.get("/get")
def get(services: Services, caller: Caller, request: Request, name: str | None = None) -> Response:
    key = services.storage_service().sign(caller, required(name, "name"), "get")
    return text(_link(services, request, key))


@router.get("/put")
def put(services: Services, request: Request, name: str | None = None) -> Response:
    try:
        caller = principal(request)
        key = services.storage_service().sign(caller, required(name, "name"), "put")
    except SkydockError as exc:
        return text(error_text(exc), 500)
    return text(_link(services, request, key))


@router.get("/blob/{key}")
def download_blob(services: Services, key: str) -> StreamingResponse:
    storage = services.storage_service()
    signed = storage.verify(key, "get")
    return stream_download(storage.download(signed.principal, signed.path))


@router.put("/blob/{key}")
def upload_blob(services: Services, request: Request, key: str) -> Response:
    storage = services.storage_service()
    signed = storage.verify(key, "put")
    chunks = body_chunks(request)
    storage.put(signed.principal, signed.path, chunks, size=content_length(request))
    return text("OK", 201)


@router.get("/isdir")
def isdir(services: Services, request: Request, name: str | None = None) -> Response:
    caller = _caller_or_anonymous(request)
    return boolean(bool(name) and services.storage_service().is_dir(caller, name or ""))


@router.get("/access")
def access(
    services: Services, request: Request, name: str | None = None, mode: str | None = None
) -> Response:
    caller = _caller_or_anonymous(request)
    mode = None if mode in (None, "", "None") else mode
    return boolean(bool(name) and services.storage_service().access(caller, name or "", mode))


@router.get("/ls")
def ls(services: Services, caller: Caller, name: str = HOME, format: str = "csv") -> Response:
    entries = services.storage_service().ls(caller, name or HOME)
    if format == "long":
        return text("".join(_long_line(e) for e in entries))
    if format not in ("csv", "raw"):
        raise InvalidRequestError(f"unknown ls format {format!r}; use csv or long")
    return text(",".join(sorted((e.name for e in entries), key=str.encode)))


@router.get("/stat")
def stat(services: Services, caller: Caller, name: str | None = None) -> Response:
    entry = services.storage_service().stat(caller, required(name, "name"))
    body = {
        "name": entry.name,
        "groupread": "",
        "groupwrite": "",
        "publicread": str(entry.public),
        "owner": entry.owner,
        "perms": DIR_PERMS if entry.is_dir else FILE_PERMS,
        "target": "",
        "size": str(entry.size),
        "type": "container" if entry.is_dir else "data",
    }
    return Response(json.dumps(body), media_type="application/json")


@router.get("/mkdir")
def mkdir(services: Services, caller: Caller, dir: str | None = None) -> Response:
    services.storage_service().mkdir(caller, required(dir, "dir"), parents=True)
    return text("OK", 201)


@router.get("/rm")
def rm(services: Services, caller: Caller, file: str | None = None) -> Response:
    services.storage_service().rm(caller, required(file, "file"))
    return Response(status_code=204)


@router.get("/rmdir")
def rmdir(services: Services, caller: Caller, dir: str | None = None) -> Response:
    services.storage_service().rmdir(caller, required(dir, "dir"), recursive=True)
    return Response(status_code=204)


@router.get("/mv")
def mv(services: Services, caller: Caller, src: From = None, to: str | None = None) -> Response:
    services.storage_service().mv(caller, required(src, "from"), required(to, "to"))
    return text("COMPLETED")


@router.get("/cp")
def cp(services: Services, caller: Caller, src: From = None, to: str | None = None) -> Response:
    services.storage_service().cp(caller, required(src, "from"), required(to, "to"))
    return text("COMPLETED")


@router.get("/tag")
def tag(
    services: Services, caller: Caller, name: str | None = None, tag: str | None = None
) -> Response:
    services.storage_service().tag(caller, required(name, "name"), required(tag, "tag"))
    return text("OK")


@router.get("/ln")
def ln() -> Response:
    raise InvalidRequestError("links are not supported here; copy the file with cp instead")


@router.get("/load")
def load() -> Response:
    raise InvalidRequestError(
        "this server cannot fetch files from the internet; download the file yourself "
        "and upload it with storeClient.put"
    )


@router.post("/xfer")
def xfer(services: Services, caller: Caller, request: Request) -> Response:
    """One piece of ``chunked_upload`` into the staging area MyDB imports read from."""
    name = required(request.headers.get("X-DL-FileName"), "X-DL-FileName header")
    append = not flag(request.headers.get("X-DL-InitXfer"), default=True)
    services.storage_service().stage(caller, name, body_chunks(request), append=append)
    return text("OK")
