"""Arrow arrays as bytes: the stream every writer writes to, and helpers shared by formats.

Values are handled a chunk of rows at a time with Arrow compute and numpy, never one
Python object per value except for types Arrow cannot cast.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from skydock.engine.formats.columns import Column
from skydock.errors import FormatError

CHUNK_ROWS = 65_536  # rows formatted at a time: bounds memory and keeps Arrow offsets 32-bit


class Writable(Protocol):
    """Where results go: a file, a spooled temporary file, an HTTP body stream..."""

    def write(self, data: memoryview, /) -> object: ...


class Sink:
    """Wraps the caller's stream: counts bytes and answers ``tell()`` for pyarrow.

    Pipes and HTTP bodies cannot tell their position; Parquet needs it. Closing the sink
    leaves the caller's stream open.
    """

    def __init__(self, out: Writable) -> None:
        self._out = out
        self.pos = 0
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self._out.write(view)
        self.pos += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.pos

    def flush(self) -> None:
        flush = getattr(self._out, "flush", None)
        if flush is not None:
            flush()

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False


@dataclass
class Output:
    """A result on its way out: what every writer is given."""

    schema: pa.Schema
    cols: list[Column]
    batches: Iterable[pa.RecordBatch]
    sink: Sink
    overflow: object  # truthy if the row cap cut the result short; read after the last batch
    info: Mapping[str, str]


def chunks(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Non-empty slices of at most ``CHUNK_ROWS`` rows."""
    for batch in batches:
        for start in range(0, batch.num_rows, CHUNK_ROWS):
            yield batch.slice(start, CHUNK_ROWS)


def decode(arr: pa.Array) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr


def joined_bytes(arr: pa.Array) -> memoryview:
    """All values of a string/binary array without nulls, back to back, without copying."""
    buffers = arr.buffers()
    large = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    offsets = np.frombuffer(buffers[1], dtype=np.int64 if large else np.int32)
    offsets = offsets[arr.offset : arr.offset + len(arr) + 1]
    if buffers[2] is None or len(arr) == 0:
        return memoryview(b"")
    return memoryview(buffers[2])[int(offsets[0]) : int(offsets[-1])]


def byte_lengths(arr: pa.Array) -> np.ndarray:
    """The length in bytes of each value of a string/binary array without nulls."""
    return np.asarray(pc.binary_length(arr), dtype=np.int64)


def concat(*parts: Any) -> pa.Array:
    """Row-wise concatenation of string arrays and constants (nulls propagate)."""
    return pc.binary_join_element_wise(*parts, "")


_NO_BYTES = pa.scalar(b"", pa.large_binary())


def concat_binary(*parts: pa.Array) -> pa.Array:
    """Row-wise concatenation of binary arrays."""
    return pc.binary_join_element_wise(*(p.cast(pa.large_binary()) for p in parts), _NO_BYTES)


def write_cells(cells: list[pa.Array], out: Any, options: pacsv.WriteOptions) -> None:
    """Text cells as rows through Arrow's CSV writer, the fastest way to join them."""
    names = [f"c{i}" for i in range(len(cells))]
    pacsv.write_csv(pa.Table.from_arrays(cells, names=names), out, options)


_PLAIN_ROWS = pacsv.WriteOptions(include_header=False, delimiter="\x01", quoting_style="none")


def join_rows(
    cells: list[pa.Array], sep: bytes, end: bytes, *, also: tuple[bytes, bytes] = (b"", b"")
) -> bytes:
    """``c1 sep c2 ... end`` for every row. The cells must hold no quote, CR, LF or \\x01:
    Arrow's CSV writer then joins them with \\x01 several times faster than
    ``binary_join_element_wise``, and byte replacements finish the job (``also`` is one
    more replacement)."""
    out = pa.BufferOutputStream()
    write_cells(cells, out, _PLAIN_ROWS)
    text = out.getvalue().to_pybytes()
    del out
    text = text.replace(b"\x01", sep)
    text = text.replace(b"\n", end)
    return text.replace(*also) if also[0] else text


def list_lengths(arr: pa.Array) -> np.ndarray:
    return np.asarray(pc.list_value_length(arr).fill_null(0), dtype=np.int64)


def flat_values(arr: pa.Array, col: Column) -> pa.Array:
    """The elements of a list column, one after another (null lists hold none)."""
    if col.size is not None:
        return arr.values.slice(arr.offset * col.size, len(arr) * col.size)
    return arr.flatten()


def offsets_of(lengths: np.ndarray, scale: int = 1) -> np.ndarray:
    """Arrow offsets for values of these lengths (times ``scale`` bytes each)."""
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths * scale, out=out[1:])
    return out


def binary_from(data: Any, offsets: np.ndarray) -> pa.Array:
    return pa.Array.from_buffers(
        pa.large_binary(),
        len(offsets) - 1,
        [None, pa.py_buffer(offsets.astype(np.int64, copy=False)), pa.py_buffer(data)],
    )


def iso(arr: pa.Array) -> pa.Array:
    """DALI timestamps: ``YYYY-MM-DDThh:mm:ss[.fff]`` in UTC without a zone; dates as is."""
    t = arr.type
    if pa.types.is_timestamp(t):
        if t.tz is not None:
            arr = arr.cast(pa.timestamp(t.unit))
        return pc.replace_substring(arr.cast(pa.string()), " ", "T", max_replacements=1)
    return arr.cast(pa.string())


def python_text(arr: pa.Array) -> pa.Array:
    """Text for types Arrow cannot cast (structs, maps, intervals...), one value at a time."""
    try:
        return arr.cast(pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        pass

    def text(value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, bytes):
            return "\\x" + value.hex()
        if isinstance(value, dict | list | tuple):
            return json.dumps(value, default=str, ensure_ascii=False)
        return str(value)

    return pa.array([text(v) for v in arr.to_pylist()], pa.string())


# The big-endian dtype holding every value of a numeric Arrow type, with signed integers
# only (VOTable and FITS have no unsigned type wider than a byte).
BIG_ENDIAN_DTYPE = {
    pa.bool_(): ">u1",
    pa.int8(): ">i2",
    pa.uint8(): ">i2",
    pa.int16(): ">i2",
    pa.uint16(): ">i4",
    pa.int32(): ">i4",
    pa.uint32(): ">i8",
    pa.int64(): ">i8",
    pa.uint64(): ">i8",
    pa.float16(): ">f4",
    pa.float32(): ">f4",
    pa.float64(): ">f8",
}


def plain_string(arr: pa.Array) -> pa.Array:
    return arr if arr.type == pa.string() else arr.cast(pa.string())


def numbers(arr: pa.Array, dtype: str, name: str) -> np.ndarray:
    """Values as a big-endian numpy array of ``dtype``; NULLs become NaN, 0 or false."""
    arr = decode(arr)
    t = arr.type
    if pa.types.is_boolean(t):
        values = np.asarray(arr.fill_null(False), dtype=bool)
        return np.where(values, np.uint8(ord("T")), np.uint8(ord("F"))).astype(">u1")
    if pa.types.is_decimal(t) or pa.types.is_float16(t):
        arr = arr.cast(pa.float64() if pa.types.is_decimal(t) else pa.float32())
    if pa.types.is_floating(arr.type):
        values = np.asarray(arr.fill_null(math.nan))
    else:
        if pa.types.is_uint64(t):
            try:
                arr = arr.cast(pa.int64())
            except pa.ArrowInvalid as exc:
                raise FormatError(
                    f"column {name!r} holds unsigned values above 2**63-1, which this format "
                    "cannot store as integers; cast it to DOUBLE or VARCHAR in the query"
                ) from exc
        values = np.asarray(arr.fill_null(0))
    return values.astype(dtype, copy=False)
