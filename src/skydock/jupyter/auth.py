"""``SkydockAuthenticator``: JupyterHub logins checked against Skydock accounts."""

from __future__ import annotations

from typing import Any

from jupyterhub.auth import Authenticator
from tornado import web
from traitlets import Unicode

from skydock.jupyter.api import HubApiError, SkydockApi


class SkydockAuthenticator(Authenticator):
    """Accepts exactly the username and password the Skydock API accepts.

    The check goes to ``/api/auth/login``, so the hub shares the API's argon2 hashes,
    disabled and expired accounts, and its lockout after repeated failures: guessing
    through the hub's form counts against the same limit as guessing through the API.
    """

    api_url = Unicode(
        "http://127.0.0.1:8000",
        config=True,
        help="Skydock API base URL as the hub reaches it (often an internal address).",
    )

    async def authenticate(self, handler: Any, data: dict[str, str]) -> str | None:
        username = (data.get("username") or "").strip()
        password = data.get("password") or ""
        if not username or not password:
            return None
        try:
            result = await SkydockApi(self.api_url).check_password(username, password)
        except HubApiError as exc:
            self.log.error("login check failed: %s", exc)
            raise web.HTTPError(503, "The Skydock API is not answering; try again soon.") from exc
        if result.ok:
            return username
        if result.status == 429:
            # Say so, rather than the generic "invalid": a locked-out user should wait.
            self.log.warning("login for %s refused: throttled", username)
            raise web.HTTPError(429, result.message)
        self.log.info("login for %s refused (%s)", username, result.status)
        return None
