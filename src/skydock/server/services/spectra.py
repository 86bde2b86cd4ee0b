"""Spectra by id list or by query: the arrays from the spectra store, joined to rows.

An answer is one Arrow table: the catalog columns first (the collection's metadata row
for an id list; the caller's own columns for a query), then ``flux``, ``ivar``, ``mask``
and ``model`` as fixed-size lists, with the wavelength grid and units in the schema
metadata. Catalog rows come through :class:`QueryService`, so the same validation, row
caps and anonymous-read rules as every query apply.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from skydock.engine.formats import stream_result_arrow
from skydock.engine.spectra import (
    ARRAYS,
    ID,
    UNITS_KEY,
    WAVELENGTH_KEY,
    SpectraCollection,
    SpectraStore,
)
from skydock.errors import InvalidRequestError
from skydock.server.services.auth import ANONYMOUS, Principal
from skydock.server.services.query import QueryService

ARROW_MEDIA_TYPE = "application/vnd.apache.arrow.stream"
_DIGITS = re.compile(r"[+-]?\d{1,20}")
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class SpectraLimits:
    max_spectra: int = 5000
    default_collection: str = "demo.specobj"


def parse_ids(ids: Sequence[int | str]) -> np.ndarray:
    """Ids as int64; decimal strings are welcome (JavaScript cannot hold ids past 2**53)."""
    out = np.empty(len(ids), dtype=np.int64)
    for i, value in enumerate(ids):
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise InvalidRequestError(
                f"ids[{i}] is {value!r}; give integers or decimal strings such as "
                '"1163916622935359490" (never floats: they lose digits past 2**53)'
            )
        if isinstance(value, str):
            if not _DIGITS.fullmatch(value.strip()):
                raise InvalidRequestError(
                    f"ids[{i}] is {value!r}, not a whole number; ids are the targetid column"
                )
            value = int(value)
        if not INT64_MIN <= value <= INT64_MAX:
            raise InvalidRequestError(f"ids[{i}] = {value} does not fit in a 64-bit integer")
        out[i] = value
    return out


class SpectraService:
    """Reads spectra for callers; knows nothing of HTTP."""

    def __init__(self, store: SpectraStore, query: QueryService, limits: SpectraLimits) -> None:
        self._store = store
        self._query = query
        self.limits = limits

    def collections(self) -> list[str]:
        return self._store.tables()

    def by_ids(
        self,
        ids: Sequence[int | str],
        *,
        collection: str | None = None,
        principal: Principal = ANONYMOUS,
    ) -> pa.Table:
        """The spectra of ``ids`` in the order given, each with its catalog row."""
        wanted = parse_ids(ids)
        if len(wanted) == 0:
            raise InvalidRequestError("ids is empty; give at least one targetid")
        self._check_count(len(wanted))
        table = self._table_name(collection)
        store = self._store.collection(table)
        spectra = store.read(wanted)  # unknown ids fail here, naming them
        unique = np.unique(wanted)
        listed = ", ".join(str(int(i)) for i in unique)
        meta = self._rows(
            f"SELECT * FROM {table} WHERE {ID} IN ({listed})", "sql", principal, len(unique)
        )
        meta = _drop_internal(meta)
        if ID not in meta.column_names or len(meta) != len(unique):
            meta = pa.table({})  # a collection without its catalog rows: arrays only
        else:
            found = meta.column(ID).to_numpy()
            order = np.argsort(found)
            rows = order[np.searchsorted(found[order], wanted)]
            meta = meta.take(pa.array(rows)).drop_columns([ID])
        return _combine(meta, spectra, store)

    def by_query(
        self,
        text: str,
        language: Literal["sql", "adql"] = "sql",
        *,
        collection: str | None = None,
        principal: Principal = ANONYMOUS,
    ) -> pa.Table:
        """The spectra whose ids the query selects (its ``targetid`` column), with its rows."""
        table = self._table_name(collection)
        store = self._store.collection(table)
        rows = _drop_internal(self._rows(text, language, principal, self.limits.max_spectra + 1))
        names = [c.lower() for c in rows.column_names]
        if ID not in names:
            raise InvalidRequestError(
                f"the query must select a {ID} column (it selected "
                f"{', '.join(rows.column_names) or 'nothing'}); e.g. SELECT {ID}, z FROM {table}"
            )
        self._check_count(rows.num_rows)
        column = rows.column(names.index(ID))
        if not pa.types.is_integer(column.type):
            raise InvalidRequestError(f"{ID} must be an integer column, not {column.type}")
        if column.null_count:
            raise InvalidRequestError(f"the query returned {column.null_count} NULL {ID}(s)")
        ids = column.to_numpy().astype(np.int64)
        spectra = store.read(ids)
        return _combine(rows.drop_columns([rows.column_names[names.index(ID)]]), spectra, store)

    def _rows(
        self, text: str, language: Literal["sql", "adql"], principal: Principal, cap: int
    ) -> pa.Table:
        answer = self._query.run(text, language, "arrow", principal=principal, max_rows=cap)
        try:
            body = answer.body
            body.seek(0)
            return pa.ipc.open_stream(body.read()).read_all()
        finally:
            answer.body.close()

    def _check_count(self, n: int) -> None:
        if n > self.limits.max_spectra:
            raise InvalidRequestError(
                f"{n:,} spectra asked for; at most {self.limits.max_spectra:,} per request "
                "(split the list, or add a LIMIT to the query)"
            )

    def _table_name(self, collection: str | None) -> str:
        table = (collection or self.limits.default_collection).strip().lower()
        if not _TABLE.fullmatch(table):
            raise InvalidRequestError(
                f"collection {collection!r} is not a schema.table name such as demo.specobj"
            )
        return table


def _drop_internal(table: pa.Table) -> pa.Table:
    return table.drop_columns([c for c in table.column_names if c.startswith("_healpix")])


def _combine(meta: pa.Table, spectra: pa.Table, store: SpectraCollection) -> pa.Table:
    """Catalog columns, then the id and the arrays; wavelength and units in the metadata."""
    columns = {ID: spectra.column(ID)}
    for name in meta.column_names:
        columns[name] = meta.column(name)
    for name in ARRAYS:
        columns[name] = spectra.column(name)
    fields = []
    for name, col in columns.items():
        source = spectra.schema if name in spectra.column_names else meta.schema
        fields.append(source.field(name).with_type(col.type))
    schema = pa.schema(fields, metadata=store.schema.metadata)
    return pa.Table.from_arrays(list(columns.values()), schema=schema)


def arrow_stream(table: pa.Table, chunk_rows: int = 64) -> Iterator[bytes]:
    """The table as the engine's streamed Arrow answer (a few spectra per batch, the row
    count in a trailer); the wavelength grid and units stay in the schema metadata."""
    info = {k.decode(): v for k, v in (table.schema.metadata or {}).items()}
    batches = table.to_batches(max_chunksize=chunk_rows)
    return stream_result_arrow(table.schema, batches, info=info)


def json_row(table: pa.Table) -> dict[str, Any]:
    """The first spectrum as a JSON-ready mapping: id as a string, arrays as lists."""
    row: dict[str, Any] = {}
    for name in table.column_names:
        value = table.column(name)[0].as_py()
        if isinstance(value, list):
            value = [v if not isinstance(v, float) or math.isfinite(v) else None for v in value]
        elif isinstance(value, float) and not math.isfinite(value):
            value = None
        row[name] = value
    row[ID] = str(row[ID])
    meta = table.schema.metadata or {}
    row["wavelength"] = np.frombuffer(meta[WAVELENGTH_KEY], dtype="<f8").tolist()
    row["units"] = json.loads(meta.get(UNITS_KEY, b"{}"))
    return row
