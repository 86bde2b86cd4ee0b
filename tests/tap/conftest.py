"""TAP fixtures: the session's test catalogs plus a small demo.objects, an app in-process
and a live server for the real clients (pyvo, STILTS)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from skydock.demo import build
from skydock.engine.catalog import CatalogStore
from skydock.server.config import Config
from tests.server.conftest import (  # noqa: F401 - fixtures shared with the server tests
    LiveServer,
    app,
    client,
    config,
    data_dir,
    serve,
    users,
)

DEMO_ROWS = 20_000
HARD_LIMIT = 10_000


@pytest.fixture(scope="session")
def objects_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding demo.objects (20 000 rows), built once per session."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = tmp_path_factory.getbasetemp().parent / "tap-objects"
        root.mkdir(exist_ok=True)
    else:
        root = tmp_path_factory.mktemp("tap-objects")
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not CatalogStore.for_data_dir(root).exists("demo.objects"):
            build.build_demo(root, rows=DEMO_ROWS, seed=7, only="objects", progress=False)
    return root


@pytest.fixture(scope="module")
def tap_data_dir(
    tmp_path_factory: pytest.TempPathFactory, catalog_dir: Path, objects_dir: Path
) -> Path:
    """test.points and demo.stars from the session catalogs, plus demo.objects."""
    d = tmp_path_factory.mktemp("tap-data")
    catalogs = d / "catalogs"
    (catalogs / "demo").mkdir(parents=True)
    (catalogs / "test").symlink_to(catalog_dir / "catalogs" / "test", target_is_directory=True)
    for schema, name, source in (
        ("demo", "stars", catalog_dir),
        ("demo", "objects", objects_dir),
    ):
        target = source / "catalogs" / schema / name
        (catalogs / schema / name).symlink_to(target, target_is_directory=True)
    return d


@pytest.fixture(scope="module")
def tap_live(tap_data_dir: Path) -> Iterator[LiveServer]:
    """A real server on 127.0.0.1 with the TAP test catalogs (one per test module)."""
    # A row limit below demo.objects' size, so the server's own limit can be seen.
    cfg = Config(
        data_dir=tap_data_dir, auth={"min_password_chars": 5}, query={"max_rows": HARD_LIMIT}
    )
    with serve(cfg) as live:
        yield live
