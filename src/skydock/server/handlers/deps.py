"""What every handler needs from a request: the caller and the services."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from skydock.server.factory import Factory
from skydock.server.services.auth import Principal

BEARER = "bearer "
DATALAB_TOKEN_HEADER = "X-DL-AuthToken"


def factory(request: Request) -> Factory:
    f: Factory = request.app.state.factory
    return f


def request_token(request: Request) -> str | None:
    """The token a request carries: ``Authorization: Bearer`` or the Data Lab header."""
    auth = request.headers.get("authorization", "")
    if auth[: len(BEARER)].lower() == BEARER:
        return auth[len(BEARER) :].strip() or None
    return request.headers.get(DATALAB_TOKEN_HEADER) or None


def principal(request: Request) -> Principal:
    """The caller; anonymous without a token, a 401 for a bad one."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is None:
        cached = factory(request).auth_service().authenticate(request_token(request))
        request.state.principal = cached
    return cached


Caller = Annotated[Principal, Depends(principal)]
Services = Annotated[Factory, Depends(factory)]
