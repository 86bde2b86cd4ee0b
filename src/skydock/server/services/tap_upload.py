"""TAP table uploads: a VOTable becomes an Arrow table the engine can query for one job.

An upload is ``TAP_UPLOAD.<name>`` to the query: an :class:`ExtraTable` whose metadata
carries each FIELD's unit, UCD, description and xtype, so a ``SELECT *`` gives back the
columns it was sent (taplint's UPL stage). It has no position columns for the planner:
a crossmatch with a catalog computes its HEALPix cells on the fly, as for an unindexed
MyDB table. Async jobs keep their uploads as Arrow IPC files in the job directory.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa

from skydock.engine.catalog import ColumnMeta, TableMeta
from skydock.engine.executor import ExtraTable
from skydock.errors import InvalidRequestError
from skydock.server.services.tap_schema import TAP_UPLOAD

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_META_KEYS = ("unit", "ucd", "description", "xtype")


def check_name(name: str) -> str:
    """The upload's table name, lower-cased as ADQL folds it; refused unless regular."""
    if not _NAME.match(name):
        raise InvalidRequestError(
            f"upload table name {name!r} is not a regular ADQL identifier; use letters, "
            "digits and underscores, starting with a letter (e.g. UPLOAD=mytable,param:f)"
        )
    return name.lower()


def parse_votable(name: str, data: bytes) -> pa.Table:
    """The first table of an uploaded VOTable, as Arrow with the FIELD metadata kept."""
    from astropy.io.votable import parse
    from astropy.io.votable.exceptions import VOWarning

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VOWarning)
            votable = parse(io.BytesIO(data), verify="ignore")
            resource_table = votable.get_first_table()
    except Exception as exc:
        raise InvalidRequestError(
            f"upload {name!r} is not a VOTable astropy can read ({exc}); send a VOTable "
            "(TABLEDATA, BINARY or BINARY2)"
        ) from exc
    columns, fields = [], []
    array = resource_table.array
    for f in resource_table.fields:
        values = array[f.ID] if f.ID in array.dtype.names else array[f.name]
        column = _arrow_column(values, f.datatype, f.xtype)
        meta = {
            "unit": str(f.unit) if f.unit is not None else "",
            "ucd": f.ucd or "",
            "description": f.description or "",
            "xtype": f.xtype or "",
        }
        columns.append(column)
        fields.append(pa.field(f.name, column.type, metadata={k: v for k, v in meta.items() if v}))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _arrow_column(values: np.ma.MaskedArray, datatype: str, xtype: str | None) -> pa.Array:
    mask = np.ma.getmaskarray(values)
    data = np.ma.getdata(values)
    if data.dtype == object:
        items: list[object] = []
        row_mask = np.asarray(mask if mask.ndim == 1 else mask.all(axis=1), dtype=bool)
        for value, masked in zip(data, row_mask, strict=True):
            if masked or value is None:
                items.append(None)
            elif isinstance(value, np.ndarray | np.ma.MaskedArray):
                items.append(np.ma.filled(value.astype(float), np.nan).tolist())
            elif isinstance(value, bytes):
                items.append(value.decode("utf-8", "replace"))
            else:
                items.append(value)
        return _typed(pa.array(items), xtype)
    if data.ndim == 2:  # fixed-length numeric arrays (points, circles)
        filled = np.where(mask, np.nan, data) if data.dtype.kind == "f" else data
        flat = pa.array(filled.reshape(-1))
        rows = mask.all(axis=1)
        arr = pa.FixedSizeListArray.from_arrays(flat, data.shape[1])
        return pa.array(arr.to_pylist(), arr.type, mask=rows) if rows.any() else arr
    if data.dtype.kind in ("S", "U"):
        text = [
            None if m else (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v))
            for v, m in zip(data.tolist(), mask, strict=True)
        ]
        return _typed(pa.array(text, pa.string()), xtype)
    if data.dtype.kind == "f":
        return pa.array(data, mask=mask if mask.any() else None)
    return pa.array(data, mask=mask if mask.any() else None)


def _typed(arr: pa.Array, xtype: str | None) -> pa.Array:
    if xtype in ("timestamp", "adql:TIMESTAMP") and pa.types.is_string(arr.type):
        try:
            return arr.cast(pa.timestamp("us"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return arr
    return arr


def _duckdb_type(t: pa.DataType) -> str:
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_integer(t):
        return {8: "SMALLINT", 16: "SMALLINT", 32: "INTEGER"}.get(t.bit_width, "BIGINT")
    if pa.types.is_floating(t):
        return "DOUBLE" if t.bit_width == 64 else "FLOAT"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP"
    if pa.types.is_fixed_size_list(t):
        return f"{_duckdb_type(t.value_type)}[{t.list_size}]"
    if pa.types.is_list(t):
        return f"{_duckdb_type(t.value_type)}[]"
    return "VARCHAR"


def extra_table(name: str, table: pa.Table) -> ExtraTable:
    """``TAP_UPLOAD.<name>`` for the engine."""
    columns = []
    for f in table.schema:
        md = {k.decode(): v.decode() for k, v in (f.metadata or {}).items()}
        columns.append(
            ColumnMeta(
                f.name,
                _duckdb_type(f.type),
                **{k: md[k] for k in _META_KEYS if k in md},
            )
        )
    return ExtraTable(TableMeta(TAP_UPLOAD, name, "", "", columns), table)


def save(directory: Path, uploads: Mapping[str, pa.Table]) -> None:
    """Keep a job's uploads as Arrow IPC files until it runs."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, table in uploads.items():
        path = str(directory / f"{name}.arrow")
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)


def load(directory: Path) -> list[ExtraTable]:
    """The uploads :func:`save` kept, as engine tables."""
    if not directory.is_dir():
        return []
    out = []
    for path in sorted(directory.glob("*.arrow")):
        with pa.OSFile(str(path), "rb") as source:
            table = pa.ipc.open_file(source).read_all()
        out.append(extra_table(path.stem, table))
    return out


def names(directory: Path) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.arrow")) if directory.is_dir() else []
