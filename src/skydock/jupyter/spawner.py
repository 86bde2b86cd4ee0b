"""``SkydockSpawner``: the embedded default, one local process per user.

Every server runs as the hub's own OS user (no system accounts), with ``HOME`` at
``<data_dir>/home/<user>``. Before it starts, the spawner asks the API for a fresh token
for that user and hands it over three ways: ``SKYDOCK_TOKEN`` for ``skydock.client``, the
``~/.datalab`` login files for the unmodified ``dl`` client, and ``~/.skydock/token``. The
token is revoked when the server stops. This gives no isolation between users on one
machine; for that, use the KubeSpawner or batchspawner templates (``skydock hub config``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jupyterhub.spawner import SimpleLocalProcessSpawner
from traitlets import Unicode

from skydock.jupyter.api import SkydockApi
from skydock.jupyter.home import STARTUP_DIR, HomeLayout, notebook_collection, prepare_home


def _prepend(path: str, existing: str | None) -> str:
    return path if not existing else f"{path}{os.pathsep}{existing}"


async def issue_notebook_token(spawner: Any) -> str:
    """Issue a token for the spawner's user and put it, with the URL, in its environment.

    Usable as ``c.Spawner.pre_spawn_hook`` with any spawner (KubeSpawner, batchspawner):
    reads ``SKYDOCK_HUB_API_URL``, ``SKYDOCK_PUBLIC_URL`` and ``SKYDOCK_HUB_API_TOKEN``
    from the hub's environment.
    """
    api_url = os.environ.get("SKYDOCK_HUB_API_URL", "http://127.0.0.1:8000")
    public = os.environ.get("SKYDOCK_PUBLIC_URL", api_url)
    api = SkydockApi(api_url, os.environ.get("SKYDOCK_HUB_API_TOKEN"))
    token = await api.issue_token(spawner.user.name)
    spawner.environment.update({"SKYDOCK_URL": public, "SKYDOCK_TOKEN": token})
    return token


class SkydockSpawner(SimpleLocalProcessSpawner):
    """Local processes under the hub's OS user, each with its own Skydock home and token."""

    data_dir = Unicode(".skydock", config=True, help="The Skydock data directory.")
    api_url = Unicode(
        "http://127.0.0.1:8000", config=True, help="Skydock API as the hub reaches it."
    )
    skydock_url = Unicode(
        "",
        config=True,
        help="Skydock URL as notebooks reach it (SKYDOCK_URL); api_url when empty.",
    )
    admin_token = Unicode(
        config=True,
        help="Administrator token used to issue user tokens (default: $SKYDOCK_HUB_API_TOKEN).",
    )
    storage_root = Unicode(
        "",
        config=True,
        help="Local folder holding every user's storage; empty for object stores (no link).",
    )
    notebooks_fallback = Unicode(
        "",
        config=True,
        help="Notebook collection to offer when none has been deployed (a repository copy).",
    )

    _skydock_token: str | None = None

    def _admin_token(self) -> str:
        return self.admin_token or os.environ.get("SKYDOCK_HUB_API_TOKEN", "")

    def _base_url(self) -> str:
        return (self.skydock_url or self.api_url).rstrip("/")

    def _layout(self) -> HomeLayout:
        data_dir = Path(self.data_dir).resolve()
        name = self.user.name
        fallback = Path(self.notebooks_fallback) if self.notebooks_fallback else None
        return HomeLayout(
            home=data_dir / "home" / name,
            storage=Path(self.storage_root) / name if self.storage_root else None,
            notebooks=notebook_collection(data_dir, fallback),
        )

    async def start(self) -> Any:
        layout = self._layout()
        self.home_dir = str(layout.home)
        self.notebook_dir = str(layout.home)
        token = await SkydockApi(self.api_url, self._admin_token()).issue_token(self.user.name)
        prepare_home(layout, self.user.name, token, self._base_url())
        self._skydock_token = token
        return await super().start()

    async def stop(self, now: bool = False) -> None:
        await super().stop(now=now)
        token = self._skydock_token
        if token:
            self._skydock_token = None
            await SkydockApi(self.api_url).revoke(token)

    def get_args(self) -> list[str]:
        args: list[str] = super().get_args()
        if os.geteuid() == 0:
            # Containers and CI often run everything as root; the server refuses unless told.
            args.append("--ServerApp.allow_root=True")
        return args

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        env = super().user_env(env)
        data_dir = Path(self.data_dir).resolve()
        home = Path(self.home_dir)
        env["SKYDOCK_URL"] = self._base_url()
        env["SKYDOCK_TOKEN_FILE"] = str(home / ".skydock" / "token")
        if self._skydock_token:
            env["SKYDOCK_TOKEN"] = self._skydock_token
        env["JUPYTER_PATH"] = _prepend(str(data_dir / "jupyter"), env.get("JUPYTER_PATH"))
        env["PYTHONPATH"] = _prepend(str(STARTUP_DIR), env.get("PYTHONPATH"))
        return env
