"""Class and demo accounts: created in batches, wiped and disabled when they expire.

A teacher creates ``PREFIX01`` … ``PREFIXnn`` with generated passwords and one expiry
date; when the date passes, everything those accounts own (storage files and tags,
staged uploads, MyDB, async jobs and their results, the Jupyter home, tokens) is
deleted and the accounts are disabled. The wipe goes by account name through each
service's own "this owner only" operation, so nothing of any other account is touched.
A server runs the expiry check periodically; ``skydock class expire`` runs it by hand.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from skydock.errors import ConflictError, InvalidRequestError
from skydock.server.services.auth import USERNAME, AuthService, check_username
from skydock.server.services.jobs import JobService
from skydock.server.services.mydb import MyDBService
from skydock.server.services.storage import StorageService
from skydock.server.storage.metadata import utcnow

log = logging.getLogger(__name__)

MAX_CLASS_SIZE = 1000
PREFIX = re.compile(r"[a-z][a-z0-9_]{0,23}")
# No 0/O, 1/l/I: students copy these from a printed sheet.
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
PASSWORD_GROUPS = 4
PASSWORD_GROUP_CHARS = 4  # 16 characters of 31 symbols: 79 bits


@dataclass(frozen=True)
class Credential:
    """One new account and its password: shown once, never stored in clear."""

    name: str
    password: str
    expires_at: datetime


def generate_password() -> str:
    groups = (
        "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_GROUP_CHARS))
        for _ in range(PASSWORD_GROUPS)
    )
    return "-".join(groups)


def parse_expiry(text: str, now: datetime | None = None) -> datetime:
    """``YYYY-MM-DD`` (the accounts work through that whole day, UTC) or an ISO time."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            day = date.fromisoformat(text.strip())
            moment = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(text.strip())
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError:
        raise InvalidRequestError(
            f"invalid expiry {text!r}: give a date (2027-06-30) or an ISO time "
            "(2027-06-30T18:00:00+00:00)"
        ) from None
    if moment <= (now or utcnow()):
        raise InvalidRequestError(f"the expiry {text!r} is in the past; give a future date")
    return moment.astimezone(UTC)


def class_names(prefix: str, count: int) -> list[str]:
    """``prefix01`` … : numbered with at least two digits so they sort as they count."""
    if not PREFIX.fullmatch(prefix):
        raise InvalidRequestError(
            f"invalid class prefix {prefix!r}: use 1-24 lower-case letters, digits and '_', "
            "starting with a letter"
        )
    if not 1 <= count <= MAX_CLASS_SIZE:
        raise InvalidRequestError(
            f"a class has 1 to {MAX_CLASS_SIZE} accounts, not {count}; create several classes"
        )
    width = max(2, len(str(count)))
    names = [f"{prefix}{n:0{width}d}" for n in range(1, count + 1)]
    for name in names:
        check_username(name)
    return names


class ClassService:
    """Creates class accounts and wipes the expired ones, periodically when started.

    The other services are asked for only when there is something to wipe, so the
    periodic check of a server without expired accounts costs one database query.
    """

    def __init__(
        self,
        auth: AuthService,
        storage: Callable[[], StorageService],
        mydb: Callable[[], MyDBService],
        jobs: Callable[[], JobService],
        homes: Path,
        check_interval_s: float = 3600.0,
    ) -> None:
        self._auth = auth
        self._storage = storage
        self._mydb = mydb
        self._jobs = jobs
        self._homes = homes
        self._interval = check_interval_s
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def create(self, prefix: str, count: int, expires_at: datetime) -> list[Credential]:
        """``count`` new accounts of the class ``prefix``; all or none are created."""
        if expires_at <= utcnow():
            raise InvalidRequestError("the expiry is in the past; give a future date")
        names = class_names(prefix, count)
        taken = {u.name for u in self._auth.list_users()}
        clash = [n for n in names if n in taken]
        if clash:
            raise ConflictError(
                f"{len(clash)} of the names exist already (first: {clash[0]!r}); "
                "choose another class prefix"
            )
        made = []
        for name in names:
            password = generate_password()
            self._auth.add_user(name, password, expires_at=expires_at, class_name=prefix)
            made.append(Credential(name, password, expires_at))
        log.info("class %s: %d accounts created, expiring %s", prefix, count, expires_at)
        return made

    def expire(self, now: datetime | None = None) -> list[str]:
        """Wipe and disable every class account past its expiry; returns their names."""
        with self._lock:
            wiped = []
            for name in self._auth.expired_class_accounts(now):
                self.wipe(name)
                wiped.append(name)
            if wiped:
                log.info("expired %d class accounts: %s", len(wiped), ", ".join(wiped))
            return wiped

    def wipe(self, name: str) -> None:
        """Everything ``name`` owns goes; the account stays, disabled, as a record."""
        if not USERNAME.fullmatch(name):
            raise InvalidRequestError(f"{name!r} is not an account name")
        # Disabled first (its tokens revoked): nothing writes for it while its data goes.
        # The wipe is recorded last, so a wipe that fails half-way is tried again.
        self._auth.set_disabled(name, True)
        self._jobs().forget_owner(name)
        self._storage().wipe_owner(name)
        self._mydb().wipe(name)
        home = self._homes / name
        if home.is_dir() and not home.is_symlink():
            shutil.rmtree(home)
        elif home.is_symlink() or home.exists():
            home.unlink()
        self._auth.retire(name)

    # -- the periodic check -----------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="skydock-class-expiry", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        while True:
            try:
                self.expire()
            except Exception:
                log.exception("the class account expiry check failed; it runs again later")
            if self._stopping.wait(self._interval):
                return
