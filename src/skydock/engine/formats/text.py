"""CSV, TSV and JSON: text formats written a chunk of rows at a time."""

from __future__ import annotations

import json
import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from skydock.engine.formats.cells import Dialect, cell_text
from skydock.engine.formats.values import (
    Output,
    chunks,
    concat,
    join_rows,
    joined_bytes,
    write_cells,
)


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
        quoted = concat('"', pc.replace_substring(text, '"', '""'), '"')
        return pc.if_else(needs, quoted, text)


def _csv_dialect(quote: _CsvQuote) -> Dialect:
    return Dialect(
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


_JSON_CONTROL = {chr(i): f"\\u{i:04x}" for i in range(32)} | {
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def _json_quote(text: pa.Array) -> pa.Array:
    """A JSON string, delimited by \\x02 (made '"' after the rows are joined) and with
    '"' inside escaped as \\u0022, so cells can go through ``join_rows``."""
    if pc.any(pc.match_substring_regex(text, r'["\\\x00-\x1F]')).as_py():
        text = pc.replace_substring(text, "\\", "\\\\")
        text = pc.replace_substring(text, '"', "\\u0022")
        if pc.any(pc.match_substring_regex(text, r"[\x00-\x1F]")).as_py():
            for char, escaped in _JSON_CONTROL.items():
                text = pc.replace_substring(text, char, escaped)
    return concat("\x02", text, "\x02")


_JSON = Dialect(
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


def write_delimited(sep: str, output: Output) -> int:
    cols, sink = output.cols, output.sink
    quote = _CsvQuote(sep)
    dialect = _csv_dialect(quote)
    names = quote(pa.array([c.name for c in cols], pa.string())).to_pylist()
    sink.write((sep.join(names) + "\n").encode())
    rows = 0
    plain = pacsv.WriteOptions(include_header=False, delimiter=sep, quoting_style="none")
    for chunk in chunks(output.batches):
        rows += chunk.num_rows
        if not cols:
            sink.write(b"\n" * chunk.num_rows)
            continue
        quote.used = False
        cells = [cell_text(chunk.column(i), col, dialect) for i, col in enumerate(cols)]
        if not quote.used:
            write_cells(cells, sink, plain)  # nothing needed quoting
            continue
        parts: list[Any] = []
        for i, text in enumerate(cells):
            if i:
                parts.append(sep)
            parts.append(text)
        parts.append("\n")
        sink.write(joined_bytes(concat(*parts)))
    return rows


def write_json(output: Output) -> int:
    cols, sink = output.cols, output.sink
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
    head = {"columns": columns, "info": {str(k): str(v) for k, v in output.info.items()}}
    text = json.dumps(head, ensure_ascii=False)
    sink.write((text[:-1] + ',\n"data": [\n').encode())
    rows = 0
    for chunk in chunks(output.batches):
        if cols:
            cells = [cell_text(chunk.column(i), col, _JSON) for i, col in enumerate(cols)]
            body = join_rows(cells, b",", b"],\n[", also=(b"\x02", b'"'))
            sink.write(b"[" if rows == 0 else b",\n[")
            sink.write(memoryview(body)[:-3])
        else:
            sink.write((b"" if rows == 0 else b",\n") + b",\n".join([b"[]"] * chunk.num_rows))
        rows += chunk.num_rows
    tail = f'\n],\n"rows": {rows},\n"overflow": {"true" if output.overflow else "false"}}}\n'
    sink.write(tail.encode())
    return rows
