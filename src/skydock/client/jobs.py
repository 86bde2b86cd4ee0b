"""Async query jobs: submit, watch, fetch the result, abort, delete."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skydock.client.convert import (
    BINARY_FORMATS,
    TABLE_FORMATS,
    canonical,
    convert,
    read_arrow,
    read_csv,
)
from skydock.client.errors import BadRequestError, JobError, WaitTimeoutError

if TYPE_CHECKING:
    from skydock.client.transport import Transport

TERMINAL = ("COMPLETED", "ERROR", "ABORTED", "ARCHIVED")
LONG_POLL_S = 20


class Job:
    """One async job on the server. ``phase`` and ``error`` ask the server afresh."""

    def __init__(self, client: Transport, info: dict[str, Any], fmt: str | None = None):
        self._client = client
        self.info = info
        self.id: str = info["id"]
        self._fmt = fmt

    def __repr__(self) -> str:
        return f"Job({self.id!r}, phase={self.info.get('phase')!r})"

    def refresh(self, wait: float | None = None) -> dict[str, Any]:
        """Fetch the job; with ``wait`` the server answers when the phase changes."""
        params = {"wait": int(wait)} if wait else None
        read = (wait or 0) + 60
        self.info = self._client._json(
            "GET", f"/api/jobs/{self.id}", params=params, read_timeout=read
        )
        return self.info

    @property
    def phase(self) -> str:
        phase: str = self.refresh()["phase"]
        return phase

    @property
    def error(self) -> str | None:
        message: str | None = self.refresh().get("error")
        return message

    def wait(
        self, timeout: float | None = None, progress: bool = True, raise_on_error: bool = True
    ) -> Job:
        """Block until the job ends; returns the job, so ``job.wait().result()`` reads well.

        ``progress`` shows the phase and the elapsed time (tqdm if it is installed, else a
        line per phase change on stderr). A job that ends in ERROR or ABORTED raises
        ``JobError`` with the job's message unless ``raise_on_error=False``; ``timeout``
        (seconds) raises ``WaitTimeoutError`` and leaves the job running.
        """
        start = time.monotonic()
        display = _Progress(self.id) if progress else None
        delay = 0.2
        try:
            phase = self.info.get("phase", "")
            while phase not in TERMINAL:
                if display:
                    display.show(phase)
                remaining = None if timeout is None else timeout - (time.monotonic() - start)
                if remaining is not None and remaining <= 0:
                    raise WaitTimeoutError(
                        f"job {self.id} is still {phase} after {timeout:g} s; "
                        "call wait() again later, or abort() it"
                    )
                poll = LONG_POLL_S if remaining is None else max(1, min(LONG_POLL_S, remaining))
                asked = time.monotonic()
                new = self.refresh(wait=poll)["phase"]
                if new == phase and time.monotonic() - asked < 0.5:
                    # The server answered at once: poll gently instead of spinning.
                    time.sleep(delay if remaining is None else min(delay, max(remaining, 0)))
                    delay = min(delay * 1.5, 2.0)
                phase = new
            if display:
                display.show(phase)
        finally:
            if display:
                display.close()
        if raise_on_error and phase in ("ERROR", "ABORTED"):
            message = self.info.get("error") or f"job {self.id} ended in phase {phase}"
            raise JobError(message)
        return self

    def result(self, fmt: str | None = None) -> Any:
        """The result of a COMPLETED job, as ``fmt`` (default: what ``submit`` asked for).

        A job that saved its rows on the server (``out='vos://...'`` or ``'mydb://...'``)
        answers ``{"out", "rows", "overflow"}``, as ``query(out=...)`` does.
        """
        if self.info.get("out"):
            answer: dict[str, Any] = self._client._json("GET", f"/api/jobs/{self.id}/result")
            return answer
        stored = str(self.info.get("format") or "csv").lower()
        wanted = canonical(fmt or self._fmt or ("pandas" if stored == "arrow" else stored))
        response = self._client._send("GET", f"/api/jobs/{self.id}/result", read_timeout=None)
        body = response.content
        if wanted in TABLE_FORMATS:
            readers = {
                "arrow": read_arrow,
                "csv": read_csv,
                "tsv": lambda b: read_csv(b, "\t"),
                "parquet": _read_parquet,
            }
            if stored not in readers:
                raise BadRequestError(
                    f"job {self.id} wrote {stored}, which cannot become fmt={wanted!r}; "
                    "submit with a table format (pandas, table, polars, arrow) or csv"
                )
            return convert(readers[stored](body), wanted, overflow=bool(self.info.get("overflow")))
        if wanted != stored:
            raise BadRequestError(
                f"job {self.id} wrote {stored}, not {wanted}; ask for fmt={stored!r}"
            )
        return body if wanted in BINARY_FORMATS else body.decode("utf-8")

    def save(self, path: str | Path) -> Path:
        """Stream the result, in the job's own format, to a local file."""
        target = Path(path)
        tmp = target.with_name(target.name + ".part")
        response = self._client._send(
            "GET", f"/api/jobs/{self.id}/result", stream=True, read_timeout=None
        )
        try:
            with tmp.open("wb") as sink:
                for block in response.iter_bytes(1024 * 1024):
                    sink.write(block)
            tmp.replace(target)
        finally:
            response.close()
            tmp.unlink(missing_ok=True)
        return target

    def abort(self) -> Job:
        self.info = self._client._json("POST", f"/api/jobs/{self.id}/abort")
        return self

    def delete(self) -> None:
        self._client._send("DELETE", f"/api/jobs/{self.id}")


def _read_parquet(body: bytes) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pq.read_table(pa.BufferReader(body))


class _Progress:
    """Phase and elapsed time while waiting: a tqdm line when tqdm is there, else stderr."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.last = ""
        self.bar: Any = None
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return
        self.bar = tqdm(total=None, bar_format="{desc} [{elapsed}]", leave=True)

    def show(self, phase: str) -> None:
        if self.bar is not None:
            self.bar.set_description_str(f"job {self.job_id}: {phase}")
            self.bar.update(0)
        elif phase != self.last:
            print(f"job {self.job_id}: {phase}", file=sys.stderr)
        self.last = phase

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
