"""The storage service: permissions, quotas, atomic writes, tags, links and staging."""

from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, BinaryIO, Literal

from typing_extensions import Buffer

from skydock.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    SkydockError,
)
from skydock.server.services.auth import USERNAME, Principal
from skydock.server.services.storage.links import LinkSigner
from skydock.server.services.storage.paths import (
    HOME_DIRS,
    StoragePath,
    check_characters,
    check_part,
    parse_path,
)
from skydock.server.storage.blobs import Blob, BlobStore
from skydock.server.storage.tags import TagStore

CHUNK_BYTES = 1024 * 1024
Op = Literal["get", "put"]


@dataclass(frozen=True)
class StoragePolicy:
    quota_bytes: int
    max_upload_bytes: int
    url_ttl_s: float


@dataclass(frozen=True)
class Entry:
    """What a listing or a stat says about one file or directory."""

    owner: str
    name: str
    path: str
    is_dir: bool
    size: int
    modified: datetime | None
    public: bool
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Quota:
    used: int
    limit: int


@dataclass(frozen=True)
class Download:
    entry: Entry
    chunks: Iterator[bytes]


@dataclass(frozen=True)
class Signed:
    """Who signed a link, and for which path (``owner://rel``)."""

    principal: Principal
    path: str


class _CappedWriter(io.RawIOBase):
    """Counts what passes to ``target`` and stops at the upload cap or the quota."""

    def __init__(self, target: IO[bytes], service: StorageService, path: StoragePath, room: int):
        self._target: IO[bytes] | None = target
        self._service = service
        self._path = path
        self._room = room
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Buffer, /) -> int:
        view = memoryview(data)
        n = view.nbytes
        if self._target is None:  # abandoned: whatever is still buffered goes nowhere
            return n
        self._service.check_size(self._path, self.written + n, self._room)
        self._target.write(view.tobytes())
        self.written += n
        return n

    def abandon(self) -> None:
        self._target = None


class StorageService:
    """Files per user on a :class:`BlobStore`, with permissions, quotas and signed links."""

    def __init__(
        self,
        blobs: BlobStore,
        tags: TagStore,
        policy: StoragePolicy,
        secret: bytes,
        staging_dir: Path,
    ) -> None:
        self._blobs = blobs
        self._tags = tags
        self.policy = policy
        self._signer = LinkSigner(secret, policy.url_ttl_s)
        self._staging_dir = staging_dir
        self._homes: set[str] = set()

    # -- reading ---------------------------------------------------------------------

    def stat(self, caller: Principal, path: str) -> Entry:
        p = self._readable(caller, path)
        return self._entry(p, self._existing(p))

    def ls(self, caller: Principal, path: str = "") -> list[Entry]:
        """The entries of a directory, or the one entry of a file."""
        p = self._readable(caller, path)
        found = self._existing(p)
        if not found.is_dir:
            return [self._entry(p, found)]
        return [self._entry(p.child(b.name), b) for b in self._blobs.children(p.key)]

    def is_dir(self, caller: Principal, path: str) -> bool:
        try:
            return self.stat(caller, path).is_dir
        except SkydockError:
            return False

    def access(self, caller: Principal, path: str, mode: str | None) -> bool:
        """Whether ``caller`` may read (``r``) or write (``w``, ``rw``) ``path``."""
        try:
            if "w" in (mode or ""):
                self._own(caller, path)
            if "r" in (mode or "r"):
                self.stat(caller, path)
        except SkydockError:
            return False
        return True

    def open_read(self, caller: Principal, path: str) -> IO[bytes]:
        p = self._readable(caller, path)
        self._require_file(p, self._existing(p))
        return self._blobs.open_read(p.key)

    def download(self, caller: Principal, path: str) -> Download:
        p = self._readable(caller, path)
        found = self._existing(p)
        self._require_file(p, found)
        return Download(self._entry(p, found), self._chunks(self._blobs.open_read(p.key)))

    def quota(self, caller: Principal) -> Quota:
        home = self._own(caller, "")
        return Quota(self._blobs.usage(home.key), self.policy.quota_bytes)

    # -- writing ---------------------------------------------------------------------

    @contextlib.contextmanager
    def open_write(
        self, caller: Principal, path: str, *, overwrite: bool, size: int | None = None
    ) -> Iterator[BinaryIO]:
        """A file that replaces ``path`` atomically when the block ends cleanly.

        Refused up front if ``size`` is known to be too big; stopped mid-way when the
        bytes written pass the upload cap or the owner's quota.
        """
        p = self._own(caller, path)
        replaced = self._check_new_file(p, overwrite)
        room = self._room(p, replaced)
        if size is not None:
            self.check_size(p, size, room)
        with self._blobs.write(p.key) as target:
            raw = _CappedWriter(target, self, p, room)
            writer = io.BufferedWriter(raw, CHUNK_BYTES)
            try:
                yield writer
                writer.flush()
            except BaseException:
                raw.abandon()
                raise

    def put(
        self,
        caller: Principal,
        path: str,
        chunks: Iterable[bytes],
        *,
        overwrite: bool = True,
        size: int | None = None,
    ) -> Entry:
        with self.open_write(caller, path, overwrite=overwrite, size=size) as f:
            for chunk in chunks:
                f.write(chunk)
        return self.stat(caller, path)

    def mkdir(
        self, caller: Principal, path: str, *, parents: bool = True, exist_ok: bool = False
    ) -> Entry:
        """Make a folder; ``exist_ok`` (``mkdir -p``) lets an existing folder pass."""
        p = self._own(caller, path)
        if not p.parts:
            if exist_ok:
                return self.stat(caller, path)
            raise ConflictError("your home directory already exists")
        existing = self._blobs.info(p.key)
        if existing is not None and exist_ok and existing.is_dir:
            return self.stat(caller, path)
        if existing is not None:
            raise ConflictError(f"{self._show(caller, p)!r} already exists")
        parent = StoragePath(p.owner, p.parts[:-1])
        if not parents and self._blobs.info(parent.key) is None:
            raise NotFoundError(f"parent {self._show(caller, parent)!r} does not exist")
        self._check_ancestors(p)
        self._blobs.makedirs(p.key)
        return self.stat(caller, path)

    def rm(self, caller: Principal, path: str) -> None:
        p = self._removable(caller, path)
        if self._existing(p).is_dir:
            raise ConflictError(f"{self._show(caller, p)!r} is a directory; use rmdir")
        self._blobs.remove(p.key)
        self._tags.forget(p.owner, p.rel)

    def rmdir(self, caller: Principal, path: str, *, recursive: bool = True) -> None:
        p = self._removable(caller, path)
        if not self._existing(p).is_dir:
            raise ConflictError(f"{self._show(caller, p)!r} is not a directory; use rm")
        if not recursive and self._blobs.children(p.key):
            raise ConflictError(
                f"{self._show(caller, p)!r} is not empty; remove it recursively or empty it first"
            )
        self._blobs.remove(p.key)
        self._tags.forget(p.owner, p.rel)

    def mv(self, caller: Principal, src: str, dst: str) -> Entry:
        s = self._removable(caller, src)
        self._existing(s)
        d = self._target(caller, s, dst)
        self._blobs.move(s.key, d.key)
        self._tags.move(s.owner, s.rel, d.rel)
        return self._entry(d, self._existing(d))

    def cp(self, caller: Principal, src: str, dst: str) -> Entry:
        s = self._readable(caller, src)
        self._existing(s)
        d = self._target(caller, s, dst)
        self.check_size(d, self._blobs.usage(s.key), self._room(d, 0))
        self._blobs.copy(s.key, d.key)
        self._tags.copy(s.owner, s.rel, d.owner, d.rel)
        return self._entry(d, self._existing(d))

    def tag(self, caller: Principal, path: str, tag: str) -> Entry:
        p = self._own(caller, path)
        found = self._existing(p)
        if not tag.strip():
            raise InvalidRequestError("the tag is empty; give some text to attach")
        self._tags.add(p.owner, p.rel, tag)
        return self._entry(p, found)

    # -- signed links (Data Lab get/put) ---------------------------------------------

    def sign(self, caller: Principal, path: str, op: Op) -> str:
        """A key that lets whoever holds it read (``get``) or write (``put``) ``path``."""
        if op == "get":
            p = self._readable(caller, path)
            self._require_file(p, self._existing(p))
        else:
            p = self._own(caller, path)
            self._check_new_file(p, overwrite=True)
        return self._signer.sign(op, caller.name, p.uri)

    def verify(self, key: str, op: Op) -> Signed:
        user, path = self._signer.open(key, op)
        return Signed(Principal(name=user), path)

    # -- staging for MyDB imports (Data Lab /storage/xfer) ---------------------------

    def staging_path(self, caller: Principal, filename: str) -> Path:
        """Where ``filename`` uploaded by ``caller`` through ``xfer`` is kept, on local disk."""
        if caller.anonymous:
            raise AuthenticationError("log in to upload files")
        check_characters(filename)
        parts = [p for p in filename.split("/") if p not in ("", ".")]
        for part in parts:
            check_part(part, filename)
        if not parts:
            raise InvalidRequestError(f"{filename!r} is not a file name")
        name = parts[-1]
        folder = self._staging_dir / caller.name
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    def stage(
        self, caller: Principal, filename: str, chunks: Iterable[bytes], *, append: bool
    ) -> int:
        """Write (or append) one chunked-upload piece; the total size is capped."""
        target = self.staging_path(caller, filename)
        written = target.stat().st_size if append and target.exists() else 0
        with target.open("ab" if append else "wb") as f:
            for chunk in chunks:
                written += len(chunk)
                if written > self.policy.max_upload_bytes:
                    raise QuotaExceededError(self._cap_message())
                f.write(chunk)
        return written

    # -- limits ----------------------------------------------------------------------

    def check_size(self, p: StoragePath, size: int, room: int) -> None:
        """Refuse ``size`` bytes past the upload cap or past the owner's quota."""
        if size > self.policy.max_upload_bytes:
            raise QuotaExceededError(self._cap_message())
        if size > room:
            used = self._blobs.usage(p.owner)
            raise QuotaExceededError(
                f"storing {p.rel!r} would take {p.owner} past the storage quota: "
                f"{used} bytes used of a {self.policy.quota_bytes}-byte limit; "
                "remove files to make room"
            )

    def _cap_message(self) -> str:
        return f"uploads are limited to {self.policy.max_upload_bytes} bytes each"

    def _room(self, p: StoragePath, replaced: int) -> int:
        return self.policy.quota_bytes - self._blobs.usage(p.owner) + replaced

    # -- administration --------------------------------------------------------------

    def wipe_owner(self, owner: str) -> None:
        """Delete everything ``owner`` stored: files, tags and staged uploads.

        For expiring class accounts; nothing outside the owner's own space is touched.
        """
        if not USERNAME.fullmatch(owner):
            raise InvalidRequestError(f"{owner!r} is not an account name")
        with contextlib.suppress(FileNotFoundError):
            self._blobs.remove(owner)
        self._tags.forget_owner(owner)
        staged = self._staging_dir / owner
        if staged.is_dir():
            shutil.rmtree(staged)
        self._homes.discard(owner)

    # -- permissions and lookups -----------------------------------------------------

    def _readable(self, caller: Principal, path: str) -> StoragePath:
        p = parse_path(caller, path)
        if p.owner == caller.name:
            return self._own(caller, path)
        if not p.public:
            raise PermissionDeniedError(
                f"{p.owner}'s files are private except under {p.owner}://public/"
            )
        return p

    def _own(self, caller: Principal, path: str) -> StoragePath:
        p = parse_path(caller, path)
        if caller.anonymous:
            raise AuthenticationError(
                "anonymous users have no storage space; log in, or read <user>://public/..."
            )
        if p.owner != caller.name:
            raise PermissionDeniedError(
                f"you may not change {p.owner}'s files; write under vos:// (your own space)"
            )
        self._ensure_home(p.owner)
        return p

    def _removable(self, caller: Principal, path: str) -> StoragePath:
        p = self._own(caller, path)
        if len(p.parts) == 0 or (len(p.parts) == 1 and p.parts[0] in HOME_DIRS):
            raise PermissionDeniedError(f"{self._show(caller, p)!r} is part of every home; keep it")
        return p

    def _ensure_home(self, owner: str) -> None:
        if owner in self._homes:
            return
        for name in HOME_DIRS:
            self._blobs.makedirs(f"{owner}/{name}")
        self._homes.add(owner)

    def _existing(self, p: StoragePath) -> Blob:
        found = self._blobs.info(p.key)
        if found is None:
            raise NotFoundError(f"{p.uri!r} does not exist")
        return found

    def _require_file(self, p: StoragePath, found: Blob) -> None:
        if found.is_dir:
            raise InvalidRequestError(f"{p.uri!r} is a directory; name a file in it")

    def _check_new_file(self, p: StoragePath, overwrite: bool) -> int:
        """The size of the file ``p`` would replace (0 if none); refuses directories."""
        if not p.parts:
            raise InvalidRequestError("name a file, not your home directory")
        found = self._blobs.info(p.key)
        if found is not None and found.is_dir:
            raise ConflictError(f"{p.uri!r} is a directory; data cannot be written to a container")
        if found is not None and not overwrite:
            raise ConflictError(f"{p.uri!r} already exists; allow overwriting or pick a new name")
        self._check_ancestors(p)
        return found.size if found else 0

    def _check_ancestors(self, p: StoragePath) -> None:
        for depth in range(len(p.parts) - 1, 0, -1):
            found = self._blobs.info(StoragePath(p.owner, p.parts[:depth]).key)
            if found is not None:
                if not found.is_dir:
                    raise ConflictError(f"{p.uri!r}: {p.parts[depth - 1]!r} is a file")
                return

    def _target(self, caller: Principal, src: StoragePath, dst: str) -> StoragePath:
        """Where a move or copy of ``src`` lands: into ``dst`` if it is a directory."""
        d = self._own(caller, dst)
        found = self._blobs.info(d.key)
        if found is not None and found.is_dir:
            d = d.child(src.name)
            found = self._blobs.info(d.key)
        if found is not None:
            raise ConflictError(f"{self._show(caller, d)!r} already exists; remove it first")
        if d.within(src):
            raise InvalidRequestError(f"cannot put {src.uri!r} inside itself")
        self._check_ancestors(d)
        return d

    def _entry(self, p: StoragePath, found: Blob) -> Entry:
        return Entry(
            owner=p.owner,
            name=p.name or p.owner,
            path=p.rel,
            is_dir=found.is_dir,
            size=found.size,
            modified=found.modified,
            public=p.public,
            tags=self._tags.tags(p.owner, p.rel) if p.parts else [],
        )

    @staticmethod
    def _show(caller: Principal, p: StoragePath) -> str:
        return p.rel if p.owner == caller.name else p.uri

    @staticmethod
    def _chunks(f: IO[bytes]) -> Iterator[bytes]:
        with f:
            while chunk := f.read(CHUNK_BYTES):
                yield chunk
