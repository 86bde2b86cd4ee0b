"""``skydock nbtest --jobs 2`` against a plain serial ``jupyter nbconvert --execute`` loop.

    uv run --frozen --all-extras python -m benchmarks.nbtest [--copies 2]

The notebooks: the collection's notebooks that need no server
(``02_HowTos/RunningTheNotebookTests``, which itself runs three notebooks in nested
kernels) and the passing test fixtures (``passes``, ``writes_1``, ``writes_2``), each
copied ``--copies`` times into a scratch directory, so both sides run the same files in
the same session. The baseline is what Astro Data Lab runs: one ``jupyter nbconvert
--to notebook --execute`` process per notebook, one after another. Prints the wall
times, the ratio, and the runner's per-notebook overhead (``--jobs 1`` minus nbconvert,
divided by the number of notebooks). Not a test; nothing is asserted.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    ROOT / "notebooks" / "02_HowTos" / "RunningTheNotebookTests.ipynb",
    ROOT / "tests" / "nbtest" / "notebooks" / "passes.ipynb",
    ROOT / "tests" / "nbtest" / "notebooks" / "writes_1.ipynb",
    ROOT / "tests" / "nbtest" / "notebooks" / "writes_2.ipynb",
]


def timed(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd[:6])} ... failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=2, help="copies of each notebook")
    ap.add_argument("--repeats", type=int, default=1, help="runs of each side (best kept)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nbtest-bench-") as tmp:
        work = Path(tmp)
        n = len(SOURCES) * args.copies

        def fresh_suite(tag: str) -> Path:
            """A clean copy per run: notebooks write files beside themselves under nbconvert."""
            suite = work / f"suite-{tag}-{time.monotonic_ns()}"
            suite.mkdir()
            for i in range(args.copies):
                for src in SOURCES:
                    shutil.copy(src, suite / f"{src.stem}_{i}.ipynb")
            return suite

        def serial_nbconvert() -> float:
            suite = fresh_suite("nbconvert")
            t0 = time.perf_counter()
            for nb in sorted(suite.glob("*.ipynb")):
                timed(
                    [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook",
                     "--execute", "--output-dir", str(work / "nbconvert"), str(nb)],
                    suite,
                )  # fmt: skip
            return time.perf_counter() - t0

        def nbtest(jobs: int) -> float:
            suite = fresh_suite(f"jobs{jobs}")
            cmd = [sys.executable, "-c", "from skydock.cli import main; main()", "nbtest"]
            cmd += ["--jobs", str(jobs), "--logdir", str(work / "logs"), "-q", str(suite)]
            return timed(cmd, work)

        best = {
            "nbconvert, serial": min(serial_nbconvert() for _ in range(args.repeats)),
            "skydock nbtest --jobs 1": min(nbtest(1) for _ in range(args.repeats)),
            "skydock nbtest --jobs 2": min(nbtest(2) for _ in range(args.repeats)),
        }
    base = best["nbconvert, serial"]
    print(f"{n} notebooks ({args.copies} copies of {len(SOURCES)}), best of {args.repeats}")
    print(f"{'run':<26}{'wall s':>9}{'per nb s':>10}{'vs nbconvert':>14}")
    for name, t in best.items():
        print(f"{name:<26}{t:>9.1f}{t / n:>10.2f}{t / base:>13.2f}×")
    overhead = (best["skydock nbtest --jobs 1"] - base) / n
    print(f"runner overhead per notebook (--jobs 1 minus nbconvert): {overhead:+.2f} s")


if __name__ == "__main__":
    main()
