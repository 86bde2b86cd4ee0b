"""Where the client finds its server and token, first found wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from skydock.client import DEFAULT_URL, Client
from skydock.client.config import normalise_url, resolve_token, resolve_url, store_token


def test_default_url_without_anything() -> None:
    assert resolve_url() == DEFAULT_URL
    assert resolve_token(DEFAULT_URL) is None


def test_order_arg_env_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    store_token("http://stored:1", "stored-token")
    assert resolve_url() == "http://stored:1"
    assert resolve_token("http://stored:1") == "stored-token"
    assert resolve_token("http://other:2") is None

    token_file = tmp_path / "token"
    token_file.write_text("file-token\n")
    monkeypatch.setenv("SKYDOCK_TOKEN_FILE", str(token_file))
    assert resolve_token("http://stored:1") == "file-token"

    monkeypatch.setenv("SKYDOCK_URL", "http://env:3/")
    monkeypatch.setenv("SKYDOCK_TOKEN", "env-token")
    assert resolve_url() == "http://env:3"
    assert resolve_token("http://env:3") == "env-token"

    c = Client(url="explicit:4", token="arg-token")
    assert (c.url, c.token) == ("http://explicit:4", "arg-token")
    c = Client()
    assert (c.url, c.token) == ("http://env:3", "env-token")


def test_missing_token_file_falls_through(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SKYDOCK_TOKEN_FILE", str(tmp_path / "absent"))
    store_token("http://h:1", "stored")
    assert resolve_token("http://h:1") == "stored"


def test_forgetting_a_token_keeps_the_others() -> None:
    store_token("http://a:1", "ta")
    store_token("http://b:1", "tb")
    store_token("http://a:1", None)
    assert resolve_token("http://a:1") is None
    assert resolve_token("http://b:1") == "tb"


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("localhost:8000", "http://localhost:8000"),
        ("https://sky.example.org/", "https://sky.example.org"),
        ("http://h:1/api", "http://h:1"),
    ],
)
def test_normalise_url(given: str, url: str) -> None:
    assert normalise_url(given) == url


def test_bare_client_imports_nothing_heavy() -> None:
    """(numpy comes with pyarrow, rich with httpx when installed: neither is ours.)"""
    import subprocess
    import sys

    code = (
        "import sys, skydock.client, skydock.client.queryClient, skydock.client.storeClient, "
        "skydock.client.authClient\n"
        "heavy = [m for m in ('pandas', 'astropy', 'polars', 'tqdm', "
        "'skydock.server', 'skydock.engine') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
