"""Small pieces every Data Lab route uses: plain text, booleans, the hello answer."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response

from skydock import __version__
from skydock.errors import InvalidRequestError, SkydockError


def text(body: str, status: int = 200) -> Response:
    return PlainTextResponse(body, status_code=status)


def boolean(value: bool) -> Response:
    """The client compares these bodies exactly: ``True`` or ``False``, no newline."""
    return text("True" if value else "False")


def error_text(exc: SkydockError) -> str:
    return f"Error: {exc.message}"


def flag(value: str | None, default: bool = False) -> bool:
    """Python ``str(bool)`` as the client sends it; also ``true`` and ``1``."""
    if value is None or value == "":
        return default
    return value.strip().lower() in {"true", "1", "yes"}


def required(value: str | None, name: str) -> str:
    if value is None or value == "":
        raise InvalidRequestError(f"missing parameter {name!r}")
    return value


def hello_routes(router: APIRouter, service: str) -> None:
    """The bare service URL (with and without ``/``) answers 'Hello World', as isAlive wants."""

    def hello() -> Response:
        return text(f"Hello World! This is the Skydock {service} service, version {__version__}.")

    router.add_api_route("", hello, methods=["GET"], include_in_schema=False)
    router.add_api_route("/", hello, methods=["GET"], include_in_schema=False)
