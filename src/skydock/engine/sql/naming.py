"""Output names as PostgreSQL gives them (its FigureColname), and what metadata they keep."""

from __future__ import annotations

import dataclasses

from sqlglot import exp

from skydock.engine.catalog import ColumnMeta
from skydock.engine.guard import identifier_name, written_function_name
from skydock.engine.sql.scope import OutCol

# PostgreSQL's internal type names, which name an unaliased cast of a constant.
_PG_TYPE_NAMES = {
    exp.DataType.Type.INT: "int4",
    exp.DataType.Type.BIGINT: "int8",
    exp.DataType.Type.SMALLINT: "int2",
    exp.DataType.Type.TINYINT: "int2",
    exp.DataType.Type.DOUBLE: "float8",
    exp.DataType.Type.FLOAT: "float4",
    exp.DataType.Type.DECIMAL: "numeric",
    exp.DataType.Type.TEXT: "text",
    exp.DataType.Type.VARCHAR: "varchar",
    exp.DataType.Type.CHAR: "bpchar",
    exp.DataType.Type.BOOLEAN: "bool",
    exp.DataType.Type.DATE: "date",
    exp.DataType.Type.TIMESTAMP: "timestamp",
    exp.DataType.Type.TIMESTAMPTZ: "timestamptz",
    exp.DataType.Type.INTERVAL: "interval",
    exp.DataType.Type.TIME: "time",
}
# Names of functions sqlglot parses with special syntax, so the written name is not kept.
_PG_FUNCTION_NAMES: dict[type[exp.Expr], str] = {
    exp.StrPosition: "position",
    exp.Extract: "extract",
    exp.Substring: "substring",
    exp.Rand: "random",
    exp.LogicalAnd: "bool_and",
    exp.LogicalOr: "bool_or",
    exp.GroupConcat: "string_agg",
}
_GEOMETRY_TYPES = {
    "point": "DOUBLE[2]",
    "circle": "DOUBLE[3]",
    "polygon": "DOUBLE[]",
    "box": "DOUBLE[]",
    "centroid": "DOUBLE[2]",
}


def output_column(item: exp.Expr, text: str, language: str) -> OutCol:
    """The name and, where known, the metadata of one select item."""
    name, _ = pg_name(item, text)
    target = item.this if isinstance(item, exp.Alias) else item
    while isinstance(target, exp.Paren):
        target = target.this
    meta: ColumnMeta | None = None
    if isinstance(target, exp.Column) and isinstance(target.meta.get("sd_col"), OutCol):
        found = target.meta["sd_col"].meta
        if found is not None:
            meta = found if found.name == name else dataclasses.replace(found, name=name)
    elif isinstance(target, exp.Anonymous):
        fname = str(target.this).lower()
        if fname in _GEOMETRY_TYPES and language == "adql":
            meta = ColumnMeta(name, _GEOMETRY_TYPES[fname], unit="deg")
        elif fname in ("distance", "q3c_dist"):
            meta = ColumnMeta(name, "DOUBLE", unit="deg")
        elif fname == "area":
            meta = ColumnMeta(name, "DOUBLE", unit="deg**2")
    return OutCol(name, meta)


def pg_name(node: exp.Expr | None, text: str) -> tuple[str, int]:
    """PostgreSQL's FigureColname: (name, strength); strength 0 means '?column?'."""
    if node is None:
        return "?column?", 0
    if isinstance(node, exp.Alias):
        return identifier_name(node.args["alias"]), 3
    if isinstance(node, exp.Column):
        return (
            (identifier_name(node.this), 2)
            if not isinstance(node.this, exp.Star)
            else ("?column?", 0)
        )
    if isinstance(node, exp.Paren):
        return pg_name(node.this, text)
    if isinstance(node, exp.Cast):
        name, strength = pg_name(node.this, text)
        if strength <= 1:
            to = node.to
            if to.this == exp.DataType.Type.ARRAY and to.expressions:
                to = to.expressions[0]
            pg = _PG_TYPE_NAMES.get(to.this)
            return (pg, 1) if pg else (to.sql("postgres").lower(), 1)
        return name, strength
    if isinstance(node, exp.Case):
        name, strength = pg_name(node.args.get("default"), text)
        return (name, strength) if strength > 1 else ("case", 1)
    if isinstance(node, exp.Subquery):
        cols = node.meta.get("sd_cols") or []
        return (cols[0].name, 2) if cols else ("?column?", 0)
    if isinstance(node, exp.Exists):
        return "exists", 2
    if isinstance(node, exp.Array):
        return "array", 2
    if isinstance(node, exp.Tuple):
        return "row", 2
    if isinstance(node, exp.Boolean):
        return "bool", 1
    if isinstance(node, exp.Window | exp.WithinGroup | exp.Filter):
        return pg_name(node.this, text)
    if isinstance(node, exp.Trim):
        position = str(node.args.get("position") or "").upper()
        return {"LEADING": "ltrim", "TRAILING": "rtrim"}.get(position, "btrim"), 2
    written = written_function_name(node, text)
    if written is not None:
        return written, 2
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower(), 2
    if isinstance(node, exp.Func) and not isinstance(node, exp.Binary):
        return _PG_FUNCTION_NAMES.get(type(node), node.sql_name().lower()), 2
    return "?column?", 0


def alias_outputs(root: exp.Expr) -> None:
    """An explicit alias on every select item, so DuckDB names outputs as PostgreSQL."""
    for select in list(root.find_all(exp.Select)):
        names = select.meta.get("sd_names")
        if names is None or len(names) != len(select.expressions):
            continue
        items = []
        for item, name in zip(select.expressions, names, strict=True):
            ident = exp.to_identifier(name, quoted=True)
            if isinstance(item, exp.Alias):
                item.set("alias", ident)
                items.append(item)
            else:
                items.append(exp.Alias(this=item, alias=ident))
        select.set("expressions", items)
