"""Spectral lines the viewer marks at an object's redshift (rest vacuum wavelengths, Å).

Values are the standard vacuum wavelengths used by SDSS and DESI line lists; a line
appears in the viewer only when it falls inside the observed range.
"""

from __future__ import annotations

from typing import NamedTuple


class Line(NamedTuple):
    name: str
    rest: float
    kind: str  # "emission" or "absorption"


LINES: tuple[Line, ...] = (
    Line("Lyα", 1215.67, "emission"),
    Line("CIV", 1549.06, "emission"),
    Line("CIII]", 1908.73, "emission"),
    Line("MgII", 2798.75, "emission"),
    Line("[OII]", 3728.48, "emission"),
    Line("Ca K", 3934.78, "absorption"),
    Line("Ca H", 3969.59, "absorption"),
    Line("Hδ", 4102.89, "emission"),
    Line("G", 4305.61, "absorption"),
    Line("Hγ", 4341.68, "emission"),
    Line("Hβ", 4862.68, "emission"),
    Line("[OIII]", 4960.30, "emission"),
    Line("[OIII]", 5008.24, "emission"),
    Line("Mg b", 5176.70, "absorption"),
    Line("Na D", 5895.60, "absorption"),
    Line("[NII]", 6549.86, "emission"),
    Line("Hα", 6564.61, "emission"),
    Line("[NII]", 6585.27, "emission"),
    Line("[SII]", 6718.29, "emission"),
    Line("[SII]", 6732.67, "emission"),
)
