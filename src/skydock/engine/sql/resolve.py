"""Resolution: every table and column checked against the catalog metadata and qualified.

Errors name what is wrong and what would be accepted; ``*`` becomes explicit columns;
every column is qualified with its FROM item's alias, which is made unique.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Sequence

from sqlglot import exp

from skydock.engine import guard
from skydock.engine.catalog import TableMeta
from skydock.engine.guard import identifier_name
from skydock.engine.sql.naming import output_column
from skydock.engine.sql.scope import (
    Language,
    OutCol,
    Scope,
    Source,
    rename,
    same_type,
    unknown_column,
)
from skydock.errors import QueryRefusedError, UnknownColumnError, UnknownTableError


class Resolver:
    """Resolves one query tree in place; ``sources`` and ``used_tables`` record what it met."""

    def __init__(self, text: str, language: Language, tables: Sequence[TableMeta]) -> None:
        self.text = text
        self.language = language
        self.tables = list(tables)
        self.sources: dict[int, Source] = {}
        self.used_aliases: set[str] = set()
        self.used_tables: list[str] = []
        self._uids = itertools.count(1)

    def run(self, root: exp.Expr) -> list[OutCol]:
        """The output columns of ``root``, once every name in it is resolved."""
        self.used_aliases = {
            identifier_name(a.this).lower()
            for a in root.find_all(exp.TableAlias)
            if isinstance(a.this, exp.Identifier) and not isinstance(a.parent, exp.CTE)
        }
        return self.query(root, None, {})

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
                cols = rename(cols, alias.columns, f"WITH {alias.name}")
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
                OutCol(a.name, a.meta if same_type(a, b) else None)
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
        cols = [output_column(item, self.text, self.language) for item in expressions]
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
                database, schema, physical = table.location or (None, table.schema, table.name)
                node.set("this", exp.to_identifier(physical, quoted=True))
                node.set("db", exp.to_identifier(schema, quoted=True))
                if database is not None:
                    node.set("catalog", exp.to_identifier(database, quoted=True))
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
            cols = rename(cols, alias_node.columns, label)
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
                raise UnknownColumnError(unknown_column(col.sql("postgres"), name, [source]))
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
        raise UnknownColumnError(unknown_column(col.sql("postgres"), name, scope.sources))

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


def _items(node: exp.Expr | None) -> list[exp.Expr]:
    if node is None:
        return []
    return list(node.expressions) if isinstance(node, exp.Tuple) else [node]


def _is_star(item: exp.Expr) -> bool:
    return isinstance(item, exp.Star) or (
        isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
    )
