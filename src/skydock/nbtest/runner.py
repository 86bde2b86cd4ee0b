"""Run a suite: every notebook ends with a status, whatever the others did.

Parallelism is threads in this process, one kernel process per notebook. The kernel is
already a process of its own (its own cwd, environment and memory), so threads cost no
interpreter start or re-import per notebook and share one port cache in jupyter_client;
each thread runs its own asyncio loop for nbclient. Kernel starts are retried, because
ports picked by two kernel managers at once can collide.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from jupyter_client.kernelspec import KernelSpecManager
from nbformat import NotebookNode

from skydock.errors import SkydockError
from skydock.nbtest import execute, notebook
from skydock.nbtest import requires as req
from skydock.nbtest.discover import choose_kernel, display_names
from skydock.nbtest.model import Options, Result, Status, Summary

DEFAULT_URL = "http://127.0.0.1:8000"
# Never handed to a kernel: a notebook runs with the rights of the user it runs as.
SECRET_ENV = ("SKYDOCK_ADMIN_TOKEN",)


class TokenError(SkydockError):
    code = "unauthenticated"
    status = 401


def available_kernels() -> list[str]:
    return sorted(KernelSpecManager().find_kernel_specs())


def platform_url(options: Options) -> str:
    return (options.url or os.environ.get("SKYDOCK_URL") or DEFAULT_URL).rstrip("/")


def token_for(
    user: str, url: str, admin_token: str | None = None, data_dir: Path | None = None
) -> str:
    """A fresh token for ``user``, without a prompt.

    With ``data_dir`` (on the server's machine) through ``skydock user token``, the same
    code path an operator uses; else from ``POST /api/users/{user}/token`` with an admin
    token (``--admin-token`` or ``SKYDOCK_ADMIN_TOKEN``).
    """
    if data_dir is not None:
        cmd = [sys.executable, "-c", "from skydock.cli import main; main()"]
        cmd += ["user", "token", user, "--data-dir"]
        done = subprocess.run([*cmd, str(data_dir)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise TokenError(f"skydock user token {user} failed: {done.stderr.strip()}")
        return done.stdout.strip().splitlines()[-1]
    admin = admin_token or os.environ.get("SKYDOCK_ADMIN_TOKEN")
    if not admin:
        raise TokenError(
            f"--as {user} needs an admin token (--admin-token or SKYDOCK_ADMIN_TOKEN) "
            "or --data-dir on the server's machine"
        )
    try:
        r = httpx.post(
            f"{url}/api/users/{user}/token",
            headers={"Authorization": f"Bearer {admin}"},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        raise TokenError(f"cannot reach {url} for a token for {user}: {exc}") from exc
    if r.status_code != 200:
        raise TokenError(f"{url} refused a token for {user}: {r.status_code} {r.text.strip()}")
    return str(r.json()["token"])


def kernel_env(options: Options) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    env["SKYDOCK_NBTEST"] = "1"
    if options.url:
        env["SKYDOCK_URL"] = options.url
    if options.token:
        env["SKYDOCK_TOKEN"] = options.token
        env.pop("SKYDOCK_TOKEN_FILE", None)
    return env


def run_notebook(
    path: Path,
    name: str,
    options: Options,
    platform: req.Platform,
    env: dict[str, str],
    kernels: list[str],
) -> Result:
    """One notebook, start to report; never raises for anything the notebook did."""
    t0 = time.monotonic()
    result = Result(name=name, path=str(path), status=Status.ERROR)
    nb: NotebookNode | None = None
    try:
        source = notebook.load(path)
        meta = notebook.read_meta(source)
        result.kernel = choose_kernel(
            path, name, notebook.kernel_name(source), options.kernel, options.kernel_map
        )
        if meta.skip:
            result.status, result.message = Status.SKIP, meta.skip
        elif reason := req.check(meta.requires, platform, env):
            result.status, result.message = Status.SKIP, reason
        elif (kname := result.kernel or "python3") not in kernels:
            result.message = (
                f"kernel {kname!r} is not installed; available: {', '.join(kernels) or 'none'} "
                "(add one with `python -m ipykernel install --user --name NAME`, "
                "or choose with --kernel / --kernel-map)"
            )
        else:
            modules = req.modules(meta.requires)
            timeout = min(options.timeout, meta.timeout or options.timeout)
            for attempt in range(1, options.retries + 2):
                nb = notebook.load(path)
                notebook.inject_parameters(nb, {**meta.parameters, **options.parameters})
                out = execute.run_once(nb, path, result.kernel, env, options, timeout, modules)
                result.attempts = attempt
                result.status, result.message = out.status, out.message
                result.cell_index, result.cell_source = out.cell_index, out.cell_source
                result.traceback, result.output_before = out.traceback, out.output_before
                if out.status not in (Status.FAIL, Status.TIMEOUT):
                    break
    except SkydockError as exc:
        result.status, result.message = Status.ERROR, exc.message
    except Exception as exc:  # the runner's own trouble still ends as one notebook's ERROR
        result.status, result.message = Status.ERROR, f"{type(exc).__name__}: {exc}"
    result.duration = time.monotonic() - t0
    try:
        execute.save(result, nb, options.logdir)
    except OSError as exc:
        result.message += f" (could not write the log: {exc})"
    return result


def run_suite(
    paths: list[Path],
    options: Options,
    on_result: Callable[[Result], None] | None = None,
) -> Summary:
    """Run ``paths`` with ``options.jobs`` at a time; results in the order given."""
    t0 = time.monotonic()
    names = display_names(paths)
    platform = req.Platform(platform_url(options), options.token)
    env = kernel_env(options)
    kernels = available_kernels()

    def one(item: tuple[Path, str]) -> Result:
        r = run_notebook(item[0], item[1], options, platform, env, kernels)
        if on_result is not None:
            on_result(r)
        return r

    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        results = list(pool.map(one, zip(paths, names, strict=True)))
    return Summary(results, time.monotonic() - t0)
