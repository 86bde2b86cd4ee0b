"""Typed errors for the client, one class per server error code.

The server answers every refusal as JSON ``{"error": code, "message": ...}``; the client
raises the class registered for ``code`` with the server's message unchanged, so a
notebook can catch ``NotFoundError`` or ``QueryError`` and show what the server said.
Every class derives from :class:`skydock.errors.SkydockError` (standard library only), so
the ``skydock`` command prints them like its own errors.
"""

from __future__ import annotations

from typing import Any

from skydock.errors import SkydockError


class SkydockClientError(SkydockError):
    """Base of every error the client raises; ``code``, ``status`` and ``message``."""

    code = "error"
    status = 0

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status}, {self.message!r})"


class ServiceConnectionError(SkydockClientError):
    """The server could not be reached (the message names the URL)."""

    code = "connection_failed"


class BadRequestError(SkydockClientError):
    """A parameter the server cannot use: a bad path, name, format or option."""

    code = "bad_request"
    status = 400


class QueryError(SkydockClientError):
    """The query was refused or failed; the message says why."""

    code = "query_failed"
    status = 400


class QuerySyntaxError(QueryError):
    """The query text could not be parsed."""

    code = "syntax_error"


class UnknownColumnError(QueryError):
    """A column named in the query does not exist."""

    code = "unknown_column"


class QueryRefusedError(QueryError):
    """The query parsed but asks for something that is not allowed (DDL, file access)."""

    code = "query_refused"
    status = 403


class QueryTimeoutError(QueryError):
    """The query ran past its time limit (``timeout=`` or the server's cap)."""

    code = "query_timeout"
    status = 408


class FormatError(BadRequestError):
    """An output format the server does not write."""

    code = "bad_format"


class AuthError(SkydockClientError):
    """Wrong password, or a token that is unknown, expired or revoked: log in again."""

    code = "unauthenticated"
    status = 401


class ForbiddenError(SkydockClientError):
    """The caller is known but may not do this (anonymous writes, another user's files)."""

    code = "forbidden"
    status = 403


class NotFoundError(SkydockClientError):
    """A file, directory, job, MyDB table or catalog table that does not exist."""

    code = "not_found"
    status = 404


class UnknownTableError(QueryError, NotFoundError):
    """A table named in the query does not exist."""

    code = "unknown_table"
    status = 404


class ConflictError(SkydockClientError):
    """The target already exists, or the thing is in a state that forbids the request."""

    code = "conflict"
    status = 409


class QuotaExceededError(SkydockClientError):
    """Storing this would go past the storage quota or the upload size cap."""

    code = "quota_exceeded"
    status = 413


class ThrottledError(SkydockClientError):
    """Too many attempts in a short time; the message says when to try again."""

    code = "too_many_attempts"
    status = 429


class ServerError(SkydockClientError):
    """The server failed (5xx); the message carries its incident id when it gave one."""

    code = "internal_error"
    status = 500


class JobError(SkydockClientError):
    """An async job ended in ERROR or ABORTED; the message is the job's error."""

    code = "job_failed"


class WaitTimeoutError(SkydockClientError):
    """``Job.wait(timeout=...)`` gave up before the job finished (the job keeps running)."""

    code = "wait_timeout"


BY_CODE: dict[str, type[SkydockClientError]] = {
    cls.code: cls
    for cls in (
        BadRequestError,
        QueryError,
        QuerySyntaxError,
        UnknownColumnError,
        UnknownTableError,
        QueryRefusedError,
        QueryTimeoutError,
        FormatError,
        AuthError,
        ForbiddenError,
        NotFoundError,
        ConflictError,
        QuotaExceededError,
        ThrottledError,
        ServerError,
    )
}
BY_STATUS: dict[int, type[SkydockClientError]] = {
    400: BadRequestError,
    401: AuthError,
    403: ForbiddenError,
    404: NotFoundError,
    408: QueryTimeoutError,
    409: ConflictError,
    413: QuotaExceededError,
    429: ThrottledError,
}


def from_response(status: int, body: Any, text: str, url: str) -> SkydockClientError:
    """The typed error for an HTTP answer: by the JSON ``error`` code, else by status."""
    code = message = None
    if isinstance(body, dict):
        code = body.get("error")
        message = body.get("message") or body.get("detail")
    if not isinstance(message, str) or not message:
        message = text.strip()[:500] or f"HTTP {status}"
    if not isinstance(code, str):
        message = f"{message} ({url})"
    if isinstance(code, str) and code in BY_CODE:
        cls = BY_CODE[code]
    elif status >= 500:
        cls = ServerError
    else:
        cls = BY_STATUS.get(status, SkydockClientError)
    return cls(message, code=code if isinstance(code, str) else None, status=status)


__all__ = [
    "AuthError",
    "BadRequestError",
    "ConflictError",
    "ForbiddenError",
    "FormatError",
    "JobError",
    "NotFoundError",
    "QueryError",
    "QueryRefusedError",
    "QuerySyntaxError",
    "QueryTimeoutError",
    "QuotaExceededError",
    "ServerError",
    "ServiceConnectionError",
    "SkydockClientError",
    "ThrottledError",
    "UnknownColumnError",
    "UnknownTableError",
    "WaitTimeoutError",
]
