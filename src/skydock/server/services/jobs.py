"""Async jobs: queries that run in the background and keep their result for a while.

One service for every front door (the native ``/api/jobs``, the Data Lab ``async=True``
calls and TAP's UWS ``/async``), so its life cycle is UWS's: a job is created PENDING
(or QUEUED at once with ``run=True``), a worker takes it to EXECUTING, and it ends
COMPLETED, ERROR or ABORTED; once its destruction time passes the sweep deletes its
result and marks it ARCHIVED.

The metadata database is the truth about every job (``storage/jobs.py``); this process
adds a pool of worker threads that claim jobs from it, each running its query through
:class:`QueryService` inside a :class:`Cancellation` scope so an abort interrupts DuckDB.
Results are files under ``<data_dir>/jobs/<id>/``, written under a temporary name and
renamed, so a result that exists is whole.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import logging
import os
import secrets
import shutil
import socket
import string
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import pyarrow as pa

from skydock.engine.executor import Cancellation
from skydock.engine.formats import FORMATS, normalise_format
from skydock.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    QueryAbortedError,
    QueryTimeoutError,
    SkydockError,
)
from skydock.server.services import tap_upload
from skydock.server.services.auth import Principal
from skydock.server.services.query import QueryService
from skydock.server.storage.jobs import (
    ABORTED,
    ACTIVE,
    ARCHIVED,
    COMPLETED,
    ERROR,
    EXECUTING,
    PENDING,
    QUEUED,
    Job,
    JobStore,
)
from skydock.server.storage.metadata import utcnow

__all__ = ["PHASES", "Job", "JobLimits", "JobResult", "JobService"]

log = logging.getLogger("skydock.jobs")

PHASES = (PENDING, QUEUED, EXECUTING, COMPLETED, ERROR, ABORTED, ARCHIVED)
RESTARTED = "the server restarted while this job was running; submit it again"
JOBS_DIR = "jobs"
MAX_WAIT_S = 60.0
MAX_RUN_ID_CHARS = 64
# How often idle workers look for jobs queued by another process.
POLL_S = 1.0
SAVED_MEDIA_TYPE = "application/json"
UPLOADS_DIR = "uploads"


@dataclass(frozen=True)
class JobLimits:
    """The pool size, per-user fairness and time limits of async jobs."""

    workers: int = 4
    per_user: int = 2
    retention: timedelta = timedelta(days=7)
    archive: timedelta = timedelta(days=30)
    default_execution_duration_s: int = 3600
    max_execution_duration_s: int = 28800
    sweep_interval_s: float = 60.0


@dataclass(frozen=True)
class JobResult:
    """A finished job's result file and how to serve it."""

    path: Path
    media_type: str
    filename: str
    size: int
    rows: int
    overflow: bool


class JobService:
    """Submits, runs, waits for, aborts and destroys async query jobs."""

    def __init__(
        self,
        store: JobStore,
        query_service: Callable[[], QueryService],
        data_dir: Path,
        limits: JobLimits | None = None,
    ) -> None:
        self._store = store
        self._query_service = query_service
        self._root = data_dir / JOBS_DIR
        self.limits = limits or JobLimits()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._running: dict[str, Cancellation] = {}
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._name = f"{socket.gethostname()}:{os.getpid()}"

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        """Recover from the previous process, then start the workers and the sweep."""
        if self._threads:
            return
        self.recover()
        self._stopping.clear()
        for n in range(self.limits.workers):
            self._spawn(self._work, f"skydock-job-worker-{n}")
        self._spawn(self._sweep_loop, "skydock-job-sweep")

    def close(self) -> None:
        """Stop taking jobs; interrupt the running ones (they are reported as restarted)."""
        self._stopping.set()
        with self._lock:
            running = list(self._running.values())
            self._changed.notify_all()
        for cancel in running:
            cancel.cancel()
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads = []

    def recover(self) -> list[str]:
        """Mark jobs a previous process left EXECUTING as ERROR; returns their ids.

        QUEUED jobs stay queued: nothing of them ran yet, so running them now is safe.
        An EXECUTING job may have half-written a ``mydb://`` table or a ``vos://`` file,
        so it is not re-run behind the user's back; the message tells them to resubmit.
        """
        recovered = []
        for job in self._store.in_phase(EXECUTING):
            if job.id in self._running:
                continue
            done = self._store.update(
                job.id, (EXECUTING,), phase=ERROR, error=RESTARTED, finished_at=utcnow()
            )
            if done is not None:
                self._remove_files(job.id)
                recovered.append(job.id)
                log.warning("job %s was left EXECUTING by %s: marked ERROR", job.id, job.worker)
        return recovered

    # -- the caller's side ------------------------------------------------------------

    def submit(
        self,
        principal: Principal,
        query: str,
        language: str = "sql",
        fmt: str = "csv",
        *,
        max_rows: int | None = None,
        out: str | None = None,
        drop: bool = False,
        run_id: str | None = None,
        execution_duration_s: int | None = None,
        run: bool = False,
        uploads: Mapping[str, pa.Table] | None = None,
        refusal: str | None = None,
    ) -> Job:
        """Create a job: PENDING, or QUEUED already when ``run`` is true.

        The query itself is checked when it runs, so a bad query ends in phase ERROR
        with the message, as UWS and the Data Lab client expect. ``uploads`` are TAP
        tables (``TAP_UPLOAD.<name>``), kept with the job until it is destroyed. A job
        created with a ``refusal`` (UWS: a bad parameter is reported when the job runs)
        ends in ERROR with that message once started.
        """
        if not query or not query.strip():
            raise InvalidRequestError("the job has no query; give the SQL or ADQL text as q")
        if language not in ("sql", "adql"):
            raise InvalidRequestError(f"unknown query language {language!r}; use sql or adql")
        fmt = normalise_format(fmt)
        if max_rows is not None and max_rows < 0:
            raise InvalidRequestError(f"maxrec must be 0 or more, not {max_rows}")
        out = out or None
        if out is not None and principal.anonymous:
            raise AuthenticationError(f"log in to save results to {out!r}")
        if run_id is not None and len(run_id) > MAX_RUN_ID_CHARS:
            raise InvalidRequestError(f"run_id is longer than {MAX_RUN_ID_CHARS} characters")
        now = utcnow()
        job_id = new_job_id()
        if uploads:
            tap_upload.save(self._root / job_id / UPLOADS_DIR, uploads)
        job = self._store.insert(
            id=job_id,
            owner=principal.name,
            phase=QUEUED if run else PENDING,
            language=language,
            query=query,
            format=fmt,
            max_rows=max_rows,
            out=out,
            drop=drop,
            run_id=run_id,
            execution_duration_s=self._duration(execution_duration_s),
            created_at=now,
            destruction_at=now + self.limits.retention,
            overflow=False,
            error=refusal,
        )
        if run:
            self._notify()
        return job

    def get(self, job_id: str, principal: Principal) -> Job:
        """The job, if the caller may see it: its owner, or an administrator."""
        job = self._store.get(job_id)
        if job is None or not (job.owner == principal.name or principal.admin):
            raise NotFoundError(f"there is no job {job_id!r}")
        return job

    def list(
        self,
        principal: Principal,
        phases: list[str] | None = None,
        *,
        after: datetime | None = None,
        limit: int | None = None,
        everyone: bool = False,
    ) -> list[Job]:
        """The caller's jobs, newest first (ARCHIVED ones only when asked for by phase).

        Anonymous jobs all share one owner, so an anonymous caller lists nothing: an
        anonymous job is reached through its id only. ``everyone`` is for administrators.
        """
        for phase in phases or ():
            if phase not in PHASES:
                raise InvalidRequestError(f"unknown phase {phase!r}; use one of {PHASES}")
        if everyone and not principal.admin:
            raise NotFoundError("only administrators may list every user's jobs")
        if principal.anonymous and not everyone:
            return []
        if limit is not None and limit < 0:
            raise InvalidRequestError(f"limit must be 0 or more, not {limit}")
        owner = None if everyone else principal.name
        wanted = phases or [p for p in PHASES if p != ARCHIVED]
        return self._store.find(owner, wanted, after=after, limit=limit)

    def run(self, job_id: str, principal: Principal) -> Job:
        """Queue a PENDING job (UWS ``PHASE=RUN``); a job already queued or running is left."""
        job = self.get(job_id, principal)
        if job.phase == PENDING:
            queued = self._store.update(job_id, (PENDING,), phase=QUEUED)
            self._notify()
            return queued or self.get(job_id, principal)
        if job.phase in (QUEUED, EXECUTING):
            return job
        raise ConflictError(f"job {job_id} is {job.phase}; only a PENDING job can be started")

    def update(
        self,
        job_id: str,
        principal: Principal,
        *,
        execution_duration_s: int | None = None,
        destruction: datetime | None = None,
    ) -> Job:
        """Change the run time limit (PENDING only) or the destruction time.

        Like UWS allows, the server has the last word: the duration is capped by the
        configured maximum, and destruction is never later than the retention period.
        """
        job = self.get(job_id, principal)
        values: dict[str, object] = {}
        if execution_duration_s is not None:
            if job.phase != PENDING:
                raise ConflictError(
                    f"job {job_id} is {job.phase}; the execution duration can only be "
                    "changed while it is PENDING"
                )
            values["execution_duration_s"] = self._duration(execution_duration_s)
        if destruction is not None:
            if destruction.tzinfo is None:
                raise InvalidRequestError("give the destruction time with a time zone (…Z)")
            values["destruction_at"] = min(destruction, job.created_at + self.limits.retention)
        if not values:
            return job
        changed = self._store.update(job_id, PHASES, **values)
        if changed is None:
            raise NotFoundError(f"there is no job {job_id!r}")
        return changed

    def set_parameters(
        self,
        job_id: str,
        principal: Principal,
        *,
        query: str | None = None,
        language: str | None = None,
        fmt: str | None = None,
        max_rows: int | None = None,
        run_id: str | None = None,
        uploads: Mapping[str, pa.Table] | None = None,
    ) -> Job:
        """Change a PENDING job's parameters (UWS ``POST {job}/parameters``)."""
        job = self.get(job_id, principal)
        if job.phase != PENDING:
            raise ConflictError(
                f"job {job_id} is {job.phase}; parameters can only be changed while it is PENDING"
            )
        values: dict[str, object] = {}
        if query is not None:
            if not query.strip():
                raise InvalidRequestError("the query is empty; give the SQL or ADQL text")
            values["query"] = query
        if language is not None:
            if language not in ("sql", "adql"):
                raise InvalidRequestError(f"unknown query language {language!r}")
            values["language"] = language
        if fmt is not None:
            values["format"] = normalise_format(fmt)
        if max_rows is not None:
            if max_rows < 0:
                raise InvalidRequestError(f"maxrec must be 0 or more, not {max_rows}")
            values["max_rows"] = max_rows
        if run_id is not None:
            if len(run_id) > MAX_RUN_ID_CHARS:
                raise InvalidRequestError(f"run_id is longer than {MAX_RUN_ID_CHARS} characters")
            values["run_id"] = run_id
        if uploads:
            tap_upload.save(self._root / job_id / UPLOADS_DIR, uploads)
        if not values:
            return job
        changed = self._store.update(job_id, (PENDING,), **values)
        if changed is None:
            raise ConflictError(f"job {job_id} left PENDING; its parameters can no longer change")
        return changed

    def uploads(self, job_id: str, principal: Principal) -> builtins.list[str]:
        """The names of the tables uploaded with a job."""
        self.get(job_id, principal)
        return tap_upload.names(self._root / job_id / UPLOADS_DIR)

    def abort(self, job_id: str, principal: Principal) -> Job:
        """Stop a job that has not finished (ABORTED); a finished job is left as it is."""
        self.get(job_id, principal)
        with self._lock:
            # Under the lock a worker cannot be between claiming and registering.
            aborted = self._store.update(job_id, ACTIVE, phase=ABORTED, finished_at=utcnow())
            cancel = self._running.get(job_id)
            self._changed.notify_all()
        if cancel is not None:
            cancel.cancel()
        return aborted or self.get(job_id, principal)

    def delete(self, job_id: str, principal: Principal) -> None:
        """Forget the job and delete its result; a running job is interrupted first."""
        self.get(job_id, principal)
        with self._lock:
            self._store.delete(job_id)
            cancel = self._running.get(job_id)
            self._changed.notify_all()
        if cancel is not None:
            cancel.cancel()
        self._remove_files(job_id)

    def forget_owner(self, owner: str) -> int:
        """Stop and delete every job of ``owner`` with its files; returns how many.

        For expiring class accounts: other owners' jobs are not looked at.
        """
        jobs = self._store.find(owner, PHASES)
        for job in jobs:
            self.delete(job.id, Principal(owner))
        return len(jobs)

    def wait(
        self,
        job_id: str,
        principal: Principal,
        timeout_s: float,
        *,
        phase: str | None = None,
        until: Literal["finished", "changed"] = "finished",
    ) -> Job:
        """Block until the job leaves the active phases, or ``timeout_s`` passes.

        ``until="changed"`` returns as soon as the phase differs from the phase the job
        was in when the call began (UWS ``WAIT``; the native ``?wait=``). With ``phase``
        (UWS ``WAIT`` with ``PHASE``) it returns at once unless the job is in that
        phase, then blocks while it stays there. A negative timeout means the longest
        wait the server allows (:data:`MAX_WAIT_S`).
        """
        deadline = time.monotonic() + _wait_span(timeout_s)
        job = self.get(job_id, principal)
        stay = _stay_in(job, phase, until)
        while True:
            left = deadline - time.monotonic()
            if not _blocks(job, stay) or left <= 0:
                return job
            with self._lock:
                self._changed.wait(min(left, POLL_S))
            job = self.get(job_id, principal)

    async def wait_async(
        self,
        job_id: str,
        principal: Principal,
        timeout_s: float,
        *,
        phase: str | None = None,
        until: Literal["finished", "changed"] = "finished",
    ) -> Job:
        """:meth:`wait` for an event loop: polls instead of holding a thread."""
        deadline = time.monotonic() + _wait_span(timeout_s)
        job = await asyncio.to_thread(self.get, job_id, principal)
        stay = _stay_in(job, phase, until)
        pause = 0.02
        while True:
            left = deadline - time.monotonic()
            if not _blocks(job, stay) or left <= 0:
                return job
            await asyncio.sleep(min(left, pause))
            pause = min(pause * 2, 0.25)
            job = await asyncio.to_thread(self.get, job_id, principal)

    def result(self, job_id: str, principal: Principal) -> JobResult:
        """The result file of a COMPLETED job; anything else is a conflict that says why."""
        job = self.get(job_id, principal)
        if job.phase == ARCHIVED:
            raise ConflictError(
                f"the result of job {job_id} was deleted at its destruction time "
                f"({_iso(job.destruction_at)}); run the query again"
            )
        if job.phase != COMPLETED or job.result_path is None:
            hint = f": {job.error}" if job.phase == ERROR and job.error else ""
            raise ConflictError(f"job {job_id} is {job.phase}, not COMPLETED{hint}")
        path = self._root.parent / job.result_path
        if not path.is_file():
            raise ConflictError(f"the result file of job {job_id} is missing; run it again")
        if job.out:
            media_type, ext = SAVED_MEDIA_TYPE, "json"
        else:
            spec = FORMATS[job.format]
            media_type, ext = spec.media_type, spec.extension
        size = path.stat().st_size
        return JobResult(path, media_type, f"result.{ext}", size, job.rows or 0, job.overflow)

    def error(self, job_id: str, principal: Principal) -> str:
        """Why the job failed or stopped; empty for a job that did not."""
        job = self.get(job_id, principal)
        if job.phase == ABORTED:
            return job.error or "the job was aborted"
        return job.error or ""

    # -- the workers' side ------------------------------------------------------------

    def running(self) -> builtins.list[str]:
        """Ids of the jobs this process's workers are running now."""
        with self._lock:
            return sorted(self._running)

    def sweep(self) -> builtins.list[str]:
        """Destroy jobs past their destruction time; returns their ids.

        A destroyed job is ARCHIVED, not deleted (UWS 1.1): its result files are gone but
        its record stays, so its owner reads "deleted at its destruction time" instead
        of a puzzling 404. Records are deleted ``archive`` later.
        """
        now = utcnow()
        destroyed = []
        for job in self._store.expired(now):
            with self._lock:
                done = self._store.update(
                    job.id,
                    [job.phase],
                    phase=ARCHIVED,
                    result_path=None,
                    result_size=None,
                    finished_at=job.finished_at or now,
                )
                cancel = self._running.get(job.id)
            if done is None:
                continue
            if cancel is not None:
                cancel.cancel()
            self._remove_files(job.id)
            destroyed.append(job.id)
        self._store.purge_archived(now - self.limits.archive)
        return destroyed

    def _work(self) -> None:
        worker = f"{self._name}:{threading.current_thread().name}"
        while not self._stopping.is_set():
            try:
                job = self._store.claim(worker, self.limits.per_user)
            except Exception:
                log.exception("claiming a job failed; trying again")
                job = None
            if job is None:
                with self._lock:
                    if not self._stopping.is_set():
                        self._changed.wait(POLL_S)
                continue
            self._execute(job)

    def _execute(self, job: Job) -> None:
        cancel = Cancellation()
        with self._lock:
            current = self._store.get(job.id)
            if current is None or current.phase != EXECUTING:
                return  # aborted or deleted between the claim and now
            if self._stopping.is_set():  # claimed as the server stops: nothing ran yet
                self._store.update(job.id, (EXECUTING,), phase=QUEUED, worker=None, started_at=None)
                return
            self._running[job.id] = cancel
        try:
            with cancel.scope():
                rows, overflow, relative, size = self._produce(job)
        except QueryAbortedError:
            self._finish_failed(job, ABORTED, "the job was aborted")
        except QueryTimeoutError:
            self._finish_failed(job, ERROR, self._timeout_message(job))
        except SkydockError as exc:
            self._finish_failed(job, ERROR, exc.message)
        except Exception:
            incident = secrets.token_hex(4)
            log.exception("incident %s running job %s", incident, job.id)
            self._finish_failed(
                job, ERROR, f"internal error (incident {incident}); the administrator can find it"
            )
        else:
            done = self._store.update(
                job.id,
                (EXECUTING,),
                phase=COMPLETED,
                finished_at=utcnow(),
                rows=rows,
                overflow=overflow,
                result_path=relative,
                result_size=size,
            )
            if done is None:  # aborted, deleted or destroyed meanwhile
                self._remove_files(job.id)
        finally:
            with self._lock:
                self._running.pop(job.id, None)
                self._changed.notify_all()

    def _produce(self, job: Job) -> tuple[int, bool, str, int]:
        service = self._query_service().with_timeout_limit(self.limits.max_execution_duration_s)
        language: Literal["sql", "adql"] = "adql" if job.language == "adql" else "sql"
        principal = Principal(job.owner)
        if job.error:  # refused at creation; reported now that it runs
            raise InvalidRequestError(job.error)
        directory = self._root / job.id
        directory.mkdir(parents=True, exist_ok=True)
        if job.out:
            saved = service.save(
                job.query,
                language,
                job.format,
                job.out,
                principal=principal,
                drop=job.drop,
                max_rows=job.max_rows,
                timeout_s=job.execution_duration_s,
            )
            body = json.dumps({"out": saved.out, "rows": saved.rows, "overflow": saved.overflow})
            target = directory / "result.json"
            temp = directory / "result.json.part"
            temp.write_text(body + "\n", encoding="utf-8")
            rows, overflow = saved.rows, saved.overflow
        else:
            answer = service.run(
                job.query,
                language,
                job.format,
                principal=principal,
                max_rows=job.max_rows,
                timeout_s=job.execution_duration_s,
                extra=tap_upload.load(directory / UPLOADS_DIR),
            )
            target = directory / f"result.{answer.extension}"
            temp = directory / f"result.{answer.extension}.part"
            with temp.open("wb") as sink:
                for chunk in answer.chunks():
                    sink.write(chunk)
            rows, overflow = answer.rows, answer.overflow
        temp.replace(target)
        return rows, overflow, f"{JOBS_DIR}/{job.id}/{target.name}", target.stat().st_size

    def _finish_failed(self, job: Job, phase: str, message: str) -> None:
        if phase == ABORTED and self._stopping.is_set():
            phase, message = ERROR, RESTARTED
        self._store.update(job.id, (EXECUTING,), phase=phase, error=message, finished_at=utcnow())
        self._remove_files(job.id)

    def _timeout_message(self, job: Job) -> str:
        return (
            f"the job ran longer than its execution duration of {job.execution_duration_s} s "
            "and was stopped; submit it with a longer execution_duration (at most "
            f"{self.limits.max_execution_duration_s} s) or narrow the query"
        )

    def _sweep_loop(self) -> None:
        while not self._stopping.wait(self.limits.sweep_interval_s):
            try:
                self.sweep()
            except Exception:
                log.exception("the job sweep failed; it runs again later")

    # -- helpers ----------------------------------------------------------------------

    def _duration(self, seconds: int | None) -> int:
        if seconds is None or seconds == 0:
            return self.limits.default_execution_duration_s
        if seconds < 0:
            raise InvalidRequestError(
                f"execution_duration must be a positive number of seconds, not {seconds}"
            )
        return min(int(seconds), self.limits.max_execution_duration_s)

    def _notify(self) -> None:
        with self._lock:
            self._changed.notify_all()

    def _remove_files(self, job_id: str) -> None:
        shutil.rmtree(self._root / job_id, ignore_errors=True)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)


def _stay_in(job: Job, phase: str | None, until: str) -> str | None:
    """The one phase a wait lasts through, or None for "any active phase"."""
    if phase is not None:
        return phase
    return job.phase if until == "changed" else None


def _blocks(job: Job, stay: str | None) -> bool:
    if stay is not None:
        return job.phase == stay and job.phase in ACTIVE
    return job.phase in ACTIVE


def _wait_span(timeout_s: float) -> float:
    return MAX_WAIT_S if timeout_s < 0 else min(timeout_s, MAX_WAIT_S)


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else "unknown"


_ID_ALPHABET = string.ascii_letters + string.digits


def new_job_id() -> str:
    """22 random letters and digits (131 bits): URL-safe for the Data Lab client, and
    never starting with '-', which a command line would take for an option."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(22))
