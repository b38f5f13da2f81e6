"""Staff sign-in: password check, throttling and server-side sessions.

Why throttling lives in the database (`login_attempts`) and not in memory: the site may run several
worker processes or instances behind one address, and an attacker must not get five guesses per
process. Every failed attempt is a row; the rules that decide from them (tight per account and
address, loose per address, a progressive delay and a high cap per account: never a lock-out the
rightful user cannot pass) live in `api.services.sign_in_throttle`. A refused attempt answers "too
many attempts" without even checking the password (so a correct guess then reveals nothing) and is
not recorded, so a throttle ends on its own.

Why sessions are rows (`staff_sessions`): a signed cookie alone cannot be revoked. The cookie only
carries the session id, signed with the instance's secret key; signing out (or an admin disabling
the account) ends the session for every copy of the cookie.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import Database
from api.models import StaffSession, StaffUser
from api.services import sign_in_throttle as throttle
from api.services.base import Actor, audit, now
from api.services.users import actor_of, hash_password, verify_password

SESSION_LIFETIME = dt.timedelta(hours=12)
ADDRESS_MAX = 64
NAME_MAX = 80


@functools.cache
def _dummy_hash() -> str:
    """Verifying against a real hash when the account does not exist keeps the answer time the
    same, so response times do not reveal which account names exist."""
    return hash_password(secrets.token_urlsafe(16))


def _check(stored: str | None, password: str) -> bool:
    ok = verify_password(stored if stored is not None else _dummy_hash(), password)
    return ok and stored is not None


@dataclass(frozen=True)
class SignIn:
    """The outcome of one sign-in attempt: `throttled`, or a new session (None for wrong credentials)."""

    throttled: bool
    session_id: str | None = None
    user: StaffUser | None = None
    retry_after_seconds: int = 0


def aware(moment: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive UTC timestamps; PostgreSQL aware ones. Compare them as aware UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _clean(name: str, address: str) -> tuple[str, str]:
    return (name or "").strip()[:NAME_MAX], (address or "unknown")[:ADDRESS_MAX]


async def _active_user(session: AsyncSession, name: str) -> StaffUser | None:
    return (
        await session.execute(select(StaffUser).where(StaffUser.name == name, StaffUser.active.is_(True)))
    ).scalar_one_or_none()


async def sign_in(db: Database, name: str, password: str, address: str, via: str = "form") -> SignIn:
    """Check a name and password, throttled per account and per address; on success open a session.

    argon2 is deliberately slow (a fraction of a second), so it runs with no transaction open (on
    SQLite a write transaction holds the one write lock: every other writer would queue behind the
    hash). Three steps:

    1. a read: the throttle's verdict (refused: answer now, without checking the password) and the
       account's password hash;
    2. argon2, in a thread, off the event loop;
    3. one short write transaction (BEGIN IMMEDIATE on SQLite: attempts queue here, so the count and
       a new failure row cannot interleave, as before): the verdict again (attempts that ran
       meanwhile have recorded their failures; refused now → refused, whatever the password), the
       account again (disabled, deleted, renamed or given a new password since step 1: the checked
       password opens nothing, a failure like any wrong one), then the failure row, or the throttle
       cleared, the session row and the audit entry.
    """
    name, address = _clean(name, address)
    async with db.read() as session:
        verdict = await throttle.check(session, name, address, now())
        if not verdict.allowed:
            return SignIn(throttled=True, retry_after_seconds=verdict.retry_after_seconds)
        found = await _active_user(session, name)
        checked_id, checked_hash = (found.id, found.password_hash) if found is not None else (None, None)
    ok = await asyncio.to_thread(_check, checked_hash, password or "")
    async with db.write() as session:
        at = now()
        verdict = await throttle.check(session, name, address, at)
        if not verdict.allowed:
            return SignIn(throttled=True, retry_after_seconds=verdict.retry_after_seconds)
        user = await _active_user(session, name)
        still = user is not None and user.id == checked_id and user.password_hash == checked_hash
        if user is None or not ok or not still:
            throttle.record_failure(session, name, address, at)
            return SignIn(throttled=False)
        await throttle.record_success(session, name, address)
        session_id = secrets.token_urlsafe(32)
        session.add(
            StaffSession(id=session_id, user_id=user.id, created_at=at, expires_at=at + SESSION_LIFETIME)
        )
        await audit(session, actor_of(user, via), "session", user.name, "sign-in", None, {"address": address})
    return SignIn(throttled=False, session_id=session_id, user=user)


async def user_for_session(session: AsyncSession, session_id: str) -> StaffUser | None:
    """The active account behind a live (not revoked, not expired) session, else None."""
    if not session_id or len(session_id) > 64:
        return None
    row = (
        await session.execute(
            select(StaffUser)
            .join(StaffSession, StaffSession.user_id == StaffUser.id)
            .where(
                StaffSession.id == session_id,
                StaffSession.revoked_at.is_(None),
                StaffSession.expires_at > now(),
                StaffUser.active.is_(True),
            )
        )
    ).scalar_one_or_none()
    return row


async def sign_out(session: AsyncSession, session_id: str, actor: Actor | None = None) -> bool:
    """Revoke the session server-side; True when a live session was ended."""
    result = await session.execute(
        update(StaffSession)
        .where(StaffSession.id == session_id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    ended = bool(getattr(result, "rowcount", 0))
    if ended and actor is not None:
        await audit(session, actor, "session", actor.name, "sign-out", None, None)
    return ended


async def prune(session: AsyncSession, keep: dt.timedelta = dt.timedelta(days=30)) -> None:
    """Drop old failure rows and long-dead sessions (housekeeping; safe to call at any time)."""
    at = now()
    await throttle.prune(session, at)
    await session.execute(delete(StaffSession).where(StaffSession.expires_at < at - keep))
