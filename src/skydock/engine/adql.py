"""ADQL: the dialect, and sky geometry (ADQL regions and Q3C calls) as DuckDB predicates.

Two spellings of the same questions arrive here. TAP users write ADQL geometry
(``1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 10, 20, 0.1))``, ``DISTANCE``...);
Astro Data Lab users write PostgreSQL with Q3C (``q3c_radial_query``, ``q3c_join``,
``q3c_dist``, ``q3c_poly_query``). Both are rewritten as whole predicates, the way DaCHS
morphs its tree: a cone or polygon on a catalog table's own position columns becomes a
``_healpix_29`` range filter plus the exact test (so DuckDB skips row groups), a distance
test between two tables becomes a HEALPix cell join (planned by the caller, see
``Planner.crossmatch``), and everything else becomes the exact test alone.

Geometry values in a SELECT list are rendered as DALI arrays in degrees: a POINT as
``DOUBLE[2]`` (lon, lat), a CIRCLE as ``DOUBLE[3]`` (lon, lat, radius), a POLYGON or BOX
as ``DOUBLE[]`` (lon1, lat1, lon2, lat2, ...).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from sqlglot import exp, parser, tokens
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokens import TokenType

from skydock.engine import spatial
from skydock.engine.catalog import HEALPIX_COLUMN, TableMeta
from skydock.engine.guard import ADQL_GEOMETRY, Q3C_FUNCTIONS
from skydock.errors import QueryRefusedError

SQUARE_DEGREES_PER_STERADIAN = (180.0 / math.pi) ** 2


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


# --- regions -------------------------------------------------------------------------


@dataclass
class Point:
    ra: exp.Expr
    dec: exp.Expr


@dataclass
class Circle:
    center: Point
    radius: exp.Expr


@dataclass
class Polygon:
    vertices: list[Point]


Region = Point | Circle | Polygon


class Planner(Protocol):
    """What the geometry rewrite needs to know about the query around it (sql.py)."""

    def catalog_position(self, ra: exp.Expr, dec: exp.Expr) -> tuple[str, TableMeta] | None:
        """(alias, table) when ``ra``/``dec`` are a catalog table's own indexed columns."""
        ...

    def crossmatch(self, owner: exp.Expr, a: Point, b: Point, radius_deg: float) -> exp.Expr | None:
        """A cell-equality predicate turning a two-table distance test into a hash join."""
        ...


def number(node: exp.Expr | None) -> float | None:
    """The value of a constant numeric expression, or None if it is not one."""
    if node is None:
        return None
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return float(node.this)
        except ValueError:
            return None
    if isinstance(node, exp.Paren):
        return number(node.this)
    if isinstance(node, exp.Neg):
        value = number(node.this)
        return None if value is None else -value
    if isinstance(node, exp.Pi):
        return math.pi
    if isinstance(node, exp.Cast) and node.to.is_type(*exp.DataType.NUMERIC_TYPES):
        return number(node.this)
    if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div):
        left, right = number(node.this), number(node.expression)
        if left is None or right is None:
            return None
        if isinstance(node, exp.Add):
            return left + right
        if isinstance(node, exp.Sub):
            return left - right
        if isinstance(node, exp.Mul):
            return left * right
        return left / right if right else None
    return None


def _call(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


def _lit(value: float) -> exp.Expr:
    """A DOUBLE literal (DuckDB reads ``1.5`` as DECIMAL, ``1.5e0`` as DOUBLE)."""
    text = repr(float(abs(value)))
    literal = exp.Literal.number(text if "e" in text else text + "e0")
    return exp.Neg(this=literal) if value < 0 else literal


def _fname(node: exp.Expr) -> str:
    return str(node.this).lower() if isinstance(node, exp.Anonymous) else ""


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
            if _fname(node) in _GEOMETRY_CALLS
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
        name = _fname(node)
        args = list(node.expressions)
        if name in ("contains", "intersects"):
            # A 0/1 value outside a comparison with 0 or 1, as ADQL defines it.
            pred = self._region_predicate(node, name, args, positive=False)
            return exp.Cast(this=exp.Paren(this=pred), to=exp.DataType.build("INT"))
        if name == "q3c_radial_query":
            self._arity(name, args, 5)
            a, b = Point(args[0], args[1]), Point(args[2], args[3])
            return self._near(node, a, b, args[4], strict=False)
        if name == "q3c_join":
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
            region = self._region(args[0], name)
            if not isinstance(region, Point):
                raise QueryRefusedError(f"{name.upper()}() takes a POINT")
            return self._scalar(region.ra if name == "coord1" else region.dec)
        if name == "coordsys":
            self._arity(name, args, 1)
            self._region(args[0], name)
            return exp.Literal.string("ICRS")
        if name == "area":
            self._arity(name, args, 1)
            return self._area(self._region(args[0], name))
        if name == "centroid":
            self._arity(name, args, 1)
            region = self._region(args[0], name)
            if isinstance(region, Circle):
                region = region.center
            if not isinstance(region, Point):
                raise QueryRefusedError("CENTROID() is supported for CIRCLE and POINT only")
            return self._value(region)
        if name in ("point", "circle", "box", "polygon"):
            return self._value(self._region(node, name))
        return None

    def _predicate_comparison(self, node: exp.Expr) -> exp.Expr | None:
        left, right = node.this, node.expression
        for call, other in ((left, right), (right, left)):
            name = _fname(call)
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
        if _fname(left) in ("distance", "q3c_dist") and isinstance(node, exp.LT | exp.LTE):
            call, radius = left, right
        elif _fname(right) in ("distance", "q3c_dist") and isinstance(node, exp.GT | exp.GTE):
            call, radius = right, left
        else:
            return None
        a, b = self._distance_points(_fname(call), list(call.expressions))
        strict = isinstance(node, exp.LT | exp.GT)
        return self._near(node, a, b, radius, strict=strict)

    def _distance_points(self, name: str, args: list[exp.Expr]) -> tuple[Point, Point]:
        if len(args) == 4:
            return Point(args[0], args[1]), Point(args[2], args[3])
        if name == "distance" and len(args) == 2:
            a, b = self._region(args[0], name), self._region(args[1], name)
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
        a, b = self._region(args[0], name), self._region(args[1], name)
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
        return exp.Paren(this=self._scalar(node)).sql(dialect="duckdb")

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
            return _lit(0.0)
        if isinstance(region, Circle):
            r = number(region.radius)
            if r is not None:
                return _lit(circle_area(r))
            factor = _lit(2 * math.pi * SQUARE_DEGREES_PER_STERADIAN)
            cos = exp.Cos(this=exp.Radians(this=self._scalar(region.radius)))
            return exp.Mul(
                this=factor, expression=exp.Paren(this=exp.Sub(this=_lit(1.0), expression=cos))
            )
        vertices = [(number(v.ra), number(v.dec)) for v in region.vertices]
        if any(x is None or y is None for x, y in vertices):
            raise QueryRefusedError("AREA(POLYGON) needs constant vertices")
        return _lit(polygon_area(vertices))  # type: ignore[arg-type]

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

    # --- parsing regions ------------------------------------------------------------

    def _region(self, node: exp.Expr, where: str) -> Region:
        while isinstance(node, exp.Paren):
            node = node.this
        name = _fname(node)
        args = list(node.expressions) if isinstance(node, exp.Anonymous) else []
        if name in ("point", "circle", "box", "polygon") and args:
            if args[0].is_string or isinstance(args[0], exp.Null):
                check_coordinate_system(args[0])
                args = args[1:]
            if name == "point" and len(args) == 2:
                return Point(args[0], args[1])
            if name == "circle":
                if len(args) == 3:
                    return Circle(Point(args[0], args[1]), args[2])
                if len(args) == 2:
                    centre = self._region(args[0], "CIRCLE")
                    if isinstance(centre, Point):
                        return Circle(centre, args[1])
            if name == "box":
                return self._box(args)
            if name == "polygon":
                return self._polygon(args)
            raise QueryRefusedError(f"{name.upper()}() has the wrong number of arguments")
        if name == "centroid":
            found = self._region(args[0], where) if len(args) == 1 else None
            if isinstance(found, Circle):
                return found.center
            if isinstance(found, Point):
                return found
        raise QueryRefusedError(
            f"{where.upper()}() needs a geometry written as POINT(...), CIRCLE(...), BOX(...) "
            f"or POLYGON(...), not {node.sql('postgres')[:60]}"
        )

    def _box(self, args: list[exp.Expr]) -> Polygon:
        if len(args) == 3:
            centre = self._region(args[0], "BOX")
            if not isinstance(centre, Point):
                raise QueryRefusedError("BOX(point, width, height) needs a POINT")
            args = [centre.ra, centre.dec, args[1], args[2]]
        if len(args) != 4:
            raise QueryRefusedError("BOX() takes (lon, lat, width, height) in degrees")
        values = [v for v in (number(a) for a in args) if v is not None]
        if len(values) != 4:
            raise QueryRefusedError("BOX() needs constant numbers; use POLYGON for others")
        corners = spatial.box_vertices(*values)
        return Polygon([Point(_lit(x), _lit(y)) for x, y in corners])

    def _polygon(self, args: list[exp.Expr]) -> Polygon:
        if all(_fname(a) == "point" for a in args) and len(args) >= 3:
            points = [self._region(a, "POLYGON") for a in args]
            return Polygon([p for p in points if isinstance(p, Point)])
        if len(args) >= 6 and len(args) % 2 == 0:
            return Polygon([Point(args[i], args[i + 1]) for i in range(0, len(args), 2)])
        raise QueryRefusedError(
            "POLYGON() takes at least three vertices: (lon1, lat1, lon2, lat2, lon3, lat3, "
            "...) or (POINT, POINT, POINT, ...)"
        )

    @staticmethod
    def _arity(name: str, args: Sequence[exp.Expr], n: int) -> None:
        if len(args) != n:
            raise QueryRefusedError(f"{name}() takes {n} arguments, not {len(args)}")


def check_coordinate_system(node: exp.Expr) -> None:
    """Accept ICRS (the only frame catalogs are stored in) and the empty string."""
    if isinstance(node, exp.Null):
        return
    frame = node.name.strip().upper()
    if frame == "" or frame.split()[0] in ("ICRS", "UNKNOWNFRAME"):
        return
    raise QueryRefusedError(
        f"coordinate system {node.name!r} is not supported; positions are ICRS, so "
        "use 'ICRS' or '' (convert other frames before querying)"
    )


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


def circle_area(radius_deg: float) -> float:
    """Area of a spherical cap in square degrees."""
    r = math.radians(min(max(radius_deg, 0.0), 180.0))
    return 2 * math.pi * (1 - math.cos(r)) * SQUARE_DEGREES_PER_STERADIAN


def polygon_area(vertices: Sequence[tuple[float, float]]) -> float:
    """Area of a spherical polygon with great-circle edges, in square degrees.

    Sums the signed areas of the triangles fanned from the first vertex (each by
    Van Oosterom & Strackee's formula); the smaller of the two regions the outline
    bounds is the polygon, as ADQL intends.
    """

    def unit(lon: float, lat: float) -> tuple[float, float, float]:
        a, d = math.radians(lon), math.radians(lat)
        return (math.cos(d) * math.cos(a), math.cos(d) * math.sin(a), math.sin(d))

    def dot(u: tuple[float, ...], v: tuple[float, ...]) -> float:
        return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]

    def cross(u: tuple[float, ...], v: tuple[float, ...]) -> tuple[float, float, float]:
        return (u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0])

    points = [unit(lon, lat) for lon, lat in vertices]
    total = 0.0
    first = points[0]
    for b, c in itertools.pairwise(points[1:]):
        numerator = dot(first, cross(b, c))
        denominator = 1 + dot(first, b) + dot(b, c) + dot(c, first)
        total += 2 * math.atan2(numerator, denominator)
    area = abs(total)
    area = min(area, 4 * math.pi - area)
    return area * SQUARE_DEGREES_PER_STERADIAN
