"""Runs validated queries on DuckDB and hands back Arrow record batches.

One long-lived in-memory DuckDB database per executor: every catalog's serving file is
attached read-only (translated SQL names the attached table directly), the spatial helper
functions are registered, and then the configuration is locked with external access off.
Each query runs on its own cursor (a connection to that same database), so several
queries can run at once and one can be interrupted without disturbing the others.

A user's MyDB is one DuckDB file under the MyDB root (an allowed directory), attached
read-write as ``mydb__<user>`` the first time that user needs it and kept attached. DuckDB
lets only one database instance in a process hold a file, so every MyDB access, reads and
the service's writes alike, goes through this executor's database.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from skydock.engine import spatial
from skydock.engine.catalog import (
    HEALPIX_COLUMN,
    MYDB_SCHEMA,
    SERVING_TABLE,
    CatalogStore,
    ColumnMeta,
    TableMeta,
)
from skydock.engine.formats import Writable, stream_result_arrow, write_result
from skydock.engine.sql import Language, Translation, translate
from skydock.errors import (
    ConflictError,
    QueryAbortedError,
    QueryExecutionError,
    QueryTimeoutError,
    SkydockError,
)

BATCH_ROWS = 65_536
# Where DuckDB spills large sorts and joins, relative to the data directory.
SPILL_DIR = Path("tmp") / "duckdb"
# How long an abort keeps interrupting a query that has not stopped yet.
CANCEL_PERSIST_S = 60.0
# A MyDB table's comment naming its position columns once it has been sorted by HEALPix
# cell (``_healpix_29`` added): ``skydock:position=ra,dec``.
POSITION_COMMENT = "skydock:position="
_MYDB_USER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# How long a MyDB file may stay held by a connection left behind by a catalog change.
_ATTACH_WAIT_S = 5.0


@dataclass(frozen=True)
class Limits:
    """What one query may use. ``max_rows=None`` means no row cap."""

    timeout_s: float = 600.0
    max_rows: int | None = None
    memory_limit: str = "4GB"
    threads: int | None = None
    temp_directory: Path | None = None


class Cancellation:
    """Lets another thread stop every query started inside :meth:`scope`.

    An async job runs its query through the query service (which may run more than one
    statement, e.g. to save into MyDB); the job's abort reaches those queries through
    this scope instead of a parameter threaded through every service signature.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._cursors: list[duckdb.DuckDBPyConnection] = []

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        """Interrupt the running queries and refuse to start new ones.

        DuckDB forgets an interrupt that arrives before its query has begun, so the
        interrupt is repeated until every watched cursor has closed.
        """
        with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
        threading.Thread(target=self._interrupt, name="skydock-cancel", daemon=True).start()

    def _interrupt(self) -> None:
        deadline = time.monotonic() + CANCEL_PERSIST_S
        while time.monotonic() < deadline:
            with self._lock:
                cursors = list(self._cursors)
            if not cursors:
                return
            for cursor in cursors:
                with contextlib.suppress(Exception):
                    cursor.interrupt()
            time.sleep(0.05)

    @contextlib.contextmanager
    def scope(self) -> Iterator[Cancellation]:
        token = _CANCELLATION.set(self)
        try:
            yield self
        finally:
            _CANCELLATION.reset(token)

    def _watch(self, cursor: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            if not self._cancelled:
                self._cursors.append(cursor)
                return
        raise _aborted()

    def _forget(self, cursor: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            self._cursors = [c for c in self._cursors if c is not cursor]


_CANCELLATION: contextvars.ContextVar[Cancellation | None] = contextvars.ContextVar(
    "skydock_cancellation", default=None
)


@dataclass
class QueryResult:
    """A running query: its schema now, its rows as they are fetched.

    ``overflow`` becomes true once the row cap cut the result short; it is final after
    the batches have been consumed.
    """

    schema: pa.Schema
    columns: list[ColumnMeta | None]
    translation: Translation
    max_rows: int | None
    _reader: pa.RecordBatchReader | _RenamingReader
    _cursor: duckdb.DuckDBPyConnection
    _alarm: _Alarm
    _limit_s: float
    _cancel: Cancellation | None = None
    overflow: bool = False
    rows: int = 0
    _closed: bool = field(default=False, repr=False)

    def batches(self) -> Iterator[pa.RecordBatch]:
        # The query's own LIMIT when the translator lifted it: reaching it is no overflow.
        limit = self.translation.limit
        if limit is not None and self.max_rows is not None and limit > self.max_rows:
            limit = None
        try:
            while True:
                if limit is not None and self.rows >= limit:
                    return
                try:
                    batch = self._reader.read_next_batch()
                except StopIteration:
                    return
                if limit is not None and self.rows + batch.num_rows > limit:
                    batch = batch.slice(0, limit - self.rows)
                if self.max_rows is not None and self.rows + batch.num_rows > self.max_rows:
                    keep = self.max_rows - self.rows
                    self.overflow = True
                    if keep > 0:
                        self.rows += keep
                        yield batch.slice(0, keep)
                    return
                self.rows += batch.num_rows
                yield batch
        except duckdb.InterruptException as exc:
            raise _interrupted(self._limit_s, self._cancel) from exc
        except duckdb.Error as exc:
            raise QueryExecutionError(_clean_message(exc)) from exc
        finally:
            self.close()

    def write(self, fmt: str, out: Writable, info: Mapping[str, str] | None = None) -> int:
        """Stream every row into ``out`` in format ``fmt``; returns the rows written."""
        return write_result(
            fmt,
            self.schema,
            self.batches(),
            out,
            columns=self.columns,
            overflow=_OverflowFlag(self),
            info=info,
        )

    def stream_arrow(self, describe: Callable[[Exception], str] = str) -> Iterator[bytes]:
        """The rows as an Arrow IPC stream in pieces, produced as they are read; the row
        count, the overflow flag or a late error travel in a trailing empty batch."""
        return stream_result_arrow(
            self.schema,
            self.batches(),
            columns=self.columns,
            overflow=_OverflowFlag(self),
            describe=describe,
        )

    def to_table(self) -> pa.Table:
        return pa.Table.from_batches(list(self.batches()), schema=self.schema)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._alarm.cancel()
        if self._cancel is not None:
            self._cancel._forget(self._cursor)
        with contextlib.suppress(duckdb.Error):
            self._cursor.close()
        # The reader keeps the query's result, and so the files it read, open until it
        # is gone; a MyDB file must be free for another connection to attach it.
        if isinstance(self._reader, _RenamingReader):
            self._reader.release()

    def __enter__(self) -> QueryResult:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class ExtraTable:
    """A table that exists for one query only (TAP_SCHEMA, a TAP upload): its metadata
    for the translator and its rows, registered on that query's own cursor.

    ``data`` may be a function, called only when the query actually names the table.
    """

    meta: TableMeta
    data: pa.Table | Callable[[], pa.Table]

    @property
    def view(self) -> str:
        return f"extra__{self.meta.schema}__{self.meta.name}"

    def table(self) -> pa.Table:
        return self.data if isinstance(self.data, pa.Table) else self.data()


class _OverflowFlag:
    """Truthy once the row cap cut its result short; final after the rows are read."""

    def __init__(self, result: QueryResult) -> None:
        self._result = result

    def __bool__(self) -> bool:
        return self._result.overflow


class DuckDBExecutor:
    """The catalogs of one data directory, queryable with SQL or ADQL."""

    def __init__(
        self, store: CatalogStore, limits: Limits | None = None, mydb_root: Path | None = None
    ) -> None:
        self.store = store
        self.limits = limits or Limits()
        self.mydb_root = Path(mydb_root) if mydb_root is not None else None
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._tables: list[TableMeta] = []
        # Users whose MyDB is attached to ``_con``, with their tables (None: re-read them).
        self._mydb: dict[str, list[TableMeta] | None] = {}
        self._watchdog = _Watchdog()

    def tables(self, mydb_user: str | None = None) -> list[TableMeta]:
        """The catalogs, and ``mydb_user``'s MyDB tables (schema ``mydb``) if one is given."""
        con, tables = self._connection()
        return tables + self._mydb_tables(con, mydb_user)

    def translate(
        self,
        text: str,
        language: Language = "sql",
        *,
        mydb_user: str | None = None,
        extra: Sequence[ExtraTable] = (),
    ) -> Translation:
        con, tables = self._connection()
        known = tables + self._mydb_tables(con, mydb_user) + _extra_metas(extra)
        return translate(text, language, known)

    def execute(
        self,
        text: str,
        language: Language = "sql",
        *,
        max_rows: int | None = None,
        timeout_s: float | None = None,
        mydb_user: str | None = None,
        extra: Sequence[ExtraTable] = (),
    ) -> QueryResult:
        """Validate, translate and start the query; rows are fetched as batches are read.

        ``mydb_user`` is the caller: their MyDB tables, and no one else's, can be queried.
        ``extra`` tables are visible to this query only (registered on its cursor).
        """
        # The tables name attached databases of this connection: keep the pair together.
        con, tables = self._connection()
        known = tables + self._mydb_tables(con, mydb_user) + _extra_metas(extra)
        translation = translate(text, language, known)
        used = [e for e in extra if e.meta.qualified in translation.tables]
        return self.run(translation, con, max_rows=max_rows, timeout_s=timeout_s, extra=used)

    # --- MyDB ------------------------------------------------------------------------

    def mydb_path(self, user: str) -> Path:
        """Where ``user``'s MyDB file is (it exists once they have stored a table)."""
        if self.mydb_root is None:
            raise QueryExecutionError("MyDB is not configured on this server")
        if not _MYDB_USER.match(user):
            raise QueryExecutionError(f"{user!r} cannot own a MyDB")
        return self.mydb_root / f"{user}.duckdb"

    def drop_mydb(self, user: str) -> None:
        """Detach and delete ``user``'s MyDB file (their account is being wiped)."""
        path = self.mydb_path(user)
        with self._lock:
            if self._con is not None and user in self._mydb:
                with contextlib.suppress(duckdb.Error):
                    self._con.execute(f"DETACH mydb__{user}")
                del self._mydb[user]
        for p in (path, path.with_name(path.name + ".wal")):
            p.unlink(missing_ok=True)

    @contextlib.contextmanager
    def mydb_session(self, user: str) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
        """A cursor and the attached database name of ``user``'s MyDB, for the trusted
        statements the MyDB service writes (never user SQL). Everything run on the cursor
        is one transaction: committed when the block ends, rolled back if it raises."""
        con, _ = self._connection()
        alias = self._attach(con, user)
        cursor = con.cursor()
        try:
            cursor.execute("BEGIN TRANSACTION")
            yield cursor, alias
            cursor.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                cursor.execute("ROLLBACK")
            raise
        finally:
            with self._lock:
                if user in self._mydb:
                    self._mydb[user] = None
            cursor.close()

    def _mydb_tables(self, con: duckdb.DuckDBPyConnection, user: str | None) -> list[TableMeta]:
        if user is None or self.mydb_root is None:
            return []
        with self._lock:
            cached = self._mydb.get(user) if con is self._con else None
        if cached is not None:
            return cached
        if not self.mydb_path(user).exists():
            return []
        alias = self._attach(con, user)
        cursor = con.cursor()
        try:
            tables = read_mydb_tables(cursor, alias)
        finally:
            cursor.close()
        with self._lock:
            if con is self._con and user in self._mydb:
                self._mydb[user] = tables
        return tables

    def _attach(self, con: duckdb.DuckDBPyConnection, user: str) -> str:
        path = self.mydb_path(user)
        alias = f"mydb__{user}"
        with self._lock:
            if con is self._con and user in self._mydb:
                return alias
        path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + _ATTACH_WAIT_S
        while True:
            try:
                con.execute(f"ATTACH IF NOT EXISTS {_literal(str(path))} AS {alias}")
                break
            except duckdb.Error as exc:
                # A connection left behind by a catalog change may still be finishing a
                # query that holds the file; it lets go when that query ends.
                if time.monotonic() > deadline:
                    raise ConflictError(
                        f"your MyDB is busy with a query that started before the catalogs "
                        f"changed; try again in a moment ({_clean_message(exc)})"
                    ) from exc
                time.sleep(0.05)
        with self._lock:
            if con is self._con:
                self._mydb.setdefault(user, None)
        return alias

    def run(
        self,
        translation: Translation,
        con: duckdb.DuckDBPyConnection | None = None,
        *,
        max_rows: int | None = None,
        timeout_s: float | None = None,
        extra: Sequence[ExtraTable] = (),
    ) -> QueryResult:
        base = con or self._connection()[0]
        cursor = base.cursor()
        try:
            for table in extra:
                cursor.register(table.view, table.table())
        except BaseException:
            cursor.close()
            raise
        limit = timeout_s if timeout_s is not None else self.limits.timeout_s
        cap = max_rows if max_rows is not None else self.limits.max_rows
        cancel = _CANCELLATION.get()
        if cancel is not None:
            try:
                cancel._watch(cursor)
            except QueryAbortedError:
                cursor.close()
                raise
        alarm = self._watchdog.watch(limit, cursor.interrupt)
        try:
            reader = _arrow_stream(cursor, translation.sql)
        except duckdb.Error as exc:
            alarm.cancel()
            if cancel is not None:
                cancel._forget(cursor)
            cursor.close()
            if isinstance(exc, duckdb.InterruptException):
                raise _interrupted(limit, cancel) from exc
            raise QueryExecutionError(_clean_message(exc)) from exc
        schema = _rename(reader.schema, translation.names)
        reader = _RenamingReader(reader, schema)
        columns = list(translation.columns)
        columns += [None] * (len(schema) - len(columns))
        return QueryResult(
            schema=schema,
            columns=columns,
            translation=translation,
            max_rows=cap,
            _reader=reader,
            _cursor=cursor,
            _alarm=alarm,
            _limit_s=limit,
            _cancel=cancel,
        )

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
                self._generation = None
                self._mydb = {}

    def _connection(self) -> tuple[duckdb.DuckDBPyConnection, list[TableMeta]]:
        generation = self.store.generation()
        with self._lock:
            if self._con is None or generation != self._generation:
                # The old connection is left for its running cursors and collected later;
                # it must let go of the MyDB files, which the new one will attach.
                if self._con is not None:
                    for user in self._mydb:
                        with contextlib.suppress(duckdb.Error):
                            self._con.execute(f"DETACH mydb__{user}")
                self._mydb = {}
                self._con, self._tables = self._open()
                self._generation = generation
            return self._con, self._tables

    def _open(self) -> tuple[duckdb.DuckDBPyConnection, list[TableMeta]]:
        con = duckdb.connect(":memory:")
        tables = self.store.list()
        for meta in tables:
            # Named after the table, so a translation made against an older connection
            # still names the same table (or none) on a newer one.
            alias = f"catalog__{meta.schema}__{meta.name}"
            con.execute(f"ATTACH {_literal(str(meta.serving_path))} AS {alias} (READ_ONLY)")
            meta.location = (alias, "main", SERVING_TABLE)
        spatial.register_udfs(con)
        limits = self.limits
        con.execute(f"SET memory_limit = {_literal(limits.memory_limit)}")
        if limits.threads:
            con.execute(f"SET threads = {int(limits.threads)}")
        allowed = [str(self.store.root.resolve())]
        if self.mydb_root is not None:
            self.mydb_root.mkdir(parents=True, exist_ok=True)
            allowed.append(str(self.mydb_root.resolve()))
        if limits.temp_directory is not None:
            limits.temp_directory.mkdir(parents=True, exist_ok=True)
            con.execute(f"SET temp_directory = {_literal(str(limits.temp_directory))}")
            allowed.append(str(limits.temp_directory.resolve()))
        con.execute("SET autoinstall_known_extensions = false")
        con.execute("SET autoload_known_extensions = false")
        con.execute(f"SET allowed_directories = [{', '.join(_literal(a) for a in allowed)}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        return con, tables


def _extra_metas(extra: Sequence[ExtraTable]) -> list[TableMeta]:
    for table in extra:
        table.meta.location = ("temp", "main", table.view)
    return [table.meta for table in extra]


def read_mydb_tables(cursor: duckdb.DuckDBPyConnection, alias: str) -> list[TableMeta]:
    """The tables of an attached MyDB as the translator sees them (schema ``mydb``).

    A table has sky position columns for cone searches and crossmatches only once it has
    been sorted by HEALPix cell (``_healpix_29`` added, named in its comment); otherwise
    the crossmatch computes the cells of its rows on the fly.
    """
    rows = cursor.execute(
        "SELECT t.table_name, t.comment, t.estimated_size, c.column_name, c.data_type "
        "FROM duckdb_tables() t JOIN duckdb_columns() c "
        "ON c.database_name = t.database_name AND c.schema_name = t.schema_name "
        "AND c.table_name = t.table_name "
        "WHERE t.database_name = $1 AND t.schema_name = 'main' "
        "ORDER BY t.table_name, c.column_index",
        [alias],
    ).fetchall()
    tables: dict[str, TableMeta] = {}
    for name, comment, size, column, datatype in rows:
        if name.startswith("__"):
            continue
        meta = tables.get(name)
        if meta is None:
            meta = TableMeta(MYDB_SCHEMA, name, "", "", [], nrows=int(size or 0))
            meta.location = (alias, "main", name)
            meta.description = comment or ""
            tables[name] = meta
        meta.columns.append(ColumnMeta(column, datatype))
    for meta in tables.values():
        ra, dec = position_columns(meta.description)
        names = {c.name for c in meta.columns}
        if ra and dec and {ra, dec, HEALPIX_COLUMN} <= names:
            meta.ra, meta.dec = ra, dec
            meta.columns = [c for c in meta.columns if c.name != HEALPIX_COLUMN]
            for col in meta.columns:
                if col.name in (ra, dec):
                    col.unit = "deg"
                    col.ucd = "pos.eq.ra;meta.main" if col.name == ra else "pos.eq.dec;meta.main"
        meta.description = ""
    return list(tables.values())


def position_columns(comment: str | None) -> tuple[str, str]:
    """``('ra', 'dec')`` from a MyDB table comment ``skydock:position=ra,dec``, else blanks."""
    if not comment or not comment.startswith(POSITION_COMMENT):
        return "", ""
    parts = comment[len(POSITION_COMMENT) :].split(",")
    return (parts[0], parts[1]) if len(parts) == 2 else ("", "")


class _Alarm:
    """One pending interrupt; cancelling it is a flag, so it costs nothing."""

    __slots__ = ("action", "cancelled", "due")

    def __init__(self, due: float, action: Callable[[], object]) -> None:
        self.due = due
        self.action = action
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: _Alarm) -> bool:
        return self.due < other.due


class _Watchdog:
    """Interrupts queries that outlive their time limit, from one background thread.

    A thread per query (``threading.Timer``) cost about 2 ms of start-up on a busy
    two-core machine, more than a small cone search itself.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[_Alarm] = []
        self._thread: threading.Thread | None = None

    def watch(self, seconds: float, action: Callable[[], object]) -> _Alarm:
        alarm = _Alarm(time.monotonic() + seconds, action)
        with self._cond:
            if len(self._heap) > 1024:  # drop finished queries' alarms now and then
                self._heap = [a for a in self._heap if not a.cancelled]
                heapq.heapify(self._heap)
            heapq.heappush(self._heap, alarm)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="skydock-watchdog", daemon=True
                )
                self._thread.start()
            elif self._heap[0] is alarm:
                self._cond.notify()
        return alarm

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0].cancelled:
                    if self._heap:
                        heapq.heappop(self._heap)
                    else:
                        self._cond.wait()
                first = self._heap[0]
                wait = first.due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
            if not first.cancelled:
                with contextlib.suppress(Exception):
                    first.action()


class _RenamingReader:
    """Gives DuckDB's batches the PostgreSQL-style names the translator chose."""

    def __init__(self, reader: pa.RecordBatchReader, schema: pa.Schema) -> None:
        self._reader: pa.RecordBatchReader | None = reader
        self.schema = schema

    def read_next_batch(self) -> pa.RecordBatch:
        if self._reader is None:
            raise StopIteration
        batch = self._reader.read_next_batch()
        return pa.RecordBatch.from_arrays(batch.columns, schema=self.schema)

    def release(self) -> None:
        self._reader = None


def _arrow_stream(cursor: duckdb.DuckDBPyConnection, sql: str) -> pa.RecordBatchReader:
    """Runs one translated statement and streams its rows as Arrow record batches.

    ``cursor.sql(text)`` binds the statement once to describe the relation and again when
    the reader runs it: about 0.7 ms of a 2 ms small cone (DuckDB 2.0.1). The driver's own
    submit, which the relation's reader calls, binds once and streams the same batches.
    It is not public API, so the relation path stays as the fallback; the tests run both.
    The fallback also takes text the driver's call refuses with a TypeError (a lone
    surrogate in a string literal), so that it fails with DuckDB's own error instead.
    """
    submit = getattr(cursor, "_submit", None)
    if submit is not None:
        with contextlib.suppress(TypeError):
            return submit(sql, None, "stream", BATCH_ROWS).arrow_reader()
    return cursor.sql(sql).to_arrow_reader(BATCH_ROWS)


def _rename(schema: pa.Schema, names: Sequence[str]) -> pa.Schema:
    if len(names) != len(schema):
        return schema
    return pa.schema(
        [pa.field(n, f.type, f.nullable, f.metadata) for n, f in zip(names, schema, strict=True)]
    )


def _timed_out(limit_s: float) -> QueryTimeoutError:
    return QueryTimeoutError(
        f"the query ran longer than its limit of {limit_s:g} s and was stopped; "
        "add a spatial constraint or a tighter cut, or submit it as an async job"
    )


def _aborted() -> QueryAbortedError:
    return QueryAbortedError("the query was aborted on request")


def _interrupted(limit_s: float, cancel: Cancellation | None) -> SkydockError:
    """An interrupt is an abort if someone asked for one, else the time limit."""
    if cancel is not None and cancel.cancelled:
        return _aborted()
    return _timed_out(limit_s)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _clean_message(exc: duckdb.Error) -> str:
    """DuckDB's message without internal names a user never wrote."""
    text = str(exc).strip().split("\n\nLINE")[0]
    return f"the query failed while running: {text}"
