"""VOTable 1.4: TABLEDATA and BINARY2 bodies, and the FIELD/INFO header VOParquet reuses."""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skydock.engine.formats.cells import Dialect, cell_text
from skydock.engine.formats.columns import Column
from skydock.engine.formats.values import (
    BIG_ENDIAN_DTYPE,
    Output,
    Sink,
    binary_from,
    byte_lengths,
    chunks,
    concat_binary,
    decode,
    flat_values,
    iso,
    join_rows,
    joined_bytes,
    list_lengths,
    numbers,
    offsets_of,
    plain_string,
    python_text,
)

VOTABLE_NS = "http://www.ivoa.net/xml/VOTable/v1.3"

# --- the document around the rows ----------------------------------------------------------

_ILLEGAL_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: str) -> str:
    value = _ILLEGAL_XML_CHARS.sub("\ufffd", value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml_attr(value: str) -> str:
    text = _xml_text(value).replace('"', "&quot;")
    text = text.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    return f'"{text}"'


def _field_xml(col: Column) -> str:
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


def _votable_head(cols: list[Column], info: Mapping[str, str]) -> str:
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


def _overflow_tail(overflow: object) -> str:
    return _votable_tail("OVERFLOW" if overflow else None)


def votable_header(cols: list[Column], info: Mapping[str, str], overflow: object) -> str:
    """The VOParquet 1.0 content: a VOTable whose first TABLE has FIELDs and no DATA."""
    return _votable_head(cols, info) + _overflow_tail(overflow)


def write_votable(output: Output, *, binary2: bool) -> int:
    cols, sink = output.cols, output.sink
    sink.write(_votable_head(cols, output.info).encode())
    rows = 0
    stream = _Base64(sink) if binary2 else None
    sink.write(
        b'<DATA><BINARY2><STREAM encoding="base64">\n' if binary2 else b"<DATA><TABLEDATA>\n"
    )
    try:
        for chunk in chunks(output.batches):
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
    sink.write(_overflow_tail(output.overflow).encode())
    return rows


def _close_data(sink: Sink, stream: _Base64 | None) -> None:
    if stream is not None:
        stream.close()
        sink.write(b"</STREAM></BINARY2></DATA>\n")
    else:
        sink.write(b"</TABLEDATA></DATA>\n")


# --- TABLEDATA -----------------------------------------------------------------------------

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


_TABLEDATA = Dialect(
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


def _write_tabledata(chunk: pa.RecordBatch, cols: list[Column], sink: Sink) -> None:
    if not cols:
        sink.write(b"<TR></TR>\n" * chunk.num_rows)
        return
    cells = [cell_text(chunk.column(i), col, _TABLEDATA) for i, col in enumerate(cols)]
    # Each row ends by opening the next one; the last opening is cut off.
    body = join_rows(cells, b"</TD><TD>", b"</TD></TR>\n<TR><TD>")
    sink.write(b"<TR><TD>")
    sink.write(memoryview(body)[: -len(b"<TR><TD>")])


# --- BINARY2 -------------------------------------------------------------------------------


class _Base64:
    """Base64 over several writes: carries the bytes that do not fill a 3-byte group."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._carry = b""

    def write(self, data: Any) -> None:
        view = memoryview(data)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")  # rows of fixed-width cells: count bytes, not rows
        if self._carry:
            need = (3 - len(self._carry) % 3) % 3
            head, view = self._carry + bytes(view[:need]), view[need:]
            if len(head) % 3:
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


def _utf16(arr: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """unicodeChar cells: per-row UTF-16 code-unit counts and the big-endian bytes."""
    text = plain_string(arr).fill_null("")
    counts = np.asarray(pc.utf8_length(text), dtype=np.int64)
    encoded = bytes(joined_bytes(text)).decode("utf-8").encode("utf-16-be")
    if len(encoded) != 2 * int(counts.sum()):  # characters outside the BMP: surrogate pairs
        pieces = [s.encode("utf-16-be") for s in text.to_pylist()]
        counts = np.array([len(p) // 2 for p in pieces], dtype=np.int64)
        encoded = b"".join(pieces)
    return counts, binary_from(encoded, offsets_of(counts, 2))


def _binary2_cell(arr: pa.Array, col: Column) -> tuple[np.ndarray | None, Any]:
    """One column of a BINARY2 chunk: ``(None, fixed (n, w) bytes)`` or
    ``(counts, variable-length binary array)``."""
    n = len(arr)
    kind = col.kind
    if kind in ("bool", "int", "float", "decimal"):
        dtype = ">f8" if kind == "decimal" else BIG_ENDIAN_DTYPE[col.type]
        return None, numbers(arr, dtype, col.name).view(np.uint8).reshape(n, -1)
    arr = decode(arr)
    if kind == "list":
        element = col.element or pa.float64()
        dtype = BIG_ENDIAN_DTYPE[element]
        values = numbers(flat_values(arr, col), dtype, col.name).view(np.uint8)
        if col.size is not None:
            return None, values.reshape(n, -1)
        counts = list_lengths(arr)
        return counts, binary_from(values, offsets_of(counts, np.dtype(dtype).itemsize))
    if kind in ("binary", "time"):
        data = (arr if kind == "binary" else iso(arr)).cast(pa.binary()).fill_null(b"")
        return byte_lengths(data), data
    return _utf16(arr if kind == "string" else python_text(arr))


def _binary2_rows(chunk: pa.RecordBatch, cols: list[Column]) -> Any:
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
    return joined_bytes(concat_binary(*parts))


def _fixed_block(blocks: list[np.ndarray]) -> pa.Array:
    block = np.ascontiguousarray(np.concatenate(blocks, axis=1))
    n, width = block.shape
    return binary_from(block.data, np.arange(n + 1, dtype=np.int64) * width)
