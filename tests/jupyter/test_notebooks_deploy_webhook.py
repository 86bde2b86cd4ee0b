"""``POST /api/notebooks/webhook``: GitHub-style signatures, events, branches, replays,
with a real git remote behind it and the app driven over HTTP in-process."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from skydock.server.config import Config
from skydock.server.main import create_app
from tests.jupyter.notebooks_remote import Remote, versions

pytestmark = pytest.mark.anyio

SECRET = "It's a Secret to Everybody"  # GitHub's documented example secret


def github_signature(secret: str, body: bytes) -> str:
    """Computed here with hmac directly, not with the server's helper."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_signature_matches_githubs_documented_example() -> None:
    # docs.github.com, "Validating webhook deliveries": this payload and secret give this.
    body = b"Hello, World!"
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert github_signature(SECRET, body) == expected
    from skydock.server.services.notebooks import signature

    assert signature(SECRET.encode(), body) == expected


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path / "remote")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def client(data_dir: Path, remote: Remote) -> AsyncIterator[httpx.AsyncClient]:
    remote.push(1)
    config = Config(
        data_dir=data_dir,
        notebooks={"git_url": remote.url, "webhook_secret": SECRET, "deploy_on_start": True},
    )
    app = create_app(config)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as c,
    ):
        app.state.factory._first_deploy.join()
        yield c


def push_event(ref: str = "refs/heads/main", after: str = "0" * 40) -> bytes:
    return json.dumps({"ref": ref, "after": after, "repository": {"name": "x"}}).encode()


async def deliver(
    client: httpx.AsyncClient,
    body: bytes,
    *,
    event: str = "push",
    secret: str | None = SECRET,
    delivery: str | None = None,
    signature: str | None = None,
) -> httpx.Response:
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "Content-Type": "application/json",
    }
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    elif secret is not None:
        headers["X-Hub-Signature-256"] = github_signature(secret, body)
    return await client.post("/api/notebooks/webhook", content=body, headers=headers)


def state(data_dir: Path) -> tuple[str, list[str]]:
    nb = data_dir / "notebooks"
    return (
        str((nb / "current").readlink()),
        sorted(p.name for p in (nb / "releases").iterdir()),
    )


async def test_a_signed_push_deploys_the_new_commit(
    client: httpx.AsyncClient, remote: Remote, data_dir: Path
) -> None:
    new = remote.push(2)
    r = await deliver(client, push_event(after=new))
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "deployed", "message": f"deployed {new}", "release": new}
    assert versions(data_dir / "notebooks" / "current") == {2}
    r = await deliver(client, push_event(after=new))
    assert r.json()["status"] == "unchanged"


@pytest.mark.parametrize(
    ("secret", "signature", "why"),
    [
        (None, None, "missing"),
        ("wrong secret", None, "does not match"),
        (None, "sha256=", "does not match"),
        (None, "sha1=0123", "does not match"),
    ],
)
async def test_bad_or_missing_signatures_are_refused_and_change_nothing(
    client: httpx.AsyncClient,
    remote: Remote,
    data_dir: Path,
    secret: str | None,
    signature: str | None,
    why: str,
) -> None:
    before = state(data_dir)
    remote.push(2)
    r = await deliver(client, push_event(), secret=secret, signature=signature)
    assert r.status_code == 401
    assert why in r.json()["message"]
    assert state(data_dir) == before
    assert versions(data_dir / "notebooks" / "current") == {1}


async def test_a_body_changed_after_signing_is_refused(
    client: httpx.AsyncClient, remote: Remote, data_dir: Path
) -> None:
    remote.push(2)
    body = push_event(ref="refs/heads/dev")
    tampered = push_event(ref="refs/heads/main")
    r = await deliver(client, tampered, signature=github_signature(SECRET, body))
    assert r.status_code == 401
    assert versions(data_dir / "notebooks" / "current") == {1}


async def test_a_replayed_delivery_is_ignored(
    client: httpx.AsyncClient, remote: Remote, data_dir: Path
) -> None:
    remote.push(2)
    delivery = str(uuid.uuid4())
    first = await deliver(client, push_event(), delivery=delivery)
    assert first.json()["status"] == "deployed"
    remote.push(3)
    again = await deliver(client, push_event(), delivery=delivery)
    assert again.status_code == 200
    assert again.json()["status"] == "ignored"
    assert "already" in again.json()["message"]
    assert versions(data_dir / "notebooks" / "current") == {2}


async def test_ping_other_events_and_other_branches_change_nothing(
    client: httpx.AsyncClient, remote: Remote, data_dir: Path
) -> None:
    before = state(data_dir)
    remote.push(2, branch="dev")
    answers: list[dict[str, Any]] = []
    for event, body in (
        ("ping", json.dumps({"zen": "Keep it logically awesome."}).encode()),
        ("issues", json.dumps({"action": "opened"}).encode()),
        ("push", push_event(ref="refs/heads/dev")),
        ("push", push_event(ref="refs/tags/v1")),
        ("push", json.dumps({"ref": "refs/heads/main", "deleted": True}).encode()),
    ):
        r = await deliver(client, body, event=event)
        assert r.status_code == 200, r.text
        answers.append(r.json())
    assert [a["status"] for a in answers] == ["ignored"] * 5
    assert "pong" in answers[0]["message"]
    assert "'issues'" in answers[1]["message"]
    assert "refs/heads/dev" in answers[2]["message"] and "refs/heads/main" in answers[2]["message"]
    assert "deleted" in answers[4]["message"]
    assert state(data_dir) == before


async def test_form_encoded_deliveries_and_bad_json(
    client: httpx.AsyncClient, remote: Remote, data_dir: Path
) -> None:
    from urllib.parse import urlencode

    remote.push(2)
    body = urlencode({"payload": push_event().decode()}).encode()
    r = await deliver(client, body)
    assert r.json()["status"] == "deployed"
    r = await deliver(client, b"{not json")
    assert r.status_code == 400 and "JSON" in r.json()["message"]


async def test_the_webhook_is_off_without_a_secret(tmp_path: Path) -> None:
    app = create_app(Config(data_dir=tmp_path / "d", notebooks={"deploy_on_start": False}))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as c,
    ):
        body = push_event()
        r = await deliver(c, body)
        assert r.status_code == 403
        assert "webhook_secret" in r.json()["message"]
        assert not (tmp_path / "d" / "notebooks").exists()


async def test_an_oversized_body_is_refused_before_it_is_read(
    client: httpx.AsyncClient, data_dir: Path
) -> None:
    from skydock.server.services.notebooks import MAX_WEBHOOK_BYTES

    before = state(data_dir)
    r = await deliver(client, b"x" * (MAX_WEBHOOK_BYTES + 1))
    assert r.status_code == 413 and "limited" in r.json()["message"]
    assert state(data_dir) == before
