"""Headless Chromium for browser tests: Debian's ``chromium`` driven by Playwright.

Playwright never downloads a browser here; it drives the system binary that ``make test``
installs. The flags keep Chromium off the network (this machine has none beyond loopback)
and out of any profile but a throwaway one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

# Screenshots and page logs land here, kept by CI as artifacts.
ARTIFACTS = Path(os.environ.get("SKYDOCK_TEST_ARTIFACTS", ".skydock/test-artifacts"))


def chromium_path() -> str:
    """The system Chromium; the suite fails (does not skip) when it is missing."""
    found = os.environ.get("SKYDOCK_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail("Debian's chromium is not installed; `make test` installs it (apt-get)")
    return found


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def artifact(name: str) -> Path:
    """A path for a test artifact (screenshot, log), its directory created."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name
