"""Hub fixtures: the server tests' real API on a free port, reused."""

from __future__ import annotations

from tests.server import conftest as server

data_dir = server.data_dir
config = server.config
app = server.app
users = server.users
live = server.live
