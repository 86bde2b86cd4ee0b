"""Point the unmodified Astro Data Lab client (``dl``) at this Skydock, in every kernel.

The spawned notebook server puts this directory on ``PYTHONPATH``, so Python imports this
file at start-up in the server and in every kernel it launches. The ``dl`` client honours
no environment variable for its service URLs (only ``set_svc_url`` and machine-wide
``/tmp/*_SVC_URL`` files, which would leak between installations and users), so this
watches for its modules being imported and, right after each one runs, aims it at
``$SKYDOCK_URL``. The login state itself comes from ``~/.datalab`` files the spawner
writes. Nothing from Skydock is imported: a kernel may run in another environment.
Failures are swallowed, because a broken hook must never stop Python from starting.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

# Module → (its own path under the base URL, {module constant: path}).
_TARGETS: dict[str, tuple[str, dict[str, str]]] = {
    "dl.authClient": (
        "/auth",
        {"DEF_SERVICE_URL": "/auth", "SM_SERVICE_URL": "/storage", "QM_SERVICE_URL": "/query"},
    ),
    "dl.queryClient": (
        "/query",
        {"DEF_SERVICE_URL": "/query", "SM_SERVICE_URL": "/storage", "RM_SERVICE_URL": "/res"},
    ),
    "dl.storeClient": ("/storage", {"DEF_SERVICE_URL": "/storage", "QM_SERVICE_URL": "/query"}),
    "dl.resClient": ("/res", {"DEF_SERVICE_URL": "/res"}),
}


def _base() -> str | None:
    url = os.environ.get("SKYDOCK_URL", "").strip().rstrip("/")
    return url or None


def _aim(name: str, module: ModuleType, base: str) -> None:
    path, constants = _TARGETS[name]
    for constant, suffix in constants.items():
        if hasattr(module, constant):
            setattr(module, constant, base + suffix)
    setter = getattr(module, "set_svc_url", None)
    if callable(setter):
        setter(base + path)
    if name == "dl.storeClient":
        client = getattr(module, "sc_client", None)
        if client is not None:
            client.qm_svc_url = base + "/query"
    if name == "dl.queryClient":
        # Creating the query client resets the storage and resource clients to NOIRLab.
        for other in ("dl.storeClient", "dl.resClient"):
            if other in sys.modules:
                _aim(other, sys.modules[other], base)


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: Any, name: str) -> None:
        self.inner = inner
        self.name = name

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        created: ModuleType | None = self.inner.create_module(spec)
        return created

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)
        base = _base()
        if base:
            with contextlib.suppress(Exception):  # never break the user's import
                _aim(self.name, module, base)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)


class DataLabFinder(importlib.abc.MetaPathFinder):
    """Finds ``dl`` modules the normal way and wraps their loader."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _TARGETS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _Loader(spec.loader, fullname)
        return spec


def install() -> None:
    if _base() and not any(isinstance(f, DataLabFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, DataLabFinder())


with contextlib.suppress(Exception):  # Python start-up must survive anything here
    install()
