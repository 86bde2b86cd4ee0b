"""Storage paths: who owns a location, and which names are refused."""

from __future__ import annotations

from dataclasses import dataclass

from skydock.errors import InvalidRequestError
from skydock.server.services.auth import RESERVED_NAMES, USERNAME, Principal
from skydock.server.storage.blobs import HIDDEN_PREFIX

HOME_DIRS = ("public", "tmp")
MAX_NAME_CHARS = 255
MAX_PATH_CHARS = 1024


@dataclass(frozen=True)
class StoragePath:
    """A location in one owner's space; ``parts`` is empty for the owner's home."""

    owner: str
    parts: tuple[str, ...]

    @property
    def rel(self) -> str:
        return "/".join(self.parts)

    @property
    def key(self) -> str:
        return "/".join((self.owner, *self.parts))

    @property
    def name(self) -> str:
        return self.parts[-1] if self.parts else ""

    @property
    def public(self) -> bool:
        return self.parts[:1] == ("public",)

    @property
    def uri(self) -> str:
        return f"{self.owner}://{self.rel}"

    def child(self, name: str) -> StoragePath:
        return StoragePath(self.owner, (*self.parts, name))

    def within(self, other: StoragePath) -> bool:
        return self.owner == other.owner and self.parts[: len(other.parts)] == other.parts


def parse_path(caller: Principal, text: str) -> StoragePath:
    """The owner and parts ``text`` names; refuses traversal and names the store keeps."""
    check_characters(text)
    scheme, sep, rest = text.partition("://")
    if not sep:
        owner, rest = caller.name, text
    elif scheme == "vos":
        owner = caller.name
    elif USERNAME.fullmatch(scheme) and scheme not in RESERVED_NAMES:
        owner = scheme
    else:
        raise InvalidRequestError(
            f"unknown storage scheme {scheme + '://'!r} in {text!r}; use vos://path, "
            "<user>://public/path or a plain path"
        )
    parts = tuple(p for p in rest.split("/") if p not in ("", "."))
    for part in parts:
        check_part(part, text)
    return StoragePath(owner, parts)


def check_characters(text: str) -> None:
    if len(text) > MAX_PATH_CHARS:
        raise InvalidRequestError(f"path is longer than {MAX_PATH_CHARS} characters")
    if "\\" in text:
        raise InvalidRequestError(f"path {text!r} contains a backslash; separate with '/'")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidRequestError(f"path {text!r} contains a control character")


def check_part(part: str, text: str) -> None:
    if part == "..":
        raise InvalidRequestError(f"path {text!r} climbs out with '..'; name a path in a space")
    if part.startswith(HIDDEN_PREFIX):
        raise InvalidRequestError(f"names starting {HIDDEN_PREFIX!r} are reserved: {text!r}")
    if len(part) > MAX_NAME_CHARS:
        raise InvalidRequestError(f"a name in {text!r} is longer than {MAX_NAME_CHARS} characters")
