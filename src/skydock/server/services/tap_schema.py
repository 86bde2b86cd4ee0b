"""TAP_SCHEMA and VOSI tables from one description of what a caller can query.

The catalogs' metadata (``TableMeta``/``ColumnMeta``), the caller's MyDB tables and
TAP_SCHEMA's own five tables become :class:`TapTable` rows once per request; the
``/tap/tables`` document and the TAP_SCHEMA tables queried through ADQL are both
rendered from that list, so the two cannot disagree (taplint's TMC stage). TAP_SCHEMA
reaches the engine as per-query tables (:class:`ExtraTable`), so every front door
(TAP, the native API, Data Lab) can query it, and a user's MyDB rows are in their own
answers only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyarrow as pa

from skydock.engine.catalog import MYDB_SCHEMA, ColumnMeta, TableMeta
from skydock.engine.executor import DuckDBExecutor, ExtraTable

TAP_SCHEMA = "tap_schema"
TAP_UPLOAD = "tap_upload"

_SCHEMA_DESCRIPTIONS = {
    TAP_SCHEMA: "Metadata of the tables and columns this service offers (TAP 1.1)",
    MYDB_SCHEMA: "Your own tables (MyDB); visible to you only",
}

# ADQL 2.1 reserved words (SQL-92 plus ADQL's function names) that a column could be
# named: such names are listed delimited, as users must write them.
_RESERVED_WORDS = """
    absolute action add all allocate alter and any are as asc assertion at authorization
    avg begin between bit bit_length both by cascade cascaded case cast catalog char
    character char_length character_length check close coalesce collate collation column
    commit connect connection constraint constraints continue convert corresponding count
    create cross current current_date current_time current_timestamp current_user cursor
    date day deallocate decimal declare default deferrable deferred delete desc
    describe descriptor diagnostics disconnect distinct domain double drop else end
    end-exec escape except exception exec execute exists external extract false fetch
    first float for foreign found from full get global go goto grant group having hour
    identity immediate in indicator initially inner input insensitive insert int integer
    intersect interval into is isolation join key language last leading left level like
    local lower match max min minute module month names national natural nchar next no
    not null nullif numeric octet_length of offset on only open option or order outer
    output overlaps pad partial position precision prepare preserve primary prior
    privileges procedure public read real references relative restrict revoke right
    rollback rows schema scroll second section select session session_user set size
    smallint some space sql sqlcode sqlerror sqlstate substring sum system_user table
    temporary then time timestamp timezone_hour timezone_minute to trailing transaction
    translate translation trim true union unique unknown update upper usage user using
    value values varchar varying view when whenever where with work write year zone
    abs acos asin atan atan2 ceiling cos degrees exp floor log log10 mod pi power
    radians rand round sin sqrt tan top truncate area box centroid circle contains coord1
    coord2 coordsys distance geometry intersects point polygon region
    """
ADQL_RESERVED = frozenset(_RESERVED_WORDS.split())
_REGULAR = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def adql_name(name: str) -> str:
    """A column name as an ADQL user must write it: delimited if reserved or irregular."""
    if _REGULAR.match(name) and name == name.lower() and name not in ADQL_RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


@dataclass
class TapColumn:
    """One row of TAP_SCHEMA.columns (without its table)."""

    name: str
    datatype: str
    arraysize: str | None = None
    xtype: str | None = None
    description: str = ""
    unit: str = ""
    ucd: str = ""
    utype: str = ""
    indexed: bool = False
    principal: bool = False
    std: bool = False

    @property
    def size(self) -> int | None:
        if self.arraysize is None:
            return None
        digits = self.arraysize.rstrip("*")
        return int(digits) if digits.isdigit() and "x" not in self.arraysize else None


@dataclass
class TapForeignKey:
    key_id: str
    from_table: str
    target_table: str
    columns: list[tuple[str, str]]
    description: str = ""


@dataclass
class TapTable:
    """One row of TAP_SCHEMA.tables with its columns and foreign keys."""

    schema: str
    name: str  # qualified, as users write it
    description: str = ""
    columns: list[TapColumn] = field(default_factory=list)
    keys: list[TapForeignKey] = field(default_factory=list)
    type: str = "table"


_INTEGERS = {
    "TINYINT": "short",
    "UTINYINT": "short",
    "SMALLINT": "short",
    "INT2": "short",
    "USMALLINT": "int",
    "INTEGER": "int",
    "INT": "int",
    "INT4": "int",
    "UINTEGER": "long",
    "BIGINT": "long",
    "INT8": "long",
    "UBIGINT": "long",
}
_FLOATS = {"FLOAT": "float", "REAL": "float", "FLOAT4": "float", "DOUBLE": "double"}
_ARRAY = re.compile(r"^(.*)\[(\d*)\]$")


def votable_type(duckdb_type: str) -> tuple[str, str | None, str | None]:
    """``(datatype, arraysize, xtype)`` the result writers give a column of this DuckDB
    type (``skydock.engine.formats.columns``), so TAP_SCHEMA matches every answer."""
    t = duckdb_type.strip().upper()
    array = _ARRAY.match(t)
    if array:
        element = _scalar(array.group(1))
        if element[0] in ("unicodeChar", "char") or element[1] is not None:
            return "unicodeChar", "*", None
        return element[0], array.group(2) or "*", None
    return _scalar(t)


def _scalar(t: str) -> tuple[str, str | None, str | None]:
    if t == "BOOLEAN":
        return "boolean", None, None
    if t in _INTEGERS:
        return _INTEGERS[t], None, None
    if t in _FLOATS:
        return _FLOATS[t], None, None
    if t.startswith(("DECIMAL", "NUMERIC", "HUGEINT", "UHUGEINT", "DOUBLE")):
        return "double", None, None
    if t.startswith(("TIMESTAMP", "DATE", "DATETIME")):
        return "char", "*", "timestamp"
    if t in ("BLOB", "BYTEA", "VARBINARY"):
        return "unsignedByte", "*", None
    return "unicodeChar", "*", None


def _column(meta: ColumnMeta) -> TapColumn:
    datatype, arraysize, xtype = votable_type(meta.datatype)
    return TapColumn(
        name=adql_name(meta.name),
        datatype=datatype,
        arraysize=arraysize,
        xtype=meta.xtype or xtype,
        description=meta.description,
        unit=meta.unit,
        ucd=meta.ucd,
        indexed=meta.indexed,
        principal=meta.principal,
    )


def table_of(meta: TableMeta) -> TapTable:
    return TapTable(
        meta.schema,
        meta.qualified,
        meta.description,
        [_column(c) for c in meta.columns],
    )


# --- TAP_SCHEMA's own tables -------------------------------------------------------------

_V = "VARCHAR"
_I = "INTEGER"
_SELF: dict[str, tuple[str, list[tuple[str, str, str, bool]]]] = {
    # table: (description, [(column, type, description, principal)])
    "schemas": (
        "The schemas of this service",
        [
            ("schema_name", _V, "Schema name, as used in queries", True),
            ("utype", _V, "Data model type of the schema", False),
            ("description", _V, "What the schema holds", True),
            ("schema_index", _I, "Recommended display order", False),
        ],
    ),
    "tables": (
        "The tables of this service",
        [
            ("schema_name", _V, "Schema the table belongs to", True),
            ("table_name", _V, "Qualified table name, as used in queries", True),
            ("table_type", _V, "table or view", True),
            ("utype", _V, "Data model type of the table", False),
            ("description", _V, "What the table holds", True),
            ("table_index", _I, "Recommended display order", False),
        ],
    ),
    "columns": (
        "The columns of every table of this service",
        [
            ("table_name", _V, "Qualified table name", True),
            ("column_name", _V, "Column name, as used in queries", True),
            ("datatype", _V, "VOTable datatype", True),
            ("arraysize", _V, "VOTable arraysize", False),
            ("xtype", _V, "DALI extended type", False),
            ("size", _I, "Deprecated: arraysize as an integer", False),
            ("description", _V, "What the column holds", True),
            ("utype", _V, "Data model type of the column", False),
            ("unit", _V, "Unit (VOUnit)", True),
            ("ucd", _V, "Unified content descriptor", True),
            ("indexed", _I, "1 if the column is indexed", False),
            ("principal", _I, "1 if the column is of main interest", False),
            ("std", _I, "1 if the column is defined by a standard", False),
            ("column_index", _I, "Recommended display order", False),
        ],
    ),
    "keys": (
        "Foreign keys between the tables of this service",
        [
            ("key_id", _V, "Key identifier", True),
            ("from_table", _V, "Table holding the key", True),
            ("target_table", _V, "Table the key points at", True),
            ("description", _V, "What the key means", False),
            ("utype", _V, "Data model type of the key", False),
        ],
    ),
    "key_columns": (
        "The columns of each foreign key",
        [
            ("key_id", _V, "Key identifier", True),
            ("from_column", _V, "Column in the from_table", True),
            ("target_column", _V, "Column in the target_table", True),
        ],
    ),
}
_SELF_KEYS = [
    ("tables_schema", "tables", "schemas", [("schema_name", "schema_name")]),
    ("columns_table", "columns", "tables", [("table_name", "table_name")]),
    ("keys_from", "keys", "tables", [("from_table", "table_name")]),
    ("keys_target", "keys", "tables", [("target_table", "table_name")]),
    ("key_columns_key", "key_columns", "keys", [("key_id", "key_id")]),
]
SELF_METAS = [
    TableMeta(
        TAP_SCHEMA,
        name,
        "",
        "",
        [ColumnMeta(c, t, description=d, principal=p) for c, t, d, p in cols],
        description=description,
    )
    for name, (description, cols) in _SELF.items()
]
# The metadata queries see: one object per table for the whole process, so a repeated
# query over TAP_SCHEMA (or any query, which also carries these) hits the translation
# cache. The executor only ever sets their attached name, which is always the same.
_QUERY_METAS = {
    m.name: TableMeta(m.schema, m.name, "", "", m.columns, m.description) for m in SELF_METAS
}


def _self_tables() -> list[TapTable]:
    tables = []
    for meta in SELF_METAS:
        table = table_of(meta)
        for column in table.columns:
            column.std = True
        table.keys = [
            TapForeignKey(
                f"{TAP_SCHEMA}.{key}",
                table.name,
                f"{TAP_SCHEMA}.{target}",
                [(adql_name(a), adql_name(b)) for a, b in cols],
            )
            for key, source, target, cols in _SELF_KEYS
            if source == meta.name
        ]
        tables.append(table)
    return tables


class TapSchema:
    """What a caller can query, as TAP metadata and as TAP_SCHEMA tables."""

    def __init__(self, executor: DuckDBExecutor) -> None:
        self._executor = executor

    def tables(self, mydb_user: str | None = None) -> list[TapTable]:
        """Catalog tables, then the caller's MyDB tables, then TAP_SCHEMA itself."""
        found = [table_of(m) for m in self._executor.tables(mydb_user)]
        return found + _self_tables()

    def schemas(self, tables: list[TapTable]) -> list[tuple[str, str]]:
        """``(name, description)`` of each schema, in the order its first table appears."""
        out: dict[str, str] = {}
        for table in tables:
            out.setdefault(table.schema, _SCHEMA_DESCRIPTIONS.get(table.schema, ""))
        return list(out.items())

    def find(self, name: str, mydb_user: str | None = None) -> TapTable | None:
        wanted = name.strip().lower()
        for table in self.tables(mydb_user):
            if table.name.lower() == wanted:
                return table
        return None

    def extra_tables(self, mydb_user: str | None = None) -> list[ExtraTable]:
        """The five TAP_SCHEMA tables for one query; their rows are built only if named."""
        cache: dict[str, dict[str, pa.Table]] = {}

        def rows(which: str) -> pa.Table:
            if "all" not in cache:
                cache["all"] = self.arrow(self.tables(mydb_user))
            return cache["all"][which]

        def loader(which: str) -> ExtraTable:
            return ExtraTable(_QUERY_METAS[which], lambda: rows(which))

        return [loader(name) for name in _SELF]

    def arrow(self, tables: list[TapTable]) -> dict[str, pa.Table]:
        """The five TAP_SCHEMA tables' rows."""
        schemas = self.schemas(tables)
        out: dict[str, pa.Table] = {
            "schemas": pa.table(
                {
                    "schema_name": [s for s, _ in schemas],
                    "utype": pa.nulls(len(schemas), pa.string()),
                    "description": [d or None for _, d in schemas],
                    "schema_index": pa.array(range(len(schemas)), pa.int32()),
                }
            ),
            "tables": pa.table(
                {
                    "schema_name": [t.schema for t in tables],
                    "table_name": [t.name for t in tables],
                    "table_type": [t.type for t in tables],
                    "utype": pa.nulls(len(tables), pa.string()),
                    "description": [t.description or None for t in tables],
                    "table_index": pa.array(range(len(tables)), pa.int32()),
                }
            ),
        }
        cols = [(t, c, i) for t in tables for i, c in enumerate(t.columns)]
        out["columns"] = pa.table(
            {
                "table_name": [t.name for t, _, _ in cols],
                "column_name": [c.name for _, c, _ in cols],
                "datatype": [c.datatype for _, c, _ in cols],
                "arraysize": [c.arraysize for _, c, _ in cols],
                "xtype": [c.xtype for _, c, _ in cols],
                "size": pa.array([c.size for _, c, _ in cols], pa.int32()),
                "description": [c.description or None for _, c, _ in cols],
                "utype": [c.utype or None for _, c, _ in cols],
                "unit": [c.unit or None for _, c, _ in cols],
                "ucd": [c.ucd or None for _, c, _ in cols],
                "indexed": pa.array([int(c.indexed) for _, c, _ in cols], pa.int32()),
                "principal": pa.array([int(c.principal) for _, c, _ in cols], pa.int32()),
                "std": pa.array([int(c.std) for _, c, _ in cols], pa.int32()),
                "column_index": pa.array([i for _, _, i in cols], pa.int32()),
            },
            schema=_string_schema(_SELF["columns"][1]),
        )
        keys = [k for t in tables for k in t.keys]
        out["keys"] = pa.table(
            {
                "key_id": [k.key_id for k in keys],
                "from_table": [k.from_table for k in keys],
                "target_table": [k.target_table for k in keys],
                "description": [k.description or None for k in keys],
                "utype": pa.nulls(len(keys), pa.string()),
            },
            schema=_string_schema(_SELF["keys"][1]),
        )
        pairs = [(k.key_id, a, b) for k in keys for a, b in k.columns]
        out["key_columns"] = pa.table(
            {
                "key_id": [k for k, _, _ in pairs],
                "from_column": [a for _, a, _ in pairs],
                "target_column": [b for _, _, b in pairs],
            },
            schema=_string_schema(_SELF["key_columns"][1]),
        )
        for name in ("schemas", "tables"):
            out[name] = out[name].cast(_string_schema(_SELF[name][1]))
        return out


def _string_schema(cols: list[tuple[str, str, str, bool]]) -> pa.Schema:
    return pa.schema(
        [pa.field(name, pa.int32() if t == _I else pa.string()) for name, t, _, _ in cols]
    )
