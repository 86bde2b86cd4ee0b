"""The executor: sandbox, limits and catalog changes, on a real DuckDB."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from skydock.engine import executor as executor_module
from skydock.engine.catalog import CatalogStore
from skydock.engine.executor import Cancellation, DuckDBExecutor, Limits
from skydock.engine.sql import Translation
from skydock.errors import QueryAbortedError, QueryExecutionError, QueryTimeoutError
from tests.conftest import make_points


@pytest.fixture
def executor(catalog_dir: Path) -> DuckDBExecutor:
    ex = DuckDBExecutor(CatalogStore.for_data_dir(catalog_dir), Limits(timeout_s=30))
    yield ex
    ex.close()


def test_cone_matches_astropy(executor: DuckDBExecutor, points_table) -> None:
    ra0, dec0, radius = 123.4, -45.6, 3.0
    got = executor.execute(
        f"SELECT id FROM test.points WHERE q3c_radial_query(ra, dec, {ra0}, {dec0}, {radius})"
    ).to_table()
    sep = SkyCoord(points_table["ra"].to_numpy() * u.deg, points_table["dec"].to_numpy() * u.deg)
    inside = sep.separation(SkyCoord(ra0 * u.deg, dec0 * u.deg)).deg <= radius
    expected = set(points_table["id"].to_numpy()[inside].tolist())
    assert expected
    assert set(got["id"].to_pylist()) == expected


def test_row_cap_flags_overflow(executor: DuckDBExecutor) -> None:
    with executor.execute("SELECT id FROM test.points ORDER BY id", max_rows=1000) as result:
        ids = [i for b in result.batches() for i in b.column(0).to_pylist()]
    assert ids == list(range(1, 1001))
    assert result.overflow


def test_no_overflow_when_all_rows_fit(executor: DuckDBExecutor) -> None:
    with executor.execute("SELECT id FROM test.points WHERE id <= 10", max_rows=10) as result:
        table = result.to_table()
    assert table.num_rows == 10
    assert not result.overflow


def test_timeout_interrupts_and_engine_stays_healthy(executor: DuckDBExecutor) -> None:
    slow = (
        "SELECT count(*) FROM test.points a, test.points b, test.points c "
        "WHERE a.mag + b.mag < c.mag * random()"
    )
    start = time.perf_counter()
    with pytest.raises(QueryTimeoutError, match=r"limit of 0\.5 s"):
        executor.execute(slow, timeout_s=0.5).to_table()
    assert time.perf_counter() - start < 10
    again = executor.execute("SELECT count(*) FROM test.points").to_table()
    assert again.column(0).to_pylist() == [30_000]


def test_cancellation_aborts_a_running_query_and_only_that_one(executor: DuckDBExecutor) -> None:
    slow = (
        "SELECT count(*) FROM test.points a, test.points b, test.points c "
        "WHERE a.mag + b.mag < c.mag * random()"
    )
    cancel = Cancellation()
    errors: list[BaseException] = []

    def run() -> None:
        with cancel.scope():
            try:
                executor.execute(slow).to_table()
            except BaseException as exc:
                errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.3)
    start = time.perf_counter()
    cancel.cancel()
    worker.join(timeout=20)
    assert not worker.is_alive()
    assert time.perf_counter() - start < 10
    assert len(errors) == 1
    assert isinstance(errors[0], QueryAbortedError), errors[0]
    # Outside the scope, and for new queries inside a cancelled one, the behaviour is plain.
    assert executor.execute("SELECT count(*) FROM test.points").to_table()[0][0].as_py() == 30_000
    with cancel.scope(), pytest.raises(QueryAbortedError):
        executor.execute("SELECT 1")


def test_duckdb_itself_refuses_files_even_without_the_guard(executor: DuckDBExecutor) -> None:
    """The second sandbox: a translation that slipped past the guard still reads nothing."""
    for sql in (
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM '/etc/passwd'",
        "SELECT content FROM read_text('/etc/passwd')",
    ):
        smuggled = Translation(sql=sql, names=[], columns=[], tables=[], language="sql")
        refused = r"(?i)disabled|permission|not allowed|does not exist"
        with pytest.raises(QueryExecutionError, match=refused):
            executor.run(smuggled).to_table()
    for sql in ("SET enable_external_access = true", "ATTACH '/tmp/x.duckdb' AS x"):
        smuggled = Translation(sql=sql, names=[], columns=[], tables=[], language="sql")
        with pytest.raises(QueryExecutionError):
            executor.run(smuggled).to_table()


def test_sees_new_and_dropped_catalogs_without_restart(
    executor: DuckDBExecutor, catalog_dir: Path, tmp_path: Path
) -> None:
    from skydock.engine.ingest import ingest_catalog

    data_dir = tmp_path / "data"
    shutil.copytree(catalog_dir, data_dir)
    store = CatalogStore.for_data_dir(data_dir)
    ex = DuckDBExecutor(store)
    try:
        assert [t.qualified for t in ex.tables()] == ["demo.stars", "test.points"]
        before = ex.translate("SELECT count(*) AS n FROM test.points")
        src = tmp_path / "more.parquet"
        pq.write_table(make_points(500, seed=3), src)
        ingest_catalog(store, [src], "test.more", ra="ra", dec="dec", progress=False)
        count = ex.execute("SELECT count(*) AS n FROM test.more").to_table()
        assert count["n"].to_pylist() == [500]
        # test.more sorts before test.points: a translation from before the change must
        # still reach test.points on the reopened connection.
        assert ex.run(before).to_table()["n"].to_pylist() == [30_000]
        store.drop("test.more")
        assert [t.qualified for t in ex.tables()] == ["demo.stars", "test.points"]
    finally:
        ex.close()


def test_text_duckdb_cannot_encode_fails_as_a_query_error(executor: DuckDBExecutor) -> None:
    with pytest.raises(QueryExecutionError, match="UTF-8"):
        executor.execute("SELECT '\ud800' AS lone").to_table()


def test_result_carries_column_metadata(executor: DuckDBExecutor) -> None:
    with executor.execute("SELECT id, mag, mag * 2 AS twice FROM test.points LIMIT 3") as result:
        result.to_table()
    assert result.schema.names == ["id", "mag", "twice"]
    assert result.columns[1] is not None and result.columns[1].unit == "mag"
    assert result.columns[2] is None or result.columns[2].unit == ""


class _WithoutSubmit:
    """A cursor as a DuckDB without the driver's ``_submit`` would offer it."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self._cursor = cursor

    def sql(self, text: str) -> duckdb.DuckDBPyRelation:
        return self._cursor.sql(text)


def test_both_fetch_paths_stream_the_same_batches(executor: DuckDBExecutor) -> None:
    con = executor._connection()[0]
    sql = (
        "SELECT i, i::VARCHAR AS s, i / 3 AS d, [i, i + 1] AS l, DATE '2020-01-01' + i::INT "
        "AS t, NULLIF(i % 7, 0) AS n FROM range(150000) r(i) ORDER BY i"
    )
    fast_cursor, plain_cursor = con.cursor(), con.cursor()
    try:
        fast = executor_module._arrow_stream(fast_cursor, sql)
        plain = executor_module._arrow_stream(_WithoutSubmit(plain_cursor), sql)  # type: ignore[arg-type]
        assert fast.schema == plain.schema
        fast_batches, plain_batches = list(fast), list(plain)
        assert len(fast_batches) > 1  # streamed in BATCH_ROWS pieces, not one block
        assert pa.Table.from_batches(fast_batches).equals(pa.Table.from_batches(plain_batches))
        for cursor in (fast_cursor, _WithoutSubmit(plain_cursor)):
            with pytest.raises(duckdb.Error, match=r"(?i)conversion|convert"):
                list(executor_module._arrow_stream(cursor, "SELECT 'x'::INT AS bad"))  # type: ignore[arg-type]
            with pytest.raises(duckdb.Error, match="UTF-8"):
                executor_module._arrow_stream(cursor, "SELECT '\ud800' AS lone")  # type: ignore[arg-type]
    finally:
        fast_cursor.close()
        plain_cursor.close()


@pytest.fixture
def lift_from_1000(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Lifted LIMITs from 1,000 rows, so the 30,000-row test catalog exercises them."""
    from skydock.engine.sql import translation as translation_module

    monkeypatch.setattr(translation_module, "LIFTED_LIMIT_MIN", 1000)
    translation_module.clear_translation_cache()
    yield
    translation_module.clear_translation_cache()


def _duckdb_rows(executor: DuckDBExecutor, sql: str) -> pa.Table:
    """DuckDB's own answer to ``sql`` on the serving tables (no lifting, no cap)."""
    return executor._connection()[0].sql(sql).to_arrow_table()


@pytest.mark.usefixtures("lift_from_1000")
def test_lifted_limit_gives_duckdbs_rows_without_overflow(executor: DuckDBExecutor) -> None:
    text = "SELECT id, ra, dec FROM test.points WHERE mag < 22 LIMIT 5000"
    translation = executor.translate(text)
    assert translation.limit == 5000
    assert "LIMIT" not in translation.sql.upper()
    expected = _duckdb_rows(executor, translation.sql + " LIMIT 5000")
    assert expected.num_rows == 5000
    with executor.execute(text) as result:
        got = result.to_table()
    assert got.column("id").equals(expected.column("id"))
    assert not result.overflow


@pytest.mark.usefixtures("lift_from_1000")
def test_lifted_limit_under_the_row_cap_rules(executor: DuckDBExecutor) -> None:
    with executor.execute("SELECT id FROM test.points LIMIT 5000", max_rows=2000) as result:
        assert result.to_table().num_rows == 2000
    assert result.overflow
    with executor.execute("SELECT id FROM test.points LIMIT 40000") as result:
        assert result.to_table().num_rows == 30_000
    assert not result.overflow
    adql = executor.translate("SELECT TOP 3000 id FROM test.points", language="adql")
    assert adql.limit == 3000


@pytest.mark.usefixtures("lift_from_1000")
@pytest.mark.parametrize(
    "text",
    [
        "SELECT id FROM test.points LIMIT 999",
        "SELECT id FROM test.points ORDER BY mag LIMIT 5000",
        "SELECT id FROM test.points LIMIT 5000 OFFSET 10",
        "SELECT count(*) FROM (SELECT id FROM test.points LIMIT 5000) s",
    ],
)
def test_limit_stays_in_the_sql(executor: DuckDBExecutor, text: str) -> None:
    translation = executor.translate(text)
    assert translation.limit is None
    assert "LIMIT" in translation.sql.upper()
