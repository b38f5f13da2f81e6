"""Throttling staff sign-in without handing attackers a lock-out button (OWASP Authentication
Cheat Sheet: "Login Throttling" rather than "Account Lockout").

The old rule (five failures per account *or* per address → 429 for everyone for 15 minutes) let
anyone lock the rightful user out, renewable every 15 minutes, and let one colleague's typos lock
out a whole office behind one NAT address. The rules now, each counted from `login_attempts` in the
database, so they hold across worker processes and instances:

1. **Per (account, address), tight**: the 6th failure within 15 minutes for the same account from
   the same address is refused (`PAIR_MAX`). One guesser at one address gets 5 tries per window.
2. **Per address, loose**: `ADDRESS_MAX` failures within the window from one address, across all
   accounts, stop that address (an office NAT has dozens of staff making the odd typo; a guesser
   spraying many accounts from one address is stopped).
3. **Per account, a progressive delay, not a lock**: from `ACCOUNT_DELAY_FROM` failures within the
   window an address that has itself been failing (for any account) must wait 2^(n-5) seconds (at
   most `MAX_DELAY`) after the account's latest failure. An address that has not been failing is
   not delayed: the rightful user with the right password gets in while someone else guesses.
4. **Per account, a high but finite cap**: `ACCOUNT_MAX` failures within the window from anywhere
   stop further attempts on that account, so a guesser spread over many addresses still gets a
   bounded number of tries, except from an address this account signed in from successfully in the
   last `TRUSTED_FOR` (its office or home): the rightful user keeps a way in even then.

Refused attempts are not recorded, so every throttle ends on its own when its failures leave the
window. A successful sign-in clears that (account, address) pair's failures. Admins see the current
throttles on /staff/throttles and may clear them; each clearing is audited ("login-throttle").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import ChangeLog, LoginAttempt
from api.services.base import BadInput, FieldError, Forbidden, ServiceContext, audit, now
from api.services.permissions import may_manage_sign_in_throttles

WINDOW = dt.timedelta(minutes=15)
PAIR_MAX = 5
ADDRESS_MAX = 100
ACCOUNT_DELAY_FROM = 5
ACCOUNT_MAX = 50
MAX_DELAY = dt.timedelta(minutes=5)
TRUSTED_FOR = dt.timedelta(days=30)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_seconds: int = 0
    reason: str = ""


def aware(moment: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive UTC timestamps; PostgreSQL aware ones. Compare them as aware UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


async def _failures(
    session: AsyncSession, since: dt.datetime, *where: ColumnElement[bool]
) -> tuple[int, dt.datetime | None, dt.datetime | None]:
    """How many failures match, the oldest and the latest, within the window."""
    row = (
        await session.execute(
            select(func.count(), func.min(LoginAttempt.at), func.max(LoginAttempt.at)).where(
                LoginAttempt.at > since, *where
            )
        )
    ).one()
    return int(row[0]), aware(row[1]), aware(row[2])


def _until(moment: dt.datetime | None, at: dt.datetime, span: dt.timedelta) -> int:
    if moment is None:
        return int(span.total_seconds())
    return max(1, int((moment + span - at).total_seconds()) + 1)


def delay_after(failures: int) -> dt.timedelta:
    """The spacing a failing address must keep after the account's n-th failure in the window."""
    if failures < ACCOUNT_DELAY_FROM:
        return dt.timedelta(0)
    return min(dt.timedelta(seconds=2 ** min(failures - ACCOUNT_DELAY_FROM, 20)), MAX_DELAY)


async def trusted_address(session: AsyncSession, name: str, address: str, at: dt.datetime) -> bool:
    """This account signed in successfully from this address recently (the audit trail says so)."""
    rows = (
        await session.execute(
            select(ChangeLog.after)
            .where(
                ChangeLog.entity == "session",
                ChangeLog.entity_key == name,
                ChangeLog.action == "sign-in",
                ChangeLog.at > at - TRUSTED_FOR,
            )
            .order_by(ChangeLog.id.desc())
            .limit(200)
        )
    ).scalars()
    return any(isinstance(after, dict) and after.get("address") == address for after in rows)


async def check(session: AsyncSession, name: str, address: str, at: dt.datetime) -> Verdict:
    """May this (account, address) try a password now? Rules 1–4 of the module docstring."""
    since = at - WINDOW
    pair, pair_oldest, _ = await _failures(
        session, since, LoginAttempt.name == name, LoginAttempt.address == address
    )
    if pair >= PAIR_MAX:
        return Verdict(False, _until(pair_oldest, at, WINDOW), "pair")
    by_address, address_oldest, _ = await _failures(session, since, LoginAttempt.address == address)
    if by_address >= ADDRESS_MAX:
        return Verdict(False, _until(address_oldest, at, WINDOW), "address")
    account, account_oldest, account_latest = await _failures(session, since, LoginAttempt.name == name)
    if account < ACCOUNT_DELAY_FROM:
        return Verdict(True)
    if await trusted_address(session, name, address, at):
        return Verdict(True)
    if account >= ACCOUNT_MAX:
        return Verdict(False, _until(account_oldest, at, WINDOW), "account")
    if by_address > 0 and account_latest is not None:
        wait = delay_after(account)
        if at < account_latest + wait:
            return Verdict(False, _until(account_latest, at, wait), "delay")
    return Verdict(True)


def record_failure(session: AsyncSession, name: str, address: str, at: dt.datetime) -> None:
    session.add(LoginAttempt(name=name, address=address, at=at))


async def record_success(session: AsyncSession, name: str, address: str) -> None:
    """A success clears this (account, address) pair's failures; others' stay counted."""
    await session.execute(
        delete(LoginAttempt).where(LoginAttempt.name == name, LoginAttempt.address == address)
    )


@dataclass(frozen=True)
class Throttle:
    """One (account, address) pair with failures in the window, and whether it is refused now."""

    name: str
    address: str
    failures: int
    account_failures: int
    address_failures: int
    latest: dt.datetime | None
    verdict: Verdict


async def current_throttles(
    session: AsyncSession, at: dt.datetime | None = None, limit: int = 500
) -> list[Throttle]:
    at = at or now()
    since = at - WINDOW
    pairs = (
        await session.execute(
            select(LoginAttempt.name, LoginAttempt.address, func.count(), func.max(LoginAttempt.at))
            .where(LoginAttempt.at > since)
            .group_by(LoginAttempt.name, LoginAttempt.address)
            .order_by(func.count().desc(), LoginAttempt.name, LoginAttempt.address)
            .limit(limit)
        )
    ).all()
    by_name = dict(
        (
            await session.execute(
                select(LoginAttempt.name, func.count())
                .where(LoginAttempt.at > since)
                .group_by(LoginAttempt.name)
            )
        ).all()
    )
    by_address = dict(
        (
            await session.execute(
                select(LoginAttempt.address, func.count())
                .where(LoginAttempt.at > since)
                .group_by(LoginAttempt.address)
            )
        ).all()
    )
    found = []
    for name, address, failures, latest in pairs:
        found.append(
            Throttle(
                name,
                address,
                int(failures),
                int(by_name.get(name, 0)),
                int(by_address.get(address, 0)),
                aware(latest),
                await check(session, name, address, at),
            )
        )
    return found


async def clear_throttle(
    session: AsyncSession, ctx: ServiceContext, name: str | None, address: str | None
) -> int:
    """Forget the recorded failures of an account, an address, or one pair (admins; audited)."""
    name = (name or "").strip()[:80] or None
    address = (address or "").strip()[:64] or None
    if name is None and address is None:
        raise BadInput("请指定要解除的限制", [FieldError("name", "请填写账号或来源地址")])
    if not may_manage_sign_in_throttles(ctx.actor):
        raise Forbidden("只有市级管理员可以解除登录限制")
    where = [
        c
        for c in (
            LoginAttempt.name == name if name else None,
            LoginAttempt.address == address if address else None,
        )
        if c is not None
    ]
    condition = and_(*where)
    count = int(
        (await session.execute(select(func.count()).select_from(LoginAttempt).where(condition))).scalar_one()
    )
    await session.execute(delete(LoginAttempt).where(condition))
    key = f"{name or '*'}@{address or '*'}"[:80]
    await audit(
        session,
        ctx.actor,
        "login-throttle",
        key,
        "clear",
        {"name": name, "address": address, "failures": count},
        None,
    )
    return count


async def prune(session: AsyncSession, at: dt.datetime | None = None) -> None:
    at = at or now()
    await session.execute(delete(LoginAttempt).where(LoginAttempt.at < at - WINDOW * 4))
