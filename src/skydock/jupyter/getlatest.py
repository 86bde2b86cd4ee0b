"""``getlatest <dir>``: a writable copy of the notebook collection in your home.

Every user server shows the deployed collection read-only as ``~/notebooks-latest``
(``$SKYDOCK_NOTEBOOKS_LATEST`` elsewhere); it changes under you whenever the collection
is re-deployed. ``getlatest mywork`` copies it to ``~/mywork`` so that you can edit and
run the notebooks. Your own files are never overwritten silently: if any file would be,
nothing is copied and the clashes are listed; ``--force`` replaces them (other files in
the folder stay as they are).
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

LATEST_ENV = "SKYDOCK_NOTEBOOKS_LATEST"
LATEST_NAME = "notebooks-latest"
SHOWN_CLASHES = 10


class GetLatestError(Exception):
    """Something the user can fix; the message says what."""


def latest_dir() -> Path:
    return Path(os.environ.get(LATEST_ENV) or Path.home() / LATEST_NAME)


def target_dir(name: str) -> Path:
    path = Path(name).expanduser()
    return path if path.is_absolute() else Path.home() / path


def get_latest(source: Path, target: Path, *, force: bool = False) -> list[Path]:
    """Copy ``source`` into ``target`` writable; returns the files written (relative)."""
    if not source.is_dir():
        raise GetLatestError(
            f"the notebook collection is not at {source}: set {LATEST_ENV} or ask the "
            "platform's operators to deploy it"
        )
    source = source.resolve()
    if target.exists() and not target.is_dir():
        raise GetLatestError(f"{target} exists and is not a folder; pick another name")
    resolved = target.resolve()
    if resolved == source or source in resolved.parents:
        raise GetLatestError(f"{target} is inside the read-only collection; pick another folder")
    files = sorted(
        p.relative_to(source)
        for p in source.rglob("*")
        if p.is_file()
        and not p.is_symlink()  # a link in the collection could point anywhere
        and not any(part.startswith(".") for part in p.relative_to(source).parts)
    )
    clashes = [rel for rel in files if (target / rel).exists() or (target / rel).is_symlink()]
    if clashes and not force:
        shown = "\n  ".join(str(c) for c in clashes[:SHOWN_CLASHES])
        more = f"\n  … and {len(clashes) - SHOWN_CLASHES} more" if len(clashes) > 10 else ""
        raise GetLatestError(
            f"{len(clashes)} files already exist in {target} and would be overwritten:\n"
            f"  {shown}{more}\nnothing was copied; use another folder, or --force to "
            "replace them with the latest versions"
        )
    for rel in files:
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
            dest.unlink()
        shutil.copyfile(source / rel, dest)
        dest.chmod(stat.S_IMODE((source / rel).stat().st_mode) | stat.S_IWUSR | stat.S_IRUSR)
    return files


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="getlatest",
        description="Copy the latest notebook collection into a folder of your home, "
        "where you can edit it.",
    )
    parser.add_argument("dir", help="folder to copy into (relative to your home)")
    parser.add_argument(
        "--force", action="store_true", help="replace files that already exist in the folder"
    )
    args = parser.parse_args(argv)
    target = target_dir(args.dir)
    try:
        written = get_latest(latest_dir(), target, force=args.force)
    except (GetLatestError, OSError) as exc:
        print(f"getlatest: {exc}", file=sys.stderr)
        return 1
    print(f"copied {len(written)} files into {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
