"""PostgreSQL semantics DuckDB does not share, rewritten into the resolved tree.

One-argument ``log`` is base 10, integer division truncates, ``numeric`` keeps its
digits, ``'nan'`` compares as a float, array literals are ``'{...}'`` and
``width_bucket`` exists.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from skydock.engine.sql.scope import OutCol

_INTEGER_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "INT",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "INT2",
    "INT4",
    "INT8",
}
_FLOAT_TYPES = {"FLOAT", "REAL", "DOUBLE", "FLOAT4", "FLOAT8", "DOUBLE PRECISION"}
_SPECIAL_FLOATS = {"nan", "infinity", "-infinity", "+infinity", "inf", "-inf", "+inf"}


def postgres_semantics(root: exp.Expr) -> None:
    """Rewrite, in place, what PostgreSQL and DuckDB would answer differently."""
    for node in list(root.walk()):
        if isinstance(node, exp.Log) and node.args.get("expression") is None:
            # PostgreSQL's one-argument log() is base 10 (ADQL's is parsed as LN).
            node.replace(exp.Log(this=exp.Literal.number(10), expression=node.this))
        elif isinstance(node, exp.CurrentDate | exp.CurrentTimestamp):
            # DuckDB reads a bare CURRENT_DATE aliased "current_date" as that alias.
            name = "today" if isinstance(node, exp.CurrentDate) else "now"
            node.replace(exp.Anonymous(this=name, expressions=[]))
        elif isinstance(node, exp.DataType) and node.this == exp.DataType.Type.DECIMAL:
            if not node.expressions:
                # PostgreSQL numeric keeps every digit; DuckDB's DECIMAL is (18,3).
                node.replace(exp.DataType.build("DOUBLE"))
        elif isinstance(node, exp.Div) and _is_integer(node.this) and _is_integer(node.expression):
            node.replace(exp.IntDiv(this=node.this, expression=node.expression))
        elif isinstance(node, exp.EQ | exp.NEQ | exp.LT | exp.LTE | exp.GT | exp.GTE):
            for side, other in ((node.this, node.expression), (node.expression, node.this)):
                if (
                    isinstance(side, exp.Literal)
                    and side.is_string
                    and side.this.strip().lower() in _SPECIAL_FLOATS
                    and _is_float(other)
                ):
                    side.replace(exp.Cast(this=side.copy(), to=exp.DataType.build("DOUBLE")))
        elif (
            isinstance(node, exp.Cast)
            and node.to.this == exp.DataType.Type.ARRAY
            and isinstance(node.this, exp.Literal)
            and node.this.is_string
            and node.this.this.lstrip().startswith("{")
        ):
            # PostgreSQL array literal '{1,2}'; DuckDB spells it '[1,2]'.
            text = node.this.this.replace("{", "[").replace("}", "]")
            node.this.replace(exp.Literal.string(text))
    # Second pass, once the arguments are in their final form.
    for node in list(root.find_all(exp.WidthBucket)):
        node.replace(_width_bucket(node))


def _is_integer(node: exp.Expr) -> bool:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal):
        return not node.is_string and node.this.lstrip("-").isdigit()
    if isinstance(node, exp.Neg):
        return _is_integer(node.this)
    if isinstance(node, exp.Cast):
        return node.to.is_type(*exp.DataType.INTEGER_TYPES)
    if isinstance(node, exp.Count | exp.Length | exp.RowNumber | exp.Rank | exp.DenseRank):
        return True
    if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Mod | exp.IntDiv):
        return _is_integer(node.this) and _is_integer(node.expression)
    if isinstance(node, exp.Column):
        col = node.meta.get("sd_col")
        meta = col.meta if isinstance(col, OutCol) else None
        return meta is not None and meta.datatype.upper() in _INTEGER_TYPES
    return False


def _is_float(node: exp.Expr) -> bool:
    col = node.meta.get("sd_col") if isinstance(node, exp.Column) else None
    meta = col.meta if isinstance(col, OutCol) else None
    return meta is not None and meta.datatype.upper() in _FLOAT_TYPES


def _width_bucket(node: exp.WidthBucket) -> exp.Expr:
    """PostgreSQL's width_bucket(x, lo, hi, n), which DuckDB lacks, as plain arithmetic."""
    x, lo, hi, n = (
        f"({node.args[k].sql(dialect='duckdb')})"
        for k in ("this", "min_value", "max_value", "num_buckets")
    )
    text = (
        f"CAST(CASE WHEN {lo} < {hi} THEN CASE WHEN {x} < {lo} THEN 0 WHEN {x} >= {hi} "
        f"THEN {n} + 1 ELSE floor(({x} - {lo}) / ({hi} - {lo}) * {n}) + 1 END "
        f"ELSE CASE WHEN {x} > {lo} THEN 0 WHEN {x} <= {hi} THEN {n} + 1 "
        f"ELSE floor(({lo} - {x}) / ({lo} - {hi}) * {n}) + 1 END END AS INTEGER)"
    )
    return exp.Paren(this=sqlglot.parse_one(text, read="duckdb"))
