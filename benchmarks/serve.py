"""``skydock serve`` in a process of its own, for benchmarks that go through HTTP.

As in production, the server shares no interpreter (and no GIL) with the clients that
measure it. It listens on 127.0.0.1 on a free port and is stopped when the block ends.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from benchmarks.pg import free_port

START_TIMEOUT_S = 120.0


@contextlib.contextmanager
def skydock_server(data_dir: Path) -> Iterator[str]:
    """The base URL of a running server on ``data_dir``."""
    port = free_port()
    exe = str(Path(sys.executable).with_name("skydock"))
    proc = subprocess.Popen(
        [exe, "serve", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                httpx.get(f"{url}/api/tables", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("skydock serve did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
