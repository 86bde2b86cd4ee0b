"""What the one front door costs: ``python -m benchmarks.hub --rows 100000``.

Starts the whole ``skydock up`` stack (API + JupyterHub + configurable-http-proxy) on
free 127.0.0.1 ports over a fresh ``demo.objects`` of ``--rows`` rows and measures:

- start-up: the stack answering on its public port;
- a hub login (the form POST, which checks the password through the API: argon2);
- the first spawn of a user's JupyterLab until it answers;
- query latency through the proxy against the same query sent straight to the API
  (the baseline, in the same run): the ratio is the proxy's overhead.

Figures are medians; nothing is asserted.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from skydock.cli.up import Stack, free_port

QUERIES = {
    "count": "SELECT count(*) FROM demo.objects",
    "cone 0.1 deg": (
        "SELECT ls_id, ra, dec, mag_g FROM demo.objects "
        "WHERE q3c_radial_query(ra, dec, 30.0, -50.0, 0.1)"
    ),
    "10k rows csv": "SELECT ls_id, ra, dec, mag_g, mag_r FROM demo.objects LIMIT 10000",
}


def _median_s(url: str, sql: str, repeats: int) -> float:
    times = []
    with httpx.Client(timeout=120) as http:
        http.get(f"{url}/api/query", params={"q": sql, "format": "csv"}).raise_for_status()
        for _ in range(repeats):
            t0 = time.perf_counter()
            r = http.get(f"{url}/api/query", params={"q": sql, "format": "csv"})
            r.raise_for_status()
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _login_and_spawn(stack: Stack) -> tuple[float, float]:
    assert stack.accounts is not None and stack.accounts.demo_password
    http = httpx.Client(base_url=stack.url, follow_redirects=False, timeout=120)
    page = http.get("/hub/login")
    found = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    assert found
    t0 = time.perf_counter()
    r = http.post(
        "/hub/login",
        data={
            "username": "demo",
            "password": stack.accounts.demo_password,
            "_xsrf": found.group(1),
        },
    )
    login_s = time.perf_counter() - t0
    assert r.status_code == 302, r.status_code
    t0 = time.perf_counter()
    http.get("/hub/spawn")
    deadline = t0 + 300
    while time.perf_counter() < deadline:
        status = http.get("/hub/spawn-pending/demo")
        if status.status_code == 302 and "/user/demo" in status.headers.get("location", ""):
            break
        time.sleep(0.1)
    return login_s, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.hub", description=__doc__)
    p.add_argument("--rows", type=int, default=100_000, help="rows of demo.objects (100,000)")
    p.add_argument("--repeats", type=int, default=20, help="timed runs per query (20)")
    args = p.parse_args(argv)

    from skydock.demo.build import build_demo

    with tempfile.TemporaryDirectory(prefix="skydock-bench-hub-") as tmp:
        data_dir = Path(tmp) / "data"
        build_demo(data_dir, only="objects", rows=args.rows, progress=False)
        stack = Stack(data_dir, port=free_port())
        t0 = time.perf_counter()
        with stack.running():
            start_s = time.perf_counter() - t0
            login_s, spawn_s = _login_and_spawn(stack)
            print(f"demo.objects: {args.rows:,} rows; {args.repeats} repeats per query")
            print(f"stack start (API + hub + proxy answering): {start_s:6.2f} s")
            print(f"hub login (password checked by the API):   {login_s * 1000:6.0f} ms")
            print(f"first spawn until JupyterLab answers:       {spawn_s:6.2f} s")
            print(f"{'query':<14} {'direct ms':>10} {'proxy ms':>10} {'proxy/direct':>13}")
            for name, sql in QUERIES.items():
                direct = _median_s(stack.api_url, sql, args.repeats)
                proxied = _median_s(stack.url, sql, args.repeats)
                print(
                    f"{name:<14} {direct * 1000:10.1f} {proxied * 1000:10.1f} "
                    f"{proxied / direct:13.2f}"
                )


if __name__ == "__main__":
    main()
