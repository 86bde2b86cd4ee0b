"""A data directory with demo.objects and demo.specobj built the real way, and a live
server over it (shared by the spectra and viewer tests)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from pathlib import Path

import pytest

from skydock.demo import build
from skydock.engine.catalog import CatalogStore
from skydock.server.config import Config
from tests.server.conftest import PASSWORDS, LiveServer, serve

ROWS = 20_000
SPECTRA = 240
SEED = 11
MAX_SPECTRA = 200


def build_spectra_demo(root: Path) -> Path:
    """demo.objects (20,000 rows), demo.specobj (240 spectra) and the demo images of
    the objects' deep field in ``root``, built once per directory even when several
    xdist workers ask at the same time."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not CatalogStore.for_data_dir(root).exists("demo.specobj"):
            build.build_demo(
                root,
                rows=ROWS,
                seed=SEED,
                only="objects,specobj,images",
                if_missing=True,
                progress=False,
                spectra_count=SPECTRA,
            )
    return root


@pytest.fixture(scope="session")
def spectra_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if base.name.startswith("popen-gw") else base
    return build_spectra_demo(shared / "spectra-demo")


@pytest.fixture(scope="module")
def spectra_server(
    spectra_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A live server whose catalogs, spectra and images are the demo's; alice can log in."""
    data = tmp_path_factory.mktemp("spectra-server")
    for name in ("catalogs", "spectra", "images"):
        (data / name).symlink_to(spectra_dir / name, target_is_directory=True)
    config = Config(
        data_dir=data, auth={"min_password_chars": 5}, spectra={"max_spectra": MAX_SPECTRA}
    )
    with serve(config) as live:
        live.factory.auth_service().add_user("alice", PASSWORDS["alice"])
        yield live
