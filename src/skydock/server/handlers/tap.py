"""IVOA TAP 1.1: ``/tap``, ``/tap/sync`` and the VOSI/DALI resources beside them.

The UWS job tree (``/tap/async``) is in ``handlers/uws.py``. Errors on these paths are
VOTable documents (``handlers/errors.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.datastructures import UploadFile

from skydock.errors import NotFoundError
from skydock.server.handlers.deps import Caller, Services
from skydock.server.services import tap_documents as docs
from skydock.server.services.auth import Principal
from skydock.server.services.tap import TapRequest

router = APIRouter(prefix="/tap", tags=["tap"])
XML = "application/xml"
STARTED = datetime.now(UTC)


def tap_base(request: Request) -> str:
    """The service's base URL as the client reached it (``X-Forwarded-*`` honoured)."""
    public = request.app.state.factory.config.public_url
    if public:
        return public.rstrip("/") + "/tap"

    def first(name: str) -> str:
        return request.headers.get(name, "").split(",")[0].strip()

    scheme = first("x-forwarded-proto") or request.url.scheme
    host = first("x-forwarded-host") or request.headers.get("host") or request.url.netloc
    prefix = first("x-forwarded-prefix").rstrip("/")
    return f"{scheme}://{host}{prefix}/tap"


async def tap_form(
    request: Request, services: Services
) -> tuple[list[tuple[str, str]], dict[str, bytes]]:
    """The request's parameters (query string, then the urlencoded or multipart form)
    and its file parts."""
    pairs = list(request.query_params.multi_items())
    files: dict[str, bytes] = {}
    limits = services.tap_service().limits
    if request.method == "POST":
        form = await request.form()
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[key] = await value.read(limits.max_upload_bytes + 1)
            else:
                pairs.append((key, value))
    return pairs, files


async def tap_request(request: Request, services: Services, caller: Principal) -> TapRequest:
    pairs, files = await tap_form(request, services)
    return services.tap_service().request(pairs, files, caller, tap_base(request))


@router.get("", summary="TAP service home", response_class=HTMLResponse)
def tap_home(request: Request, services: Services, caller: Caller) -> HTMLResponse:
    tables = services.tap_service().tables(caller)
    return HTMLResponse(docs.landing_page(tap_base(request), tables))


@router.api_route(
    "/sync",
    methods=["GET", "POST"],
    summary="Run an ADQL query (TAP sync)",
    description="LANG=ADQL, QUERY, RESPONSEFORMAT, MAXREC, UPLOAD; parameter names are "
    "case-insensitive.",
    response_class=Response,
)
async def tap_sync(request: Request, services: Services, caller: Caller) -> Response:
    params = await tap_request(request, services, caller)
    answer = services.tap_service().sync(caller, params)
    headers = {"Content-Disposition": f'inline; filename="result.{answer.extension}"'}
    return StreamingResponse(answer.chunks(), media_type=answer.media_type, headers=headers)


@router.get("/capabilities", summary="VOSI capabilities", response_class=Response)
def tap_capabilities(request: Request, services: Services) -> Response:
    jobs = services.jobs.limits
    body = docs.capabilities(
        tap_base(request),
        max_rows=services.tap_service().max_rows,
        retention_s=int(jobs.retention.total_seconds()),
        default_duration_s=jobs.default_execution_duration_s,
        max_duration_s=jobs.max_execution_duration_s,
        max_upload_bytes=services.tap_service().limits.max_upload_bytes,
    )
    headers = {"Last-Modified": format_datetime(STARTED, usegmt=True)}
    return Response(body, media_type=XML, headers=headers)


@router.get("/availability", summary="VOSI availability", response_class=Response)
def tap_availability(services: Services) -> Response:
    available, note = services.tap_service().availability()
    return Response(docs.availability(available, note, STARTED), media_type=XML)


@router.get("/tables", summary="VOSI tables", response_class=Response)
def tap_tables(request: Request, services: Services, caller: Caller) -> Response:
    detail = request.query_params.get("detail", "").lower() != "min"
    tap = services.tap_service()
    tables = tap.tables(caller)
    return Response(docs.tableset(tap.schemas(tables), tables, detail=detail), media_type=XML)


@router.get("/tables/{name}", summary="VOSI table", response_class=Response)
def tap_table(name: str, services: Services, caller: Caller) -> Response:
    found = services.tap_service().table(name, caller)
    if found is None:
        raise NotFoundError(f"there is no table {name!r}; /tap/tables lists them")
    return Response(docs.table(found), media_type=XML)


@router.get("/examples", summary="DALI examples", response_class=Response)
def tap_examples(services: Services, caller: Caller) -> Response:
    names = {t.name for t in services.tap_service().tables(caller)}
    return Response(docs.examples(names), media_type="application/xhtml+xml")
