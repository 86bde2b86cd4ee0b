"""1 M rows × 6 columns from a Skydock server (its own process) into pandas: the Skydock client
(Arrow IPC) against the ``astro-datalab`` client's CSV path, on the same server, same run.

    uv run --all-extras python -m benchmarks.client_pandas --data-dir .skydock

Uses ``demo.objects`` in the data directory (built with ``skydock demo build`` when it
is missing), starts the server on a free 127.0.0.1 port with a throw-away user, and
prints medians and the ratio. The Data Lab half needs the Data Lab-compatible
``/auth`` and ``/query/query`` routes on the server; without them that row says so.
Run by hand; never a timed test.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.serve import skydock_server

COLUMNS = ("ls_id", "ra", "dec", "mag_g", "mag_r", "mag_z")


def bench_user(data_dir: Path) -> tuple[str, str]:
    from skydock.server.config import Config
    from skydock.server.factory import Factory

    auth = Factory(Config(data_dir=data_dir)).auth_service()
    name, password = f"bench{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    auth.add_user(name, password)
    return name, password


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def datalab_query(url: str, user: str, password: str, sql: str) -> Callable[[], Any]:
    """The real ``dl`` client pointed at this server (spec §1.2), ``fmt='pandas'`` (§4.2)."""
    from dl import authClient as ac  # noqa: N813 - Data Lab's own spelling
    from dl import queryClient as qc  # noqa: N813
    from dl import resClient, storeClient

    ac.set_svc_url(url + "/auth")
    qc.set_svc_url(url + "/query")
    storeClient.set_svc_url(url + "/storage")
    resClient.set_svc_url(url + "/res")
    token = ac.login(user, password)
    if not isinstance(token, str) or "." not in token:
        raise RuntimeError(f"Data Lab login failed: {token!r}")
    return lambda: qc.query(token, sql=sql, fmt="pandas", timeout=600)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.client_pandas", description=__doc__)
    p.add_argument("--data-dir", type=Path, default=Path(".skydock"))
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)

    from skydock.engine.catalog import CatalogStore

    if not CatalogStore.for_data_dir(args.data_dir).exists("demo.objects"):
        subprocess.run(
            [sys.executable, "-c", "from skydock.cli import main; main()", "demo", "build",
             "--data-dir", str(args.data_dir), "--if-missing"],
            check=True,
        )  # fmt: skip
    sql = f"SELECT {', '.join(COLUMNS)} FROM demo.objects LIMIT {args.rows}"
    user, password = bench_user(args.data_dir)
    results: dict[str, tuple[float | None, str]] = {}
    with skydock_server(args.data_dir) as url:
        from skydock.client import Client

        client = Client(url=url, token=None)
        client.login(user, password, save=False)
        seconds, frame = timed(lambda: client.query(sql=sql, fmt="pandas"), args.repeats)
        results["Skydock client (Arrow IPC)"] = (seconds, "×".join(map(str, frame.shape)))
        try:
            run = datalab_query(url, user, password, sql)
            seconds, frame = timed(run, args.repeats)
            shape = getattr(frame, "shape", None)
            if shape is None:
                raise RuntimeError(str(frame)[:200])
            results["astro-datalab client (CSV)"] = (seconds, "×".join(map(str, shape)))
        except Exception as exc:
            results["astro-datalab client (CSV)"] = (
                None,
                f"failed ({type(exc).__name__}: {str(exc)[:120]}); "
                "it needs the server's Data Lab /auth and /query/query routes",
            )
    print(f"\n{args.rows:,} rows × {len(COLUMNS)} columns into pandas, median of {args.repeats}")
    mine = results["Skydock client (Arrow IPC)"][0]
    for label, (seconds, note) in results.items():
        if seconds is None:
            print(f"  {label:<30} {note}")
            continue
        ratio = f"{seconds / mine:5.1f}× the Skydock time" if mine else ""
        print(f"  {label:<30} {seconds:8.3f} s  {note:<12} {ratio}")


if __name__ == "__main__":
    main()
