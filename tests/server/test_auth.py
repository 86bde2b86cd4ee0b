"""Accounts, tokens and logins: the service and both front doors."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from skydock.errors import AuthenticationError, ConflictError, InvalidRequestError, ThrottledError
from skydock.server.services.auth import ANONYMOUS, AuthPolicy, AuthService
from skydock.server.storage.metadata import Database, TokenRow, sqlite_url
from tests.server.conftest import app_factory, login

# The regex the astro-datalab client parses tokens with (spec §2.1).
DL_TOKEN = re.compile(r"([^\/\s]+)\.(\d+)\.(\d+)\.((?:\$1\$\S{22,})|(?:\S+_access))")


@pytest.fixture
def auth(tmp_path) -> AuthService:
    db = Database(sqlite_url(tmp_path))
    db.upgrade()
    return AuthService(db, AuthPolicy(max_failed_logins=3, lockout_s=60, min_password_chars=5))


def test_login_gives_a_datalab_shaped_token(auth: AuthService) -> None:
    info = auth.add_user("alice", "alicepw")
    token = auth.login("alice", "alicepw")
    m = DL_TOKEN.match(token)
    assert m and m.group(1) == "alice" and int(m.group(2)) == info.uid
    assert len(token) <= 128
    who = auth.authenticate(token)
    assert who.name == "alice" and not who.anonymous


def test_tokens_are_stored_only_as_digests(auth: AuthService) -> None:
    auth.add_user("alice", "alicepw")
    token = auth.login("alice", "alicepw")
    secret = token.split("$1$")[1]
    with auth._db.session() as s:
        rows = s.query(TokenRow).all()
    assert rows and all(secret not in r.digest and token != r.digest for r in rows)
    raw = Path(auth._db.url.removeprefix("sqlite:///"))
    assert secret.encode() not in raw.read_bytes()


def test_wrong_password_and_unknown_user_read_the_same(auth: AuthService) -> None:
    auth.add_user("alice", "alicepw")
    with pytest.raises(AuthenticationError) as a:
        auth.login("alice", "nope")
    with pytest.raises(AuthenticationError) as b:
        auth.login("nobody", "nope")
    assert a.value.message == b.value.message == "Invalid username or password"


def test_lockout_after_repeated_failures(auth: AuthService) -> None:
    auth.add_user("alice", "alicepw")
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            auth.login("alice", "wrong")
    # Locked now: even the right password is refused, with the wait named.
    with pytest.raises(ThrottledError, match=r"try again in \d+ s"):
        auth.login("alice", "alicepw")
    assert auth.check_password("alice", "alicepw") is False


def test_logout_revokes_and_second_logout_is_an_error(auth: AuthService) -> None:
    auth.add_user("alice", "alicepw")
    token = auth.login("alice", "alicepw")
    assert auth.user_logged_in("alice")
    auth.logout(token)
    assert not auth.token_is_live(token)
    with pytest.raises(AuthenticationError, match="revoked"):
        auth.authenticate(token)
    with pytest.raises(AuthenticationError, match="User token is not logged in"):
        auth.logout(token)


def test_expired_tokens_and_disabled_accounts(auth: AuthService) -> None:
    auth.add_user("alice", "alicepw")
    old = auth.issue_token("alice", ttl=timedelta(seconds=-1))
    with pytest.raises(AuthenticationError, match="expired"):
        auth.authenticate(old)
    live = auth.login("alice", "alicepw")
    auth.set_disabled("alice")
    with pytest.raises(AuthenticationError):
        auth.authenticate(live)
    with pytest.raises(AuthenticationError, match="disabled"):
        auth.login("alice", "alicepw")


def test_password_change_ends_old_sessions(auth: AuthService) -> None:
    auth.add_user("alice", "alicepw")
    token = auth.login("alice", "alicepw")
    auth.set_password("alice", "newpassword")
    assert not auth.token_is_live(token)
    assert auth.token_is_live(auth.login("alice", "newpassword"))


@pytest.mark.parametrize(
    "token",
    [None, "", "anonymous.0.0.anon_access", "dldemo.99999.99999.demo_access"],
)
def test_no_token_and_fixed_tokens_are_anonymous(auth: AuthService, token: str | None) -> None:
    assert auth.authenticate(token) == ANONYMOUS


@pytest.mark.parametrize(
    "token", ["alice.1000.1000.$1$" + "x" * 30, "garbage", "a" * 500, "eyJhbGciOi.e30.sig"]
)
def test_bad_tokens_are_refused(auth: AuthService, token: str) -> None:
    auth.add_user("alice", "alicepw")
    with pytest.raises(AuthenticationError):
        auth.authenticate(token)


def test_user_names_are_checked(auth: AuthService) -> None:
    for bad in ["A", "x", "has space", "../etc", "vos", "anonymous", "1abc"]:
        with pytest.raises(InvalidRequestError):
            auth.add_user(bad, "password")
    auth.add_user("carol", "carolpw")
    with pytest.raises(ConflictError):
        auth.add_user("carol", "other123")
    with pytest.raises(InvalidRequestError, match="too short"):
        auth.add_user("dave", "abcd")


# -- over HTTP -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_native_login_whoami_logout(client: httpx.AsyncClient, users: dict) -> None:
    headers = await login(client, "alice")
    r = await client.get("/api/auth/whoami", headers=headers)
    assert r.json() == {"username": "alice", "anonymous": False, "admin": False}
    assert (await client.get("/api/auth/whoami")).json()["anonymous"] is True
    assert (await client.post("/api/auth/logout", headers=headers)).status_code == 200
    r = await client.get("/api/auth/whoami", headers=headers)
    assert r.status_code == 401 and "revoked" in r.json()["message"]
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.anyio
async def test_native_login_failure_is_401_json(client: httpx.AsyncClient, users: dict) -> None:
    r = await client.post("/api/auth/login", data={"username": "alice", "password": "wrong"})
    assert r.status_code == 401
    assert r.json() == {"error": "unauthenticated", "message": "Invalid username or password"}


@pytest.mark.anyio
async def test_admin_routes(client: httpx.AsyncClient, users: dict, app: FastAPI) -> None:
    alice = await login(client, "alice")
    root = await login(client, "root")
    assert (await client.get("/api/users", headers=alice)).status_code == 403
    assert (await client.get("/api/users")).status_code == 401
    r = await client.post("/api/users", headers=root, data={"name": "carol", "password": "carolpw"})
    assert r.status_code == 201, r.text
    r = await client.post("/api/users/carol/token", headers=root)
    token = r.json()["token"]
    who = await client.get("/api/auth/whoami", headers={"X-DL-AuthToken": token})
    assert who.json()["username"] == "carol"
    names = [u["name"] for u in (await client.get("/api/users", headers=root)).json()]
    assert names == ["alice", "bob", "carol", "root"]
    assert app_factory(app).auth_service().user_exists("carol")


@pytest.mark.anyio
async def test_datalab_auth_routes(client: httpx.AsyncClient, users: dict) -> None:
    for root in ("/auth", "/auth/"):
        r = await client.get(root)
        assert r.status_code == 200 and r.text.lower().startswith("hello world")
    r = await client.get(
        "/auth/login",
        params={"username": "alice", "profile": "default"},
        headers={"X-DL-Password": "alicepw"},
    )
    token = r.text
    assert r.status_code == 200 and DL_TOKEN.match(token) and not token.endswith("\n")
    bad = await client.get(
        "/auth/login", params={"username": "alice"}, headers={"X-DL-Password": "nope"}
    )
    assert bad.status_code == 401 and bad.text == "Error: Invalid username or password"

    async def body(path: str, **params: str) -> str:
        r = await client.get(path, params=params)
        assert r.status_code == 200
        return r.text

    assert await body("/auth/isValidToken", token=token) == "True"
    assert await body("/auth/isValidToken", token="alice.1.1.$1$" + "y" * 22) == "False"
    assert await body("/auth/isValidToken", token="anonymous.0.0.anon_access") == "True"
    assert await body("/auth/isTokenLoggedIn", token=token) == "True"
    assert await body("/auth/isValidUser", user="alice") == "True"
    assert await body("/auth/isValidUser", user="mallory") == "False"
    assert await body("/auth/isValidUser", user="vos") == "True"
    assert await body("/auth/isValidPassword", user="alice", password="alicepw") == "True"
    assert await body("/auth/isValidPassword", user="alice", password="x") == "False"
    assert await body("/auth/isUserLoggedIn", user="alice") == "True"
    assert await body("/auth/isUserLoggedIn", user="bob") == "False"
    # The client really sends the parameters twice.
    r = await client.get(f"/auth/logout?token={token}&debug=False&token={token}&debug=False")
    assert (r.status_code, r.text) == (200, "OK")
    assert await body("/auth/isTokenLoggedIn", token=token) == "False"
    r = await client.get("/auth/logout", params={"token": token})
    assert r.status_code == 401 and r.text == "Error: User token is not logged in"
    r = await client.get("/auth/login")
    assert r.status_code == 400 and r.text == "Error: missing parameter 'username'"


def test_secrets_are_redacted_from_logs() -> None:
    from skydock.server.logs import redact

    line = "GET /auth/isValidPassword?user=alice&password=hunter22 HTTP/1.1"
    assert "hunter22" not in redact(line)
    tok = "alice.1000.1000.$1$abcdefghijklmnopqrstuvwxyz"
    assert "abcdefghij" not in redact(f"GET /auth/logout?token={tok}&debug=False")
    assert "abcdefghij" not in redact(f"header {tok}")
