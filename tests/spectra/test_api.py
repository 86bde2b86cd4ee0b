"""``/api/spectra`` over a live server, and ``Client.spectra``: values identical to the
store file read with plain pyarrow, ids exact as int64, bad input answered 4xx."""

from __future__ import annotations

from pathlib import Path

import duckdb
import httpx
import numpy as np
import pyarrow as pa
import pytest

from skydock.client import BadRequestError, Client, NotFoundError, spectra_array, wavelength
from skydock.engine.catalog import CatalogStore
from tests.server.conftest import PASSWORDS, LiveServer
from tests.spectra.conftest import MAX_SPECTRA


def store_file(spectra_dir: Path) -> pa.Table:
    path = spectra_dir / "spectra" / "demo" / "specobj" / "spectra.arrow"
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()


def rows_of(table: pa.Table, ids: list[int]) -> np.ndarray:
    index = {t: k for k, t in enumerate(table.column("targetid").to_pylist())}
    return np.array([index[i] for i in ids])


def grid(table: pa.Table, name: str) -> np.ndarray:
    col = table.column(name).combine_chunks()
    return col.values.to_numpy(zero_copy_only=False).reshape(len(col), -1)


@pytest.fixture(scope="module")
def some_ids(spectra_dir: Path) -> list[int]:
    ids = store_file(spectra_dir).column("targetid").to_pylist()
    return [ids[5], ids[-1], ids[0], ids[6]]  # 5 and 6 may differ by less than a float ulp


def post(live: LiveServer, body: object) -> httpx.Response:
    return httpx.post(f"{live.url}/api/spectra", json=body, timeout=60)


def read(response: httpx.Response) -> pa.Table:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.apache.arrow.stream")
    return pa.ipc.open_stream(response.content).read_all()


def test_post_ids_returns_identical_values_in_order(
    spectra_server: LiveServer, spectra_dir: Path, some_ids: list[int]
) -> None:
    # Anonymous, ids as JSON integers and as strings, mixed.
    body = {"ids": [some_ids[0], str(some_ids[1]), some_ids[2], str(some_ids[3])]}
    got = read(post(spectra_server, body))
    assert got.column("targetid").type == pa.int64()
    assert got.column("targetid").to_pylist() == some_ids
    source = store_file(spectra_dir)
    rows = rows_of(source, some_ids)
    for name in ("flux", "ivar", "mask", "model"):
        assert grid(got, name).tobytes() == grid(source, name)[rows].tobytes(), name
    assert (
        got.schema.metadata[b"skydock.wavelength"] == source.schema.metadata[b"skydock.wavelength"]
    )
    # The catalog row rides along: each spectrum's own class and redshift.
    assert {"ra", "dec", "z", "class", "ls_id"} <= set(got.column_names)
    assert not any(c.startswith("_healpix") for c in got.column_names)
    meta = CatalogStore.for_data_dir(spectra_dir).get("demo.specobj")
    con = duckdb.connect(str(meta.serving_path), read_only=True)
    try:
        z = dict(con.sql("SELECT targetid, z FROM data").fetchall())
    finally:
        con.close()
    assert got.column("z").to_pylist() == [z[i] for i in some_ids]


def test_post_sql_joins_catalogs(spectra_server: LiveServer, spectra_dir: Path) -> None:
    sql = (
        "SELECT s.targetid, o.mag_g, o.mag_r, s.z FROM demo.specobj s "
        "JOIN demo.objects o ON s.ls_id = o.ls_id WHERE s.class = 'GALAXY' "
        "ORDER BY s.targetid LIMIT 25"
    )
    got = read(post(spectra_server, {"sql": sql}))
    assert got.num_rows == 25
    assert got.column_names[:4] == ["targetid", "mag_g", "mag_r", "z"]
    ids = got.column("targetid").to_pylist()
    assert ids == sorted(ids)
    source = store_file(spectra_dir)
    assert grid(got, "flux").tobytes() == grid(source, "flux")[rows_of(source, ids)].tobytes()
    adql = "SELECT TOP 3 targetid FROM demo.specobj WHERE class = 'QSO' ORDER BY targetid"
    assert read(post(spectra_server, {"adql": adql})).num_rows == 3
    star = read(post(spectra_server, {"sql": "SELECT * FROM demo.specobj ORDER BY z LIMIT 4"}))
    assert star.column_names[0] == "targetid" and "z" in star.column_names
    assert not any(c.startswith("_healpix") for c in star.column_names)
    assert star.column("z").to_pylist() == sorted(star.column("z").to_pylist())


def test_get_one_spectrum_as_json_keeps_the_id(
    spectra_server: LiveServer, some_ids: list[int]
) -> None:
    r = httpx.get(f"{spectra_server.url}/api/spectra/{some_ids[0]}", params={"format": "json"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["targetid"] == str(some_ids[0])
    assert len(body["flux"]) == len(body["wavelength"]) == body["npix"]
    assert body["units"]["wavelength"] == "Angstrom"
    arrow = httpx.get(f"{spectra_server.url}/api/spectra/{some_ids[0]}")
    assert read(arrow).column("targetid").to_pylist() == [some_ids[0]]
    listed = httpx.get(f"{spectra_server.url}/api/spectra").json()
    assert listed["collections"] == ["demo.specobj"]
    bad = httpx.get(f"{spectra_server.url}/api/spectra/1.5e18")
    assert bad.status_code == 400 and "not a whole number" in bad.json()["message"]
    bad = httpx.get(f"{spectra_server.url}/api/spectra/{some_ids[0]}", params={"format": "csv"})
    assert bad.status_code == 400 and "format" in bad.json()["message"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"ids": [1163916622935359490 + 10**17]}, 404, "no spectrum with id 1263916622935359490"),
        ({"ids": [1.1639166229353595e18]}, 400, "ids"),
        ({"ids": ["12abc"]}, 400, "not a whole number"),
        ({"ids": [str(2**64)]}, 400, "64-bit"),
        ({"ids": []}, 400, "empty"),
        ({}, 400, "exactly one of ids, sql or adql"),
        ({"ids": [1], "sql": "SELECT 1"}, 400, "exactly one"),
        ({"sql": "SELECT ra, dec FROM demo.specobj"}, 400, "must select a targetid"),
        ({"sql": "SELECT targetid FROM demo.nothing"}, 404, "demo.nothing"),
        ({"sql": "DROP TABLE demo.specobj"}, None, ""),
        ({"sql": "SELECT targetid FROM demo.specobj"}, 400, f"at most {MAX_SPECTRA}"),
        ({"ids": [1], "collection": "demo.objects"}, 404, "no spectra collection"),
        ({"ids": [1], "collection": "x; drop"}, 400, "schema.table"),
        ({"ids": [1], "colour": "red"}, 400, "colour"),
    ],
)
def test_bad_requests_are_4xx_naming_the_problem(
    spectra_server: LiveServer, body: dict[str, object], status: int | None, words: str
) -> None:
    r = post(spectra_server, body)
    assert 400 <= r.status_code < 500, r.text
    if status is not None:
        assert r.status_code == status, r.text
    assert words in r.json()["message"]


def test_client_formats(spectra_server: LiveServer, spectra_dir: Path, some_ids: list[int]) -> None:
    source = store_file(spectra_dir)
    rows = rows_of(source, some_ids)
    with Client(url=spectra_server.url) as c:
        c.login("alice", PASSWORDS["alice"], save=False)
        table = c.spectra(ids=np.array(some_ids, dtype=np.int64))
        assert table.column("targetid").to_pylist() == some_ids
        assert spectra_array(table, "flux").tobytes() == grid(source, "flux")[rows].tobytes()
        wave = wavelength(table)
        assert wave[0] == 3600.0 and wave[-1] == 9800.0

        astro = c.spectra(ids=[str(i) for i in some_ids], fmt="astropy")
        assert astro["targetid"].dtype == np.int64
        assert list(astro["targetid"]) == some_ids
        assert astro["flux"].shape == (4, len(wave))
        assert str(astro["flux"].unit) == "1e-17 erg / (Angstrom s cm2)"
        assert np.array_equal(np.asarray(astro["model"]), grid(source, "model")[rows])
        assert astro.meta["wavelength"].unit == "Angstrom"

        spec = c.spectra(sql="SELECT targetid FROM demo.specobj ORDER BY targetid LIMIT 3",
                         fmt="specutils")  # fmt: skip
        assert spec.flux.shape == (3, len(wave))
        assert np.array_equal(spec.spectral_axis.value, wave)
        first = sorted(source.column("targetid").to_pylist())[:3]
        assert list(spec.meta["rows"]["targetid"]) == first
        ivar = grid(source, "ivar")[rows_of(source, first)]
        assert np.array_equal(spec.uncertainty.array, ivar)
        assert np.array_equal(spec.mask, grid(source, "mask")[rows_of(source, first)] != 0)
        one = spec[1]
        assert one.flux.shape == (len(wave),)

        with pytest.raises(BadRequestError, match="float"):
            c.spectra(ids=[float(some_ids[0])])
        with pytest.raises(NotFoundError, match="no spectrum"):
            c.spectra(ids=[some_ids[0] + 10**15])
        with pytest.raises(BadRequestError, match="one"):
            c.spectra()
