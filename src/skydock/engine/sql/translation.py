"""The translation pipeline, from the user's text to DuckDB SQL (see the package docstring)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from skydock.engine import guard
from skydock.engine.adql import ADQL, GeometryRewriter
from skydock.engine.catalog import ColumnMeta, TableMeta
from skydock.engine.sql.crossmatch import CrossmatchPlanner
from skydock.engine.sql.naming import alias_outputs
from skydock.engine.sql.postgres import postgres_semantics
from skydock.engine.sql.resolve import Resolver
from skydock.engine.sql.scope import Language
from skydock.engine.sql.uri import rewrite_mydb_uris
from skydock.errors import QueryRefusedError, QuerySyntaxError


class _QuietFallback(logging.Filter):
    """sqlglot warns when it parses a statement it does not know as a bare command; the
    guard refuses such statements with its own message, so the warning is only noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


logging.getLogger("sqlglot").addFilter(_QuietFallback())


@dataclass
class Translation:
    """A query ready for DuckDB, with the names and metadata of its output columns."""

    sql: str
    names: list[str]
    columns: list[ColumnMeta | None]
    tables: list[str]
    language: str


def translate(text: str, language: Language, tables: Sequence[TableMeta]) -> Translation:
    """Validate ``text`` and turn it into DuckDB SQL over the catalogs' serving tables."""
    if language not in ("sql", "adql"):
        raise QueryRefusedError(f"unknown query language {language!r}; use 'sql' or 'adql'")
    guard.check_text(text)
    text = rewrite_mydb_uris(text)
    statements = parse(text, language)
    root = guard.validate(statements, tables, language=language, text=text)
    try:
        return _run(root, text, language, tables)
    except RecursionError as exc:
        raise QueryRefusedError("the query is nested too deeply; simplify it") from exc


def _run(root: exp.Expr, text: str, language: Language, tables: Sequence[TableMeta]) -> Translation:
    resolver = Resolver(text, language, tables)
    columns = resolver.run(root)
    GeometryRewriter(CrossmatchPlanner(resolver.sources)).rewrite(root)
    postgres_semantics(root)
    alias_outputs(root)
    # User comments never reach DuckDB; the tree is not needed afterwards, so no copy.
    sql = root.sql(dialect="duckdb", comments=False, copy=False)
    return Translation(
        sql=sql,
        names=[c.name for c in columns],
        columns=[c.meta for c in columns],
        tables=list(resolver.used_tables),
        language=language,
    )


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
