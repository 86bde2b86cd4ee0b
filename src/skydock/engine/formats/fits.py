"""FITS: one binary table extension, with NULLs as TNULL (integers) or NaN (floats).

The header states the row count and string widths, so rows are spooled to a temporary
Arrow file first (bounded memory), then written as rows followed by the heap of
variable-length arrays.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from skydock.engine.formats.columns import Column, unique_names
from skydock.engine.formats.values import (
    BIG_ENDIAN_DTYPE,
    Output,
    byte_lengths,
    chunks,
    decode,
    flat_values,
    iso,
    joined_bytes,
    list_lengths,
    numbers,
    offsets_of,
    plain_string,
    python_text,
)
from skydock.errors import FormatError

_CODE = {">u1": "B", ">i2": "I", ">i4": "J", ">i8": "K", ">f4": "E", ">f8": "D"}
# Stored types. Without NULLs, int8 and unsigned columns keep their exact type through
# TZERO; with NULLs (and inside arrays) they widen, so TNULL is unambiguous.
_OFFSET = {pa.int8(): -128, pa.uint16(): 2**15, pa.uint32(): 2**31, pa.uint64(): 2**63}
_OFFSET_DTYPE = {pa.int8(): ">u1", pa.uint16(): ">i2", pa.uint32(): ">i4", pa.uint64(): ">i8"}
_DTYPE = {**BIG_ENDIAN_DTYPE, pa.uint8(): ">u1"}  # FITS B is an unsigned byte
_BLOCK = 2880


@dataclass
class _FitsColumn:
    """What the spool learnt about a column, and how it is laid out in a row."""

    col: Column
    nulls: bool = False
    low: int | None = None
    high: int | None = None
    width: int = 0  # longest text in bytes, or longest variable-length array
    elements: int = 0  # variable-length array elements over all rows: the heap
    tform: str = ""
    nbytes: int = 0  # bytes in a row
    dtype: str = ""  # stored numpy dtype (of the elements, for arrays)
    tnull: int | None = None
    tzero: int | None = None

    @property
    def variable(self) -> bool:
        return self.col.kind == "binary" or (self.col.kind == "list" and self.col.size is None)


def _spool_array(arr: pa.Array, col: Column) -> pa.Array:
    """The column in one fixed Arrow type per column, for the spool file."""
    arr = decode(arr)
    kind = col.kind
    if kind in ("bool", "int"):
        return arr
    if kind == "decimal":
        return arr.cast(pa.float64())
    if kind == "float":
        return arr.cast(pa.float32()) if pa.types.is_float16(arr.type) else arr
    if kind == "list":
        element = col.element or pa.float64()
        if pa.types.is_uint64(element):
            numbers(flat_values(arr, col), ">i8", col.name)  # refuses values past int64
        return arr.cast(pa.list_(element, col.size if col.size is not None else -1))
    if kind == "binary":
        return arr.cast(pa.binary())
    text = plain_string(arr) if kind == "string" else iso(arr) if kind == "time" else None
    return (text if text is not None else python_text(arr)).cast(pa.binary())


def _observe(arr: pa.Array, fc: _FitsColumn) -> None:
    fc.nulls = fc.nulls or arr.null_count > 0
    kind = fc.col.kind
    if kind == "int" and len(arr) > arr.null_count:
        bounds = pc.min_max(arr)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        fc.low = low if fc.low is None else min(fc.low, low)
        fc.high = high if fc.high is None else max(fc.high, high)
    elif kind in ("string", "time", "other", "binary"):
        lengths = pc.binary_length(arr)
        fc.width = max(fc.width, pc.max(lengths).as_py() or 0)
        if kind == "binary":
            fc.elements += int(pc.sum(lengths).as_py() or 0)
    elif fc.variable:
        lengths = pc.list_value_length(arr)
        fc.width = max(fc.width, pc.max(lengths).as_py() or 0)
        fc.elements += int(pc.sum(lengths).as_py() or 0)


def _layout(fc: _FitsColumn, descriptor: str) -> None:
    col, kind = fc.col, fc.col.kind
    if kind in ("string", "time", "other"):
        fc.nbytes = fc.width = max(fc.width, 1)
        fc.tform = f"{fc.width}A"
        return
    if kind == "binary":
        fc.dtype = ">u1"
    elif kind == "list":
        fc.dtype = _DTYPE[col.element or pa.float64()]
    elif kind == "int" and col.type in _OFFSET and not fc.nulls:
        fc.dtype, fc.tzero = _OFFSET_DTYPE[col.type], _OFFSET[col.type]
    elif kind == "decimal":
        fc.dtype = ">f8"
    else:
        fc.dtype = _DTYPE[col.type]
    boolean = kind == "bool" or (kind == "list" and pa.types.is_boolean(col.element))
    code = "L" if boolean else _CODE[fc.dtype]
    itemsize = np.dtype(fc.dtype).itemsize
    if fc.variable:
        fc.tform = f"1{descriptor}{code}({fc.width})"
        fc.nbytes = 8 if descriptor == "P" else 16
    elif kind == "list":
        fc.tform = f"{col.size}{code}"
        fc.nbytes = itemsize * (col.size or 0)
    else:
        fc.tform = code
        fc.nbytes = itemsize


def _tnull(fc: _FitsColumn, spooled: list[pa.RecordBatch], index: int) -> int:
    """An integer the column never holds, for TNULL: an extreme of the type if free,
    else the smallest unused value above the minimum (found by scanning the spool)."""
    info = np.iinfo(np.dtype(fc.dtype))
    low, high = int(info.min), int(info.max)
    if fc.low is None or fc.high is None or fc.low > low:
        return low
    if fc.high < high:
        return high
    limit = low + 4096
    used: set[int] = set()
    for batch in spooled:
        column = batch.column(index)
        near = pc.filter(column, pc.less(column, limit))
        used.update(v for v in pc.unique(near).to_pylist() if v is not None)
    for value in range(low, limit):
        if value not in used:
            return value
    raise FormatError(
        f"column {fc.col.name!r} uses every integer near its type's limits, so FITS has no "
        "value left to mark NULL; cast it to a wider type or filter the NULLs in the query"
    )


def _card_text(value: str) -> str:
    """FITS headers hold printable ASCII only: line breaks become spaces, the rest '?'."""
    value = re.sub(r"[\t\r\n]+", " ", value)
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in value)


def _card_key(key: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", key).upper() or "INFO"
    return clean if len(clean) <= 8 else f"HIERARCH {clean}"


def _header(
    fcs: list[_FitsColumn], nrows: int, heap: int, overflow: bool, info: Mapping[str, str]
) -> bytes:
    from astropy.io import fits
    from astropy.io.fits.verify import VerifyWarning

    primary = fits.Header([("SIMPLE", True), ("BITPIX", 8), ("NAXIS", 0), ("EXTEND", True)])
    header = fits.Header(
        [
            ("XTENSION", "BINTABLE", "binary table extension"),
            ("BITPIX", 8),
            ("NAXIS", 2),
            ("NAXIS1", sum(fc.nbytes for fc in fcs), "bytes per row"),
            ("NAXIS2", nrows, "rows"),
            ("PCOUNT", heap, "bytes in the heap of variable-length arrays"),
            ("GCOUNT", 1),
            ("TFIELDS", len(fcs)),
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)  # HIERARCH and long-string cards
        for i, fc in enumerate(fcs, start=1):
            col = fc.col
            header[f"TTYPE{i}"] = _card_text(col.name)
            header[f"TFORM{i}"] = fc.tform
            if col.unit:
                header[f"TUNIT{i}"] = _card_text(col.unit)
            if fc.tnull is not None:
                header[f"TNULL{i}"] = fc.tnull
            if fc.tzero is not None:
                header[f"TSCAL{i}"] = 1
                header[f"TZERO{i}"] = fc.tzero
            if col.ucd:
                header[f"TUCD{i}"] = _card_text(col.ucd)
            if col.description:
                header[f"TCOMM{i}"] = _card_text(col.description)
        header["EXTNAME"] = "RESULTS"
        for key, value in info.items():
            header[_card_key(key)] = _card_text(str(value))
        if overflow:
            header["OVERFLOW"] = (True, "rows were cut off at the row limit")
        text = primary.tostring(padding=True) + header.tostring(padding=True)
    return text.encode("ascii")


def _fixed_width(arr: pa.Array, width: int) -> np.ndarray:
    """Binary values left-aligned in ``width`` bytes, NUL-padded: an (n, width) array."""
    data = arr.fill_null(b"")
    lengths = byte_lengths(data)
    out = np.zeros((len(data), width), dtype=np.uint8)
    total = int(lengths.sum())
    if total:
        rows = np.repeat(np.arange(len(data)), lengths)
        starts = np.repeat(offsets_of(lengths)[:-1], lengths)
        out[rows, np.arange(total) - starts] = np.frombuffer(joined_bytes(data), np.uint8)
    return out


def _scalars(arr: pa.Array, fc: _FitsColumn) -> np.ndarray:
    if fc.col.kind == "bool":
        values = numbers(arr, ">u1", fc.col.name)
        if arr.null_count:  # FITS logical NULL is a zero byte
            values[np.asarray(arr.is_null())] = 0
        return values
    if fc.tzero is not None:
        raw = np.asarray(arr)
        if raw.dtype == np.uint64:  # subtracting 2**63 flips the top bit
            return (raw ^ np.uint64(2**63)).view(np.int64).astype(">i8")
        return (raw.astype(np.int64) - fc.tzero).astype(fc.dtype)
    values = numbers(arr, fc.dtype, fc.col.name)
    if fc.tnull is not None and arr.null_count:
        values = np.array(values)
        values[np.asarray(arr.is_null())] = fc.tnull
    return values


def _rows(
    batch: pa.RecordBatch, fcs: list[_FitsColumn], heap_pos: int, descriptor: str
) -> tuple[np.ndarray, int]:
    """One spooled batch as FITS rows, and where the heap stands after it."""
    n = batch.num_rows
    rows = np.zeros((n, sum(fc.nbytes for fc in fcs)), dtype=np.uint8)
    at = 0
    for arr, fc in zip(batch.columns, fcs, strict=True):
        if fc.col.kind in ("string", "time", "other"):
            cell = _fixed_width(arr, fc.nbytes)
        elif fc.variable:
            if fc.col.kind == "binary":
                counts = byte_lengths(arr.fill_null(b""))
            else:
                counts = list_lengths(arr)
            itemsize = np.dtype(fc.dtype).itemsize
            starts = heap_pos + offsets_of(counts, itemsize)[:-1]
            heap_pos += int(counts.sum()) * itemsize
            pair = ">i4" if descriptor == "P" else ">i8"
            cell = np.stack([counts, starts], axis=1).astype(pair).view(np.uint8)
        elif fc.col.kind == "list":
            cell = numbers(flat_values(arr, fc.col), fc.dtype, fc.col.name).view(np.uint8)
        else:
            cell = _scalars(arr, fc).view(np.uint8)
        rows[:, at : at + fc.nbytes] = cell.reshape(n, fc.nbytes)
        at += fc.nbytes
    return rows, heap_pos


def _heap(batch: pa.RecordBatch, fcs: list[_FitsColumn]) -> Iterator[Any]:
    """The batch's variable-length arrays, in the order ``_rows`` pointed at them."""
    for arr, fc in zip(batch.columns, fcs, strict=True):
        if fc.col.kind == "binary":
            yield joined_bytes(arr.fill_null(b""))
        elif fc.variable:
            yield numbers(flat_values(arr, fc.col), fc.dtype, fc.col.name).data


def _spool(fcs: list[_FitsColumn], batches: Iterable[pa.RecordBatch], path: Path) -> int:
    """Write the rows to an Arrow file, learning row count, widths and integer ranges."""
    writer = None
    nrows = 0
    try:
        for chunk in chunks(batches):
            arrays = [_spool_array(chunk.column(i), fc.col) for i, fc in enumerate(fcs)]
            spooled = pa.RecordBatch.from_arrays(arrays, names=[f"c{i}" for i in range(len(fcs))])
            if writer is None:
                writer = ipc.new_file(str(path), spooled.schema)
            for arr, fc in zip(arrays, fcs, strict=True):
                _observe(arr, fc)
            writer.write_batch(spooled)
            nrows += chunk.num_rows
    finally:
        if writer is not None:
            writer.close()
    return nrows


def write_fits(output: Output) -> int:
    sink = output.sink
    fcs = [_FitsColumn(c) for c in unique_names(output.cols)]
    with tempfile.TemporaryDirectory(prefix="skydock-fits-") as tmp:
        path = Path(tmp) / "spool.arrow"
        nrows = _spool(fcs, output.batches, path)
        with contextlib.ExitStack() as stack:
            spooled: list[pa.RecordBatch] = []
            if nrows:
                reader = ipc.open_file(stack.enter_context(pa.memory_map(str(path))))
                spooled = [reader.get_batch(i) for i in range(reader.num_record_batches)]
            heap = sum(fc.elements * _heap_itemsize(fc) for fc in fcs)
            descriptor = "P" if heap < 2**31 else "Q"
            for index, fc in enumerate(fcs):
                _layout(fc, descriptor)
                if fc.col.kind == "int" and fc.nulls:
                    fc.tnull = _tnull(fc, spooled, index)
            sink.write(_header(fcs, nrows, heap, bool(output.overflow), output.info))
            written = heap_pos = 0
            for batch in spooled:
                rows, heap_pos = _rows(batch, fcs, heap_pos, descriptor)
                written += sink.write(rows.data)
            for batch in spooled:
                for piece in _heap(batch, fcs):
                    written += sink.write(piece)
            if written % _BLOCK:
                sink.write(bytes(_BLOCK - written % _BLOCK))
    return nrows


def _heap_itemsize(fc: _FitsColumn) -> int:
    if not fc.variable:
        return 0
    if fc.col.kind == "binary":
        return 1
    return np.dtype(_DTYPE[fc.col.element or pa.float64()]).itemsize


# --- Parquet and Arrow --------------------------------------------------------------------
