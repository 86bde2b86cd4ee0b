"""The one explicit default client behind the Data Lab-style module functions.

``queryClient``, ``storeClient`` and ``authClient`` keep no state of their own: they all
call ``default_client()``, which is created on first use from ``SKYDOCK_URL`` /
``SKYDOCK_TOKEN`` / ``~/.skydock/`` and can be replaced with ``set_client`` or
``set_svc_url``.
"""

from __future__ import annotations

from skydock.client.core import Client

_default: Client | None = None
# Data Lab service URLs end in a service name; Skydock serves them all from one root.
_SERVICE_SUFFIXES = ("/query", "/storage", "/auth", "/res")


def default_client() -> Client:
    """The client the module functions use (made on first use)."""
    global _default
    if _default is None:
        _default = Client()
    return _default


def set_client(client: Client) -> Client:
    """Make ``client`` the default for the module functions; returns it."""
    global _default
    _default = client
    return client


def set_svc_url(url: str) -> Client:
    """Point the module functions at another server (keeping the current token, if any,
    when it was given explicitly). ``http://host/query``-style Data Lab URLs work too."""
    url = url.strip().rstrip("/")
    for suffix in _SERVICE_SUFFIXES:
        if url.endswith(suffix):
            url = url[: -len(suffix)]
            break
    return set_client(Client(url=url))


def get_svc_url() -> str:
    return default_client().url
