"""Async jobs in the metadata database: the one place their rows are read and written.

Every change of phase is a conditional update (``WHERE phase IN (...)``), so two actors
racing on one job (a worker finishing it, a user aborting it, the sweep destroying it)
cannot overwrite each other: the database decides who was first. That is also what
lets separate ``skydock worker`` processes share the queue: :meth:`JobStore.claim` takes
the oldest runnable job with ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite
ignores the lock clause; the conditional update still makes a claim exclusive).
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from skydock.server.storage.metadata import Database, JobRow, utcnow

PENDING = "PENDING"
QUEUED = "QUEUED"
EXECUTING = "EXECUTING"
COMPLETED = "COMPLETED"
ERROR = "ERROR"
ABORTED = "ABORTED"
ARCHIVED = "ARCHIVED"
ACTIVE = (PENDING, QUEUED, EXECUTING)
FINISHED = (COMPLETED, ERROR, ABORTED)


@dataclass(frozen=True)
class Job:
    """One async job as the services see it (a copy of its row, never the row)."""

    id: str
    owner: str
    phase: str
    language: str
    query: str
    format: str
    max_rows: int | None
    out: str | None
    drop: bool
    run_id: str | None
    execution_duration_s: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    destruction_at: datetime | None
    worker: str | None
    error: str | None
    rows: int | None
    overflow: bool
    result_path: str | None
    result_size: int | None

    @property
    def active(self) -> bool:
        return self.phase in ACTIVE


_FIELDS = tuple(Job.__dataclass_fields__)


def _job(row: JobRow) -> Job:
    return Job(**{name: getattr(row, name) for name in _FIELDS})


class JobStore:
    """Rows of the ``jobs`` table, changed only by conditional updates."""

    def __init__(self, database: Database) -> None:
        self._db = database
        # SQLite has no row locks: claims within one process take turns, so the per-user
        # limit is counted exactly. Across processes PostgreSQL's row locks do the work.
        self._claim_lock = threading.Lock()

    def insert(self, **values: Any) -> Job:
        with self._db.session() as s:
            row = JobRow(**values)
            s.add(row)
            s.flush()
            return _job(row)

    def get(self, job_id: str) -> Job | None:
        with self._db.session() as s:
            row = s.get(JobRow, job_id)
            return _job(row) if row is not None else None

    def find(
        self,
        owner: str | None,
        phases: Collection[str],
        *,
        after: datetime | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        """Jobs newest first; ``owner=None`` means everyone's."""
        stmt = select(JobRow).where(JobRow.phase.in_(list(phases)))
        if owner is not None:
            stmt = stmt.where(JobRow.owner == owner)
        if after is not None:
            stmt = stmt.where(JobRow.created_at > after)
        stmt = stmt.order_by(JobRow.created_at.desc(), JobRow.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._db.session() as s:
            return [_job(r) for r in s.scalars(stmt)]

    def update(self, job_id: str, expect: Collection[str], **values: Any) -> Job | None:
        """Change the job if its phase is one of ``expect``; None if it was not."""
        with self._db.session() as s:
            done = s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.phase.in_(list(expect)))
                .values(**values)
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = s.get(JobRow, job_id, populate_existing=True)
            return _job(row) if row is not None else None

    def delete(self, job_id: str) -> bool:
        with self._db.session() as s:
            done = s.execute(delete(JobRow).where(JobRow.id == job_id))
            return bool(done.rowcount == 1)  # type: ignore[attr-defined]

    def claim(self, worker: str, per_user: int) -> Job | None:
        """Take the oldest QUEUED job whose owner runs fewer than ``per_user`` jobs.

        The claimed job is EXECUTING, stamped with ``worker`` and its start time.
        """
        busy = (
            select(JobRow.owner)
            .where(JobRow.phase == EXECUTING)
            .group_by(JobRow.owner)
            .having(func.count() >= per_user)
        )
        pick = (
            select(JobRow.id)
            .where(JobRow.phase == QUEUED, JobRow.owner.not_in(busy))
            .order_by(JobRow.created_at, JobRow.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        with self._claim_lock, self._db.session() as s:
            job_id = s.scalar(pick)
            if job_id is None:
                return None
            done = s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.phase == QUEUED)
                .values(phase=EXECUTING, worker=worker, started_at=utcnow())
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = s.get(JobRow, job_id, populate_existing=True)
            return _job(row) if row is not None else None

    def expired(self, now: datetime) -> list[Job]:
        """Jobs past their destruction time that are not yet ARCHIVED."""
        stmt = select(JobRow).where(JobRow.phase != ARCHIVED, JobRow.destruction_at <= now)
        with self._db.session() as s:
            return [_job(r) for r in s.scalars(stmt)]

    def purge_archived(self, before: datetime) -> int:
        """Delete the records of jobs archived (destroyed) before ``before``."""
        with self._db.session() as s:
            done = s.execute(
                delete(JobRow).where(JobRow.phase == ARCHIVED, JobRow.destruction_at <= before)
            )
            return int(done.rowcount)  # type: ignore[attr-defined]

    def in_phase(self, phase: str) -> list[Job]:
        with self._db.session() as s:
            return [_job(r) for r in s.scalars(select(JobRow).where(JobRow.phase == phase))]
