"""Storage methods of ``Client``: your files on the server (``/api/storage``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, overload

from skydock.client.transport import Transport, storage_path

CHUNK = 1024 * 1024


def _chunks(f: IO[bytes]) -> Iterator[bytes]:
    while block := f.read(CHUNK):
        yield block


class StorageMethods(Transport):
    """Paths are relative to your home (``results/x.csv``; ``vos://`` and a leading ``/``
    are optional) or name another user's public space as ``<user>://public/...``."""

    def ls(self, path: str = "", *, user: str | None = None) -> list[dict[str, Any]]:
        """Entries ``{"name","path","type","size","modified","public"}`` of a directory."""
        params = {"path": path}
        if user:
            params["user"] = user
        answer: list[dict[str, Any]] = self._json("GET", "/api/storage/ls", params=params)
        return answer

    def stat(self, path: str) -> dict[str, Any]:
        """One entry, with its ``tags``."""
        answer: dict[str, Any] = self._json("GET", "/api/storage/stat", params={"path": path})
        return answer

    @overload
    def get(self, path: str, local: None = None) -> bytes: ...
    @overload
    def get(self, path: str, local: str | Path) -> Path: ...
    def get(self, path: str, local: str | Path | None = None) -> bytes | Path:
        """The file's bytes, or with ``local`` the path it was streamed to."""
        url = f"/api/storage/files/{storage_path(path)}"
        if local is None:
            return self._send("GET", url).content
        target = Path(local)
        if target.is_dir():
            target = target / Path(storage_path(path)).name
        tmp = target.with_name(target.name + ".part")
        response = self._send("GET", url, stream=True)
        try:
            with tmp.open("wb") as sink:
                for block in response.iter_bytes(CHUNK):
                    sink.write(block)
            tmp.replace(target)
        finally:
            response.close()
            tmp.unlink(missing_ok=True)
        return target

    def put(
        self, source: bytes | str | Path, path: str, *, overwrite: bool = True
    ) -> dict[str, Any]:
        """Store ``bytes``, or stream a local file (``str`` or ``Path``), at ``path``."""
        url = f"/api/storage/files/{storage_path(path)}"
        params = {"overwrite": "true" if overwrite else "false"}
        if isinstance(source, bytes):
            answer: dict[str, Any] = self._json("PUT", url, content=source, params=params)
            return answer
        local = Path(source)
        size = local.stat().st_size
        with local.open("rb") as f:
            answer = self._json(
                "PUT",
                url,
                content=_chunks(f),
                params=params,
                headers={
                    "Content-Length": str(size),
                    "Content-Type": "application/octet-stream",
                },
            )
        return answer

    def mv(self, src: str, dst: str) -> dict[str, Any]:
        """Move or rename (into ``dst`` when it is a directory)."""
        answer: dict[str, Any] = self._json(
            "POST", "/api/storage/mv", data={"src": src, "dst": dst}
        )
        return answer

    def cp(self, src: str, dst: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._json(
            "POST", "/api/storage/cp", data={"src": src, "dst": dst}
        )
        return answer

    def rm(self, path: str) -> None:
        """Delete a file (directories: ``rmdir``)."""
        self._send("DELETE", f"/api/storage/files/{storage_path(path)}")

    def mkdir(self, path: str, *, parents: bool = False) -> dict[str, Any]:
        answer: dict[str, Any] = self._json(
            "POST", "/api/storage/mkdir", data={"path": path, "parents": _flag(parents)}
        )
        return answer

    def rmdir(self, path: str, *, recursive: bool = False) -> None:
        self._send("POST", "/api/storage/rmdir", data={"path": path, "recursive": _flag(recursive)})

    def tag(self, path: str, tag: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._json(
            "POST", "/api/storage/tag", data={"path": path, "tag": tag}
        )
        return answer

    def quota(self) -> dict[str, Any]:
        """``{"used", "limit"}`` in bytes."""
        answer: dict[str, Any] = self._json("GET", "/api/storage/quota")
        return answer


def _flag(value: bool) -> str:
    return "true" if value else "false"
