"""Sky regions as order-29 HEALPix index ranges, and the exact geometry in SQL.

Serving tables are sorted by ``_healpix_29`` (nested scheme, order 29), so a region turned
into a few ``_healpix_29 BETWEEN lo AND hi`` ranges lets DuckDB skip every row group
outside it; a Dec band and an exact test then keep exactly the rows inside. The ranges
are always a superset of the region: they may admit extra rows, never lose one.

- :mod:`.healpix`: the covers (cone, polygon, box → ranges), cross-match cells, and the
  HEALPix cell arithmetic they run on.
- :mod:`.polygon`: spherical polygon validation and the exact inside test.
- :mod:`.sql`: the SQL predicates and the DuckDB functions they call.
- :mod:`.sphere`: argument checks and unit vectors shared by the three.

Geometry conventions, shared by the range builders, the SQL helpers and the UDFs:

- Angles are degrees; positions are ICRS (ra, dec).
- A cone holds the points whose great-circle distance from the centre is at most the radius.
- A polygon has great-circle (shortest arc) edges. Its vertices must lie in an open
  hemisphere; its inside is the region that edges enclose within that hemisphere (the
  smaller of the two), whatever the winding. Self-intersecting polygons follow the
  even-odd rule.
- A box is the ADQL 2.0 (§2.4.4) BOX: see :func:`box_vertices`.
"""

from skydock.engine.spatial.healpix import _CELL_RADIUS_DEG as _CELL_RADIUS_DEG
from skydock.engine.spatial.healpix import (
    FULL_SKY,
    ORDER,
    Ranges,
    box_ranges,
    cone_ranges,
    neighbour_cells,
    polygon_ranges,
    xmatch_order,
)
from skydock.engine.spatial.healpix import _block as _block
from skydock.engine.spatial.healpix import _cell_centres as _cell_centres
from skydock.engine.spatial.polygon import box_vertices
from skydock.engine.spatial.sphere import FloatArray
from skydock.engine.spatial.sql import cone_sql, polygon_predicate_sql, polygon_sql, register_udfs

# _CELL_RADIUS_DEG, _block and _cell_centres are re-exported too (``x as x``): the tests
# check these internals against cdshealpix directly.
__all__ = [
    "FULL_SKY",
    "ORDER",
    "FloatArray",
    "Ranges",
    "box_ranges",
    "box_vertices",
    "cone_ranges",
    "cone_sql",
    "neighbour_cells",
    "polygon_predicate_sql",
    "polygon_ranges",
    "polygon_sql",
    "register_udfs",
    "xmatch_order",
]
