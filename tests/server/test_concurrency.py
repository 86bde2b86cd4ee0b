"""Twenty clients querying and uploading at once: every answer complete and correct."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
from astropy import units as u
from astropy.coordinates import SkyCoord

from tests.server.conftest import PASSWORDS, LiveServer

CLIENTS = 20


def rng_bytes(i: int) -> bytes:
    return np.random.default_rng(i).integers(0, 256, 200_000 + i, dtype=np.uint8).tobytes()


def expected_cone(points: pa.Table, ra: float, dec: float, radius: float) -> set[int]:
    """The ids within ``radius`` degrees, by astropy separations over the whole table."""
    coords = SkyCoord(points["ra"].to_numpy() * u.deg, points["dec"].to_numpy() * u.deg)
    sep = coords.separation(SkyCoord(ra * u.deg, dec * u.deg)).deg
    return set(points["id"].to_numpy()[sep <= radius].tolist())


def test_twenty_clients_query_and_upload_at_once(live: LiveServer, points_table: pa.Table) -> None:
    auth = live.factory.auth_service()
    auth.add_user("alice", PASSWORDS["alice"])
    auth.add_user("bob", PASSWORDS["bob"])
    tokens = {name: auth.login(name, PASSWORDS[name]) for name in ("alice", "bob")}
    rng = np.random.default_rng(20)
    cones = [
        (float(rng.uniform(0, 360)), float(np.degrees(np.arcsin(rng.uniform(-1, 1)))), 6.0)
        for _ in range(CLIENTS)
    ]

    def one(i: int) -> tuple[set[int], set[int]]:
        ra, dec, radius = cones[i]
        user = ("alice", "bob")[i % 2]
        headers = {"Authorization": f"Bearer {tokens[user]}"}
        sql = f"SELECT id FROM test.points WHERE q3c_radial_query(ra, dec, {ra}, {dec}, {radius})"
        payload = rng_bytes(i)
        with httpx.Client(base_url=live.url, timeout=120, headers=headers) as http:
            up = http.put(f"/api/storage/files/tmp/upload-{i}.bin", content=payload)
            assert up.status_code == 201, up.text
            r = http.get("/api/query", params={"q": sql, "format": "arrow"})
            assert r.status_code == 200, r.text
            got = ipc.open_stream(io.BytesIO(r.content)).read_all()
            back = http.get(f"/api/storage/files/tmp/upload-{i}.bin")
            assert back.content == payload
        return set(got["id"].to_pylist()), expected_cone(points_table, ra, dec, radius)

    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(one, range(CLIENTS)))
    for got, want in answers:
        assert got == want and len(want) > 0
    # Each user holds exactly their own ten uploads.
    for user in ("alice", "bob"):
        listing = httpx.get(
            f"{live.url}/api/storage/ls",
            params={"path": "tmp"},
            headers={"Authorization": f"Bearer {tokens[user]}"},
        ).json()
        assert len([e for e in listing if e["name"].startswith("upload-")]) == CLIENTS // 2
    # And the server is still answering.
    assert httpx.get(f"{live.url}/api/tables", timeout=30).status_code == 200
