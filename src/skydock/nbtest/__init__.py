"""The notebook test runner: execute a collection in parallel kernels and report.

    from skydock.nbtest import Options, find_notebooks, run_suite
    summary = run_suite(find_notebooks(["notebooks"]), Options(jobs=2))

Talks to the platform over HTTP only (``requires`` checks, ``--as`` tokens); never
imports the server or the engine.
"""

from skydock.nbtest.discover import find_notebooks, parse_kernel_map
from skydock.nbtest.model import Options, Result, Status, Summary
from skydock.nbtest.report import render_html, write_html, write_json, write_junit
from skydock.nbtest.runner import run_notebook, run_suite, token_for

__all__ = [
    "Options",
    "Result",
    "Status",
    "Summary",
    "find_notebooks",
    "parse_kernel_map",
    "render_html",
    "run_notebook",
    "run_suite",
    "token_for",
    "write_html",
    "write_json",
    "write_junit",
]
