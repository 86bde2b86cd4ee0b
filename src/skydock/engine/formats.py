"""Query results as bytes: CSV, TSV, VOTable (TABLEDATA, BINARY2), FITS, Parquet, Arrow, JSON.

Every writer takes the rows as a stream of Arrow record batches and writes them as they
come, so a result never has to fit in memory. FITS is the one exception to writing at
once: its header states the row count and string widths, so rows are spooled to a
temporary Arrow file first (bounded memory, sequential output afterwards).

Conventions, chosen once for every format:

- Column metadata (unit, UCD, description) comes from ``ColumnMeta``; without one, from
  Arrow field metadata keys ``unit``, ``ucd``, ``description`` (so results round-trip).
- CSV and TSV follow what PostgreSQL's ``COPY ... CSV HEADER`` gives Astro Data Lab
  users: a header row, ``\\n`` line ends, NULL as an empty field and an empty string as
  ``""``, booleans ``t``/``f``, ``NaN``/``Infinity``/``-Infinity``, arrays ``{1.5,NULL}``.
  Floats use the shortest text that reads back to the identical value, with ``.0`` on
  integral values so readers keep the column floating point. TSV quotes like CSV.
- VOTable is 1.4 (namespace v1.3); text is ``unicodeChar`` because VOTable 1.4 ``char``
  is ASCII only; timestamps and dates are DALI ``char``/``xtype="timestamp"``. NULL is an
  empty TD or the BINARY2 null flag. Unsupported types (structs, maps, intervals,
  arrays of text) are written as their text. TABLEDATA cannot tell an empty string from
  NULL; BINARY2 can.
- FITS strings are UTF-8 in ``A`` columns padded with NUL; integer NULLs use ``TNULL``
  (columns with NULLs are widened instead of offset with ``TZERO``, because readers
  disagree on whether TNULL applies before or after TZERO); float NULLs are NaN.
- JSON has no NaN or infinity: they become ``null``, like NULL. Its shape::

      {"columns": [{"name", "datatype", "arraysize", "xtype", "unit", "ucd",
                    "description"}, ...],
       "info": {...}, "data": [[row values...], ...], "rows": n, "overflow": false}

  ``datatype``/``arraysize``/``xtype`` are the VOTable ones. Integers are written exactly
  (readers in JavaScript lose precision past 2**53, Python's ``json`` does not). One row
  per line; a '"' inside a string is written ``\\u0022``.

``overflow`` is read only after the last batch, so callers may pass an object that becomes
truthy when the row cap cut the stream short.
"""

from __future__ import annotations

import binascii
import contextlib
import json
import math
import re
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from skydock.engine.catalog import ColumnMeta
from skydock.errors import FormatError

CHUNK_ROWS = 65_536  # rows formatted at a time: bounds memory and keeps Arrow offsets 32-bit
PARQUET_ROW_GROUP = 131_072
VOTABLE_NS = "http://www.ivoa.net/xml/VOTable/v1.3"
VOPARQUET_VERSION = "1.0"


@dataclass(frozen=True)
class Format:
    """An output format: its canonical name, HTTP media type and file extension."""

    name: str
    media_type: str
    extension: str
    description: str


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("csv", "text/csv;header=present", "csv", "comma-separated values with a header"),
        Format("tsv", "text/tab-separated-values", "tsv", "tab-separated values with a header"),
        Format("votable", "application/x-votable+xml", "vot", "VOTable 1.4, TABLEDATA"),
        Format(
            "votable-binary2",
            "application/x-votable+xml;serialization=BINARY2",
            "vot",
            "VOTable 1.4, BINARY2",
        ),
        Format("fits", "application/fits", "fits", "FITS binary table"),
        Format(
            "parquet", "application/vnd.apache.parquet", "parquet", "Parquet with VOParquet 1.0"
        ),
        Format("arrow", "application/vnd.apache.arrow.stream", "arrows", "Arrow IPC stream"),
        Format("json", "application/json", "json", "JSON: column metadata and rows as arrays"),
    )
}

_ALIASES: dict[str, str] = {
    **{name: name for name in FORMATS},
    **{f.media_type.lower(): f.name for f in FORMATS.values()},
    "text/csv": "csv",
    "tab": "tsv",
    "ascii": "tsv",  # Astro Data Lab's ofmt=ascii: tab-separated
    "text/tsv": "tsv",
    "vot": "votable",
    "xml": "votable",
    "text/xml": "votable",
    "votable/td": "votable",
    "votabletd": "votable",
    "votable-td": "votable",
    "votable-tabledata": "votable",
    "tabledata": "votable",
    "votable/b2": "votable-binary2",
    "votableb2": "votable-binary2",
    "votable-b2": "votable-binary2",
    "votable/binary2": "votable-binary2",
    "binary2": "votable-binary2",
    "application/x-fits-table": "fits",
    "application/x-parquet": "parquet",
    "application/parquet": "parquet",
    "arrows": "arrow",
    "arrow-stream": "arrow",
}
_VOTABLE_MIME = {"application/x-votable+xml", "text/xml"}
_SERIALIZATIONS = {"tabledata": "votable", "binary2": "votable-binary2"}


def normalise_format(name: str) -> str:
    """The canonical format for a name, MIME type (parameters allowed) or alias.

    Accepts what TAP clients send as RESPONSEFORMAT (``votable``,
    ``application/x-votable+xml;serialization=BINARY2``, ``text/csv``...) and what the
    Data Lab client sends as ``ofmt`` (``csv``, ``ascii``, ``votable``, ``fits``).
    """
    raw = str(name)
    text = raw.strip().lower()
    if text in _ALIASES:
        return _ALIASES[text]
    base, *params = (part.strip() for part in text.split(";"))
    options = {}
    for param in params:
        key, _, value = param.partition("=")
        options[key.strip()] = value.strip().strip('"')
    if base in _VOTABLE_MIME and "serialization" in options:
        found = _SERIALIZATIONS.get(options["serialization"])
        if found is None:
            raise FormatError(
                f"VOTable serialization {options['serialization']!r} is not supported; "
                "use TABLEDATA or BINARY2"
            )
        return found
    if base in _ALIASES:
        return _ALIASES[base]
    accepted = ", ".join(FORMATS)
    mimes = ", ".join(sorted({f.media_type for f in FORMATS.values()}))
    raise FormatError(
        f"unknown output format {raw!r}; use one of {accepted} (or a MIME type: {mimes})"
    )


# --- columns: what each Arrow type becomes ------------------------------------------------

_INT_VOTABLE = {
    pa.int8(): "short",
    pa.uint8(): "short",
    pa.int16(): "short",
    pa.uint16(): "int",
    pa.int32(): "int",
    pa.uint32(): "long",
    pa.int64(): "long",
    pa.uint64(): "long",
}


@dataclass
class _Column:
    """One output column: its Arrow type, how it is rendered, and its VOTable description."""

    name: str
    kind: str  # bool int float decimal string time binary list other
    datatype: str
    arraysize: str | None
    xtype: str | None
    unit: str
    ucd: str
    description: str
    type: pa.DataType  # the value type after decoding dictionaries
    element: pa.DataType | None = None  # list element type
    size: int | None = None  # fixed-size list length


def _is_list(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_fixed_size_list(t)
        or pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
    )


def _is_string(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


def _is_binary(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_binary_view(t)
        or pa.types.is_fixed_size_binary(t)
    )


def _numeric_votable(t: pa.DataType) -> str | None:
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return _INT_VOTABLE[t]
    if pa.types.is_floating(t):
        return "double" if t.bit_width == 64 else "float"
    return None


def _describe(field: pa.Field, meta: ColumnMeta | None) -> _Column:
    t = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
    if meta is not None:
        unit, ucd, description = meta.unit, meta.ucd, meta.description
    else:
        md = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
        unit, ucd, description = md.get("unit", ""), md.get("ucd", ""), md.get("description", "")
    col = _Column(field.name, "other", "unicodeChar", "*", None, unit, ucd, description, t)
    if pa.types.is_boolean(t):
        col.kind, col.datatype, col.arraysize = "bool", "boolean", None
    elif pa.types.is_integer(t):
        col.kind, col.datatype, col.arraysize = "int", _INT_VOTABLE[t], None
    elif pa.types.is_floating(t):
        col.kind, col.datatype, col.arraysize = "float", _numeric_votable(t) or "", None
    elif pa.types.is_decimal(t):
        col.kind, col.datatype, col.arraysize = "decimal", "double", None
    elif _is_string(t):
        col.kind = "string"
    elif pa.types.is_timestamp(t) or pa.types.is_date(t):
        col.kind, col.datatype, col.xtype = "time", "char", "timestamp"
    elif _is_binary(t):
        col.kind, col.datatype = "binary", "unsignedByte"
    elif _is_list(t) and _numeric_votable(t.value_type) is not None:
        col.kind, col.element = "list", t.value_type
        col.datatype = _numeric_votable(t.value_type) or ""
        if pa.types.is_fixed_size_list(t):
            col.size = t.list_size
            col.arraysize = str(t.list_size)
    return col


def _unique(cols: list[_Column]) -> list[_Column]:
    """Columns renamed ``x``, ``x_2``, ``x_3``... where names repeat (``SELECT a, a``): for
    files whose readers refuse duplicates (FITS, Parquet); astropy renames the same way."""
    seen: set[str] = set()
    out = []
    for col in cols:
        name, n = col.name, 1
        while name in seen:
            n += 1
            name = f"{col.name}_{n}"
        seen.add(name)
        out.append(col if name == col.name else replace(col, name=name))
    return out


def _describe_all(schema: pa.Schema, columns: Sequence[ColumnMeta | None] | None) -> list[_Column]:
    metas = list(columns or [])
    metas += [None] * (len(schema) - len(metas))
    return [_describe(field, meta) for field, meta in zip(schema, metas, strict=False)]


# --- shared helpers -----------------------------------------------------------------------


class Writable(Protocol):
    """Where results go: a file, a spooled temporary file, an HTTP body stream..."""

    def write(self, data: memoryview, /) -> object: ...


class _Sink:
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


def _chunks(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Non-empty slices of at most ``CHUNK_ROWS`` rows."""
    for batch in batches:
        for start in range(0, batch.num_rows, CHUNK_ROWS):
            yield batch.slice(start, CHUNK_ROWS)


def _decode(arr: pa.Array) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr


def _joined_bytes(arr: pa.Array) -> memoryview:
    """All values of a string/binary array without nulls, back to back, without copying."""
    buffers = arr.buffers()
    large = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    offsets = np.frombuffer(buffers[1], dtype=np.int64 if large else np.int32)
    offsets = offsets[arr.offset : arr.offset + len(arr) + 1]
    if buffers[2] is None or len(arr) == 0:
        return memoryview(b"")
    return memoryview(buffers[2])[int(offsets[0]) : int(offsets[-1])]


def _concat(*parts: Any) -> pa.Array:
    """Row-wise concatenation of string arrays and constants (nulls propagate)."""
    return pc.binary_join_element_wise(*parts, "")


_NO_BYTES = pa.scalar(b"", pa.large_binary())


def _concat_binary(*parts: pa.Array) -> pa.Array:
    """Row-wise concatenation of binary arrays."""
    return pc.binary_join_element_wise(*(p.cast(pa.large_binary()) for p in parts), _NO_BYTES)


_PLAIN_ROWS = pacsv.WriteOptions(include_header=False, delimiter="\x01", quoting_style="none")


def _join_rows(
    cells: list[pa.Array], sep: bytes, end: bytes, *, also: tuple[bytes, bytes] = (b"", b"")
) -> bytes:
    """``c1 sep c2 ... end`` for every row. The cells must hold no quote, CR, LF or \\x01:
    Arrow's CSV writer then joins them with \\x01 several times faster than
    ``binary_join_element_wise``, and byte replacements finish the job (``also`` is one
    more replacement)."""
    out = pa.BufferOutputStream()
    names = [f"c{i}" for i in range(len(cells))]
    pacsv.write_csv(pa.Table.from_arrays(cells, names=names), out, _PLAIN_ROWS)
    text = out.getvalue().to_pybytes()
    del out
    text = text.replace(b"\x01", sep)
    text = text.replace(b"\n", end)
    return text.replace(*also) if also[0] else text


def _lengths(arr: pa.Array) -> np.ndarray:
    return np.asarray(pc.list_value_length(arr).fill_null(0), dtype=np.int64)


def _flat_values(arr: pa.Array, col: _Column) -> pa.Array:
    """The elements of a list column, one after another (null lists hold none)."""
    if col.size is not None:
        return arr.values.slice(arr.offset * col.size, len(arr) * col.size)
    return arr.flatten()


def _offsets(lengths: np.ndarray, scale: int = 1) -> np.ndarray:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths * scale, out=offsets[1:])
    return offsets


def _binary_from(data: Any, offsets: np.ndarray) -> pa.Array:
    return pa.Array.from_buffers(
        pa.large_binary(),
        len(offsets) - 1,
        [None, pa.py_buffer(offsets.astype(np.int64, copy=False)), pa.py_buffer(data)],
    )


def _iso(arr: pa.Array) -> pa.Array:
    """DALI timestamps: ``YYYY-MM-DDThh:mm:ss[.fff]`` in UTC without a zone; dates as is."""
    t = arr.type
    if pa.types.is_timestamp(t):
        if t.tz is not None:
            arr = arr.cast(pa.timestamp(t.unit))
        return pc.replace_substring(arr.cast(pa.string()), " ", "T", max_replacements=1)
    return arr.cast(pa.string())


def _python_text(arr: pa.Array) -> pa.Array:
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


def _plain_string(arr: pa.Array) -> pa.Array:
    return arr if arr.type == pa.string() else arr.cast(pa.string())


# --- text cells: CSV, TSV, TABLEDATA and JSON share one renderer ----------------------------


@dataclass(frozen=True)
class _Dialect:
    null: str
    true: str
    false: str
    nan: str
    inf: str
    ninf: str
    float_point: bool  # write integral floats as "2.0", not "2"
    quote: Callable[[pa.Array], pa.Array]  # strings
    quote_time: bool
    list_open: str
    list_sep: str
    list_close: str
    list_nulls: tuple[str, str, str]  # NULL elements of float, integer, boolean arrays
    quote_lists: bool
    bytes_as_list: bool  # BLOBs as arrays of byte values (else PostgreSQL "\\x..." text)
    null_fixed_arrays: bool  # a NULL fixed-size array as that many NULL elements


def _float_text(arr: pa.Array, d: _Dialect) -> pa.Array:
    if pa.types.is_float16(arr.type):
        arr = arr.cast(pa.float32())
    text = arr.cast(pa.string())
    if d.float_point:
        integral = pc.and_(pc.is_finite(arr), pc.equal(pc.floor(arr), arr)).fill_null(False)
        if pc.any(integral).as_py():
            plain = pc.and_(integral, pc.invert(pc.match_substring(text, "e")))
            text = pc.if_else(plain, _concat(text, ".0"), text)
    special = pc.invert(pc.is_finite(arr)).fill_null(False)
    if pc.any(special).as_py():
        signed = pc.if_else(pc.greater(arr, 0), d.inf, d.ninf)
        text = pc.if_else(special, pc.if_else(pc.is_nan(arr), d.nan, signed), text)
    return text


def _cells(arr: pa.Array, col: _Column, d: _Dialect) -> pa.Array:
    """Each value as text in the dialect; NULL as the dialect's null (never a null)."""
    arr = _decode(arr)
    kind = col.kind
    if kind == "float":
        text = _float_text(arr, d)
    elif kind in ("int", "decimal"):
        text = arr.cast(pa.string())
    elif kind == "bool":
        text = pc.if_else(arr, d.true, d.false)
    elif kind == "string":
        text = d.quote(_plain_string(arr))
    elif kind == "time":
        text = _iso(arr)
        if d.quote_time:
            text = d.quote(text)
    elif kind == "list":
        text = _list_text(arr, col, d)
    elif kind == "binary" and d.bytes_as_list:
        byte_lists = pa.ListArray.from_arrays(
            pa.array(_offsets(np.asarray(pc.binary_length(arr).fill_null(0))), pa.int32()),
            pa.array(np.frombuffer(_joined_bytes(arr.cast(pa.binary()).fill_null(b"")), np.uint8)),
            mask=arr.is_null(),
        )
        byte_col = _Column(
            col.name, "list", "", None, None, "", "", "", byte_lists.type, pa.uint8()
        )
        text = _list_text(byte_lists, byte_col, d)
    elif kind == "binary":
        hexed = [None if v is None else "\\x" + v.hex() for v in arr.to_pylist()]
        text = pa.array(hexed, pa.string())
    else:
        text = d.quote(_python_text(arr))
    return text.fill_null(d.null)


def _list_text(arr: pa.Array, col: _Column, d: _Dialect) -> pa.Array:
    arr = _decode(arr)
    if col.size is not None or not pa.types.is_list(arr.type):
        arr = arr.cast(pa.list_(arr.type.value_type))
    element = col.element or arr.type.value_type
    flat = arr.flatten()
    elem_col = _Column("", "float", "", None, None, "", "", "", element)
    null = d.list_nulls[0]
    if pa.types.is_boolean(element):
        elem_col.kind, null = "bool", d.list_nulls[2]
    elif pa.types.is_integer(element):
        elem_col.kind, null = "int", d.list_nulls[1]
    items = _cells(flat, elem_col, _with_null(d, null))
    nested = pa.ListArray.from_arrays(
        pa.array(_offsets(_lengths(arr)), pa.int32()), items, mask=arr.is_null()
    )
    text = _concat(d.list_open, pc.binary_join(nested, d.list_sep), d.list_close)
    if col.size is not None and d.null_fixed_arrays and arr.null_count:
        text = text.fill_null(d.list_sep.join([null] * col.size))
    return d.quote(text) if d.quote_lists else text


def _with_null(d: _Dialect, null: str) -> _Dialect:
    return _Dialect(**{**d.__dict__, "null": null})


class _CsvQuote:
    """Quotes what would otherwise be misread: separators, quotes, line breaks, the empty
    string (unquoted empty means NULL), outer spaces (astropy strips them), a leading #.
    Remembers whether it quoted anything, so plain chunks can take a faster path."""

    def __init__(self, sep: str) -> None:
        self.pattern = "[" + re.escape(sep) + r'"\r\n]|^$|^\s|\s$|^#'
        self.used = False

    def __call__(self, text: pa.Array) -> pa.Array:
        needs = pc.match_substring_regex(text, self.pattern)
        if not pc.any(needs).as_py():
            return text
        self.used = True
        quoted = _concat('"', pc.replace_substring(text, '"', '""'), '"')
        return pc.if_else(needs, quoted, text)


_XML_SPECIAL = r'[&<>"\n\r\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]'
_XML_ILLEGAL = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]"


def _xml_escape(text: pa.Array) -> pa.Array:
    if not pc.any(pc.match_substring_regex(text, _XML_SPECIAL)).as_py():
        return text
    text = pc.replace_substring(text, "&", "&amp;")
    text = pc.replace_substring(text, "<", "&lt;")
    text = pc.replace_substring(text, ">", "&gt;")
    text = pc.replace_substring(text, '"', "&quot;")
    text = pc.replace_substring(text, "\n", "&#10;")
    text = pc.replace_substring(text, "\r", "&#13;")
    # XML 1.0 cannot carry these characters at all, not even as references.
    return pc.replace_substring_regex(text, _XML_ILLEGAL, "\ufffd")


_JSON_CONTROL = {chr(i): f"\\u{i:04x}" for i in range(32)} | {
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def _json_quote(text: pa.Array) -> pa.Array:
    """A JSON string, delimited by \\x02 (made '"' after the rows are joined) and with
    '"' inside escaped as \\u0022, so cells can go through ``_join_rows``."""
    if pc.any(pc.match_substring_regex(text, r'["\\\x00-\x1F]')).as_py():
        text = pc.replace_substring(text, "\\", "\\\\")
        text = pc.replace_substring(text, '"', "\\u0022")
        if pc.any(pc.match_substring_regex(text, r"[\x00-\x1F]")).as_py():
            for char, escaped in _JSON_CONTROL.items():
                text = pc.replace_substring(text, char, escaped)
    return _concat("\x02", text, "\x02")


def _csv_dialect(quote: _CsvQuote) -> _Dialect:
    return _Dialect(
        null="",
        true="t",
        false="f",
        nan="NaN",
        inf="Infinity",
        ninf="-Infinity",
        float_point=True,
        quote=quote,
        quote_time=False,
        list_open="{",
        list_sep=",",
        list_close="}",
        list_nulls=("NULL", "NULL", "NULL"),
        quote_lists=True,
        bytes_as_list=False,
        null_fixed_arrays=False,
    )


_TABLEDATA = _Dialect(
    null="",
    true="T",
    false="F",
    nan="NaN",
    inf="+Inf",
    ninf="-Inf",
    float_point=False,
    quote=_xml_escape,
    quote_time=False,
    list_open="",
    list_sep=" ",
    list_close="",
    list_nulls=("NaN", "0", "?"),
    quote_lists=False,
    bytes_as_list=True,
    null_fixed_arrays=True,  # VOTable readers insist on the declared element count
)

_JSON = _Dialect(
    null="null",
    true="true",
    false="false",
    nan="null",
    inf="null",
    ninf="null",
    float_point=True,
    quote=_json_quote,
    quote_time=True,
    list_open="[",
    list_sep=",",
    list_close="]",
    list_nulls=("null", "null", "null"),
    quote_lists=False,
    bytes_as_list=True,
    null_fixed_arrays=False,
)


# --- CSV and TSV --------------------------------------------------------------------------


def _write_delimited(
    sep: str, cols: list[_Column], batches: Iterable[pa.RecordBatch], sink: _Sink
) -> int:
    quote = _CsvQuote(sep)
    dialect = _csv_dialect(quote)
    names = quote(pa.array([c.name for c in cols], pa.string())).to_pylist()
    sink.write((sep.join(names) + "\n").encode())
    rows = 0
    plain = pacsv.WriteOptions(include_header=False, delimiter=sep, quoting_style="none")
    for chunk in _chunks(batches):
        rows += chunk.num_rows
        if not cols:
            sink.write(b"\n" * chunk.num_rows)
            continue
        quote.used = False
        cells = [_cells(chunk.column(i), col, dialect) for i, col in enumerate(cols)]
        if not quote.used:
            # Nothing needed quoting: Arrow's CSV writer joins the cells fastest.
            names = [f"c{i}" for i in range(len(cells))]
            pacsv.write_csv(pa.Table.from_arrays(cells, names=names), sink, plain)
            continue
        parts: list[Any] = []
        for i, text in enumerate(cells):
            if i:
                parts.append(sep)
            parts.append(text)
        parts.append("\n")
        sink.write(_joined_bytes(_concat(*parts)))
    return rows


# --- VOTable ------------------------------------------------------------------------------


_ILLEGAL_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: str) -> str:
    value = _ILLEGAL_XML_CHARS.sub("\ufffd", value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml_attr(value: str) -> str:
    text = _xml_text(value).replace('"', "&quot;")
    text = text.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    return f'"{text}"'


def _field_xml(col: _Column) -> str:
    attrs = [f"name={_xml_attr(col.name)}", f'datatype="{col.datatype}"']
    if col.arraysize:
        attrs.append(f'arraysize="{col.arraysize}"')
    if col.xtype:
        attrs.append(f'xtype="{col.xtype}"')
    if col.unit:
        attrs.append(f"unit={_xml_attr(col.unit)}")
    if col.ucd:
        attrs.append(f"ucd={_xml_attr(col.ucd)}")
    head = "<FIELD " + " ".join(attrs)
    if col.description:
        return f"{head}>\n<DESCRIPTION>{_xml_text(col.description)}</DESCRIPTION>\n</FIELD>\n"
    return head + "/>\n"


def _info_xml(info: Mapping[str, str]) -> str:
    return "".join(
        f"<INFO name={_xml_attr(str(k))} value={_xml_attr(str(v))}/>\n" for k, v in info.items()
    )


def _votable_head(cols: list[_Column], info: Mapping[str, str]) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<VOTABLE version="1.4" xmlns="{VOTABLE_NS}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{VOTABLE_NS} {VOTABLE_NS}">\n'
        '<RESOURCE type="results">\n'
        '<INFO name="QUERY_STATUS" value="OK"/>\n'
        + _info_xml(info)
        + "<TABLE>\n"
        + "".join(_field_xml(c) for c in cols)
    )


def _votable_tail(status: str | None, message: str = "") -> str:
    if status is None:
        trailer = ""
    elif message:
        trailer = f'<INFO name="QUERY_STATUS" value="{status}">{_xml_text(message)}</INFO>\n'
    else:
        trailer = f'<INFO name="QUERY_STATUS" value="{status}"/>\n'
    return "</TABLE>\n" + trailer + "</RESOURCE>\n</VOTABLE>\n"


def _write_votable(
    cols: list[_Column],
    batches: Iterable[pa.RecordBatch],
    sink: _Sink,
    overflow: object,
    info: Mapping[str, str],
    binary2: bool,
) -> int:
    sink.write(_votable_head(cols, info).encode())
    rows = 0
    stream = _Base64(sink) if binary2 else None
    sink.write(
        b'<DATA><BINARY2><STREAM encoding="base64">\n' if binary2 else b"<DATA><TABLEDATA>\n"
    )
    try:
        for chunk in _chunks(batches):
            if stream is not None:
                stream.write(_binary2_rows(chunk, cols))
            else:
                _write_tabledata(chunk, cols, sink)
            rows += chunk.num_rows
    except Exception as exc:
        # Keep the document well formed and say why it stops (TAP: trailing ERROR INFO).
        _close_data(sink, stream)
        sink.write(_votable_tail("ERROR", str(exc) or type(exc).__name__).encode())
        raise
    _close_data(sink, stream)
    sink.write(_votable_tail("OVERFLOW" if overflow else None).encode())
    return rows


def _close_data(sink: _Sink, stream: _Base64 | None) -> None:
    if stream is not None:
        stream.close()
        sink.write(b"</STREAM></BINARY2></DATA>\n")
    else:
        sink.write(b"</TABLEDATA></DATA>\n")


def _write_tabledata(chunk: pa.RecordBatch, cols: list[_Column], sink: _Sink) -> None:
    if not cols:
        sink.write(b"<TR></TR>\n" * chunk.num_rows)
        return
    cells = [_cells(chunk.column(i), col, _TABLEDATA) for i, col in enumerate(cols)]
    # Each row ends by opening the next one; the last opening is cut off.
    body = _join_rows(cells, b"</TD><TD>", b"</TD></TR>\n<TR><TD>")
    sink.write(b"<TR><TD>")
    sink.write(memoryview(body)[: -len(b"<TR><TD>")])


class _Base64:
    """Base64 over several writes: carries the bytes that do not fill a 3-byte group."""

    def __init__(self, sink: _Sink) -> None:
        self._sink = sink
        self._carry = b""

    def write(self, data: Any) -> None:
        view = memoryview(data)
        if self._carry:
            need = 3 - len(self._carry)
            head, view = self._carry + bytes(view[:need]), view[need:]
            if len(head) < 3:
                self._carry = head
                return
            self._sink.write(binascii.b2a_base64(head, newline=False))
            self._carry = b""
        cut = len(view) - len(view) % 3
        if cut:
            self._sink.write(binascii.b2a_base64(view[:cut], newline=True))
        self._carry = bytes(view[cut:])

    def close(self) -> None:
        if self._carry:
            self._sink.write(binascii.b2a_base64(self._carry, newline=True))
            self._carry = b""


_VOTABLE_DTYPE = {  # BINARY2 encodings, matching the FIELD datatypes of _describe
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


def _numbers(arr: pa.Array, dtype: str, name: str) -> np.ndarray:
    """Values as a big-endian numpy array of ``dtype``; NULLs become NaN, 0 or false."""
    arr = _decode(arr)
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


def _utf16(arr: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """unicodeChar cells: per-row UTF-16 code-unit counts and the big-endian bytes."""
    text = _plain_string(arr).fill_null("")
    counts = np.asarray(pc.utf8_length(text), dtype=np.int64)
    encoded = bytes(_joined_bytes(text)).decode("utf-8").encode("utf-16-be")
    if len(encoded) != 2 * int(counts.sum()):  # characters outside the BMP: surrogate pairs
        pieces = [s.encode("utf-16-be") for s in text.to_pylist()]
        counts = np.array([len(p) // 2 for p in pieces], dtype=np.int64)
        encoded = b"".join(pieces)
    return counts, _binary_from(encoded, _offsets(counts, 2))


def _binary2_cell(arr: pa.Array, col: _Column) -> tuple[np.ndarray | None, Any]:
    """One column of a BINARY2 chunk: ``(None, fixed (n, w) bytes)`` or
    ``(counts, variable-length binary array)``."""
    n = len(arr)
    kind = col.kind
    if kind in ("bool", "int", "float", "decimal"):
        dtype = ">f8" if kind == "decimal" else _VOTABLE_DTYPE[col.type]
        return None, _numbers(arr, dtype, col.name).view(np.uint8).reshape(n, -1)
    arr = _decode(arr)
    if kind == "list":
        element = col.element or pa.float64()
        dtype = _VOTABLE_DTYPE[element]
        values = _numbers(_flat_values(arr, col), dtype, col.name).view(np.uint8)
        if col.size is not None:
            return None, values.reshape(n, -1)
        counts = _lengths(arr)
        return counts, _binary_from(values, _offsets(counts, np.dtype(dtype).itemsize))
    if kind == "binary":
        data = arr.cast(pa.binary()).fill_null(b"")
        return np.asarray(pc.binary_length(data), dtype=np.int64), data
    if kind == "time":
        data = _iso(arr).fill_null("").cast(pa.binary())
        return np.asarray(pc.binary_length(data), dtype=np.int64), data
    return _utf16(arr if kind == "string" else _python_text(arr))


def _binary2_rows(chunk: pa.RecordBatch, cols: list[_Column]) -> Any:
    n = chunk.num_rows
    nulls = np.zeros((n, max(len(cols), 1)), dtype=bool)
    for i in range(len(cols)):
        column = chunk.column(i)
        if column.null_count:
            nulls[:, i] = np.asarray(column.is_null())
    fixed: list[np.ndarray] = [np.packbits(nulls[:, : len(cols)], axis=1, bitorder="big")]
    parts: list[Any] = []
    for i, col in enumerate(cols):
        counts, data = _binary2_cell(chunk.column(i), col)
        if counts is None:
            fixed.append(data)
            continue
        fixed.append(counts.astype(">u4").view(np.uint8).reshape(n, 4))
        parts.append(_fixed_block(fixed))
        parts.append(data)
        fixed = []
    if not parts:
        return np.ascontiguousarray(np.concatenate(fixed, axis=1)).data
    if fixed:
        parts.append(_fixed_block(fixed))
    return _joined_bytes(_concat_binary(*parts))


def _fixed_block(blocks: list[np.ndarray]) -> pa.Array:
    block = np.ascontiguousarray(np.concatenate(blocks, axis=1))
    n, width = block.shape
    return _binary_from(block.data, np.arange(n + 1, dtype=np.int64) * width)


# --- FITS ---------------------------------------------------------------------------------

_FITS_CODE = {">u1": "B", ">i2": "I", ">i4": "J", ">i8": "K", ">f4": "E", ">f8": "D"}
# Stored types. Without NULLs, int8 and unsigned columns keep their exact type through
# TZERO; with NULLs (and inside arrays) they widen, so TNULL is unambiguous.
_FITS_OFFSET = {pa.int8(): -128, pa.uint16(): 2**15, pa.uint32(): 2**31, pa.uint64(): 2**63}
_FITS_OFFSET_DTYPE = {pa.int8(): ">u1", pa.uint16(): ">i2", pa.uint32(): ">i4", pa.uint64(): ">i8"}
_FITS_DTYPE = {
    pa.int8(): ">i2",
    pa.uint8(): ">u1",
    pa.int16(): ">i2",
    pa.uint16(): ">i4",
    pa.int32(): ">i4",
    pa.uint32(): ">i8",
    pa.int64(): ">i8",
    pa.uint64(): ">i8",
    pa.float16(): ">f4",
    pa.float32(): ">f4",
    pa.float64(): ">f8",
    pa.bool_(): ">u1",
}
_FITS_BLOCK = 2880


@dataclass
class _FitsColumn:
    """What the spool learnt about a column, and how it is laid out in a row."""

    col: _Column
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


def _fits_spool_array(arr: pa.Array, col: _Column) -> pa.Array:
    """The column in one fixed Arrow type per column, for the spool file."""
    arr = _decode(arr)
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
            _numbers(_flat_values(arr, col), ">i8", col.name)  # refuses values past int64
        return arr.cast(pa.list_(element, col.size if col.size is not None else -1))
    if kind == "binary":
        return arr.cast(pa.binary())
    text = _plain_string(arr) if kind == "string" else _iso(arr) if kind == "time" else None
    return (text if text is not None else _python_text(arr)).cast(pa.binary())


def _fits_observe(arr: pa.Array, fc: _FitsColumn) -> None:
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


def _fits_layout(fc: _FitsColumn, descriptor: str) -> None:
    col, kind = fc.col, fc.col.kind
    if kind in ("string", "time", "other"):
        fc.nbytes = fc.width = max(fc.width, 1)
        fc.tform = f"{fc.width}A"
        return
    if kind == "binary":
        fc.dtype = ">u1"
    elif kind == "list":
        fc.dtype = _FITS_DTYPE[col.element or pa.float64()]
    elif kind == "int" and col.type in _FITS_OFFSET and not fc.nulls:
        fc.dtype, fc.tzero = _FITS_OFFSET_DTYPE[col.type], _FITS_OFFSET[col.type]
    elif kind == "decimal":
        fc.dtype = ">f8"
    else:
        fc.dtype = _FITS_DTYPE[col.type]
    boolean = kind == "bool" or (kind == "list" and pa.types.is_boolean(col.element))
    code = "L" if boolean else _FITS_CODE[fc.dtype]
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


def _fits_null(fc: _FitsColumn, spooled: list[pa.RecordBatch], index: int) -> int:
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


def _fits_card_text(value: str) -> str:
    """FITS headers hold printable ASCII only: line breaks become spaces, the rest '?'."""
    value = re.sub(r"[\t\r\n]+", " ", value)
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in value)


def _fits_key(key: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", key).upper() or "INFO"
    return clean if len(clean) <= 8 else f"HIERARCH {clean}"


def _fits_header(
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
            header[f"TTYPE{i}"] = _fits_card_text(col.name)
            header[f"TFORM{i}"] = fc.tform
            if col.unit:
                header[f"TUNIT{i}"] = _fits_card_text(col.unit)
            if fc.tnull is not None:
                header[f"TNULL{i}"] = fc.tnull
            if fc.tzero is not None:
                header[f"TSCAL{i}"] = 1
                header[f"TZERO{i}"] = fc.tzero
            if col.ucd:
                header[f"TUCD{i}"] = _fits_card_text(col.ucd)
            if col.description:
                header[f"TCOMM{i}"] = _fits_card_text(col.description)
        header["EXTNAME"] = "RESULTS"
        for key, value in info.items():
            header[_fits_key(key)] = _fits_card_text(str(value))
        if overflow:
            header["OVERFLOW"] = (True, "rows were cut off at the row limit")
        text = primary.tostring(padding=True) + header.tostring(padding=True)
    return text.encode("ascii")


def _fixed_width(arr: pa.Array, width: int) -> np.ndarray:
    """Binary values left-aligned in ``width`` bytes, NUL-padded: an (n, width) array."""
    data = arr.fill_null(b"")
    lengths = np.asarray(pc.binary_length(data), dtype=np.int64)
    out = np.zeros((len(data), width), dtype=np.uint8)
    total = int(lengths.sum())
    if total:
        rows = np.repeat(np.arange(len(data)), lengths)
        starts = np.repeat(_offsets(lengths)[:-1], lengths)
        out[rows, np.arange(total) - starts] = np.frombuffer(_joined_bytes(data), np.uint8)
    return out


def _fits_scalars(arr: pa.Array, fc: _FitsColumn) -> np.ndarray:
    if fc.col.kind == "bool":
        values = _numbers(arr, ">u1", fc.col.name)
        if arr.null_count:  # FITS logical NULL is a zero byte
            values[np.asarray(arr.is_null())] = 0
        return values
    if fc.tzero is not None:
        raw = np.asarray(arr)
        if raw.dtype == np.uint64:  # subtracting 2**63 flips the top bit
            return (raw ^ np.uint64(2**63)).view(np.int64).astype(">i8")
        return (raw.astype(np.int64) - fc.tzero).astype(fc.dtype)
    values = _numbers(arr, fc.dtype, fc.col.name)
    if fc.tnull is not None and arr.null_count:
        values = np.array(values)
        values[np.asarray(arr.is_null())] = fc.tnull
    return values


def _fits_rows(
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
                counts = np.asarray(pc.binary_length(arr.fill_null(b"")), dtype=np.int64)
            else:
                counts = _lengths(arr)
            itemsize = np.dtype(fc.dtype).itemsize
            starts = heap_pos + _offsets(counts, itemsize)[:-1]
            heap_pos += int(counts.sum()) * itemsize
            pair = ">i4" if descriptor == "P" else ">i8"
            cell = np.stack([counts, starts], axis=1).astype(pair).view(np.uint8)
        elif fc.col.kind == "list":
            cell = _numbers(_flat_values(arr, fc.col), fc.dtype, fc.col.name).view(np.uint8)
        else:
            cell = _fits_scalars(arr, fc).view(np.uint8)
        rows[:, at : at + fc.nbytes] = cell.reshape(n, fc.nbytes)
        at += fc.nbytes
    return rows, heap_pos


def _fits_heap(batch: pa.RecordBatch, fcs: list[_FitsColumn]) -> Iterator[Any]:
    """The batch's variable-length arrays, in the order ``_fits_rows`` pointed at them."""
    for arr, fc in zip(batch.columns, fcs, strict=True):
        if fc.col.kind == "binary":
            yield _joined_bytes(arr.fill_null(b""))
        elif fc.variable:
            yield _numbers(_flat_values(arr, fc.col), fc.dtype, fc.col.name).data


def _fits_spool(fcs: list[_FitsColumn], batches: Iterable[pa.RecordBatch], path: Path) -> int:
    """Write the rows to an Arrow file, learning row count, widths and integer ranges."""
    writer = None
    nrows = 0
    try:
        for chunk in _chunks(batches):
            arrays = [_fits_spool_array(chunk.column(i), fc.col) for i, fc in enumerate(fcs)]
            spooled = pa.RecordBatch.from_arrays(arrays, names=[f"c{i}" for i in range(len(fcs))])
            if writer is None:
                writer = ipc.new_file(str(path), spooled.schema)
            for arr, fc in zip(arrays, fcs, strict=True):
                _fits_observe(arr, fc)
            writer.write_batch(spooled)
            nrows += chunk.num_rows
    finally:
        if writer is not None:
            writer.close()
    return nrows


def _write_fits(
    cols: list[_Column],
    batches: Iterable[pa.RecordBatch],
    sink: _Sink,
    overflow: object,
    info: Mapping[str, str],
) -> int:
    fcs = [_FitsColumn(c) for c in _unique(cols)]
    with tempfile.TemporaryDirectory(prefix="skydock-fits-") as tmp:
        path = Path(tmp) / "spool.arrow"
        nrows = _fits_spool(fcs, batches, path)
        with contextlib.ExitStack() as stack:
            spooled: list[pa.RecordBatch] = []
            if nrows:
                reader = ipc.open_file(stack.enter_context(pa.memory_map(str(path))))
                spooled = [reader.get_batch(i) for i in range(reader.num_record_batches)]
            heap = sum(fc.elements * _heap_itemsize(fc) for fc in fcs)
            descriptor = "P" if heap < 2**31 else "Q"
            for index, fc in enumerate(fcs):
                _fits_layout(fc, descriptor)
                if fc.col.kind == "int" and fc.nulls:
                    fc.tnull = _fits_null(fc, spooled, index)
            sink.write(_fits_header(fcs, nrows, heap, bool(overflow), info))
            written = heap_pos = 0
            for batch in spooled:
                rows, heap_pos = _fits_rows(batch, fcs, heap_pos, descriptor)
                written += sink.write(rows.data)
            for batch in spooled:
                for piece in _fits_heap(batch, fcs):
                    written += sink.write(piece)
            if written % _FITS_BLOCK:
                sink.write(bytes(_FITS_BLOCK - written % _FITS_BLOCK))
    return nrows


def _heap_itemsize(fc: _FitsColumn) -> int:
    if not fc.variable:
        return 0
    if fc.col.kind == "binary":
        return 1
    return np.dtype(_FITS_DTYPE[fc.col.element or pa.float64()]).itemsize


# --- Parquet and Arrow --------------------------------------------------------------------


def _arrow_schema(schema: pa.Schema, cols: list[_Column], info: Mapping[str, str]) -> pa.Schema:
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
    metadata = {str(k).encode(): str(v).encode() for k, v in info.items()}
    return pa.schema(fields, metadata=metadata or None)


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    if batch.schema.equals(schema, check_metadata=False):
        return pa.RecordBatch.from_arrays(batch.columns, schema=schema)
    arrays = [
        _python_text(col) if pa.types.is_interval(col.type) else col.cast(field.type)
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


def _votable_header_only(cols: list[_Column], info: Mapping[str, str], overflow: bool) -> str:
    """The VOParquet 1.0 content: a VOTable whose first TABLE has FIELDs and no DATA."""
    return _votable_head(cols, info) + _votable_tail("OVERFLOW" if overflow else None)


def _write_parquet(
    cols: list[_Column],
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    sink: _Sink,
    overflow: object,
    info: Mapping[str, str],
) -> int:
    cols = _unique(cols)
    fields = [
        f.with_type(_parquet_type(f.type)).with_name(c.name)
        for f, c in zip(schema, cols, strict=True)
    ]
    target = _arrow_schema(pa.schema(fields), cols, info)
    rows = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    # Dictionary pages pay off for text, not for measurements (and cost 3x the time).
    text = [c.name for c in cols if c.kind in ("string", "other")]
    options = {"compression": "zstd", "use_dictionary": text}
    with pq.ParquetWriter(sink, target, **options) as writer:
        for batch in batches:
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
                "IVOA.VOTable-Parquet.content": _votable_header_only(cols, info, bool(overflow)),
            }
        )
    return rows


def _write_arrow(
    cols: list[_Column],
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    sink: _Sink,
    info: Mapping[str, str],
) -> int:
    target = _arrow_schema(schema, cols, info)
    rows = 0
    with ipc.new_stream(sink, target) as writer:
        for batch in batches:
            if batch.num_rows:
                writer.write_batch(_conform(batch, target))
                rows += batch.num_rows
    return rows


# --- JSON ---------------------------------------------------------------------------------


def _write_json(
    cols: list[_Column],
    batches: Iterable[pa.RecordBatch],
    sink: _Sink,
    overflow: object,
    info: Mapping[str, str],
) -> int:
    columns = [
        {
            "name": c.name,
            "datatype": c.datatype,
            "arraysize": c.arraysize,
            "xtype": c.xtype,
            "unit": c.unit or None,
            "ucd": c.ucd or None,
            "description": c.description or None,
        }
        for c in cols
    ]
    head = {"columns": columns, "info": {str(k): str(v) for k, v in info.items()}}
    text = json.dumps(head, ensure_ascii=False)
    sink.write((text[:-1] + ',\n"data": [\n').encode())
    rows = 0
    for chunk in _chunks(batches):
        if cols:
            cells = [_cells(chunk.column(i), col, _JSON) for i, col in enumerate(cols)]
            body = _join_rows(cells, b",", b"],\n[", also=(b"\x02", b'"'))
            sink.write(b"[" if rows == 0 else b",\n[")
            sink.write(memoryview(body)[:-3])
        else:
            sink.write((b"" if rows == 0 else b",\n") + b",\n".join([b"[]"] * chunk.num_rows))
        rows += chunk.num_rows
    tail = f'\n],\n"rows": {rows},\n"overflow": {"true" if overflow else "false"}}}\n'
    sink.write(tail.encode())
    return rows


# --- entry point --------------------------------------------------------------------------


def write_result(
    fmt: str,
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    out: Writable,
    *,
    columns: Sequence[ColumnMeta | None] | None = None,
    overflow: object = False,
    info: Mapping[str, str] | None = None,
) -> int:
    """Write a result in ``fmt`` (any name ``normalise_format`` accepts); returns rows written.

    ``columns`` lines up with ``schema`` and supplies units, UCDs and descriptions.
    ``overflow`` says the row cap truncated the result; it is evaluated after the last
    batch. ``info`` becomes VOTable INFO elements (after QUERY_STATUS), Arrow/Parquet
    key-value metadata, FITS header cards and the JSON ``info`` object.
    """
    name = normalise_format(fmt)
    cols = _describe_all(schema, columns)
    extra = dict(info or {})
    sink = _Sink(out)
    if name in ("csv", "tsv"):
        rows = _write_delimited("," if name == "csv" else "\t", cols, batches, sink)
    elif name in ("votable", "votable-binary2"):
        rows = _write_votable(cols, batches, sink, overflow, extra, name == "votable-binary2")
    elif name == "fits":
        rows = _write_fits(cols, batches, sink, overflow, extra)
    elif name == "parquet":
        rows = _write_parquet(cols, schema, batches, sink, overflow, extra)
    elif name == "arrow":
        rows = _write_arrow(cols, schema, batches, sink, extra)
    else:
        rows = _write_json(cols, batches, sink, overflow, extra)
    sink.flush()
    return rows
