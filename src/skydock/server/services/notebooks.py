"""The deployed notebook collection and the git host's webhook that re-deploys it.

Layout under ``<data_dir>/notebooks``::

    releases/<commit>/   one read-only copy of the collection per deployed commit
    current              symlink to releases/<commit>: what users see as ~/notebooks-latest

A deploy clones the configured branch into a hidden directory beside the releases,
makes it read-only, renames it into place and swaps ``current`` with ``os.replace`` of a
new symlink. A user's server following ``current`` sees the old release or the new one,
never a mixture. Deploys are serialised by a thread lock and a lock file (the CLI and a
server may deploy at once); old releases are pruned, never the current one.

With no git remote configured, the ``notebooks/`` directory of the Skydock source tree
is deployed as it is; its release id is a digest of its contents.

The webhook speaks GitHub's protocol (Gitea, Forgejo and GitLab's GitHub mode send the
same): ``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body with the shared secret>``,
``X-GitHub-Event``, ``X-GitHub-Delivery``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import shutil
import stat
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

from skydock.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    SkydockError,
)

log = logging.getLogger(__name__)

RELEASES = "releases"
CURRENT = "current"
LOCK_FILE = ".deploy.lock"
DELIVERIES_FILE = ".deliveries"
KEPT_DELIVERIES = 1000
GIT_TIMEOUT_S = 300.0
SIGNATURE_PREFIX = "sha256="
MAX_WEBHOOK_BYTES = 25 * 1024**2  # GitHub's own cap on a delivery
RELEASE_ID = re.compile(r"[0-9a-f]{7,64}|local-[0-9a-f]{16}")
SOURCE_NOTEBOOKS = Path(__file__).resolve().parents[4] / "notebooks"


class DeployError(SkydockError):
    """The collection could not be fetched from its git remote; nothing was changed."""

    code = "deploy_failed"
    status = 502


@dataclass(frozen=True)
class Release:
    """A deployed commit; ``changed`` is False when it was already the current one."""

    id: str
    path: Path
    changed: bool


@dataclass(frozen=True)
class WebhookAnswer:
    """What the webhook tells the git host: ``status`` is deployed, unchanged or ignored."""

    status: str
    message: str
    release: str | None = None

    def body(self) -> dict[str, str | None]:
        return {"status": self.status, "message": self.message, "release": self.release}


def signature(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value of ``body`` under ``secret``."""
    return SIGNATURE_PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def redact(url: str) -> str:
    """A git URL without any user or password it embeds, fit for logs and messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


class NotebookService:
    """Deploys the collection atomically and answers the webhook."""

    def __init__(
        self,
        root: Path,
        *,
        git_url: str | None,
        branch: str = "main",
        webhook_secret: bytes | None = None,
        keep_releases: int = 5,
        source_dir: Path | None = None,
    ) -> None:
        self.root = root
        self.git_url = git_url
        self.branch = branch
        self._secret = webhook_secret
        self._keep = keep_releases
        self._source_dir = source_dir if source_dir is not None else SOURCE_NOTEBOOKS
        self._lock = threading.Lock()

    @property
    def releases(self) -> Path:
        return self.root / RELEASES

    @property
    def current_link(self) -> Path:
        return self.root / CURRENT

    def current(self) -> str | None:
        """The id of the deployed release, or None before the first deploy."""
        try:
            return self.current_link.readlink().name
        except (FileNotFoundError, OSError):
            return None

    def source(self) -> str:
        """Where deploys come from, credentials removed."""
        if self.git_url:
            return f"{redact(self.git_url)} ({self.branch})"
        return str(self._source_dir)

    # -- deploying --------------------------------------------------------------------

    def deploy(self) -> Release:
        """Fetch the collection and make it current; a failure leaves the old one in place."""
        with self._locked():
            return self._deploy()

    def deploy_if_missing(self) -> Release | None:
        """The first deploy (at server start); None when something is deployed already."""
        with self._locked():
            if self.current() is not None and (self.current_link / ".").is_dir():
                return None
            return self._deploy()

    def _deploy(self) -> Release:
        self.releases.mkdir(parents=True, exist_ok=True)
        work = self.root / f".incoming-{secrets.token_hex(6)}"
        try:
            release_id = self._fetch(work)
            target = self.releases / release_id
            if not target.is_dir():
                _read_only(work)
                work.rename(target)
            changed = self.current() != release_id
            if changed:
                self._point_at(release_id)
                log.info("notebooks: deployed %s from %s", release_id, self.source())
            self._prune()
            return Release(release_id, target, changed)
        finally:
            if work.exists():
                _remove_tree(work)

    def _fetch(self, work: Path) -> str:
        if self.git_url:
            return self._clone(work)
        if not self._source_dir.is_dir():
            raise NotFoundError(
                f"no notebooks to deploy: set notebooks.git_url (SKYDOCK_NOTEBOOKS__GIT_URL); "
                f"the source tree's {self._source_dir} does not exist here"
            )
        shutil.copytree(self._source_dir, work, ignore=shutil.ignore_patterns(".*"))
        return "local-" + _tree_digest(work)[:16]

    def _clone(self, work: Path) -> str:
        assert self.git_url is not None
        args = ["clone", "--quiet", "--depth", "1", "--single-branch", "--branch", self.branch]
        self._git(*args, "--", self.git_url, str(work))
        commit = self._git("-C", str(work), "rev-parse", "HEAD").strip()
        if not RELEASE_ID.fullmatch(commit):
            raise DeployError(f"git answered {commit!r} for the deployed commit")
        _remove_tree(work / ".git")
        return commit

    def _git(self, *args: str) -> str:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
        try:
            done = subprocess.run(
                ["git", *args],
                capture_output=True,
                text=True,
                env=env,
                timeout=GIT_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DeployError(f"git could not run for {self.source()}: {exc}") from exc
        if done.returncode != 0:
            why = done.stderr.strip().splitlines()[-1:] or ["no message"]
            text = why[0]
            if self.git_url:
                text = text.replace(self.git_url, redact(self.git_url))
            raise DeployError(
                f"fetching the notebooks from {self.source()} failed: {text}; "
                "the deployed collection was left as it was"
            )
        return done.stdout

    def _point_at(self, release_id: str) -> None:
        temp = self.root / f".current-{secrets.token_hex(6)}"
        temp.symlink_to(Path(RELEASES) / release_id, target_is_directory=True)
        temp.replace(self.current_link)  # rename(2): atomic

    def _prune(self) -> None:
        current = self.current()
        found = [p for p in self.releases.iterdir() if p.is_dir() and p.name != current]
        found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in found[max(0, self._keep - 1) :]:
            _remove_tree(old)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock, (self.root / LOCK_FILE).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- the webhook ------------------------------------------------------------------

    def webhook(
        self,
        body: bytes,
        signature_header: str | None,
        event: str | None,
        delivery: str | None,
    ) -> WebhookAnswer:
        """Check the signature, then deploy on a push to the deployed branch."""
        self._check_signature(body, signature_header)
        if event == "ping":
            return WebhookAnswer("ignored", "pong: the secret matches; nothing was changed")
        if event != "push":
            return WebhookAnswer(
                "ignored", f"the {event or 'unnamed'!r} event is not handled; only push deploys"
            )
        payload = _payload(body)
        ref = payload.get("ref")
        wanted = f"refs/heads/{self.branch}"
        if ref != wanted:
            return WebhookAnswer(
                "ignored", f"a push to {ref!r} is ignored; only {wanted!r} is deployed"
            )
        if payload.get("deleted") is True:
            return WebhookAnswer(
                "ignored", f"{wanted!r} was deleted; the deployed collection stays", self.current()
            )
        with self._locked():
            if delivery and delivery in self._deliveries():
                return WebhookAnswer(
                    "ignored", f"delivery {delivery} was handled already", self.current()
                )
            release = self._deploy()
            if delivery:
                self._remember(delivery)
        if release.changed:
            return WebhookAnswer("deployed", f"deployed {release.id}", release.id)
        return WebhookAnswer("unchanged", f"{release.id} was deployed already", release.id)

    def _check_signature(self, body: bytes, header: str | None) -> None:
        if self._secret is None:
            raise PermissionDeniedError(
                "the notebook webhook is disabled: set notebooks.webhook_secret "
                "(SKYDOCK_NOTEBOOKS__WEBHOOK_SECRET) on the server"
            )
        if not header:
            raise AuthenticationError(
                "the X-Hub-Signature-256 header is missing; sign the body with the shared secret"
            )
        expected = signature(self._secret, body)
        if not hmac.compare_digest(expected.encode(), header.strip().encode()):
            raise AuthenticationError(
                "the X-Hub-Signature-256 signature does not match the body; check the "
                "webhook's secret"
            )

    def _deliveries(self) -> list[str]:
        try:
            return (self.root / DELIVERIES_FILE).read_text().split()
        except FileNotFoundError:
            return []

    def _remember(self, delivery: str) -> None:
        kept = [*self._deliveries(), re.sub(r"\s", "", delivery)[:128]][-KEPT_DELIVERIES:]
        temp = self.root / f"{DELIVERIES_FILE}.{secrets.token_hex(4)}"
        temp.write_text("\n".join(kept) + "\n")
        temp.replace(self.root / DELIVERIES_FILE)


def _payload(body: bytes) -> dict[str, object]:
    """The push event: a JSON body, or the form encoding (``payload=<json>``)."""
    text = body.decode("utf-8", errors="replace")
    if text.startswith("payload="):
        text = parse_qs(text).get("payload", [""])[0]
    try:
        found = json.loads(text)
    except ValueError:
        raise InvalidRequestError("the push event's body is not JSON") from None
    if not isinstance(found, dict):
        raise InvalidRequestError("the push event's body is not a JSON object")
    return found


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _read_only(root: Path) -> None:
    """Files r--r--r--, directories r-xr-xr-x: nobody edits a release in place."""
    for path in [*root.rglob("*"), root]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        path.chmod(stat.S_IMODE(mode) & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _remove_tree(root: Path) -> None:
    """rmtree that first gives back the write permission :func:`_read_only` took."""
    for path in [root, *root.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            with contextlib.suppress(OSError):
                path.chmod(stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR)
    shutil.rmtree(root, ignore_errors=True)
