"""Sky regions → HEALPix ranges and the exact SQL geometry, checked against astropy.

Every expected row set comes from an independent computation: astropy separations for
cones, and for polygons a winding-number test in the gnomonic plane of an astropy
offset frame (great circles are straight lines there). The catalog mixes uniform points
with dense clusters at the places spherical code gets wrong: the poles, RA = 0, and the
corners of HEALPix base cells.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import astropy.units as u
import cdshealpix.nested as hp
import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pytest
from astropy.coordinates import Latitude, Longitude, SkyCoord

from skydock.engine import spatial
from skydock.engine.spatial.healpix import fill_narrow_gaps
from skydock.errors import QuerySyntaxError

UNIFORM_ROWS = 200_000
CLUSTER_ROWS = 3_000
ARCSEC = 1.0 / 3600.0
RADII = [0.1 * ARCSEC, ARCSEC, 10 * ARCSEC, 60 * ARCSEC, 0.1, 1.0, 10.0, 90.0, 150.0]
BASE_CORNER_DEC = math.degrees(math.asin(2.0 / 3.0))
CENTRES = [
    (0.0, 90.0),
    (123.0, -90.0),
    (0.0, 0.0),
    (359.99999, 45.0),
    (0.0, -30.0),
    (45.0, BASE_CORNER_DEC),
    (200.0, -89.99),
    (90.0, 0.0),
]
TIE_DEG = 1e-9


# ------------------------------------------------------------------------------------
# Independent references


def healpix29(ra: npt.ArrayLike, dec: npt.ArrayLike) -> npt.NDArray[np.int64]:
    return np.asarray(hp.lonlat_to_healpix(Longitude(ra, u.deg), Latitude(dec, u.deg), 29)).astype(
        np.int64
    )


def in_ranges(cells: npt.NDArray[np.int64], ranges: npt.NDArray[np.int64]) -> np.ndarray:
    slot = np.searchsorted(ranges[:, 0], cells, side="right") - 1
    return (slot >= 0) & (cells <= ranges[np.maximum(slot, 0), 1])


def gnomonic_inside(
    ra: np.ndarray, dec: np.ndarray, vertices: Sequence[tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """(inside, ambiguous): winding number in the tangent plane about the vertex mean."""
    verts = SkyCoord([v[0] for v in vertices] * u.deg, [v[1] for v in vertices] * u.deg)
    mean = verts.cartesian.xyz.value.sum(axis=1)
    centre = SkyCoord(x=mean[0], y=mean[1], z=mean[2], representation_type="cartesian").spherical
    frame = SkyCoord(centre.lon, centre.lat).skyoffset_frame()

    def plane(coords: SkyCoord) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        off = coords.transform_to(frame)
        lon, lat = off.lon.rad, off.lat.rad
        front = np.cos(lat) * np.cos(lon)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.tan(lon)
            y = np.tan(lat) / np.cos(lon)
        return x, y, front

    vx, vy, vfront = plane(verts)
    assert np.all(vfront > 0), "test polygon must fit the hemisphere about its vertex mean"
    px, py, front = plane(SkyCoord(ra * u.deg, dec * u.deg))
    ahead = front > 1e-12
    x, y = px[ahead][:, None], py[ahead][:, None]
    ax, ay = vx[None, :] - x, vy[None, :] - y
    bx, by = np.roll(vx, -1)[None, :] - x, np.roll(vy, -1)[None, :] - y
    winding = np.arctan2(ax * by - ay * bx, ax * bx + ay * by).sum(axis=1) / (2 * np.pi)
    ex, ey = bx - ax, by - ay
    t = np.clip(-(ax * ex + ay * ey) / (ex * ex + ey * ey), 0.0, 1.0)
    gap = np.hypot(ax + t * ex, ay + t * ey).min(axis=1)
    inside = np.zeros(len(ra), dtype=bool)
    ambiguous = np.zeros(len(ra), dtype=bool)
    inside[ahead] = np.abs(np.round(winding)) == 1
    ambiguous[ahead] = gap < 1e-10 * (1 + x[:, 0] ** 2 + y[:, 0] ** 2)
    return inside, ambiguous


def slerp_edges(vertices: Sequence[tuple[float, float]], per_edge: int) -> SkyCoord:
    """Points exactly on each great-circle edge (the closed polygon's boundary)."""
    v = SkyCoord([p[0] for p in vertices] * u.deg, [p[1] for p in vertices] * u.deg)
    a = v.cartesian.xyz.value.T
    b = np.roll(a, -1, axis=0)
    omega = np.arccos(np.clip(np.sum(a * b, axis=1), -1, 1))
    t = np.linspace(0.0, 1.0, per_edge)[None, :, None]
    w1 = np.sin((1 - t) * omega[:, None, None]) / np.sin(omega[:, None, None])
    w2 = np.sin(t * omega[:, None, None]) / np.sin(omega[:, None, None])
    pts = (w1 * a[:, None, :] + w2 * b[:, None, :]).reshape(-1, 3)
    return SkyCoord(x=pts[:, 0], y=pts[:, 1], z=pts[:, 2], representation_type="cartesian")


# ------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def sky() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240229)
    ra = [rng.uniform(0.0, 360.0, UNIFORM_ROWS)]
    dec = [np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, UNIFORM_ROWS)))]
    for ra0, dec0 in CENTRES:
        seps = 10 ** rng.uniform(-7.0, math.log10(170.0), CLUSTER_ROWS)
        pas = rng.uniform(0.0, 360.0, CLUSTER_ROWS)
        moved = SkyCoord(ra0 * u.deg, dec0 * u.deg).directional_offset_by(pas * u.deg, seps * u.deg)
        ra.append(moved.ra.deg)
        dec.append(moved.dec.deg)
    ra_all, dec_all = np.concatenate(ra), np.concatenate(dec)
    return {
        "id": np.arange(len(ra_all), dtype=np.int64),
        "ra": ra_all,
        "dec": dec_all,
        "_healpix_29": healpix29(ra_all, dec_all),
    }


@pytest.fixture(scope="module")
def coords(sky: dict[str, np.ndarray]) -> SkyCoord:
    return SkyCoord(sky["ra"] * u.deg, sky["dec"] * u.deg)


@pytest.fixture(scope="module")
def con(sky: dict[str, np.ndarray]) -> duckdb.DuckDBPyConnection:
    """The executor's setup: a sorted table, the UDFs, then the configuration locked."""
    db = duckdb.connect(":memory:")
    source = pa.table(sky)  # noqa: F841 - read by name below
    db.execute("CREATE TABLE pts AS SELECT * FROM source ORDER BY _healpix_29")
    spatial.register_udfs(db)
    db.execute("SET enable_external_access = false")
    db.execute("SET lock_configuration = true")
    return db


def ids(con: duckdb.DuckDBPyConnection, where: str) -> set[int]:
    rows = con.cursor().execute(f"SELECT id FROM pts WHERE {where}").fetchnumpy()["id"]
    return set(rows.tolist())


# ------------------------------------------------------------------------------------
# Cones


def cone_cases() -> list[tuple[float, float, float]]:
    rng = np.random.default_rng(7)
    cases = [(ra, dec, r) for ra, dec in CENTRES for r in RADII]
    for _ in range(25):
        cases.append(
            (
                float(rng.uniform(0, 360)),
                float(np.degrees(np.arcsin(rng.uniform(-1, 1)))),
                float(10 ** rng.uniform(-5, 2)),
            )
        )
    return cases


def test_cone_sql_matches_astropy(
    con: duckdb.DuckDBPyConnection, sky: dict[str, np.ndarray], coords: SkyCoord
) -> None:
    non_trivial = 0
    for ra0, dec0, radius in cone_cases():
        sep = coords.separation(SkyCoord(ra0 * u.deg, dec0 * u.deg)).deg
        tie = np.abs(sep - radius) < TIE_DEG
        expected = set(sky["id"][(sep <= radius) & ~tie].tolist())
        ties = set(sky["id"][tie].tolist())
        got = ids(con, spatial.cone_sql("ra", "dec", ra0, dec0, radius))
        assert got - ties == expected, (ra0, dec0, radius)
        without_ranges = ids(con, spatial.cone_sql("ra", "dec", ra0, dec0, radius, None))
        assert without_ranges - ties == expected
        ranges = spatial.cone_ranges(ra0, dec0, radius)
        members = sep <= radius
        assert in_ranges(sky["_healpix_29"][members], ranges).all(), (ra0, dec0, radius)
        non_trivial += 0 < len(expected) < len(sky["id"])
    assert non_trivial >= 70


def test_cone_ranges_hold_points_on_the_rim() -> None:
    """Points a hair inside the circle, all around it, must fall in the ranges."""
    rng = np.random.default_rng(3)
    centres = [*CENTRES, (0.0, 89.9999), (180.0, -45.0)]
    for ra0, dec0 in centres:
        for radius in [*RADII, 179.9]:
            pas = np.linspace(0.0, 360.0, 720, endpoint=False) + rng.uniform(0, 0.5)
            rim = SkyCoord(ra0 * u.deg, dec0 * u.deg).directional_offset_by(
                pas * u.deg, radius * (1 - 1e-12) * u.deg
            )
            inner = SkyCoord(ra0 * u.deg, dec0 * u.deg).directional_offset_by(
                pas * u.deg, radius * rng.uniform(0, 1, pas.size) * u.deg
            )
            for max_ranges in (1, 8, 64):
                ranges = spatial.cone_ranges(ra0, dec0, radius, max_ranges=max_ranges)
                for pts in (rim, inner):
                    cells = healpix29(pts.ra.deg, pts.dec.deg)
                    assert in_ranges(cells, ranges).all(), (ra0, dec0, radius, max_ranges)


def test_small_cones_are_tight() -> None:
    """A 1″ cone should cover a few square arcseconds, not a whole cell of a coarse order."""
    cell29_arcsec2 = 4 * math.pi / (12 * 4**29) * (180 / math.pi * 3600) ** 2
    for ra0, dec0 in CENTRES:
        ranges = spatial.cone_ranges(ra0, dec0, ARCSEC)
        covered = float(np.sum(ranges[:, 1] - ranges[:, 0] + 1)) * cell29_arcsec2
        assert covered < 4 * math.pi * 1.0**2, (ra0, dec0, covered)


def test_whole_sky_and_large_cones() -> None:
    full = np.array([[0, 12 * 4**29 - 1]])
    assert np.array_equal(spatial.cone_ranges(10.0, 20.0, 180.0), full)
    assert np.array_equal(spatial.cone_ranges(10.0, 20.0, 500.0), full)
    sql = spatial.cone_sql("ra", "dec", 10.0, 20.0, 180.0)
    assert "BETWEEN" not in sql
    everywhere = "(VALUES (0.0, -90.0), (190.0, -20.0), (359.9, 89.0), (10.0, 20.0)) t(ra, dec)"
    con = duckdb.connect()
    assert con.execute(f"SELECT count(*) FROM {everywhere} WHERE {sql}").fetchone() == (4,)


# ------------------------------------------------------------------------------------
# Polygons and boxes

POLYGONS: dict[str, list[tuple[float, float]]] = {
    "convex quad": [(10.0, 10.0), (30.0, 12.0), (28.0, 30.0), (8.0, 25.0)],
    "L across RA 0": [(350, -5), (10, -5), (10, 0), (0, 0), (0, 5), (350, 5)],
    "around north pole": [(0, 70), (90, 75), (180, 70), (270, 75)],
    "star around south pole": [(36.0 * k, -60.0 if k % 2 else -75.0) for k in range(10)],
    "chevron 1′ near RA 0": [
        (359.99999 - 0.5 / 60, -30.0 - 0.5 / 60),
        (359.99999, -30.0 - 0.1 / 60),
        (359.99999 + 0.5 / 60, -30.0 - 0.5 / 60),
        (359.99999, -30.0 + 0.5 / 60),
    ],
    "sliver across RA 0": [(359.5, -0.001), (0.5, -0.001), (0.5, 0.001), (359.5, 0.001)],
    "big triangle": [(0.0, -40.0), (100.0, -30.0), (50.0, 50.0)],
    "base-cell corner": [(44.9, 41.7), (45.2, 41.75), (45.1, 41.95), (44.95, 41.9)],
    "box across RA 0": spatial.box_vertices(0.0, 0.0, 10.0, 5.0),
    "box at north pole": spatial.box_vertices(30.0, 90.0, 20.0, 20.0),
    "small box": spatial.box_vertices(359.99999, 45.0, 10 * ARCSEC, 5 * ARCSEC),
    "large box": spatial.box_vertices(45.0, BASE_CORNER_DEC, 120.0, 60.0),
}


@pytest.mark.parametrize("name", list(POLYGONS))
def test_polygon_sql_matches_planar_reference(
    name: str, con: duckdb.DuckDBPyConnection, sky: dict[str, np.ndarray]
) -> None:
    vertices = POLYGONS[name]
    inside, ambiguous = gnomonic_inside(sky["ra"], sky["dec"], vertices)
    expected = set(sky["id"][inside & ~ambiguous].tolist())
    unsure = set(sky["id"][ambiguous].tolist())
    assert expected, f"{name}: the test data put no point inside"
    for winding in (vertices, vertices[::-1]):
        got = ids(con, spatial.polygon_predicate_sql("ra", "dec", winding))
        assert got - unsure == expected, name
        assert ids(con, spatial.polygon_predicate_sql("ra", "dec", winding, None)) - unsure == (
            expected
        )
        flat = ", ".join(repr(float(x)) for pair in winding for x in pair)
        udf = ids(con, f"skydock_in_polygon(ra, dec, [{flat}]::DOUBLE[])")
        assert udf - unsure == expected, name
        ranges = spatial.polygon_ranges(winding)
        assert in_ranges(sky["_healpix_29"][inside], ranges).all(), name


@pytest.mark.parametrize("name", list(POLYGONS))
def test_polygon_ranges_hold_the_boundary(name: str) -> None:
    edge = slerp_edges(POLYGONS[name], 400)
    cells = healpix29(edge.spherical.lon.deg, edge.spherical.lat.deg)
    for max_ranges in (1, 4, 64):
        ranges = spatial.polygon_ranges(POLYGONS[name], max_ranges=max_ranges)
        assert in_ranges(cells, ranges).all(), (name, max_ranges)


def test_convex_polygons_are_inlined_and_concave_ones_use_the_udf() -> None:
    assert "skydock_in_polygon" not in spatial.polygon_sql("ra", "dec", POLYGONS["convex quad"])
    assert "skydock_in_polygon" not in spatial.polygon_sql(
        "ra", "dec", POLYGONS["box at north pole"]
    )
    assert "skydock_in_polygon" in spatial.polygon_sql("ra", "dec", POLYGONS["L across RA 0"])
    assert "skydock_in_polygon" in spatial.polygon_sql(
        "ra", "dec", POLYGONS["star around south pole"]
    )
    pentagram = [(72.0 * (2 * k % 5), 60.0) for k in range(5)]
    assert "skydock_in_polygon" in spatial.polygon_sql("ra", "dec", pentagram)


def test_polygon_dec_band_reaches_bulging_edges(con: duckdb.DuckDBPyConnection) -> None:
    """Great-circle edges between points at dec 50 and 60 bulge north to ~67° and ~74°."""
    vertices = [(0.0, 60.0), (120.0, 60.0), (120.0, 50.0), (0.0, 50.0)]
    probe_ra, probe_dec = np.array([60.0, 60.0, 60.0]), np.array([70.0, 55.0, 75.0])
    inside, _ = gnomonic_inside(probe_ra, probe_dec, vertices)
    assert inside.tolist() == [True, False, False]
    sql = spatial.polygon_predicate_sql("ra", "dec", vertices, ranges_column=None)
    got = (
        con.cursor()
        .execute(
            "SELECT ra, dec FROM (VALUES (60.0, 70.0), (60.0, 55.0), (60.0, 75.0)) v(ra, dec) "
            f"WHERE {sql}"
        )
        .fetchall()
    )
    assert got == [(60.0, 70.0)]


def test_box_follows_adql_cross_definition() -> None:
    """Arms of half the size along the axes at the centre; sides meet them at right angles."""
    for ra0, dec0, width, height in [
        (0.0, 0.0, 10.0, 5.0),
        (30.0, 90.0, 20.0, 20.0),
        (200.0, -60.0, 3.0, 40.0),
        (10.0, 20.0, 120.0, 60.0),
    ]:
        corners = spatial.box_vertices(ra0, dec0, width, height)
        xyz = SkyCoord([c[0] for c in corners] * u.deg, [c[1] for c in corners] * u.deg)
        vec = xyz.cartesian.xyz.value.T
        centre = SkyCoord(ra0 * u.deg, dec0 * u.deg)
        for i, j, expected_sep, expected_pa in [
            (1, 2, width / 2, 90.0),  # east side midpoint
            (2, 3, height / 2, 0.0),  # north side midpoint
            (3, 0, width / 2, 270.0),
            (0, 1, height / 2, 180.0),
        ]:
            mid = vec[i] + vec[j]
            point = SkyCoord(
                x=mid[0], y=mid[1], z=mid[2], representation_type="cartesian"
            ).spherical
            mid_coord = SkyCoord(point.lon, point.lat)
            assert centre.separation(mid_coord).deg == pytest.approx(expected_sep, abs=1e-9)
            if abs(dec0) < 90:
                pa_deg = centre.position_angle(mid_coord).deg % 360
                assert min(abs(pa_deg - expected_pa), 360 - abs(pa_deg - expected_pa)) < 1e-7
            # The side through this midpoint meets the arm at a right angle.
            to_centre = mid_coord.position_angle(centre).deg
            for k in (i, j):
                to_corner = mid_coord.position_angle(SkyCoord(*corners[k], unit="deg")).deg
                assert abs(math.cos(math.radians(to_corner - to_centre))) < 1e-9
    assert np.array_equal(
        spatial.box_ranges(0.0, 0.0, 10.0, 5.0),
        spatial.polygon_ranges(spatial.box_vertices(0.0, 0.0, 10.0, 5.0)),
    )


# ------------------------------------------------------------------------------------
# Range shape


def test_ranges_are_sorted_merged_and_capped() -> None:
    regions = [
        lambda m: spatial.cone_ranges(0.0, 0.0, 1.0, max_ranges=m),
        lambda m: spatial.cone_ranges(123.0, -89.5, 2.0, max_ranges=m),
        lambda m: spatial.cone_ranges(359.9, 10.0, 20.0, max_ranges=m),
        lambda m: spatial.cone_ranges(40.0, 40.0, ARCSEC, max_ranges=m),
        lambda m: spatial.polygon_ranges(POLYGONS["star around south pole"], max_ranges=m),
        lambda m: spatial.box_ranges(0.0, 0.0, 10.0, 5.0, max_ranges=m),
    ]
    for region in regions:
        finest = region(1024)
        for max_ranges in (1, 2, 5, 64, 1024):
            ranges = region(max_ranges)
            assert ranges.dtype == np.int64 and ranges.ndim == 2 and ranges.shape[1] == 2
            assert 1 <= len(ranges) <= max_ranges
            assert np.all(ranges[:, 0] <= ranges[:, 1])
            assert np.all(ranges[1:, 0] > ranges[:-1, 1] + 1)  # sorted, gaps between
            assert ranges[0, 0] >= 0 and ranges[-1, 1] <= 12 * 4**29 - 1
            # A coarser answer still holds every range of a finer one.
            assert in_ranges(finest[:, 0], ranges).all() and in_ranges(finest[:, 1], ranges).all()


def test_fill_narrow_gaps_keeps_a_superset_and_wide_gaps() -> None:
    ranges = np.array([[0, 9], [15, 19], [10_000, 10_009], [10_020, 10_029]], dtype=np.int64)
    # Total width 35: with factor 1 the gaps of 5 and 10 are filled, the gap of ~10,000 kept.
    filled = fill_narrow_gaps(ranges, 1.0)
    assert filled.tolist() == [[0, 19], [10_000, 10_029]]
    assert in_ranges(ranges[:, 0], filled).all() and in_ranges(ranges[:, 1], filled).all()
    assert fill_narrow_gaps(ranges, 1_000.0).tolist() == [[0, 10_029]]
    assert fill_narrow_gaps(ranges, 0.0).tolist() == ranges.tolist()
    assert fill_narrow_gaps(ranges[:1], 4.0).tolist() == [[0, 9]]
    # A small cone across a base-cell boundary keeps both of its far-apart ranges.
    ra, dec = 0.0, math.degrees(math.asin(2 / 3))  # a corner of base cells 0, 3 and 4
    cover = fill_narrow_gaps(spatial.cone_ranges(ra, dec, ARCSEC, max_ranges=4), 4.0)
    assert len(np.unique(cover >> (2 * 29))) > 1 and len(cover) > 1


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: spatial.cone_ranges(10.0, 20.0, 0.0), "0.0"),
        (lambda: spatial.cone_ranges(10.0, 20.0, -1.0), "-1.0"),
        (lambda: spatial.cone_ranges(10.0, 20.0, float("nan")), "nan"),
        (lambda: spatial.cone_ranges(10.0, 20.0, float("inf")), "inf"),
        (lambda: spatial.cone_ranges(10.0, 90.5, 1.0), "90.5"),
        (lambda: spatial.cone_ranges(10.0, float("nan"), 1.0), "nan"),
        (lambda: spatial.cone_ranges(float("nan"), 0.0, 1.0), "nan"),
        (lambda: spatial.cone_ranges("10", 0.0, 1.0), "'10'"),  # type: ignore[arg-type]
        (lambda: spatial.cone_sql("ra", "dec", 10.0, -91.0, 1.0), "-91.0"),
        (lambda: spatial.polygon_ranges([(0, 0), (1, 1)]), "three"),
        (lambda: spatial.polygon_ranges([(0, 0), (1, 1), (1, 1), (0, 0)]), "three"),
        (lambda: spatial.polygon_ranges([(0, 0), (120, 0), (240, 0)]), "hemisphere"),
        (lambda: spatial.polygon_ranges([(0, 0), (10, 0), (20, 0)]), "no area"),
        (lambda: spatial.polygon_ranges([(0, 0), (10, 95), (20, 0)]), "95"),
        (lambda: spatial.polygon_ranges([(0, 0), (10, float("nan")), (20, 0)]), "nan"),
        (lambda: spatial.box_ranges(0.0, 0.0, 0.0, 1.0), "width"),
        (lambda: spatial.box_ranges(0.0, 0.0, 1.0, 180.0), "height"),
        (lambda: spatial.xmatch_order(0.0), "0.0"),
        (lambda: spatial.xmatch_order(30.0), "30.0"),
        (lambda: spatial.neighbour_cells([1.0], [2.0], 30), "30"),
    ],
)
def test_invalid_input_is_refused_with_the_value(call: Callable[[], object], fragment: str) -> None:
    with pytest.raises(QuerySyntaxError) as err:
        call()
    assert fragment in str(err.value)


def test_max_ranges_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_ranges"):
        spatial.cone_ranges(0.0, 0.0, 1.0, max_ranges=0)


def test_sql_numbers_keep_full_precision(con: duckdb.DuckDBPyConnection) -> None:
    """A tiny cone at an awkward centre separates points a part in a million from its rim."""
    ra0, dec0, radius = 0.1 + 0.2, -(1 / 3), 1e-5 + 1e-21
    assert "--" not in spatial.cone_sql("ra", "dec", ra0, dec0, radius)
    sql = spatial.cone_sql("ra", "dec", ra0, dec0, radius, ranges_column=None)
    centre = SkyCoord(ra0 * u.deg, dec0 * u.deg)
    angles = np.linspace(0.0, 360.0, 12, endpoint=False) * u.deg
    inner = centre.directional_offset_by(angles, radius * (1 - 1e-6) * u.deg)
    outer = centre.directional_offset_by(angles, radius * (1 + 1e-6) * u.deg)
    for points, expected in ((inner, 12), (outer, 0)):
        rows = ", ".join(
            f"({float(a)!r}, {float(d)!r})"
            for a, d in zip(points.ra.deg, points.dec.deg, strict=True)
        )
        got = (
            con.cursor()
            .execute(f"SELECT count(*) FROM (VALUES {rows}) t(ra, dec) WHERE {sql}")
            .fetchone()
        )
        assert got == (expected,)


# ------------------------------------------------------------------------------------
# Distance, HEALPix and cross-match functions


def test_dist_matches_astropy_from_tiny_to_antipodal() -> None:
    rng = np.random.default_rng(11)
    n = 4000
    ra1 = rng.uniform(0, 360, n)
    dec1 = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    seps = np.concatenate(
        [
            10 ** rng.uniform(-8, -3, n // 4),  # down to 0.036 mas
            rng.uniform(0, 180, n // 4),
            180 - 10 ** rng.uniform(-8, -2, n // 4),  # nearly antipodal
            rng.uniform(0, 1, n // 4) * 0.1 * ARCSEC,
        ]
    )
    start = SkyCoord(ra1 * u.deg, dec1 * u.deg)
    end = start.directional_offset_by(rng.uniform(0, 360, n) * u.deg, seps * u.deg)
    poles = np.array([[0, 90, 180, 89.9], [10, -90, 190, -90], [0, 0, 180, 0], [5, 5, 5, 5]])
    ra1 = np.concatenate([ra1, poles[:, 0]])
    dec1 = np.concatenate([dec1, poles[:, 1]])
    ra2 = np.concatenate([end.ra.deg, poles[:, 2]])
    dec2 = np.concatenate([end.dec.deg, poles[:, 3]])
    pairs = pa.table({"ra1": ra1, "dec1": dec1, "ra2": ra2, "dec2": dec2})  # noqa: F841
    db = duckdb.connect(":memory:")
    spatial.register_udfs(db)
    got = db.execute("SELECT skydock_dist(ra1, dec1, ra2, dec2) AS d FROM pairs").fetchnumpy()["d"]
    expected = SkyCoord(ra1 * u.deg, dec1 * u.deg).separation(SkyCoord(ra2 * u.deg, dec2 * u.deg))
    error = np.abs(got - expected.deg)
    assert np.all(error <= 1e-9), float(error.max())
    small = expected.deg < 1e-3
    # Relative accuracy down to where the positions' own float spacing (~1e-14°) rules.
    assert np.all(error[small] <= 1e-9 * expected.deg[small] + 1e-13)
    assert not np.isnan(got).any()


def test_healpix_udf_matches_cdshealpix_and_passes_nulls(
    con: duckdb.DuckDBPyConnection, sky: dict[str, np.ndarray]
) -> None:
    cur = con.cursor()
    got = cur.execute(
        "SELECT skydock_healpix(ra, dec, 29) = _healpix_29 AS same FROM pts"
    ).fetchnumpy()["same"]
    assert np.asarray(got).all()
    for order in (0, 7, 16):
        rows = cur.execute(
            f"SELECT ra, dec, skydock_healpix(ra, dec, {order}) AS h FROM pts LIMIT 5000"
        ).fetchnumpy()
        expected = hp.lonlat_to_healpix(
            Longitude(rows["ra"], u.deg), Latitude(rows["dec"], u.deg), order
        )
        assert np.array_equal(np.asarray(rows["h"]), expected.astype(np.int64))
    nulls = cur.execute(
        "SELECT skydock_healpix(NULL, 1.0, 29), skydock_healpix(1.0, 95.0, 29), "
        "skydock_healpix(1.0, 'nan'::DOUBLE, 29), skydock_xmatch_cells(NULL, 1.0, 10), "
        "skydock_in_polygon(NULL, 1.0, [0, 0, 1, 0, 1, 1]::DOUBLE[])"
    ).fetchone()
    assert nulls == (None, None, None, None, None)
    with pytest.raises(duckdb.Error, match="order"):
        cur.execute("SELECT skydock_healpix(1.0, 1.0, 30)").fetchall()
    with pytest.raises(duckdb.Error, match="three distinct"):
        cur.execute("SELECT skydock_in_polygon(1.0, 1.0, [0, 0, 1, 1]::DOUBLE[])").fetchall()


def test_udfs_register_on_a_locked_connection_and_reach_cursors() -> None:
    db = duckdb.connect(":memory:")
    db.execute("SET enable_external_access = false")
    db.execute("SET lock_configuration = true")
    spatial.register_udfs(db)
    spatial.register_udfs(db)  # idempotent
    row = (
        db.cursor()
        .execute(
            "SELECT skydock_dist(0, 0, 90, 0), skydock_healpix(0.0, 0.0, 0), "
            "skydock_xmatch_cells(0.0, 0.0, 0), "
            "skydock_in_polygon(5.0, 5.0, [0, 0, 10, 0, 10, 10, 0, 10]::DOUBLE[])"
        )
        .fetchone()
    )
    assert row is not None
    assert row[0] == pytest.approx(90.0, abs=1e-12)
    assert row[1] == 4  # the equatorial base cell centred on RA 0
    expected = hp.neighbours(np.array([4]), 0)[0]
    assert sorted(row[2]) == sorted(int(c) for c in expected if c >= 0)
    assert row[3] is True


def test_xmatch_order_cells_are_wider_than_the_radius() -> None:
    assert spatial.xmatch_order(ARCSEC) == 16  # 3.2″ cells for a 1″ match
    assert spatial.xmatch_order(1e-9) == 29
    previous = 30
    for radius in [1e-7, 0.1 * ARCSEC, ARCSEC, 60 * ARCSEC, 1.0, 10.0, 29.0]:
        order = spatial.xmatch_order(radius)
        assert order <= previous
        previous = order
        cells = np.random.default_rng(order).integers(0, 12 * 4**order, 3000).astype(np.uint64)
        cells = np.unique(
            np.concatenate([cells, np.arange(min(12 * 4**order, 200), dtype=np.uint64)])
        )
        lon, lat = hp.vertices(cells, order)
        corners = SkyCoord(lon, lat)
        edges = corners.separation(SkyCoord(np.roll(lon, -1, axis=1), np.roll(lat, -1, axis=1)))
        assert float(edges.deg.min()) > radius


def crowded_targets(order: int, rng: np.random.Generator) -> SkyCoord:
    """Cell corners at this order near the awkward places, and random points."""
    places = SkyCoord(
        [0, 0, 45, 90, 45, 135, 0, 37] * u.deg,
        [90, -90, BASE_CORNER_DEC, 0, -BASE_CORNER_DEC, 0, 0, 12] * u.deg,
    )
    cells = hp.lonlat_to_healpix(places.ra, places.dec, order)
    block = hp.neighbours(cells, order)
    block = np.unique(block[block >= 0]).astype(np.uint64)
    lon, lat = hp.vertices(block, order)
    corners = SkyCoord(lon.ravel(), lat.ravel())
    centre_lon, centre_lat = hp.healpix_to_lonlat(np.repeat(block, 4), order)
    nudged = corners.directional_offset_by(
        corners.position_angle(SkyCoord(centre_lon, centre_lat)),
        1e-6 * corners.separation(SkyCoord(centre_lon, centre_lat)),
    )
    random_ra = rng.uniform(0, 360, 300) * u.deg
    random_dec = np.degrees(np.arcsin(rng.uniform(-1, 1, 300))) * u.deg
    return SkyCoord(
        np.concatenate([nudged.ra.deg, random_ra.value]) * u.deg,
        np.concatenate([nudged.dec.deg, random_dec.value]) * u.deg,
    )


@pytest.mark.parametrize("radius", [ARCSEC, 10 * ARCSEC, 60 * ARCSEC, 1.0, 10.0])
def test_neighbour_cells_hold_every_partner(radius: float) -> None:
    rng = np.random.default_rng(int(radius * 3600))
    order = spatial.xmatch_order(radius)
    targets = crowded_targets(order, rng)
    directions = 24
    target_rows = np.repeat(np.arange(len(targets)), directions)
    pas = rng.uniform(0, 360, target_rows.size) * u.deg
    seps = radius * rng.choice([1 - 1e-7, 0.999, 0.7], target_rows.size) * u.deg
    partners = targets[target_rows].directional_offset_by(pas, seps)
    close = targets[target_rows].separation(partners).deg < radius
    assert close.mean() > 0.9
    target_rows, partners = target_rows[close], partners[close]
    partner_cells = hp.lonlat_to_healpix(partners.ra, partners.dec, order).astype(np.int64)
    rows, cells = spatial.neighbour_cells(targets.ra.deg, targets.dec.deg, order)
    allowed = set(zip(rows.tolist(), cells.tolist(), strict=True))
    missing = [
        (int(r), int(c))
        for r, c in zip(target_rows, partner_cells, strict=True)
        if (int(r), int(c)) not in allowed
    ]
    assert not missing


def test_neighbour_cells_shape_and_missing_positions(con: duckdb.DuckDBPyConnection) -> None:
    ra = np.array([10.0, np.nan, 45.0, 0.0, 20.0])
    dec = np.array([20.0, 0.0, BASE_CORNER_DEC, 90.0, 91.0])
    rows, cells = spatial.neighbour_cells(ra, dec, 3)
    assert set(rows.tolist()) == {0, 2, 3}
    own = hp.lonlat_to_healpix(Longitude(ra[[0, 2, 3]], u.deg), Latitude(dec[[0, 2, 3]], u.deg), 3)
    for row, cell in zip([0, 2, 3], own.astype(np.int64), strict=True):
        mine = cells[rows == row]
        assert cell in mine and 8 <= len(mine) <= 9 and len(set(mine.tolist())) == len(mine)
        assert np.all(mine >= 0)
    udf = con.cursor().execute("SELECT skydock_xmatch_cells(10.0, 20.0, 3)").fetchone()
    assert udf is not None and sorted(udf[0]) == sorted(cells[rows == 0].tolist())
    empty_rows, empty_cells = spatial.neighbour_cells([], [], 5)
    assert empty_rows.size == 0 and empty_cells.size == 0


# ------------------------------------------------------------------------------------
# The HEALPix arithmetic the range builders rest on, against cdshealpix


def sample_cells(order: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    count = 12 * 4**order
    if order <= 3:  # every cell: all face seams and the 3-cell vertices
        return np.arange(count, dtype=np.int64)
    return np.unique(rng.integers(0, count, 1500)).astype(np.int64)


@pytest.mark.parametrize("order", [0, 1, 2, 3, 8, 16, 23, 29])
def test_cell_geometry_matches_cdshealpix(order: int) -> None:
    rng = np.random.default_rng(order)
    cells = sample_cells(order, rng)
    lon, lat = hp.healpix_to_lonlat(cells.astype(np.uint64), order)
    centre = SkyCoord(lon, lat)
    # Centres, from (face, x, y) as the range builders track cells.
    ix = np.zeros_like(cells)
    iy = np.zeros_like(cells)
    for bit in range(order):
        ix |= ((cells >> (2 * bit)) & 1) << bit
        iy |= ((cells >> (2 * bit + 1)) & 1) << bit
    xyz = spatial._cell_centres(cells >> (2 * order), ix, iy, order)
    got = SkyCoord(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], representation_type="cartesian").spherical
    assert np.all(centre.separation(SkyCoord(got.lon, got.lat)).rad < 1e-14)
    # Every point of a cell lies within the cap radius the builders assume.
    vlon, vlat = hp.vertices(cells.astype(np.uint64), order, step=4)
    reach = centre[:, None].separation(SkyCoord(vlon, vlat)).deg.max()
    assert reach < spatial._CELL_RADIUS_DEG / 2**order
    # The neighbour walk agrees with cdshealpix's.
    expected = hp.neighbours(cells.astype(np.uint64), order)
    for k in range(0, len(cells), max(1, len(cells) // 300)):
        block = spatial._block(float(lon.deg[k]), float(lat.deg[k]), order)[0]
        assert set(block.tolist()) == {int(c) for c in expected[k] if c >= 0}
