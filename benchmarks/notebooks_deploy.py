"""Deploying the notebook collection, against a bare ``git clone`` of the same commit.

    uv run --frozen --all-extras python -m benchmarks.notebooks_deploy [--notebooks 300]

A synthetic collection (``--notebooks`` files of about ``--kib`` KiB each, in ten
folders) is committed to a bare repository on local disk. Measured, median of
``--repeats`` runs, each on a new commit:

- baseline: ``git clone --depth 1 --single-branch`` of the commit, the least any
  deploy must do;
- deploy: ``NotebookService.deploy()`` in process (clone, read-only, rename, swap, prune);
- webhook: a signed push event POSTed to ``skydock serve`` in its own process, timed
  until the answer (the deploy is done when it answers).

Prints the times and the ratios to the baseline. Not a test; nothing is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import httpx

SECRET = "benchmark-secret"


def git(*args: str, cwd: Path | None = None) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.org",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.org",
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip()


def write_collection(work: Path, n: int, kib: int, version: int) -> None:
    cell = "x" * 1000
    for i in range(n):
        path = work / f"{i % 10:02d}_Topic" / f"Notebook{i:04d}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        cells = [{"cell_type": "code", "source": f"# v{version}\n{cell}"}] * kib
        path.write_text(json.dumps({"cells": cells, "nbformat": 4}))


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.notebooks_deploy")
    p.add_argument("--notebooks", type=int, default=300)
    p.add_argument("--kib", type=int, default=50, help="approximate size of each notebook")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()

    from benchmarks.serve import skydock_server
    from skydock.server.services.notebooks import NotebookService

    root = Path(tempfile.mkdtemp(prefix="skydock-bench-nb-"))
    try:
        bare, work = root / "collection.git", root / "work"
        git("init", "--quiet", "--bare", "--initial-branch=main", str(bare))
        git("clone", "--quiet", str(bare), str(work))
        git("checkout", "--quiet", "-B", "main", cwd=work)
        version = 0

        def push() -> None:
            nonlocal version
            version += 1
            write_collection(work, args.notebooks, args.kib, version)
            git("add", "-A", cwd=work)
            git("commit", "--quiet", "-m", f"v{version}", cwd=work)
            git("push", "--quiet", "origin", "main", cwd=work)

        push()
        size = sum(f.stat().st_size for f in work.rglob("*.ipynb"))
        print(f"collection: {args.notebooks} notebooks, {size / 2**20:.1f} MiB")

        baseline, deploy, webhook = [], [], []
        service = NotebookService(root / "data" / "notebooks", git_url=str(bare))
        for _ in range(args.repeats):
            push()
            target = root / f"clone-{version}"
            t0 = time.perf_counter()
            git("clone", "--quiet", "--depth", "1", "--single-branch", str(bare), str(target))
            baseline.append(time.perf_counter() - t0)
            shutil.rmtree(target)
            t0 = time.perf_counter()
            service.deploy()
            deploy.append(time.perf_counter() - t0)

        os.environ["SKYDOCK_NOTEBOOKS__GIT_URL"] = str(bare)
        os.environ["SKYDOCK_NOTEBOOKS__WEBHOOK_SECRET"] = SECRET
        with skydock_server(root / "server") as url, httpx.Client(timeout=300) as client:
            for _ in range(args.repeats):
                push()
                body = json.dumps({"ref": "refs/heads/main"}).encode()
                sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                headers = {
                    "X-Hub-Signature-256": sig,
                    "X-GitHub-Event": "push",
                    "X-GitHub-Delivery": str(uuid.uuid4()),
                    "Content-Type": "application/json",
                }
                t0 = time.perf_counter()
                r = client.post(f"{url}/api/notebooks/webhook", content=body, headers=headers)
                webhook.append(time.perf_counter() - t0)
                if r.json().get("status") != "deployed":
                    raise SystemExit(f"the webhook did not deploy: {r.text}")

        base = statistics.median(baseline)
        print(f"{'measurement':<34} {'median s':>9} {'× clone':>8}")
        for label, times in (
            ("git clone --depth 1 (baseline)", baseline),
            ("NotebookService.deploy()", deploy),
            ("webhook POST → deployed (HTTP)", webhook),
        ):
            med = statistics.median(times)
            print(f"{label:<34} {med:>9.3f} {med / base:>8.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
