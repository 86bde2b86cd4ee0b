"""The one place where errors become responses.

Data Lab routes answer ``Error: <message>`` as plain text (the client shows the body
and ignores JSON); TAP, SIA and SODA routes answer a VOTable error document (``QUERY_STATUS=ERROR``,
no TABLE; an illegal UWS state change is a 403, a bad sync query a 400); the native API
answers ``{"error": code, "message": ...}``. Anything
that is not a SkydockError is a bug: it is logged with an incident id and the caller
gets a 500 naming that id, never a traceback.
"""

from __future__ import annotations

import logging
import secrets

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from skydock.errors import SkydockError
from skydock.server.handlers.datalab import is_datalab_path
from skydock.server.services.tap_documents import error_votable

log = logging.getLogger("skydock.server")


def render(request: Request, status: int, code: str, message: str) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    path = request.url.path
    if is_datalab_path(path):
        return PlainTextResponse(f"Error: {message}", status_code=status, headers=headers)
    if path in ("/tap", "/sia", "/soda") or path.startswith(("/tap/", "/sia/", "/soda/")):
        if status == 409:
            status = 403
        elif status == 404 and path.rstrip("/") in ("/tap/sync", "/tap/async"):
            status = 400  # an unknown table in a query, not a missing resource
        return Response(
            error_votable(message),
            status_code=status,
            headers=headers,
            media_type="application/x-votable+xml",
        )
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(SkydockError)
    async def skydock_error(request: Request, exc: SkydockError) -> Response:
        return render(request, exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return render(request, 400, "bad_request", _describe(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        incident = secrets.token_hex(4)
        log.exception("incident %s on %s %s", incident, request.method, request.url.path)
        return render(
            request,
            500,
            "internal_error",
            f"internal error (incident {incident}); the administrator can find it in the log",
        )


def _describe(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "body", "form"))
        parts.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"
