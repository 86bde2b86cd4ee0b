"""One error hierarchy for the whole platform.

Every refusal carries a short machine code, an HTTP-like status and a message a person
can act on: it names the bad value and says what would be accepted. The server maps
these to Data Lab plain text, TAP VOTable errors or JSON in one place; the CLI prints
the message.
"""

from __future__ import annotations


class SkydockError(Exception):
    """Base of every error Skydock raises on purpose."""

    code: str = "error"
    status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class QuerySyntaxError(SkydockError):
    """The query text could not be parsed."""

    code = "syntax_error"


class QueryRefusedError(SkydockError):
    """The query parsed but asks for something the guard does not allow."""

    code = "query_refused"
    status = 403


class UnknownTableError(SkydockError):
    """A table named in a query or a command does not exist."""

    code = "unknown_table"
    status = 404


class UnknownColumnError(SkydockError):
    """A column named in a query does not exist in the tables it could belong to."""

    code = "unknown_column"


class QueryTimeoutError(SkydockError):
    """The query ran longer than the configured limit and was interrupted."""

    code = "query_timeout"
    status = 408


class QueryAbortedError(SkydockError):
    """The query was stopped because its job was aborted (or destroyed) on request."""

    code = "query_aborted"
    status = 409


class QueryExecutionError(SkydockError):
    """The database refused the query while running it (bad types, division by zero...)."""

    code = "query_failed"


class CatalogError(SkydockError):
    """An ingest or catalog command was given input it cannot use."""

    code = "catalog_error"


class CatalogExistsError(CatalogError):
    """A catalog of that name is already there."""

    code = "catalog_exists"
    status = 409


class FormatError(SkydockError):
    """An output format that does not exist was asked for."""

    code = "bad_format"


class AuthenticationError(SkydockError):
    """Wrong password, or a token that is unknown, expired or revoked."""

    code = "unauthenticated"
    status = 401


class ThrottledError(SkydockError):
    """Too many attempts in a short time; the message says when to try again."""

    code = "too_many_attempts"
    status = 429


class PermissionDeniedError(SkydockError):
    """The caller is known but may not do this (anonymous writes, another user's files)."""

    code = "forbidden"
    status = 403


class NotFoundError(SkydockError):
    """A file, directory, job, user or MyDB table that does not exist (or is not yours)."""

    code = "not_found"
    status = 404


class ConflictError(SkydockError):
    """The target already exists, or the thing is in a state that forbids the request."""

    code = "conflict"
    status = 409


class InvalidRequestError(SkydockError):
    """A parameter has a value that cannot be used: a bad path, name or option."""

    code = "bad_request"


class QuotaExceededError(SkydockError):
    """Storing this would take the user past a quota, or an upload is over its size cap."""

    code = "quota_exceeded"
    status = 413
