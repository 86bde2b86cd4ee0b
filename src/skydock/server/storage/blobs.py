"""User files as blobs behind one small interface, on any fsspec filesystem.

Keys are ``/``-separated paths relative to the store's root (``alice/public/x.csv``).
Directories are real on a local disk but only implied on an object store, so every
directory made on purpose holds an empty marker object: an empty directory survives on
S3 too. Writes go to a hidden temporary name beside the target and are moved into place
only when complete, so a failed or interrupted upload never leaves a partial file and
never harms the file it was replacing. Names starting with :data:`HIDDEN_PREFIX` are the
store's own and are never listed.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Protocol

from fsspec import AbstractFileSystem

HIDDEN_PREFIX = ".skydock-"
DIR_MARKER = HIDDEN_PREFIX + "dir"
UPLOAD_PREFIX = HIDDEN_PREFIX + "upload-"
# The smallest S3 multipart part: an upload holds a few of these in memory at most.
WRITE_BLOCK_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Blob:
    """One file or directory in the store."""

    key: str
    is_dir: bool
    size: int
    modified: datetime | None

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


class BlobStore(Protocol):
    """What the storage service needs from a place that keeps bytes."""

    def info(self, key: str) -> Blob | None: ...

    def children(self, key: str) -> list[Blob]: ...

    def open_read(self, key: str) -> IO[bytes]: ...

    def write(self, key: str) -> contextlib.AbstractContextManager[IO[bytes]]: ...

    def makedirs(self, key: str) -> None: ...

    def remove(self, key: str) -> None: ...

    def move(self, src: str, dst: str) -> None: ...

    def copy(self, src: str, dst: str) -> None: ...

    def usage(self, key: str) -> int: ...


class FsspecBlobStore:
    """A :class:`BlobStore` on a local directory or an S3-compatible bucket via fsspec.

    ``renames_atomic`` says the filesystem renames in place (a local disk); otherwise
    a move is a copy followed by a delete, as object stores need.
    """

    def __init__(self, fs: AbstractFileSystem, root: str, *, renames_atomic: bool) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self._renames_atomic = renames_atomic
        if renames_atomic:
            fs.makedirs(self.root, exist_ok=True)

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}" if key else self.root

    def _key(self, path: str) -> str:
        stripped = self.fs._strip_protocol(path).rstrip("/")
        return stripped[len(self.root) + 1 :]

    def info(self, key: str) -> Blob | None:
        try:
            found = self.fs.info(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return self._blob(found, key)

    def children(self, key: str) -> list[Blob]:
        found = self.fs.ls(self._path(key), detail=True)
        blobs = [self._blob(d, self._key(d["name"])) for d in found]
        return sorted(
            (b for b in blobs if b.key != key and not b.name.startswith(HIDDEN_PREFIX)),
            key=lambda b: b.name.encode(),
        )

    def open_read(self, key: str) -> IO[bytes]:
        f: IO[bytes] = self.fs.open(self._path(key), "rb")
        return f

    @contextlib.contextmanager
    def write(self, key: str) -> Iterator[IO[bytes]]:
        """A file that becomes ``key`` when the block ends cleanly, and nothing otherwise."""
        parent, _, name = key.rpartition("/")
        temp = f"{parent}/{UPLOAD_PREFIX}{secrets.token_hex(8)}-{name}"
        self.fs.makedirs(self._path(parent), exist_ok=True)
        f = self.fs.open(self._path(temp), "wb", block_size=WRITE_BLOCK_BYTES)
        try:
            yield f
            f.close()
            self.fs.mv(self._path(temp), self._path(key))
        except BaseException:
            with contextlib.suppress(Exception):
                f.close()
            with contextlib.suppress(Exception):
                self.fs.rm(self._path(temp))
            raise

    def makedirs(self, key: str) -> None:
        path = self._path(key)
        self.fs.makedirs(path, exist_ok=True)
        marker = f"{path}/{DIR_MARKER}"
        if not self.fs.exists(marker):
            self.fs.pipe_file(marker, b"")

    def remove(self, key: str) -> None:
        self.fs.rm(self._path(key), recursive=True)

    def move(self, src: str, dst: str) -> None:
        if self._renames_atomic:
            self.fs.makedirs(self._path(dst.rpartition("/")[0]), exist_ok=True)
            self.fs.mv(self._path(src), self._path(dst))
            return
        self.copy(src, dst)
        self.remove(src)

    def copy(self, src: str, dst: str) -> None:
        found = self.info(src)
        if found is None:
            raise FileNotFoundError(src)
        if not found.is_dir:
            self.fs.makedirs(self._path(dst.rpartition("/")[0]), exist_ok=True)
            self.fs.copy(self._path(src), self._path(dst))
            return
        self.makedirs(dst)
        for path in self.fs.find(self._path(src), withdirs=False):
            rel = self._key(path)[len(src) + 1 :]
            if rel.rsplit("/", 1)[-1].startswith(UPLOAD_PREFIX):
                continue
            target = self._path(f"{dst}/{rel}")
            self.fs.makedirs(target.rpartition("/")[0], exist_ok=True)
            self.fs.copy(path, target)

    def usage(self, key: str) -> int:
        try:
            return int(self.fs.du(self._path(key), total=True))
        except FileNotFoundError:
            return 0

    @staticmethod
    def _blob(found: dict[str, Any], key: str) -> Blob:
        is_dir = found.get("type") == "directory"
        return Blob(
            key=key,
            is_dir=is_dir,
            size=0 if is_dir else int(found.get("size") or 0),
            modified=_modified(found),
        )


def _modified(found: dict[str, Any]) -> datetime | None:
    stamp = found.get("mtime", found.get("LastModified"))
    if isinstance(stamp, datetime):
        return stamp.astimezone(UTC)
    if isinstance(stamp, int | float):
        return datetime.fromtimestamp(stamp, UTC)
    return None
