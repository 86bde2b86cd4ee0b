"""Values as text cells: one renderer for CSV, TSV, VOTable TABLEDATA and JSON.

A ``Dialect`` says how NULLs, booleans, special floats, strings and arrays are spelt;
``cell_text`` renders a whole column chunk at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skydock.engine.formats.columns import Column
from skydock.engine.formats.values import (
    concat,
    decode,
    iso,
    joined_bytes,
    list_lengths,
    offsets_of,
    plain_string,
    python_text,
)


@dataclass(frozen=True)
class Dialect:
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


def _float_text(arr: pa.Array, d: Dialect) -> pa.Array:
    if pa.types.is_float16(arr.type):
        arr = arr.cast(pa.float32())
    text = arr.cast(pa.string())
    if d.float_point:
        integral = pc.and_(pc.is_finite(arr), pc.equal(pc.floor(arr), arr)).fill_null(False)
        if pc.any(integral).as_py():
            plain = pc.and_(integral, pc.invert(pc.match_substring(text, "e")))
            text = pc.if_else(plain, concat(text, ".0"), text)
    special = pc.invert(pc.is_finite(arr)).fill_null(False)
    if pc.any(special).as_py():
        signed = pc.if_else(pc.greater(arr, 0), d.inf, d.ninf)
        text = pc.if_else(special, pc.if_else(pc.is_nan(arr), d.nan, signed), text)
    return text


def cell_text(arr: pa.Array, col: Column, d: Dialect) -> pa.Array:
    """Each value as text in the dialect; NULL as the dialect's null (never a null)."""
    arr = decode(arr)
    kind = col.kind
    if kind == "float":
        text = _float_text(arr, d)
    elif kind in ("int", "decimal"):
        text = arr.cast(pa.string())
    elif kind == "bool":
        text = pc.if_else(arr, d.true, d.false)
    elif kind == "string":
        text = d.quote(plain_string(arr))
    elif kind == "time":
        text = iso(arr)
        if d.quote_time:
            text = d.quote(text)
    elif kind == "list":
        text = _list_text(arr, col, d)
    elif kind == "binary" and d.bytes_as_list:
        byte_lists = pa.ListArray.from_arrays(
            pa.array(offsets_of(np.asarray(pc.binary_length(arr).fill_null(0))), pa.int32()),
            pa.array(np.frombuffer(joined_bytes(arr.cast(pa.binary()).fill_null(b"")), np.uint8)),
            mask=arr.is_null(),
        )
        byte_col = Column(col.name, "list", "", None, None, "", "", "", byte_lists.type, pa.uint8())
        text = _list_text(byte_lists, byte_col, d)
    elif kind == "binary":
        hexed = [None if v is None else "\\x" + v.hex() for v in arr.to_pylist()]
        text = pa.array(hexed, pa.string())
    else:
        text = d.quote(python_text(arr))
    return text.fill_null(d.null)


def _list_text(arr: pa.Array, col: Column, d: Dialect) -> pa.Array:
    arr = decode(arr)
    if col.size is not None or not pa.types.is_list(arr.type):
        arr = arr.cast(pa.list_(arr.type.value_type))
    element = col.element or arr.type.value_type
    flat = arr.flatten()
    elem_col = Column("", "float", "", None, None, "", "", "", element)
    null = d.list_nulls[0]
    if pa.types.is_boolean(element):
        elem_col.kind, null = "bool", d.list_nulls[2]
    elif pa.types.is_integer(element):
        elem_col.kind, null = "int", d.list_nulls[1]
    items = cell_text(flat, elem_col, replace(d, null=null))
    nested = pa.ListArray.from_arrays(
        pa.array(offsets_of(list_lengths(arr)), pa.int32()), items, mask=arr.is_null()
    )
    text = concat(d.list_open, pc.binary_join(nested, d.list_sep), d.list_close)
    if col.size is not None and d.null_fixed_arrays and arr.null_count:
        text = text.fill_null(d.list_sep.join([null] * col.size))
    return d.quote(text) if d.quote_lists else text
