"""Data Lab-style storage functions over the default Skydock client.

``from skydock.client import storeClient as sc``: ``sc.ls``, ``sc.get``, ``sc.put``,
``sc.mv``, ``sc.cp``, ``sc.rm``, ``sc.mkdir``, ``sc.rmdir``, ``sc.stat`` with Data Lab's
names and answers (``'OK'``, comma-joined listings); failures raise the typed errors of
``skydock.client.errors``.
"""
# ruff: noqa: N999 - the module is named as Data Lab's, so `import ... as sc` habits work

from __future__ import annotations

from pathlib import Path
from typing import Any

from skydock.client.default import default_client, get_svc_url, set_svc_url
from skydock.client.errors import NotFoundError

__all__ = [
    "cp",
    "get",
    "get_svc_url",
    "ls",
    "mkdir",
    "mv",
    "put",
    "rm",
    "rmdir",
    "saveAs",
    "set_svc_url",
    "stat",
    "tag",
]


def ls(name: str = "vos://", format: str = "csv", token: str | None = None) -> str:
    """Names in a directory: ``format='csv'`` joins them with ``,`` (Data Lab's default),
    ``'long'`` gives one line per entry with type, size and date."""
    entries = default_client().ls(name)
    if format == "long":
        return "".join(
            f"{'d' if e['type'] == 'dir' else '-'}  {e.get('size') or 0:>12}  "
            f"{e.get('modified') or '':<25}  {e['name']}{'/' if e['type'] == 'dir' else ''}\n"
            for e in entries
        )
    return ",".join(sorted(e["name"] for e in entries))


def stat(path: str, token: str | None = None) -> dict[str, Any]:
    return default_client().stat(path)


def get(fr: str, to: str = "", mode: str = "text", token: str | None = None) -> Any:
    """The file as text (``mode='binary'``: bytes), or with ``to`` saved locally (``'OK'``)."""
    client = default_client()
    if to:
        client.get(fr, Path(to))
        return "OK"
    body = client.get(fr)
    if mode == "binary":
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body


def _is_dir(path: str) -> bool:
    if path in ("", "vos://", "/") or path.endswith("/"):
        return True
    try:
        return bool(default_client().stat(path)["type"] == "dir")
    except NotFoundError:
        return False


def put(fr: str, to: str = "vos://", token: str | None = None) -> str:
    """Upload a local file; into ``to`` when it is a directory."""
    local = Path(fr)
    target = to
    if _is_dir(to):
        target = to.rstrip("/") + ("" if to.endswith("://") else "/") + local.name
    default_client().put(local, target)
    return "OK"


def saveAs(data: str | bytes, name: str, token: str | None = None) -> str:  # noqa: N802 - Data Lab's name
    """Store a string (or bytes) as a file."""
    default_client().put(data.encode() if isinstance(data, str) else data, name)
    return "OK"


def mv(fr: str, to: str, token: str | None = None) -> str:
    default_client().mv(fr, to)
    return "OK"


def cp(fr: str, to: str, token: str | None = None) -> str:
    default_client().cp(fr, to)
    return "OK"


def rm(name: str, token: str | None = None) -> str:
    default_client().rm(name)
    return "OK"


def mkdir(name: str, token: str | None = None) -> str:
    default_client().mkdir(name.rstrip("/"))
    return "OK"


def rmdir(name: str, token: str | None = None) -> str:
    """Remove a directory and what is in it (Data Lab's rmdir is recursive too)."""
    default_client().rmdir(name.rstrip("/"), recursive=True)
    return "OK"


def tag(name: str, tag: str, token: str | None = None) -> str:
    default_client().tag(name, tag)
    return "OK"
