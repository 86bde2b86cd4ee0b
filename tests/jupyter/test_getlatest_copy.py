"""``getlatest DIR``: a writable copy of the read-only collection, never overwriting a
user's files without ``--force``; also run as the installed console script."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from skydock.jupyter.getlatest import GetLatestError, get_latest, main


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A user's home holding ``notebooks-latest`` as deployed: read-only files and dirs."""
    home = tmp_path / "home" / "student01"
    latest = tmp_path / "release"
    (latest / "01_Intro").mkdir(parents=True)
    (latest / "01_Intro" / "Intro.ipynb").write_text('{"cells": []}')
    (latest / "README.md").write_text("# The collection\n")
    for path in [*latest.rglob("*"), latest]:
        path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o222)
    home.mkdir(parents=True)
    (home / "notebooks-latest").symlink_to(latest, target_is_directory=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SKYDOCK_NOTEBOOKS_LATEST", raising=False)
    yield home
    for path in [latest, *latest.rglob("*")]:
        path.chmod(stat.S_IMODE(path.stat().st_mode) | 0o200)


def test_copies_the_collection_writable(home: Path) -> None:
    assert main(["mywork"]) == 0
    copied = home / "mywork"
    assert (copied / "01_Intro" / "Intro.ipynb").read_text() == '{"cells": []}'
    assert (copied / "README.md").read_text() == "# The collection\n"
    for path in copied.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) & stat.S_IWUSR, path
        assert not path.is_symlink()
    (copied / "README.md").write_text("my notes")  # really writable, not linked
    assert (home / "notebooks-latest" / "README.md").read_text() == "# The collection\n"


def test_refuses_to_overwrite_then_force_replaces_only_the_clashes(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = home / "mywork"
    (work / "01_Intro").mkdir(parents=True)
    (work / "01_Intro" / "Intro.ipynb").write_text("my edited notebook")
    (work / "mine.txt").write_text("my own file")
    assert main(["mywork"]) == 1
    err = capsys.readouterr().err
    assert "01_Intro/Intro.ipynb" in err and "--force" in err and "nothing was copied" in err
    assert (work / "01_Intro" / "Intro.ipynb").read_text() == "my edited notebook"
    assert not (work / "README.md").exists()
    assert main(["mywork", "--force"]) == 0
    assert (work / "01_Intro" / "Intro.ipynb").read_text() == '{"cells": []}'
    assert (work / "mine.txt").read_text() == "my own file"


def test_a_clean_existing_folder_is_filled(home: Path) -> None:
    (home / "empty").mkdir()
    assert main(["empty"]) == 0
    assert (home / "empty" / "README.md").exists()


def test_the_environment_variable_and_clear_errors(home: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "only.ipynb").write_text("{}")
    os.environ["SKYDOCK_NOTEBOOKS_LATEST"] = str(other)
    try:
        assert main(["fromenv"]) == 0
        assert [p.name for p in (home / "fromenv").iterdir()] == ["only.ipynb"]
    finally:
        del os.environ["SKYDOCK_NOTEBOOKS_LATEST"]
    with pytest.raises(GetLatestError, match="not at"):
        get_latest(tmp_path / "nothing", home / "x")
    (home / "afile").write_text("x")
    with pytest.raises(GetLatestError, match="not a folder"):
        get_latest(home / "notebooks-latest", home / "afile")
    with pytest.raises(GetLatestError, match="inside the read-only collection"):
        get_latest(home / "notebooks-latest", home / "notebooks-latest" / "sub")


def test_the_console_script(home: Path) -> None:
    script = Path(sys.executable).with_name("getlatest")
    assert script.exists(), "getlatest is not installed: pyproject [project.scripts]"
    env = {**os.environ, "HOME": str(home)}
    done = subprocess.run([str(script), "course"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "copied 2 files" in done.stdout
    again = subprocess.run([str(script), "course"], env=env, capture_output=True, text=True)
    assert again.returncode == 1 and "already exist" in again.stderr
    assert shutil.which("getlatest", path=str(script.parent))
