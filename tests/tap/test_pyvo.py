"""pyvo as a real TAP client, each answer checked against the engine's own (in-process)
answer or against astropy."""

from __future__ import annotations

import warnings

import httpx
import numpy as np
import pytest
import pyvo
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from pyvo.dal.exceptions import DALOverflowWarning

from tests.server.conftest import LiveServer
from tests.tap.conftest import HARD_LIMIT

pytestmark = pytest.mark.slow

CONE = (
    "SELECT ls_id, ra, dec FROM demo.objects "
    "WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 150.0, 2.0, 3.0)) ORDER BY ls_id"
)


@pytest.fixture(scope="module")
def service(tap_live: LiveServer) -> pyvo.dal.TAPService:
    return pyvo.dal.TAPService(f"{tap_live.url}/tap")


def engine(live: LiveServer, adql: str) -> Table:
    """The same query run by the server's own executor, in-process."""
    with live.factory.executor.execute(adql, "adql", max_rows=10**9) as result:
        return Table(result.to_table().to_pandas().to_dict("list"))


def test_search_and_run_sync_match_the_engine(
    service: pyvo.dal.TAPService, tap_live: LiveServer
) -> None:
    expected = engine(tap_live, CONE)
    assert len(expected) > 0
    for got in (service.search(CONE).to_table(), service.run_sync(CONE).to_table()):
        assert list(got.colnames) == ["ls_id", "ra", "dec"]
        assert list(got["ls_id"]) == list(expected["ls_id"])
        np.testing.assert_array_equal(got["ra"], expected["ra"])
        assert got["ra"].unit == "deg"


def test_run_async_matches_the_engine(service: pyvo.dal.TAPService, tap_live: LiveServer) -> None:
    got = service.run_async(CONE).to_table()
    assert list(got["ls_id"]) == list(engine(tap_live, CONE)["ls_id"])


def test_submit_wait_fetch_and_delete(service: pyvo.dal.TAPService, tap_live: LiveServer) -> None:
    job = service.submit_job("SELECT COUNT(*) AS n FROM demo.objects WHERE mag_r < 21")
    assert job.phase == "PENDING"
    job.run()
    job.wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=60)
    assert job.phase == "COMPLETED"
    rows = job.fetch_result().to_table()
    assert (
        rows["n"][0]
        == engine(tap_live, "SELECT COUNT(*) AS n FROM demo.objects WHERE mag_r < 21")["n"][0]
    )
    url = job.url
    job.delete()
    assert httpx.get(url).status_code == 404


def test_a_bad_query_raises_with_the_engines_message(service: pyvo.dal.TAPService) -> None:
    with pytest.raises(pyvo.dal.DALQueryError, match=r"mag_rr.*did you mean"):
        service.search("SELECT mag_rr FROM demo.objects")
    job = service.submit_job("SELECT mag_rr FROM demo.objects")
    job.run()
    job.wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=60)
    assert job.phase == "ERROR"
    with pytest.raises(pyvo.dal.DALQueryError, match="mag_rr"):
        job.raise_if_error()
    job.delete()


def test_upload_round_trips_and_crossmatches(
    service: pyvo.dal.TAPService, tap_live: LiveServer
) -> None:
    objects = engine(tap_live, "SELECT TOP 50 ls_id, ra, dec FROM demo.objects ORDER BY ls_id")
    # 40 targets 0.5″ from a catalog object, 10 far from any.
    rng = np.random.default_rng(3)
    ra = np.array(objects["ra"], dtype=float)
    dec = np.array(objects["dec"], dtype=float)
    ra[:40] += 0.5 / 3600 / np.cos(np.radians(dec[:40]))
    ra[40:] = rng.uniform(0, 360, 10)
    dec[40:] = -89.0
    mine = Table(
        {"tid": np.arange(50), "ra": ra, "dec": dec, "label": [f"t{i}" for i in range(50)]}
    )

    back = service.run_sync("SELECT * FROM TAP_UPLOAD.mine", uploads={"mine": mine}).to_table()
    assert list(back.colnames) == ["tid", "ra", "dec", "label"]
    np.testing.assert_array_equal(back["ra"], mine["ra"])
    assert list(back["label"]) == list(mine["label"])

    match = service.run_sync(
        "SELECT m.tid, o.ls_id FROM TAP_UPLOAD.mine AS m JOIN demo.objects AS o "
        "ON 1 = CONTAINS(POINT('ICRS', m.ra, m.dec), CIRCLE('ICRS', o.ra, o.dec, 1.0/3600))",
        uploads={"mine": mine},
    ).to_table()
    # Independently: astropy's separations against the whole catalog.
    catalog = engine(tap_live, "SELECT ls_id, ra, dec FROM demo.objects")
    targets = SkyCoord(mine["ra"], mine["dec"], unit="deg")
    stars = SkyCoord(catalog["ra"], catalog["dec"], unit="deg")
    idx_c, idx_t, _, _ = targets.search_around_sky(stars, 1.0 * u.arcsec)
    expected = sorted(
        (int(mine["tid"][i]), int(catalog["ls_id"][j])) for i, j in zip(idx_t, idx_c, strict=True)
    )
    assert len(expected) >= 40
    assert (
        sorted((int(a), int(b)) for a, b in zip(match["tid"], match["ls_id"], strict=True))
        == expected
    )

    job = service.run_async(
        "SELECT COUNT(*) AS n FROM TAP_UPLOAD.mine WHERE dec < -80", uploads={"mine": mine}
    )
    assert job.to_table()["n"][0] == 10


def test_tables_match_tap_schema(service: pyvo.dal.TAPService) -> None:
    names = set(service.tables.keys())
    assert {"demo.objects", "demo.stars", "test.points", "tap_schema.columns"} <= names
    columns = {c.name for c in service.tables["demo.objects"].columns}
    schema = service.search(
        "SELECT column_name FROM TAP_SCHEMA.columns WHERE table_name = 'demo.objects'"
    ).to_table()
    assert columns == set(schema["column_name"])
    ra = next(c for c in service.tables["demo.objects"].columns if c.name == "ra")
    assert ra.unit == "deg"
    assert ra.ucd == "pos.eq.ra;meta.main"


def test_capabilities(service: pyvo.dal.TAPService, tap_live: LiveServer) -> None:
    tap = service.get_tap_capability()
    assert tap.standardid == "ivo://ivoa.net/std/TAP"
    assert service.hardlimit == tap_live.factory.config.query.max_rows
    assert "ivo://ivoa.net/std/TAPRegExt#upload-inline" in {
        str(m.ivo_id) for m in service.upload_methods
    }
    adql = tap.get_adql()
    forms = {f.form for f in adql.get_feature_list("ivo://ivoa.net/std/TAPRegExt#features-adqlgeo")}
    assert {"POINT", "CIRCLE", "CONTAINS", "DISTANCE", "POLYGON"} <= forms
    assert adql.get_udf("q3c_dist") is not None
    availability = httpx.get(f"{tap_live.url}/tap/availability").text
    assert "<vosi:available>true</vosi:available>" in availability


def test_maxrec_overflow_is_flagged_and_the_server_limit_warns(
    service: pyvo.dal.TAPService,
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = service.search("SELECT ls_id FROM demo.objects", maxrec=7)
        assert len(result) == 7
        assert result.query_status == "OVERFLOW"
        top = service.search("SELECT TOP 5 ls_id FROM demo.objects", maxrec=7)
        assert len(top) == 5
        assert top.query_status == "OK"
    assert not any(issubclass(w.category, DALOverflowWarning) for w in caught)
    with pytest.warns(DALOverflowWarning, match="server limits"):
        result = service.search("SELECT ls_id FROM demo.objects")
    assert len(result) == HARD_LIMIT
