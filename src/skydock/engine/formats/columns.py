"""What each Arrow type becomes: one description per output column, shared by every format."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import pyarrow as pa

from skydock.engine.catalog import ColumnMeta

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
class Column:
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


def _describe(field: pa.Field, meta: ColumnMeta | None) -> Column:
    t = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
    if meta is not None:
        unit, ucd, description = meta.unit, meta.ucd, meta.description
    else:
        md = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
        unit, ucd, description = md.get("unit", ""), md.get("ucd", ""), md.get("description", "")
    col = Column(field.name, "other", "unicodeChar", "*", None, unit, ucd, description, t)
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
    if meta is not None and meta.xtype and col.kind in ("list", "time", "string"):
        col.xtype = meta.xtype
    return col


def unique_names(cols: list[Column]) -> list[Column]:
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


def describe_all(schema: pa.Schema, columns: Sequence[ColumnMeta | None] | None) -> list[Column]:
    """One ``Column`` per schema field; ``columns`` may be shorter than the schema."""
    metas = list(columns or [])
    metas += [None] * (len(schema) - len(metas))
    return [_describe(field, meta) for field, meta in zip(schema, metas, strict=False)]
