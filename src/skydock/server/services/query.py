"""Answering a query while the caller waits: translate, run, write in the asked format."""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Literal

from skydock.engine.catalog import TableMeta
from skydock.engine.executor import DuckDBExecutor, ExtraTable
from skydock.engine.formats import FORMATS, normalise_format
from skydock.errors import AuthenticationError, InvalidRequestError, SkydockError
from skydock.server.services.auth import ANONYMOUS, Principal
from skydock.server.services.mydb import URI_PREFIX, MyDBService
from skydock.server.services.storage import StorageService
from skydock.server.services.tap_schema import TapSchema

SPOOL_BYTES = 16 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Saved:
    """Where a result was saved (``vos://...`` or ``mydb://...``) and how many rows."""

    out: str
    rows: int
    overflow: bool


@dataclass
class QueryAnswer:
    """A finished result, spooled (memory first, disk past 16 MB), ready to stream."""

    media_type: str
    extension: str
    rows: int
    overflow: bool
    body: IO[bytes]

    def small_body(self) -> bytes | None:
        """The whole body when it is small enough to send in one piece (and then closed)."""
        self.body.seek(0, 2)
        if self.body.tell() > CHUNK_BYTES:
            return None
        self.body.seek(0)
        try:
            return self.body.read()
        finally:
            self.body.close()

    def chunks(self) -> Iterator[bytes]:
        try:
            self.body.seek(0)
            while chunk := self.body.read(CHUNK_BYTES):
                yield chunk
        finally:
            self.body.close()


@dataclass
class StreamedAnswer:
    """An Arrow IPC answer sent while it is produced; rows and overflow are in its trailer."""

    media_type: str
    extension: str
    chunks: Iterator[bytes]


class QueryService:
    """One computation behind every front door (native API now; Data Lab and TAP later)."""

    def __init__(
        self,
        executor: DuckDBExecutor,
        mydb: MyDBService | None = None,
        storage: StorageService | None = None,
        tap_schema: TapSchema | None = None,
    ) -> None:
        self._executor = executor
        self._timeout_limit_s: float | None = None
        self._mydb = mydb
        self._storage = storage
        self._tap_schema = tap_schema

    def with_timeout_limit(self, limit_s: float) -> QueryService:
        """This service allowing timeouts up to ``limit_s`` (async jobs outlast sync queries)."""
        clone = copy.copy(self)
        clone._timeout_limit_s = limit_s
        return clone

    def tables(self) -> list[TableMeta]:
        return self._executor.tables()

    def run(
        self,
        text: str,
        language: Literal["sql", "adql"] = "sql",
        fmt: str = "csv",
        *,
        principal: Principal = ANONYMOUS,
        max_rows: int | None = None,
        timeout_s: float | None = None,
        extra: Sequence[ExtraTable] = (),
        info: Mapping[str, str] | None = None,
    ) -> QueryAnswer:
        """Run the query and spool its result in ``fmt`` for the caller.

        ``extra`` tables (TAP uploads) exist for this query only; ``info`` becomes
        VOTable INFO elements (and the other formats' metadata).
        """
        name = normalise_format(fmt)
        cap = self._cap(max_rows)
        body = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - handed to the response
        try:
            with self._executor.execute(
                text,
                language,
                max_rows=cap,
                timeout_s=self._timeout(timeout_s),
                mydb_user=_mydb_user(principal),
                extra=[*self._extras(principal), *extra],
            ) as result:
                rows = result.write(name, body, info)
        except BaseException:
            body.close()
            raise
        spec = FORMATS[name]
        return QueryAnswer(spec.media_type, spec.extension, rows, result.overflow, body)

    @staticmethod
    def streams(fmt: str) -> bool:
        """Whether answers in ``fmt`` are streamed (Arrow: rows and overflow in a trailer)."""
        return normalise_format(fmt) == "arrow"

    def stream_arrow(
        self,
        text: str,
        language: Literal["sql", "adql"] = "sql",
        *,
        principal: Principal = ANONYMOUS,
        max_rows: int | None = None,
        timeout_s: float | None = None,
    ) -> StreamedAnswer:
        """Start the query (a bad one fails here, before any answer); stream its rows.

        Nothing is spooled: the first megabyte goes out while DuckDB is still producing
        the rest, which is what makes large transfers fast.
        """
        result = self._executor.execute(
            text,
            language,
            max_rows=self._cap(max_rows),
            timeout_s=self._timeout(timeout_s),
            mydb_user=_mydb_user(principal),
            extra=self._extras(principal),
        )

        def chunks() -> Iterator[bytes]:
            with result:
                yield from result.stream_arrow(_describe)

        spec = FORMATS["arrow"]
        return StreamedAnswer(spec.media_type, spec.extension, chunks())

    def save(
        self,
        text: str,
        language: Literal["sql", "adql"],
        fmt: str,
        out: str,
        *,
        principal: Principal,
        drop: bool = False,
        max_rows: int | None = None,
        timeout_s: float | None = None,
    ) -> Saved:
        """Run the query and store its result at ``out``: ``vos://path`` or ``mydb://table``."""
        if principal.anonymous:
            raise AuthenticationError(f"log in to save results to {out!r}")
        if out.strip().lower().startswith(URI_PREFIX) and self._mydb is not None:
            return self._save_mydb(
                text, language, out, principal, drop=drop, max_rows=max_rows, timeout_s=timeout_s
            )
        if self._storage is not None and _is_storage_uri(out):
            return self._save_file(
                text,
                language,
                fmt,
                out,
                principal,
                drop=drop,
                max_rows=max_rows,
                timeout_s=timeout_s,
            )
        scheme = out.split("://", 1)[0] if "://" in out else ""
        raise InvalidRequestError(
            f"cannot save results to {out!r}: scheme {scheme!r} is not available; "
            "use vos://path or mydb://table"
        )

    def _save_mydb(
        self,
        text: str,
        language: Literal["sql", "adql"],
        out: str,
        principal: Principal,
        *,
        drop: bool,
        max_rows: int | None,
        timeout_s: float | None,
    ) -> Saved:
        assert self._mydb is not None
        # Refuse an existing table before running a possibly long query.
        table = self._mydb.check_new(principal, out, drop=drop)
        with self._executor.execute(
            text,
            language,
            max_rows=self._cap(max_rows),
            timeout_s=self._timeout(timeout_s),
            mydb_user=principal.name,
            extra=self._extras(principal),
        ) as result:
            info = self._mydb.store(principal, table, result.schema, result.batches(), drop=drop)
        return Saved(f"{URI_PREFIX}{table}", info.rows, result.overflow)

    def _save_file(
        self,
        text: str,
        language: Literal["sql", "adql"],
        fmt: str,
        out: str,
        principal: Principal,
        *,
        drop: bool,
        max_rows: int | None,
        timeout_s: float | None,
    ) -> Saved:
        """Write the result into the caller's storage; an existing file needs ``drop``."""
        assert self._storage is not None
        name = normalise_format(fmt)
        # open_write refuses an existing file before the query runs, and commits the new
        # file only when the result was written completely.
        with (
            self._storage.open_write(principal, out, overwrite=drop) as sink,
            self._executor.execute(
                text,
                language,
                max_rows=self._cap(max_rows),
                timeout_s=self._timeout(timeout_s),
                mydb_user=principal.name,
                extra=self._extras(principal),
            ) as result,
        ):
            rows = result.write(name, sink)
        return Saved(out, rows, result.overflow)

    def _extras(self, principal: Principal) -> list[ExtraTable]:
        """TAP_SCHEMA, describing the catalogs and the caller's own MyDB tables."""
        if self._tap_schema is None:
            return []
        return self._tap_schema.extra_tables(_mydb_user(principal))

    @property
    def max_rows(self) -> int | None:
        """The most rows any answer holds (the server's hard limit)."""
        return self._executor.limits.max_rows

    def _cap(self, max_rows: int | None) -> int | None:
        cap = self._executor.limits.max_rows
        if max_rows is not None:
            cap = min(max_rows, cap) if cap is not None else max_rows
        return cap

    def _timeout(self, timeout_s: float | None) -> float:
        limit = self._timeout_limit_s or self._executor.limits.timeout_s
        if timeout_s is None or timeout_s <= 0:
            return limit
        return min(timeout_s, limit)


def _mydb_user(principal: Principal) -> str | None:
    return None if principal.anonymous else principal.name


def _is_storage_uri(out: str) -> bool:
    """``vos://path`` or ``<user>://path`` (a write elsewhere is refused by the storage)."""
    scheme, sep, _ = out.partition("://")
    return bool(sep) and scheme.lower() != URI_PREFIX.removesuffix("://") and scheme.isidentifier()


def _describe(exc: Exception) -> str:
    """What a reader of a stream cut short is told."""
    return exc.message if isinstance(exc, SkydockError) else f"the query failed: {exc}"
