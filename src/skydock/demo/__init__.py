"""Demo catalogs: what ``make up`` serves before any real survey is ingested.

Seven tables in the ``demo`` schema, built by ``skydock demo build``:

- ``demo.objects`` — a synthetic Legacy-Surveys-like wide survey (default 1 million rows,
  up to 100 million), see :mod:`skydock.demo.objects`;
- ``demo.specobj`` — simulated spectra of a few thousand ``demo.objects`` targets (the
  arrays in the spectra store), see :mod:`skydock.demo.spectra`;
- ``demo.smash`` — a synthetic SMASH-like deep field hiding an ultra-faint dwarf galaxy,
  see :mod:`skydock.demo.smash`;
- ``demo.hipparcos`` (and its naked-eye subset ``demo.stars``), ``demo.gaia``,
  ``demo.ngc`` — real catalogues shipped by PyPI packages, see :mod:`skydock.demo.real`.

The synthetic tables come from seeded generators: the same seed and row count give the
same rows on every machine. The orchestration is in :mod:`skydock.demo.build`; this
module stays free of heavy imports so the CLI can read its defaults cheaply.
"""

from __future__ import annotations

DEFAULT_ROWS = 1_000_000
MAX_ROWS = 100_000_000
DEFAULT_SEED = 42
TABLES = ("objects", "specobj", "smash", "hipparcos", "stars", "gaia", "ngc")
DEFAULT_SPECTRA = 3000
MAX_SPECTRA = 20_000  # about 800 MB of arrays in memory while the store is written
