"""Translate a user's PostgreSQL-flavoured SQL or ADQL into DuckDB SQL.

The pipeline: parse with sqlglot (PostgreSQL dialect, or the ADQL dialect of
``skydock.engine.adql``) → ``guard.validate`` → resolve every table and column against the
catalog metadata (helpful errors, ``*`` expanded into explicit columns, every column
qualified) → rewrite sky geometry (``adql.GeometryRewriter``; cones and crossmatches use
``_healpix_29``) → PostgreSQL semantics DuckDB does not share (``log``, integer division,
``numeric``) → an explicit alias on every select item so DuckDB's output names are the ones
PostgreSQL would give → DuckDB SQL text.

Output names follow PostgreSQL: unquoted identifiers fold to lower case; an unaliased
column keeps its name, an unaliased function call takes the function's name (``count``,
``avg``, ``q3c_dist``), ``x::int`` takes x's name, and anything else is ``?column?``.
ADQL queries are named by the same rules, as PostgreSQL-backed TAP services do.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from skydock.engine import guard, spatial
from skydock.engine.adql import ADQL, GeometryRewriter, Point
from skydock.engine.catalog import HEALPIX_COLUMN, ColumnMeta, TableMeta
from skydock.engine.guard import identifier_name, written_function_name
from skydock.errors import (
    QueryRefusedError,
    QuerySyntaxError,
    SkydockError,
    UnknownColumnError,
    UnknownTableError,
)

Language = Literal["sql", "adql"]

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


@dataclass
class Translation:
    """A query ready for DuckDB, with the names and metadata of its output columns."""

    sql: str
    names: list[str]
    columns: list[ColumnMeta | None]
    tables: list[str]
    language: str


def translate(text: str, language: Language, tables: Sequence[TableMeta]) -> Translation:
    """Validate ``text`` and turn it into DuckDB SQL over the views ``<schema>.<table>``."""
    if language not in ("sql", "adql"):
        raise QueryRefusedError(f"unknown query language {language!r}; use 'sql' or 'adql'")
    guard.check_text(text)
    statements = parse(text, language)
    root = guard.validate(statements, tables, language=language, text=text)
    try:
        return _Translator(text, language, tables).run(root)
    except RecursionError as exc:
        raise QueryRefusedError("the query is nested too deeply; simplify it") from exc


def parse(text: str, language: Language) -> list[exp.Expr | None]:
    """sqlglot's parse, with its errors turned into short QuerySyntaxErrors."""
    dialect = ADQL if language == "adql" else "postgres"
    try:
        return list(sqlglot.parse(text, read=dialect))
    except ParseError as exc:
        raise QuerySyntaxError(_parse_message(exc, language)) from exc
    except TokenError as exc:
        raise QuerySyntaxError(f"could not read the {language.upper()} query: {exc}") from exc
    except RecursionError as exc:
        raise QueryRefusedError("the query is nested too deeply to parse; simplify it") from exc


def _parse_message(exc: ParseError, language: str) -> str:
    which = "ADQL" if language == "adql" else "SQL"
    if not exc.errors:
        return f"could not parse the {which} query: {str(exc).splitlines()[0]}"
    err = exc.errors[0]
    near = str(err.get("highlight") or "").strip()
    where = f"line {err.get('line')}, column {err.get('col')}"
    near_text = f" near {near!r}" if near else ""
    return f"could not parse the {which} query at {where}{near_text}: {err.get('description')}"


# --- resolution ------------------------------------------------------------------------


@dataclass
class OutCol:
    """One output column of a query or FROM item: its exact name and, if known, metadata."""

    name: str
    meta: ColumnMeta | None = None


@dataclass
class Source:
    """One FROM item: a catalog table, a WITH name, a derived table, VALUES or LATERAL."""

    uid: int
    alias: str
    label: str  # how errors describe it
    columns: list[OutCol]
    node: exp.Expr
    select: exp.Select
    table: TableMeta | None = None
    refs: set[tuple[str | None, str]] = field(default_factory=set)

    def column(self, name: str) -> OutCol | None:
        for col in self.columns:
            if col.name == name:
                return col
        if name == HEALPIX_COLUMN and self.table is not None:
            return OutCol(name, ColumnMeta(name, "BIGINT", description="HEALPix order 29"))
        return None


@dataclass
class Scope:
    sources: list[Source]
    parent: Scope | None
    merged: dict[str, OutCol] = field(default_factory=dict)
    # Columns of the FROM clause in the order SELECT * lists them, with their source
    # (None for a column merged by USING or NATURAL, referenced unqualified).
    star: list[tuple[Source | None, OutCol]] = field(default_factory=list)


class _Translator:
    def __init__(self, text: str, language: Language, tables: Sequence[TableMeta]) -> None:
        self.text = text
        self.language = language
        self.tables = list(tables)
        self.sources: dict[int, Source] = {}
        self.used_aliases: set[str] = set()
        self.used_tables: list[str] = []
        self._uids = itertools.count(1)
        self._cells = itertools.count(1)

    def run(self, root: exp.Expr) -> Translation:
        self.used_aliases = {
            identifier_name(a.this).lower()
            for a in root.find_all(exp.TableAlias)
            if isinstance(a.this, exp.Identifier) and not isinstance(a.parent, exp.CTE)
        }
        columns = self.query(root, None, {})
        GeometryRewriter(self).rewrite(root)
        self._postgres_semantics(root)
        self._alias_outputs(root)
        # User comments never reach DuckDB; the tree is not needed afterwards, so no copy.
        sql = root.sql(dialect="duckdb", comments=False, copy=False)
        return Translation(
            sql=sql,
            names=[c.name for c in columns],
            columns=[c.meta for c in columns],
            tables=list(self.used_tables),
            language=self.language,
        )

    # --- queries ---------------------------------------------------------------------

    def query(
        self, node: exp.Expr, parent: Scope | None, ctes: dict[str, list[OutCol]]
    ) -> list[OutCol]:
        if isinstance(node, exp.Subquery):
            cols = self.query(node.this, parent, ctes)
            node.meta["sd_cols"] = cols
            return cols
        with_ = node.args.get("with_")
        if with_ is not None:
            ctes = dict(ctes)
            for cte in with_.expressions:
                cols = self.query(cte.this, parent, ctes)
                alias = cte.args["alias"]
                cols = _rename(cols, alias.columns, f"WITH {alias.name}")
                ctes[identifier_name(alias.this)] = cols
        if isinstance(node, exp.SetOperation):
            left = self.query(node.this, parent, ctes)
            right = self.query(node.expression, parent, ctes)
            if len(left) != len(right):
                raise QueryRefusedError(
                    f"each side of {node.key.upper()} must have the same number of columns; "
                    f"the left has {len(left)}, the right {len(right)}"
                )
            cols = [
                OutCol(a.name, a.meta if _same_type(a, b) else None)
                for a, b in zip(left, right, strict=True)
            ]
            self._resolve_set_order(node, cols)
            node.meta["sd_cols"] = cols
            return cols
        if isinstance(node, exp.Select):
            return self.select(node, parent, ctes)
        raise QueryRefusedError(f"{node.key.upper()} is not a query")

    def select(
        self, sel: exp.Select, parent: Scope | None, ctes: dict[str, list[OutCol]]
    ) -> list[OutCol]:
        scope = Scope([], parent)
        from_ = sel.args.get("from_")
        if from_ is not None:
            self._add_source(from_.this, sel, scope, ctes, None)
        for join in sel.args.get("joins") or []:
            self._add_source(join.this, sel, scope, ctes, join)

        expressions: list[exp.Expr] = []
        for item in sel.expressions:
            if _is_star(item):
                expressions.extend(self._expand_star(item, scope))
            else:
                self._resolve(item, scope, ctes)
                expressions.append(item)
        sel.set("expressions", expressions)
        cols = [self._output(item) for item in expressions]
        sel.meta["sd_names"] = [c.name for c in cols]
        names = {c.name for c in cols}

        for join in sel.args.get("joins") or []:
            if join.args.get("on") is not None:
                self._resolve(join.args["on"], scope, ctes)
        for key in ("where", "having", "windows", "limit", "offset"):
            value = sel.args.get(key)
            for part in value if isinstance(value, list) else [value]:
                if part is not None:
                    self._resolve(part, scope, ctes)
        # A bare name in GROUP BY is an input column first, in ORDER BY an output column
        # first (PostgreSQL's rules); expressions only ever see input columns.
        group = sel.args.get("group")
        for part in group.expressions if group is not None else []:
            bare = isinstance(part, exp.Column)
            self._resolve(part, scope, ctes, outputs=names if bare else None)
        order = sel.args.get("order")
        distinct = sel.args.get("distinct")
        on = distinct.args.get("on") if distinct is not None else None
        for part in [*(order.expressions if order is not None else []), *_items(on)]:
            target = part.this if isinstance(part, exp.Ordered) else part
            bare = isinstance(target, exp.Column)
            self._resolve(part, scope, ctes, outputs=names if bare else None, prefer_outputs=bare)
        return cols

    def _resolve_set_order(self, node: exp.SetOperation, cols: list[OutCol]) -> None:
        order = node.args.get("order")
        if order is None:
            return
        names = {c.name for c in cols}
        for column in order.find_all(exp.Column):
            name = identifier_name(column.this)
            if column.table or name not in names:
                raise UnknownColumnError(
                    f"ORDER BY after {node.key.upper()} may only name output columns "
                    f"({', '.join(sorted(names))}) or their positions; {column.sql()!r} is "
                    "not one"
                )
            column.set("this", exp.to_identifier(name, quoted=True))

    # --- FROM ------------------------------------------------------------------------

    def _add_source(
        self,
        node: exp.Expr,
        sel: exp.Select,
        scope: Scope,
        ctes: dict[str, list[OutCol]],
        join: exp.Join | None,
    ) -> None:
        alias_node = node.args.get("alias")
        alias = (
            identifier_name(alias_node.this)
            if isinstance(alias_node, exp.TableAlias) and alias_node.this
            else None
        )
        table: TableMeta | None = None
        refs: set[tuple[str | None, str]] = set()
        if isinstance(node, exp.Table):
            table = guard.find_table(node, self.tables, ctes.keys())
            if table is None:
                name = identifier_name(node.this)
                cols = list(ctes[name])
                label = f"{name} (WITH)"
                node.set("this", exp.to_identifier(name, quoted=True))
                refs = {(None, name)}
            else:
                name = table.name
                cols = [OutCol(c.name, c) for c in table.columns]
                label = table.qualified
                node.set("this", exp.to_identifier(table.name, quoted=True))
                node.set("db", exp.to_identifier(table.schema, quoted=True))
                refs = {(None, table.name), (table.schema, table.name)}
                if table.qualified not in self.used_tables:
                    self.used_tables.append(table.qualified)
        elif isinstance(node, exp.Subquery):
            cols = self.query(node.this, scope.parent, ctes)
            name, label = "subquery", "a subquery in FROM"
        elif isinstance(node, exp.Lateral):
            sub = node.this
            visible = Scope(list(scope.sources), scope.parent, dict(scope.merged))
            cols = self.query(sub.this if isinstance(sub, exp.Subquery) else sub, visible, ctes)
            name, label = "lateral", "a LATERAL subquery"
        elif isinstance(node, exp.Values):
            first = node.expressions[0] if node.expressions else None
            width = len(first.expressions) if isinstance(first, exp.Tuple) else 1
            for row in node.expressions:
                self._resolve(row, scope, ctes)
            cols = [OutCol(f"column{i + 1}") for i in range(width)]
            name, label = "values", "VALUES"
        else:
            raise QueryRefusedError(f"{node.sql('postgres')[:60]} is not allowed in FROM")

        if alias is None:
            alias = self._fresh_alias(name)
            new_alias = exp.TableAlias(this=exp.to_identifier(alias, quoted=True))
            if isinstance(alias_node, exp.TableAlias):
                new_alias.set("columns", alias_node.columns)
            node.set("alias", new_alias)
        elif isinstance(alias_node, exp.TableAlias):
            alias_node.set("this", exp.to_identifier(alias, quoted=True))
            refs = {(None, alias)}
            label = f"{label} AS {alias}" if label != alias else label
        alias_node = node.args["alias"]
        if alias_node.columns:
            cols = _rename(cols, alias_node.columns, label)
            alias_node.set(
                "columns",
                [exp.to_identifier(c.name, quoted=True) for c in cols[: len(alias_node.columns)]],
            )
        elif isinstance(node, exp.Values):
            # PostgreSQL calls them column1, column2...; DuckDB col0, col1...
            alias_node.set("columns", [exp.to_identifier(c.name, quoted=True) for c in cols])
        source = Source(next(self._uids), alias, label, cols, node, sel, table, refs)
        self.sources[source.uid] = source
        self._join_columns(scope, source, join)
        scope.sources.append(source)

    def _join_columns(self, scope: Scope, source: Source, join: exp.Join | None) -> None:
        right = [(source, c) for c in source.columns]
        if join is None or not scope.star:
            scope.star.extend(right)
            return
        left_names = [c.name for _, c in scope.star]
        right_names = [c.name for c in source.columns]
        using = join.args.get("using")
        if using:
            names = [identifier_name(u) for u in using]
            for name in names:
                where = [
                    w
                    for w, ok in (("left", name in left_names), ("right", name in right_names))
                    if not ok
                ]
                if where:
                    raise UnknownColumnError(
                        f"column {name!r} named in USING is not in the {' and '.join(where)} "
                        f"side of the join with {source.label}"
                    )
            join.set("using", [exp.to_identifier(n, quoted=True) for n in names])
        elif str(join.args.get("method") or "").upper() == "NATURAL":
            names = [n for n in left_names if n in right_names]
        else:
            scope.star.extend(right)
            return
        merged = []
        for name in dict.fromkeys(names):
            meta = next(c for _, c in scope.star if c.name == name)
            scope.merged[name] = meta
            merged.append((None, meta))
        rest = [(s, c) for s, c in scope.star if c.name not in names]
        scope.star = merged + rest + [(s, c) for s, c in right if c.name not in names]

    def _fresh_alias(self, base: str) -> str:
        alias, n = base, 1
        while alias.lower() in self.used_aliases:
            n += 1
            alias = f"{base}_{n}"
        self.used_aliases.add(alias.lower())
        return alias

    # --- columns ---------------------------------------------------------------------

    def _expand_star(self, item: exp.Expr, scope: Scope) -> list[exp.Expr]:
        cols: list[tuple[Source | None, OutCol]]
        if isinstance(item, exp.Column):
            source = self._find_source(scope, item)
            cols = [(source, c) for c in source.columns]
        else:
            if not scope.sources:
                raise QueryRefusedError("SELECT * needs a FROM clause")
            cols = scope.star
        out: list[exp.Expr] = []
        for owner, col in cols:
            column = exp.column(exp.to_identifier(col.name, quoted=True))
            if owner is not None:
                column.set("table", exp.to_identifier(owner.alias, quoted=True))
                column.meta["sd_src"] = owner.uid
            column.meta["sd_col"] = col
            out.append(column)
        return out

    def _resolve(
        self,
        node: exp.Expr,
        scope: Scope,
        ctes: dict[str, list[OutCol]],
        *,
        outputs: set[str] | None = None,
        prefer_outputs: bool = False,
    ) -> None:
        stack = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, exp.Select | exp.SetOperation):
                self.query(current, scope, ctes)
                continue
            if isinstance(current, exp.Column):
                self._column(current, scope, outputs, prefer_outputs)
                continue
            if isinstance(current, exp.Subquery):
                current.meta["sd_cols"] = self.query(current.this, scope, ctes)
                continue
            stack.extend(current.iter_expressions())

    def _column(
        self,
        col: exp.Column,
        scope: Scope,
        outputs: set[str] | None,
        prefer_outputs: bool,
    ) -> None:
        if isinstance(col.this, exp.Star):
            source = self._find_source(scope, col)
            col.set("table", exp.to_identifier(source.alias, quoted=True))
            col.set("db", None)
            col.set("catalog", None)
            return
        name = identifier_name(col.this)
        if col.args.get("table") is not None:
            source = self._find_source(scope, col)
            found = source.column(name)
            if found is None:
                raise UnknownColumnError(_unknown_column(col.sql("postgres"), name, [source]))
            self._qualify(col, source, found)
            return
        if outputs is not None and prefer_outputs and name in outputs:
            col.set("this", exp.to_identifier(name, quoted=True))
            return
        level: Scope | None = scope
        while level is not None:
            if name in level.merged:
                col.set("this", exp.to_identifier(name, quoted=True))
                col.meta["sd_col"] = level.merged[name]
                return
            matches = [(s, c) for s in level.sources if (c := s.column(name)) is not None]
            if len(matches) > 1:
                where = ", ".join(s.label for s, _ in matches)
                raise UnknownColumnError(
                    f"column reference {name!r} is ambiguous: it is in {where}; qualify it, "
                    f"e.g. {matches[0][0].alias}.{name}"
                )
            if matches:
                self._qualify(col, matches[0][0], matches[0][1])
                return
            level = level.parent
        if outputs is not None and name in outputs:
            col.set("this", exp.to_identifier(name, quoted=True))
            return
        raise UnknownColumnError(_unknown_column(col.sql("postgres"), name, scope.sources))

    @staticmethod
    def _qualify(col: exp.Column, source: Source, found: OutCol) -> None:
        col.set("this", exp.to_identifier(found.name, quoted=True))
        col.set("table", exp.to_identifier(source.alias, quoted=True))
        col.set("db", None)
        col.set("catalog", None)
        col.meta["sd_src"] = source.uid
        col.meta["sd_col"] = found

    def _find_source(self, scope: Scope, col: exp.Column) -> Source:
        table = identifier_name(col.args["table"])
        db = col.args.get("db")
        schema = identifier_name(db) if db is not None else None
        if col.args.get("catalog") is None:
            level: Scope | None = scope
            while level is not None:
                for source in level.sources:
                    if (schema, table) in source.refs:
                        return source
                level = level.parent
        written = ".".join(p for p in (schema, table) if p)
        known = [s.alias for s in scope.sources]
        near = difflib.get_close_matches(written, known, n=3)
        hint = (
            f"; did you mean {', '.join(near)}?"
            if near
            else (f"; the FROM clause has {', '.join(known)}" if known else "")
        )
        raise UnknownTableError(
            f"{col.sql('postgres')!r} refers to {written!r}, which is not a table or alias in "
            f"this query's FROM clause{hint}"
        )

    # --- names -----------------------------------------------------------------------

    def _output(self, item: exp.Expr) -> OutCol:
        name, _ = self._pg_name(item)
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
            if fname in _GEOMETRY_TYPES and self.language == "adql":
                meta = ColumnMeta(name, _GEOMETRY_TYPES[fname], unit="deg")
            elif fname in ("distance", "q3c_dist"):
                meta = ColumnMeta(name, "DOUBLE", unit="deg")
            elif fname == "area":
                meta = ColumnMeta(name, "DOUBLE", unit="deg**2")
        return OutCol(name, meta)

    def _pg_name(self, node: exp.Expr | None) -> tuple[str, int]:
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
            return self._pg_name(node.this)
        if isinstance(node, exp.Cast):
            name, strength = self._pg_name(node.this)
            if strength <= 1:
                to = node.to
                if to.this == exp.DataType.Type.ARRAY and to.expressions:
                    to = to.expressions[0]
                pg = _PG_TYPE_NAMES.get(to.this)
                return (pg, 1) if pg else (to.sql("postgres").lower(), 1)
            return name, strength
        if isinstance(node, exp.Case):
            name, strength = self._pg_name(node.args.get("default"))
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
            return self._pg_name(node.this)
        if isinstance(node, exp.Trim):
            position = str(node.args.get("position") or "").upper()
            return {"LEADING": "ltrim", "TRAILING": "rtrim"}.get(position, "btrim"), 2
        written = written_function_name(node, self.text)
        if written is not None:
            return written, 2
        if isinstance(node, exp.Anonymous):
            return str(node.this).lower(), 2
        if isinstance(node, exp.Func) and not isinstance(node, exp.Binary):
            return _PG_FUNCTION_NAMES.get(type(node), node.sql_name().lower()), 2
        return "?column?", 0

    # --- geometry planner (called by adql.GeometryRewriter) ------------------------------

    def catalog_position(self, ra: exp.Expr, dec: exp.Expr) -> tuple[str, TableMeta] | None:
        source = self._point_source(Point(ra, dec))
        if source is None or source.table is None:
            return None
        table = source.table
        if (ra.name, dec.name) != (table.ra, table.dec):
            return None
        return source.alias, table

    def crossmatch(self, owner: exp.Expr, a: Point, b: Point, radius_deg: float) -> exp.Expr | None:
        """Turn ``distance(a, b) <= r`` between two FROM items into a HEALPix cell join.

        One side (the "wide" one) is repeated once per cell of its 3×3 neighbour block at
        order k = xmatch_order(r), the other side contributes its own cell; equal cells
        are a hash join, and as the block holds no cell twice each pair meets once. In an
        outer join the side that may be NULL is the one repeated, so preserved rows
        still appear exactly once.
        """
        select = owner.parent
        sa, sb = self._point_source(a), self._point_source(b)
        if sa is None or sb is None or sa is sb:
            return None
        for source in (sa, sb):
            if source.select is not select or not isinstance(source.node, exp.Table | exp.Subquery):
                return None
        forced: Source | None = None
        if isinstance(owner, exp.Join):
            side = str(owner.args.get("side") or "").upper()
            kind = str(owner.args.get("kind") or "").upper()
            joined = next((s for s in (sa, sb) if s.node is owner.this), None)
            if side == "FULL" or kind not in ("", "INNER", "CROSS", "OUTER"):
                return None
            if side in ("LEFT", "RIGHT") and joined is None:
                return None
            if side == "LEFT":
                forced = joined
            elif side == "RIGHT":
                forced = sb if joined is sa else sa
        try:
            order = spatial.xmatch_order(radius_deg)
        except SkydockError:
            return None  # too wide for a cell join; the exact test alone still answers
        ia = sa.table is not None and (a.ra.name, a.dec.name) == (sa.table.ra, sa.table.dec)
        ib = sb.table is not None and (b.ra.name, b.dec.name) == (sb.table.ra, sb.table.dec)
        if forced is not None:
            expand_b = forced is sb
        elif ia and ib:
            assert sa.table is not None and sb.table is not None
            expand_b = sb.table.nrows <= sa.table.nrows
        else:
            expand_b = not ib
        if expand_b:
            (wide, wide_point), (other, other_point, indexed) = (sb, b), (sa, a, ia)
        else:
            (wide, wide_point), (other, other_point, indexed) = (sa, a), (sb, b, ib)
        cell = self._expand(wide, wide_point, order)
        if indexed:
            shift = 2 * (29 - order)
            other_cell = f'("{other.alias}"."{HEALPIX_COLUMN}" >> {shift})'
        else:
            other_cell = (
                f'skydock_healpix("{other.alias}"."{other_point.ra.name}", '
                f'"{other.alias}"."{other_point.dec.name}", {order})'
            )
        return sqlglot.parse_one(f'"{wide.alias}"."{cell}" = {other_cell}', read="duckdb")

    def _point_source(self, point: Point) -> Source | None:
        if not isinstance(point.ra, exp.Column) or not isinstance(point.dec, exp.Column):
            return None
        uid = point.ra.meta.get("sd_src")
        if uid is None or uid != point.dec.meta.get("sd_src"):
            return None
        return self.sources.get(uid)

    def _expand(self, source: Source, point: Point, order: int) -> str:
        """Wrap a FROM item so each row appears once per HEALPix cell it must be matched in."""
        cell = f"__xm_cell_{next(self._cells)}"
        q = f'"{source.alias}"'
        wrapper = sqlglot.parse_one(
            f'SELECT *, unnest(list_distinct(skydock_xmatch_cells({q}."{point.ra.name}", '
            f'{q}."{point.dec.name}", {order}))) AS "{cell}" FROM x',
            read="duckdb",
        )
        outer = exp.Subquery(
            this=wrapper, alias=exp.TableAlias(this=exp.to_identifier(source.alias, quoted=True))
        )
        inner = source.node
        inner.replace(outer)
        wrapper.set("from_", exp.From(this=inner))  # moved, not copied: still rewritten
        source.node = outer
        return cell

    # --- PostgreSQL semantics and output names ------------------------------------------

    def _postgres_semantics(self, root: exp.Expr) -> None:
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
            elif (
                isinstance(node, exp.Div)
                and self._is_integer(node.this)
                and self._is_integer(node.expression)
            ):
                node.replace(exp.IntDiv(this=node.this, expression=node.expression))
            elif isinstance(node, exp.EQ | exp.NEQ | exp.LT | exp.LTE | exp.GT | exp.GTE):
                for side, other in ((node.this, node.expression), (node.expression, node.this)):
                    if (
                        isinstance(side, exp.Literal)
                        and side.is_string
                        and side.this.strip().lower() in _SPECIAL_FLOATS
                        and self._is_float(other)
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

    def _is_integer(self, node: exp.Expr) -> bool:
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.Literal):
            return not node.is_string and node.this.lstrip("-").isdigit()
        if isinstance(node, exp.Neg):
            return self._is_integer(node.this)
        if isinstance(node, exp.Cast):
            return node.to.is_type(*exp.DataType.INTEGER_TYPES)
        if isinstance(node, exp.Count | exp.Length | exp.RowNumber | exp.Rank | exp.DenseRank):
            return True
        if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Mod | exp.IntDiv):
            return self._is_integer(node.this) and self._is_integer(node.expression)
        if isinstance(node, exp.Column):
            col = node.meta.get("sd_col")
            meta = col.meta if isinstance(col, OutCol) else None
            return meta is not None and meta.datatype.upper() in _INTEGER_TYPES
        return False

    @staticmethod
    def _is_float(node: exp.Expr) -> bool:
        col = node.meta.get("sd_col") if isinstance(node, exp.Column) else None
        meta = col.meta if isinstance(col, OutCol) else None
        return meta is not None and meta.datatype.upper() in _FLOAT_TYPES

    @staticmethod
    def _alias_outputs(root: exp.Expr) -> None:
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


def _items(node: exp.Expr | None) -> list[exp.Expr]:
    if node is None:
        return []
    return list(node.expressions) if isinstance(node, exp.Tuple) else [node]


def _is_star(item: exp.Expr) -> bool:
    return isinstance(item, exp.Star) or (
        isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
    )


def _rename(cols: list[OutCol], aliases: Sequence[exp.Expr], label: str) -> list[OutCol]:
    if not aliases:
        return cols
    if len(aliases) > len(cols):
        raise QueryRefusedError(
            f"{label} has {len(cols)} columns but {len(aliases)} column names were given"
        )
    renamed = []
    for i, col in enumerate(cols):
        if i < len(aliases):
            name = identifier_name(aliases[i])
            meta = dataclasses.replace(col.meta, name=name) if col.meta is not None else None
            renamed.append(OutCol(name, meta))
        else:
            renamed.append(col)
    return renamed


def _same_type(a: OutCol, b: OutCol) -> bool:
    return a.meta is not None and b.meta is not None and a.meta.datatype == b.meta.datatype


def _unknown_column(written: str, name: str, sources: Sequence[Source]) -> str:
    if not sources:
        return f"column {written!r} does not exist (the query has no FROM clause)"
    where = ", ".join(s.label for s in sources)
    names = list(dict.fromkeys(c.name for s in sources for c in s.columns))
    near = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    if near:
        hint = f"; did you mean {', '.join(near)}?"
    else:
        shown = ", ".join(names[:25]) + (" ..." if len(names) > 25 else "")
        hint = f"; available columns: {shown}"
    return f"column {written!r} does not exist in {where}{hint}"
