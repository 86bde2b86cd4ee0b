"""Sync cone searches over HTTP: what the web service adds to the engine's own latency.

A real ``skydock serve`` runs in its own process on 127.0.0.1 (as in production: the
client's threads do not share its interpreter). The same 10″ cones are answered
in-process by the executor (rows written to CSV, exactly what the service does) and over
HTTP by 1 and by 20 concurrent clients, each with its own keep-alive connection. Reported:
median and p99 per request, throughput, and the overhead (HTTP median − in-process
median) at one client.
"""

from __future__ import annotations

import io
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from benchmarks.common import Context, Section, fmt_ms, log
from benchmarks.cone import positions
from benchmarks.serve import skydock_server

RADIUS_DEG = 10 / 3600
CONCURRENCY = (1, 20)
REQUESTS_PER_CLIENT = 50


def cone_sql(ctx: Context, ra: float, dec: float) -> str:
    return (
        f"SELECT {ctx.id_column}, ra, dec FROM demo.objects "
        f"WHERE q3c_radial_query(ra, dec, {ra!r}, {dec!r}, {RADIUS_DEG!r})"
    )


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def run(ctx: Context) -> Section:
    pts = positions(ctx)
    queries = [cone_sql(ctx, ra, dec) for ra, dec in pts]

    for sql in queries:  # warm-up: first binds and caches
        ctx.executor.execute(sql).to_table()
    in_process: list[float] = []
    for sql in queries * 3:
        start = time.perf_counter()
        with ctx.executor.execute(sql) as result:
            result.write("csv", io.BytesIO())
        in_process.append(time.perf_counter() - start)

    results: dict[int, dict[str, float]] = {}
    with skydock_server(ctx.skydock_dir) as url:
        for clients in CONCURRENCY:
            log(f"http cone: {clients} concurrent client(s)")

            def worker(offset: int) -> list[float]:
                times: list[float] = []
                with httpx.Client(base_url=url, timeout=60) as http:
                    for i in range(3):  # warm the connection and the server
                        http.get("/api/query", params={"q": queries[(offset + i) % len(queries)]})
                    for i in range(REQUESTS_PER_CLIENT):
                        q = queries[(offset + i) % len(queries)]
                        start = time.perf_counter()
                        r = http.get("/api/query", params={"q": q})
                        times.append(time.perf_counter() - start)
                        if r.status_code != 200:
                            raise RuntimeError(f"HTTP {r.status_code}: {r.text[:200]}")
                return times

            wall = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                lists = list(pool.map(worker, range(clients)))
            wall = time.perf_counter() - wall
            all_times = [t for lst in lists for t in lst]
            results[clients] = {
                "median_s": statistics.median(all_times),
                "p99_s": p99(all_times),
                "requests_per_s": len(all_times) / wall,
            }

    base = statistics.median(in_process)
    overhead = results[1]["median_s"] - base
    section = Section(
        key="http",
        title="Sync 10″ cone over HTTP (skydock serve, CSV)",
        caption=(
            f"demo.objects with {ctx.nrows:,} rows; {len(queries)} positions; "
            f"{REQUESTS_PER_CLIENT} requests per client; in-process = executor → CSV"
        ),
        columns=("clients", "median", "p99", "requests/s"),
    )
    section.rows.append(("in-process", fmt_ms(base), fmt_ms(p99(in_process)), "—"))
    for clients, r in results.items():
        section.rows.append(
            (
                str(clients),
                fmt_ms(r["median_s"]),
                fmt_ms(r["p99_s"]),
                f"{r['requests_per_s']:.0f}",
            )
        )
    section.notes.append(f"HTTP overhead at 1 client (median): {overhead * 1e3:.2f} ms")
    section.data = {
        "rows": ctx.nrows,
        "in_process_median_s": base,
        "in_process_p99_s": p99(in_process),
        "clients": {str(k): v for k, v in results.items()},
        "overhead_median_s": overhead,
    }
    return section
