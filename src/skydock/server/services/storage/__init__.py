"""User storage: every user's own space, sharing through ``public/``, quotas, signed links.

A path names an owner and a location in the owner's space: ``results/x.csv`` and
``vos://results/x.csv`` are the caller's own, ``alice://public/x.csv`` is alice's.
Others may read what is under an owner's ``public/`` and nothing else; nobody writes in
another's space; the anonymous caller owns nothing. Every refusal is a SkydockError that
says what was wrong and what would work.
"""

from skydock.server.services.storage.links import load_or_create_secret
from skydock.server.services.storage.paths import StoragePath, parse_path
from skydock.server.services.storage.service import (
    Download,
    Entry,
    Quota,
    Signed,
    StoragePolicy,
    StorageService,
)

__all__ = [
    "Download",
    "Entry",
    "Quota",
    "Signed",
    "StoragePath",
    "StoragePolicy",
    "StorageService",
    "load_or_create_secret",
    "parse_path",
]
