"""The query guard: what a user's SQL or ADQL may ask the engine to do.

sqlglot is a permissive parser (it happily parses ``INSERT``, ``COPY``, two statements or
``DUFF QUERY``), so nothing reaches DuckDB before this module has checked the parsed tree
against allow-lists: exactly one read-only query (SELECT, WITH, UNION/INTERSECT/EXCEPT),
only known catalog tables, CTE names and derived tables in FROM, no table functions, and
only functions and syntax on the lists below. Anything else is a ``QueryRefusedError``
that names what was refused. DuckDB itself runs with external access off, so this is the
first of two walls, not the only one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence

from sqlglot import exp

from skydock.engine.catalog import MYDB_SCHEMA, TableMeta
from skydock.errors import QueryRefusedError, UnknownTableError

MAX_QUERY_CHARS = 100_000
MAX_PAREN_DEPTH = 32  # sqlglot's recursive parser overflows Python's stack near 47
MAX_TREE_DEPTH = 600

# ADQL geometry functions, handled by skydock.engine.adql.
ADQL_GEOMETRY = frozenset(
    {
        "point",
        "circle",
        "box",
        "polygon",
        "contains",
        "intersects",
        "distance",
        "area",
        "coord1",
        "coord2",
        "coordsys",
        "centroid",
    }
)
# Q3C functions as Astro Data Lab users write them, rewritten by skydock.engine.adql.
Q3C_FUNCTIONS = frozenset({"q3c_radial_query", "q3c_dist", "q3c_join", "q3c_poly_query"})

# Functions sqlglot leaves as ``exp.Anonymous`` that are safe and exist in DuckDB.
_ANONYMOUS_SQL = frozenset({"isfinite", "isinf", "gcd", "lcm"}) | Q3C_FUNCTIONS
# TAP declares these as user-defined functions (TAPRegExt features-udf); q3c_poly_query
# takes a PostgreSQL array, which ADQL cannot write.
ADQL_UDFS = frozenset({"q3c_radial_query", "q3c_dist", "q3c_join"})
_ANONYMOUS_ADQL = frozenset({"isfinite", "isinf"}) | ADQL_GEOMETRY | ADQL_UDFS

# Functions sqlglot parses into their own expression classes.
_FUNCTIONS: frozenset[type[exp.Expr]] = frozenset(
    {
        # math
        exp.Abs,
        exp.Cbrt,
        exp.Ceil,
        exp.Degrees,
        exp.Exp,
        exp.Floor,
        exp.Ln,
        exp.Log,
        exp.Mod,
        exp.Pi,
        exp.Pow,
        exp.Radians,
        exp.Round,
        exp.Sign,
        exp.Sqrt,
        exp.Trunc,
        exp.Acos,
        exp.Asin,
        exp.Atan,
        exp.Atan2,
        exp.Cos,
        exp.Cot,
        exp.Sin,
        exp.Tan,
        exp.Sinh,
        exp.Cosh,
        exp.Tanh,
        exp.Asinh,
        exp.Acosh,
        exp.Atanh,
        exp.Rand,
        exp.Greatest,
        exp.Least,
        exp.WidthBucket,
        exp.IsNan,
        exp.IsInf,
        # strings
        exp.Length,
        exp.Lower,
        exp.Upper,
        exp.Substring,
        exp.StrPosition,
        exp.Concat,
        exp.ConcatWs,
        exp.Trim,
        exp.SplitPart,
        exp.Replace,
        exp.Left,
        exp.Right,
        exp.Pad,
        exp.Reverse,
        exp.Repeat,
        exp.Initcap,
        exp.RegexpReplace,
        exp.RegexpLike,
        exp.RegexpILike,
        exp.MD5,
        exp.StartsWith,
        exp.Chr,
        exp.Ascii,
        # conditionals
        exp.Coalesce,
        exp.Nullif,
        exp.If,
        exp.Case,
        # aggregates
        exp.Count,
        exp.Sum,
        exp.Avg,
        exp.Min,
        exp.Max,
        exp.Stddev,
        exp.StddevPop,
        exp.StddevSamp,
        exp.Variance,
        exp.VariancePop,
        exp.LogicalAnd,
        exp.LogicalOr,
        exp.Corr,
        exp.CovarPop,
        exp.CovarSamp,
        exp.ArrayAgg,
        exp.GroupConcat,
        exp.PercentileCont,
        exp.PercentileDisc,
        exp.Median,
        exp.Mode,
        # window functions
        exp.RowNumber,
        exp.Rank,
        exp.DenseRank,
        exp.Ntile,
        exp.Lag,
        exp.Lead,
        exp.FirstValue,
        exp.LastValue,
        exp.PercentRank,
        exp.CumeDist,
        exp.NthValue,
        # dates
        exp.CurrentDate,
        exp.CurrentTimestamp,
        exp.Extract,
        exp.TimestampTrunc,
        exp.DateTrunc,
        # arrays (q3c_poly_query vertex lists)
        exp.Array,
        exp.ArraySize,
    }
)

# Syntax that is not a function call.
_SYNTAX: frozenset[type[exp.Expr]] = frozenset(
    {
        exp.Select,
        exp.Union,
        exp.Intersect,
        exp.Except,
        exp.With,
        exp.CTE,
        exp.Subquery,
        exp.From,
        exp.Join,
        exp.Table,
        exp.TableAlias,
        exp.Lateral,
        exp.Values,
        exp.Tuple,
        exp.Where,
        exp.Group,
        exp.Having,
        exp.Order,
        exp.Ordered,
        exp.Limit,
        exp.Offset,
        exp.Fetch,
        exp.Distinct,
        exp.Window,
        exp.WindowSpec,
        exp.Filter,
        exp.WithinGroup,
        exp.Identifier,
        exp.Column,
        exp.Star,
        exp.Literal,
        exp.Null,
        exp.Boolean,
        exp.Alias,
        exp.Paren,
        exp.Neg,
        exp.Not,
        exp.And,
        exp.Or,
        exp.EQ,
        exp.NEQ,
        exp.GT,
        exp.GTE,
        exp.LT,
        exp.LTE,
        exp.NullSafeEQ,
        exp.NullSafeNEQ,
        exp.Is,
        exp.In,
        exp.Between,
        exp.Like,
        exp.ILike,
        exp.Escape,
        exp.Add,
        exp.Sub,
        exp.Mul,
        exp.Div,
        exp.IntDiv,
        exp.DPipe,
        exp.BitwiseAnd,
        exp.BitwiseOr,
        exp.BitwiseXor,
        exp.BitwiseNot,
        exp.BitwiseLeftShift,
        exp.BitwiseRightShift,
        exp.Exists,
        exp.Any,
        exp.All,
        exp.Cast,
        exp.DataType,
        exp.DataTypeParam,
        exp.Interval,
        exp.Var,
        exp.Bracket,
        exp.Anonymous,
        exp.Dot,
    }
)

# Types a CAST may name; everything numeric, textual, boolean or temporal, and arrays.
_TYPES = frozenset(
    {
        exp.DataType.Type.BOOLEAN,
        exp.DataType.Type.TINYINT,
        exp.DataType.Type.SMALLINT,
        exp.DataType.Type.INT,
        exp.DataType.Type.BIGINT,
        exp.DataType.Type.FLOAT,
        exp.DataType.Type.DOUBLE,
        exp.DataType.Type.DECIMAL,
        exp.DataType.Type.TEXT,
        exp.DataType.Type.VARCHAR,
        exp.DataType.Type.CHAR,
        exp.DataType.Type.NCHAR,
        exp.DataType.Type.NVARCHAR,
        exp.DataType.Type.DATE,
        exp.DataType.Type.TIMESTAMP,
        exp.DataType.Type.TIMESTAMPTZ,
        exp.DataType.Type.INTERVAL,
        exp.DataType.Type.ARRAY,
        exp.DataType.Type.TIME,
        exp.DataType.Type.TIMETZ,
    }
)

_VAR_PARENTS = (exp.Extract, exp.Interval, exp.TimestampTrunc, exp.DateTrunc)
_QUERY_ROOTS = (exp.Select, exp.SetOperation, exp.Subquery)
_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SAFE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_ $]*$")
# Clauses of SELECT that either write (INTO), lock, sample or are not PostgreSQL/ADQL.
_FORBIDDEN_SELECT_ARGS = {
    "into": "SELECT ... INTO (queries cannot create tables; save results with the "
    "out= option or to MyDB instead)",
    "locks": "FOR UPDATE/FOR SHARE",
    "sample": "TABLESAMPLE/USING SAMPLE",
    "settings": "SETTINGS",
    "format": "FORMAT",
    "options": "OPTION",
    "for_": "FOR",
    "connect": "CONNECT BY",
    "prewhere": "PREWHERE",
    "qualify": "QUALIFY",
    "kind": "SELECT AS",
    "exclude": "EXCLUDE",
    "distribute": "DISTRIBUTE BY",
    "sort": "SORT BY",
    "cluster": "CLUSTER BY",
    "match": "MATCH_RECOGNIZE",
    "pivots": "PIVOT",
    "laterals": "LATERAL VIEW",
}


def check_text(text: str) -> None:
    """Checks that run before parsing: size, control characters, nesting depth."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryRefusedError(
            f"the query text is {len(text):,} characters long; the limit is "
            f"{MAX_QUERY_CHARS:,}. Upload long lists of positions as a table and join it"
        )
    if "\x00" in text:
        raise QueryRefusedError("the query text contains a NUL character; remove it")
    depth = _paren_depth(text)
    if depth > MAX_PAREN_DEPTH:
        raise QueryRefusedError(
            f"the query nests parentheses {depth} deep; the limit is {MAX_PAREN_DEPTH}. "
            "Flatten the expression or use a WITH clause"
        )


def validate(
    statements: Sequence[exp.Expr | None] | exp.Expr,
    tables: Sequence[TableMeta],
    *,
    language: str = "sql",
    text: str = "",
) -> exp.Expr:
    """Refuse anything but one read-only query over known tables; return that query."""
    if isinstance(statements, exp.Expr):
        statements = [statements]
    found = [s for s in statements if s is not None]
    if not found:
        raise QueryRefusedError("the query is empty; send one SELECT statement")
    if len(found) > 1:
        raise QueryRefusedError(
            f"the query text holds {len(found)} statements; send exactly one SELECT "
            "(remove the ';' between statements)"
        )
    root = found[0]
    if not isinstance(root, _QUERY_ROOTS):
        raise QueryRefusedError(
            f"only read-only queries are allowed (SELECT, WITH, UNION, INTERSECT, EXCEPT); "
            f"refused: {_describe_statement(root)}"
        )
    _check_depth(root)
    anonymous = _ANONYMOUS_ADQL if language == "adql" else _ANONYMOUS_SQL
    cte_names = set()
    for node in root.walk():
        kind = type(node)
        if kind is exp.Anonymous:
            name = str(node.this).lower()
            if name not in anonymous:
                raise QueryRefusedError(_refused_function(name, language))
        elif kind not in _SYNTAX and kind not in _FUNCTIONS:
            if isinstance(node, exp.Func):
                raise QueryRefusedError(_refused_function(function_name(node, text), language))
            raise QueryRefusedError(f"{_describe_node(node)} is not allowed in queries")
        if isinstance(node, exp.Select):
            _check_select(node)
        elif isinstance(node, exp.Star) and any(
            node.args.get(k) for k in ("except_", "replace", "rename", "ilike")
        ):
            raise QueryRefusedError("* EXCLUDE/REPLACE/RENAME is not allowed; list the columns")
        elif isinstance(node, exp.With) and node.args.get("recursive"):
            raise QueryRefusedError("WITH RECURSIVE is not allowed; use a plain WITH")
        elif isinstance(node, exp.CTE):
            name = node.alias
            if not _SAFE_NAME.match(name):
                raise QueryRefusedError(
                    f"the WITH name {name!r} is not allowed; use letters, digits and underscores"
                )
            cte_names.add(name.lower())
        elif isinstance(node, exp.DataType) and node.this not in _TYPES and not _q3c_polygon(node):
            raise QueryRefusedError(
                f"CAST to {node.sql('postgres')} is not allowed; cast to a numeric, text, "
                "boolean, date/time or array type"
            )
        elif isinstance(node, exp.Var) and not isinstance(node.parent, _VAR_PARENTS):
            # A bare keyword is written out verbatim; only date parts and units may be one.
            raise QueryRefusedError(f"{node.name!r} is not allowed here")
        elif isinstance(node, exp.Lateral) and not isinstance(node.this, exp.Subquery):
            raise QueryRefusedError(
                "LATERAL may only be followed by a parenthesised subquery, not a function"
            )
    for table in root.find_all(exp.Table):
        _check_table(table, tables, cte_names)
    return root


def _q3c_polygon(node: exp.DataType) -> bool:
    """PostgreSQL's ``'((ra, dec), ...)'::polygon`` as the last argument of q3c_poly_query."""
    cast = node.parent
    call = cast.parent if cast is not None else None
    return (
        node.this == exp.DataType.Type.USERDEFINED
        and str(node.args.get("kind") or "").lower() == "polygon"
        and isinstance(cast, exp.Cast)
        and isinstance(cast.this, exp.Literal)
        and isinstance(call, exp.Anonymous)
        and str(call.this).lower() == "q3c_poly_query"
    )


def _check_select(select: exp.Select) -> None:
    for arg, label in _FORBIDDEN_SELECT_ARGS.items():
        if select.args.get(arg):
            raise QueryRefusedError(f"{label} is not allowed in queries")


def _check_table(table: exp.Table, tables: Sequence[TableMeta], ctes: set[str]) -> None:
    if not isinstance(table.this, exp.Identifier):
        raise QueryRefusedError(
            f"table functions are not allowed in FROM: {table.this.sql('postgres')[:80]}; "
            "query catalog tables by name, e.g. FROM schema.table"
        )
    for arg in ("version", "when", "joins", "pivots", "partition", "changes"):
        if table.args.get(arg):
            raise QueryRefusedError(
                f"{arg.upper()} clauses on table {table.sql('postgres')} are not allowed"
            )
    if table.args.get("only"):
        table.set("only", None)  # PostgreSQL's ONLY means nothing without inheritance
    find_table(table, tables, ctes)


def find_table(
    table: exp.Table, tables: Sequence[TableMeta], ctes: Iterable[str] = ()
) -> TableMeta | None:
    """The catalog table a FROM item names; ``None`` for a WITH name; else UnknownTableError."""
    name = identifier_name(table.this)
    db = table.args.get("db")
    catalog = table.args.get("catalog")
    if catalog is None and db is None and name in set(ctes):
        return None
    if catalog is None and db is not None:
        schema = identifier_name(db)
        for meta in tables:
            if meta.schema == schema and meta.name == name:
                return meta
        if schema == MYDB_SCHEMA:
            raise UnknownTableError(_unknown_mydb_message(name, tables))
    elif catalog is None:
        # A MyDB table is always named as mydb.t: a user's table never shadows a catalog.
        named = [meta for meta in tables if meta.name == name and meta.schema != MYDB_SCHEMA]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            choices = ", ".join(meta.qualified for meta in named)
            raise UnknownTableError(
                f"table name {name!r} is ambiguous; qualify it with its schema: {choices}"
            )
    written = ".".join(
        identifier_name(part) for part in (catalog, db, table.this) if part is not None
    )
    raise UnknownTableError(unknown_table_message(written, tables))


def unknown_table_message(written: str, tables: Sequence[TableMeta]) -> str:
    known = [meta.qualified for meta in tables]
    near = difflib.get_close_matches(written.lower(), known, n=3, cutoff=0.5)
    if not near:
        short = {meta.name: meta.qualified for meta in tables}
        near = [short[n] for n in difflib.get_close_matches(written.lower(), list(short), n=3)]
    if near:
        hint = f"did you mean {', '.join(near)}?"
    elif known:
        hint = "known tables: " + ", ".join(known[:20]) + (" ..." if len(known) > 20 else "")
    else:
        hint = "no catalogs are ingested yet"
    return f"no table named {written!r}; {hint}"


def _unknown_mydb_message(name: str, tables: Sequence[TableMeta]) -> str:
    mine = [meta.name for meta in tables if meta.schema == MYDB_SCHEMA]
    near = difflib.get_close_matches(name, mine, n=3)
    if near:
        hint = "did you mean " + ", ".join(f"mydb.{n}" for n in near) + "?"
    elif mine:
        hint = "your MyDB tables: " + ", ".join(mine[:20]) + (" ..." if len(mine) > 20 else "")
    else:
        hint = "your MyDB has no tables yet (anonymous users have no MyDB)"
    return f"no MyDB table named {name!r}; {hint}"


def identifier_name(node: exp.Expr) -> str:
    """The name an identifier stands for: unquoted names fold to lower case, quoted stay."""
    if isinstance(node, exp.Identifier):
        return node.this if node.quoted else node.this.lower()
    return node.name.lower()


def _check_depth(root: exp.Expr) -> None:
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            raise QueryRefusedError(
                f"the query is nested more than {MAX_TREE_DEPTH} levels deep; simplify it "
                "(long OR chains can be written as IN (...))"
            )
        stack.extend((child, depth + 1) for child in node.iter_expressions())


_SCAN = re.compile(r"""[()]|'(?:[^']|'')*'?|"(?:[^"]|"")*"?|--[^\n]*|/\*.*?(?:\*/|\Z)""", re.S)


def _paren_depth(text: str) -> int:
    """Deepest parenthesis nesting outside strings, quoted identifiers and comments."""
    depth = deepest = 0
    for match in _SCAN.finditer(text):
        token = match.group()
        if token == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif token == ")":
            depth -= 1
    return deepest


def function_name(node: exp.Expr, text: str) -> str:
    """The function name as the user wrote it (lower case), else sqlglot's name for it."""
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    written = written_function_name(node, text)
    if written is not None:
        return written
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return node.key.lower()


def written_function_name(node: exp.Expr, text: str) -> str | None:
    """``name`` when the node was parsed from ``name(...)`` in ``text``, else None."""
    start, end = node.meta.get("start"), node.meta.get("end")
    if not (isinstance(start, int) and isinstance(end, int) and text):
        return None
    written = text[start : end + 1]
    if _WORD.match(written) and text[end + 1 :].lstrip().startswith("("):
        return written.lower()
    return None


def _refused_function(name: str, language: str) -> str:
    which = "ADQL" if language == "adql" else "SQL"
    hint = ""
    if name.startswith(("read_", "glob", "sniff", "parquet_", "duckdb_", "pragma_")):
        hint = "; files and database internals cannot be read from queries"
    elif name in ADQL_GEOMETRY and language != "adql":
        hint = "; ADQL geometry needs LANG=ADQL (in SQL use q3c_radial_query, q3c_dist)"
    elif name in Q3C_FUNCTIONS and language == "adql":
        hint = "; in ADQL use CONTAINS(POINT(...), POLYGON(...)) = 1"
    return f"function {name}() is not allowed in {which} queries here{hint}"


def _describe_statement(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return f"{str(node.this).upper()} statement"
    if isinstance(node, exp.Alias | exp.Column | exp.Identifier):
        return f"{node.sql('postgres')[:60]!r} (not a statement; did you mean SELECT ...?)"
    name = type(node).__name__.upper()
    return f"{name} statement"


def _describe_node(node: exp.Expr) -> str:
    labels: dict[type[exp.Expr], str] = {
        exp.Placeholder: "query parameters (? or $1)",
        exp.Parameter: "query parameters ($1)",
        exp.Lambda: "lambda functions",
        exp.Struct: "struct literals",
        exp.Explode: "UNNEST",
        exp.Unnest: "UNNEST",
        exp.Collate: "COLLATE",
        exp.Into: "SELECT ... INTO",
        exp.Lock: "FOR UPDATE/FOR SHARE",
        exp.TableSample: "TABLESAMPLE",
        exp.SimilarTo: "SIMILAR TO (use LIKE or ~)",
    }
    label = labels.get(type(node))
    return label or f"{node.key.upper()} ({node.sql('postgres')[:60]})"
