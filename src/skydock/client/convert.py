"""Turning an Arrow result into the object a notebook asked for.

Results travel as Arrow IPC streams; the engine puts each column's ``unit``, ``ucd`` and
``description`` in the Arrow field metadata, and these survive into astropy (``unit``,
``description``, ``meta['ucd']``) and into ``DataFrame.attrs['units']``. pandas, astropy,
polars and numpy are imported here, on use: the bare client needs none of them.
"""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc

from skydock.client.errors import BadRequestError

# Asked-for formats that are built from Arrow on the client.
TABLE_FORMATS = ("pandas", "table", "astropy", "polars", "arrow", "array", "structarray")
# Formats the server writes, returned as text or bytes as they come.
TEXT_FORMATS = ("csv", "tsv", "votable", "votable-binary2", "json")
BINARY_FORMATS = ("fits", "parquet")
ALIASES = {"ascii": "tsv", "astropy": "table", "pyarrow": "arrow", "dataframe": "pandas"}


def canonical(fmt: str) -> str:
    name = fmt.strip().lower()
    name = ALIASES.get(name, name)
    if name not in (*TABLE_FORMATS, *TEXT_FORMATS, *BINARY_FORMATS):
        accepted = ", ".join(sorted({*TABLE_FORMATS, *TEXT_FORMATS, *BINARY_FORMATS, "ascii"}))
        raise BadRequestError(f"unknown format {fmt!r}; use one of {accepted}")
    return name


def read_arrow(body: bytes) -> pa.Table:
    return read_arrow_stream(pa.py_buffer(body))[0]


def read_arrow_stream(source: pa.Buffer | pa.NativeFile) -> tuple[pa.Table, dict[str, str]]:
    """The rows of an Arrow IPC stream, and the trailer a streamed answer ends with
    (``skydock.rows``, ``skydock.overflow`` or ``skydock.error``; empty if there is none)."""
    reader = ipc.open_stream(source)
    batches, trailer = [], {}
    while True:
        try:
            batch, meta = reader.read_next_batch_with_custom_metadata()
        except StopIteration:
            break
        if meta is not None and len(meta):
            trailer = {k.decode(): v.decode() for k, v in meta.to_dict().items()}
        if batch.num_rows:
            batches.append(batch)
    return pa.Table.from_batches(batches, schema=reader.schema), trailer


def read_csv(body: bytes, delimiter: str = ",") -> pa.Table:
    if not body.strip():
        return pa.table({})
    opts = pacsv.ParseOptions(delimiter=delimiter)
    return pacsv.read_csv(io.BytesIO(body), parse_options=opts)


def _meta(field: pa.Field) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}


def units(table: pa.Table) -> dict[str, str]:
    return {f.name: m["unit"] for f in table.schema if (m := _meta(f)).get("unit")}


def convert(table: pa.Table, fmt: str, *, overflow: bool = False) -> Any:
    """``table`` as ``fmt`` (one of ``TABLE_FORMATS``)."""
    if fmt == "arrow":
        return table
    if fmt == "pandas":
        return to_pandas(table, overflow=overflow)
    if fmt == "table":
        return to_astropy(table, overflow=overflow)
    if fmt == "polars":
        import polars as pl

        return pl.from_arrow(table)
    if fmt == "structarray":
        return to_pandas(table).to_records(index=False)
    if fmt == "array":
        import numpy as np

        non_numeric = [
            f.name
            for f in table.schema
            if not pa.types.is_integer(f.type)
            and not pa.types.is_floating(f.type)
            and not pa.types.is_boolean(f.type)
        ]
        if non_numeric:
            raise BadRequestError(
                f"fmt='array' needs numeric columns; {', '.join(non_numeric)} are not: "
                "select numeric columns or use fmt='structarray'"
            )
        return (
            np.column_stack(
                [
                    col.to_numpy().astype(float)
                    if col.null_count == 0
                    else col.cast(pa.float64()).fill_null(float("nan")).to_numpy()
                    for col in table.columns
                ]
            )
            if table.num_columns
            else np.empty((table.num_rows, 0))
        )
    raise BadRequestError(f"cannot convert a table to {fmt!r}")


def to_pandas(table: pa.Table, *, overflow: bool = False) -> Any:
    frame = table.to_pandas()
    frame.attrs["units"] = units(table)
    frame.attrs["overflow"] = overflow
    return frame


def to_astropy(table: pa.Table, *, overflow: bool = False) -> Any:
    """An astropy Table with units, descriptions and UCDs; NULLs become masked values."""
    import numpy as np
    from astropy.table import Column, MaskedColumn, Table

    out = Table()
    for field, chunks in zip(table.schema, table.columns, strict=True):
        meta = _meta(field)
        if chunks.null_count:
            mask = chunks.is_null().to_numpy(zero_copy_only=False)
            data = chunks.to_numpy(zero_copy_only=False)
            if data.dtype == object and pa.types.is_string(field.type):
                data = np.array(["" if v is None else v for v in data])
            elif data.dtype == object:
                data = np.array([0 if v is None else v for v in data])
            col: Column = MaskedColumn(data, name=field.name, mask=mask)
        else:
            data = chunks.to_numpy(zero_copy_only=False)
            if data.dtype == object and (
                pa.types.is_string(field.type)
                or pa.types.is_large_string(field.type)
                or pa.types.is_string_view(field.type)
            ):
                data = data.astype(str)
            col = Column(data, name=field.name)
        if meta.get("unit"):
            col.unit = meta["unit"]
        if meta.get("description"):
            col.description = meta["description"]
        if meta.get("ucd"):
            col.meta["ucd"] = meta["ucd"]
        out.add_column(col)
    schema_meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    out.meta.update(schema_meta)
    out.meta["overflow"] = overflow
    return out
