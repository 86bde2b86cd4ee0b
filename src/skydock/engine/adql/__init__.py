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

``dialect`` holds the sqlglot dialect, ``region`` the regions and their areas, ``geometry``
the rewrite.
"""

from skydock.engine.adql.dialect import ADQL
from skydock.engine.adql.geometry import GeometryRewriter, Planner
from skydock.engine.adql.region import (
    SQUARE_DEGREES_PER_STERADIAN,
    Circle,
    Point,
    Polygon,
    Region,
    check_coordinate_system,
    circle_area,
    number,
    polygon_area,
)

__all__ = [
    "ADQL",
    "SQUARE_DEGREES_PER_STERADIAN",
    "Circle",
    "GeometryRewriter",
    "Planner",
    "Point",
    "Polygon",
    "Region",
    "check_coordinate_system",
    "circle_area",
    "number",
    "polygon_area",
]
