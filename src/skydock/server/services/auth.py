"""Accounts, passwords and tokens.

Passwords are hashed with argon2id. Tokens have the shape the Astro Data Lab client
parses (``user.uid.gid.$1$<secret>``); only their SHA-256 digest is stored, so a stolen
database holds no usable token. A token lives until it expires or its owner logs out.
Repeated wrong passwords lock the account for a while, doubling with every further
failure; the message says how long.

Callers without a token, and the Data Lab client's fixed anonymous, demo and test
tokens, are the anonymous principal: public catalogs, nothing else.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from skydock.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    ThrottledError,
)
from skydock.server.storage.metadata import Database, TokenRow, UserRow, utcnow

ANONYMOUS_NAME = "anonymous"
# Tokens the Data Lab client sends or accepts without asking a server.
FIXED_TOKENS = frozenset(
    {
        "anonymous.0.0.anon_access",
        "dldemo.99999.99999.demo_access",
        "dltest.99998.99998.test_access",
    }
)
USERNAME = re.compile(r"[a-z][a-z0-9_]{1,31}")
# Names that would be ambiguous as a storage scheme (``<user>://``) or in a token.
RESERVED_NAMES = frozenset(
    {
        ANONYMOUS_NAME,
        "dldemo",
        "dltest",
        "vos",
        "mydb",
        "file",
        "http",
        "https",
        "s3",
        "ivo",
        "public",
        "tmp",
        "tap_upload",
        "tap_schema",
    }
)
UID_BASE = 1000
MAX_TOKEN_CHARS = 128  # the Data Lab client reads token files with read(128)
MAX_LOCKOUT_S = 900.0
LAST_USED_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is asking. ``admin`` may manage users; the anonymous principal owns nothing."""

    name: str
    uid: int = 0
    admin: bool = False

    @property
    def anonymous(self) -> bool:
        return self.name == ANONYMOUS_NAME


ANONYMOUS = Principal(ANONYMOUS_NAME)


@dataclass(frozen=True)
class UserInfo:
    name: str
    uid: int
    admin: bool
    disabled: bool
    email: str | None
    created_at: datetime
    expires_at: datetime | None
    class_name: str | None = None
    wiped_at: datetime | None = None


@dataclass(frozen=True)
class AuthPolicy:
    token_ttl: timedelta = timedelta(days=7)
    max_failed_logins: int = 5
    lockout_s: float = 30.0
    min_password_chars: int = 8


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_username(name: str) -> str:
    if not USERNAME.fullmatch(name):
        raise InvalidRequestError(
            f"invalid user name {name!r}: use 2-32 characters, lower-case letters, digits "
            "and '_', starting with a letter"
        )
    if name in RESERVED_NAMES:
        raise InvalidRequestError(f"the user name {name!r} is reserved; choose another")
    return name


class AuthService:
    """Users, logins and tokens over the metadata database."""

    def __init__(self, db: Database, policy: AuthPolicy | None = None) -> None:
        self._db = db
        self.policy = policy or AuthPolicy()
        self._hasher = PasswordHasher()
        # Verified against when the user does not exist, so both cases take as long.
        self._dummy_hash = self._hasher.hash(secrets.token_hex(8))

    # -- accounts -----------------------------------------------------------------

    def add_user(
        self,
        name: str,
        password: str,
        *,
        admin: bool = False,
        email: str | None = None,
        expires_at: datetime | None = None,
        class_name: str | None = None,
    ) -> UserInfo:
        check_username(name)
        self._check_password_text(password)
        digest = self._hasher.hash(password)
        with self._db.session() as s:
            if s.scalar(select(UserRow.id).where(UserRow.name == name)) is not None:
                raise ConflictError(f"a user named {name!r} already exists")
            top = s.scalar(select(UserRow.uid).order_by(UserRow.uid.desc()).limit(1))
            row = UserRow(
                name=name,
                uid=max(UID_BASE, (top or UID_BASE - 1) + 1),
                password_hash=digest,
                admin=admin,
                email=email,
                expires_at=expires_at,
                class_name=class_name,
                disabled=False,
                failed_logins=0,
            )
            s.add(row)
            s.flush()
            return _info(row)

    def list_users(self) -> list[UserInfo]:
        with self._db.session() as s:
            return [_info(r) for r in s.scalars(select(UserRow).order_by(UserRow.name))]

    def get_user(self, name: str) -> UserInfo:
        with self._db.session() as s:
            return _info(self._row(s, name))

    def set_password(self, name: str, password: str) -> None:
        self._check_password_text(password)
        digest = self._hasher.hash(password)
        with self._db.session() as s:
            row = self._row(s, name)
            row.password_hash = digest
            row.failed_logins = 0
            row.locked_until = None
            # A new password ends every session opened with the old one.
            self._revoke_all(s, row.id)

    def set_disabled(self, name: str, disabled: bool = True) -> None:
        with self._db.session() as s:
            row = self._row(s, name)
            row.disabled = disabled
            if disabled:
                self._revoke_all(s, row.id)

    def class_members(self, class_name: str | None = None) -> list[UserInfo]:
        """The class accounts (of one class, or of every class), by name."""
        stmt = select(UserRow).where(UserRow.class_name.is_not(None))
        if class_name is not None:
            stmt = stmt.where(UserRow.class_name == class_name)
        with self._db.session() as s:
            return [_info(r) for r in s.scalars(stmt.order_by(UserRow.name))]

    def expired_class_accounts(self, now: datetime | None = None) -> list[str]:
        """Class accounts past their expiry whose data has not been wiped yet.

        Only class accounts: an ordinary account given an expiry date is merely refused
        at login, its data is never deleted behind its owner's back.
        """
        moment = now or utcnow()
        with self._db.session() as s:
            return list(
                s.scalars(
                    select(UserRow.name)
                    .where(
                        UserRow.class_name.is_not(None),
                        UserRow.wiped_at.is_(None),
                        UserRow.expires_at.is_not(None),
                        UserRow.expires_at <= moment,
                    )
                    .order_by(UserRow.name)
                )
            )

    def retire(self, name: str) -> None:
        """Disable the account for good: its tokens are deleted, the wipe is recorded."""
        with self._db.session() as s:
            row = self._row(s, name)
            row.disabled = True
            row.wiped_at = utcnow()
            s.execute(delete(TokenRow).where(TokenRow.user_id == row.id))

    def user_exists(self, name: str) -> bool:
        """True for an enabled, unexpired account."""
        with self._db.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.name == name))
            return row is not None and _usable(row)

    # -- passwords and tokens -----------------------------------------------------

    def check_password(self, name: str, password: str) -> bool:
        """Whether the password is right, counted against the same lockout as logins."""
        try:
            self._verify(name, password)
        except (AuthenticationError, ThrottledError):
            return False
        return True

    def login(self, name: str, password: str) -> str:
        """A new token for the user, or AuthenticationError / ThrottledError."""
        row_id = self._verify(name, password)
        return self._issue(row_id, self.policy.token_ttl, "login")

    def issue_token(self, name: str, *, ttl: timedelta | None = None, label: str = "issued") -> str:
        """A token minted without a password: for administrators and the hub's spawner."""
        with self._db.session() as s:
            row = self._row(s, name)
            if not _usable(row):
                raise AuthenticationError(f"the account {name!r} is disabled or expired")
            row_id = row.id
        return self._issue(row_id, ttl or self.policy.token_ttl, label)

    def authenticate(self, token: str | None) -> Principal:
        """The principal a request's token stands for; no token means anonymous."""
        if not token or token in FIXED_TOKENS:
            return ANONYMOUS
        if len(token) > MAX_TOKEN_CHARS or "$1$" not in token:
            raise AuthenticationError("the token is malformed; log in again to get a new one")
        now = utcnow()
        with self._db.session() as s:
            found = s.execute(
                select(TokenRow, UserRow)
                .join(UserRow, UserRow.id == TokenRow.user_id)
                .where(TokenRow.digest == token_digest(token))
            ).first()
            if found is None:
                raise AuthenticationError("the token is not known; log in again")
            tok, user = found
            if tok.revoked_at is not None:
                raise AuthenticationError("the token was revoked by a logout; log in again")
            if tok.expires_at <= now:
                raise AuthenticationError("the token has expired; log in again")
            if not _usable(user):
                raise AuthenticationError(f"the account {user.name!r} is disabled or expired")
            if tok.last_used_at is None or now - tok.last_used_at > LAST_USED_GRANULARITY:
                tok.last_used_at = now
            return Principal(user.name, user.uid, user.admin)

    def token_is_live(self, token: str | None) -> bool:
        """True for a token of a real account that has neither expired nor been revoked."""
        if not token or token in FIXED_TOKENS:
            return False
        try:
            self.authenticate(token)
        except AuthenticationError:
            return False
        return True

    def logout(self, token: str) -> None:
        """Revoke the token; a token that is not live is an error (as Data Lab says)."""
        if not self.token_is_live(token):
            raise AuthenticationError("User token is not logged in")
        with self._db.session() as s:
            s.execute(
                update(TokenRow)
                .where(TokenRow.digest == token_digest(token))
                .values(revoked_at=utcnow())
            )

    def user_logged_in(self, name: str) -> bool:
        now = utcnow()
        with self._db.session() as s:
            found = s.scalar(
                select(TokenRow.id)
                .join(UserRow, UserRow.id == TokenRow.user_id)
                .where(
                    UserRow.name == name,
                    TokenRow.revoked_at.is_(None),
                    TokenRow.expires_at > now,
                )
                .limit(1)
            )
            return found is not None

    # -- internals ----------------------------------------------------------------

    def _check_password_text(self, password: str) -> None:
        least = self.policy.min_password_chars
        if len(password) < least:
            raise InvalidRequestError(f"the password is too short: use at least {least} characters")

    def _row(self, s: Session, name: str) -> UserRow:
        row = s.scalar(select(UserRow).where(UserRow.name == name))
        if row is None:
            raise NotFoundError(f"no user named {name!r}")
        return row

    def _verify(self, name: str, password: str) -> int:
        """Check a password under the lockout rules; return the user's row id."""
        bad = AuthenticationError("Invalid username or password")
        now = utcnow()
        with self._db.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.name == name))
            if row is None or not password:
                self._matches(self._dummy_hash, password or "x")
                raise bad
            if row.locked_until is not None and row.locked_until > now:
                wait = (row.locked_until - now).total_seconds()
                raise ThrottledError(
                    f"too many failed logins for {name!r}; try again in {wait:.0f} s"
                )
            if not self._matches(row.password_hash, password):
                row.failed_logins += 1
                over = row.failed_logins - self.policy.max_failed_logins
                if over >= 0:
                    lock = min(self.policy.lockout_s * 2**over, MAX_LOCKOUT_S)
                    row.locked_until = now + timedelta(seconds=lock)
                # The failure count must be kept even though the request fails.
                s.commit()
                raise bad
            if not _usable(row):
                raise AuthenticationError(f"the account {name!r} is disabled or expired")
            row.failed_logins = 0
            row.locked_until = None
            if self._hasher.check_needs_rehash(row.password_hash):
                row.password_hash = self._hasher.hash(password)
            return row.id

    def _matches(self, digest: str, password: str) -> bool:
        try:
            return self._hasher.verify(digest, password)
        except (VerificationError, InvalidHashError):
            return False

    def _issue(self, user_id: int, ttl: timedelta, label: str) -> str:
        with self._db.session() as s:
            user = s.get(UserRow, user_id)
            assert user is not None
            token = f"{user.name}.{user.uid}.{user.uid}.$1${secrets.token_urlsafe(24)}"
            s.add(
                TokenRow(
                    digest=token_digest(token),
                    user_id=user_id,
                    label=label[:64],
                    expires_at=utcnow() + ttl,
                )
            )
        return token

    @staticmethod
    def _revoke_all(s: Session, user_id: int) -> None:
        s.execute(
            update(TokenRow)
            .where(TokenRow.user_id == user_id, TokenRow.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )


def _usable(row: UserRow) -> bool:
    return not row.disabled and (row.expires_at is None or row.expires_at > utcnow())


def _info(row: UserRow) -> UserInfo:
    return UserInfo(
        name=row.name,
        uid=row.uid,
        admin=row.admin,
        disabled=row.disabled,
        email=row.email,
        created_at=row.created_at,
        expires_at=row.expires_at,
        class_name=row.class_name,
        wiped_at=row.wiped_at,
    )
