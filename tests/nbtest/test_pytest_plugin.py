"""``pytest --nbtest``: notebooks as test items; without the flag nothing changes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).parent / "notebooks"


def pytest_run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=240, check=False)


def test_notebooks_become_test_items(tmp_path: Path) -> None:
    names = ["passes.ipynb", "raises.ipynb", "skipped.ipynb"]
    done = pytest_run(
        "--nbtest", "--nbtest-logdir", str(tmp_path / "logs"), "-rs",
        *(str(FIXTURES / n) for n in names), cwd=tmp_path,
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 1, out
    assert "1 failed, 1 passed, 1 skipped" in out
    assert "raise ValueError('the flux is negative')" in out  # the tracelog is the report
    assert "waits for the spectra service" in out
    assert list((tmp_path / "logs").rglob("raises.log"))


def test_without_the_flag_notebooks_are_not_collected(tmp_path: Path) -> None:
    done = pytest_run(str(FIXTURES), cwd=tmp_path)
    assert done.returncode == 5, done.stdout  # no tests collected
