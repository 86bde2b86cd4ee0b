"""``Client``: one server, one token; queries, jobs, storage and MyDB."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pyarrow as pa

from skydock.client.config import store_token
from skydock.client.convert import (
    BINARY_FORMATS,
    TABLE_FORMATS,
    canonical,
    convert,
    read_arrow,
    read_arrow_stream,
)
from skydock.client.errors import AuthError, BadRequestError, QueryError, ServiceConnectionError
from skydock.client.images import ImageMethods
from skydock.client.jobs import Job
from skydock.client.mydb import MyDBMethods
from skydock.client.spectra import SpectraMethods
from skydock.client.storage import StorageMethods
from skydock.client.transport import Transport, read_body

CHUNK = 1024 * 1024
REMOTE_SCHEMES = ("vos://", "mydb://")


class ResultOverflowWarning(UserWarning):
    """The result stopped at ``maxrec`` or the server's row cap; more rows matched."""


class Client(StorageMethods, MyDBMethods, SpectraMethods, ImageMethods, Transport):
    """A connection to one Skydock server.

    ``Client()`` finds the server in ``url=``, ``SKYDOCK_URL``, ``~/.skydock/config.json``
    (written by ``login``), else ``http://127.0.0.1:8000``; and the token in ``token=``,
    ``SKYDOCK_TOKEN``, the file named by ``SKYDOCK_TOKEN_FILE``, else the one ``login``
    stored for that server. Without a token the client is anonymous: public catalogs only.
    """

    # -- auth ------------------------------------------------------------------------

    def login(self, user: str, password: str, *, save: bool = True) -> str:
        """Exchange a password for a token; with ``save`` keep it for this server's URL."""
        answer = self._json(
            "POST", "/api/auth/login", data={"username": user, "password": password}
        )
        self.token = str(answer["token"])
        if save:
            store_token(self.url, self.token)
        return self.token

    def logout(self, *, forget: bool = True) -> None:
        """Revoke the token on the server and, with ``forget``, drop the stored copy."""
        if not self.token:
            raise AuthError("not logged in: there is no token to revoke", status=401)
        try:
            self._json("POST", "/api/auth/logout")
        finally:
            if forget:
                store_token(self.url, None)
            self.token = None

    def whoami(self) -> dict[str, Any]:
        """``{"username", "anonymous", "admin"}`` for the current token."""
        answer: dict[str, Any] = self._json("GET", "/api/auth/whoami")
        return answer

    def tables(self) -> list[dict[str, Any]]:
        """The catalog tables with their columns (units, UCDs, descriptions)."""
        answer: list[dict[str, Any]] = self._json("GET", "/api/tables")
        return answer

    # -- queries ---------------------------------------------------------------------

    def query(
        self,
        sql: str | None = None,
        adql: str | None = None,
        fmt: str = "pandas",
        *,
        maxrec: int | None = None,
        timeout: float | None = None,
        out: str | Path | None = None,
        drop: bool = False,
    ) -> Any:
        """Run one query and return its result as ``fmt``.

        Table formats (``pandas``, ``table`` = astropy with units, ``polars``, ``arrow``,
        ``array``, ``structarray``) travel as Arrow IPC and are converted here; ``csv``,
        ``tsv``/``ascii``, ``votable``, ``votable-binary2`` and ``json`` come back as
        ``str``, ``fits`` and ``parquet`` as ``bytes``. ``out='vos://path'`` or
        ``'mydb://table'`` saves on the server; any other ``out`` is a local file the
        result is streamed to. Both return ``{"rows", "overflow", "out"}``.
        """
        data = self._query_form(sql, adql, fmt, maxrec=maxrec, out=out, drop=drop)
        data["timeout"] = timeout
        wanted = canonical(fmt)
        read_timeout = None if timeout is None else timeout + 60
        if out is not None and str(out).startswith(REMOTE_SCHEMES):
            return self._json("POST", "/api/query", data=_form(data), read_timeout=read_timeout)
        if out is not None:
            if wanted in TABLE_FORMATS and wanted != "arrow":
                raise BadRequestError(
                    f"a local out= file needs a file format, not {fmt!r}: "
                    "csv, tsv, votable, votable-binary2, fits, parquet, arrow or json"
                )
            return self._query_to_file(data, Path(out), read_timeout)
        response = self._send(
            "POST", "/api/query", data=_form(data), read_timeout=read_timeout, stream=True
        )
        body = read_body(response)
        overflow = response.headers.get("X-Skydock-Overflow", "false").lower() == "true"
        table = None
        if response.headers.get("X-Skydock-Streamed") == "true":
            table, trailer = read_arrow_stream(pa.py_buffer(body))
            overflow = _check_trailer(trailer)
        if overflow:
            rows = response.headers.get("X-Skydock-Rows", "?") if table is None else table.num_rows
            warnings.warn(
                f"the result stopped at {rows} rows (maxrec or the server's row cap); "
                "more rows matched",
                ResultOverflowWarning,
                stacklevel=2,
            )
        if wanted in TABLE_FORMATS:
            return convert(
                table if table is not None else read_arrow(body), wanted, overflow=overflow
            )
        if wanted in BINARY_FORMATS:
            return body
        return body.decode("utf-8")

    def _query_form(
        self,
        sql: str | None,
        adql: str | None,
        fmt: str,
        *,
        maxrec: int | None,
        out: str | Path | None,
        drop: bool,
    ) -> dict[str, Any]:
        if (sql is None) == (adql is None):
            raise BadRequestError("give the query as sql='...' or adql='...' (one of them)")
        wanted = canonical(fmt)
        server_fmt = "arrow" if wanted in TABLE_FORMATS else wanted
        remote_out = str(out) if out is not None and str(out).startswith(REMOTE_SCHEMES) else None
        return {
            "q": sql if sql is not None else adql,
            "lang": "sql" if sql is not None else "adql",
            "format": server_fmt,
            "maxrec": maxrec,
            "out": remote_out,
            "drop": drop,
        }

    def _query_to_file(
        self, data: dict[str, Any], path: Path, read_timeout: float | None
    ) -> dict[str, Any]:
        tmp = path.with_name(path.name + ".part")
        response = self._send(
            "POST", "/api/query", data=_form(data), stream=True, read_timeout=read_timeout
        )
        try:
            with tmp.open("wb") as sink:
                for chunk in response.iter_bytes(CHUNK):
                    sink.write(chunk)
            tmp.replace(path)
        finally:
            response.close()
            tmp.unlink(missing_ok=True)
        if response.headers.get("X-Skydock-Streamed") == "true":
            with pa.memory_map(str(path)) as source:
                table, trailer = read_arrow_stream(source)
            return {"rows": table.num_rows, "overflow": _check_trailer(trailer), "out": str(path)}
        return {
            "rows": int(response.headers.get("X-Skydock-Rows", "0")),
            "overflow": response.headers.get("X-Skydock-Overflow", "false").lower() == "true",
            "out": str(path),
        }

    # -- async jobs ------------------------------------------------------------------

    def submit(
        self,
        sql: str | None = None,
        adql: str | None = None,
        fmt: str = "pandas",
        *,
        maxrec: int | None = None,
        out: str | None = None,
        drop: bool = False,
        run_id: str | None = None,
        execution_duration: float | None = None,
    ) -> Job:
        """Start an async job; ``fmt`` is what ``Job.result()`` gives by default."""
        if out is not None and not str(out).startswith(REMOTE_SCHEMES):
            raise BadRequestError(f"a job saves to vos://path or mydb://table, not {out!r}")
        data = self._query_form(sql, adql, fmt, maxrec=maxrec, out=out, drop=drop)
        data["run_id"] = run_id
        data["execution_duration"] = execution_duration
        info = self._json("POST", "/api/jobs", data=_form(data))
        return Job(self, info, canonical(fmt))

    def job(self, job_id: str) -> Job:
        """An existing job by id."""
        return Job(self, self._json("GET", f"/api/jobs/{job_id}"))

    def jobs(self, phase: str | None = None, limit: int | None = None) -> list[Job]:
        """Your jobs, newest first as the server lists them; ``phase`` filters."""
        params = _form({"phase": phase, "limit": limit})
        return [Job(self, info) for info in self._json("GET", "/api/jobs", params=params)]


def _form(data: dict[str, Any]) -> dict[str, str]:
    """Form fields as text; ``None`` left out, booleans as ``true``/``false``."""
    out = {}
    for key, value in data.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def _check_trailer(trailer: dict[str, str]) -> bool:
    """The overflow flag of a streamed answer; a stream the server cut short raises."""
    if "skydock.error" in trailer:
        raise QueryError(f"the query failed while its rows were sent: {trailer['skydock.error']}")
    if "skydock.overflow" not in trailer:
        raise ServiceConnectionError("the answer ended before its last record batch; try again")
    return trailer["skydock.overflow"] == "true"
