"""The Astro Data Lab-compatible routes (``/auth``, ``/query``, ``/storage``, ``/res``).

Plain-text bodies, status codes and URL shapes exactly as the unmodified
``astro-datalab`` client expects them (``shared/specs/datalab-wire-protocol.md``).
Every parameter is optional at the HTTP level, so a missing one is answered with a
plain-text message, never FastAPI's JSON 422.
"""

from __future__ import annotations

PREFIXES = ("/auth", "/query", "/storage", "/res")


def is_datalab_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PREFIXES)
