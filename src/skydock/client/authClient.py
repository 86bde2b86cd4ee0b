"""Data Lab-style login functions over the default Skydock client.

``from skydock.client import authClient as ac``: ``ac.login(user, getpass())``,
``ac.whoAmI()``, ``ac.isValidToken(tok)``, ``ac.logout()``. The token ``login`` returns is
also kept (mode 0600, keyed by server URL) for later sessions.
"""
# ruff: noqa: N999 - the module is named as Data Lab's, so `import ... as ac` habits work

from __future__ import annotations

from skydock.client.core import Client
from skydock.client.default import default_client, get_svc_url, set_svc_url
from skydock.client.errors import AuthError

__all__ = [
    "get_svc_url",
    "get_token",
    "isValidToken",
    "login",
    "logout",
    "set_svc_url",
    "whoAmI",
]


def login(user: str, password: str = "", debug: bool = False, verbose: bool = False) -> str:
    """Log in; returns the token (and the default client uses it from now on)."""
    return default_client().login(user, password)


def logout(token: str | None = None) -> str:
    """Revoke ``token`` (default: the current one)."""
    client = default_client()
    if token and token != client.token:
        Client(url=client.url, token=token).logout(forget=False)
    else:
        client.logout()
    return "OK"


def whoAmI() -> str:  # noqa: N802 - Data Lab's name
    """The user name of the current token, or ``anonymous``."""
    return str(default_client().whoami()["username"])


def isValidToken(token: str) -> bool:  # noqa: N802 - Data Lab's name
    """True if the server accepts ``token`` as a user's (not anonymous)."""
    if not token:
        return False
    client = Client(url=default_client().url, token=token)
    try:
        return not client.whoami()["anonymous"]
    except AuthError:
        return False
    finally:
        client.close()


def get_token() -> str | None:
    return default_client().token
