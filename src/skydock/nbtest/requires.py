"""What a notebook's ``requires`` entries mean, checked against the platform over HTTP.

- ``service:NAME``: the platform at ``SKYDOCK_URL`` answers NAME's probe route with
  anything but 404 (a 401 means the service is there and wants a login). Names:
  ``api``/``query``, ``auth``, ``jobs``, ``mydb``, ``storage``, ``tap``, ``datalab``.
- ``table:SCHEMA.NAME``: ``/api/tables`` lists it for the token the run uses.
- ``env:VAR``: the variable is set (and not empty) in the environment kernels inherit.
- ``module:NAME``: the kernel can import NAME (checked inside the kernel once it starts).

An absent requirement makes the notebook SKIP with the reason; an entry the runner does
not understand is an ERROR, so a typo cannot silently skip a notebook forever.
"""

from __future__ import annotations

import os
import threading

import httpx

from skydock.nbtest.notebook import BadNotebookError

PROBES = {
    "api": "/api/tables",
    "query": "/api/tables",
    "auth": "/api/auth/whoami",
    "jobs": "/api/jobs",
    "mydb": "/api/mydb",
    "storage": "/api/storage/quota",
    "tap": "/tap/availability",
    "datalab": "/query/profiles",
}
KINDS = ("service", "table", "env", "module")


class Platform:
    """The server at ``url``, asked once per service or table list and remembered."""

    def __init__(self, url: str, token: str | None, timeout: float = 10.0) -> None:
        self.url = url
        self.token = token
        self.timeout = timeout
        self._lock = threading.Lock()
        self._services: dict[str, str | None] = {}
        self._tables: set[str] | None = None
        self._tables_error: str | None = None

    def _get(self, path: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.get(self.url + path, headers=headers, timeout=self.timeout)

    def service_missing(self, name: str) -> str | None:
        """``None`` when the service answers, else why not."""
        with self._lock:
            if name not in self._services:
                path = PROBES[name]
                try:
                    status = self._get(path).status_code
                except httpx.HTTPError as exc:
                    self._services[name] = f"no Skydock server answers at {self.url} ({exc})"
                else:
                    self._services[name] = (
                        f"service {name} is not offered by {self.url} ({path} answers 404)"
                        if status == 404
                        else None
                    )
            return self._services[name]

    def table_missing(self, table: str) -> str | None:
        with self._lock:
            if self._tables is None and self._tables_error is None:
                try:
                    r = self._get("/api/tables")
                    r.raise_for_status()
                    self._tables = {str(t["name"]).lower() for t in r.json()}
                except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                    self._tables_error = f"cannot list the tables at {self.url}: {exc}"
            if self._tables_error:
                return self._tables_error
            assert self._tables is not None
            if table.lower() in self._tables:
                return None
            return f"table {table} is not at {self.url}"


def split(requirement: str) -> tuple[str, str]:
    kind, sep, value = requirement.partition(":")
    kind, value = kind.strip().lower(), value.strip()
    if not sep or kind not in KINDS or not value:
        raise BadNotebookError(
            f"requirement {requirement!r} not understood; use one of "
            "service:NAME, table:SCHEMA.NAME, env:VAR, module:NAME"
        )
    if kind == "service" and value.lower() not in PROBES:
        raise BadNotebookError(
            f"unknown service {value!r} in requires; known: {', '.join(sorted(PROBES))}"
        )
    return kind, value


def check(requires: list[str], platform: Platform, env: dict[str, str] | None = None) -> str | None:
    """The first absent requirement's reason (``module:`` entries are left to the kernel)."""
    env = os.environ if env is None else env  # type: ignore[assignment]
    assert env is not None
    for req in requires:
        kind, value = split(req)
        if kind == "service":
            reason = platform.service_missing(value.lower())
        elif kind == "table":
            reason = platform.table_missing(value)
        elif kind == "env":
            reason = None if env.get(value) else f"environment variable {value} is not set"
        else:
            continue
        if reason:
            return reason
    return None


def modules(requires: list[str]) -> list[str]:
    return [value for kind, value in (split(r) for r in requires) if kind == "module"]


MODULE_CHECK = """\
import importlib.util as _u, json as _j
print(_j.dumps([_m for _m in {mods!r} if _u.find_spec(_m) is None]))
del _u, _j
"""
