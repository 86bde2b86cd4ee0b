"""``skydock nbtest``: run a notebook collection in parallel kernels and report."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer


def nbtest(
    targets: Annotated[
        list[str], typer.Argument(help="Notebooks, directories (searched recursively) or globs.")
    ],
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Leave out paths matching this glob.")
    ] = None,
    kernel: Annotated[
        str | None, typer.Option(help="Run every notebook in this kernel, not its own.")
    ] = None,
    kernel_map: Annotated[
        list[str] | None,
        typer.Option("--kernel-map", help="GLOB=KERNEL: this kernel for matching notebooks."),
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Notebooks at once.")] = 1,
    cell_timeout: Annotated[float, typer.Option(help="Seconds one cell may take.")] = 600.0,
    timeout: Annotated[
        float, typer.Option(help="Seconds one notebook's cells may take (after its kernel starts).")
    ] = 1800.0,
    retries: Annotated[
        int, typer.Option(min=0, help="Run a FAIL or TIMEOUT again up to N times.")
    ] = 0,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="NAME=VALUE injected as a parameter (JSON or text)."),
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here.")] = None,
    html: Annotated[
        Path | None, typer.Option(help="Write a self-contained HTML report here.")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write a JSON report here.")
    ] = None,
    logdir: Annotated[Path, typer.Option(help="Tracelogs and executed notebooks go here.")] = Path(
        ".skydock/nbtest/logs"
    ),
    as_user: Annotated[
        str | None,
        typer.Option("--as", help="Run the notebooks with a fresh token for this account."),
    ] = None,
    admin_token: Annotated[
        str | None,
        typer.Option(help="Admin token that mints the --as token (env SKYDOCK_ADMIN_TOKEN)."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="On the server's machine: mint the --as token from this data dir."),
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="The platform (default SKYDOCK_URL, then 127.0.0.1:8000).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No table, no progress.")] = False,
) -> None:
    """Run notebooks; exit 1 if any FAILed, ERRORed or TIMEd OUT (SKIP is fine)."""
    from skydock.nbtest import (
        Options,
        find_notebooks,
        parse_kernel_map,
        run_suite,
        token_for,
        write_html,
        write_json,
        write_junit,
    )
    from skydock.nbtest.notebook import parse_param
    from skydock.nbtest.report import COLOURS, print_table
    from skydock.nbtest.runner import platform_url

    options = Options(
        kernel=kernel,
        kernel_map=parse_kernel_map(kernel_map or []),
        jobs=jobs,
        cell_timeout=cell_timeout,
        timeout=timeout,
        retries=retries,
        logdir=logdir,
        parameters=dict(parse_param(p) for p in param or []),
        url=url,
        as_user=as_user,
    )
    paths = find_notebooks(targets, exclude or [])
    if not paths:
        typer.echo("no notebooks found", err=True)
        sys.exit(2)
    if as_user:
        options.url = platform_url(options)
        options.token = token_for(as_user, options.url, admin_token, data_dir)
    elif token := os.environ.get("SKYDOCK_TOKEN"):
        options.token = token

    def progress(r: object) -> None:
        from rich import print as rprint

        from skydock.nbtest.model import Result

        assert isinstance(r, Result)
        rprint(f"[{COLOURS[r.status]}]{r.status:<7}[/] {r.name} ({r.duration:.1f} s)")

    summary = run_suite(paths, options, on_result=None if quiet else progress)
    if not quiet:
        print_table(summary)
    if junit:
        write_junit(summary, junit)
    if html:
        write_html(summary, html)
    if json_out:
        write_json(summary, json_out)
    if summary.failed:
        sys.exit(1)
