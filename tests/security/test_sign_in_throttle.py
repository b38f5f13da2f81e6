"""Sign-in throttling is not a lock-out button (issue 14, item 3): the probe's reproduction and the
bounds that still hold for a guesser, on SQLite and PostgreSQL (the counts live in the database)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.db import Database
from api.models import ChangeLog, LoginAttempt
from api.services import sign_in_throttle as throttle
from api.settings import Settings
from tests.test_staff_helpers import PASSWORD, add_staff, count, read_form, sign_in, with_values


def client_at(app: Any, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def fail(app: Any, name: str, address: str, times: int) -> list[int]:
    async with client_at(app, address) as client:
        return [(await sign_in(client, name, f"wrong {i}")).status_code for i in range(times)]


async def attempt(app: Any, name: str, address: str, password: str = PASSWORD) -> int:
    async with client_at(app, address) as client:
        return (await sign_in(client, name, password)).status_code


async def test_lockout_from_one_address_does_not_stop_the_right_password_from_another(
    app: Any, settings: Settings
) -> None:
    victim = await add_staff(settings, "county", "331004")
    assert await fail(app, victim, "203.0.113.9", 5) == [401] * 5
    assert await attempt(app, victim, "203.0.113.9", "wrong again") == 429  # the guesser's address is stopped
    assert await attempt(app, victim, "203.0.113.9") == 429  # (not even the right password is checked there)
    assert await attempt(app, victim, "198.51.100.7") == 303  # the rightful user, elsewhere, gets in


async def test_five_failures_behind_an_office_nat_do_not_lock_out_colleagues(
    app: Any, settings: Settings
) -> None:
    typist = await add_staff(settings, "county", "331004")
    colleague = await add_staff(settings, "county", "331004")
    office = "192.0.2.50"
    assert await fail(app, typist, office, 5) == [401] * 5
    assert await attempt(app, colleague, office) == 303
    for _ in range(3):  # more colleagues with the odd typo, then the right password
        name = await add_staff(settings, "county", "331002")
        assert await fail(app, name, office, 2) == [401, 401]
        assert await attempt(app, name, office) == 303


async def test_a_guesser_spread_over_many_addresses_is_capped(
    app: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "ACCOUNT_MAX", 8)  # the real cap is 50; the rule is the same
    victim = await add_staff(settings, "county", "331004")
    assert await attempt(app, victim, "198.51.100.20") == 303  # the victim's own office, seen before
    statuses = [(await fail(app, victim, f"203.0.113.{i}", 1))[0] for i in range(1, 12)]
    assert statuses[:8] == [401] * 8 and statuses[8:] == [429] * 3  # nine fresh addresses later: capped
    assert await count(settings, LoginAttempt, LoginAttempt.name == victim) == 8
    assert await attempt(app, victim, "203.0.113.200") == 429  # an unknown address waits for the window
    assert await attempt(app, victim, "198.51.100.20") == 303  # the address it signed in from before does not


async def test_per_account_failures_space_out_a_failing_address(empty_settings: Settings) -> None:
    """The progressive delay, with times set by hand: 2^(n-5) s after the account's latest failure."""
    database = Database(empty_settings.database_url)
    start = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
    try:
        async with database.write() as session:
            for i in range(5):
                throttle.record_failure(session, "luqiao", "203.0.113.1", start + dt.timedelta(seconds=i))
            throttle.record_failure(session, "luqiao", "203.0.113.2", start + dt.timedelta(seconds=10))
        async with database.read() as session:
            at = start + dt.timedelta(seconds=11)
            assert (await throttle.check(session, "luqiao", "203.0.113.1", at)).reason == "pair"
            spaced = await throttle.check(session, "luqiao", "203.0.113.2", at)  # 6 failures: wait 2 s
            assert not spaced.allowed and spaced.reason == "delay" and spaced.retry_after_seconds == 2
            assert (
                await throttle.check(session, "luqiao", "203.0.113.2", start + dt.timedelta(seconds=12))
            ).allowed
            assert (
                await throttle.check(session, "luqiao", "198.51.100.1", at)
            ).allowed  # not failing: no delay
            assert (
                await throttle.check(session, "luqiao", "203.0.113.1", start + dt.timedelta(minutes=16))
            ).allowed
        assert throttle.delay_after(4) == dt.timedelta(0)
        assert throttle.delay_after(9) == dt.timedelta(seconds=16)
        assert throttle.delay_after(40) == throttle.MAX_DELAY
    finally:
        await database.dispose()


async def test_an_address_spraying_many_accounts_is_stopped(
    app: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "ADDRESS_MAX", 6)  # the real limit is 100; the rule is the same
    statuses = [(await fail(app, f"guess-{i}", "203.0.113.77", 1))[0] for i in range(8)]
    assert statuses == [401] * 6 + [429] * 2


async def test_admins_see_and_clear_throttles_and_each_clearing_is_audited(
    app: Any, settings: Settings
) -> None:
    victim = await add_staff(settings, "county", "331004")
    assert await fail(app, victim, "203.0.113.9", 5) == [401] * 5
    admin = await add_staff(settings, "admin", "331000")
    async with client_at(app, "198.51.100.1") as city:
        assert (await sign_in(city, admin)).status_code == 303
        page = await city.get("/staff/throttles")
        assert (
            page.status_code == 200
            and victim in page.text
            and "203.0.113.9" in page.text
            and "暂停" in page.text
        )
        fields = read_form(page.text, "/staff/throttles/clear")
        empty = await city.post("/staff/throttles/clear", data=with_values(fields, name="", address=""))
        assert empty.status_code == 422 and "请填写账号或来源地址" in empty.text
        cleared = await city.post(
            "/staff/throttles/clear", data=with_values(fields, name=victim, address="203.0.113.9")
        )
        assert cleared.status_code == 303
        assert victim not in (await city.get("/staff/throttles")).text
    assert await attempt(app, victim, "203.0.113.9") == 303
    database = Database(settings.database_url)
    try:
        async with database.read() as session:
            entry = (
                await session.execute(select(ChangeLog).where(ChangeLog.entity == "login-throttle"))
            ).scalar_one()
    finally:
        await database.dispose()
    assert (
        entry.actor_name == admin
        and entry.action == "clear"
        and entry.before == {"name": victim, "address": "203.0.113.9", "failures": 5}
    )
