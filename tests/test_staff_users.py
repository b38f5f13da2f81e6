"""账号管理: admins create accounts, disable them (every session and API token ends, and enabling
the account again revives none of them), reset passwords and revoke tokens; nobody else may; a
partner region's staff keep their own region's liaison contacts."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import select

from api.db import Database
from api.models import ApiToken, ChangeLog, Contact, StaffUser
from api.services.base import SYSTEM
from api.services.users import actor_for_token, add_token
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


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def _issue_token(settings: Settings, name: str) -> str:
    database = Database(settings.database_url)
    try:
        async with database.write() as session:
            return await add_token(session, SYSTEM, name, "测试")
    finally:
        await database.dispose()


async def _token_works(settings: Settings, token: str) -> bool:
    database = Database(settings.database_url)
    try:
        async with database.write() as session:
            return await actor_for_token(session, token) is not None
    finally:
        await database.dispose()


async def _user(settings: Settings, name: str) -> StaffUser:
    database = Database(settings.database_url)
    try:
        async with database.read() as session:
            return (await session.execute(select(StaffUser).where(StaffUser.name == name))).scalar_one()
    finally:
        await database.dispose()


async def _post_action(client: httpx.AsyncClient, action: str, **values: Any) -> httpx.Response:
    page = await client.get("/staff/users")
    fields = read_form(page.text, action)
    return await client.post(action, data=with_values(fields, **values))


async def _signed_in_as(client: httpx.AsyncClient) -> bool:
    response = await client.get("/staff/")
    return response.status_code == 200


async def test_admin_creates_a_county_account_that_can_sign_in(app: Any, settings: Settings) -> None:
    async with signed_in(app, settings, "admin", "331000") as admin:
        page = await admin.get("/staff/users")
        assert page.status_code == 200
        form = read_form(page.text, "/staff/users")
        bad = await admin.post(
            "/staff/users",
            data=with_values(
                form, username="luqiao-li", role="county", regionCode="331004", password="short"
            ),
        )
        assert bad.status_code == 422 and "密码至少10位" in _text(bad.text)
        assert 'value="luqiao-li"' in bad.text  # what was typed is kept
        created = await admin.post(
            "/staff/users",
            data=with_values(
                form, username="luqiao-li", role="county", regionCode="路桥区", password=PASSWORD
            ),
        )
        assert created.status_code == 303
        listing = _text((await admin.get("/staff/users")).text)
        assert "luqiao-li" in listing and "路桥区" in listing
        partner = await admin.post(
            "/staff/users",
            data=with_values(
                form, username="nanchong-wang", role="partner", regionCode="511300", password=PASSWORD
            ),
        )
        assert partner.status_code == 303
    user = await _user(settings, "luqiao-li")
    assert user.role == "COUNTY" and user.region_code == "331004" and user.active
    async with new_client(app) as client:
        assert (await sign_in(client, "luqiao-li")).status_code == 303


async def test_disabling_revokes_sessions_and_tokens_for_good(app: Any, settings: Settings) -> None:
    name = await add_staff(settings, "county", "331004")
    token = await _issue_token(settings, name)
    async with new_client(app) as victim, signed_in(app, settings, "admin", "331000") as admin:
        assert (await sign_in(victim, name)).status_code == 303
        assert await _signed_in_as(victim) and await _token_works(settings, token)
        user = await _user(settings, name)

        assert (await _post_action(admin, f"/staff/users/{user.id}/disable")).status_code == 303
        assert not await _signed_in_as(victim)
        assert not await _token_works(settings, token)
        assert (await sign_in(victim, name)).status_code != 303  # a disabled account cannot sign in

        assert (await _post_action(admin, f"/staff/users/{user.id}/enable")).status_code == 303
        # enabled again: the old session and the old token stay dead
        assert not await _signed_in_as(victim)
        assert not await _token_works(settings, token)
        async with new_client(app) as fresh:
            assert (await sign_in(fresh, name)).status_code == 303
            assert await _signed_in_as(fresh)
    assert await count(settings, ChangeLog, ChangeLog.entity == "user", ChangeLog.action == "disable") == 1


async def test_password_reset_ends_sessions_and_tokens_are_listed_and_revocable(
    app: Any, settings: Settings
) -> None:
    name = await add_staff(settings, "partner", "511300")
    token = await _issue_token(settings, name)
    async with new_client(app) as owner, signed_in(app, settings, "admin", "331000") as admin:
        assert (await sign_in(owner, name)).status_code == 303
        user = await _user(settings, name)
        short = await _post_action(admin, f"/staff/users/{user.id}/password", password="short")
        assert short.status_code == 422 and "密码至少10位" in _text(short.text)
        assert (
            await _post_action(admin, f"/staff/users/{user.id}/password", password="a new long passphrase")
        ).status_code == 303
        assert not await _signed_in_as(owner)
        async with new_client(app) as again:
            assert (await sign_in(again, name)).status_code != 303
            assert (await sign_in(again, name, "a new long passphrase")).status_code == 303

        assert await _token_works(settings, token)  # a password reset leaves tokens alone …
        database = Database(settings.database_url)
        async with database.read() as session:
            token_row = (
                await session.execute(select(ApiToken).where(ApiToken.user_id == user.id))
            ).scalar_one()
        await database.dispose()
        listing = await admin.get("/staff/users")
        assert f"吊销令牌 {token_row.id}" in _text(listing.text)
        revoke = f"/staff/users/{user.id}/tokens/{token_row.id}/revoke"
        assert (await _post_action(admin, revoke)).status_code == 303  # … revoking one ends it
        assert not await _token_works(settings, token)
        assert "已吊销" in _text((await admin.get("/staff/users")).text)


async def test_only_admins_manage_accounts(app: Any, settings: Settings) -> None:
    async with signed_in(app, settings, "county", "331004") as county:
        assert (await county.get("/staff/users")).status_code == 403
        token = csrf_token((await county.get("/staff/")).text)
        before = await count(settings, StaffUser)
        forged = await county.post(
            "/staff/users",
            data={
                "csrf_token": token,
                "username": "mine",
                "role": "admin",
                "regionCode": "331000",
                "password": PASSWORD,
            },
        )
        assert forged.status_code == 403
        assert await count(settings, StaffUser) == before


async def test_a_partner_account_keeps_its_own_regions_contacts(app: Any, settings: Settings) -> None:
    async with signed_in(app, settings, "partner", "511300") as partner:
        page = await partner.get("/staff/contacts/new")
        assert page.status_code == 200
        form = read_form(page.text, "/staff/contacts/new")
        own = await partner.post(
            "/staff/contacts/new",
            data=with_values(form, name="王联络", regionCode="511300", phone="0817-1234567"),
        )
        assert own.status_code == 303
        other = await partner.post(
            "/staff/contacts/new", data=with_values(form, name="李冒名", regionCode="520500")
        )
        assert other.status_code == 403
        local = await partner.post(
            "/staff/contacts/new", data=with_values(form, name="赵本地", regionCode="331004")
        )
        assert local.status_code == 403
    database = Database(settings.database_url)
    async with database.read() as session:
        names = set((await session.execute(select(Contact.name))).scalars())
    await database.dispose()
    assert "王联络" in names and "李冒名" not in names and "赵本地" not in names
