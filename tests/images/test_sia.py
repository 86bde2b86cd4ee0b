"""SIA v2 through pyvo, SODA cutouts, and the native /api/images endpoints, against a
real server on 127.0.0.1."""

from __future__ import annotations

import html
import io
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import pyvo
from astropy import units as u
from astropy.io import fits
from astropy.io.votable import parse_single_table
from astropy.wcs import WCS
from PIL import Image

from skydock.server.config import Config
from tests.images.conftest import N
from tests.server.conftest import LiveServer, serve


@pytest.fixture(scope="module")
def sia_dir(tmp_path_factory: pytest.TempPathFactory, image_files: dict) -> Path:
    from skydock.engine.images import ImageRegistry
    from skydock.engine.images.obscore import publish

    root = tmp_path_factory.mktemp("sia-data")
    registry = ImageRegistry.for_data_dir(root)
    for key, (path, _, _) in image_files.items():
        registry.ingest([path], collection="test", band=key.split("-")[1])
    publish(root, registry.records())
    return root


@pytest.fixture(scope="module")
def live(sia_dir: Path) -> Iterator[LiveServer]:
    with serve(Config(data_dir=sia_dir, images={"max_cutout_pixels": 200 * 200})) as server:
        yield server


def get(url: str, **kwargs: object) -> httpx.Response:
    """GET with a timeout a busy test machine cannot hit (httpx's default is 5 s)."""
    return httpx.get(url, timeout=60, **kwargs)  # type: ignore[arg-type]


def ids(results: pyvo.dal.sia2.SIA2Results) -> list[str]:
    return sorted(str(r.obs_id) for r in results)


def test_pyvo_finds_the_service_and_searches(live: LiveServer) -> None:
    service = pyvo.dal.SIA2Service(live.url + "/sia")
    # a circle across RA = 0 touches the three wrap images only
    found = service.search(pos=(359.999, 10.0, 0.01))
    assert ids(found) == ["wrap-g", "wrap-i", "wrap-r"]
    rec = found[0]
    assert rec.s_xel1 == N and rec.dataproduct_type == "image"
    assert rec.access_url.endswith(f"/api/images/files/test/{rec.obs_id}.fits")
    # BAND in metres: 600 nm is r only
    assert ids(service.search(pos=(0.02, 10.0, 0.01), band=600e-9)) == ["wrap-r"]
    # TIME (MJD) interval picks the epoch of the polar field
    from astropy.time import Time

    t = (Time(60099.5, format="mjd"), Time(60100.5, format="mjd"))
    assert ids(service.search(time=t)) == ["polar-r"]
    # a RANGE around the pole, and a polygon around the plain field
    assert ids(service.search(pos=(0, 360, -90, -88.5))) == ["polar-r"]
    poly = (149.99, 1.99, 150.01, 1.99, 150.01, 2.01, 149.99, 2.01)
    assert ids(service.search(pos=poly)) == ["plain-r"]
    assert ids(service.search(pos=(150.2, 2.0, 0.05))) == []
    assert ids(service.search(collection="nothere")) == []
    # a RANGE through RA = 0 (ra_lo > ra_hi; pyvo refuses to send one, so plain HTTP)
    raw = get(live.url + "/sia/query", params={"POS": "RANGE 359.9 0.1 9.9 10.1"})
    table = parse_single_table(io.BytesIO(raw.content)).array
    assert sorted(table["obs_id"]) == ["wrap-g", "wrap-i", "wrap-r"]
    limited = service.search(maxrec=2)
    assert len(limited) == 2
    raw = get(live.url + "/sia/query", params={"MAXREC": "2"}).text
    assert 'name="QUERY_STATUS" value="OVERFLOW"' in raw
    raw = get(live.url + "/sia/query", params={"MAXREC": "5"}).text
    assert 'name="QUERY_STATUS" value="OK"' in raw


def test_overlap_agrees_with_astropy_footprint(live: LiveServer, image_files: dict) -> None:
    """5″ circles beyond a corner of the image, along its outward diagonal: 3″ out they
    reach the corner, 8″ out they miss it (corner and directions from astropy's WCS)."""
    path, _, _ = image_files["plain-r"]
    wcs = WCS(fits.getheader(path))
    corner = wcs.pixel_to_world(N - 0.5, N - 0.5)
    outward = wcs.pixel_to_world(N / 2, N / 2).position_angle(corner)
    service = pyvo.dal.SIA2Service(live.url + "/sia")
    for beyond_arcsec, expected in ((3.0, ["plain-r"]), (8.0, [])):
        centre = corner.directional_offset_by(outward, beyond_arcsec * u.arcsec)
        found = service.search(pos=(centre.ra.deg, centre.dec.deg, 5 / 3600))
        assert ids(found) == expected, beyond_arcsec


def test_bad_parameters_answer_votable_errors(live: LiveServer) -> None:
    for params, needle in (
        ({"POS": "CIRCLE 10 100 1"}, "not on the sky"),
        ({"POS": "BOX 1 2 3 4"}, "BOX"),
        ({"BAND": "red"}, "BAND 'red'"),
        ({"MAXREC": "-3"}, "MAXREC"),
        ({"RESPONSEFORMAT": "csv"}, "RESPONSEFORMAT"),
    ):
        r = get(live.url + "/sia/query", params=params)
        assert r.status_code == 400, params
        assert "QUERY_STATUS" in r.text and needle in html.unescape(r.text)


def test_soda_cutout_from_a_search_row(live: LiveServer, image_files: dict) -> None:
    service = pyvo.dal.SIA2Service(live.url + "/sia")
    (rec,) = service.search(pos=(150.0, 2.0, 0.001))
    _, _, sources = image_files["plain-r"]
    ra, dec = float(sources.ra[3]), float(sources.dec[3])
    r = get(
        live.url + "/soda/sync",
        params={"ID": rec.obs_publisher_did, "CIRCLE": f"{ra} {dec} {10 / 3600}"},
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/fits"
    hdu = fits.open(io.BytesIO(r.content))[0]
    assert 20 <= hdu.data.shape[0] <= 22
    parent = fits.getdata(image_files["plain-r"][0])
    pwcs = WCS(fits.getheader(image_files["plain-r"][0]))
    x, y = WCS(hdu.header).world_to_pixel_values(ra, dec)
    px, py = pwcs.world_to_pixel_values(ra, dec)
    assert hdu.data[round(float(y)), round(float(x))] == parent[round(float(py)), round(float(px))]
    # pyvo finds SODA through the service descriptor and gets the same cutout
    via_pyvo = rec.processed(circle=(ra * u.deg, dec * u.deg, 10 * u.arcsec)).read()
    np.testing.assert_array_equal(fits.open(io.BytesIO(via_pyvo))[0].data, hdu.data)
    # the VOTable says where SODA is
    table = get(live.url + "/sia/query", params={"POS": "CIRCLE 150 2 0.001"}).text
    assert "ivo://ivoa.net/std/SODA#sync-1.0" in table and "/soda/sync" in table
    miss = get(
        live.url + "/soda/sync",
        params={"ID": rec.obs_publisher_did, "CIRCLE": "151 2 0.001"},
    )
    assert miss.status_code == 404 and "does not overlap" in miss.text
    none = get(live.url + "/soda/sync", params={"ID": "ivo://skydock/images?test/nope"})
    assert none.status_code == 404 and "no image" in none.text


def test_native_cutout_formats(live: LiveServer, image_files: dict) -> None:
    _, _, sources = image_files["wrap-g"]
    ra, dec = float(sources.ra[0]), float(sources.dec[0])
    base = {"ra": ra, "dec": dec, "size": 30 / 3600}
    r = get(live.url + "/api/images/cutout", params={**base, "band": "g"})
    assert r.status_code == 200
    hdu = fits.open(io.BytesIO(r.content))[0]
    assert hdu.data.shape == (30, 30) and hdu.header["FILTER"] == "g"
    for fmt, kind in (("png", "PNG"), ("jpeg", "JPEG")):
        for stretch in ("asinh", "linear", "log", "sqrt"):
            r = get(
                live.url + "/api/images/cutout",
                params={**base, "band": "r", "format": fmt, "stretch": stretch},
            )
            assert r.status_code == 200, r.text
            img = Image.open(io.BytesIO(r.content))
            assert img.format == kind and img.size == (30, 30) and img.mode == "L"
    r = get(live.url + "/api/images/cutout", params={**base, "bands": "g,r,i", "format": "png"})
    img = Image.open(io.BytesIO(r.content))
    assert img.mode == "RGB" and img.size == (30, 30)
    assert np.asarray(img).max() > 0
    # north up: the brightest grey pixel of the picture is the FITS pixel flipped
    png = np.asarray(
        Image.open(
            io.BytesIO(
                get(
                    live.url + "/api/images/cutout",
                    params={**base, "band": "g", "format": "png", "stretch": "linear"},
                ).content
            )
        )
    )
    fy, fx = np.unravel_index(np.nanargmax(hdu.data), hdu.data.shape)
    assert png[29 - fy, fx] == png.max()


def test_native_cutout_refusals(live: LiveServer) -> None:
    cases = (
        ({"ra": 150.0, "dec": 2.0, "size": 0.001, "band": "z"}, 404, "band z"),
        ({"ra": 10.0, "dec": 60.0, "size": 0.001}, 404, "no image covers"),
        ({"ra": 150.0, "dec": 2.0, "size": -1}, 400, "size"),
        ({"ra": 150.0, "dec": 2.0, "size": 0.001, "format": "gif"}, 400, "gif"),
        ({"ra": 150.0, "dec": 2.0, "size": 0.001, "format": "png", "stretch": "x"}, 400, "x"),
        ({"ra": 150.0, "dec": 2.0, "size": 0.1}, 400, "larger than this server allows"),
        ({"ra": 0.02, "dec": 10.0, "size": 0.001, "bands": "g,r"}, 400, "three bands"),
        (
            {"ra": 150.0, "dec": 2.0, "size": 0.001, "bands": "g,r,i", "format": "png"},
            404,
            "band g",
        ),
        ({"ra": "abc", "dec": 2.0, "size": 0.001}, 400, "ra"),
    )
    for params, status, needle in cases:
        r = get(live.url + "/api/images/cutout", params=params)
        assert r.status_code == status, (params, r.text)
        assert needle in r.json()["message"], (params, r.text)


def test_listing_search_and_file(live: LiveServer, image_files: dict) -> None:
    (coll,) = get(live.url + "/api/images").json()
    assert coll["collection"] == "test" and coll["images"] == 5
    assert coll["bands"] == ["g", "i", "r"]
    found = get(
        live.url + "/api/images/search", params={"ra": 0.02, "dec": 10, "radius": 0.01, "band": "i"}
    ).json()
    assert [f["obs_id"] for f in found] == ["wrap-i"]
    r = get(found[0]["access_url"])
    assert r.content == image_files["wrap-i"][0].read_bytes()
    assert get(live.url + "/api/images/files/test/nope.fits").status_code == 404


def test_availability_and_capabilities(live: LiveServer) -> None:
    assert "<vosi:available>true" in get(live.url + "/sia/availability").text
    caps = get(live.url + "/sia/capabilities").text
    assert "ivo://ivoa.net/std/SIA#query-2.0" in caps and f"{live.url}/sia/query" in caps


def test_votable_columns_are_obscore(live: LiveServer) -> None:
    r = get(live.url + "/sia/query", params={"POS": "CIRCLE 45 -88.9 0.01"})
    table = parse_single_table(io.BytesIO(r.content))
    assert table.get_field_by_id("s_ra").ucd == "pos.eq.ra"
    assert table.get_field_by_id("em_min").unit == "m"
    row = table.array[0]
    assert row["obs_collection"] == "test" and row["s_xel2"] == N
    assert str(row["s_region"]).startswith("POLYGON ICRS")


def test_obscore_table_in_tap(live: LiveServer) -> None:
    adql = (
        "SELECT obs_id, band, s_fov FROM ivoa.obscore WHERE 1 = CONTAINS("
        "POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', 0.02, 10.0, 0.01)) ORDER BY obs_id"
    )
    found = pyvo.dal.TAPService(live.url + "/tap").run_sync(adql).to_table()
    assert list(found["obs_id"]) == ["wrap-g", "wrap-i", "wrap-r"]
    assert found["s_fov"].unit == "deg"


@pytest.mark.skipif(shutil.which("stilts") is None, reason="STILTS is not installed")
def test_votlint_accepts_the_sia_answer(live: LiveServer, tmp_path: Path) -> None:
    answer = tmp_path / "sia.vot"
    answer.write_bytes(get(live.url + "/sia/query", params={"MAXREC": "3"}).content)
    broken = tmp_path / "broken.vot"  # the check can fail: a wrong datatype is reported
    broken.write_text(answer.read_text().replace('datatype="double"', 'datatype="dubble"', 1))
    for path, clean in ((answer, True), (broken, False)):
        done = subprocess.run(
            ["stilts", "votlint", "version=1.4", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        report = (done.stdout + done.stderr).strip()
        assert (report == "") is clean, report
