"""Deploying the notebook collection: from a real git remote, read-only, swapped
atomically, pruned, serialised, and from the source tree when no remote is set."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skydock.cli import _register
from skydock.cli import app as cli_app
from skydock.server.config import Config
from skydock.server.factory import Factory
from skydock.server.services.notebooks import DeployError, NotebookService, redact
from tests.jupyter.notebooks_remote import NOTEBOOKS, Remote, git, versions


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path / "remote")


def service(data: Path, remote: Remote, keep: int = 5) -> NotebookService:
    return NotebookService(data / "notebooks", git_url=remote.url, keep_releases=keep)


def test_a_deploy_is_the_pushed_commit_read_only(tmp_path: Path, remote: Remote) -> None:
    commit = remote.push(1)
    nb = service(tmp_path / "data", remote)
    release = nb.deploy()
    assert release.id == commit and release.changed
    current = tmp_path / "data" / "notebooks" / "current"
    assert current.is_symlink() and current.resolve() == release.path.resolve()
    for rel in NOTEBOOKS:  # byte for byte what git holds for that commit
        assert (current / rel).read_text() == git("show", f"{commit}:{rel}", cwd=remote.work)
    assert not (release.path / ".git").exists()
    for path in [release.path, *release.path.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0, path
    again = nb.deploy()
    assert again.id == commit and not again.changed


def test_new_pushes_swap_current_and_old_releases_are_pruned(
    tmp_path: Path, remote: Remote
) -> None:
    nb = service(tmp_path / "data", remote, keep=2)
    commits = []
    for version in (1, 2, 3):
        commits.append(remote.push(version))
        assert nb.deploy().id == commits[-1]
        assert versions(nb.current_link) == {version}
    kept = sorted(p.name for p in nb.releases.iterdir())
    assert kept == sorted(commits[1:])
    assert nb.current() == commits[2]
    leftovers = [p.name for p in nb.root.iterdir() if p.name.startswith((".incoming", ".current"))]
    assert leftovers == []


def test_a_failed_fetch_changes_nothing(tmp_path: Path, remote: Remote) -> None:
    commit = remote.push(1)
    nb = service(tmp_path / "data", remote)
    nb.deploy()
    broken = NotebookService(nb.root, git_url=str(tmp_path / "missing.git"))
    with pytest.raises(DeployError, match="left as it was"):
        broken.deploy()
    wrong_branch = NotebookService(nb.root, git_url=remote.url, branch="nope")
    with pytest.raises(DeployError):
        wrong_branch.deploy()
    assert nb.current() == commit and versions(nb.current_link) == {1}
    assert sorted(p.name for p in nb.releases.iterdir()) == [commit]
    assert not [p for p in nb.root.iterdir() if p.name.startswith(".incoming")]


def test_credentials_in_the_url_never_reach_a_message(tmp_path: Path) -> None:
    url = "https://deploy:s3cr3t-token@127.0.0.1:9/collection.git"
    assert redact(url) == "https://127.0.0.1:9/collection.git"
    nb = NotebookService(tmp_path / "nb", git_url=url)
    with pytest.raises(DeployError) as caught:
        nb.deploy()
    assert "s3cr3t-token" not in str(caught.value)
    assert "s3cr3t-token" not in nb.source()


def test_concurrent_deploys_never_show_a_mixed_release(tmp_path: Path, remote: Remote) -> None:
    remote.push(0)
    nb = service(tmp_path / "data", remote, keep=50)
    nb.deploy()
    seen: list[set[int]] = []
    problems: list[str] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                release = nb.current_link.resolve(strict=True)  # what a user opens
                seen.append(versions(release))
            except OSError as exc:
                problems.append(repr(exc))

    def deploy() -> None:
        for _ in range(3):
            try:
                nb.deploy()
            except Exception as exc:
                problems.append(repr(exc))

    reader = threading.Thread(target=read)
    reader.start()
    for version in (1, 2, 3):
        remote.push(version)
        workers = [threading.Thread(target=deploy) for _ in range(3)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    stop.set()
    reader.join()
    assert problems == []
    assert seen and all(len(s) == 1 for s in seen)
    assert versions(nb.current_link) == {3}


def test_without_a_remote_the_source_tree_is_deployed(tmp_path: Path) -> None:
    source = tmp_path / "src-notebooks"
    (source / "a").mkdir(parents=True)
    (source / "a" / "x.ipynb").write_text("{}")
    (source / ".hidden").write_text("not deployed")
    nb = NotebookService(tmp_path / "nb", git_url=None, source_dir=source)
    first = nb.deploy()
    assert first.id.startswith("local-") and (nb.current_link / "a" / "x.ipynb").read_text() == "{}"
    assert not (nb.current_link / ".hidden").exists()
    assert not nb.deploy().changed
    (source / "a" / "x.ipynb").write_text('{"v": 2}')
    assert nb.deploy().id != first.id
    missing = NotebookService(tmp_path / "nb2", git_url=None, source_dir=tmp_path / "none")
    with pytest.raises(Exception, match="git_url"):
        missing.deploy()


def test_the_server_deploys_at_start(tmp_path: Path, remote: Remote) -> None:
    commit = remote.push(7)
    config = Config(data_dir=tmp_path / "data", notebooks={"git_url": remote.url})
    factory = Factory(config)
    factory.start()
    factory.close()  # waits for the first deploy
    assert factory.notebook_service().current() == commit
    # A second start with a deployed collection does not fetch again.
    remote.push(8)
    factory = Factory(config)
    factory.start()
    factory.close()
    assert factory.notebook_service().current() == commit


def test_cli_deploy_and_status(tmp_path: Path, remote: Remote) -> None:
    commit = remote.push(1)
    _register()
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data")]
    r = runner.invoke(cli_app, ["notebooks", "deploy", "--git-url", remote.url, *data])
    assert r.exit_code == 0, r.output
    assert f"deployed {commit}" in r.output
    r = runner.invoke(cli_app, ["notebooks", "status", *data])
    assert r.exit_code == 0 and f"current: {commit}" in r.output
