"""MyDB: every user's personal tables, made from query results or imported files.

Tables are named like PostgreSQL identifiers (lower-case letters, digits and ``_``) and
appear in queries as ``mydb.t`` or ``mydb://t``. Nobody sees another user's tables: every
method takes the caller and acts on the caller's own database only; anonymous callers
have none. Imports read CSV, TSV, Parquet, FITS and VOTable with the same readers the
catalog ingest uses, fold column names to lower case (as PostgreSQL folds unquoted
names), and replace or extend a table atomically.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pyarrow as pa

from skydock.engine.ingest.sources import open_input
from skydock.errors import (
    AuthenticationError,
    CatalogError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    QuotaExceededError,
)
from skydock.server.services.auth import Principal
from skydock.server.storage.mydb import MyDBBackend, TableInfo, WriteMode

if TYPE_CHECKING:
    import pandas as pd

URI_PREFIX = "mydb://"
_TABLE = re.compile(r"^[a-z_][a-z0-9_]*$")
MAX_NAME_CHARS = 63  # PostgreSQL's identifier limit
IMPORT_FORMATS = {
    "csv": "csv",
    "tsv": "tsv",
    "txt": "tsv",
    "parquet": "parquet",
    "parq": "parquet",
    "pq": "parquet",
    "fits": "fits",
    "fit": "fits",
    "fts": "fits",
    "votable": "votable",
    "vot": "votable",
    "xml": "votable",
}
_PG_TYPES = {
    "DOUBLE": "double precision",
    "FLOAT": "real",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "SMALLINT": "smallint",
    "TINYINT": "smallint",
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "UBIGINT": "numeric",
    "HUGEINT": "numeric",
    "BOOLEAN": "boolean",
    "VARCHAR": "text",
    "BLOB": "bytea",
    "DATE": "date",
    "TIME": "time without time zone",
    "TIMESTAMP": "timestamp without time zone",
    "TIMESTAMP WITH TIME ZONE": "timestamp with time zone",
    "INTERVAL": "interval",
    "UUID": "uuid",
    "JSON": "json",
}


def pg_type(duckdb_type: str) -> str:
    """The PostgreSQL name of a DuckDB column type (``DOUBLE`` → ``double precision``)."""
    text = duckdb_type.strip().upper()
    if text.endswith("]"):
        base = text[: text.rindex("[")]
        return pg_type(base) + "[]"
    if text.startswith("DECIMAL"):
        return "numeric" + text[len("DECIMAL") :].replace(" ", "")
    return _PG_TYPES.get(text, text.lower())


@dataclass(frozen=True)
class MyDBLimits:
    max_table_rows: int = 100_000_000
    max_bytes: int = 20 * 1024**3
    max_upload_bytes: int = 2 * 1024**3


class MyDBService:
    """List, describe, create, import, copy, rename, truncate, index and drop own tables."""

    def __init__(
        self, backend: MyDBBackend, spool_dir: Path, limits: MyDBLimits | None = None
    ) -> None:
        self._backend = backend
        self._spool_dir = Path(spool_dir)
        self.limits = limits or MyDBLimits()

    # --- reading ---------------------------------------------------------------------

    def tables(self, principal: Principal) -> list[TableInfo]:
        return self._backend.tables(self._owner(principal))

    def wipe(self, user: str) -> None:
        """Delete all of ``user``'s tables: for expiring class accounts, not for callers."""
        self._backend.remove(user)

    def list_tables(self, principal: Principal) -> list[str]:
        return [t.name for t in self.tables(principal)]

    def describe(self, principal: Principal, table: str) -> TableInfo:
        user, name = self._owner(principal), table_name(table)
        found = self._backend.tables(user, name)
        if not found:
            known = self.list_tables(principal)
            hint = f"your tables: {', '.join(known[:20])}" if known else "your MyDB has no tables"
            raise NotFoundError(f"no MyDB table named {name!r}; {hint}")
        return found[0]

    def columns(self, principal: Principal, table: str) -> list[tuple[str, str]]:
        """``[(name, PostgreSQL type name)]`` of one table, in order."""
        return [(c, pg_type(t)) for c, t in self.describe(principal, table).columns]

    # --- changing ------------------------------------------------------------------

    def drop(self, principal: Principal, table: str) -> None:
        self._backend.drop(self._owner(principal), table_name(table))

    def rename(self, principal: Principal, table: str, to: str) -> TableInfo:
        user, name, target = self._owner(principal), table_name(table), table_name(to)
        if target == name:
            return self.describe(principal, name)
        return self._backend.alter(user, name, "rename", target)

    def copy(self, principal: Principal, table: str, to: str) -> TableInfo:
        user, name, target = self._owner(principal), table_name(table), table_name(to)
        self._check_quota(user)
        return self._backend.alter(user, name, "copy", target)

    def truncate(self, principal: Principal, table: str) -> TableInfo:
        return self._backend.alter(self._owner(principal), table_name(table), "truncate")

    def index(self, principal: Principal, table: str, columns: str | Sequence[str]) -> TableInfo:
        """An index on one column, or with two (``ra,dec``) a sort by HEALPix cell that
        makes cone searches and crossmatches on the table prune by cell."""
        parts = columns.split(",") if isinstance(columns, str) else list(columns)
        names = tuple(p.strip().lower() for p in parts if p.strip())
        if len(names) not in (1, 2) or len(set(names)) != len(names):
            raise InvalidRequestError(
                f"index takes one column, or two position columns as 'ra,dec'; got {columns!r}"
            )
        return self._backend.index(self._owner(principal), table_name(table), names)

    def store(
        self,
        principal: Principal,
        table: str,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        *,
        drop: bool = False,
        append: bool = False,
    ) -> TableInfo:
        """Store rows as ``table``: create it, replace it (``drop``) or add to it (``append``)."""
        user, name = self._owner(principal), table_name(table)
        _check_names(schema, name)
        self._check_quota(user)
        mode: WriteMode = "append" if append else "replace" if drop else "create"
        return self._backend.write(user, name, schema, batches, mode, self.limits.max_table_rows)

    def check_new(self, principal: Principal, table: str, *, drop: bool) -> str:
        """The validated name of a table about to be created; a 409 if it exists and not
        ``drop`` (checked again when it is written)."""
        user, name = self._owner(principal), table_name(table)
        if not drop and self._backend.tables(user, name):
            raise ConflictError(
                f"MyDB table {name!r} already exists; drop it first, pass drop=true to "
                "replace it, or choose another name"
            )
        return name

    def import_arrow(
        self,
        principal: Principal,
        table: str,
        data: pa.Table | pd.DataFrame,
        *,
        drop: bool = False,
        append: bool = False,
    ) -> TableInfo:
        """Store an Arrow table or a pandas DataFrame (a named index becomes a column)."""
        if not isinstance(data, pa.Table):
            try:
                data = pa.Table.from_pandas(data)
            except (pa.ArrowException, TypeError, ValueError) as exc:
                raise InvalidRequestError(f"cannot store this DataFrame: {exc}") from exc
        data = _folded(data.schema, data)
        return self.store(
            principal, table, data.schema, data.to_batches(), drop=drop, append=append
        )

    def import_file(
        self,
        principal: Principal,
        table: str,
        source: Path | str | IO[bytes],
        fmt: str | None = None,
        *,
        filename: str | None = None,
        drop: bool = False,
        append: bool = False,
    ) -> TableInfo:
        """Import a CSV, TSV, Parquet, FITS or VOTable file (a path, or bytes to read).

        The format is ``fmt`` or the extension of ``filename`` (or of the path). The file
        is read completely into a new table, which then replaces (``drop``) or extends
        (``append``) any table of that name; a bad file changes nothing.
        """
        user, name = self._owner(principal), table_name(table)
        label = filename or (str(source) if isinstance(source, Path | str) else "the upload")
        kind = _import_format(fmt, label)
        self._check_quota(user)
        with self._spooled(source, label) as path:
            try:
                data = open_input(path, kind)
            except CatalogError as exc:
                raise InvalidRequestError(_relabel(exc.message, path, label)) from exc
            try:
                schema = _folded(data.schema)
                batches = _relabelled(data.batches, schema, path, label)
                return self.store(principal, name, schema, batches, drop=drop, append=append)
            finally:
                data.close()

    # --- helpers ---------------------------------------------------------------------

    @staticmethod
    def _owner(principal: Principal) -> str:
        if principal.anonymous:
            raise AuthenticationError(
                "MyDB needs a login: anonymous users have no personal database; log in and "
                "send the token"
            )
        return principal.name

    def _check_quota(self, user: str) -> None:
        used = self._backend.size(user)
        if used >= self.limits.max_bytes:
            raise QuotaExceededError(
                f"your MyDB uses {used:,} bytes, at its limit of {self.limits.max_bytes:,}; "
                "drop tables you no longer need"
            )

    @contextlib.contextmanager
    def _spooled(self, source: Path | str | IO[bytes], label: str) -> Iterator[Path]:
        """A local file with the data, no larger than the upload limit."""
        cap = self.limits.max_upload_bytes
        if isinstance(source, Path | str):
            path = Path(source)
            if not path.is_file():
                raise NotFoundError(f"no file {label!r} to import")
            if path.stat().st_size > cap:
                raise QuotaExceededError(_too_big(label, cap))
            yield path
            return
        self._spool_dir.mkdir(parents=True, exist_ok=True)
        suffix = "".join(Path(label).suffixes[-2:]) if label != "the upload" else ""
        with tempfile.TemporaryDirectory(dir=self._spool_dir) as tmp:
            path = Path(tmp) / f"upload-{uuid.uuid4().hex[:8]}{suffix}"
            with path.open("wb") as out:
                written = 0
                while chunk := source.read(1024 * 1024):
                    written += len(chunk)
                    if written > cap:
                        raise QuotaExceededError(_too_big(label, cap))
                    out.write(chunk)
            yield path


def table_name(text: str) -> str:
    """A MyDB table name from ``t``, ``mydb://t`` or ``mydb.t``, folded to lower case."""
    raw = text.strip() if isinstance(text, str) else ""
    name = raw
    for prefix in (URI_PREFIX, "mydb."):
        if name.lower().startswith(prefix):
            name = name[len(prefix) :]
            break
    name = name.lower()
    if not name:
        raise InvalidRequestError("no MyDB table name given; name it like 'mydb://my_table'")
    if not _TABLE.match(name) or name.startswith("__") or len(name) > MAX_NAME_CHARS:
        raise InvalidRequestError(
            f"invalid MyDB table name {raw!r}: use up to {MAX_NAME_CHARS} letters, digits and "
            "'_', starting with a letter or '_' (not '__'), e.g. 'mydb://my_table'"
        )
    return name


def _import_format(fmt: str | None, label: str) -> str:
    accepted = ", ".join(sorted(set(IMPORT_FORMATS.values())))
    if fmt:
        kind = IMPORT_FORMATS.get(fmt.strip().lower().lstrip("."))
        if kind is None:
            raise InvalidRequestError(f"cannot import format {fmt!r}; accepted: {accepted}")
        return kind
    lowered = label.lower().removesuffix(".gz")
    ext = lowered.rsplit(".", 1)[-1] if "." in lowered else ""
    kind = IMPORT_FORMATS.get(ext)
    if kind is None:
        raise InvalidRequestError(
            f"cannot tell the format of {label!r} from its name; name the format ({accepted}) "
            "or use a file name ending in one of them"
        )
    return kind


def _check_names(schema: pa.Schema, table: str) -> None:
    seen: dict[str, str] = {}
    for name in schema.names:
        key = name.lower()
        if key in seen:
            raise InvalidRequestError(
                f"cannot store {table!r}: two columns are named {name!r}"
                + (f" and {seen[key]!r}" if seen[key] != name else "")
                + "; give them different names (AS in a query)"
            )
        seen[key] = name
    if not schema.names:
        raise InvalidRequestError(f"cannot store {table!r}: the data has no columns")


def _folded(schema: pa.Schema, data: pa.Table | None = None) -> Any:
    """Column names folded to lower case (as PostgreSQL folds unquoted names)."""
    names = [(n.strip() or f"col{i + 1}").lower() for i, n in enumerate(schema.names)]
    if data is not None:
        return data.rename_columns(names)
    return pa.schema([f.with_name(n) for f, n in zip(schema, names, strict=True)], schema.metadata)


def _relabelled(
    batches: Iterable[pa.RecordBatch], schema: pa.Schema, path: Path, label: str
) -> Iterator[pa.RecordBatch]:
    try:
        for batch in batches:
            yield pa.RecordBatch.from_arrays(batch.columns, schema=schema)
    except CatalogError as exc:
        raise InvalidRequestError(_relabel(exc.message, path, label)) from exc
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidRequestError(f"could not read {label!r}: {exc}") from exc


def _relabel(message: str, path: Path, label: str) -> str:
    """A reader's message naming the file as the user knows it, not our spool copy."""
    return message.replace(repr(str(path)), repr(label)).replace(str(path), label)


def _too_big(label: str, cap: int) -> str:
    return f"{label!r} is larger than the MyDB import limit of {cap:,} bytes; split it"
