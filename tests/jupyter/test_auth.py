"""The authenticator against a real API: the API's passwords, and the API's lockout."""

from __future__ import annotations

import asyncio

import pytest
from tornado import web

from skydock.jupyter.api import HubApiError, SkydockApi
from skydock.jupyter.auth import SkydockAuthenticator
from tests.server.conftest import LiveServer


def _login(url: str, username: str, password: str) -> str | None:
    auth = SkydockAuthenticator(api_url=url)
    result: str | None = asyncio.run(
        auth.authenticate(None, {"username": username, "password": password})
    )
    return result


def test_good_password_is_accepted(live: LiveServer, users: dict[str, str]) -> None:
    assert _login(live.url, "alice", users["alice"]) == "alice"


def test_bad_password_and_unknown_user_are_refused(live: LiveServer, users: dict[str, str]) -> None:
    assert _login(live.url, "alice", users["bob"]) is None
    assert _login(live.url, "nobody", "whatever-password") is None
    assert _login(live.url, "alice", "") is None


def test_check_leaves_no_live_session(live: LiveServer, users: dict[str, str]) -> None:
    assert _login(live.url, "bob", users["bob"]) == "bob"
    assert not live.factory.auth_service().user_logged_in("bob")


def test_lockout_is_the_apis(live: LiveServer, users: dict[str, str]) -> None:
    """Failures through the hub count against the API's limit, then even the right
    password is refused, with the API's reason."""
    limit = live.factory.config.auth.max_failed_logins
    for _ in range(limit):
        assert _login(live.url, "bob", "wrong-password") is None
    with pytest.raises(web.HTTPError) as refused:
        _login(live.url, "bob", users["bob"])
    assert refused.value.status_code == 429
    assert refused.value.log_message


def test_api_down_is_a_clear_503() -> None:
    with pytest.raises(web.HTTPError) as refused:
        _login("http://127.0.0.1:9", "alice", "alicepw")
    assert refused.value.status_code == 503


def test_issue_token_needs_an_admin_token(live: LiveServer, users: dict[str, str]) -> None:
    auth = live.factory.auth_service()
    admin = auth.login("root", users["root"])
    plain = auth.login("alice", users["alice"])
    token = asyncio.run(SkydockApi(live.url, admin).issue_token("bob"))
    assert auth.authenticate(token).name == "bob"
    with pytest.raises(HubApiError) as refused:
        asyncio.run(SkydockApi(live.url, plain).issue_token("bob"))
    assert refused.value.status == 403
    assert "administrator" in str(refused.value)
