"""Where MyDB tables live: the backend interface and its DuckDB-file implementation.

``DuckDBFileMyDB`` keeps one DuckDB file per user under ``<data_dir>/mydb/``. DuckDB lets
one database instance in a process hold a file, and queries must see the tables, so
every statement here runs on the query executor's own database through
``DuckDBExecutor.mydb_session`` (one transaction per call). A table is always built
under a temporary name and renamed into place in the same transaction: a failure, at
any step, leaves what was there before.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

import duckdb
import pyarrow as pa

from skydock.engine.catalog import HEALPIX_COLUMN
from skydock.engine.executor import POSITION_COMMENT, DuckDBExecutor, position_columns
from skydock.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    QuotaExceededError,
    SkydockError,
)

WriteMode = Literal["create", "replace", "append"]


@dataclass(frozen=True)
class TableInfo:
    """One MyDB table: exact row count, columns (name, DuckDB type) and indexes.

    ``indexes`` lists indexed column names, and ``"ra,dec"`` (the position columns) for
    a table sorted by HEALPix cell.
    """

    name: str
    rows: int
    columns: list[tuple[str, str]]
    indexes: list[str]


class MyDBBackend(Protocol):
    """A user's personal tables. Names given here are already validated by the service."""

    def tables(self, user: str, name: str | None = None) -> list[TableInfo]: ...

    def write(
        self,
        user: str,
        name: str,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        mode: WriteMode,
        max_rows: int,
    ) -> TableInfo: ...

    def drop(self, user: str, name: str) -> None: ...

    def alter(
        self, user: str, name: str, action: Literal["rename", "copy", "truncate"], to: str = ""
    ) -> TableInfo: ...

    def index(self, user: str, name: str, columns: tuple[str, ...]) -> TableInfo: ...

    def size(self, user: str) -> int: ...

    def remove(self, user: str) -> None: ...


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class DuckDBFileMyDB:
    """One DuckDB file per user, attached to the query executor's database."""

    def __init__(self, executor: DuckDBExecutor) -> None:
        self._executor = executor

    def tables(self, user: str, name: str | None = None) -> list[TableInfo]:
        if not self._executor.mydb_path(user).exists():
            return []
        with self._executor.mydb_session(user) as (cur, db):
            return self._infos(cur, db, name)

    def write(
        self,
        user: str,
        name: str,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        mode: WriteMode,
        max_rows: int,
    ) -> TableInfo:
        failure: list[BaseException] = []

        def guarded() -> Iterator[pa.RecordBatch]:
            # DuckDB turns an error raised while it reads into its own; keep ours.
            try:
                yield from batches
            except BaseException as exc:
                failure.append(exc)
                raise

        view = f"__sd_src_{uuid.uuid4().hex[:12]}"
        tmp = f"__sd_new_{uuid.uuid4().hex[:12]}"
        reader = pa.RecordBatchReader.from_batches(schema, guarded())
        try:
            with self._executor.mydb_session(user) as (cur, db):
                exists = self._exists(cur, db, name)
                if exists and mode == "create":
                    raise ConflictError(_exists_message(name))
                target = f"{db}.main.{_q(name)}"
                cur.register(view, reader)
                try:
                    if exists and mode == "append":
                        cur.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {_q(view)}")
                    else:
                        cur.execute(f"CREATE TABLE {db}.main.{_q(tmp)} AS SELECT * FROM {_q(view)}")
                        if exists:
                            cur.execute(f"DROP TABLE {target}")
                        cur.execute(f"ALTER TABLE {db}.main.{_q(tmp)} RENAME TO {_q(name)}")
                finally:
                    cur.unregister(view)
                rows = _count(cur, target)
                if rows > max_rows:
                    raise QuotaExceededError(
                        f"table {name!r} would hold {rows:,} rows; a MyDB table may hold at "
                        f"most {max_rows:,}. Store fewer rows (add a cut or a LIMIT)"
                    )
                return self._infos(cur, db, name)[0]
        except duckdb.Error as exc:
            if failure and isinstance(failure[0], SkydockError):
                raise failure[0] from exc
            raise InvalidRequestError(
                f"could not store table {name!r}: {_message(exc)}; nothing was changed"
            ) from exc
        except SkydockError:
            if failure and isinstance(failure[0], SkydockError):
                raise failure[0] from None
            raise

    def drop(self, user: str, name: str) -> None:
        with self._session(user, name) as (cur, db):
            cur.execute(f"DROP TABLE {db}.main.{_q(name)}")

    def alter(
        self, user: str, name: str, action: Literal["rename", "copy", "truncate"], to: str = ""
    ) -> TableInfo:
        with self._session(user, name) as (cur, db):
            source = f"{db}.main.{_q(name)}"
            if action == "truncate":
                cur.execute(f"DELETE FROM {source}")
                return self._infos(cur, db, name)[0]
            if self._exists(cur, db, to):
                raise ConflictError(_exists_message(to))
            indexed = self._indexed(cur, db, name)
            comment = self._comment(cur, db, name)
            if action == "rename":
                # DuckDB does not rename a table that has indexes: drop, rename, rebuild.
                for index in indexed.values():
                    cur.execute(f"DROP INDEX {db}.main.{_q(index)}")
                cur.execute(f"ALTER TABLE {source} RENAME TO {_q(to)}")
            else:
                cur.execute(f"CREATE TABLE {db}.main.{_q(to)} AS SELECT * FROM {source}")
                if comment:
                    cur.execute(f"COMMENT ON TABLE {db}.main.{_q(to)} IS {_literal(comment)}")
            for column in indexed:
                self._create_index(cur, db, to, column)
            return self._infos(cur, db, to)[0]

    def index(self, user: str, name: str, columns: tuple[str, ...]) -> TableInfo:
        with self._session(user, name) as (cur, db):
            have = {c for c, _ in self._infos(cur, db, name)[0].columns}
            missing = [c for c in columns if c not in have]
            if missing:
                raise InvalidRequestError(
                    f"table {name!r} has no column {missing[0]!r}; its columns: "
                    + ", ".join(sorted(have))
                )
            if len(columns) == 1:
                if columns[0] not in self._indexed(cur, db, name):
                    self._create_index(cur, db, name, columns[0])
            else:
                self._sort_by_position(cur, db, name, columns[0], columns[1])
            return self._infos(cur, db, name)[0]

    def remove(self, user: str) -> None:
        """Delete every table of ``user`` at once (the whole file)."""
        self._executor.drop_mydb(user)

    def size(self, user: str) -> int:
        path = self._executor.mydb_path(user)
        wal = path.with_name(path.name + ".wal")
        return sum(p.stat().st_size for p in (path, wal) if p.exists())

    # --- helpers ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _session(self, user: str, name: str) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
        """A write session on a table that must exist (a 404 naming it otherwise)."""
        if not self._executor.mydb_path(user).exists():
            raise NotFoundError(_missing_message(name, []))
        try:
            with self._executor.mydb_session(user) as (cur, db):
                if not self._exists(cur, db, name):
                    known = [i.name for i in self._infos(cur, db, None)]
                    raise NotFoundError(_missing_message(name, known))
                yield cur, db
        except duckdb.Error as exc:
            raise InvalidRequestError(
                f"MyDB could not change {name!r}: {_message(exc)}; nothing was changed"
            ) from exc

    def _sort_by_position(
        self, cur: duckdb.DuckDBPyConnection, db: str, name: str, ra: str, dec: str
    ) -> None:
        """Rebuild the table sorted by HEALPix cell, with ``_healpix_29`` for pruning."""
        for column in (ra, dec):
            found = cur.execute(
                "SELECT data_type FROM duckdb_columns() WHERE database_name = $1 "
                "AND schema_name = 'main' AND table_name = $2 AND column_name = $3",
                [db, name, column],
            ).fetchall()
            kind = found[0] if found else None
            if kind is None or kind[0] not in _NUMERIC:
                raise InvalidRequestError(
                    f"column {column!r} of {name!r} is {kind[0] if kind else 'missing'}, not "
                    "a number of degrees; a spatial index needs numeric RA and Dec columns"
                )
        indexed = self._indexed(cur, db, name)
        tmp = f"__sd_new_{uuid.uuid4().hex[:12]}"
        target = f"{db}.main.{_q(name)}"
        others = "".join(f"{_q(c)}, " for c in self._columns(cur, db, name) if c != HEALPIX_COLUMN)
        cell = f"skydock_healpix({_q(ra)}::DOUBLE, {_q(dec)}::DOUBLE, 29)"
        cur.execute(
            f"CREATE TABLE {db}.main.{_q(tmp)} AS SELECT {others}{cell} AS {_q(HEALPIX_COLUMN)} "
            f"FROM {target} ORDER BY {_q(HEALPIX_COLUMN)}"
        )
        cur.execute(f"DROP TABLE {target}")
        cur.execute(f"ALTER TABLE {db}.main.{_q(tmp)} RENAME TO {_q(name)}")
        cur.execute(f"COMMENT ON TABLE {target} IS {_literal(f'{POSITION_COMMENT}{ra},{dec}')}")
        for column in indexed:
            self._create_index(cur, db, name, column)

    @staticmethod
    def _create_index(cur: duckdb.DuckDBPyConnection, db: str, table: str, column: str) -> None:
        index = f"ix_{uuid.uuid4().hex[:16]}"
        cur.execute(f"CREATE INDEX {_q(index)} ON {db}.main.{_q(table)} ({_q(column)})")

    @staticmethod
    def _exists(cur: duckdb.DuckDBPyConnection, db: str, name: str) -> bool:
        found = cur.execute(
            "SELECT 1 FROM duckdb_tables() WHERE database_name = $1 AND schema_name = 'main' "
            "AND table_name = $2",
            [db, name],
        ).fetchall()
        return bool(found)

    @staticmethod
    def _comment(cur: duckdb.DuckDBPyConnection, db: str, name: str) -> str:
        rows = cur.execute(
            "SELECT comment FROM duckdb_tables() WHERE database_name = $1 "
            "AND schema_name = 'main' AND table_name = $2",
            [db, name],
        ).fetchall()
        return str(rows[0][0] or "") if rows else ""

    @staticmethod
    def _columns(cur: duckdb.DuckDBPyConnection, db: str, name: str) -> list[str]:
        return [
            r[0]
            for r in cur.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = $1 "
                "AND schema_name = 'main' AND table_name = $2 ORDER BY column_index",
                [db, name],
            ).fetchall()
        ]

    @staticmethod
    def _indexed(cur: duckdb.DuckDBPyConnection, db: str, name: str) -> dict[str, str]:
        """Indexed column → index name."""
        rows = cur.execute(
            "SELECT index_name, expressions FROM duckdb_indexes() WHERE database_name = $1 "
            "AND schema_name = 'main' AND table_name = $2 ORDER BY index_name",
            [db, name],
        ).fetchall()
        return {str(expr).strip("[]").strip('"').replace('""', '"'): ix for ix, expr in rows}

    def _infos(self, cur: duckdb.DuckDBPyConnection, db: str, name: str | None) -> list[TableInfo]:
        rows = cur.execute(
            "SELECT t.table_name, t.comment, c.column_name, c.data_type "
            "FROM duckdb_tables() t JOIN duckdb_columns() c "
            "ON c.database_name = t.database_name AND c.schema_name = t.schema_name "
            "AND c.table_name = t.table_name "
            "WHERE t.database_name = $1 AND t.schema_name = 'main' "
            "AND ($2::VARCHAR IS NULL OR t.table_name = $2) "
            "ORDER BY t.table_name, c.column_index",
            [db, name],
        ).fetchall()
        columns: dict[str, list[tuple[str, str]]] = {}
        comments: dict[str, str] = {}
        for table, comment, column, datatype in rows:
            if table.startswith("__"):
                continue
            columns.setdefault(table, []).append((column, datatype))
            comments[table] = comment or ""
        infos = []
        for table, cols in columns.items():
            ra, dec = position_columns(comments[table])
            indexes = sorted(self._indexed(cur, db, table))
            if ra and any(c == HEALPIX_COLUMN for c, _ in cols):
                cols = [(c, t) for c, t in cols if c != HEALPIX_COLUMN]
                indexes.append(f"{ra},{dec}")
            rows_ = _count(cur, f"{db}.main.{_q(table)}")
            infos.append(TableInfo(table, rows_, cols, indexes))
        return infos


_NUMERIC = frozenset(
    {"DOUBLE", "FLOAT", "REAL", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT"}
    | {"UINTEGER", "UBIGINT", "USMALLINT", "UTINYINT"}
)


def _count(cur: duckdb.DuckDBPyConnection, target: str) -> int:
    rows = cur.execute(f"SELECT count(*) FROM {target}").fetchall()
    return int(rows[0][0]) if rows else 0


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _message(exc: duckdb.Error) -> str:
    return str(exc).strip().split("\n\nLINE")[0].split("\n")[0]


def _exists_message(name: str) -> str:
    return (
        f"MyDB table {name!r} already exists; drop it first, pass drop=true to replace it, "
        "or choose another name"
    )


def _missing_message(name: str, known: list[str]) -> str:
    hint = f"your tables: {', '.join(known[:20])}" if known else "your MyDB has no tables"
    return f"no MyDB table named {name!r}; {hint}"
