"""``--as USER`` against a real server: the kernel's client is that user, unattended."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from skydock.nbtest import Options, Status, run_suite, token_for
from skydock.nbtest.runner import TokenError
from tests.nbtest.test_suite import run_cli
from tests.server.conftest import PASSWORDS, LiveServer, config, data_dir, live  # noqa: F401

WHOAMI = Path(__file__).parent / "live" / "whoami.ipynb"


@pytest.fixture
def admin_token(live: LiveServer) -> str:  # noqa: F811 (the fixture imported above)
    auth = live.factory.auth_service()
    for name, pw in PASSWORDS.items():
        auth.add_user(name, pw, admin=name == "root")
    r = httpx.post(
        f"{live.url}/api/auth/login", data={"username": "root", "password": PASSWORDS["root"]}
    )
    return str(r.json()["token"])


def test_as_user_with_an_admin_token_from_the_environment(
    live: LiveServer,  # noqa: F811
    admin_token: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SKYDOCK_ADMIN_TOKEN", admin_token)
    monkeypatch.delenv("SKYDOCK_TOKEN", raising=False)
    res = run_cli(
        str(WHOAMI), "--as", "alice", "--url", live.url, "--logdir", str(tmp_path),
        "--json", str(tmp_path / "r.json"),
    )  # fmt: skip
    r = json.loads((tmp_path / "r.json").read_text())["notebooks"][0]
    assert (res.exit_code, r["status"]) == (0, "PASS"), r
    executed = Path(r["executed"]).read_text()
    assert "'username': 'alice'" in executed


def test_as_user_from_the_data_dir_runs_as_that_user(
    live: LiveServer,  # noqa: F811
    admin_token: str,
    data_dir: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    token = token_for("bob", live.url, data_dir=data_dir)
    options = Options(url=live.url, token=token, logdir=tmp_path, parameters={"expected": "bob"})
    summary = run_suite([WHOAMI], options)
    assert summary.results[0].status is Status.PASS, summary.results[0].message
    # The same notebook expecting someone else fails: the check is real.
    options.parameters = {"expected": "alice"}
    failed = run_suite([WHOAMI], options).results[0]
    assert failed.status is Status.FAIL
    assert "'username': 'bob'" in failed.message


def test_as_user_refusals_are_clear(
    live: LiveServer,  # noqa: F811
    admin_token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SKYDOCK_ADMIN_TOKEN", raising=False)
    with pytest.raises(TokenError, match="needs an admin token"):
        token_for("alice", live.url)
    alice = httpx.post(
        f"{live.url}/api/auth/login", data={"username": "alice", "password": "alicepw"}
    ).json()["token"]
    with pytest.raises(TokenError, match="refused a token for bob: 403"):
        token_for("bob", live.url, admin_token=alice)
