"""Sky geometry (ADQL regions and Q3C calls) rewritten as DuckDB predicates and values.

See the package docstring for what becomes what; the caller's ``Planner`` says which
positions are a catalog's own indexed columns and plans crossmatch joins.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Protocol

from sqlglot import exp

from skydock.engine import spatial
from skydock.engine.adql.region import (
    SQUARE_DEGREES_PER_STERADIAN,
    Circle,
    Point,
    Polygon,
    Region,
    call_name,
    circle_area,
    double_literal,
    number,
    polygon_area,
    read_region,
)
from skydock.engine.catalog import HEALPIX_COLUMN, TableMeta
from skydock.engine.guard import ADQL_GEOMETRY, Q3C_FUNCTIONS
from skydock.errors import QueryRefusedError


class Planner(Protocol):
    """What the geometry rewrite needs to know about the query around it (``sql.crossmatch``)."""

    def catalog_position(self, ra: exp.Expr, dec: exp.Expr) -> tuple[str, TableMeta] | None:
        """(alias, table) when ``ra``/``dec`` are a catalog table's own indexed columns."""
        ...

    def crossmatch(self, owner: exp.Expr, a: Point, b: Point, radius_deg: float) -> exp.Expr | None:
        """A cell-equality predicate turning a two-table distance test into a hash join."""
        ...


def _call(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


class GeometryRewriter:
    """Rewrites ADQL geometry and Q3C calls in a resolved query tree, in place."""

    def __init__(self, planner: Planner) -> None:
        self.planner = planner

    def rewrite(self, root: exp.Expr) -> None:
        """Rewrite every geometry call under ``root``, outermost first.

        A call is rewritten together with the comparison around it when that forms a
        predicate (``CONTAINS(...) = 1``, ``DISTANCE(...) < r``); calls nested inside
        a rewritten one are handled as its arguments and leave the tree with it.
        """
        calls = [
            node
            for node in root.find_all(exp.Anonymous, bfs=False)
            if call_name(node) in _GEOMETRY_CALLS
        ]
        for call in calls:
            if not _attached(call, root):
                continue
            parent = call.parent
            new = self._match(parent) if parent is not None and parent is not root else None
            if new is not None and parent is not None:
                parent.replace(new)
                continue
            new = self._match(call)
            if new is not None:
                call.replace(new)

    def _scalar(self, node: exp.Expr) -> exp.Expr:
        holder = exp.Paren(this=node)
        self.rewrite(holder)
        return holder.this

    # --- recognising whole predicates ----------------------------------------------

    def _match(self, node: exp.Expr) -> exp.Expr | None:
        if isinstance(node, exp.EQ | exp.NEQ):
            return self._predicate_comparison(node)
        if isinstance(node, exp.LT | exp.LTE | exp.GT | exp.GTE):
            return self._distance_comparison(node)
        if not isinstance(node, exp.Anonymous):
            return None
        name = call_name(node)
        args = list(node.expressions)
        if name in ("contains", "intersects"):
            # A 0/1 value outside a comparison with 0 or 1, as ADQL defines it.
            pred = self._region_predicate(node, name, args, positive=False)
            return exp.Cast(this=exp.Paren(this=pred), to=exp.DataType.build("INT"))
        if name in ("q3c_radial_query", "q3c_join"):
            self._arity(name, args, 5)
            a, b = Point(args[0], args[1]), Point(args[2], args[3])
            return self._near(node, a, b, args[4], strict=False)
        if name == "q3c_poly_query":
            self._arity(name, args, 3)
            polygon = Polygon(_q3c_polygon(args[2]))
            return self._inside(node, Point(args[0], args[1]), polygon)
        if name in ("distance", "q3c_dist"):
            a, b = self._distance_points(name, args)
            return self._dist(a, b)
        if name in ("coord1", "coord2"):
            self._arity(name, args, 1)
            region = read_region(args[0], name)
            if not isinstance(region, Point):
                raise QueryRefusedError(f"{name.upper()}() takes a POINT")
            return self._scalar(region.ra if name == "coord1" else region.dec)
        if name == "coordsys":
            self._arity(name, args, 1)
            read_region(args[0], name)
            return exp.Literal.string("ICRS")
        if name == "area":
            self._arity(name, args, 1)
            return self._area(read_region(args[0], name))
        if name == "centroid":
            self._arity(name, args, 1)
            region = read_region(args[0], name)
            if isinstance(region, Circle):
                region = region.center
            if not isinstance(region, Point):
                raise QueryRefusedError("CENTROID() is supported for CIRCLE and POINT only")
            return self._value(region)
        if name in ("point", "circle", "box", "polygon"):
            return self._value(read_region(node, name))
        return None

    def _predicate_comparison(self, node: exp.Expr) -> exp.Expr | None:
        left, right = node.this, node.expression
        for call, other in ((left, right), (right, left)):
            name = call_name(call)
            if name not in ("contains", "intersects"):
                continue
            value = number(other)
            if value not in (0.0, 1.0):
                return None
            want = (value == 1.0) == isinstance(node, exp.EQ)
            pred = self._region_predicate(node, name, list(call.expressions), positive=want)
            return pred if want else exp.Not(this=exp.Paren(this=pred))
        return None

    def _distance_comparison(self, node: exp.Expr) -> exp.Expr | None:
        left, right = node.this, node.expression
        if call_name(left) in ("distance", "q3c_dist") and isinstance(node, exp.LT | exp.LTE):
            call, radius = left, right
        elif call_name(right) in ("distance", "q3c_dist") and isinstance(node, exp.GT | exp.GTE):
            call, radius = right, left
        else:
            return None
        a, b = self._distance_points(call_name(call), list(call.expressions))
        strict = isinstance(node, exp.LT | exp.GT)
        return self._near(node, a, b, radius, strict=strict)

    def _distance_points(self, name: str, args: list[exp.Expr]) -> tuple[Point, Point]:
        if len(args) == 4:
            return Point(args[0], args[1]), Point(args[2], args[3])
        if name == "distance" and len(args) == 2:
            a, b = read_region(args[0], name), read_region(args[1], name)
            if isinstance(a, Point) and isinstance(b, Point):
                return a, b
        form = (
            "(POINT, POINT) or (lon1, lat1, lon2, lat2)"
            if name == "distance"
            else ("(ra1, dec1, ra2, dec2)")
        )
        raise QueryRefusedError(f"{name.upper()}() takes {form}, in degrees")

    # --- predicates ----------------------------------------------------------------

    def _region_predicate(
        self, node: exp.Expr, name: str, args: list[exp.Expr], *, positive: bool
    ) -> exp.Expr:
        self._arity(name, args, 2)
        a, b = read_region(args[0], name), read_region(args[1], name)
        if name == "intersects" and isinstance(b, Point) and not isinstance(a, Point):
            a, b = b, a
        ctx = node if positive else None
        if isinstance(a, Point) and isinstance(b, Circle):
            return self._near(ctx, a, b.center, b.radius, strict=False)
        if isinstance(a, Point) and isinstance(b, Polygon):
            return self._inside(ctx, a, b)
        if isinstance(a, Circle) and isinstance(b, Circle):
            if name == "intersects":
                reach = exp.Add(this=exp.Paren(this=a.radius), expression=exp.Paren(this=b.radius))
                return self._near(ctx, a.center, b.center, reach, strict=False)
            dist = self._dist(a.center, b.center)
            ra, rb = self._scalar(a.radius), self._scalar(b.radius)
            return exp.Paren(
                this=exp.LTE(
                    this=exp.Add(this=dist, expression=exp.Paren(this=ra)),
                    expression=exp.Paren(this=rb),
                )
            )
        kinds = f"{type(a).__name__.upper()}, {type(b).__name__.upper()}"
        raise QueryRefusedError(
            f"{name.upper()}({kinds}) is not supported; supported are CONTAINS(POINT, "
            "CIRCLE|POLYGON|BOX), INTERSECTS with a POINT, and CIRCLE with CIRCLE"
        )

    def _near(
        self,
        node: exp.Expr | None,
        a: Point,
        b: Point,
        radius: exp.Expr,
        *,
        strict: bool,
    ) -> exp.Expr:
        """The test ``distance(a, b) <= radius``, as fast as its context allows."""
        r = number(radius)
        positive, conjunct, owner = _context(node)
        if positive and r is not None and 0 < r < 180:
            for p, q in ((a, b), (b, a)):
                lon, lat = number(q.ra), number(q.dec)
                if lon is None or lat is None:
                    continue
                if not (-90 <= lat <= 90 and math.isfinite(lon)):
                    break
                found = self.planner.catalog_position(p.ra, p.dec)
                ranges = f'"{found[0]}"."{HEALPIX_COLUMN}"' if found is not None else None
                ra_sql, dec_sql = self._sql(p.ra), self._sql(p.dec)
                return _parse(spatial.cone_sql(ra_sql, dec_sql, lon, lat, r, ranges_column=ranges))
            else:
                exact = self._exact_near(a, b, radius, strict)
                if conjunct and owner is not None:
                    cells = self.planner.crossmatch(owner, a, b, r)
                    if cells is not None:
                        return exp.Paren(this=exp.And(this=cells, expression=exact))
                return exact
        return self._exact_near(a, b, radius, strict)

    def _exact_near(self, a: Point, b: Point, radius: exp.Expr, strict: bool) -> exp.Expr:
        op = exp.LT if strict else exp.LTE
        return exp.Paren(this=op(this=self._dist(a, b), expression=self._scalar(radius)))

    def _inside(self, node: exp.Expr | None, point: Point, polygon: Polygon) -> exp.Expr:
        corners = [(number(v.ra), number(v.dec)) for v in polygon.vertices]
        if all(x is not None and y is not None for x, y in corners):
            vertices: list[tuple[float, float]] = corners  # type: ignore[assignment]
            positive, _, _ = _context(node)
            ra_sql, dec_sql = self._sql(point.ra), self._sql(point.dec)
            if not positive:
                return _parse(spatial.polygon_sql(ra_sql, dec_sql, vertices))
            found = self.planner.catalog_position(point.ra, point.dec)
            ranges = f'"{found[0]}"."{HEALPIX_COLUMN}"' if found is not None else None
            return _parse(
                spatial.polygon_predicate_sql(ra_sql, dec_sql, vertices, ranges_column=ranges)
            )
        flat: list[exp.Expr] = []
        for vertex in polygon.vertices:
            flat += [self._scalar(vertex.ra), self._scalar(vertex.dec)]
        verts = exp.Cast(
            this=exp.Array(expressions=flat),
            to=exp.DataType.build("DOUBLE[]", dialect="duckdb"),
        )
        return exp.Paren(
            this=_call("skydock_in_polygon", self._scalar(point.ra), self._scalar(point.dec), verts)
        )

    def _sql(self, node: exp.Expr) -> str:
        # No copy: the node leaves the tree with the call it sits in (copying was ~0.1 ms).
        return "(" + self._scalar(node).sql(dialect="duckdb", copy=False) + ")"

    def _dist(self, a: Point, b: Point) -> exp.Expr:
        return _call(
            "skydock_dist",
            self._scalar(a.ra),
            self._scalar(a.dec),
            self._scalar(b.ra),
            self._scalar(b.dec),
        )

    # --- values --------------------------------------------------------------------

    def _area(self, region: Region) -> exp.Expr:
        if isinstance(region, Point):
            return double_literal(0.0)
        if isinstance(region, Circle):
            r = number(region.radius)
            if r is not None:
                return double_literal(circle_area(r))
            factor = double_literal(2 * math.pi * SQUARE_DEGREES_PER_STERADIAN)
            cos = exp.Cos(this=exp.Radians(this=self._scalar(region.radius)))
            return exp.Mul(
                this=factor,
                expression=exp.Paren(this=exp.Sub(this=double_literal(1.0), expression=cos)),
            )
        vertices = [(number(v.ra), number(v.dec)) for v in region.vertices]
        if any(x is None or y is None for x, y in vertices):
            raise QueryRefusedError("AREA(POLYGON) needs constant vertices")
        return double_literal(polygon_area(vertices))  # type: ignore[arg-type]

    def _value(self, region: Region) -> exp.Expr:
        if isinstance(region, Point):
            parts, kind = [region.ra, region.dec], "DOUBLE[2]"
        elif isinstance(region, Circle):
            parts, kind = [region.center.ra, region.center.dec, region.radius], "DOUBLE[3]"
        else:
            parts = [p for v in region.vertices for p in (v.ra, v.dec)]
            kind = "DOUBLE[]"
        values = [self._scalar(p) for p in parts]
        return exp.Cast(
            this=exp.Array(expressions=values), to=exp.DataType.build(kind, dialect="duckdb")
        )

    @staticmethod
    def _arity(name: str, args: Sequence[exp.Expr], n: int) -> None:
        if len(args) != n:
            raise QueryRefusedError(f"{name}() takes {n} arguments, not {len(args)}")


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _q3c_polygon(node: exp.Expr) -> list[Point]:
    """The vertex list of q3c_poly_query: ARRAY[...], '{...}'::double precision[] or a polygon."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Cast):
        node = node.this
    values: list[exp.Expr]
    if isinstance(node, exp.Array):
        values = list(node.expressions)
    elif isinstance(node, exp.Literal) and node.is_string:
        values = [exp.Literal.number(m) for m in _NUMBER.findall(node.this)]
    else:
        raise QueryRefusedError(
            "q3c_poly_query(ra, dec, poly) needs the polygon as ARRAY[ra1, dec1, ra2, dec2, "
            "...], '{ra1, dec1, ...}' or '((ra1, dec1), (ra2, dec2), ...)'"
        )
    if len(values) < 6 or len(values) % 2:
        raise QueryRefusedError(
            f"q3c_poly_query needs an even number of coordinates, at least 6; got {len(values)}"
        )
    return [Point(values[i], values[i + 1]) for i in range(0, len(values), 2)]


_GEOMETRY_CALLS = frozenset(ADQL_GEOMETRY | Q3C_FUNCTIONS)


def _attached(node: exp.Expr, root: exp.Expr) -> bool:
    while node is not root:
        parent = node.parent
        if parent is None:
            return False
        node = parent
    return True


def _context(node: exp.Expr | None) -> tuple[bool, bool, exp.Expr | None]:
    """(positive, top-level conjunct, owning WHERE/JOIN/HAVING) of a boolean term.

    Positive: only AND/OR between the term and its clause, so a superset pre-filter that
    is FALSE where the exact test is NULL cannot change the result. Conjunct: only AND,
    so every row the clause keeps satisfies the term.
    """
    if node is None:
        return False, False, None
    conjunct = True
    child, parent = node, node.parent
    while parent is not None:
        if isinstance(parent, exp.Or):
            conjunct = False
        elif isinstance(parent, exp.Where | exp.Having):
            return True, conjunct, parent
        elif isinstance(parent, exp.Join):
            on = parent.args.get("on") is child
            return on, conjunct and on, parent if on else None
        elif not isinstance(parent, exp.And | exp.Paren):
            return False, False, None
        child, parent = parent, parent.parent
    return False, False, None


def _parse(sql: str) -> exp.Expr:
    """Trusted DuckDB SQL from skydock.engine.spatial, embedded verbatim.

    Re-parsing a predicate of 64 ranges costs more than the query it prunes; these
    strings are built from numbers and column names this module produced itself.
    """
    return exp.Paren(this=exp.Var(this=sql))
