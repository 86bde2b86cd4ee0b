"""A user's notebook home: the folders and login files a spawned server starts with.

Kept apart from the spawner so the layout can be built and checked without a hub, and
reused by any spawner that can see a shared filesystem.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

STARTUP_DIR = Path(__file__).parent / "startup"
"""On the spawned server's ``PYTHONPATH``: aims the ``dl`` client at ``SKYDOCK_URL``."""


@dataclass(frozen=True)
class HomeLayout:
    """Where one user's server finds things; ``None`` leaves a link out."""

    home: Path
    storage: Path | None = None
    notebooks: Path | None = None


def write_private(path: Path, text: str) -> None:
    """Replace a file atomically, readable by its owner only (it holds a token)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise


def link(path: Path, target: Path) -> bool:
    """Make ``path`` a symlink to ``target``; never replace a real file or folder."""
    if path.is_symlink():
        if path.readlink() == target:
            return True
        path.unlink()
    elif path.exists():
        return False
    path.symlink_to(target, target_is_directory=True)
    return True


def datalab_conf(username: str, token: str, base_url: str) -> str:
    """``~/.datalab/dl.conf`` as the Data Lab client writes it after a login."""
    conf = configparser.RawConfigParser()
    conf["datalab"] = {"created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")}
    conf["login"] = {"status": "loggedin", "user": username, "authtoken": token}
    for section, path in (("auth", "/auth"), ("query", "/query"), ("storage", "/storage")):
        conf[section] = {"profile": "default", "svc_url": base_url + path}
    conf["vospace"] = {"mount": ""}
    with tempfile.TemporaryFile("w+") as f:
        conf.write(f)
        f.seek(0)
        return f.read()


# JupyterLab settings a new home starts with (the user may change them): start the
# notebook's own kernel without asking, and never fetch news (the platform may be offline).
LAB_DEFAULTS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"autoStartDefaultKernel": True},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
}


def lab_defaults(home: Path) -> None:
    """Write the JupyterLab defaults that are not there yet; never overwrite a choice."""
    settings = home / ".jupyter" / "lab" / "user-settings"
    for name, values in LAB_DEFAULTS.items():
        path = settings / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values, indent=2) + "\n")


def prepare_home(layout: HomeLayout, username: str, token: str, base_url: str) -> None:
    """Create the home, its links, and the login files both clients read.

    ``~/.datalab/id_token.<user>`` plus a logged-in ``dl.conf`` is what the unmodified
    Data Lab client reads when no login was made in the process; ``~/.skydock/token`` is
    what ``skydock.client`` reads through ``SKYDOCK_TOKEN_FILE``. Both are rewritten on
    every start, so a restarted server never holds a revoked or expired token.
    """
    home = layout.home
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    base_url = base_url.rstrip("/")
    write_private(home / ".datalab" / f"id_token.{username}", token)
    write_private(home / ".datalab" / "dl.conf", datalab_conf(username, token, base_url))
    write_private(home / ".skydock" / "token", token)
    lab_defaults(home)
    if layout.storage is not None:
        layout.storage.mkdir(parents=True, exist_ok=True)
        link(home / "storage", layout.storage)
    if layout.notebooks is not None and layout.notebooks.exists():
        link(home / "notebooks-latest", layout.notebooks)


def notebook_collection(data_dir: Path, fallback: Path | None) -> Path | None:
    """The deployed collection, else a private copy of ``fallback`` (the repository's).

    A copy rather than a link: a notebook run in JupyterLab is saved with its outputs,
    and that must never write into the source tree.
    """
    deployed = data_dir / "notebooks" / "current"
    if deployed.exists():
        return deployed
    if fallback is None or not fallback.is_dir():
        return None
    copy = data_dir / "hub" / "notebooks"
    if not copy.exists():
        copy.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".notebooks-", dir=copy.parent))
        shutil.copytree(fallback, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".*"))
        try:
            staging.replace(copy)
        except OSError:  # another spawn made it first
            shutil.rmtree(staging, ignore_errors=True)
    return copy


def main(argv: list[str] | None = None) -> None:
    """``python -m skydock.jupyter.home CMD...``: write the login files, then exec CMD.

    For spawners whose servers run where the hub cannot write (a pod, a batch job): the
    hub puts ``SKYDOCK_URL`` and ``SKYDOCK_TOKEN`` in the environment, this turns them
    into the files the clients read in ``$HOME`` and starts the real command.
    """
    import sys

    args = sys.argv[1:] if argv is None else argv
    username = os.environ.get("JUPYTERHUB_USER", "")
    token = os.environ.get("SKYDOCK_TOKEN", "")
    url = os.environ.get("SKYDOCK_URL", "")
    if username and token and url:
        prepare_home(HomeLayout(home=Path.home()), username, token, url)
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = f"{STARTUP_DIR}{os.pathsep}{path}" if path else str(STARTUP_DIR)
    if args:
        os.execvp(args[0], args)


if __name__ == "__main__":
    main()
