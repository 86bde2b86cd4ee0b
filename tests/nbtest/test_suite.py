"""The fixture notebooks through ``skydock nbtest --jobs 2``, once, then every report."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from skydock.cli import nbtest as nbtest_cli

HERE = Path(__file__).parent
FIXTURES = HERE / "notebooks"

EXPECTED = {
    "bad_json.ipynb": "ERROR",
    "flaky.ipynb": "PASS",  # after one retry
    "hangs.ipynb": "TIMEOUT",
    "missing_kernel.ipynb": "ERROR",
    "needs_module.ipynb": "SKIP",
    "needs_service.ipynb": "SKIP",
    "parameters.ipynb": "PASS",
    "passes.ipynb": "PASS",
    "raises.ipynb": "FAIL",
    "skipped.ipynb": "SKIP",
    "writes_1.ipynb": "PASS",
    "writes_2.ipynb": "PASS",
}

app = typer.Typer()
app.command()(nbtest_cli.nbtest)


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@dataclass
class Run:
    exit_code: int
    stdout: str
    out: Path
    report: dict[str, Any]

    def result(self, name: str) -> dict[str, Any]:
        return next(r for r in self.report["notebooks"] if r["name"] == name)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    out = tmp_path_factory.mktemp("nbtest")
    os.environ["FLAKY_MARKER"] = str(out / "flaky-marker")
    try:
        res = run_cli(
            str(FIXTURES),
            "--jobs", "2",
            "--retries", "1",
            "--cell-timeout", "60",
            "--url", "http://127.0.0.1:9",  # nothing listens: service:* requirements skip
            "--logdir", str(out / "logs"),
            "--junit", str(out / "junit.xml"),
            "--html", str(out / "report.html"),
            "--json", str(out / "report.json"),
        )  # fmt: skip
    finally:
        del os.environ["FLAKY_MARKER"]
    report = json.loads((out / "report.json").read_text())
    yield Run(res.exit_code, res.stdout, out, report)


def test_every_notebook_ends_with_its_status(run: Run) -> None:
    got = {r["name"]: r["status"] for r in run.report["notebooks"]}
    assert got == EXPECTED
    assert run.report["ok"] is False
    assert run.report["counts"] == {"PASS": 5, "FAIL": 1, "ERROR": 2, "TIMEOUT": 1, "SKIP": 3}


def test_exit_code_is_one_when_something_failed(run: Run) -> None:
    assert run.exit_code == 1, run.stdout


def test_terminal_table_names_the_failing_cell(run: Run) -> None:
    assert "raises.ipynb" in run.stdout
    assert "cell 2: print('about to fail')" in run.stdout
    assert "12 notebooks" in run.stdout


def test_failure_report_has_cell_source_traceback_and_output_before(run: Run) -> None:
    r = run.result("raises.ipynb")
    assert r["cell_index"] == 2
    assert "raise ValueError('the flux is negative')" in r["cell_source"]
    assert "ValueError: the flux is negative" in r["traceback"]
    assert r["message"] == "ValueError: the flux is negative"
    assert r["output_before"] == "about to fail\n"
    log = Path(r["log"]).read_text()
    for piece in ("--- failing cell 2 ---", "raise ValueError", "about to fail", "Traceback"):
        assert piece in log
    assert "never reached" not in log


def test_executed_notebooks_are_saved_with_outputs(run: Run) -> None:
    executed = json.loads(Path(run.result("passes.ipynb")["executed"]).read_text())
    outputs = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert any("answer 42" in "".join(o.get("text", "")) for o in outputs)
    assert (run.out / "logs" / "raises.ipynb").exists()
    assert not (run.out / "logs" / "bad_json.ipynb").exists()  # never ran
    assert (run.out / "logs" / "bad_json.log").exists()


def test_timeout_names_the_hanging_cell(run: Run) -> None:
    r = run.result("hangs.ipynb")
    assert r["cell_index"] == 1
    assert "time.sleep(600)" in r["cell_source"]
    assert "4 s limit" in r["message"]  # metadata timeout: 4 s, not the 60 s cell limit
    assert r["duration"] < 30


def test_errors_say_what_is_wrong(run: Run) -> None:
    assert "bad JSON" in run.result("bad_json.ipynb")["message"]
    msg = run.result("missing_kernel.ipynb")["message"]
    assert "'no-such-kernel-xyz' is not installed" in msg
    assert "available: " in msg and "python3" in msg


def test_skips_give_the_reason(run: Run) -> None:
    assert run.result("skipped.ipynb")["message"] == "waits for the spectra service"
    assert (
        "no Skydock server answers at http://127.0.0.1:9"
        in run.result("needs_service.ipynb")["message"]
    )
    assert "no_such_module_xyz" in run.result("needs_module.ipynb")["message"]


def test_parameters_from_metadata_are_injected_after_the_parameters_cell(run: Run) -> None:
    executed = json.loads(Path(run.result("parameters.ipynb")["executed"]).read_text())
    tags = [c["metadata"].get("tags", []) for c in executed["cells"]]
    assert tags.index(["injected-parameters"]) == tags.index(["parameters"]) + 1
    assert "rows=5 label=from-metadata" in json.dumps(executed)


def test_flaky_notebook_passes_on_its_retry(run: Run) -> None:
    assert run.result("flaky.ipynb")["attempts"] == 2


def test_same_file_name_in_parallel_does_not_collide(run: Run) -> None:
    assert run.result("writes_1.ipynb")["status"] == "PASS"
    assert run.result("writes_2.ipynb")["status"] == "PASS"
    assert not (FIXTURES / "shared_name.txt").exists()  # the source tree stays clean


def test_junit_xml(run: Run) -> None:
    suite = ET.parse(run.out / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("12", "2", "2")
    assert suite.get("skipped") == "3"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == set(EXPECTED)
    failure = cases["raises.ipynb"].find("failure")
    assert failure is not None and failure.get("message") == "ValueError: the flux is negative"
    assert "raise ValueError('the flux is negative')" in (failure.text or "")
    assert cases["hangs.ipynb"].find("failure") is not None
    assert cases["bad_json.ipynb"].find("error") is not None
    skipped = cases["skipped.ipynb"].find("skipped")
    assert skipped is not None and skipped.get("message") == "waits for the spectra service"
    assert len(cases["passes.ipynb"]) == 0


def test_html_report_is_self_contained_and_shows_the_failing_cell(run: Run) -> None:
    page = (run.out / "report.html").read_text()
    assert "raise ValueError(&#x27;the flux is negative&#x27;)" in page
    assert "waits for the spectra service" in page
    assert "<script" not in page and "http://" not in page.replace("http://127.0.0.1:9", "")
    assert page.count("<tr>") == len(EXPECTED) + 1


def test_kernel_map_and_kernel_override(tmp_path: Path) -> None:
    nb = str(FIXTURES / "missing_kernel.ipynb")
    res = run_cli(nb, "--kernel-map", "missing_*=python3", "--logdir", str(tmp_path), "-q")
    assert res.exit_code == 0, res.stdout
    res = run_cli(
        str(FIXTURES / "passes.ipynb"), "--kernel", "nope-kernel", "--logdir", str(tmp_path),
        "--json", str(tmp_path / "r.json"),
    )  # fmt: skip
    assert res.exit_code == 1
    r = json.loads((tmp_path / "r.json").read_text())["notebooks"][0]
    assert (r["status"], r["kernel"]) == ("ERROR", "nope-kernel")
    assert "'nope-kernel' is not installed" in r["message"]


def test_cli_parameters_override_metadata(tmp_path: Path) -> None:
    res = run_cli(
        str(FIXTURES / "parameters.ipynb"), "-p", "rows=7", "--logdir", str(tmp_path),
        "--json", str(tmp_path / "r.json"),
    )  # fmt: skip
    assert res.exit_code == 1
    r = json.loads((tmp_path / "r.json").read_text())["notebooks"][0]
    assert r["status"] == "FAIL"
    assert "AssertionError: 7" in r["message"]


def test_exit_code_zero_when_only_passes_and_skips(tmp_path: Path) -> None:
    res = run_cli(
        str(FIXTURES / "skipped.ipynb"), str(FIXTURES / "needs_service.ipynb"),
        "--url", "http://127.0.0.1:9", "--logdir", str(tmp_path),
    )  # fmt: skip
    assert res.exit_code == 0, res.stdout
    assert "2 notebooks" in res.stdout and "2 skip" in res.stdout
