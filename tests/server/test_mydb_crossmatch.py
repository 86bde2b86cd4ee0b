"""A 100,000-row MyDB table crossmatched with a catalog, and MyDB across a restart."""

from __future__ import annotations

import io
import time

import astropy.units as u
import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.coordinates import SkyCoord

from skydock.server.config import Config
from tests.server.conftest import PASSWORDS, serve

pytestmark = pytest.mark.anyio

MINE_ROWS = 100_000
RADIUS_ARCSEC = 1.5


def _positions(points: pa.Table) -> pa.Table:
    """Uniform positions, a third of them within an arcsecond of a catalog row."""
    rng = np.random.default_rng(29)
    ra = rng.uniform(0.0, 360.0, MINE_ROWS)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, MINE_ROWS)))
    near = rng.integers(0, points.num_rows, MINE_ROWS // 3)
    base = SkyCoord(points["ra"].to_numpy()[near] * u.deg, points["dec"].to_numpy()[near] * u.deg)
    moved = base.directional_offset_by(
        rng.uniform(0, 360, near.size) * u.deg, rng.uniform(0, 1.0, near.size) * u.arcsec
    )
    ra[: near.size] = moved.ra.deg
    dec[: near.size] = moved.dec.deg
    return pa.table({"mid": np.arange(MINE_ROWS, dtype=np.int64), "ra": ra, "dec": dec})


async def test_crossmatch_100k_with_catalog_matches_astropy(
    client: httpx.AsyncClient, users: dict[str, str], points_table: pa.Table
) -> None:
    from tests.server.conftest import login

    alice = await login(client, "alice")
    mine = _positions(points_table)
    buf = io.BytesIO()
    pq.write_table(mine, buf)
    r = await client.post(
        "/api/mydb/mine/import", files={"file": ("mine.parquet", buf.getvalue())}, headers=alice
    )
    assert r.status_code == 201 and r.json()["rows"] == MINE_ROWS, r.text

    radius = RADIUS_ARCSEC / 3600
    q = (
        "SELECT m.mid, p.id FROM mydb://mine AS m, test.points AS p "
        f"WHERE q3c_join(m.ra, m.dec, p.ra, p.dec, {radius!r})"
    )
    start = time.perf_counter()
    r = await client.get("/api/query", params={"q": q, "format": "parquet"}, headers=alice)
    elapsed = time.perf_counter() - start
    assert r.status_code == 200, r.text
    got = pq.read_table(io.BytesIO(r.content))
    pairs = set(zip(got["mid"].to_pylist(), got["id"].to_pylist(), strict=True))

    a = SkyCoord(mine["ra"].to_numpy() * u.deg, mine["dec"].to_numpy() * u.deg)
    b = SkyCoord(points_table["ra"].to_numpy() * u.deg, points_table["dec"].to_numpy() * u.deg)
    ia, ib, _, _ = a.search_around_sky(b, radius * u.deg)
    expected = set(
        zip(
            mine["mid"].to_numpy()[ib].tolist(),
            points_table["id"].to_numpy()[ia].tolist(),
            strict=True,
        )
    )
    assert len(expected) >= MINE_ROWS // 3
    assert pairs == expected
    print(f"\n100k x 30k q3c_join through the API: {elapsed:.2f} s, {len(pairs)} pairs")

    # The same in ADQL, after a spatial index on the MyDB table.
    r = await client.post("/api/mydb/mine/index", data={"ra": "ra", "dec": "dec"}, headers=alice)
    assert r.status_code == 200, r.text
    adql = (
        "SELECT m.mid, p.id FROM mydb.mine AS m JOIN test.points AS p ON "
        f"CONTAINS(POINT('ICRS', m.ra, m.dec), CIRCLE('ICRS', p.ra, p.dec, {radius!r})) = 1"
    )
    start = time.perf_counter()
    r = await client.get(
        "/api/query", params={"q": adql, "lang": "adql", "format": "parquet"}, headers=alice
    )
    elapsed = time.perf_counter() - start
    assert r.status_code == 200, r.text
    got = pq.read_table(io.BytesIO(r.content))
    assert set(zip(got["mid"].to_pylist(), got["id"].to_pylist(), strict=True)) == expected
    print(f"the same in ADQL after a spatial index: {elapsed:.2f} s")


def test_tables_survive_a_restart(config: Config, users: dict[str, str]) -> None:
    def token(base: str) -> dict[str, str]:
        r = httpx.post(
            f"{base}/api/auth/login", data={"username": "alice", "password": PASSWORDS["alice"]}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    with serve(config) as live:
        headers = token(live.url)
        r = httpx.post(
            f"{live.url}/api/query",
            data={"q": "SELECT id, mag FROM test.points WHERE id <= 7", "out": "mydb://kept"},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        r = httpx.post(f"{live.url}/api/mydb/kept/index", data={"column": "id"}, headers=headers)
        assert r.status_code == 200, r.text
    with serve(config) as live:
        headers = token(live.url)
        r = httpx.get(f"{live.url}/api/mydb/kept", headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["rows"] == 7 and r.json()["indexes"] == ["id"]
        r = httpx.get(
            f"{live.url}/api/query",
            params={"q": "SELECT sum(id) AS s FROM mydb://kept"},
            headers=headers,
        )
        assert r.text.splitlines() == ["s", "28"]
