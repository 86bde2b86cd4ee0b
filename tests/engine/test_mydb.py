"""MyDB in the engine: ``mydb://`` spelling, per-user attachment, isolation, crossmatch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import astropy.units as u
import numpy as np
import pyarrow as pa
import pytest
from astropy.coordinates import SkyCoord

from skydock.engine.catalog import CatalogStore
from skydock.engine.executor import POSITION_COMMENT, DuckDBExecutor, Limits
from skydock.engine.sql.uri import rewrite_mydb_uris
from skydock.errors import UnknownTableError
from tests.conftest import make_points


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT * FROM mydb://t", "SELECT * FROM mydb.t"),
        ("select * from MYDB://T", "select * from MYDB.T"),
        ("SELECT 'mydb://t' FROM mydb://t", "SELECT 'mydb://t' FROM mydb.t"),
        ("SELECT 'it''s mydb://x' FROM mydb://t", "SELECT 'it''s mydb://x' FROM mydb.t"),
        ("SELECT E'\\' mydb://x' FROM mydb://t", "SELECT E'\\' mydb://x' FROM mydb.t"),
        ('SELECT "mydb://x" FROM mydb://t', 'SELECT "mydb://x" FROM mydb.t'),
        ("SELECT 1 -- mydb://x\nFROM mydb://t", "SELECT 1 -- mydb://x\nFROM mydb.t"),
        (
            "SELECT /* a /* mydb://x */ b */ 1 FROM mydb://t",
            "SELECT /* a /* mydb://x */ b */ 1 FROM mydb.t",
        ),
        ("SELECT $q$mydb://x$q$ FROM mydb://t", "SELECT $q$mydb://x$q$ FROM mydb.t"),
        ("SELECT * FROM notmydb://t", "SELECT * FROM notmydb://t"),
        ("SELECT 1", "SELECT 1"),
    ],
)
def test_mydb_uri_is_rewritten_only_outside_literals(text: str, expected: str) -> None:
    assert rewrite_mydb_uris(text) == expected


@pytest.fixture
def executor(catalog_dir: Path, tmp_path: Path) -> Iterator[DuckDBExecutor]:
    ex = DuckDBExecutor(
        CatalogStore.for_data_dir(catalog_dir), Limits(timeout_s=60), mydb_root=tmp_path / "mydb"
    )
    yield ex
    ex.close()


def _store(ex: DuckDBExecutor, user: str, name: str, table: pa.Table) -> None:
    with ex.mydb_session(user) as (cur, db):
        cur.register("up", table)
        cur.execute(f'CREATE OR REPLACE TABLE {db}.main."{name}" AS SELECT * FROM up')
        cur.unregister("up")


def test_each_user_sees_only_their_own_tables(executor: DuckDBExecutor) -> None:
    _store(executor, "alice", "t", pa.table({"x": [1, 2, 3]}))
    _store(executor, "bob", "t", pa.table({"x": [10, 20]}))
    got = executor.execute("SELECT sum(x) AS s FROM mydb://t", mydb_user="alice").to_table()
    assert got["s"].to_pylist() == [6]
    got = executor.execute("SELECT sum(x) AS s FROM mydb.t", mydb_user="bob").to_table()
    assert got["s"].to_pylist() == [30]
    with pytest.raises(UnknownTableError, match="no MyDB table named 't'"):
        executor.execute("SELECT * FROM mydb.t", mydb_user="carol")
    with pytest.raises(UnknownTableError, match="no MyDB table"):
        executor.execute("SELECT * FROM mydb.t")  # anonymous
    # The attached database is not a name a query can use.
    with pytest.raises(UnknownTableError):
        executor.execute("SELECT * FROM mydb__alice.main.t", mydb_user="bob")
    # A bare name never means a MyDB table, so it never shadows a catalog.
    with pytest.raises(UnknownTableError, match=r"did you mean mydb\.t"):
        executor.execute("SELECT * FROM t", mydb_user="alice")
    assert [t.qualified for t in executor.tables("alice")] == [
        "demo.stars",
        "test.points",
        "mydb.t",
    ]


def test_failed_session_rolls_back(executor: DuckDBExecutor) -> None:
    _store(executor, "alice", "t", pa.table({"x": [1, 2, 3]}))
    with pytest.raises(RuntimeError), executor.mydb_session("alice") as (cur, db):
        cur.execute(f"DELETE FROM {db}.main.t")
        raise RuntimeError("boom")
    got = executor.execute("SELECT count(*) AS n FROM mydb.t", mydb_user="alice").to_table()
    assert got["n"].to_pylist() == [3]


def test_mydb_survives_a_catalog_change(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "catalogs")
    ex = DuckDBExecutor(store, mydb_root=tmp_path / "mydb")
    try:
        _store(ex, "alice", "t", pa.table({"x": [1, 2]}))
        running = ex.execute("SELECT x FROM mydb.t", mydb_user="alice")
        store.bump_generation()  # a new connection; the old one lets go of the file
        running.close()
        got = ex.execute("SELECT count(*) AS n FROM mydb.t", mydb_user="alice").to_table()
        assert got["n"].to_pylist() == [2]
        _store(ex, "alice", "u", pa.table({"y": [1]}))
        assert {t.name for t in ex.tables("alice")} == {"t", "u"}
    finally:
        ex.close()


def _pairs_by_astropy(mine: pa.Table, points: pa.Table, radius_deg: float) -> set[tuple[int, int]]:
    a = SkyCoord(mine["ra"].to_numpy() * u.deg, mine["dec"].to_numpy() * u.deg)
    b = SkyCoord(points["ra"].to_numpy() * u.deg, points["dec"].to_numpy() * u.deg)
    ia, ib, _, _ = b.search_around_sky(a, radius_deg * u.deg)
    ids_a, ids_b = mine["mid"].to_numpy(), points["id"].to_numpy()
    return set(zip(ids_a[ia].tolist(), ids_b[ib].tolist(), strict=True))


@pytest.mark.parametrize("sorted_by_position", [False, True])
def test_crossmatch_with_a_catalog(
    executor: DuckDBExecutor, points_table: pa.Table, sorted_by_position: bool
) -> None:
    """Without ``_healpix_29`` the cells of the MyDB rows are computed on the fly; with it
    (after a spatial index) both sides use their stored cells. Same pairs either way."""
    rng = np.random.default_rng(3)
    mine = make_points(2_000, seed=11).rename_columns(["mid", "ra", "dec", "mag", "kind"])
    # Half the rows sit just next to a catalog row, so there are pairs to find.
    near = rng.choice(points_table.num_rows, 1_000, replace=False)
    ra = mine["ra"].to_numpy().copy()
    dec = mine["dec"].to_numpy().copy()
    ra[:1000] = (points_table["ra"].to_numpy()[near] + 1e-4) % 360
    dec[:1000] = np.clip(points_table["dec"].to_numpy()[near] - 1e-4, -90, 90)
    mine = mine.set_column(1, "ra", pa.array(ra)).set_column(2, "dec", pa.array(dec))
    _store(executor, "alice", "mine", mine)
    if sorted_by_position:
        with executor.mydb_session("alice") as (cur, db):
            cur.execute(
                f"CREATE OR REPLACE TABLE {db}.main.mine AS SELECT *, "
                f"skydock_healpix(ra, dec, 29) AS _healpix_29 FROM {db}.main.mine "
                "ORDER BY _healpix_29"
            )
            cur.execute(f"COMMENT ON TABLE {db}.main.mine IS '{POSITION_COMMENT}ra,dec'")
    radius = 2.0 / 3600
    sql = (
        "SELECT m.mid, p.id FROM mydb://mine m JOIN test.points p "
        f"ON q3c_join(m.ra, m.dec, p.ra, p.dec, {radius})"
    )
    got = executor.execute(sql, mydb_user="alice").to_table()
    pairs = set(zip(got["mid"].to_pylist(), got["id"].to_pylist(), strict=True))
    expected = _pairs_by_astropy(mine, points_table, radius)
    assert len(expected) >= 1000
    assert pairs == expected
    cone = (
        "SELECT count(*) AS n FROM mydb.mine "
        "WHERE CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 10, 20, 30)) = 1"
    )
    translated = executor.translate(cone, "adql", mydb_user="alice").sql
    assert ("_healpix_29" in translated) == sorted_by_position  # pruned by cell once sorted
    n = executor.execute(cone, "adql", mydb_user="alice").to_table()["n"].to_pylist()[0]
    center = SkyCoord(10 * u.deg, 20 * u.deg)
    all_mine = SkyCoord(ra * u.deg, dec * u.deg)
    assert n == int((all_mine.separation(center) <= 30 * u.deg).sum())
