"""The server fixtures (a fresh data directory, a live server) for the compatibility tests."""

from tests.server.conftest import config, data_dir, live  # noqa: F401
