"""A real git remote for the deploy tests: a bare repository on local disk, and a
working clone that commits and pushes to it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

NOTEBOOKS = ("01_Intro/Intro.ipynb", "02_Science/Cone.ipynb", "README.md")


def git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={
            "GIT_AUTHOR_NAME": "Test",
            "GIT_AUTHOR_EMAIL": "test@example.org",
            "GIT_COMMITTER_NAME": "Test",
            "GIT_COMMITTER_EMAIL": "test@example.org",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(cwd or Path.cwd()),
            "PATH": "/usr/bin:/bin",
        },
    )
    return done.stdout.strip()


class Remote:
    """``url`` is what Skydock clones; :meth:`push` publishes a new version."""

    def __init__(self, root: Path) -> None:
        self.url = str(root / "collection.git")
        self.work = root / "work"
        git("init", "--quiet", "--bare", "--initial-branch=main", self.url)
        git("clone", "--quiet", self.url, str(self.work))
        git("checkout", "--quiet", "-B", "main", cwd=self.work)

    def push(self, version: int, branch: str = "main") -> str:
        """Every file of the collection says ``version``: a mixed release is visible."""
        git("checkout", "--quiet", "-B", branch, cwd=self.work)
        for rel in NOTEBOOKS:
            path = self.work / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"version": version, "file": rel}))
        git("add", "-A", cwd=self.work)
        git("commit", "--quiet", "-m", f"version {version}", cwd=self.work)
        git("push", "--quiet", "origin", branch, cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)


def versions(release: Path) -> set[int]:
    """The versions the files of a deployed release carry (one, unless it is mixed)."""
    return {json.loads((release / rel).read_text())["version"] for rel in NOTEBOOKS}
