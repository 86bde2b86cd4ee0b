"""SQL and ADQL translation, run on a real DuckDB and checked against independent answers.

Every query is translated, executed on the fixture catalog (``conftest.make_sky``) and
compared with numpy/pandas/astropy computed straight from the fixture data; expected
output names are written by hand from PostgreSQL's naming rules.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import SkyCoord, search_around_sky

from skydock.engine.sql import Translation, clear_translation_cache, translate
from skydock.errors import QueryRefusedError, UnknownColumnError, UnknownTableError

from .conftest import Sky


def run(sky: Sky, text: str, language: str = "sql") -> tuple[Translation, pd.DataFrame]:
    translation = translate(text, language, sky.tables)  # type: ignore[arg-type]
    cursor = sky.con.execute(translation.sql)
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    assert names == translation.names, translation.sql
    frame = pd.DataFrame.from_records(rows, columns=range(len(names)))
    frame.columns = names if len(set(names)) == len(names) else list(range(len(names)))
    return translation, frame


def ids(frame: pd.DataFrame, column: str = "id") -> set[int]:
    return {int(v) for v in frame[column]}


def cone_truth(sky: Sky, ra: float, dec: float, radius: float) -> set[int]:
    centre = SkyCoord(ra * u.deg, dec * u.deg)
    sep = sky.coords(sky.objects).separation(centre).deg
    return set(sky.objects["id"][sep <= radius].astype(int))


def pairs_truth(sky: Sky, radius_deg: float) -> set[tuple[int, int]]:
    i, j, _, _ = search_around_sky(
        sky.coords(sky.objects), sky.coords(sky.other), radius_deg * u.deg
    )
    return set(
        zip(
            sky.objects["id"].to_numpy()[i].tolist(),
            sky.other["oid"].to_numpy()[j].tolist(),
            strict=True,
        )
    )


def plan_operators(sky: Sky, sql: str) -> list[str]:
    """Operator names of DuckDB's physical plan."""
    ((_, text),) = sky.con.execute("EXPLAIN (FORMAT JSON) " + sql).fetchall()
    names: list[str] = []
    stack = list(json.loads(text))
    while stack:
        node = stack.pop()
        names.append(node["name"])
        stack.extend(node.get("children", []))
    return names


CONES = [(10.0, 20.0, 8.0), (0.3, 1.2, 2.0), (359.8, 0.5, 1.5), (45.0, 88.5, 3.0), (0.0, 90.0, 2.5)]


# --- cones ---------------------------------------------------------------------------


@pytest.mark.parametrize(("ra", "dec", "radius"), CONES)
def test_q3c_radial_query_cone_matches_astropy(sky: Sky, ra: float, dec: float, radius: float):
    text = f"SELECT id FROM demo.objects WHERE q3c_radial_query(ra, dec, {ra}, {dec}, {radius})"
    translation, frame = run(sky, text)
    truth = cone_truth(sky, ra, dec, radius)
    assert truth  # the fixture puts objects in every test cone
    assert ids(frame) == truth
    assert "_healpix_29" in translation.sql  # the pruning filter is there


@pytest.mark.parametrize(("ra", "dec", "radius"), CONES[1:4])
def test_adql_contains_circle_matches_astropy(sky: Sky, ra: float, dec: float, radius: float):
    truth = cone_truth(sky, ra, dec, radius)
    for where in (
        f"1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', {ra}, {dec}, {radius}))",
        f"CONTAINS(POINT('', o.ra, o.dec), CIRCLE('ICRS GEOCENTER', {ra}, {dec}, {radius})) = 1",
        f"CONTAINS(POINT(ra, dec), CIRCLE(POINT({ra}, {dec}), {radius})) = 1",
        f"DISTANCE(POINT('ICRS', ra, dec), POINT('ICRS', {ra}, {dec})) <= {radius}",
        f"{radius} >= DISTANCE(ra, dec, {ra}, {dec})",
        f"INTERSECTS(CIRCLE('ICRS', {ra}, {dec}, {radius}), POINT('ICRS', ra, dec)) = 1",
    ):
        translation, frame = run(sky, f"SELECT id FROM demo.objects AS o WHERE {where}", "adql")
        assert ids(frame) == truth, where
        assert "_healpix_29" in translation.sql, where


def test_cone_qualified_by_alias_and_upper_case_function(sky: Sky):
    text = (
        "SELECT o.id FROM demo.objects o JOIN demo.other t ON t.flags = o.flags "
        "WHERE Q3C_RADIAL_QUERY(o.ra, o.dec, 0.3, 1.2, 0.2) AND t.oid = 5"
    )
    translation, frame = run(sky, text)
    assert '"o"."_healpix_29"' in translation.sql
    cone = cone_truth(sky, 0.3, 1.2, 0.2)
    flag = int(sky.other.loc[sky.other["oid"] == 5, "flags"].iloc[0])
    truth = {
        i for i in cone if int(sky.objects.loc[sky.objects["id"] == i, "flags"].iloc[0]) == flag
    }
    assert ids(frame) == truth


def test_cone_negation_and_computed_positions_use_exact_test(sky: Sky):
    truth = cone_truth(sky, 0.3, 1.2, 2.0)
    everything = set(sky.objects["id"].astype(int))
    translation, frame = run(
        sky,
        "SELECT id FROM demo.objects WHERE "
        "CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 0.3, 1.2, 2.0)) = 0",
        "adql",
    )
    assert "_healpix_29" not in translation.sql
    assert ids(frame) == everything - truth
    translation, frame = run(
        sky, "SELECT id FROM demo.objects WHERE q3c_radial_query(ra + 0, dec, 0.3, 1.2, 2.0)"
    )
    assert "_healpix_29" not in translation.sql
    assert ids(frame) == truth


def test_cone_inside_or_keeps_exact_semantics(sky: Sky):
    text = (
        "SELECT id FROM demo.objects WHERE q3c_radial_query(ra, dec, 0.3, 1.2, 1.0) "
        "OR q3c_radial_query(ra, dec, 45, 88.5, 1.0)"
    )
    _, frame = run(sky, text)
    assert ids(frame) == cone_truth(sky, 0.3, 1.2, 1.0) | cone_truth(sky, 45, 88.5, 1.0)


def test_contains_as_a_value_is_zero_or_one(sky: Sky):
    text = (
        "SELECT id, CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 0.3, 1.2, 2)) AS inside "
        "FROM demo.objects WHERE id <= 3000"
    )
    _, frame = run(sky, text, "adql")
    truth = cone_truth(sky, 0.3, 1.2, 2.0)
    assert set(frame["inside"]) <= {0, 1}
    assert {int(i) for i, v in zip(frame["id"], frame["inside"], strict=True) if v == 1} == {
        i for i in truth if i <= 3000
    }


# --- distances -----------------------------------------------------------------------


def test_distance_forms_and_q3c_dist_match_astropy(sky: Sky):
    sample = sky.objects[sky.objects["id"] <= 200].sort_values("id")
    truth = sky.coords(sample).separation(SkyCoord(10 * u.deg, -30 * u.deg)).deg
    for text, language in (
        (
            "SELECT id, DISTANCE(POINT('ICRS', ra, dec), POINT('ICRS', 10, -30)) AS d "
            "FROM demo.objects WHERE id <= 200 ORDER BY id",
            "adql",
        ),
        (
            "SELECT id, DISTANCE(ra, dec, 10, -30) AS d FROM demo.objects WHERE id <= 200 "
            "ORDER BY id",
            "adql",
        ),
        (
            "SELECT id, q3c_dist(ra, dec, 10, -30) AS d FROM demo.objects WHERE id <= 200 "
            "ORDER BY id",
            "sql",
        ),
    ):
        _, frame = run(sky, text, language)
        np.testing.assert_allclose(frame["d"].to_numpy(float), truth, rtol=0, atol=1e-9)


def test_unaliased_distance_is_named_after_the_function(sky: Sky):
    translation, frame = run(sky, "SELECT q3c_dist(ra, dec, 0, 0) FROM demo.objects LIMIT 2")
    assert translation.names == ["q3c_dist"]
    assert len(frame) == 2
    assert translation.columns[0] is not None and translation.columns[0].unit == "deg"


# --- crossmatch ----------------------------------------------------------------------

XMATCH = [
    (
        "sql",
        "SELECT o.id, t.oid FROM demo.objects o JOIN demo.other t "
        "ON q3c_join(o.ra, o.dec, t.ra, t.dec, {r})",
    ),
    (
        "sql",
        "SELECT o.id, t.oid FROM demo.objects o, demo.other t "
        "WHERE q3c_join(t.ra, t.dec, o.ra, o.dec, {r})",
    ),
    (
        "sql",
        "SELECT o.id, t.oid FROM demo.other t JOIN demo.objects o "
        "ON q3c_radial_query(o.ra, o.dec, t.ra, t.dec, {r})",
    ),
    (
        "adql",
        "SELECT o.id, t.oid FROM demo.objects AS o JOIN demo.other AS t "
        "ON 1 = CONTAINS(POINT('ICRS', o.ra, o.dec), CIRCLE('ICRS', t.ra, t.dec, {r}))",
    ),
    (
        "adql",
        "SELECT o.id, t.oid FROM demo.objects AS o, demo.other AS t "
        "WHERE DISTANCE(POINT('ICRS', o.ra, o.dec), POINT('ICRS', t.ra, t.dec)) < {r}",
    ),
]


@pytest.mark.parametrize(("language", "template"), XMATCH)
def test_crossmatch_pairs_equal_search_around_sky(sky: Sky, language: str, template: str):
    radius = 1.0 / 3600
    translation, frame = run(sky, template.format(r=radius), language)
    got = list(zip(frame["id"].astype(int), frame["oid"].astype(int), strict=True))
    assert len(got) == len(set(got))  # no duplicate pairs
    truth = pairs_truth(sky, radius)
    assert len(truth) > 300
    assert set(got) == truth
    operators = plan_operators(sky, translation.sql)
    assert "HASH_JOIN" in operators
    slow = {"NESTED_LOOP_JOIN", "BLOCKWISE_NL_JOIN", "PIECEWISE_MERGE_JOIN", "CROSS_PRODUCT"}
    assert not slow & set(operators), operators


def test_crossmatch_with_derived_table_and_star_hides_helper_column(sky: Sky):
    text = (
        "SELECT * FROM (SELECT oid, ra, dec FROM demo.other WHERE mag < 30) AS t "
        "JOIN demo.objects o ON q3c_join(t.ra, t.dec, o.ra, o.dec, 0.0003)"
    )
    translation, frame = run(sky, text)
    assert translation.names == [
        "oid",
        "ra",
        "dec",
        "id",
        "ra",
        "dec",
        "g",
        "r",
        "type",
        "random_id",
        "flags",
    ]
    got = set(zip(frame.iloc[:, 3].astype(int), frame.iloc[:, 0].astype(int), strict=True))
    assert got == pairs_truth(sky, 0.0003)


def test_crossmatch_left_join_keeps_unmatched_rows(sky: Sky):
    text = (
        "SELECT t.oid, o.id FROM demo.other t LEFT JOIN demo.objects o "
        "ON q3c_join(t.ra, t.dec, o.ra, o.dec, 0.0003) WHERE t.oid <= 1200"
    )
    translation, frame = run(sky, text)
    assert "HASH_JOIN" in plan_operators(sky, translation.sql)
    truth = pairs_truth(sky, 0.0003)
    matched = {
        (int(o), int(t)) for t, o in zip(frame["oid"], frame["id"], strict=True) if not pd.isna(o)
    }
    assert matched == {(i, j) for i, j in truth if j <= 1200}
    assert set(frame["oid"].astype(int)) == set(range(1, 1201))
    assert len(frame) == 1200 - len({j for _, j in matched}) + len(matched)  # no repeats


def test_crossmatch_right_join_keeps_unmatched_rows(sky: Sky):
    text = (
        "SELECT o.id, t.oid FROM demo.objects o RIGHT JOIN demo.other t "
        "ON q3c_join(o.ra, o.dec, t.ra, t.dec, 0.0003) WHERE t.oid > 2500"
    )
    translation, frame = run(sky, text)
    assert "HASH_JOIN" in plan_operators(sky, translation.sql)
    matched = {
        (int(o), int(t)) for o, t in zip(frame["id"], frame["oid"], strict=True) if not pd.isna(o)
    }
    assert matched == {(i, j) for i, j in pairs_truth(sky, 0.0003) if j > 2500}
    unmatched = [t for o, t in zip(frame["id"], frame["oid"], strict=True) if pd.isna(o)]
    assert len(unmatched) == len(set(unmatched)) == 500 - len({j for _, j in matched})


def test_crossmatch_self_join_at_pole_and_ra_zero(sky: Sky):
    text = (
        "SELECT a.id AS a, b.id AS b FROM demo.objects a JOIN demo.objects b "
        "ON q3c_join(a.ra, a.dec, b.ra, b.dec, 0.02) WHERE a.id < b.id"
    )
    _, frame = run(sky, text)
    coords = sky.coords(sky.objects)
    i, j, _, _ = search_around_sky(coords, coords, 0.02 * u.deg)
    idv = sky.objects["id"].to_numpy()
    truth = {(int(idv[x]), int(idv[y])) for x, y in zip(i, j, strict=True) if idv[x] < idv[y]}
    got = set(zip(frame["a"].astype(int), frame["b"].astype(int), strict=True))
    assert len(got) == len(frame)
    assert got == truth


# --- polygons and boxes --------------------------------------------------------------


def inside_convex(
    ra: np.ndarray, dec: np.ndarray, vertices: list[tuple[float, float]]
) -> np.ndarray:
    """Points on the inner side of every great-circle edge of a convex polygon."""

    def unit(lon, lat):
        lon, lat = np.radians(lon), np.radians(lat)
        return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)

    p = unit(np.asarray(ra), np.asarray(dec))
    v = unit(np.array([x for x, _ in vertices]), np.array([y for _, y in vertices]))
    normals = np.array([np.cross(v[k], v[(k + 1) % len(v)]) for k in range(len(v))])
    centre = v.sum(axis=0)
    normals *= np.sign(normals @ centre)[:, None]  # orient every edge towards the inside
    return np.all(normals @ p.T >= 0, axis=0)


POLY = [(358.0, -1.0), (3.0, -1.5), (2.5, 3.0), (359.0, 2.5)]


def test_polygon_forms_match_independent_test(sky: Sky):
    truth_mask = inside_convex(sky.objects["ra"].to_numpy(), sky.objects["dec"].to_numpy(), POLY)
    truth = set(sky.objects["id"][truth_mask].astype(int))
    assert len(truth) > 100
    flat = ", ".join(f"{v}" for p in POLY for v in p)
    pg_pairs = ",".join(f"({x},{y})" for x, y in POLY)
    points = ", ".join(f"POINT('ICRS', {x}, {y})" for x, y in POLY)
    for text, language in (
        (f"SELECT id FROM demo.objects WHERE q3c_poly_query(ra, dec, ARRAY[{flat}])", "sql"),
        (
            f"SELECT id FROM demo.objects WHERE q3c_poly_query(ra, dec, "
            f"'{{{flat}}}'::double precision[])",
            "sql",
        ),
        (
            f"SELECT id FROM demo.objects WHERE q3c_poly_query(ra, dec, '({pg_pairs})'::polygon)",
            "sql",
        ),
        (
            f"SELECT id FROM demo.objects WHERE "
            f"1 = CONTAINS(POINT('ICRS', ra, dec), POLYGON('ICRS', {flat}))",
            "adql",
        ),
        (
            f"SELECT id FROM demo.objects WHERE "
            f"CONTAINS(POINT('ICRS', ra, dec), POLYGON({points})) = 1",
            "adql",
        ),
    ):
        translation, frame = run(sky, text, language)
        assert ids(frame) == truth, text
        assert "_healpix_29" in translation.sql


def test_polygon_negation_is_the_complement(sky: Sky):
    flat = ", ".join(f"{v}" for p in POLY for v in p)
    _, inside = run(
        sky,
        f"SELECT id FROM demo.objects WHERE "
        f"CONTAINS(POINT('ICRS', ra, dec), POLYGON('ICRS', {flat})) = 1",
        "adql",
    )
    _, outside = run(
        sky,
        f"SELECT id FROM demo.objects WHERE "
        f"CONTAINS(POINT('ICRS', ra, dec), POLYGON('ICRS', {flat})) = 0",
        "adql",
    )
    assert ids(inside) | ids(outside) == set(sky.objects["id"].astype(int))
    assert not ids(inside) & ids(outside)


def test_box_selects_points_well_inside_and_none_well_outside(sky: Sky):
    text = (
        "SELECT id FROM demo.objects WHERE "
        "CONTAINS(POINT('ICRS', ra, dec), BOX('ICRS', 0.5, 1.0, 4, 2)) = 1"
    )
    translation, frame = run(sky, text, "adql")
    assert "_healpix_29" in translation.sql
    got = ids(frame)
    dra = ((sky.objects["ra"] - 0.5 + 180) % 360) - 180
    ddec = sky.objects["dec"] - 1.0
    inner = set(sky.objects["id"][(dra.abs() < 1.9) & (ddec.abs() < 0.9)].astype(int))
    outer = set(sky.objects["id"][(dra.abs() < 2.1) & (ddec.abs() < 1.1)].astype(int))
    assert inner and inner <= got <= outer


def test_area_of_constant_regions(sky: Sky):
    text = (
        "SELECT AREA(CIRCLE('ICRS', 10, 20, 1)) AS c, AREA(CIRCLE('', 0, 0, 90)) AS h, "
        "AREA(POLYGON('ICRS', 0, 0, 90, 0, 0, 90)) AS octant, "
        "AREA(POLYGON('ICRS', 0, 90, 90, 0, 0, 0)) AS reversed"
    )
    _, frame = run(sky, text, "adql")
    sq = (180 / math.pi) ** 2
    assert frame["c"][0] == pytest.approx(2 * math.pi * (1 - math.cos(math.radians(1))) * sq)
    assert frame["h"][0] == pytest.approx(2 * math.pi * sq)
    assert frame["octant"][0] == pytest.approx(4 * math.pi / 8 * sq)
    assert frame["reversed"][0] == pytest.approx(4 * math.pi / 8 * sq)


def test_geometry_values_are_dali_arrays(sky: Sky):
    text = (
        "SELECT TOP 1 POINT('ICRS', 10, 20) AS p, CIRCLE('ICRS', 10, 20, 0.5) AS c, "
        "POLYGON('ICRS', 1, 2, 3, 4, 5, 6), COORD1(POINT('ICRS', 10, 20)) AS x, "
        "COORD2(POINT('ICRS', 10, 20)) AS y, COORDSYS(POINT('ICRS', 10, 20)) AS s, "
        "CENTROID(CIRCLE('ICRS', 10, 20, 1)) AS m FROM demo.objects"
    )
    translation, frame = run(sky, text, "adql")
    assert translation.names == ["p", "c", "polygon", "x", "y", "s", "m"]
    assert list(frame["p"][0]) == [10, 20]
    assert list(frame["c"][0]) == [10, 20, 0.5]
    assert list(frame["polygon"][0]) == [1, 2, 3, 4, 5, 6]
    assert (frame["x"][0], frame["y"][0], frame["s"][0]) == (10, 20, "ICRS")
    assert list(frame["m"][0]) == [10, 20]
    assert translation.columns[0] is not None and translation.columns[0].datatype == "DOUBLE[2]"


def test_intersects_circle_circle(sky: Sky):
    text = (
        "SELECT id FROM demo.objects WHERE "
        "INTERSECTS(CIRCLE('ICRS', ra, dec, 0.5), CIRCLE('ICRS', 0.3, 1.2, 1.0)) = 1"
    )
    _, frame = run(sky, text, "adql")
    assert ids(frame) == cone_truth(sky, 0.3, 1.2, 1.5)


def test_circle_inside_circle(sky: Sky):
    text = (
        "SELECT id FROM demo.objects WHERE "
        "CONTAINS(CIRCLE('ICRS', ra, dec, 0.5), CIRCLE('ICRS', 0.3, 1.2, 1.0)) = 1"
    )
    _, frame = run(sky, text, "adql")
    assert ids(frame) == cone_truth(sky, 0.3, 1.2, 0.5)


@pytest.mark.parametrize("frame_name", ["GALACTIC", "FK4", "ecliptic"])
def test_other_coordinate_systems_are_refused(sky: Sky, frame_name: str):
    with pytest.raises(QueryRefusedError, match=f"coordinate system '{frame_name}'"):
        translate(
            f"SELECT id FROM demo.objects WHERE CONTAINS(POINT('{frame_name}', ra, dec), "
            "CIRCLE('ICRS', 1, 2, 3)) = 1",
            "adql",
            sky.tables,
        )


# --- ADQL core -----------------------------------------------------------------------


def test_top_and_offset(sky: Sky):
    _, frame = run(sky, "SELECT TOP 5 id FROM demo.objects ORDER BY id OFFSET 10", "adql")
    assert list(frame["id"]) == [11, 12, 13, 14, 15]
    _, frame = run(
        sky,
        "SELECT DISTINCT TOP 3 type FROM demo.objects WHERE type IS NOT NULL ORDER BY 1",
        "adql",
    )
    assert list(frame["type"]) == sorted(sky.objects["type"].dropna().unique())[:3]


def test_adql_math_functions(sky: Sky):
    text = (
        "SELECT TOP 1 LOG(8.0) AS ln8, LOG10(1000.0) AS l, POWER(2, 10) AS p, SQRT(16.0) AS s, "
        "ABS(-3) AS a, CEILING(1.2) AS c, FLOOR(1.8) AS f, ROUND(2.567, 2) AS r2, "
        "ROUND(2.5) AS r0, TRUNCATE(2.567, 1) AS t, MOD(17, 5) AS m, PI() AS pi, EXP(1.0) AS e, "
        "SIN(PI()/2) AS si, COS(0) AS co, TAN(0) AS ta, ASIN(1) AS asi, ACOS(1) AS aco, "
        "ATAN(1) AS at, ATAN2(1, 1) AS at2, COT(PI()/4) AS ct, DEGREES(PI()) AS de, "
        "RADIANS(180) AS ra, SIGN(-2.5) AS sg, RAND() AS rnd FROM demo.objects"
    )
    _, frame = run(sky, text, "adql")
    row = frame.iloc[0]
    assert row["ln8"] == pytest.approx(math.log(8.0))  # ADQL LOG is the natural log
    assert row["l"] == pytest.approx(3.0)
    assert row["p"] == pytest.approx(1024)
    assert row["s"] == pytest.approx(4)
    assert (row["a"], row["c"], row["f"], row["m"]) == (3, 2, 1, 2)
    assert float(row["r2"]) == pytest.approx(2.57)
    assert float(row["r0"]) == pytest.approx(3.0)
    assert float(row["t"]) == pytest.approx(2.5)
    assert row["pi"] == pytest.approx(math.pi)
    assert row["e"] == pytest.approx(math.e)
    assert (row["si"], row["co"], row["ta"]) == pytest.approx((1, 1, 0))
    assert (row["asi"], row["aco"], row["at"], row["at2"]) == pytest.approx(
        (math.pi / 2, 0, math.pi / 4, math.pi / 4)
    )
    assert row["ct"] == pytest.approx(1.0)
    assert (row["de"], row["ra"]) == pytest.approx((180.0, math.pi))
    assert row["sg"] == -1
    assert 0 <= row["rnd"] < 1


def test_adql_strings_and_predicates(sky: Sky):
    text = (
        "SELECT id, UPPER(type) AS up, LOWER(type) AS lo, type || '-' || 'x' AS cat, "
        "CAST(flags AS DOUBLE PRECISION) AS fl, CASE WHEN g > 20 THEN 'faint' ELSE 'bright' END "
        "AS kind, COALESCE(type, 'none') AS t FROM demo.objects "
        "WHERE type ILIKE 'star' AND g BETWEEN 19 AND 21.5 AND g IS NOT NULL AND type LIKE 'S%'"
    )
    _, frame = run(sky, text, "adql")
    o = sky.objects
    mask = (
        (o["type"].str.lower() == "star")
        & o["g"].between(19, 21.5)
        & (o["g_state"] != "null")
        & o["type"].str.startswith("S").fillna(False)
    )
    expected = o[mask].set_index("id")
    assert ids(frame) == set(expected.index)
    for _, row in frame.iterrows():
        source = expected.loc[row["id"]]
        assert row["up"] == source["type"].upper() and row["lo"] == source["type"].lower()
        assert row["cat"] == source["type"] + "-x"
        assert row["kind"] == ("faint" if source["g"] > 20 else "bright")
        assert row["fl"] == float(source["flags"])


def test_adql_subqueries_joins_and_sets(sky: Sky):
    o, t = sky.objects, sky.other
    _, frame = run(
        sky,
        "SELECT oid FROM demo.other WHERE flags IN (SELECT flags FROM demo.objects WHERE id = 7) "
        "AND EXISTS (SELECT 1 FROM demo.objects AS x WHERE x.id = demo.other.oid AND x.g > 20)",
        "adql",
    )
    flag = int(o.loc[o["id"] == 7, "flags"].iloc[0])
    faint = set(o["id"][(o["g"] > 20) | (o["g_state"] == "nan")].astype(int))  # NaN > 20
    assert ids(frame, "oid") == {
        int(i) for i, f in zip(t["oid"], t["flags"], strict=True) if f == flag and i in faint
    }

    _, frame = run(
        sky,
        "SELECT flags, COUNT(*) AS n FROM demo.objects GROUP BY flags "
        "HAVING COUNT(*) > 10 ORDER BY n DESC, 1",
        "adql",
    )
    counts = o.groupby("flags").size().sort_values(ascending=False)
    assert dict(zip(frame["flags"], frame["n"], strict=True)) == {
        int(k): int(v)  # type: ignore[call-overload]
        for k, v in counts.items()
    }

    _, frame = run(
        sky,
        "SELECT flags FROM demo.objects WHERE id < 50 UNION "
        "SELECT flags FROM demo.other WHERE oid < 3 ORDER BY flags",
        "adql",
    )
    assert list(frame["flags"]) == sorted(
        set(o["flags"][o["id"] < 50]) | set(t["flags"][t["oid"] < 3])
    )
    _, frame = run(
        sky,
        "SELECT flags FROM demo.objects INTERSECT SELECT flags FROM demo.other WHERE oid = 1",
        "adql",
    )
    assert set(frame["flags"]) == set(t["flags"][t["oid"] == 1])
    _, frame = run(
        sky,
        "SELECT flags FROM demo.objects WHERE id < 100 EXCEPT "
        "SELECT flags FROM demo.other WHERE oid = 1",
        "adql",
    )
    assert set(frame["flags"]) == set(o["flags"][o["id"] < 100]) - set(t["flags"][t["oid"] == 1])
    _, frame = run(
        sky,
        "WITH faint AS (SELECT id, g FROM demo.objects WHERE g > 23) "
        "SELECT COUNT(*) AS n FROM faint",
        "adql",
    )
    assert frame["n"][0] == int(((o["g"] > 23) | (o["g_state"] == "nan")).sum())


def test_join_forms(sky: Sky):
    o = sky.objects[sky.objects["id"] <= 30][["id", "flags"]]
    t = sky.other[sky.other["oid"] <= 30][["oid", "flags"]]
    small_o = "(SELECT id, flags FROM demo.objects WHERE id <= 30)"
    small_t = "(SELECT oid, flags FROM demo.other WHERE oid <= 30)"
    _, frame = run(sky, f"SELECT * FROM {small_o} AS a JOIN {small_t} AS b USING (flags)")
    assert frame.columns.tolist() == ["flags", "id", "oid"]
    assert len(frame) == len(o.merge(t, on="flags"))
    _, frame = run(sky, f"SELECT * FROM {small_o} AS a NATURAL JOIN {small_t} AS b", "adql")
    assert frame.columns.tolist() == ["flags", "id", "oid"]
    assert len(frame) == len(o.merge(t, on="flags"))
    for side, how in (("LEFT OUTER", "left"), ("RIGHT OUTER", "right"), ("FULL OUTER", "outer")):
        _, frame = run(
            sky,
            f"SELECT a.id, b.oid FROM {small_o} AS a {side} JOIN {small_t} AS b "
            "ON a.flags = b.flags AND a.id < b.oid",
            "adql",
        )
        merged = o.merge(t, on="flags", how="inner")
        inner = merged[merged["id"] < merged["oid"]]
        expected = len(inner)
        if how in ("left", "outer"):
            expected += len(set(o["id"]) - set(inner["id"]))
        if how in ("right", "outer"):
            expected += len(set(t["oid"]) - set(inner["oid"]))
        assert len(frame) == expected, side


# --- PostgreSQL flavour --------------------------------------------------------------

NAMES = [
    ("SELECT count(*) FROM demo.objects", ["count"]),
    (
        "SELECT COUNT(*), Avg(g), max(r), stddev(g) FROM demo.objects",
        ["count", "avg", "max", "stddev"],
    ),
    (
        'SELECT RA, o.Dec, ra AS Alpha, ra AS "Alpha" FROM demo.objects o LIMIT 1',
        ["ra", "dec", "alpha", "Alpha"],
    ),
    (
        "SELECT ra::int, 1::int, '1'::float, g::real, id::text, ra::numeric, id::bigint, "
        "ra::double precision FROM demo.objects LIMIT 1",
        ["ra", "int4", "float8", "g", "id", "ra", "id", "ra"],
    ),
    ("SELECT ra + 1, 1, 'x', -ra, g > 20, ra IS NULL FROM demo.objects LIMIT 1", ["?column?"] * 6),
    (
        "SELECT round(ra, 2), q3c_dist(ra, dec, 1, 2), Q3C_DIST(ra, dec, 1, 2), coalesce(g, 0), "
        "greatest(g, r), nullif(g, 0), now() IS NOT NULL FROM demo.objects LIMIT 1",
        ["round", "q3c_dist", "q3c_dist", "coalesce", "greatest", "nullif", "?column?"],
    ),
    (
        "SELECT CASE WHEN g > 20 THEN 1 ELSE 0 END, CASE WHEN g > 20 THEN 1 ELSE ra END, true, "
        "(SELECT max(mag) FROM demo.other), ARRAY[1, 2], EXISTS (SELECT 1) "
        "FROM demo.objects LIMIT 1",
        ["case", "ra", "bool", "max", "array", "exists"],
    ),
    (
        "SELECT lower(type), substring(type from 1 for 2), position('A' in type), trim(type), "
        "length(type) FROM demo.objects LIMIT 1",
        ["lower", "substring", "position", "btrim", "length"],
    ),
    ("SELECT * FROM demo.other LIMIT 1", ["oid", "ra", "dec", "mag", "flags"]),
    (
        "SELECT t.*, o.id FROM demo.other t, demo.objects o LIMIT 1",
        ["oid", "ra", "dec", "mag", "flags", "id"],
    ),
    ("SELECT x.count FROM (SELECT count(*) FROM demo.objects) x", ["count"]),
    ("SELECT a, b FROM (SELECT id, ra FROM demo.objects LIMIT 1) AS x(a, b)", ["a", "b"]),
    (
        "SELECT mod(flags, 3), flags % 3, string_agg(type, ',') FROM demo.objects GROUP BY flags",
        ["mod", "?column?", "string_agg"],
    ),
    ("SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v", ["column1", "column2"]),
    ("SELECT column2 FROM (VALUES (1, 'a')) AS v", ["column2"]),
]


@pytest.mark.parametrize(("text", "expected"), NAMES)
def test_output_names_follow_postgresql(sky: Sky, text: str, expected: list[str]):
    translation, _ = run(sky, text)
    assert translation.names == expected


def test_adql_names_count_alias_and_delimited(sky: Sky):
    translation, frame = run(sky, 'SELECT COUNT(*) AS nr, MAX("g") FROM demo.objects', "adql")
    assert translation.names == ["nr", "max"]
    assert frame["nr"][0] == len(sky.objects)


def test_column_metadata_follows_plain_columns(sky: Sky):
    translation, _ = run(sky, "SELECT ra AS alpha, dec, ra + 1 FROM demo.objects o LIMIT 1")
    alpha, dec, expr = translation.columns
    assert alpha is not None and alpha.name == "alpha" and alpha.unit == "deg"
    assert dec is not None and dec.ucd == "pos.eq.dec;meta.main"
    assert expr is None
    assert translation.tables == ["demo.objects"]


def test_log_is_base_ten_in_postgresql_and_ln_natural(sky: Sky):
    _, frame = run(
        sky, "SELECT log(1000.0) AS a, ln(100.0) AS b, log(2.0, 8.0) AS c, log10(100) AS d"
    )
    assert frame["a"][0] == pytest.approx(3.0)
    assert frame["b"][0] == pytest.approx(math.log(100.0))
    assert frame["c"][0] == pytest.approx(3.0)
    assert frame["d"][0] == pytest.approx(2.0)


def test_integer_division_and_numeric_precision(sky: Sky):
    _, frame = run(
        sky,
        "SELECT 7/2 AS a, -7/2 AS b, 7.0/2 AS c, flags/2 AS d, id FROM demo.objects WHERE id = 3",
    )
    assert (frame["a"][0], frame["b"][0], frame["c"][0]) == (3, -3, 3.5)
    flags = int(sky.objects.loc[sky.objects["id"] == 3, "flags"].iloc[0])
    assert frame["d"][0] == flags // 2
    ra = float(sky.objects.loc[sky.objects["id"] == 3, "ra"].iloc[0])
    _, frame = run(
        sky, "SELECT ra::numeric AS n, round(ra::numeric, 4) AS r FROM demo.objects WHERE id = 3"
    )
    assert float(frame["n"][0]) == pytest.approx(ra, abs=1e-12)
    assert float(frame["r"][0]) == pytest.approx(round(ra, 4), abs=1e-9)


def test_casts(sky: Sky):
    _, frame = run(
        sky,
        "SELECT g::float AS a, g::real AS b, ra::int AS c, ra::bigint AS d, flags::text AS e, "
        "ra::numeric(10,2) AS f, ra::double precision AS g2, CAST(flags AS smallint) AS h, "
        "'3.5'::float AS i, '{1,2}'::double precision[] AS j FROM demo.objects WHERE id = 5",
    )
    src = sky.objects[sky.objects["id"] == 5].iloc[0]
    assert frame["c"][0] == round(src["ra"]) and frame["d"][0] == round(src["ra"])
    assert frame["e"][0] == str(src["flags"])
    assert float(frame["f"][0]) == pytest.approx(round(src["ra"], 2))
    assert frame["i"][0] == 3.5
    assert list(frame["j"][0]) == [1.0, 2.0]


def test_nan_and_infinity_literals_behave_as_in_postgresql(sky: Sky):
    state = sky.objects.set_index("id")["g_state"]
    nan_ids = set(state.index[state == "nan"])
    null_ids = set(state.index[state == "null"])
    values = int((state == "value").sum())
    assert nan_ids and null_ids
    _, frame = run(sky, "SELECT id FROM demo.objects WHERE g = 'nan'")
    assert ids(frame) == nan_ids  # PostgreSQL: NaN = NaN is true
    _, frame = run(sky, "SELECT id FROM demo.objects WHERE g = 'NaN'::float")
    assert ids(frame) == nan_ids
    _, frame = run(sky, "SELECT count(*) AS n FROM demo.objects WHERE g != 'NaN'")
    assert frame["n"][0] == values
    _, frame = run(
        sky, "SELECT count(*) AS n FROM demo.objects WHERE g < 'Infinity' AND g > '-Infinity'"
    )
    assert frame["n"][0] == values
    _, frame = run(sky, "SELECT count(*) AS n FROM demo.objects WHERE g <> 'nan' OR g IS NULL")
    assert frame["n"][0] == values + len(null_ids)
    # NULLs are largest, then NaN above every number: DESC lists NULLs, then NaNs.
    n_odd = len(null_ids) + len(nan_ids)
    _, frame = run(sky, f"SELECT id, g FROM demo.objects ORDER BY g DESC LIMIT {n_odd + 1}")
    assert set(frame["id"][: len(null_ids)]) == null_ids
    assert set(frame["id"][len(null_ids) : n_odd]) == nan_ids
    assert frame["id"][n_odd] in set(state.index[state == "value"])
    _, frame = run(sky, "SELECT id FROM demo.objects WHERE r = 'nan'")
    assert ids(frame) == set(sky.objects["id"][sky.objects["r"].isna()].astype(int))


def test_string_functions(sky: Sky):
    text = (
        "SELECT id, substring(type from 2 for 3) AS a, substr(type, 1, 2) AS b, "
        "position('A' in type) AS c, length(type) AS d, concat(type, '_', id) AS e, "
        "trim('  ' || type || ' ') AS f, split_part('a,b,c', ',', 2) AS h, "
        "replace(type, 'A', 'a') AS i, left(type, 1) AS j, right(type, 1) AS k, "
        "strpos(type, 'S') AS l, concat_ws('/', type, 'x') AS m FROM demo.objects "
        "WHERE type ILIKE 'galaxy' AND id < 500"
    )
    _, frame = run(sky, text)
    assert len(frame) > 0
    for _, row in frame.iterrows():
        assert (row["a"], row["b"], row["c"], row["d"]) == ("ALA", "GA", 2, 6)
        assert row["e"] == f"GALAXY_{row['id']}"
        assert (row["f"], row["h"], row["i"]) == ("GALAXY", "b", "GaLaXY")
        assert (row["j"], row["k"], row["l"], row["m"]) == ("G", "Y", 0, "GALAXY/x")


def test_regular_expression_operators(sky: Sky):
    _, frame = run(
        sky,
        "SELECT id FROM demo.objects WHERE type ~ '^S' AND type !~ 'A' AND type ~* 'r$'",
    )
    t = sky.objects["type"].fillna("")
    mask = t.str.match("^S") & ~t.str.contains("A") & t.str.contains("(?i)r$")
    assert ids(frame) == set(sky.objects["id"][mask].astype(int))
    assert len(frame) > 0


def test_aggregates_and_math(sky: Sky):
    o = sky.objects
    text = (
        "SELECT type, count(*) AS n, avg(r) AS mean, stddev(r) AS sd, variance(r) AS var, "
        "min(r) AS lo, max(r) AS hi, sum(flags) AS s, bool_and(flags < 8) AS all8, "
        "bool_or(flags = 7) AS any7, percentile_cont(0.5) WITHIN GROUP (ORDER BY r) AS med "
        "FROM demo.objects WHERE r < 'Infinity' AND type IS NOT NULL GROUP BY type ORDER BY type"
    )
    _, frame = run(sky, text)
    sub = o[o["r"].notna() & o["type"].notna()]
    grouped = sub.groupby("type")["r"]
    for _, row in frame.iterrows():
        values = grouped.get_group(row["type"])
        assert row["n"] == len(values)
        assert row["mean"] == pytest.approx(values.mean())
        assert row["sd"] == pytest.approx(values.std(ddof=1))
        assert row["var"] == pytest.approx(values.var(ddof=1))
        assert (row["lo"], row["hi"]) == pytest.approx((values.min(), values.max()))
        assert row["med"] == pytest.approx(values.median())
        assert row["all8"] is True or row["all8"] == 1
    text = (
        "SELECT id, sqrt(abs(r)) AS a, cbrt(r) AS b, power(r, 2) AS c, pi() AS d, "
        "degrees(radians(r)) AS e, round(r::numeric, 1) AS f, floor(r) AS h, ceil(r) AS i, "
        "greatest(g, r) AS j, least(g, r) AS k, width_bucket(r, 10, 30, 4) AS l, "
        "exp(0) AS m, sign(r - 20) AS n FROM demo.objects WHERE id = 11"
    )
    _, frame = run(sky, text)
    src = o[o["id"] == 11].iloc[0]
    r, g = float(src["r"]), float(src["g"])
    row = frame.iloc[0]
    assert row["a"] == pytest.approx(math.sqrt(abs(r)))
    assert row["b"] == pytest.approx(np.cbrt(r))
    assert row["c"] == pytest.approx(r * r)
    assert row["d"] == pytest.approx(math.pi)
    assert row["e"] == pytest.approx(r)
    assert float(row["f"]) == pytest.approx(round(r, 1))
    assert (row["h"], row["i"]) == (math.floor(r), math.ceil(r))
    assert (row["j"], row["k"]) == pytest.approx((max(g, r), min(g, r)), rel=1e-6)
    assert row["l"] == 1 + int((r - 10) // 5)
    assert row["m"] == 1 and row["n"] == np.sign(r - 20)


def test_dates_and_intervals(sky: Sky):
    translation, frame = run(
        sky,
        "SELECT extract(year from now()) AS y, now() - interval '1 day' < now() AS earlier, "
        "date_trunc('day', now()) <= now() AS trunc, current_date, current_timestamp",
    )
    assert translation.names == ["y", "earlier", "trunc", "current_date", "current_timestamp"]
    assert frame["y"][0] >= 2024 and frame["earlier"][0] and frame["trunc"][0]


def test_lateral_join(sky: Sky):
    text = (
        "SELECT o.id, n.cnt FROM demo.objects o, LATERAL (SELECT count(*) AS cnt "
        "FROM demo.other t WHERE t.flags = o.flags) n WHERE o.id <= 5 ORDER BY o.id"
    )
    _, frame = run(sky, text)
    counts = sky.other.groupby("flags").size()
    for _, row in frame.iterrows():
        flags = int(sky.objects.loc[sky.objects["id"] == row["id"], "flags"].iloc[0])
        assert row["cnt"] == counts.get(flags, 0)


def test_random_ordering_and_random_id(sky: Sky):
    _, frame = run(
        sky, "SELECT id, random_id FROM demo.objects WHERE random_id < 1 ORDER BY random() LIMIT 50"
    )
    expected = set(sky.objects["id"][sky.objects["random_id"] < 1].astype(int))
    assert len(frame) == min(50, len(expected))
    assert ids(frame) <= expected


def test_distinct_on(sky: Sky):
    _, frame = run(
        sky,
        "SELECT DISTINCT ON (type) type, id, r FROM demo.objects "
        "WHERE type IS NOT NULL AND r < 'Infinity' ORDER BY type, r",
    )
    o = sky.objects[sky.objects["type"].notna() & sky.objects["r"].notna()]
    best = o.sort_values(["type", "r"]).groupby("type").head(1)
    assert dict(zip(frame["type"], frame["id"], strict=True)) == dict(
        zip(best["type"], best["id"].astype(int), strict=True)
    )


def test_order_by_output_name_and_ordinal(sky: Sky):
    _, frame = run(sky, "SELECT id, -id AS neg FROM demo.objects WHERE id < 6 ORDER BY neg")
    assert list(frame["id"]) == [5, 4, 3, 2, 1]
    _, frame = run(sky, "SELECT id, ra FROM demo.objects WHERE id < 6 ORDER BY 1 DESC")
    assert list(frame["id"]) == [5, 4, 3, 2, 1]


def test_nulls_sort_as_in_postgresql(sky: Sky):
    _, frame = run(sky, "SELECT type FROM demo.objects ORDER BY type DESC LIMIT 1")
    assert frame["type"][0] is None  # PostgreSQL: NULLs are largest, first when descending
    _, frame = run(sky, "SELECT type FROM demo.objects ORDER BY type LIMIT 1")
    assert frame["type"][0] is not None


# --- errors --------------------------------------------------------------------------


def test_unknown_table_suggests_near_matches(sky: Sky):
    with pytest.raises(UnknownTableError, match=r"demo\.objetcs.*did you mean demo\.objects"):
        translate("SELECT * FROM demo.objetcs", "sql", sky.tables)
    with pytest.raises(UnknownTableError, match="other"):
        translate("SELECT * FROM demo.othr", "adql", sky.tables)


def test_unknown_column_names_column_table_and_near_matches(sky: Sky):
    with pytest.raises(UnknownColumnError) as info:
        translate("SELECT rra FROM demo.objects", "sql", sky.tables)
    message = str(info.value)
    assert "'rra'" in message and "demo.objects" in message and "ra" in message
    with pytest.raises(UnknownColumnError, match=r"'t\.magg'.*demo\.other.*mag"):
        translate("SELECT t.magg FROM demo.other t", "sql", sky.tables)
    with pytest.raises(UnknownColumnError, match="does not exist"):
        translate('SELECT "RA" FROM demo.objects', "adql", sky.tables)  # delimited: exact case


def test_ambiguous_column_is_refused_clearly(sky: Sky):
    with pytest.raises(UnknownColumnError, match=r"'flags' is ambiguous.*qualify"):
        translate("SELECT flags FROM demo.objects o, demo.other t", "sql", sky.tables)


def test_unknown_alias_in_qualified_column(sky: Sky):
    with pytest.raises(UnknownTableError, match=r"'x'.*FROM clause"):
        translate("SELECT x.ra FROM demo.objects o", "sql", sky.tables)


def test_unqualified_table_name_resolves_when_unique(sky: Sky):
    translation, frame = run(sky, "SELECT count(*) FROM objects")
    assert frame["count"][0] == len(sky.objects)
    assert re.search(r'"demo"\."objects"', translation.sql)


def test_repeated_text_is_translated_once_for_the_same_tables(sky: Sky) -> None:
    clear_translation_cache()
    text = "SELECT id, ra FROM demo.objects WHERE q3c_radial_query(ra, dec, 10, 20, 0.5)"
    first = translate(text, "sql", sky.tables)
    first.names.append("changed by a caller")
    second = translate(text, "sql", sky.tables)
    assert second.sql == first.sql and second.names == ["id", "ra"]
    assert second is not first
    # The same text over other table objects, or the same ones moved, is translated again.
    fewer = [t for t in sky.tables if t.qualified != "demo.objects"]
    with pytest.raises(UnknownTableError):
        translate(text, "sql", fewer)
    copies = [dataclasses.replace(t) for t in sky.tables]
    for t in copies:
        if t.qualified == "demo.objects":
            t.location = ("moved", "main", "data")
    assert '"moved"' in translate(text, "sql", copies).sql
    assert '"moved"' not in translate(text, "sql", sky.tables).sql
    # Refusals are never cached; each call checks again.
    for _ in range(2):
        with pytest.raises(UnknownColumnError):
            translate("SELECT nope FROM demo.objects", "sql", sky.tables)
