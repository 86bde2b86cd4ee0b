"""Which notebooks a run covers, the names reports show, and the kernel each one gets."""

from __future__ import annotations

import glob
import os
from fnmatch import fnmatch
from pathlib import Path

from skydock.errors import SkydockError

SKIP_DIRS = {".ipynb_checkpoints", "__pycache__", "node_modules"}


class NoNotebooksError(SkydockError):
    code = "bad_request"


def _in_skipped_dir(path: Path) -> bool:
    return any(part in SKIP_DIRS or part.startswith(".") for part in path.parts[:-1])


def find_notebooks(targets: list[str], exclude: list[str] | None = None) -> list[Path]:
    """Notebooks named by files, directories (searched recursively) or globs, in order.

    Hidden directories and ``.ipynb_checkpoints`` are never searched. ``exclude`` globs
    are matched against the path as given and against the file name.
    """
    found: list[Path] = []
    for target in targets:
        p = Path(target)
        if p.is_dir():
            hits = sorted(q for q in p.rglob("*.ipynb") if not _in_skipped_dir(q.relative_to(p)))
        elif p.is_file():
            hits = [p]
        elif glob.has_magic(target):
            hits = sorted(
                Path(h)
                for h in glob.glob(target, recursive=True)  # noqa: PTH207 (absolute and ** patterns)
                if h.endswith(".ipynb")
            )
        else:
            raise NoNotebooksError(f"no such notebook, directory or glob: {target}")
        found.extend(hits)
    seen: set[Path] = set()
    out: list[Path] = []
    for nb in found:
        key = nb.resolve()
        if key in seen or matches(nb, exclude or []):
            continue
        seen.add(key)
        out.append(nb)
    return out


def matches(path: Path, patterns: list[str]) -> bool:
    text = path.as_posix()
    return any(fnmatch(text, pat) or fnmatch(path.name, pat) for pat in patterns)


def display_names(paths: list[Path]) -> list[str]:
    """Paths relative to the deepest directory they share: short, and unique."""
    if not paths:
        return []
    parents = [str(p.resolve().parent) for p in paths]
    root = Path(os.path.commonpath(parents))
    return [p.resolve().relative_to(root).as_posix() for p in paths]


def parse_kernel_map(items: list[str]) -> list[tuple[str, str]]:
    """``GLOB=KERNEL`` pairs, in the order given (the first match wins)."""
    out: list[tuple[str, str]] = []
    for item in items:
        pattern, sep, kernel = item.rpartition("=")
        if not sep or not pattern or not kernel:
            raise SkydockError(f"--kernel-map wants GLOB=KERNEL, got {item!r}")
        out.append((pattern, kernel))
    return out


def choose_kernel(
    path: Path, name: str, own: str | None, override: str | None, kernel_map: list[tuple[str, str]]
) -> str | None:
    """A ``--kernel-map`` glob first, then ``--kernel``, then the notebook's kernelspec."""
    for pattern, kernel in kernel_map:
        if fnmatch(name, pattern) or matches(path, [pattern]):
            return kernel
    return override or own
