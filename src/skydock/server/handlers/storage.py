"""Native storage API: ``/api/storage`` (files, directories, tags, quota)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import anyio.from_thread
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response, StreamingResponse

from skydock.errors import InvalidRequestError
from skydock.server.handlers.deps import Caller, Services
from skydock.server.services.storage import Download, Entry

router = APIRouter(prefix="/api/storage", tags=["storage"])

PathParam = Annotated[str, Form(min_length=1, description="A path in your space, or user://...")]


def body_chunks(request: Request) -> Iterator[bytes]:
    """The request body as it arrives, for a sync handler (it runs in a worker thread)."""
    stream = request.stream().__aiter__()

    async def next_chunk() -> bytes | None:
        try:
            return await stream.__anext__()
        except StopAsyncIteration:
            return None

    while (chunk := anyio.from_thread.run(next_chunk)) is not None:
        if chunk:
            yield chunk


def content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not value.isdigit():
        raise InvalidRequestError(f"Content-Length {value!r} is not a number of bytes")
    return int(value)


def stream_download(download: Download) -> StreamingResponse:
    """The file's bytes with their length, never compressed (clients save them raw)."""
    return StreamingResponse(
        download.chunks,
        media_type="application/octet-stream",
        headers={"Content-Length": str(download.entry.size)},
    )


def entry_json(entry: Entry, *, tags: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": entry.name,
        "path": entry.path,
        "owner": entry.owner,
        "type": "dir" if entry.is_dir else "file",
        "size": entry.size,
        "modified": entry.modified.isoformat() if entry.modified else None,
        "public": entry.public,
    }
    if tags:
        out["tags"] = entry.tags
    return out


@router.get("/ls", summary="List a directory", description="Entries of a directory, or a file.")
def list_directory(
    caller: Caller,
    services: Services,
    path: Annotated[str, Query(description="Directory (default: your home).")] = "",
    user: Annotated[
        str | None, Query(description="Another user: list their public space instead.")
    ] = None,
) -> list[dict[str, Any]]:
    if user:
        path = f"{user}://{path or 'public'}"
    return [entry_json(e) for e in services.storage_service().ls(caller, path)]


@router.get("/stat", summary="Describe a file or directory", description="One entry, with tags.")
def stat_path(
    caller: Caller, services: Services, path: Annotated[str, Query()] = ""
) -> dict[str, Any]:
    return entry_json(services.storage_service().stat(caller, path), tags=True)


@router.get("/files/{path:path}", summary="Download a file", description="The bytes, streamed.")
def download_file(caller: Caller, services: Services, path: str) -> StreamingResponse:
    return stream_download(services.storage_service().download(caller, path))


@router.put(
    "/files/{path:path}",
    summary="Upload a file",
    description="The raw request body becomes the file, atomically; parents are created.",
    status_code=201,
)
def upload_file(
    caller: Caller,
    services: Services,
    request: Request,
    path: str,
    overwrite: Annotated[bool, Query(description="Replace an existing file.")] = True,
) -> dict[str, Any]:
    entry = services.storage_service().put(
        caller, path, body_chunks(request), overwrite=overwrite, size=content_length(request)
    )
    return entry_json(entry)


@router.delete("/files/{path:path}", summary="Delete a file", status_code=204)
def delete_file(caller: Caller, services: Services, path: str) -> Response:
    services.storage_service().rm(caller, path)
    return Response(status_code=204)


@router.post("/mkdir", summary="Make a directory", status_code=201)
def make_directory(
    caller: Caller,
    services: Services,
    path: PathParam,
    parents: Annotated[bool, Form(description="Also make missing parents.")] = False,
) -> dict[str, Any]:
    return entry_json(
        services.storage_service().mkdir(caller, path, parents=parents, exist_ok=parents)
    )


@router.post("/rmdir", summary="Remove a directory", status_code=204)
def remove_directory(
    caller: Caller,
    services: Services,
    path: PathParam,
    recursive: Annotated[bool, Form(description="Also remove what it holds.")] = False,
) -> Response:
    services.storage_service().rmdir(caller, path, recursive=recursive)
    return Response(status_code=204)


@router.post("/mv", summary="Move or rename", description="Into dst if dst is a directory.")
def move_path(caller: Caller, services: Services, src: PathParam, dst: PathParam) -> dict[str, Any]:
    return entry_json(services.storage_service().mv(caller, src, dst))


@router.post("/cp", summary="Copy", description="Into dst if dst is a directory.")
def copy_path(caller: Caller, services: Services, src: PathParam, dst: PathParam) -> dict[str, Any]:
    return entry_json(services.storage_service().cp(caller, src, dst))


@router.post("/tag", summary="Tag a file or directory")
def tag_path(
    caller: Caller,
    services: Services,
    path: PathParam,
    tag: Annotated[str, Form(min_length=1)],
) -> dict[str, Any]:
    return entry_json(services.storage_service().tag(caller, path, tag), tags=True)


@router.get("/quota", summary="Storage used and allowed", description="Bytes.")
def get_quota(caller: Caller, services: Services) -> dict[str, int]:
    quota = services.storage_service().quota(caller)
    return {"used": quota.used, "limit": quota.limit}
