"""IVOA TAP 1.1 over the one QueryService and JobService (``/tap``).

TAP's parameters (DALI: names case-insensitive, unknown ones ignored, ``REQUEST``
accepted and ignored) become a :class:`TapRequest`; a synchronous query runs through
:class:`QueryService` like any other, an asynchronous one is a job of the shared
:class:`JobService` (so ``/api/jobs`` lists TAP jobs too). Uploads are parsed here and
handed to the engine as per-query tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote

import pyarrow as pa

from skydock.engine.formats import FORMATS, normalise_format
from skydock.errors import InvalidRequestError, NotFoundError, QuotaExceededError, SkydockError
from skydock.server.services import tap_upload
from skydock.server.services.auth import Principal
from skydock.server.services.jobs import Job, JobResult, JobService
from skydock.server.services.query import QueryAnswer, QueryService
from skydock.server.services.storage import StorageService
from skydock.server.services.tap_schema import TapSchema, TapTable
from skydock.server.storage.jobs import ABORTED, COMPLETED, ERROR

LANGUAGES = ("ADQL", "ADQL-2.0", "ADQL-2.1")
DEFAULT_FORMAT = "votable-binary2"
VOTABLE_MEDIA_TYPE = "application/x-votable+xml"
# Parameters that may appear once; a second, different value is an error (DALI).
_SINGLE = ("lang", "query", "maxrec", "responseformat", "format", "runid")


@dataclass(frozen=True)
class TapLimits:
    max_upload_bytes: int = 64 * 1024**2
    max_wait_s: float = 60.0


@dataclass
class TapRequest:
    """The TAP parameters of one request, checked and in the engine's terms."""

    query: str | None = None
    lang: str | None = None
    fmt: str | None = None  # canonical engine format name
    media_type: str | None = None  # what to answer as, when the client named a MIME type
    maxrec: int | None = None
    runid: str | None = None
    uploads: dict[str, pa.Table] = field(default_factory=dict)
    phase: str | None = None

    @property
    def language(self) -> str:
        return "adql"


Fetch = Callable[[str], bytes]


def parse_request(
    pairs: Sequence[tuple[str, str]],
    files: Mapping[str, bytes],
    limits: TapLimits,
    fetch: Fetch | None = None,
) -> TapRequest:
    """DALI parameter rules over ``pairs`` (query string and form fields, in order);
    ``files`` are the multipart file parts by field name, for ``param:`` uploads;
    ``fetch`` reads an upload given by URL (only this service's own results)."""
    values: dict[str, list[str]] = {}
    for key, value in pairs:
        values.setdefault(key.strip().lower(), []).append(value)
    for key in _SINGLE:
        if len(set(values.get(key, []))) > 1:
            raise InvalidRequestError(
                f"parameter {key.upper()} was given {len(values[key])} times with different "
                "values; give it once"
            )

    def one(key: str) -> str | None:
        found = values.get(key)
        return found[0] if found else None

    request = TapRequest(query=one("query"), runid=one("runid"))
    lang = one("lang")
    if lang is not None:
        if lang.strip().upper() not in LANGUAGES:
            raise InvalidRequestError(
                f"unknown query language LANG={lang!r}; this service speaks {', '.join(LANGUAGES)}"
            )
        request.lang = lang.strip().upper()
    fmt = one("responseformat") or one("format")
    if fmt is not None and fmt.strip():
        request.fmt = normalise_format(fmt)
        if "/" in fmt:
            request.media_type = fmt.strip()
    maxrec = one("maxrec")
    if maxrec is not None and maxrec.strip():
        try:
            request.maxrec = int(maxrec)
        except ValueError:
            raise InvalidRequestError(
                f"MAXREC={maxrec!r} is not a whole number; give 0 or more rows"
            ) from None
        if request.maxrec < 0:
            raise InvalidRequestError(f"MAXREC={maxrec} is negative; give 0 or more rows")
    phase = one("phase")
    request.phase = phase.strip().upper() if phase else None
    if request.runid is not None and len(request.runid) > 64:
        raise InvalidRequestError("RUNID is longer than 64 characters")
    for spec in values.get("upload", []):
        for pair in spec.split(";"):
            if pair.strip():
                name, table = _upload(pair.strip(), files, limits, fetch)
                request.uploads[name] = table
    return request


def _upload(
    pair: str, files: Mapping[str, bytes], limits: TapLimits, fetch: Fetch | None
) -> tuple[str, pa.Table]:
    name, sep, uri = pair.partition(",")
    if not sep or not uri.strip():
        raise InvalidRequestError(
            f"UPLOAD={pair!r} must be name,URI, e.g. UPLOAD=mytable,param:file1 with the "
            "VOTable sent as the multipart part file1"
        )
    table_name = tap_upload.check_name(name.strip())
    uri = uri.strip()
    if uri.startswith("param:"):
        part = uri[len("param:") :]
        found = files.get(part)
        if found is None:
            raise InvalidRequestError(
                f"UPLOAD {name.strip()!r} names the multipart part {part!r}, which the "
                f"request does not have (parts sent: {', '.join(sorted(files)) or 'none'})"
            )
        data = found
    elif fetch is not None:
        data = fetch(uri)
    else:
        raise InvalidRequestError(f"cannot fetch upload {name.strip()!r} from {uri!r}")
    if len(data) > limits.max_upload_bytes:
        raise QuotaExceededError(
            f"upload {name.strip()!r} is {len(data):,} bytes; this service accepts at most "
            f"{limits.max_upload_bytes:,} bytes per table"
        )
    return table_name, tap_upload.parse_votable(name.strip(), data)


class TapService:
    """TAP's synchronous queries, async jobs, metadata and availability."""

    def __init__(
        self,
        query: QueryService,
        jobs: JobService,
        schema: TapSchema,
        limits: TapLimits | None = None,
        storage: StorageService | None = None,
    ) -> None:
        self._query = query
        self._jobs = jobs
        self._schema = schema
        self.limits = limits or TapLimits()
        self._storage = storage

    # -- sync -------------------------------------------------------------------------

    def sync(self, principal: Principal, request: TapRequest) -> QueryAnswer:
        """Run a query while the caller waits; the answer is in the asked format."""
        query = _need_query(request)
        answer = self._query.run(
            query,
            "adql",
            request.fmt or DEFAULT_FORMAT,
            principal=principal,
            max_rows=request.maxrec,
            extra=[tap_upload.extra_table(n, t) for n, t in request.uploads.items()],
            info={"QUERY": query},
        )
        answer.media_type = self.media_type(request.fmt, request.media_type)
        return answer

    def media_type(self, fmt: str | None, asked: str | None = None) -> str:
        """The Content-Type of a result: the MIME type asked for, VOTable's own, or the
        engine format's."""
        name = fmt or DEFAULT_FORMAT
        if name.startswith("votable"):
            return (
                "text/xml"
                if asked and asked.lower().startswith("text/xml")
                else (VOTABLE_MEDIA_TYPE)
            )
        return FORMATS[name].media_type

    # -- async ------------------------------------------------------------------------

    def request(
        self,
        pairs: Sequence[tuple[str, str]],
        files: Mapping[str, bytes],
        principal: Principal,
        base: str,
    ) -> TapRequest:
        """The TAP parameters of a request to the service at ``base``."""
        return parse_request(
            pairs, files, self.limits, lambda uri: self._fetch(uri, base, principal)
        )

    def create_job(
        self,
        principal: Principal,
        pairs: Sequence[tuple[str, str]],
        files: Mapping[str, bytes],
        base: str,
    ) -> Job:
        """A UWS job. A bad parameter does not refuse the creation: the job ends in
        ERROR with the message when it runs (UWS checks parameters at run time)."""
        refusal = None
        try:
            request = self.request(pairs, files, principal, base)
            query = _need_query(request)
        except QuotaExceededError:
            raise
        except InvalidRequestError as exc:
            refusal = exc.message
            request = TapRequest(
                phase=next((v.upper() for k, v in pairs if k.lower() == "phase"), None)
            )
            query = next((v for k, v in pairs if k.lower() == "query"), "") or "(no query)"
        return self._jobs.submit(
            principal,
            query,
            "adql",
            request.fmt or DEFAULT_FORMAT,
            max_rows=request.maxrec,
            run_id=request.runid,
            run=request.phase == "RUN",
            uploads=request.uploads,
            refusal=refusal,
        )

    def _fetch(self, uri: str, base: str, principal: Principal) -> bytes:
        """An upload by URL: a file in this platform's storage (``vos://path``,
        ``<user>://public/path`` or its ``/api/storage/files/`` URL, read as the caller) or
        a VOTable result of this service's own jobs; the server does not reach other sites."""
        stored = self._storage_path(uri, base)
        if stored is not None and self._storage is not None:
            return self._read_stored(stored, principal)
        prefix, suffix = f"{base}/async/", "/results/result"
        if uri.startswith(prefix) and uri.endswith(suffix):
            job_id = uri[len(prefix) : -len(suffix)]
            job = self._jobs.get(job_id, principal)
            if not job.format.startswith("votable"):
                raise InvalidRequestError(
                    f"the result of job {job_id} is {job.format}, not a VOTable; upload a "
                    "VOTable result"
                )
            result = self.result(job_id, principal)
            if result.size > self.limits.max_upload_bytes:
                raise QuotaExceededError(
                    f"the result of job {job_id} is {result.size:,} bytes; uploads may be at "
                    f"most {self.limits.max_upload_bytes:,} bytes"
                )
            return result.path.read_bytes()
        raise InvalidRequestError(
            f"cannot fetch the upload from {uri!r}: this server does not reach other sites. "
            "Send the table inline (UPLOAD=name,param:part with the VOTable as the "
            "multipart part 'part'), name a VOTable in your storage (vos://path), or a "
            f"result of this service ({prefix}<job>{suffix})"
        )

    @staticmethod
    def _storage_path(uri: str, base: str) -> str | None:
        """The storage path a URI names, or None when it is not this platform's storage."""
        files = base.removesuffix("/tap") + "/api/storage/files/"
        if uri.startswith(files):
            return unquote(uri[len(files) :])
        scheme, sep, _ = uri.partition("://")
        if sep and scheme.isidentifier() and scheme.lower() not in ("http", "https", "mydb"):
            return uri
        return None

    def _read_stored(self, path: str, principal: Principal) -> bytes:
        assert self._storage is not None
        cap = self.limits.max_upload_bytes
        with self._storage.open_read(principal, path) as fh:
            data = fh.read(cap + 1)
        if len(data) > cap:
            raise QuotaExceededError(f"{path} is larger than the upload limit of {cap:,} bytes")
        return bytes(data)

    def set_parameters(self, job_id: str, principal: Principal, request: TapRequest) -> Job:
        return self._jobs.set_parameters(
            job_id,
            principal,
            query=request.query,
            fmt=request.fmt,
            max_rows=request.maxrec,
            run_id=request.runid,
            uploads=request.uploads,
        )

    def result(self, job_id: str, principal: Principal) -> JobResult:
        """A COMPLETED job's result; anything else is "not found" in UWS."""
        job = self._jobs.get(job_id, principal)
        if job.phase != COMPLETED:
            raise NotFoundError(f"job {job_id} is {job.phase}; it has no result")
        return self._jobs.result(job_id, principal)

    def error(self, job_id: str, principal: Principal) -> str:
        """Why a job failed; "not found" for a job that did not fail."""
        job = self._jobs.get(job_id, principal)
        if job.phase not in (ERROR, ABORTED):
            raise NotFoundError(f"job {job_id} is {job.phase}; it has no error")
        return self._jobs.error(job_id, principal)

    def parameters(self, job: Job, principal: Principal) -> list[tuple[str, str]]:
        """A job's parameters as UWS lists them."""
        params = [("LANG", "ADQL"), ("QUERY", job.query), ("RESPONSEFORMAT", job.format)]
        if job.max_rows is not None:
            params.append(("MAXREC", str(job.max_rows)))
        if job.run_id:
            params.append(("RUNID", job.run_id))
        uploads = self._jobs.uploads(job.id, principal)
        if uploads:
            params.append(("UPLOAD", ";".join(f"{n},param:{n}" for n in uploads)))
        return params

    # -- metadata ---------------------------------------------------------------------

    def tables(self, principal: Principal) -> list[TapTable]:
        return self._schema.tables(_mydb_user(principal))

    def table(self, name: str, principal: Principal) -> TapTable | None:
        return self._schema.find(name, _mydb_user(principal))

    def schemas(self, tables: list[TapTable]) -> list[tuple[str, str]]:
        return self._schema.schemas(tables)

    @property
    def max_rows(self) -> int | None:
        return self._query.max_rows

    def availability(self) -> tuple[bool, str]:
        """Whether the engine answers a trivial query now, and a note saying so."""
        started = time.monotonic()
        try:
            answer = self._query.run("SELECT 1 AS ok", "sql", "csv", timeout_s=10)
            for _ in answer.chunks():
                pass
        except SkydockError as exc:
            return False, f"the query engine does not answer: {exc.message}"
        except Exception as exc:  # availability reports faults instead of raising them
            return False, f"the query engine does not answer: {type(exc).__name__}"
        ms = (time.monotonic() - started) * 1000
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return True, f"the query engine answered a test query in {ms:.0f} ms at {stamp}"


def _need_query(request: TapRequest) -> str:
    if not request.query or not request.query.strip():
        raise InvalidRequestError("the QUERY parameter is missing or empty; give the ADQL text")
    return request.query


def _mydb_user(principal: Principal) -> str | None:
    return None if principal.anonymous else principal.name
