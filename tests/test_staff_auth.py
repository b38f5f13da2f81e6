"""Staff sign-in: argon2id passwords, throttling (429 from the sixth wrong attempt), a signed
session cookie backed by a server-side session row, and CSRF on every staff form."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from api.db import Database
from api.models import Agreement, ChangeLog, LoginAttempt, StaffSession, StaffUser
from api.settings import Settings
from tests.test_staff_helpers import (
    PASSWORD,
    add_staff,
    count,
    csrf_token,
    new_client,
    read_form,
    sign_in,
    signed_in,
    with_values,
)


async def test_password_is_argon2id_and_sign_in_sets_a_hardened_cookie(app: Any, settings: Settings) -> None:
    name = await add_staff(settings, "county", "331004")
    database = Database(settings.database_url)
    async with database.read() as session:
        user = (await session.execute(select(StaffUser).where(StaffUser.name == name))).scalar_one()
    await database.dispose()
    assert user.password_hash.startswith("$argon2id$")

    async with new_client(app) as client:
        response = await sign_in(client, name)
        assert response.status_code == 303
        assert response.headers["location"] == "/staff/"
        cookies = [
            v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("tb_staff=")
        ]
        assert cookies, response.headers
        cookie = cookies[0].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/staff" in cookie
        assert "secure" not in cookie  # plain HTTP in tests; see the https_only test
        home = await client.get("/staff/")
        assert home.status_code == 200 and name in home.text
        assert home.headers["cache-control"] == "no-store"


async def test_cookie_is_secure_behind_https(settings: Settings) -> None:
    from api.app import create_app

    secure = create_app(settings.with_(https_only=True))
    async with secure.router.lifespan_context(secure), new_client(secure, "https://testserver") as client:
        response = await sign_in(client, await add_staff(settings, "admin", "331000"))
        assert response.status_code == 303, response.text
        cookie = next(
            v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("tb_staff=")
        )
        assert "secure" in cookie.lower()


async def test_sixth_wrong_password_in_a_row_is_429_even_with_the_right_password(
    app: Any, settings: Settings
) -> None:
    name = await add_staff(settings, "county", "331004")
    async with new_client(app) as client:
        for attempt in range(1, 6):
            response = await sign_in(client, name, "wrong password " + str(attempt))
            assert response.status_code == 401, (attempt, response.status_code)
            assert "账号或密码不正确" in response.text
            assert "tb_staff=" not in response.headers.get("set-cookie", "")
        sixth = await sign_in(client, name, "wrong password 6")
        assert sixth.status_code == 429
        assert int(sixth.headers["retry-after"]) > 0
        # while throttled the password is not even checked: the right one gets 429 too
        right = await sign_in(client, name, PASSWORD)
        assert right.status_code == 429
        assert (await client.get("/staff/")).status_code == 303  # still signed out
    # five failures recorded in the database (shared by every process); throttled ones are not
    assert await count(settings, LoginAttempt, LoginAttempt.name == name) == 5


async def test_failures_for_other_accounts_from_the_same_address_do_not_lock_out_a_colleague(
    app: Any, settings: Settings
) -> None:
    colleague = await add_staff(settings, "county", "331002")
    async with new_client(app) as client:
        for attempt in range(5):
            assert (await sign_in(client, f"guess-{attempt}", "nope nope nope")).status_code == 401
        assert (await sign_in(client, colleague, PASSWORD)).status_code == 303


async def test_success_clears_the_account_failures(app: Any, settings: Settings) -> None:
    name = await add_staff(settings, "county", "331003")
    async with new_client(app) as client:
        for _ in range(4):
            assert (await sign_in(client, name, "wrong wrong wrong")).status_code == 401
        assert (await sign_in(client, name)).status_code == 303
    assert await count(settings, LoginAttempt, LoginAttempt.name == name) == 0


async def test_sign_out_revokes_the_session_server_side(app: Any, settings: Settings) -> None:
    async with signed_in(app, settings, "county", "331004") as client:
        stolen = client.cookies.get("tb_staff", path="/staff")
        assert stolen
        home = await client.get("/staff/")
        out = await client.post("/staff/logout", data={"csrf_token": csrf_token(home.text)})
        assert out.status_code == 303 and out.headers["location"] == "/staff/login"
    assert await count(settings, StaffSession, StaffSession.revoked_at.is_not(None)) == 1
    async with new_client(app) as replay:
        replay.cookies.set("tb_staff", stolen, domain="testserver", path="/staff")
        response = await replay.get("/staff/")
        assert response.status_code == 303 and response.headers["location"].startswith("/staff/login")


async def test_a_forged_or_tampered_cookie_is_not_a_session(app: Any) -> None:
    async with new_client(app) as client:
        client.cookies.set("tb_staff", "not-a-signed-value", domain="testserver", path="/staff")
        assert (await client.get("/staff/desk")).status_code == 303
        post = await client.post("/staff/agreements/new", data={"partnerCode": "522600"})
        assert post.status_code == 403


async def test_post_without_csrf_token_is_refused_and_changes_nothing(app: Any, settings: Settings) -> None:
    async with signed_in(app, settings, "county", "331004") as client:
        form = await client.get("/staff/agreements/new")
        fields = with_values(
            read_form(form.text, "/staff/agreements/new"), partnerCode="522600", signedOn="2025-03-01"
        )
        async with signed_in(app, settings, "county", "331004") as other:
            foreign = csrf_token((await other.get("/staff/agreements/new")).text)
        before = await count(settings, Agreement)
        logs = await count(settings, ChangeLog)

        missing = await client.post("/staff/agreements/new", data=with_values(fields, csrf_token=None))
        assert missing.status_code == 403
        assert "CSRF" in missing.text
        wrong = await client.post(
            "/staff/agreements/new", data=with_values(fields, csrf_token="20991231000000##" + "0" * 40)
        )
        assert wrong.status_code == 403

        # a token minted for another session is worthless in this one
        stolen = await client.post("/staff/agreements/new", data=with_values(fields, csrf_token=foreign))
        assert stolen.status_code == 403

        assert await count(settings, Agreement) == before
        assert await count(settings, ChangeLog) == logs
        # the same form with its own token goes through
        ok = await client.post("/staff/agreements/new", data=fields)
        assert ok.status_code == 303, ok.text
        assert await count(settings, Agreement) == before + 1


async def test_sign_in_form_needs_its_csrf_token_too(app: Any, settings: Settings) -> None:
    name = await add_staff(settings, "admin", "331000")
    async with new_client(app) as client:
        await client.get("/staff/login")
        response = await client.post("/staff/login", data={"name": name, "password": PASSWORD})
        assert response.status_code == 403
        assert "tb_staff=" not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    "path", ["/staff/", "/staff/desk", "/staff/table", "/staff/dashboard", "/staff/agreements/new"]
)
async def test_pages_need_sign_in(client: Any, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/staff/login?next=")


async def test_next_is_never_an_open_redirect(app: Any, settings: Settings) -> None:
    name = await add_staff(settings, "admin", "331000")
    async with new_client(app) as client:
        page = await client.get("/staff/login?next=//evil.example/x")
        fields = with_values(read_form(page.text, "/staff/login"), name=name, password=PASSWORD)
        response = await client.post("/staff/login", data=fields)
        assert response.status_code == 303 and response.headers["location"] == "/staff/"


# ---------------------------------------------------------------- argon2 outside the write lock


class _HeldCheck:
    """Replaces the argon2 check: records whether a write transaction was open when it ran, and
    holds it (in its thread) until the test lets go, so the test can act while the hash "runs"."""

    def __init__(self, monkeypatch: Any) -> None:
        import threading
        from contextlib import asynccontextmanager

        from api.services import staff_auth

        self.started = threading.Event()
        self.release = threading.Event()
        self.writes_open_during_check: list[int] = []
        self._writes = 0
        real_check, real_write = staff_auth._check, Database.write

        @asynccontextmanager
        async def counted_write(database: Database) -> Any:
            self._writes += 1
            try:
                async with real_write(database) as session:
                    yield session
            finally:
                self._writes -= 1

        def held_check(stored: str | None, password: str) -> bool:
            self.writes_open_during_check.append(self._writes)
            self.started.set()
            self.release.wait(timeout=5)
            return real_check(stored, password)

        monkeypatch.setattr(Database, "write", counted_write)
        monkeypatch.setattr(staff_auth, "_check", held_check)

    async def wait_started(self) -> None:
        import asyncio

        for _ in range(500):
            if self.started.is_set():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the password check never started")


async def test_password_check_holds_no_write_transaction(
    app: Any, settings: Settings, monkeypatch: Any
) -> None:
    """While argon2 runs no write transaction is open (on SQLite it would hold the one write lock),
    so another writer commits at once instead of queueing behind the hash."""
    import asyncio
    import time

    name = await add_staff(settings, "county", "331004")
    other = Database(settings.database_url)
    held = _HeldCheck(monkeypatch)
    try:
        async with new_client(app) as client:
            page = await client.get("/staff/login")
            attempt = asyncio.ensure_future(
                client.post(
                    "/staff/login",
                    data={
                        "name": name,
                        "password": PASSWORD,
                        "csrf_token": csrf_token(page.text),
                        "next": "/staff/",
                    },
                )
            )
            await held.wait_started()
            began = time.monotonic()
            async with other.write() as session:  # e.g. a colleague saving a form meanwhile
                session.add(LoginAttempt(name="someone-else", address="10.9.9.9", at=_now()))
            waited = time.monotonic() - began
            held.release.set()
            response = await attempt
    finally:
        held.release.set()
        await other.dispose()
    assert response.status_code == 303
    assert held.writes_open_during_check == [0]
    assert waited < 2.0, waited  # not queued behind the password check


@pytest.mark.parametrize("change", ["disabled", "new password"])
async def test_account_changed_during_the_password_check_opens_nothing(
    app: Any, settings: Settings, monkeypatch: Any, change: str
) -> None:
    """The write step looks at the account again: disabled or given a new password while the old
    password was being checked, the attempt fails (401, counted) and no session is made."""
    from sqlalchemy import update

    from api.services.users import hash_password

    name = await add_staff(settings, "county", "331004")
    other = Database(settings.database_url)
    held = _HeldCheck(monkeypatch)
    try:
        async with new_client(app) as client:
            page = await client.get("/staff/login")
            import asyncio

            attempt = asyncio.ensure_future(
                client.post(
                    "/staff/login",
                    data={
                        "name": name,
                        "password": PASSWORD,
                        "csrf_token": csrf_token(page.text),
                        "next": "/staff/",
                    },
                )
            )
            await held.wait_started()
            values = (
                {"active": False}
                if change == "disabled"
                else {"password_hash": hash_password("another long passphrase")}
            )
            async with other.write() as session:
                await session.execute(update(StaffUser).where(StaffUser.name == name).values(**values))
            held.release.set()
            response = await attempt
    finally:
        held.release.set()
        await other.dispose()
    assert response.status_code == 401
    assert "tb_staff=" not in response.headers.get("set-cookie", "")
    user_id = await _user_id(settings, name)
    assert await count(settings, StaffSession, StaffSession.user_id == user_id) == 0
    assert await count(settings, LoginAttempt, LoginAttempt.name == name) == 1


def _now() -> Any:
    from api.services.base import now

    return now()


async def _user_id(settings: Settings, name: str) -> int:
    database = Database(settings.database_url)
    try:
        async with database.read() as session:
            return int(
                (await session.execute(select(StaffUser.id).where(StaffUser.name == name))).scalar_one()
            )
    finally:
        await database.dispose()
