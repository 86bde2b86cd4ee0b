"""IVOA SIA v2 (``/sia``) and SODA sync cutouts (``/soda/sync``).

``/sia/capabilities`` names ``/sia/query`` as the SIA 2.0 query interface, which is how
pyvo's ``SIA2Service(base)`` finds it. Errors on these paths are VOTable documents
(``handlers/errors.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from skydock.server.handlers.deps import Caller, Services
from skydock.server.handlers.tap import tap_base
from skydock.server.services import tap_documents as docs

router = APIRouter(tags=["images"])
STARTED = datetime.now(UTC)
VOTABLE = "application/x-votable+xml"
SIA2 = "ivo://ivoa.net/std/SIA#query-2.0"
SODA = "ivo://ivoa.net/std/SODA#sync-1.0"


def base_url(request: Request) -> str:
    """The server's root URL as the client reached it (TAP's logic, without ``/tap``)."""
    return tap_base(request).removesuffix("/tap")


async def _pairs(request: Request) -> list[tuple[str, str]]:
    pairs = list(request.query_params.multi_items())
    if request.method == "POST":
        form = await request.form()
        pairs += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    return pairs


def capabilities_xml(base: str) -> str:
    caps = [
        (SIA2, f"{base}/sia/query", ' version="2.0"', "std"),
        (SODA, f"{base}/soda/sync", ' version="1.0"', "std"),
        ("ivo://ivoa.net/std/VOSI#capabilities", f"{base}/sia/capabilities", "", ""),
        ("ivo://ivoa.net/std/VOSI#availability", f"{base}/sia/availability", "", ""),
    ]
    body = "".join(
        f'<capability standardID="{sid}"><interface xsi:type="vs:ParamHTTP"'
        + (f' role="{role}"' if role else "")
        + f'{version}><accessURL use="base">{escape(url)}</accessURL></interface></capability>\n'
        for sid, url, version, role in caps
    )
    return (
        docs.XML_HEAD
        + '<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0" '
        'xmlns:vr="http://www.ivoa.net/xml/VOResource/v1.0" '
        'xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1" '
        f'xmlns:xsi="{docs.XSI_NS}">\n' + body + "</vosi:capabilities>\n"
    )


@router.get("/sia/capabilities", summary="VOSI capabilities of the SIA v2 service")
def sia_capabilities(request: Request) -> Response:
    return Response(capabilities_xml(base_url(request)), media_type="application/xml")


@router.get("/sia/availability", summary="VOSI availability of the SIA v2 service")
def sia_availability(services: Services) -> Response:
    available, note = services.image_service().availability()
    return Response(docs.availability(available, note, STARTED), media_type="application/xml")


@router.api_route(
    "/sia/query",
    methods=["GET", "POST"],
    summary="Search images (SIA v2)",
    description="POS (CIRCLE/RANGE/POLYGON), BAND (m), TIME (MJD), COLLECTION, ID, FOV, "
    "SPATRES, EXPTIME, MAXREC; answers an ObsCore VOTable with a SODA cutout descriptor.",
    response_class=Response,
)
async def sia_query(request: Request, services: Services, caller: Caller) -> Response:
    pairs = await _pairs(request)
    service = services.image_service()
    base = base_url(request)

    def answer() -> bytes:
        found = service.search(pairs)
        return service.votable(
            found, file_url=f"{base}/api/images/files", soda_url=f"{base}/soda/sync"
        )

    body = await run_in_threadpool(answer)  # file and WCS work stays off the event loop
    return Response(body, media_type=VOTABLE)


@router.api_route(
    "/soda/sync",
    methods=["GET", "POST"],
    summary="Cut out part of an image (SODA sync)",
    description="ID (obs_publisher_did) and one of CIRCLE='ra dec r', POLYGON='ra dec ...' "
    "or POS; answers FITS with the cutout's WCS.",
    response_class=Response,
)
async def soda_sync(request: Request, services: Services, caller: Caller) -> Response:
    pairs = await _pairs(request)
    picture = await run_in_threadpool(services.image_service().soda_cutout, pairs)
    headers = {"Content-Disposition": f'inline; filename="{picture.filename}"'}
    return Response(picture.body, media_type=picture.media_type, headers=headers)
