"""Data Lab ``/query``: queries (sync and async), job status, MyDB and metadata as plain text."""

from __future__ import annotations

import json
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from skydock.errors import InvalidRequestError, SkydockError
from skydock.server.handlers.datalab.common import flag, hello_routes, text
from skydock.server.handlers.deps import Caller, Services
from skydock.server.services.query import QueryAnswer

router = APIRouter(prefix="/query", include_in_schema=False)
hello_routes(router, "query")

# Seconds taken off the client's own read timeout, so our clean error arrives first.
TIMEOUT_MARGIN_S = 2.0
SERVER_SIDE_OUT = ("vos://", "mydb://")


def _timeout(request: Request) -> float | None:
    raw = request.headers.get("X-DL-TimeoutRequest")
    try:
        seconds = float(raw) if raw else 0.0
    except ValueError:
        return None
    if seconds <= 0:  # 0: "stream, no limit" — the server's own limit applies
        return None
    return max(1.0, seconds - TIMEOUT_MARGIN_S)


def _language(sql: str | None, adql: str | None) -> tuple[str, Literal["sql", "adql"]]:
    if adql:
        return adql, "adql"
    if sql:
        return sql, "sql"
    raise InvalidRequestError("No query specified: send sql= or adql=")


def _out_target(out: str | None) -> str | None:
    """Only vos:// and mydb:// are the server's business; a local path is the client's."""
    if out and out != "None" and out.startswith(SERVER_SIDE_OUT):
        return out
    return None


def _stream(answer: QueryAnswer) -> StreamingResponse:
    # No Content-Encoding ever: the client reads raw bytes.
    return StreamingResponse(answer.chunks(), media_type=answer.media_type)


@router.get("/query")
def query(
    request: Request,
    caller: Caller,
    services: Services,
    sql: str | None = None,
    adql: str | None = None,
    ofmt: str | None = "csv",
    out: str | None = None,
    drop: str | None = None,
    profile: str | None = None,
) -> Response:
    text_, language = _language(sql, adql)
    fmt = ofmt or "csv"
    target = _out_target(out)
    async_ = flag(request.query_params.get("async"))
    if async_:
        job = services.job_service().submit(
            caller, text_, language, fmt, out=target, drop=flag(drop), run=True
        )
        return text(job.id)
    timeout = _timeout(request)
    service = services.query_service()
    if target:
        service.save(
            text_, language, fmt, target, principal=caller, drop=flag(drop), timeout_s=timeout
        )
        return text("OK")
    return _stream(service.run(text_, language, fmt, principal=caller, timeout_s=timeout))


# Data Lab knows no PENDING (its jobs start at once) and no ARCHIVED (results that
# expired are an error to its client).
_DL_PHASE = {"PENDING": "QUEUED", "ARCHIVED": "ERROR"}


@router.get("/status")
def status(caller: Caller, services: Services, jobid: str | None = None) -> Response:
    """The bare phase word: the client compares it exactly."""
    try:
        job = services.job_service().get(jobid or "", caller)
    except SkydockError as exc:
        return text(f"Error: {exc.message}", exc.status)
    return text(_DL_PHASE.get(job.phase, job.phase))


@router.get("/results")
def results(caller: Caller, services: Services, jobid: str | None = None) -> Response:
    """The result, again and again: the client's ``delete=True`` is ignored on purpose."""
    found = services.job_service().result(jobid or "", caller)
    return FileResponse(found.path, media_type=found.media_type)


@router.get("/error")
def error(caller: Caller, services: Services, jobid: str | None = None) -> Response:
    try:
        return text(services.job_service().error(jobid or "", caller))
    except SkydockError as exc:
        return text(f"Error: {exc.message}", exc.status)


@router.get("/abort")
def abort(caller: Caller, services: Services, jobid: str | None = None) -> Response:
    try:
        services.job_service().abort(jobid or "", caller)
    except SkydockError as exc:
        return text(f"Error: {exc.message}", exc.status)
    return text("OK")


@router.get("/profiles")
def profiles(request: Request, profile: str | None = None, format: str | None = None) -> Response:
    if profile:
        base = str(request.base_url).rstrip("/")
        return text(
            json.dumps(
                {
                    "accessURL": f"{base}/query",
                    "description": "Skydock catalogs (DuckDB over HATS)",
                    "database": "skydock",
                    "vosRoot": "vos://",
                    "type": "public",
                }
            )
        )
    return text("default\n")


@router.get("/services")
def services_list(services: Services) -> Response:
    return text("")


@router.get("/schema")
def schema(services: Services, value: str | None = None, format: str | None = None) -> Response:
    """Schemas, then a schema's tables, a table's columns, or one column's description."""
    tables = services.query_service().tables()
    parts = [p for p in (value or "").strip().split(".") if p]
    if not parts:
        names = sorted({t.schema for t in tables})
        return text("".join(f"{n}\n" for n in names))
    if len(parts) == 1:
        names = sorted(t.name for t in tables if t.schema == parts[0])
        if not names:
            return text(f'Error: schema "{parts[0]}" not known', 404)
        return text("".join(f"{n}\n" for n in names))
    table = next((t for t in tables if (t.schema, t.name) == (parts[0], parts[1])), None)
    if table is None:
        return text(f'Error: table "{parts[0]}.{parts[1]}" not known', 404)
    if len(parts) == 2:
        lines = [
            f"{c.name},{c.datatype},{c.unit or ''},{c.description or ''}" for c in table.columns
        ]
        return text("column_name,datatype,unit,description\n" + "".join(f"{ln}\n" for ln in lines))
    col = next((c for c in table.columns if c.name == parts[2]), None)
    if col is None:
        return text(f'Error: column "{parts[2]}" not known in {parts[0]}.{parts[1]}', 404)
    return text(
        f"column_name: {col.name}\ntable_name: {table.qualified}\ndatatype: {col.datatype}\n"
        f"unit: {col.unit or ''}\nucd: {col.ucd or ''}\ndescription: {col.description or ''}\n"
    )
