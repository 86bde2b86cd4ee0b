"""Native authentication and account API: ``/api/auth`` and ``/api/users``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request

from skydock.errors import AuthenticationError, PermissionDeniedError
from skydock.server.handlers.deps import Caller, Services, request_token
from skydock.server.services.auth import Principal, UserInfo

router = APIRouter(prefix="/api", tags=["auth"])


def _require_admin(caller: Principal) -> None:
    if caller.anonymous:
        raise AuthenticationError("log in as an administrator first")
    if not caller.admin:
        raise PermissionDeniedError(f"user {caller.name!r} is not an administrator")


def _user(info: UserInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "uid": info.uid,
        "admin": info.admin,
        "disabled": info.disabled,
        "created_at": info.created_at.isoformat(),
        "expires_at": info.expires_at.isoformat() if info.expires_at else None,
    }


@router.post("/auth/login", summary="Log in", description="Exchange a password for a token.")
def login(
    services: Services,
    username: Annotated[str, Form(min_length=1)],
    password: Annotated[str, Form(min_length=1)],
) -> dict[str, str]:
    token = services.auth_service().login(username, password)
    return {"username": username, "token": token}


@router.post("/auth/logout", summary="Log out", description="Revoke the token sent with it.")
def logout(services: Services, request: Request) -> dict[str, str]:
    token = request_token(request)
    if not token:
        raise AuthenticationError("send the token to revoke as 'Authorization: Bearer <token>'")
    services.auth_service().logout(token)
    return {"status": "logged out"}


@router.get("/auth/whoami", summary="Who am I", description="The caller the token stands for.")
def whoami(caller: Caller) -> dict[str, Any]:
    return {"username": caller.name, "anonymous": caller.anonymous, "admin": caller.admin}


@router.get("/users", summary="List users (admin)")
def list_users(caller: Caller, services: Services) -> list[dict[str, Any]]:
    _require_admin(caller)
    return [_user(u) for u in services.auth_service().list_users()]


@router.post("/users", summary="Add a user (admin)", status_code=201)
def add_user(
    caller: Caller,
    services: Services,
    name: Annotated[str, Form(min_length=1)],
    password: Annotated[str, Form(min_length=1)],
    admin: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    _require_admin(caller)
    return _user(services.auth_service().add_user(name, password, admin=admin))


@router.post(
    "/users/{name}/token",
    summary="Issue a token for a user (admin)",
    description="For unattended work: the notebook server of a user, a test run as a user.",
)
def issue_token(caller: Caller, services: Services, name: str) -> dict[str, str]:
    _require_admin(caller)
    return {"username": name, "token": services.auth_service().issue_token(name, label="admin")}
