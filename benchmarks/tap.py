"""TAP against the native client, on one server in the same run.

A real ``skydock serve`` (own process, 127.0.0.1) over a data directory whose catalogs
are symlinked from ``--catalogs`` (the server writes its metadata database into its own
temporary data directory, never next to the catalogs). Measured:

- sync cone searches of 10″ and 0.1° on demo.objects: pyvo ``TAPService.search`` (ADQL,
  VOTable BINARY2 → astropy Table) against ``skydock.client.Client.query`` (SQL with
  q3c_radial_query, Arrow → pandas); median and p90 per cone, and the ratio;
- async turnaround of a query returning every row of demo.objects (1 M rows on the
  benchmark table): submit → COMPLETED → result parsed, through pyvo and through the
  native client.

Run: ``uv run --frozen --all-extras python -m benchmarks.tap --catalogs DIR`` where
``DIR/catalogs/demo/objects`` exists (e.g. ``.skydock/bench/rows-1000000``).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pyvo

from benchmarks.serve import skydock_server
from skydock.client import Client

CONES = 40
RADII = {"10″": 10 / 3600, "0.1°": 0.1}
ASYNC_QUERY = "SELECT ls_id, ra, dec, mag_r FROM demo.objects"


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    t = time.perf_counter()
    n = fn()
    return time.perf_counter() - t, n


def summary(times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    return f"median {statistics.median(ms):7.1f} ms  p90 {ms[int(0.9 * (len(ms) - 1))]:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--catalogs", type=Path, required=True)
    args = parser.parse_args()
    serving = args.catalogs / "catalogs" / "demo" / "objects" / "serving.duckdb"
    con = duckdb.connect(str(serving), read_only=True)
    nrows = con.sql("SELECT COUNT(*) FROM data").fetchall()[0][0]
    sample = con.sql(f"SELECT ra, dec FROM data USING SAMPLE {CONES} ROWS").fetchall()
    con.close()
    print(f"demo.objects: {nrows:,} rows; {CONES} cones centred on catalog objects")

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        (data / "catalogs").symlink_to(args.catalogs.resolve() / "catalogs")
        with skydock_server(data) as url:
            tap = pyvo.dal.TAPService(f"{url}/tap")
            native = Client(url=url)
            for label, radius in RADII.items():
                adql = (
                    "SELECT ls_id, ra, dec, mag_r FROM demo.objects WHERE 1 = CONTAINS("
                    "POINT('ICRS', ra, dec), CIRCLE('ICRS', {ra!r}, {dec!r}, " + repr(radius) + "))"
                )
                sql = (
                    "SELECT ls_id, ra, dec, mag_r FROM demo.objects "
                    "WHERE q3c_radial_query(ra, dec, {ra!r}, {dec!r}, " + repr(radius) + ")"
                )
                for ra, dec in sample[:3]:  # warm both paths
                    tap.search(adql.format(ra=ra, dec=dec))
                    native.query(sql=sql.format(ra=ra, dec=dec))
                t_tap, t_nat, rows = [], [], []
                for ra, dec in sample:
                    start_s = time.perf_counter()
                    n = len(tap.search(adql.format(ra=ra, dec=dec)).to_table())
                    t_tap.append(time.perf_counter() - start_s)
                    start_s = time.perf_counter()
                    n2 = len(native.query(sql=sql.format(ra=ra, dec=dec)))
                    t_nat.append(time.perf_counter() - start_s)
                    assert n == n2, (n, n2)
                    rows.append(n)
                ratio = statistics.median(t_tap) / statistics.median(t_nat)
                print(f"cone {label:5} (mean {np.mean(rows):8.1f} rows)")
                print(f"  pyvo TAP sync : {summary(t_tap)}")
                print(f"  native client : {summary(t_nat)}")
                print(f"  TAP / native  : {ratio:.2f}x")

            def via_pyvo() -> int:
                job = tap.submit_job(ASYNC_QUERY)
                job.run()
                job.wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=600)
                n = len(job.fetch_result().to_table())
                job.delete()
                return n

            def via_native() -> int:
                job = native.submit(sql=ASYNC_QUERY, fmt="pandas")
                job.wait(timeout=600, progress=False)
                return len(job.result())

            t, n = timed(via_pyvo)
            print(f"async {n:,} rows, submit→COMPLETED→result: pyvo TAP {t:6.2f} s")
            t2, n2 = timed(via_native)
            print(f"async {n2:,} rows, submit→COMPLETED→result: native   {t2:6.2f} s")
            print(f"  TAP / native  : {t / t2:.2f}x")


if __name__ == "__main__":
    main()
