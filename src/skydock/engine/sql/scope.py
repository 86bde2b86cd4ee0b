"""What resolution knows about a query: output columns, FROM items and nested scopes."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlglot import exp

from skydock.engine.catalog import HEALPIX_COLUMN, ColumnMeta, TableMeta
from skydock.engine.guard import identifier_name
from skydock.errors import QueryRefusedError

Language = Literal["sql", "adql"]


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
        # Every catalog has the hidden cell column; a MyDB table only once sorted by position.
        if name == HEALPIX_COLUMN and self.table is not None and self.table.ra:
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


def rename(cols: list[OutCol], aliases: Sequence[exp.Expr], label: str) -> list[OutCol]:
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


def same_type(a: OutCol, b: OutCol) -> bool:
    return a.meta is not None and b.meta is not None and a.meta.datatype == b.meta.datatype


def unknown_column(written: str, name: str, sources: Sequence[Source]) -> str:
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
