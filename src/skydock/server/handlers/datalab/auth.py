"""Data Lab ``/auth``: login, token checks and logout as plain text."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from skydock.errors import AuthenticationError, PermissionDeniedError, SkydockError
from skydock.server.handlers.datalab.common import (
    boolean,
    error_text,
    hello_routes,
    required,
    text,
)
from skydock.server.handlers.deps import Services, request_token
from skydock.server.services.auth import FIXED_TOKENS

router = APIRouter(prefix="/auth", include_in_schema=False)
hello_routes(router, "authentication")


@router.get("/login")
def login(services: Services, request: Request, username: str | None = None) -> Response:
    password = request.headers.get("X-DL-Password")
    try:
        name = required(username, "username")
        if not password:
            raise AuthenticationError("No password supplied")
        return text(services.auth_service().login(name, password))
    except SkydockError as exc:
        return text(error_text(exc), exc.status)


@router.get("/isValidToken")
def is_valid_token(services: Services, token: str | None = None) -> Response:
    if token in FIXED_TOKENS:
        return boolean(True)
    return boolean(services.auth_service().token_is_live(token))


@router.get("/isTokenLoggedIn")
def is_token_logged_in(services: Services, token: str | None = None) -> Response:
    return boolean(services.auth_service().token_is_live(token))


@router.get("/isValidUser")
def is_valid_user(services: Services, user: str | None = None) -> Response:
    # 'vos' is the storage scheme of the caller's own space; the client's
    # vospace_readable_fileobj asks whether it is a user before reading vos:// names.
    if user == "vos":
        return boolean(True)
    return boolean(bool(user) and services.auth_service().user_exists(user or ""))


@router.get("/isValidPassword")
def is_valid_password(
    services: Services, user: str | None = None, password: str | None = None
) -> Response:
    if not user or not password:
        return boolean(False)
    return boolean(services.auth_service().check_password(user, password))


@router.get("/isUserLoggedIn")
def is_user_logged_in(services: Services, user: str | None = None) -> Response:
    return boolean(bool(user) and services.auth_service().user_logged_in(user or ""))


@router.get("/hasAccess")
def has_access(
    services: Services, user: str | None = None, resource: str | None = None
) -> Response:
    return boolean(bool(user) and services.auth_service().user_exists(user or ""))


@router.get("/logout")
def logout(services: Services, request: Request, token: str | None = None) -> Response:
    tok = token or request_token(request)
    try:
        services.auth_service().logout(required(tok, "token"))
    except SkydockError as exc:
        return text(error_text(exc), exc.status)
    return text("OK")


@router.get("/passwordReset")
def password_reset(
    services: Services, request: Request, token: str | None = None, username: str | None = None
) -> Response:
    auth = services.auth_service()
    try:
        caller = auth.authenticate(token or request_token(request))
        name = required(username, "username")
        password = required(request.headers.get("X-DL-Password"), "X-DL-Password header")
        if caller.name != name and not caller.admin:
            raise PermissionDeniedError("only the user or an administrator may reset a password")
        auth.set_password(name, password)
        return text(auth.issue_token(name, label="login"))
    except SkydockError as exc:
        return text(error_text(exc), exc.status)
