"""The spectra tests' demo data directory and live server, reused by the viewer tests."""

from __future__ import annotations

from tests.spectra import conftest as spectra

spectra_dir = spectra.spectra_dir
spectra_server = spectra.spectra_server
