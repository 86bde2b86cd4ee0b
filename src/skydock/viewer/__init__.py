"""Viewers for notebooks and static pages: the Bokeh spectral viewer and sky maps.

Imports :mod:`skydock.client` only (never the server or the engine); Bokeh, matplotlib
and jupyter_bokeh come with the ``viewer`` extra and are imported when used.
"""

from skydock.viewer import skymap
from skydock.viewer.skymap import healpix_counts, plot_skymap
from skydock.viewer.spectra import SpectraViewer, view_spectra

__all__ = ["SpectraViewer", "healpix_counts", "plot_skymap", "skymap", "view_spectra"]
