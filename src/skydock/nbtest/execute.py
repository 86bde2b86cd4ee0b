"""Run one notebook in a kernel of its own, in a working directory of its own.

Isolation: each attempt runs in a fresh temporary directory. The notebook's regular
sibling files up to ``COPY_LIMIT`` bytes are copied in; its sibling directories and
bigger files are symlinked. So a notebook that writes ``out.fits`` or rewrites a small
input next to it writes its own copy (parallel runs never collide, the source tree stays
clean), while large data shipped beside notebooks costs no copying. Writes *into* a
linked sibling directory are shared: write outputs to the working directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import nbformat
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import NoSuchKernel
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

from skydock.nbtest import requires as req
from skydock.nbtest.model import Options, Result, Status

COPY_LIMIT = 16 * 1024 * 1024
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class KernelStartError(Exception):
    pass


@dataclass
class Outcome:
    status: Status
    message: str = ""
    cell_index: int | None = None
    cell_source: str = ""
    traceback: str = ""
    output_before: str = ""


def make_workdir(notebook: Path, keep_out: list[Path]) -> Path:
    """A fresh directory holding the notebook's siblings (see the module docstring)."""
    work = Path(tempfile.mkdtemp(prefix="skydock-nbtest-"))
    skip = {p.resolve() for p in keep_out}
    for entry in notebook.resolve().parent.iterdir():
        if entry.name.startswith(".") or entry.resolve() in skip:
            continue
        target = work / entry.name
        if entry.is_file() and not entry.is_symlink() and entry.stat().st_size <= COPY_LIMIT:
            shutil.copy2(entry, target)
        else:
            target.symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    return work


def text_of(outputs: list[Any]) -> str:
    parts: list[str] = []
    for out in outputs:
        if out.get("output_type") == "stream":
            parts.append(str(out.get("text", "")))
        elif out.get("output_type") in ("execute_result", "display_data"):
            plain = out.get("data", {}).get("text/plain")
            if plain:
                parts.append(str(plain) + "\n")
    return ANSI.sub("", "".join(parts))


def _failure(cell: NotebookNode, index: int, status: Status, message: str) -> Outcome:
    outputs = list(cell.get("outputs", []))
    errors = [i for i, o in enumerate(outputs) if o.get("output_type") == "error"]
    before = outputs[: errors[0]] if errors else outputs
    tb = ""
    if errors:
        err = outputs[errors[0]]
        tb = ANSI.sub("", "\n".join(err.get("traceback", [])))
        message = message or f"{err.get('ename')}: {err.get('evalue')}"
    return Outcome(status, message, index, str(cell.source), tb, text_of(before))


async def _start(
    client: NotebookClient, workdir: Path, env: dict[str, str], attempts: int, stderr: IO[bytes]
) -> None:
    """Start the kernel, again on failure: simultaneous starts can lose a port race."""
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            client.km = client.create_kernel_manager()
            await client.async_start_new_kernel(cwd=str(workdir), env=env, stderr=stderr)
            await client.async_start_new_kernel_client()
            return
        except NoSuchKernel:
            raise
        except Exception as exc:
            last = exc
            with contextlib.suppress(Exception):
                if client.km is not None:
                    await client._async_cleanup_kernel()
            client.km = None
            client.kc = None
            await asyncio.sleep(0.2 * (attempt + 1))
    raise KernelStartError(f"the kernel did not start after {attempts} attempts: {last}")


async def _execute(
    nb: NotebookNode,
    kernel: str | None,
    workdir: Path,
    env: dict[str, str],
    cell_timeout: float,
    timeout: float,
    modules: list[str],
    start_attempts: int,
    stderr: IO[bytes],
) -> Outcome:
    # The notebook's clock starts once its kernel is ready (start-up has its own limit),
    # so a slow start on a busy machine is not charged to the notebook's cells.
    deadline = float("inf")

    def cell_limit(cell: NotebookNode) -> int:
        return max(1, int(min(cell_timeout, deadline - time.monotonic()) + 0.999))

    client = NotebookClient(
        nb,
        kernel_name=kernel or "",
        timeout_func=cell_limit,
        shell_timeout_interval=1,
        startup_timeout=60,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(workdir)}},
        record_timing=True,
    )
    client.reset_execution_trackers()
    try:
        await _start(client, workdir, env, start_attempts, stderr)
    except NoSuchKernel as exc:
        return Outcome(Status.ERROR, f"kernel {exc} is not installed")
    except KernelStartError as exc:
        return Outcome(Status.ERROR, f"{exc}{_tail(stderr)}")
    index = -1
    try:
        assert client.kc is not None
        info = await client.async_wait_for_reply(client.kc.kernel_info())
        if info and "language_info" in info["content"]:
            nb.metadata["language_info"] = info["content"]["language_info"]
        deadline = time.monotonic() + timeout
        if modules:
            missing = await _missing_modules(client, modules)
            if missing:
                return Outcome(Status.SKIP, f"module {missing[0]} is not importable in the kernel")
        for index, cell in enumerate(nb.cells):
            if time.monotonic() >= deadline:
                last = max(0, index - 1)
                what = f"the notebook ran past its {timeout:g} s limit"
                return _failure(nb.cells[last], last, Status.TIMEOUT, what)
            await client.async_execute_cell(
                cell, index, execution_count=client.code_cells_executed + 1
            )
        return Outcome(Status.PASS)
    except CellTimeoutError:
        whole = time.monotonic() >= deadline - 0.5
        what = (
            f"the notebook ran past its {timeout:g} s limit"
            if whole
            else (f"cell {index} ran past the {cell_timeout:g} s cell limit")
        )
        return _failure(nb.cells[index], index, Status.TIMEOUT, what)
    except CellExecutionError:
        return _failure(nb.cells[index], index, Status.FAIL, "")
    except DeadKernelError:
        return _failure(nb.cells[index], index, Status.FAIL, f"the kernel died{_tail(stderr)}")
    finally:
        with contextlib.suppress(Exception):
            await client._async_cleanup_kernel()


async def _missing_modules(client: NotebookClient, modules: list[str]) -> list[str]:
    kc = cast(AsyncKernelClient, client.kc)
    sink: list[str] = []
    await kc.execute_interactive(
        req.MODULE_CHECK.format(mods=modules),
        store_history=False,
        timeout=30,
        output_hook=lambda msg: _collect(msg, sink),
    )
    try:
        found = json.loads("".join(sink).strip() or "[]")
    except ValueError:
        return []
    return [str(m) for m in found]


def _collect(msg: dict[str, Any], sink: list[str]) -> None:
    if msg["header"]["msg_type"] == "stream":
        sink.append(msg["content"]["text"])


def run_once(
    nb: NotebookNode,
    path: Path,
    kernel: str | None,
    env: dict[str, str],
    options: Options,
    timeout: float,
    modules: list[str],
) -> Outcome:
    workdir = make_workdir(path, keep_out=[options.logdir])
    # The kernel's own stderr (startup chatter, crashes) is kept aside, quoted on trouble.
    with tempfile.TemporaryFile() as stderr:
        try:
            return asyncio.run(
                _execute(
                    nb,
                    kernel,
                    workdir,
                    env,
                    options.cell_timeout,
                    timeout,
                    modules,
                    options.kernel_start_attempts,
                    stderr,
                )
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def _tail(stderr: IO[bytes], limit: int = 2000) -> str:
    stderr.flush()
    stderr.seek(0, 2)
    size = stderr.tell()
    stderr.seek(max(0, size - limit))
    text = stderr.read().decode(errors="replace").strip()
    return f"; the kernel's stderr ends:\n{text}" if text else ""


def tracelog(result: Result) -> str:
    lines = [
        f"notebook: {result.name}",
        f"path:     {result.path}",
        f"kernel:   {result.kernel or '(default)'}",
        f"status:   {result.status}  ({result.duration:.1f} s, attempt {result.attempts})",
    ]
    if result.message:
        lines.append(f"message:  {result.message}")
    if result.cell_index is not None:
        lines += [f"\n--- failing cell {result.cell_index} ---", result.cell_source.rstrip()]
        lines += ["\n--- output before the failure ---", result.output_before.rstrip() or "(none)"]
        lines += ["\n--- traceback ---", result.traceback.rstrip() or "(none)"]
    return "\n".join(lines) + "\n"


def save(result: Result, nb: NotebookNode | None, logdir: Path) -> None:
    """The tracelog (always) and the executed notebook (when it ran) under ``logdir``."""
    base = logdir / result.name
    base.parent.mkdir(parents=True, exist_ok=True)
    log = base.with_suffix(".log")
    if nb is not None:
        executed = base.with_suffix(".ipynb")
        nbformat.write(nb, executed)
        result.executed = str(executed)
    result.log = str(log)
    log.write_text(tracelog(result))
