"""STILTS taplint against a live server: the compliance gate (0 errors)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.server.conftest import LiveServer

pytestmark = pytest.mark.slow


@pytest.mark.skipif(shutil.which("stilts") is None, reason="STILTS is not installed")
def test_taplint_reports_no_errors(tap_live: LiveServer) -> None:
    run = subprocess.run(
        ["stilts", "taplint", f"tapurl={tap_live.url}/tap", "report=EWF", "maxrepeat=20"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = run.stdout
    totals = [line for line in report.splitlines() if line.startswith("Totals:")]
    assert totals, f"taplint printed no Totals line:\n{report}\n{run.stderr}"
    print(totals[0])
    for line in report.splitlines():
        if line.startswith(("W-", "F-")):
            print(line)
    errors = [line for line in report.splitlines() if line.startswith("E-")]
    found = re.search(r"Errors: (\d+)", totals[0])
    assert found is not None
    assert int(found.group(1)) == 0, "\n".join(errors)
    # Every stage ran, and none stopped early with a failure (only LOC: no ObsLocTAP).
    stages = [
        "TMV",
        "TME",
        "TMS",
        "TMC",
        "CPV",
        "CAP",
        "AVV",
        "QGE",
        "QPO",
        "QAS",
        "UWS",
        "MDQ",
        "UPL",
        "EXA",
    ]
    for stage in stages:
        assert f"Section {stage}:" in report, stage
    failures = [line for line in report.splitlines() if line.startswith("F-")]
    assert all(line.startswith(("F-LOC-", "F-OBS-")) for line in failures), failures
