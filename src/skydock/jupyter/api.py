"""The few Skydock API calls the hub makes, over HTTP with httpx.

The hub holds no password database and no token store of its own: passwords are checked
by ``/api/auth/login`` (argon2 and the lockout live there, shared with every other way
in), and a user's notebook token is issued by ``/api/users/{name}/token`` with the hub's
own administrator token.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import httpx

TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class HubApiError(Exception):
    """The API refused or could not be reached; the message is safe to log."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a password check: ``ok``, or ``status`` and a reason to show."""

    ok: bool
    status: int
    message: str


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("detail") or body)[:200]
    return str(body)[:200]


class SkydockApi:
    """An async client for the hub's side of the API (one per call site, cheap)."""

    def __init__(self, base_url: str, admin_token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.admin_token = admin_token

    async def check_password(self, username: str, password: str) -> LoginResult:
        """Log in and immediately log out: the hub only needs the yes or no."""
        async with httpx.AsyncClient(base_url=self.base_url, timeout=TIMEOUT) as http:
            try:
                r = await http.post(
                    "/api/auth/login", data={"username": username, "password": password}
                )
            except httpx.HTTPError as exc:
                raise HubApiError(f"Skydock API at {self.base_url} unreachable: {exc}") from exc
            if r.status_code != 200:
                return LoginResult(False, r.status_code, _message(r))
            token = r.json()["token"]
            await http.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
            return LoginResult(True, 200, "")

    async def issue_token(self, username: str) -> str:
        """A fresh token for ``username``, issued with the hub's administrator token."""
        if not self.admin_token:
            raise HubApiError("the hub has no Skydock administrator token (SKYDOCK_HUB_API_TOKEN)")
        async with httpx.AsyncClient(base_url=self.base_url, timeout=TIMEOUT) as http:
            try:
                r = await http.post(
                    f"/api/users/{username}/token",
                    headers={"Authorization": f"Bearer {self.admin_token}"},
                )
            except httpx.HTTPError as exc:
                raise HubApiError(f"Skydock API at {self.base_url} unreachable: {exc}") from exc
        if r.status_code != 200:
            raise HubApiError(
                f"could not issue a token for {username!r}: {_message(r)}", r.status_code
            )
        token: str = r.json()["token"]
        return token

    async def revoke(self, token: str) -> None:
        """Log a notebook token out (the server it was made for has stopped)."""
        async with httpx.AsyncClient(base_url=self.base_url, timeout=TIMEOUT) as http:
            with contextlib.suppress(httpx.HTTPError):  # unrevoked, it still expires
                await http.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
