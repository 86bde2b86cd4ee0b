"""The planner the geometry rewrite consults (``skydock.engine.adql.Planner``).

It knows which FROM item a position belongs to, so a cone on a catalog's own position
columns can use ``_healpix_29``, and a distance test between two FROM items becomes a
HEALPix cell join.
"""

from __future__ import annotations

import itertools

import sqlglot
from sqlglot import exp

from skydock.engine import spatial
from skydock.engine.adql import Point
from skydock.engine.catalog import HEALPIX_COLUMN, TableMeta
from skydock.engine.sql.scope import Source
from skydock.errors import SkydockError


class CrossmatchPlanner:
    """Answers the geometry rewrite's questions about the FROM items of a resolved query."""

    def __init__(self, sources: dict[int, Source]) -> None:
        self.sources = sources
        self._cells = itertools.count(1)

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
