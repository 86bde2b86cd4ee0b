"""Self-authorising links: an HMAC-signed, expiring key naming who may do what to a file."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from skydock.errors import PermissionDeniedError

SECRET_BYTES = 32


def load_or_create_secret(path: Path) -> bytes:
    """The link-signing key kept at ``path`` (mode 0600), made on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(SECRET_BYTES))
    return path.read_bytes()


class LinkSigner:
    """Signs ``(operation, user, path)`` into a key, and reads such keys back."""

    def __init__(self, secret: bytes, ttl_s: float) -> None:
        self._secret = secret
        self._ttl_s = ttl_s

    def sign(self, op: str, user: str, path: str) -> str:
        expires = int(time.time() + self._ttl_s)
        payload = "\n".join((op, user, path, str(expires))).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def open(self, key: str, op: str) -> tuple[str, str]:
        """The user and path a valid, unexpired ``op`` key was signed for."""
        fields = self._fields(key)
        if fields is None or fields[0] != op:
            raise PermissionDeniedError("this link is not valid; ask /storage for a new one")
        _, user, path, expires = fields
        if int(expires) < time.time():
            raise PermissionDeniedError("this link has expired; ask /storage for a new one")
        return user, path

    def _fields(self, key: str) -> list[str] | None:
        try:
            encoded, mac = key.split(".")
            payload = _unb64(encoded)
            if not hmac.compare_digest(_unb64(mac), self._mac(payload)):
                return None
            fields = payload.decode().split("\n")
        except ValueError:
            return None
        return fields if len(fields) == 4 else None

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except Exception as exc:
        raise ValueError(str(exc)) from exc
