"""A small sky catalog in an in-memory DuckDB, shaped like the executor's views.

``demo.objects`` (20,000 rows) and ``demo.other`` (3,000 rows, a third of them within an
arcsecond of an object) sit in schema ``demo`` with ``_healpix_29`` and rows sorted by
it, as the serving copies are. Objects crowd two places where spherical geometry goes
wrong most easily: across RA = 0 near the equator, and around the north pole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import astropy.units as u
import cdshealpix
import duckdb
import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import Latitude, Longitude, SkyCoord

from skydock.engine import spatial
from skydock.engine.catalog import ColumnMeta, TableMeta


@dataclass
class Sky:
    con: duckdb.DuckDBPyConnection
    tables: list[TableMeta]
    objects: pd.DataFrame
    other: pd.DataFrame

    def coords(self, frame: pd.DataFrame) -> SkyCoord:
        return SkyCoord(frame["ra"].to_numpy() * u.deg, frame["dec"].to_numpy() * u.deg)


def _cap(rng: np.random.Generator, n: int, ra0: float, dec0: float, radius: float):
    """Uniform points in a spherical cap (by rotating a cap around the pole)."""
    cos_r = np.cos(np.radians(radius))
    z = rng.uniform(cos_r, 1.0, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    s = np.sqrt(1 - z**2)
    x, y = s * np.cos(phi), s * np.sin(phi)
    # rotate the pole onto (ra0, dec0)
    theta = np.radians(90.0 - dec0)
    x, z = x * np.cos(theta) + z * np.sin(theta), -x * np.sin(theta) + z * np.cos(theta)
    a = np.radians(ra0)
    x, y = x * np.cos(a) - y * np.sin(a), x * np.sin(a) + y * np.cos(a)
    ra = np.degrees(np.arctan2(y, x)) % 360.0
    dec = np.degrees(np.arcsin(np.clip(z, -1, 1)))
    return ra, dec


def _healpix(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    return cdshealpix.nested.lonlat_to_healpix(
        Longitude(ra * u.deg), Latitude(dec * u.deg), 29
    ).astype(np.int64)


def make_sky() -> Sky:
    rng = np.random.default_rng(20240611)
    n_all, n_zero, n_pole = 8_000, 6_000, 6_000
    ra_zero, dec_zero = _cap(rng, n_zero, 0.5, 1.0, 5.0)
    ra_pole, dec_pole = _cap(rng, n_pole, 0.0, 90.0, 6.0)
    ra = np.concatenate([rng.uniform(0, 360, n_all), ra_zero, ra_pole])
    dec = np.concatenate([np.degrees(np.arcsin(rng.uniform(-1, 1, n_all))), dec_zero, dec_pole])
    n = len(ra)
    g = rng.normal(20.0, 1.5, n).astype(np.float32)
    r = g.astype(np.float64) - rng.normal(0.5, 0.3, n)
    odd = rng.choice(n, 95, replace=False)
    g_nan, g_null, r_nan = odd[:40], odd[40:70], odd[70:]
    g[odd[:70]] = np.nan
    r[r_nan] = np.nan
    types = rng.choice(np.array(["STAR", "GALAXY", "QSO", "Star"]), n, p=[0.5, 0.35, 0.1, 0.05])
    objects = pd.DataFrame(
        {
            "id": np.arange(1, n + 1, dtype=np.int64),
            "ra": ra,
            "dec": dec,
            "g": g,
            "r": r,
            "type": types,
            "random_id": rng.uniform(0, 100, n),
            "flags": rng.integers(0, 8, n).astype(np.int32),
        }
    )
    # pandas cannot tell NaN from NULL: this column says which the database holds.
    objects["g_state"] = "value"
    objects.loc[g_nan, "g_state"] = "nan"
    objects.loc[g_null, "g_state"] = "null"
    objects.loc[rng.choice(n, 30, replace=False), "type"] = None
    objects["_healpix_29"] = _healpix(objects["ra"].to_numpy(), objects["dec"].to_numpy())
    objects = objects.sort_values("_healpix_29", kind="stable").reset_index(drop=True)

    # demo.other: 1,000 near-copies of objects (offsets up to ~1.4"), 2,000 elsewhere.
    pick = rng.choice(n, 1_000, replace=False)
    near = SkyCoord(objects["ra"].to_numpy()[pick] * u.deg, objects["dec"].to_numpy()[pick] * u.deg)
    moved = near.directional_offset_by(
        rng.uniform(0, 360, len(pick)) * u.deg, rng.uniform(0, 1.4, len(pick)) * u.arcsec
    )
    ra_far, dec_far = _cap(rng, 2_000, 0.5, 1.0, 5.0)
    other = pd.DataFrame(
        {
            "oid": np.arange(1, 3_001, dtype=np.int64),
            "ra": np.concatenate([moved.ra.deg, ra_far]),
            "dec": np.concatenate([moved.dec.deg, dec_far]),
            "mag": rng.normal(19.0, 1.0, 3_000),
            "flags": rng.integers(0, 8, 3_000).astype(np.int32),
        }
    )
    other["_healpix_29"] = _healpix(other["ra"].to_numpy(), other["dec"].to_numpy())
    other = other.sort_values("_healpix_29", kind="stable").reset_index(drop=True)

    con = duckdb.connect(":memory:")
    con.execute("CREATE SCHEMA demo")
    con.register("objects_df", objects)
    con.register("other_df", other)
    con.execute(
        "CREATE TABLE demo.objects AS SELECT id, ra, dec, g::FLOAT AS g, r, type, random_id, "
        "flags, _healpix_29 FROM objects_df ORDER BY _healpix_29"
    )
    con.execute(
        "CREATE TABLE demo.other AS SELECT oid, ra, dec, mag, flags, _healpix_29 "
        "FROM other_df ORDER BY _healpix_29"
    )
    # DuckDB reads NaN in a pandas column as NULL; put the real NaNs back.
    nan_ids = ", ".join(str(int(i)) for i in objects["id"][objects["g_state"] == "nan"])
    con.execute(f"UPDATE demo.objects SET g = 'nan'::FLOAT WHERE id IN ({nan_ids})")
    r_ids = ", ".join(str(int(i)) for i in objects["id"][objects["r"].isna()])
    con.execute(f"UPDATE demo.objects SET r = 'nan'::DOUBLE WHERE id IN ({r_ids})")
    con.unregister("objects_df")
    con.unregister("other_df")
    spatial.register_udfs(con)

    objects_meta = TableMeta(
        schema="demo",
        name="objects",
        ra="ra",
        dec="dec",
        columns=[
            ColumnMeta("id", "BIGINT", ucd="meta.id;meta.main"),
            ColumnMeta("ra", "DOUBLE", unit="deg", ucd="pos.eq.ra;meta.main"),
            ColumnMeta("dec", "DOUBLE", unit="deg", ucd="pos.eq.dec;meta.main"),
            ColumnMeta("g", "FLOAT", unit="mag"),
            ColumnMeta("r", "DOUBLE", unit="mag"),
            ColumnMeta("type", "VARCHAR"),
            ColumnMeta("random_id", "DOUBLE"),
            ColumnMeta("flags", "INTEGER"),
        ],
        id_column="id",
        nrows=len(objects),
    )
    other_meta = TableMeta(
        schema="demo",
        name="other",
        ra="ra",
        dec="dec",
        columns=[
            ColumnMeta("oid", "BIGINT"),
            ColumnMeta("ra", "DOUBLE", unit="deg"),
            ColumnMeta("dec", "DOUBLE", unit="deg"),
            ColumnMeta("mag", "DOUBLE", unit="mag"),
            ColumnMeta("flags", "INTEGER"),
        ],
        nrows=len(other),
    )
    return Sky(con, [objects_meta, other_meta], objects, other)


@pytest.fixture(scope="session")
def sky() -> Iterator[Sky]:
    built = make_sky()
    yield built
    built.con.close()
