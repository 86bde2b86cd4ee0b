"""Sky images: registered FITS files, SIA v2 searches and cutouts, without a web framework.

- :mod:`.registry`: collections on disk (``<data_dir>/images``), footprints from the
  WCS, and the overlap test a search uses;
- :mod:`.regions`: the DALI shapes of a ``POS`` (circle, range, polygon);
- :mod:`.cutout`: pixel boxes read as sections, with the WCS carried over;
- :mod:`.render`: PNG/JPEG pictures, grey or colour composites;
- :mod:`.obscore`: ObsCore VOTables for SIA v2 answers.
"""

from skydock.engine.images.cutout import Box, NoOverlapError, read_cutout, region_box, square_box
from skydock.engine.images.regions import Circle, Polygon, Range, Region, parse_pos
from skydock.engine.images.registry import BANDS, ImageRecord, ImageRegistry

__all__ = [
    "BANDS",
    "Box",
    "Circle",
    "ImageRecord",
    "ImageRegistry",
    "NoOverlapError",
    "Polygon",
    "Range",
    "Region",
    "parse_pos",
    "read_cutout",
    "region_box",
    "square_box",
]
