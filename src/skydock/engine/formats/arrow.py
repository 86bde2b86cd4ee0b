"""Parquet (with the VOParquet 1.0 VOTable header) and the Arrow IPC stream."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from skydock.engine.formats.columns import Column, unique_names
from skydock.engine.formats.values import Output, python_text
from skydock.engine.formats.votable import votable_header

PARQUET_ROW_GROUP = 131_072
VOPARQUET_VERSION = "1.0"


def _arrow_schema(
    schema: pa.Schema, cols: list[Column], info: Mapping[str, str | bytes]
) -> pa.Schema:
    fields = []
    for field, col in zip(schema, cols, strict=True):
        meta = dict(field.metadata or {})
        for key in ("unit", "ucd", "description"):
            value = getattr(col, key)
            if value:
                meta[key.encode()] = value.encode()
            else:
                meta.pop(key.encode(), None)
        fields.append(field.with_metadata(meta or None))
    metadata = {
        str(k).encode(): v if isinstance(v, bytes) else str(v).encode() for k, v in info.items()
    }
    return pa.schema(fields, metadata=metadata or None)


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    if batch.schema.equals(schema, check_metadata=False):
        return pa.RecordBatch.from_arrays(batch.columns, schema=schema)
    arrays = [
        python_text(col) if pa.types.is_interval(col.type) else col.cast(field.type)
        for col, field in zip(batch.columns, schema, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _parquet_type(t: pa.DataType) -> pa.DataType:
    """What Parquet can hold: view types become plain, intervals become text."""
    if pa.types.is_string_view(t) or pa.types.is_interval(t):
        return pa.string()
    if pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        return pa.list_(_parquet_type(t.value_type))
    return t


def write_parquet(output: Output) -> int:
    cols = unique_names(output.cols)
    fields = [
        f.with_type(_parquet_type(f.type)).with_name(c.name)
        for f, c in zip(output.schema, cols, strict=True)
    ]
    target = _arrow_schema(pa.schema(fields), cols, output.info)
    rows = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    # Dictionary pages pay off for text, not for measurements (and cost 3x the time).
    text = [c.name for c in cols if c.kind in ("string", "other")]
    options = {"compression": "zstd", "use_dictionary": text}
    with pq.ParquetWriter(output.sink, target, **options) as writer:
        for batch in output.batches:
            if batch.num_rows == 0:
                continue
            pending.append(_conform(batch, target))
            pending_rows += batch.num_rows
            rows += batch.num_rows
            if pending_rows >= PARQUET_ROW_GROUP:
                writer.write_table(pa.Table.from_batches(pending), row_group_size=pending_rows)
                pending, pending_rows = [], 0
        if pending:
            writer.write_table(pa.Table.from_batches(pending), row_group_size=pending_rows)
        writer.add_key_value_metadata(
            {
                "IVOA.VOTable-Parquet.version": VOPARQUET_VERSION,
                "IVOA.VOTable-Parquet.content": votable_header(
                    cols, output.info, bool(output.overflow)
                ),
            }
        )
    return rows


def write_arrow(output: Output) -> int:
    target = _arrow_schema(output.schema, output.cols, output.info)
    rows = 0
    with ipc.new_stream(output.sink, target) as writer:
        for batch in output.batches:
            if batch.num_rows:
                writer.write_batch(_conform(batch, target))
                rows += batch.num_rows
    return rows


# Keys of the trailing, empty record batch of a streamed Arrow answer.
TRAILER_ROWS = "skydock.rows"
TRAILER_OVERFLOW = "skydock.overflow"
TRAILER_ERROR = "skydock.error"
STREAM_CHUNK = 1 << 20


class _Pieces:
    """A write-only stream that hands back what was written since it was last drained."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.size = 0
        self.closed = False

    def write(self, data: Any) -> int:
        piece = bytes(data)
        self._parts.append(piece)
        self.size += len(piece)
        return len(piece)

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts, self.size = [], 0
        return out

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def stream_arrow(
    schema: pa.Schema,
    cols: list[Column],
    batches: Iterable[pa.RecordBatch],
    overflow: object,
    info: Mapping[str, str | bytes],
    describe: Callable[[Exception], str] = str,
) -> Iterator[bytes]:
    """An Arrow IPC stream in pieces of about a megabyte, written as the rows arrive.

    The row count and the overflow flag are only known at the end, so they travel in
    the custom metadata of a last, empty record batch (any Arrow reader skips it). An
    error after the first piece went out is reported there too (``skydock.error``).
    """
    target = _arrow_schema(schema, cols, info)
    pieces = _Pieces()
    rows = 0
    writer = ipc.new_stream(pieces, target)
    try:
        for batch in batches:
            if batch.num_rows:
                writer.write_batch(_conform(batch, target))
                rows += batch.num_rows
            if pieces.size >= STREAM_CHUNK:
                yield pieces.drain()
        trailer = {TRAILER_ROWS: str(rows), TRAILER_OVERFLOW: "true" if overflow else "false"}
    except Exception as exc:  # the status line is long gone: the reader learns it here
        trailer = {TRAILER_ROWS: str(rows), TRAILER_ERROR: describe(exc)}
    writer.write_batch(pa.RecordBatch.from_pylist([], schema=target), custom_metadata=trailer)
    writer.close()
    yield pieces.drain()
