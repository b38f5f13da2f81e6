"""An agreement's registration date is the server's (issue 14, item 5).

The probe: a county token's `createAgreement` with `registeredOn` equal to a signing date ten days
back made a late registration look on time (the 3-day rule measures that date). Now a county's
different date is FORBIDDEN and writes nothing; without the field (or with today's date, or with the
stored date on an update) the server's date is used; an admin may correct it, through the API only
with `registeredOnReason`, which the change-log entry carries. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.models import ChangeLog
from api.services.base import today
from tests.test_graphql_api import CREATE, UPDATE, agreement_input, codes, gql, state_db, table_counts

SIGNED_LONG_AGO = (today() - dt.timedelta(days=10)).isoformat()
READ = '{ agreement(id: "%s") { registeredOn late version } }'


async def last_entry(app: Any, key: str) -> ChangeLog:
    async with state_db(app).read() as session:
        query = select(ChangeLog).where(ChangeLog.entity == "agreement", ChangeLog.entity_key == key)
        return (await session.execute(query.order_by(ChangeLog.id.desc()).limit(1))).scalar_one()


@pytest.mark.parametrize("backdated", [SIGNED_LONG_AGO, (today() - dt.timedelta(days=1)).isoformat()])
async def test_a_county_cannot_choose_the_registration_date(
    app: Any, client: httpx.AsyncClient, county_token: Any, backdated: str
) -> None:
    jiaojiang = await county_token("331002")
    before = await table_counts(state_db(app))
    late = agreement_input(signedOn=SIGNED_LONG_AGO, effectiveFrom=SIGNED_LONG_AGO, registeredOn=backdated)
    body = await gql(client, CREATE, {"input": late}, token=jiaojiang)
    assert codes(body) == ["FORBIDDEN"], body
    assert "registeredOn" in [f["field"] for f in body["errors"][0]["extensions"]["fields"]]
    assert await table_counts(state_db(app)) == before

    # without the field, the server registers it today: ten days after signing it is late
    late.pop("registeredOn")
    created = (await gql(client, CREATE, {"input": late}, token=jiaojiang))["data"]["createAgreement"]
    assert created["registeredOn"] == today().isoformat() and created["late"] is True


async def test_a_county_may_send_the_servers_own_date(
    app: Any, client: httpx.AsyncClient, county_token: Any
) -> None:
    jiaojiang = await county_token("331002")
    body = await gql(
        client, CREATE, {"input": agreement_input(registeredOn=today().isoformat())}, token=jiaojiang
    )
    assert "errors" not in body, body
    created = body["data"]["createAgreement"]
    # an update that sends back what it read is fine; another date is refused
    same = agreement_input(title="改了标题", registeredOn=today().isoformat())
    body = await gql(client, UPDATE, {"id": created["id"], "version": 1, "input": same}, token=jiaojiang)
    assert "errors" not in body, body
    moved = agreement_input(registeredOn=agreement_input()["signedOn"])
    body = await gql(client, UPDATE, {"id": created["id"], "version": 2, "input": moved}, token=jiaojiang)
    assert codes(body) == ["FORBIDDEN"]
    assert (await gql(client, READ % created["id"]))["data"]["agreement"][
        "registeredOn"
    ] == today().isoformat()


async def test_an_admin_corrects_it_only_with_a_reason_in_the_change_log(
    app: Any, client: httpx.AsyncClient, admin_token: str
) -> None:
    wanted = agreement_input(
        signedOn=SIGNED_LONG_AGO, effectiveFrom=SIGNED_LONG_AGO, registeredOn=SIGNED_LONG_AGO
    )
    body = await gql(client, CREATE, {"input": wanted}, token=admin_token)
    assert codes(body) == ["BAD_INPUT"]
    assert [f["field"] for f in body["errors"][0]["extensions"]["fields"]] == ["registeredOnReason"]

    wanted["registeredOnReason"] = "纸质协议当日已送达市政务办, 系统录入延后"
    created = (await gql(client, CREATE, {"input": wanted}, token=admin_token))["data"]["createAgreement"]
    assert created["registeredOn"] == SIGNED_LONG_AGO and created["late"] is False
    entry = await last_entry(app, created["key"])
    assert entry.action == "create" and entry.reason == wanted["registeredOnReason"]

    corrected = dict(wanted, registeredOn=today().isoformat(), registeredOnReason="核对收文登记簿后更正")
    body = await gql(
        client, UPDATE, {"id": created["id"], "version": 1, "input": corrected}, token=admin_token
    )
    assert "errors" not in body, body
    entry = await last_entry(app, created["key"])
    assert entry.action == "update" and entry.reason == "核对收文登记簿后更正"
    assert (
        entry.before["registeredOn"] == SIGNED_LONG_AGO and entry.after["registeredOn"] == today().isoformat()
    )

    # a change that leaves the date alone carries no reason
    retitled = dict(corrected, title="新标题", registeredOnReason="无关")
    body = await gql(
        client, UPDATE, {"id": created["id"], "version": 2, "input": retitled}, token=admin_token
    )
    assert "errors" not in body, body
    assert (await last_entry(app, created["key"])).reason is None
