"""The translation pipeline, from the user's text to DuckDB SQL (see the package docstring)."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict
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
    # A large top-level LIMIT without ORDER BY, taken out of ``sql``: the executor stops
    # reading after this many rows instead (see ``_lift_limit``).
    limit: int | None = None


def translate(text: str, language: Language, tables: Sequence[TableMeta]) -> Translation:
    """Validate ``text`` and turn it into DuckDB SQL over the catalogs' serving tables.

    The same text over the very same table objects is answered from a small cache: the
    translation depends on nothing else, and a repeated small query (a notebook re-run,
    a TAP client polling) saves ~1 ms of parsing and rewriting. Refusals are not cached.
    """
    if language not in ("sql", "adql"):
        raise QueryRefusedError(f"unknown query language {language!r}; use 'sql' or 'adql'")
    cached = _CACHE.get(text, language, tables)
    if cached is not None:
        return cached
    guard.check_text(text)
    text = rewrite_mydb_uris(text)
    statements = parse(text, language)
    root = guard.validate(statements, tables, language=language, text=text)
    try:
        translation = _run(root, text, language, tables)
    except RecursionError as exc:
        raise QueryRefusedError("the query is nested too deeply; simplify it") from exc
    _CACHE.put(text, language, tables, translation)
    return _copy(translation)


def clear_translation_cache() -> None:
    """Forget every cached translation (benchmarks use it to time translation itself)."""
    _CACHE.clear()


class _TranslationCache:
    """Least-recently-used translations, keyed on text and language.

    An entry holds the table objects it was made against, with the attached names they
    carried, and is used only for those same objects still carrying those names (identity,
    not equality): the executor makes new ones whenever the catalogs change, so a stale
    entry is never returned.
    """

    MAX_ENTRIES = 256
    MAX_CHARS = 16_384  # longer queries are rare and cost more memory than they save

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[
            tuple[str, str],
            tuple[tuple[tuple[TableMeta, tuple[str, str, str] | None], ...], Translation],
        ] = OrderedDict()

    def get(self, text: str, language: str, tables: Sequence[TableMeta]) -> Translation | None:
        key = (text, language)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            held, translation = entry
            if len(held) != len(tables) or any(
                a is not b or where != b.location
                for (a, where), b in zip(held, tables, strict=True)
            ):
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
        return _copy(translation)

    def put(
        self, text: str, language: str, tables: Sequence[TableMeta], translation: Translation
    ) -> None:
        if len(text) + len(translation.sql) > self.MAX_CHARS:
            return
        with self._lock:
            held = tuple((t, t.location) for t in tables)
            self._entries[(text, language)] = (held, translation)
            self._entries.move_to_end((text, language))
            while len(self._entries) > self.MAX_ENTRIES:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_CACHE = _TranslationCache()


def _copy(translation: Translation) -> Translation:
    """A translation whose lists a caller may change without touching the cached one."""
    return dataclasses.replace(
        translation,
        names=list(translation.names),
        columns=list(translation.columns),
        tables=list(translation.tables),
    )


def _run(root: exp.Expr, text: str, language: Language, tables: Sequence[TableMeta]) -> Translation:
    resolver = Resolver(text, language, tables)
    columns = resolver.run(root)
    GeometryRewriter(CrossmatchPlanner(resolver.sources)).rewrite(root)
    postgres_semantics(root)
    alias_outputs(root)
    limit = _lift_limit(root)
    # User comments never reach DuckDB; the tree is not needed afterwards, so no copy.
    sql = root.sql(dialect="duckdb", comments=False, copy=False)
    return Translation(
        sql=sql,
        names=[c.name for c in columns],
        columns=[c.meta for c in columns],
        tables=list(resolver.used_tables),
        language=language,
        limit=limit,
    )


# From about this many rows on, reading the unlimited stream and stopping is faster.
LIFTED_LIMIT_MIN = 100_000


def _lift_limit(root: exp.Expr) -> int | None:
    """Take a large literal LIMIT off an unordered top-level query and return it.

    With insertion order preserved, DuckDB answers ``LIMIT n`` by collecting all n rows in
    order before the first leaves (1 M rows × 6 columns: 88 ms), while the same query
    without the LIMIT streams them in the same order at once (21 ms); stopping after n
    rows gives the same rows. For small n DuckDB's own LIMIT wins (it never fills a whole
    batch), so those stay. With ORDER BY or OFFSET the LIMIT stays too.
    """
    if not isinstance(root, exp.Select | exp.SetOperation):
        return None
    limit = root.args.get("limit")
    if not isinstance(limit, exp.Limit) or root.args.get("order") or root.args.get("offset"):
        return None
    if limit.args.get("offset") or limit.args.get("expressions"):
        return None
    value = limit.expression
    if not isinstance(value, exp.Literal) or value.is_string:
        return None
    try:
        rows = int(value.this)
    except ValueError:
        return None
    if rows < LIFTED_LIMIT_MIN:
        return None
    root.set("limit", None)
    return rows


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
