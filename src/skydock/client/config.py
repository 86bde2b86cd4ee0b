"""Where the client finds its server and token, and where ``login`` keeps them.

Order, first found wins:

- server URL: the ``url=`` argument, ``SKYDOCK_URL``, the ``url`` in the config file,
  then ``http://127.0.0.1:8000``;
- token: the ``token=`` argument, ``SKYDOCK_TOKEN``, the file named by
  ``SKYDOCK_TOKEN_FILE`` (the hosted Jupyter writes one), then the token stored by
  ``login`` for that URL in the config file.

The config file is ``~/.skydock/config.json`` (the directory moves with
``SKYDOCK_CONFIG_DIR``), written with mode 0600 because it holds tokens.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8000"
CONFIG_NAME = "config.json"


def config_dir() -> Path:
    return Path(os.environ.get("SKYDOCK_CONFIG_DIR") or Path.home() / ".skydock")


def config_path() -> Path:
    return config_dir() / CONFIG_NAME


def normalise_url(url: str) -> str:
    """``host:port`` gets ``http://``; trailing ``/`` and a trailing ``/api`` go."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    url = url.rstrip("/")
    if url.endswith("/api"):
        url = url[: -len("/api")]
    return url


def read_config() -> dict[str, Any]:
    path = config_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the Skydock config file {path}: {exc}") from exc
    return data if isinstance(data, dict) else {}


def write_config(data: dict[str, Any]) -> Path:
    """Replace the config file atomically, readable by its owner only."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".config-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise
    return path


def resolve_url(url: str | None = None) -> str:
    if url:
        return normalise_url(url)
    if env := os.environ.get("SKYDOCK_URL"):
        return normalise_url(env)
    stored = read_config().get("url")
    return normalise_url(stored) if isinstance(stored, str) and stored else DEFAULT_URL


def resolve_token(url: str, token: str | None = None) -> str | None:
    if token:
        return token
    if env := os.environ.get("SKYDOCK_TOKEN"):
        return env.strip()
    if file := os.environ.get("SKYDOCK_TOKEN_FILE"):
        with contextlib.suppress(FileNotFoundError):
            text = Path(file).expanduser().read_text().strip()
            if text:
                return text
    stored = read_config().get("tokens", {}).get(url)
    return stored if isinstance(stored, str) and stored else None


def store_token(url: str, token: str | None, *, make_default: bool = True) -> Path:
    """Keep (or, with ``None``, forget) the token for ``url``; remember the URL."""
    data = read_config()
    tokens = data.get("tokens")
    if not isinstance(tokens, dict):
        tokens = {}
    if token is None:
        tokens.pop(url, None)
    else:
        tokens[url] = token
        if make_default:
            data["url"] = url
    data["tokens"] = tokens
    return write_config(data)
