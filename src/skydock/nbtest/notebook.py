"""Reading a notebook, its ``skydock`` metadata, and papermill-style parameters."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from skydock.errors import SkydockError

INJECTED_TAG = "injected-parameters"


class BadNotebookError(SkydockError):
    """The notebook cannot be run as written: bad JSON, bad metadata."""


@dataclass
class NotebookMeta:
    """``metadata.skydock`` of a notebook::

    {"skydock": {"requires": ["service:tap", "table:demo.smash"], "skip": "why",
                 "timeout": 300, "parameters": {"rows": 10}}}
    """

    requires: list[str] = field(default_factory=list)
    skip: str | None = None
    timeout: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


def load(path: Path) -> NotebookNode:
    try:
        nb = nbformat.read(path, as_version=4)
    except (json.JSONDecodeError, nbformat.reader.NotJSONError) as exc:
        raise BadNotebookError(f"{path} is not a notebook: bad JSON ({exc})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BadNotebookError(f"cannot read {path}: {exc}") from exc
    except Exception as exc:  # nbformat raises a variety for malformed documents
        raise BadNotebookError(f"{path} is not a valid notebook: {exc}") from exc
    return nb


def read_meta(nb: NotebookNode) -> NotebookMeta:
    raw = nb.metadata.get("skydock", {})
    if not isinstance(raw, dict):
        raise BadNotebookError("metadata.skydock must be an object")
    unknown = set(raw) - {"requires", "skip", "timeout", "parameters"}
    if unknown:
        raise BadNotebookError(
            f"unknown metadata.skydock keys {sorted(unknown)}; "
            "accepted: requires, skip, timeout, parameters"
        )
    requires = raw.get("requires", [])
    if isinstance(requires, str):
        requires = [requires]
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise BadNotebookError("metadata.skydock.requires must be a list of strings")
    timeout = raw.get("timeout")
    if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
        raise BadNotebookError(f"metadata.skydock.timeout must be seconds > 0, got {timeout!r}")
    params = raw.get("parameters", {})
    if not isinstance(params, dict):
        raise BadNotebookError("metadata.skydock.parameters must be an object")
    skip = raw.get("skip")
    return NotebookMeta(
        requires=list(requires),
        skip=str(skip) if skip else None,
        timeout=float(timeout) if timeout is not None else None,
        parameters=dict(params),
    )


def kernel_name(nb: NotebookNode) -> str | None:
    name = nb.metadata.get("kernelspec", {}).get("name")
    return str(name) if name else None


def inject_parameters(nb: NotebookNode, params: dict[str, Any]) -> None:
    """Add a cell assigning ``params`` after the cell tagged ``parameters`` (papermill's
    convention), or first when there is none; a previous injected cell is replaced."""
    if not params:
        return
    for name in params:
        if not name.isidentifier():
            raise BadNotebookError(f"parameter name {name!r} is not a Python identifier")
    source = "# Parameters injected by skydock nbtest\n" + "".join(
        f"{k} = {v!r}\n" for k, v in params.items()
    )
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = [INJECTED_TAG]
    cells = [c for c in nb.cells if INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]
    where = next(
        (
            i + 1
            for i, c in enumerate(cells)
            if "parameters" in c.get("metadata", {}).get("tags", [])
        ),
        0,
    )
    cells.insert(where, cell)
    nb.cells = cells


def parse_param(item: str) -> tuple[str, Any]:
    """``NAME=VALUE``: VALUE as JSON when it parses (numbers, true, lists), else text."""
    name, sep, value = item.partition("=")
    if not sep or not name.isidentifier():
        raise SkydockError(f"--param wants NAME=VALUE with NAME a Python identifier, got {item!r}")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value
