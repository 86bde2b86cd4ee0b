"""Fixtures shared across the suite: a small real catalog, ingested the real way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from skydock.engine.catalog import CatalogStore, TableMeta

SMALL_ROWS = 30_000
# demo.stars as the Data Lab wire-protocol test plan describes it: id, ra, dec, name.
STARS = [
    (101.2872, -16.7161, "Sirius"),
    (95.9880, -52.6957, "Canopus"),
    (213.9153, 19.1824, "Arcturus"),
    (279.2347, 38.7837, "Vega"),
    (79.1723, 45.9980, "Capella"),
    (78.6345, -8.2016, "Rigel"),
    (114.8255, 5.2250, "Procyon"),
]


def make_points(n: int, seed: int) -> pa.Table:
    """Uniform points on the whole sphere with a few typed columns."""
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0.0, 360.0, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    mag = rng.uniform(14.0, 24.0, n)
    kinds = np.array(["STAR", "GALAXY", "QSO"])[rng.integers(0, 3, n)]
    return pa.table(
        {
            "id": np.arange(1, n + 1, dtype=np.int64),
            "ra": ra,
            "dec": dec,
            "mag": mag.astype(np.float32),
            "kind": kinds,
        }
    )


@pytest.fixture(scope="session")
def points_table() -> pa.Table:
    return make_points(SMALL_ROWS, seed=7)


@pytest.fixture(scope="session")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory, points_table: pa.Table) -> Path:
    """A data directory holding two ingested catalogs, ``test.points`` and ``demo.stars``."""
    from skydock.engine.ingest import ingest_catalog

    data_dir = tmp_path_factory.mktemp("data")
    src = data_dir / "points.parquet"
    pq.write_table(points_table, src)
    meta = {
        "description": "Uniform random points for tests",
        "columns": {
            "mag": {"unit": "mag", "ucd": "phot.mag", "description": "A magnitude"},
            "kind": {"description": "Object kind"},
        },
    }
    ingest_catalog(
        CatalogStore.for_data_dir(data_dir),
        [src],
        "test.points",
        ra="ra",
        dec="dec",
        id_column="id",
        meta=meta,
        progress=False,
    )
    stars = data_dir / "stars.csv"
    stars.write_text(
        "id,ra,dec,name\n"
        + "".join(f"{i},{ra},{dec},{name}\n" for i, (ra, dec, name) in enumerate(STARS, 1))
    )
    ingest_catalog(
        CatalogStore.for_data_dir(data_dir),
        [stars],
        "demo.stars",
        ra="ra",
        dec="dec",
        id_column="id",
        meta={"description": "A few bright stars (the Data Lab client test plan's table)"},
        progress=False,
    )
    return data_dir


@pytest.fixture(scope="session")
def points_meta(catalog_dir: Path) -> TableMeta:
    return CatalogStore.for_data_dir(catalog_dir).get("test.points")
