"""``pytest --nbtest PATH``: each notebook under PATH becomes one test item.

Loaded through the ``pytest11`` entry point, so it is always present but inert: without
``--nbtest`` it collects nothing and imports nothing heavy. Statuses map to pytest's:
PASS passes, SKIP skips with the reason, FAIL/ERROR/TIMEOUT fail with the tracelog.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nbtest", "Skydock notebook tests")
    group.addoption(
        "--nbtest",
        action="store_true",
        help="Collect .ipynb files under the given paths as notebook tests (skydock nbtest).",
    )
    group.addoption("--nbtest-kernel", default=None, help="Run every notebook in this kernel.")
    group.addoption("--nbtest-cell-timeout", type=float, default=600.0, help="Seconds per cell.")
    group.addoption("--nbtest-timeout", type=float, default=1800.0, help="Seconds per notebook.")
    group.addoption(
        "--nbtest-logdir",
        default=".skydock/nbtest/pytest",
        help="Tracelogs and executed notebooks.",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".ipynb" and parent.config.getoption("nbtest"):
        if ".ipynb_checkpoints" in file_path.parts:
            return None
        nb: NotebookFile = NotebookFile.from_parent(parent, path=file_path)
        return nb
    return None


class NotebookFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        yield NotebookItem.from_parent(self, name=self.path.name)


class NotebookFailedError(Exception):
    pass


class NotebookItem(pytest.Item):
    def runtest(self) -> None:
        import os

        from skydock.nbtest.model import Options, Status
        from skydock.nbtest.requires import Platform
        from skydock.nbtest.runner import (
            available_kernels,
            kernel_env,
            platform_url,
            run_notebook,
        )

        cfg = self.config
        options = Options(
            kernel=cfg.getoption("nbtest_kernel"),
            cell_timeout=cfg.getoption("nbtest_cell_timeout"),
            timeout=cfg.getoption("nbtest_timeout"),
            logdir=Path(cfg.getoption("nbtest_logdir")),
            token=os.environ.get("SKYDOCK_TOKEN"),
        )
        try:
            name = self.path.relative_to(cfg.rootpath).as_posix()
        except ValueError:
            name = self.path.name
        platform = Platform(platform_url(options), options.token)
        result = run_notebook(
            self.path, name, options, platform, kernel_env(options), available_kernels()
        )
        self.user_properties.append(("nbtest_status", str(result.status)))
        if result.status is Status.SKIP:
            pytest.skip(result.message)
        if result.status.failed:
            raise NotebookFailedError(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, NotebookFailedError):
            from skydock.nbtest.execute import tracelog

            result = excinfo.value.args[0]
            return tracelog(result)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"notebook {self.name}"
