"""ADQL regions read from their call syntax (BOX becomes a POLYGON), and their areas.

Coordinates stay expressions: a region may be built from columns. ``number`` folds the
constant ones, which is what pruning and areas need.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot import exp

from skydock.engine import spatial
from skydock.errors import QueryRefusedError

SQUARE_DEGREES_PER_STERADIAN = (180.0 / math.pi) ** 2


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


def double_literal(value: float) -> exp.Expr:
    """A DOUBLE literal (DuckDB reads ``1.5`` as DECIMAL, ``1.5e0`` as DOUBLE)."""
    text = repr(float(abs(value)))
    literal = exp.Literal.number(text if "e" in text else text + "e0")
    return exp.Neg(this=literal) if value < 0 else literal


def call_name(node: exp.Expr) -> str:
    return str(node.this).lower() if isinstance(node, exp.Anonymous) else ""


def read_region(node: exp.Expr, where: str) -> Region:
    """The region a geometry call spells; ``where`` names the caller in errors."""
    while isinstance(node, exp.Paren):
        node = node.this
    name = call_name(node)
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
                centre = read_region(args[0], "CIRCLE")
                if isinstance(centre, Point):
                    return Circle(centre, args[1])
        if name == "box":
            return _box(args)
        if name == "polygon":
            return _polygon(args)
        raise QueryRefusedError(f"{name.upper()}() has the wrong number of arguments")
    if name == "centroid":
        found = read_region(args[0], where) if len(args) == 1 else None
        if isinstance(found, Circle):
            return found.center
        if isinstance(found, Point):
            return found
    raise QueryRefusedError(
        f"{where.upper()}() needs a geometry written as POINT(...), CIRCLE(...), BOX(...) "
        f"or POLYGON(...), not {node.sql('postgres')[:60]}"
    )


def _box(args: list[exp.Expr]) -> Polygon:
    if len(args) == 3:
        centre = read_region(args[0], "BOX")
        if not isinstance(centre, Point):
            raise QueryRefusedError("BOX(point, width, height) needs a POINT")
        args = [centre.ra, centre.dec, args[1], args[2]]
    if len(args) != 4:
        raise QueryRefusedError("BOX() takes (lon, lat, width, height) in degrees")
    values = [v for v in (number(a) for a in args) if v is not None]
    if len(values) != 4:
        raise QueryRefusedError("BOX() needs constant numbers; use POLYGON for others")
    corners = spatial.box_vertices(*values)
    return Polygon([Point(double_literal(x), double_literal(y)) for x, y in corners])


def _polygon(args: list[exp.Expr]) -> Polygon:
    if all(call_name(a) == "point" for a in args) and len(args) >= 3:
        points = [read_region(a, "POLYGON") for a in args]
        return Polygon([p for p in points if isinstance(p, Point)])
    if len(args) >= 6 and len(args) % 2 == 0:
        return Polygon([Point(args[i], args[i + 1]) for i in range(0, len(args), 2)])
    raise QueryRefusedError(
        "POLYGON() takes at least three vertices: (lon1, lat1, lon2, lat2, lon3, lat3, "
        "...) or (POINT, POINT, POINT, ...)"
    )


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
