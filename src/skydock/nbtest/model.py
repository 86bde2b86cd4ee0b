"""What a run is asked to do and what each notebook came to."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


class Status(enum.StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"  # a cell raised
    ERROR = "ERROR"  # could not start: bad JSON, missing kernel, bad metadata
    TIMEOUT = "TIMEOUT"  # a cell or the whole notebook ran out of time
    SKIP = "SKIP"  # metadata said so, or a requirement is absent

    @property
    def failed(self) -> bool:
        return self in (Status.FAIL, Status.ERROR, Status.TIMEOUT)


@dataclass
class Options:
    """Everything that shapes a run; the CLI, the pytest plugin and notebooks build one."""

    kernel: str | None = None
    kernel_map: list[tuple[str, str]] = field(default_factory=list)  # (glob, kernel)
    jobs: int = 1
    cell_timeout: float = 600.0
    timeout: float = 1800.0
    retries: int = 0
    logdir: Path = Path(".skydock/nbtest/logs")
    parameters: dict[str, Any] = field(default_factory=dict)
    # The platform: where `requires` is checked and what the kernels are given.
    url: str | None = None
    token: str | None = None
    as_user: str | None = None
    kernel_start_attempts: int = 3


@dataclass
class Result:
    """One notebook's outcome, with enough to act on without opening a log."""

    name: str  # the path shown in reports, relative to the common root
    path: str
    status: Status
    duration: float = 0.0
    kernel: str | None = None
    attempts: int = 1
    message: str = ""  # the skip reason, the error, or the exception line
    cell_index: int | None = None  # the failing cell, counted from 0 over all cells
    cell_source: str = ""
    traceback: str = ""
    output_before: str = ""  # what the failing cell printed before it failed
    log: str | None = None  # the tracelog file
    executed: str | None = None  # the executed notebook

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = str(self.status)
        return d

    @property
    def failing_cell(self) -> str:
        """``cell 3: first line of its source`` for tables."""
        if self.cell_index is None:
            return ""
        first = next((ln for ln in self.cell_source.splitlines() if ln.strip()), "")
        return f"cell {self.cell_index}: {first.strip()[:60]}"


@dataclass
class Summary:
    results: list[Result]
    duration: float

    @property
    def counts(self) -> dict[str, int]:
        out = {str(s): 0 for s in Status}
        for r in self.results:
            out[str(r.status)] += 1
        return out

    @property
    def failed(self) -> bool:
        return any(r.status.failed for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration": round(self.duration, 3),
            "counts": self.counts,
            "ok": not self.failed,
            "notebooks": [r.to_dict() for r in self.results],
        }
