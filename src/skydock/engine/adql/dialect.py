"""ADQL 2.1 as a sqlglot dialect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from sqlglot import exp, parser, tokens
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokens import TokenType

from skydock.engine.guard import ADQL_GEOMETRY


def _anonymous(name: str) -> Callable[[list[exp.Expr]], exp.Expr]:
    def build(args: list[exp.Expr]) -> exp.Expr:
        return exp.Anonymous(this=name, expressions=args)

    return build


def _rand(args: list[exp.Expr]) -> exp.Expr:
    return exp.Rand()  # DuckDB cannot seed one call; RAND(seed) returns an unseeded value


class ADQL(Dialect):
    """ADQL 2.1 as sqlglot reads it: TOP, natural-log LOG, geometry as plain calls."""

    NULL_ORDERING = "nulls_are_large"  # as PostgreSQL, the usual TAP back end
    TYPED_DIVISION = True

    class Tokenizer(tokens.Tokenizer):
        QUOTES: ClassVar[list[Any]] = ["'"]
        IDENTIFIERS: ClassVar[list[Any]] = ['"']
        KEYWORDS: ClassVar[dict[str, TokenType]] = {
            **tokens.Tokenizer.KEYWORDS,
            "TOP": TokenType.TOP,
        }

    class Parser(parser.Parser):
        LOG_DEFAULTS_TO_LN = True  # ADQL LOG() is the natural logarithm
        FUNCTIONS: ClassVar[dict[str, Callable]] = {
            **parser.Parser.FUNCTIONS,
            **{name.upper(): _anonymous(name.upper()) for name in ADQL_GEOMETRY},
            "RAND": _rand,
        }
