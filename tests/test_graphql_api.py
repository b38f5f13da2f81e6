"""The GraphQL API as a partner region and staff scripts use it: a plain HTTP client against the app.

Every test runs on SQLite and on PostgreSQL (the `backend` fixture of conftest.py). What it shows:
the 一地签约、全市共享 chain for 南充市顺庆区 (all nine counties, halls nearest-first from 温岭, an
explanation naming both signatories), a non-shared agreement reaching only its county, a coded error
for each bad input with nothing changed, the staff mutations' permissions and versions, a constant
number of SQL statements for a nested query over 10 or 100 agreements, and the committed SDL.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, insert, select

from api.db import Database
from api.enums import AgreementStatus
from api.models import Agreement, ChangeLog, Guide, Hall, Matter, OutboxEvent, agreement_matters
from api.schema import build_schema
from api.services.base import today
from api.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TAIZHOU_COUNTIES = ["331002", "331003", "331004", "331022", "331023", "331024", "331081", "331082", "331083"]
NEAR_WENLING = (28.37, 121.38)


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """POST one operation; a GraphQL error is still HTTP 200 (never a 500 for a bad argument)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors") or []]


def state_db(app: Any) -> Database:
    return app.state.tongban.db  # type: ignore[no-any-return]


async def table_counts(db: Database) -> dict[str, int]:
    async with db.read() as session:
        return {
            model.__tablename__: int(
                (await session.execute(select(func.count()).select_from(model))).scalar_one()
            )
            for model in (Agreement, Matter, Guide, Hall, ChangeLog, OutboxEvent)
        }


# ------------------------------------------------------------------------------ schema


def test_committed_sdl_matches_the_schema() -> None:
    """Partners code against schema.graphql: it must be exactly what the server serves."""
    path = ROOT / "schema.graphql"
    committed = path.read_text(encoding="utf-8") if path.is_file() else ""
    current = str(build_schema(Settings())) + "\n"
    assert committed == current, (
        "schema.graphql is out of date with api/schema: regenerate it with "
        "`.venv/bin/python -m api.schema > schema.graphql` and review the diff (CONTRACT §4 names are fixed)"
    )


def test_contract_names_are_all_there() -> None:
    sdl = str(build_schema(Settings()))
    for needle in [
        "enum RegionLevel",
        "enum PartnerTier",
        "enum AgreementStatus",
        "enum MatterScope",
        "enum HandlingMode",
        "enum HallLevel",
        "type Region",
        "type Agreement",
        "type Matter",
        "type Guide",
        "type GuideMaterial",
        "type Hall",
        "type Coverage",
        "type HallOption",
        "type MatterHit",
        "type RegionConnection",
        "type AgreementConnection",
        "type MatterConnection",
        "type HallConnection",
        "region(code: String!): Region",
        "regions(parentCode: String, level: RegionLevel, nameContains: String, first: Int, after: String): RegionConnection!",
        "agreement(id: ID!): Agreement",
        "agreements(partnerCode: String, localCode: String, status: AgreementStatus, first: Int, after: String): AgreementConnection!",
        "matter(code: String!): Matter",
        "matters(scope: MatterScope, first: Int, after: String): MatterConnection!",
        "hall(id: ID!): Hall",
        "halls(regionCode: String, first: Int, after: String): HallConnection!",
        "search(query: String!, homeRegionCode: String, first: Int = 10): [MatterHit!]!",
        "coverage(homeRegionCode: String!, matterCode: String, onDate: Date): Coverage!",
        "whereToHandle(homeRegionCode: String!, matterCode: String!, latitude: Float, longitude: Float, onDate: Date, first: Int): [HallOption!]!",
        "createAgreement(input: AgreementInput!): Agreement!",
        "updateAgreement(id: ID!, version: Int!, input: AgreementInput!): Agreement!",
        "upsertMatter(input: MatterInput!",
        "upsertHall(input: HallInput!",
        "setPartnerIndices(regionCode: String!, populationIndex: Float, cooperationIndex: Float): Region!",
        "totalCount: Int!",
        "hasNextPage: Boolean!",
        "endCursor: String",
        "version: Int!",
    ]:
        assert needle in sdl, needle


# ------------------------------------------------------------------------------ coverage


COVERAGE = """
query ($home: String!, $matter: String, $on: Date) {
  coverage(homeRegionCode: $home, matterCode: $matter, onDate: $on) {
    homeRegion { code fullName }
    matter { code name }
    covered kind explanation onDate
    localRegions { code name }
    agreements { key citywideShared partner { code name } localSignatory { code name } signedOn localRegions { code } }
  }
}"""

WHERE = """
query ($home: String!, $matter: String!, $lat: Float, $lon: Float, $on: Date, $first: Int) {
  whereToHandle(homeRegionCode: $home, matterCode: $matter, latitude: $lat, longitude: $lon, onDate: $on, first: $first) {
    hall { id name region { code name } latitude longitude hasCrossRegionWindow }
    county { code name }
    distanceKm modes explanation
    agreements { key }
  }
}"""


async def test_shunqing_is_covered_in_all_nine_counties_through_nanchong_and_luqiao(
    client: httpx.AsyncClient,
) -> None:
    body = await gql(client, COVERAGE, {"home": "511302", "matter": "M-008"})
    assert "errors" not in body, body
    coverage = body["data"]["coverage"]
    assert coverage["covered"] is True
    assert coverage["kind"] == "AGREEMENT"
    assert coverage["homeRegion"]["fullName"] == "四川省南充市顺庆区"
    assert [r["code"] for r in coverage["localRegions"]] == TAIZHOU_COUNTIES
    (agreement,) = coverage["agreements"]
    assert agreement["key"] == "nanchong-luqiao-2023"
    assert agreement["partner"]["code"] == "511300" and agreement["localSignatory"]["code"] == "331004"
    assert [r["code"] for r in agreement["localRegions"]] == TAIZHOU_COUNTIES
    explanation = coverage["explanation"]
    assert "南充市" in explanation and "路桥区" in explanation and "2023年5月10日" in explanation
    assert "一地签约、全市共享" in explanation
    assert coverage["onDate"] == today().isoformat()


async def test_where_to_handle_lists_halls_nearest_first_from_wenling(client: httpx.AsyncClient) -> None:
    lat, lon = NEAR_WENLING
    body = await gql(client, WHERE, {"home": "511302", "matter": "M-008", "lat": lat, "lon": lon})
    assert "errors" not in body, body
    options = body["data"]["whereToHandle"]
    distances = [o["distanceKm"] for o in options]
    assert all(d is not None for d in distances)
    assert distances == sorted(distances)
    assert options[0]["county"]["code"] == "331081"  # 温岭 is nearest
    assert distances[0] < 2
    counties = {o["county"]["code"] for o in options}
    assert set(TAIZHOU_COUNTIES) <= counties  # a hall in every county
    assert options[0]["modes"] == ["FULL_ONLINE", "REMOTE_PROXY"]
    assert all("南充市" in o["explanation"] and "路桥区" in o["explanation"] for o in options)
    assert all(o["agreements"] == [{"key": "nanchong-luqiao-2023"}] for o in options)

    nearest_three = await gql(
        client, WHERE, {"home": "511302", "matter": "M-008", "lat": lat, "lon": lon, "first": 3}
    )
    assert nearest_three["data"]["whereToHandle"] == options[:3]

    without_point = await gql(client, WHERE, {"home": "511302", "matter": "M-008"})
    assert all(o["distanceKm"] is None for o in without_point["data"]["whereToHandle"])
    assert len(without_point["data"]["whereToHandle"]) == len(options)


async def test_non_shared_agreement_reaches_only_its_county(client: httpx.AsyncClient) -> None:
    """上饶市 signed with 玉环市 without citywide sharing: only 玉环's halls."""
    body = await gql(client, COVERAGE, {"home": "361102", "matter": "M-008", "on": "2025-01-01"})
    coverage = body["data"]["coverage"]
    assert coverage["covered"] is True
    assert [r["code"] for r in coverage["localRegions"]] == ["331083"]
    assert coverage["agreements"][0]["citywideShared"] is False
    assert "上饶市" in coverage["explanation"] and "玉环市" in coverage["explanation"]

    where = await gql(
        client,
        WHERE,
        {
            "home": "361102",
            "matter": "M-008",
            "on": "2025-01-01",
            "lat": NEAR_WENLING[0],
            "lon": NEAR_WENLING[1],
        },
    )
    options = where["data"]["whereToHandle"]
    assert options and {o["county"]["code"] for o in options} == {"331083"}

    before = await gql(client, COVERAGE, {"home": "361102", "matter": "M-008", "on": "2024-03-31"})
    assert before["data"]["coverage"]["covered"] is False  # signed, but not yet in force
    assert before["data"]["coverage"]["kind"] == "NONE"
    empty = await gql(client, WHERE, {"home": "361102", "matter": "M-008", "on": "2024-03-31"})
    assert empty["data"]["whereToHandle"] == []


async def test_local_and_province_homes(client: httpx.AsyncClient) -> None:
    local = (await gql(client, COVERAGE, {"home": "331002", "matter": "S-006"}))["data"]["coverage"]
    assert local["covered"] and local["kind"] == "LOCAL"
    assert [r["code"] for r in local["localRegions"]] == TAIZHOU_COUNTIES
    hangzhou = (await gql(client, COVERAGE, {"home": "330102", "matter": "S-001"}))["data"]["coverage"]
    assert hangzhou["covered"] and hangzhou["kind"] == "PROVINCE"
    citywide = (await gql(client, COVERAGE, {"home": "330102", "matter": "S-006"}))["data"]["coverage"]
    assert not citywide["covered"] and citywide["kind"] == "SCOPE_EXCLUDED"
    any_matter = (await gql(client, COVERAGE, {"home": "511302"}))["data"]["coverage"]
    assert any_matter["covered"] and any_matter["matter"] is None


async def test_regions_agreements_and_tier(client: httpx.AsyncClient) -> None:
    query = """{
      region(code: "511300") { name fullName level isLocal tier populationIndex cooperationIndex
        parent { code level } children { code }
        agreements { key status late registeredOn localRegions { code } } }
      luqiao: region(code: "331004") { isLocal agreements { key } parent { code } }
      nothing: region(code: "999999") { code }
    }"""
    data = (await gql(client, query))["data"]
    nanchong = data["region"]
    assert nanchong["fullName"] == "四川省南充市" and nanchong["level"] == "CITY" and not nanchong["isLocal"]
    assert nanchong["tier"] == "RED" and nanchong["populationIndex"] == 80
    assert nanchong["parent"] == {"code": "510000", "level": "PROVINCE"}
    assert {"code": "511302"} in nanchong["children"]
    assert [a["key"] for a in nanchong["agreements"]] == ["nanchong-luqiao-2023"]
    assert nanchong["agreements"][0]["status"] == "ACTIVE" and nanchong["agreements"][0]["late"] is False
    assert data["luqiao"]["isLocal"] is True
    assert "nanchong-luqiao-2023" in [a["key"] for a in data["luqiao"]["agreements"]]
    assert data["nothing"] is None


async def test_exposed_status_is_the_status_today(client: httpx.AsyncClient) -> None:
    query = """{ expired: agreements(status: EXPIRED) { edges { node { key status storedStatus } } }
                 pending: agreements(status: PENDING) { edges { node { key status } } }
                 active: agreements(status: ACTIVE, first: 100) { totalCount } all: agreements { totalCount } }"""
    data = (await gql(client, query))["data"]
    expired = [e["node"] for e in data["expired"]["edges"]]
    assert {"key": "zhoukou-wenling-2022", "status": "EXPIRED", "storedStatus": "ACTIVE"} in expired
    assert {"key": "zunyi-tiantai-2026", "status": "PENDING"} in [e["node"] for e in data["pending"]["edges"]]
    assert data["active"]["totalCount"] < data["all"]["totalCount"]


async def test_connections_page_in_sql_with_opaque_cursors(client: httpx.AsyncClient) -> None:
    query = """query ($after: String) { matters(first: 10, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { cursor node { code } } } }"""
    seen: list[str] = []
    after = None
    total = None
    for _ in range(20):
        page = (await gql(client, query, {"after": after}))["data"]["matters"]
        total = page["totalCount"]
        seen += [e["node"]["code"] for e in page["edges"]]
        assert page["edges"][-1]["cursor"] == page["pageInfo"]["endCursor"]
        assert "M-" not in page["pageInfo"]["endCursor"]  # opaque
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == total

    halls = await gql(
        client, '{ halls(regionCode: "331081") { totalCount edges { node { name region { code } } } } }'
    )
    names = [e["node"]["name"] for e in halls["data"]["halls"]["edges"]]
    assert halls["data"]["halls"]["totalCount"] == len(names) == 2  # the county centre and a town centre
    regions = await gql(
        client,
        '{ regions(parentCode: "331000", level: COUNTY, first: 100) { totalCount edges { node { code } } } }',
    )
    assert [e["node"]["code"] for e in regions["data"]["regions"]["edges"]] == TAIZHOU_COUNTIES
    named = await gql(client, '{ regions(nameContains: "顺庆") { edges { node { code fullName } } } }')
    assert {"code": "511302", "fullName": "四川省南充市顺庆区"} in [
        e["node"] for e in named["data"]["regions"]["edges"]
    ]
    guide = await gql(
        client,
        '{ matter(code: "M-008") { name scope modes aliases guide { version materials { name required } timeLimitDays fee } } }',
    )
    assert guide["data"]["matter"]["guide"]["timeLimitDays"] == 10


# ------------------------------------------------------------------------------ coded errors


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ('{ coverage(homeRegionCode: "999999", matterCode: "M-008") { covered } }', "UNKNOWN_REGION"),
        ('{ coverage(homeRegionCode: "511302", matterCode: "NO-SUCH") { covered } }', "NOT_FOUND"),
        ('{ coverage(homeRegionCode: "511302", onDate: "2023-13-45") { covered } }', "BAD_INPUT"),
        ('{ coverage(homeRegionCode: "511302", onDate: "yesterday") { covered } }', "BAD_INPUT"),
        (
            '{ whereToHandle(homeRegionCode: "511302", matterCode: "M-008", latitude: 28.3) { distanceKm } }',
            "BAD_INPUT",
        ),
        (
            '{ whereToHandle(homeRegionCode: "511302", matterCode: "M-008", latitude: 128.3, longitude: 1) { distanceKm } }',
            "BAD_INPUT",
        ),
        (
            '{ whereToHandle(homeRegionCode: "511302", matterCode: "M-008", first: -1) { distanceKm } }',
            "BAD_INPUT",
        ),
        ('{ whereToHandle(homeRegionCode: "abc", matterCode: "M-008") { distanceKm } }', "UNKNOWN_REGION"),
        ("{ agreements(first: 1000) { totalCount } }", "BAD_INPUT"),
        ("{ agreements(first: -1) { totalCount } }", "BAD_INPUT"),
        ('{ agreements(after: "not-a-cursor") { totalCount } }', "BAD_INPUT"),
        ('{ agreements(partnerCode: "000000") { totalCount } }', "UNKNOWN_REGION"),
        (
            '{ matters(after: "WzEsImFncmVlbWVudCIsMV0=") { totalCount } }',
            "BAD_INPUT",
        ),  # another kind's cursor
        ('{ agreement(id: "abc") { id } }', "BAD_INPUT"),
        ('{ regions(parentCode: "12") { totalCount } }', "UNKNOWN_REGION"),
        ('{ search(query: "社保", first: 101) { score } }', "BAD_INPUT"),
        ('{ search(query: "社保", homeRegionCode: "1") { score } }', "UNKNOWN_REGION"),
        ("{ coverage { covered } }", "BAD_INPUT"),
        ("{ coverage(homeRegionCode: 511302) { covered } }", "BAD_INPUT"),
    ],
)
async def test_bad_arguments_are_coded_errors_never_500(
    client: httpx.AsyncClient, query: str, code: str
) -> None:
    body = await gql(client, query)
    assert codes(body) == [code], body
    assert body["errors"][0]["message"]


async def test_bad_variables_are_bad_input(client: httpx.AsyncClient) -> None:
    body = await gql(client, COVERAGE, {"home": "511302", "on": "2023-02-30"})
    assert codes(body) == ["BAD_INPUT"]
    body = await gql(client, WHERE, {"home": "511302", "matter": "M-008", "first": "many"})
    assert codes(body) == ["BAD_INPUT"]


async def test_search_ranks_covered_matters_first(client: httpx.AsyncClient) -> None:
    body = await gql(
        client,
        '{ search(query: "社保卡", homeRegionCode: "520502", first: 10) { matter { code } score highlight covered } }',
    )
    assert "errors" not in body, body
    hits = body["data"]["search"]
    assert hits, "the demo index finds 社保卡"
    flags = [h["covered"] for h in hits]
    assert flags == sorted(flags, key=lambda f: not f)  # covered first (毕节 covers only M-002/007/008)


async def test_search_without_index_is_unavailable(app: Any, client: httpx.AsyncClient) -> None:
    search = app.state.tongban.search
    app.state.tongban.search = None
    try:
        body = await gql(client, '{ search(query: "社保卡") { score } }')
    finally:
        app.state.tongban.search = search
    assert codes(body) == ["UNAVAILABLE"]


# ------------------------------------------------------------------------------ mutations


CREATE = """mutation ($input: AgreementInput!) { createAgreement(input: $input) {
  id key title version status citywideShared coversAllMatters late registeredOn
  partner { code } localSignatory { code } localRegions { code } matters { code } } }"""
UPDATE = """mutation ($id: ID!, $version: Int!, $input: AgreementInput!) {
  updateAgreement(id: $id, version: $version, input: $input) { id title version citywideShared localRegions { code } } }"""


SIGNED = (today() - dt.timedelta(days=1)).isoformat()


def agreement_input(**changes: Any) -> dict[str, Any]:
    base = {
        "key": "guangan-jiaojiang",
        "title": "广安市与椒江区跨省通办合作协议",
        "partnerCode": "511600",
        "localCode": "331002",
        "signedOn": SIGNED,
        "effectiveFrom": SIGNED,
        "citywideShared": False,
        "matterCodes": ["M-008", "M-007"],
    }
    base.update(changes)
    return base


async def test_mutations_need_a_valid_token_and_change_nothing_without_one(
    app: Any, client: httpx.AsyncClient
) -> None:
    db = state_db(app)
    before = await table_counts(db)
    for token in (None, "not-a-token"):
        body = await gql(client, CREATE, {"input": agreement_input()}, token=token)
        assert codes(body) == ["UNAUTHENTICATED"], body
        body = await gql(
            client,
            'mutation { setPartnerIndices(regionCode: "511300", populationIndex: 1) { tier } }',
            token=token,
        )
        assert codes(body) == ["UNAUTHENTICATED"]
    response = await client.post(
        "/graphql",
        json={"query": CREATE, "variables": {"input": agreement_input()}},
        headers={"Authorization": "Basic dXNlcjpwYXNz"},
    )
    assert codes(response.json()) == ["UNAUTHENTICATED"]
    assert await table_counts(db) == before


async def test_admin_creates_and_updates_an_agreement(
    app: Any, client: httpx.AsyncClient, admin_token: str
) -> None:
    db = state_db(app)
    before = await table_counts(db)
    body = await gql(client, CREATE, {"input": agreement_input()}, token=admin_token)
    assert "errors" not in body, body
    created = body["data"]["createAgreement"]
    assert created["version"] == 1 and created["status"] == "ACTIVE"
    assert created["localRegions"] == [{"code": "331002"}]  # not shared: 椒江 only
    assert [m["code"] for m in created["matters"]] == ["M-007", "M-008"]
    assert created["coversAllMatters"] is False
    assert created["registeredOn"] == today().isoformat() and created["late"] is False
    after = await table_counts(db)
    assert after["agreements"] == before["agreements"] + 1
    assert after["change_log"] == before["change_log"] + 1
    assert after["index_outbox"] == before["index_outbox"] + 1

    # The catalog follows the outbox: 广安市 is now covered, in 椒江 only.
    coverage = (await gql(client, COVERAGE, {"home": "511602", "matter": "M-008"}))["data"]["coverage"]
    assert coverage["covered"] and [r["code"] for r in coverage["localRegions"]] == ["331002"]

    body = await gql(
        client,
        UPDATE,
        {"id": created["id"], "version": 1, "input": agreement_input(citywideShared=True)},
        token=admin_token,
    )
    assert "errors" not in body, body
    updated = body["data"]["updateAgreement"]
    assert updated["version"] == 2 and updated["citywideShared"] is True
    assert [r["code"] for r in updated["localRegions"]] == TAIZHOU_COUNTIES
    coverage = (await gql(client, COVERAGE, {"home": "511602", "matter": "M-008"}))["data"]["coverage"]
    assert [r["code"] for r in coverage["localRegions"]] == TAIZHOU_COUNTIES

    # A stale version: CONFLICT, and the stored agreement is untouched.
    counts = await table_counts(db)
    body = await gql(
        client,
        UPDATE,
        {"id": created["id"], "version": 1, "input": agreement_input(title="覆盖")},
        token=admin_token,
    )
    assert codes(body) == ["CONFLICT"]
    assert body["errors"][0]["extensions"]["current"]["title"] == "广安市与椒江区跨省通办合作协议"
    assert await table_counts(db) == counts
    again = (await gql(client, f'{{ agreement(id: "{created["id"]}") {{ title version }} }}'))["data"][
        "agreement"
    ]
    assert again == {"title": "广安市与椒江区跨省通办合作协议", "version": 2}

    missing = await gql(
        client, UPDATE, {"id": "999999", "version": 1, "input": agreement_input(key=None)}, token=admin_token
    )
    assert codes(missing) == ["NOT_FOUND"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"expiresOn": "2020-01-01"}, "expiresOn"),
        ({"partnerCode": "331004"}, "partnerCode"),  # a partner inside the home city
        ({"localCode": "511300"}, "localCode"),  # a local signatory outside it
        ({"partnerCode": "999999"}, "partnerCode"),
        ({"matterCodes": ["M-008", "NO-SUCH"]}, "matterCodes"),
        ({"registeredOn": "2020-01-01"}, "registeredOn"),
    ],
)
async def test_bad_agreement_input_is_bad_input_and_changes_nothing(
    app: Any, client: httpx.AsyncClient, admin_token: str, changes: dict[str, Any], field: str
) -> None:
    db = state_db(app)
    before = await table_counts(db)
    body = await gql(client, CREATE, {"input": agreement_input(**changes)}, token=admin_token)
    assert codes(body) == ["BAD_INPUT"], body
    assert field in [f["field"] for f in body["errors"][0]["extensions"]["fields"]]
    assert await table_counts(db) == before


async def test_county_staff_may_touch_only_their_county(
    app: Any, client: httpx.AsyncClient, county_token: Any, admin_token: str
) -> None:
    db = state_db(app)
    luqiao = await county_token("331004")
    yuhuan_id = await gql(
        client, '{ agreements(partnerCode: "361100") { edges { node { id version title } } } }'
    )
    node = yuhuan_id["data"]["agreements"]["edges"][0]["node"]
    before = await table_counts(db)

    body = await gql(
        client,
        UPDATE,
        {
            "id": node["id"],
            "version": node["version"],
            "input": agreement_input(key=None, partnerCode="361100", localCode="331083"),
        },
        token=luqiao,
    )
    assert codes(body) == ["FORBIDDEN"], body
    body = await gql(client, CREATE, {"input": agreement_input()}, token=luqiao)  # 椒江's, not 路桥's
    assert codes(body) == ["FORBIDDEN"]
    body = await gql(
        client,
        'mutation { setPartnerIndices(regionCode: "511300", populationIndex: 10, cooperationIndex: 10) { tier } }',
        token=luqiao,
    )
    assert codes(body) == ["FORBIDDEN"]
    body = await gql(
        client,
        'mutation { upsertMatter(input: {code: "M-X", name: "测试", scope: CROSS_PROVINCE}) { code } }',
        token=luqiao,
    )
    assert codes(body) == ["FORBIDDEN"]
    assert await table_counts(db) == before
    unchanged = (await gql(client, f'{{ agreement(id: "{node["id"]}") {{ title version }} }}'))["data"][
        "agreement"
    ]
    assert unchanged == {"title": node["title"], "version": node["version"]}

    signed_long_ago = (today() - dt.timedelta(days=10)).isoformat()
    own = await gql(
        client,
        CREATE,
        {
            "input": agreement_input(
                key="guangan-luqiao", localCode="331004", signedOn=signed_long_ago, effectiveFrom=None
            )
        },
        token=luqiao,
    )
    assert "errors" not in own, own
    assert own["data"]["createAgreement"]["localSignatory"] == {"code": "331004"}
    assert own["data"]["createAgreement"]["late"] is True  # entered 10 days after signing (3-day rule)


async def test_upsert_matter_hall_and_partner_indices(
    app: Any, client: httpx.AsyncClient, admin_token: str
) -> None:
    matter = await gql(
        client,
        """mutation { upsertMatter(input: {
        code: "M-900", name: "测试跨省事项", scope: CROSS_PROVINCE, department: "测试局", modes: [FULL_ONLINE],
        keywords: ["测试"], guide: {conditions: "无", steps: ["提交", "受理"], timeLimitDays: 3,
        materials: [{name: "居民身份证", required: true, copies: 1}]} }) {
      code name version scope modes guide { version steps materials { name required copies } timeLimitDays } } }""",
        token=admin_token,
    )
    assert "errors" not in matter, matter
    assert matter["data"]["upsertMatter"]["guide"]["steps"] == ["提交", "受理"]
    assert matter["data"]["upsertMatter"]["guide"]["version"] == 1

    hall = await gql(
        client,
        """mutation { upsertHall(input: {
        key: "test-wenling-hall", name: "温岭测试大厅", regionCode: "331081", level: COUNTY,
        latitude: 28.37, longitude: 121.38, hasCrossRegionWindow: false, matterCodes: ["M-900"],
        windowServices: [CONSULT] }) { id name version region { code } matters { code } windowServices } }""",
        token=admin_token,
    )
    assert "errors" not in hall, hall
    created = hall["data"]["upsertHall"]
    assert created["matters"] == [{"code": "M-900"}] and created["windowServices"] == ["CONSULT"]

    where = await gql(client, WHERE, {"home": "511302", "matter": "M-900", "lat": 28.37, "lon": 121.38})
    assert where["data"]["whereToHandle"][0]["hall"]["name"] == "温岭测试大厅"
    assert where["data"]["whereToHandle"][0]["distanceKm"] == 0

    stale = await gql(
        client,
        """mutation ($id: ID) { upsertHall(id: $id, version: 7, input: {
        name: "改名", regionCode: "331081", level: COUNTY}) { name } }""",
        {"id": created["id"]},
        token=admin_token,
    )
    assert codes(stale) == ["CONFLICT"]

    indices = await gql(
        client,
        """mutation { setPartnerIndices(regionCode: "511300", populationIndex: 30, cooperationIndex: 90) {
        code tier populationIndex cooperationIndex } }""",
        token=admin_token,
    )
    assert indices["data"]["setPartnerIndices"] == {
        "code": "511300",
        "tier": "BLUE",
        "populationIndex": 30.0,
        "cooperationIndex": 90.0,
    }
    bad = await gql(
        client,
        'mutation { setPartnerIndices(regionCode: "511300", populationIndex: 130) { tier } }',
        token=admin_token,
    )
    assert codes(bad) == ["BAD_INPUT"]
    unknown = await gql(
        client,
        'mutation { setPartnerIndices(regionCode: "000001", populationIndex: 30) { tier } }',
        token=admin_token,
    )
    assert codes(unknown) == ["UNKNOWN_REGION"]
    tier = (await gql(client, '{ region(code: "511300") { tier } }'))["data"]["region"]["tier"]
    assert tier == "BLUE"


# ------------------------------------------------------------------------------ statement count


NESTED = """query ($first: Int!) { agreements(partnerCode: "511600", first: $first) { edges { node {
  partner { parent { name } } matters { guide { steps } } localRegions { name } } } } }"""


@pytest.fixture
async def hundred_agreements(app: Any) -> AsyncIterator[None]:
    """100 agreements of 广安市, each listing three matters with guides (inserted directly: fast)."""
    db = state_db(app)
    async with db.write() as session:
        matter_ids = list(
            (
                await session.execute(
                    select(Matter.id).join(Guide, Guide.matter_id == Matter.id).order_by(Matter.code).limit(3)
                )
            ).scalars()
        )
        assert len(matter_ids) == 3
        rows = [
            {
                "key": f"bulk-{n:03d}",
                "title": f"批量协议 {n}",
                "partner_code": "511600",
                "local_code": TAIZHOU_COUNTIES[n % 9],
                "signed_on": dt.date(2024, 1, 1) + dt.timedelta(days=n),
                "effective_from": dt.date(2024, 1, 1) + dt.timedelta(days=n),
                "status": AgreementStatus.ACTIVE,
                "citywide_shared": n % 2 == 0,
                "covers_all_matters": False,
                "version": 1,
            }
            for n in range(100)
        ]
        ids = list((await session.execute(insert(Agreement).returning(Agreement.id), rows)).scalars())
        await session.execute(
            insert(agreement_matters), [{"agreement_id": a, "matter_id": m} for a in ids for m in matter_ids]
        )
        session.add(OutboxEvent(entity="agreement", entity_key="bulk", op="upsert"))
    yield


_COUNTING: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("counting", default=None)


@contextlib.contextmanager
def statements_of_this_request(app: Any) -> Iterator[None]:
    """Record the statements run on behalf of the current task and the tasks it spawns.

    A context variable, not a global flag: the search index follower polls the outbox on the same
    engine in its own task, and its statements must not count. The DataLoaders' batch tasks inherit
    the variable, and SQLAlchemy runs the sync event in a greenlet that shares the caller's context.
    """
    engine = state_db(app).engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sink = _COUNTING.get()
        if sink is not None:
            sink.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def counted(
    app: Any, client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[str]]:
    sink: list[str] = []
    token = _COUNTING.set(sink)
    try:
        body = await gql(client, query, variables)
    finally:
        _COUNTING.reset(token)
    return body, sink


def selects(statements: list[str]) -> list[str]:
    """The SELECTs a query costs. The catalog's outbox-mark check (on PostgreSQL the order-lock
    try plus the max id, api/services/changes.settled_mark) is left out: it runs at most every half
    second per process, whatever the query (api/services/catalog.py), so whether it falls inside a
    measured request is a matter of timing."""
    return [s for s in statements if s.lstrip().upper().startswith("SELECT") and not _mark_check(s)]


def _mark_check(statement: str) -> bool:
    return "index_outbox" in statement or "pg_try_advisory_xact_lock" in statement


def without_mark(statements: list[str]) -> list[str]:
    return [s for s in statements if not _mark_check(s) and s.strip().upper() != "BEGIN"]


async def test_nested_query_costs_a_constant_number_of_statements(
    app: Any, client: httpx.AsyncClient, hundred_agreements: None, backend: str
) -> None:
    await gql(client, NESTED, {"first": 1})  # warm the catalog snapshot
    measured: dict[int, list[str]] = {}
    with statements_of_this_request(app):
        for first in (10, 100):
            body, statements = await counted(app, client, NESTED, {"first": first})
            edges = body["data"]["agreements"]["edges"]
            assert len(edges) == first
            assert all(
                len(e["node"]["matters"]) == 3 and e["node"]["partner"]["parent"]["name"] == "四川省"
                for e in edges
            )
            assert all(e["node"]["matters"][0]["guide"] is not None for e in edges)
            measured[first] = statements
    print(
        f"\n[{backend}] SQL statements for 10 agreements: {len(measured[10])}, for 100: {len(measured[100])}"
    )
    print(
        f"[{backend}] SELECTs for 100 agreements: {len(selects(measured[100]))} (page, agreement matters, guides)"
    )
    assert len(without_mark(measured[10])) == len(without_mark(measured[100]))
    assert len(selects(measured[100])) == 3


async def test_region_agreements_nested_is_constant_too(
    app: Any, client: httpx.AsyncClient, hundred_agreements: None
) -> None:
    query = """query ($first: Int!) { agreements(partnerCode: "511600", first: $first) { edges { node {
        localSignatory { agreements { matters { name guide { fee } } } } } } } }"""
    await gql(client, '{ region(code: "331000") { code } }')
    with statements_of_this_request(app):
        small = selects((await counted(app, client, query, {"first": 5}))[1])
        body, statements = await counted(app, client, query, {"first": 100})
    assert "errors" not in body
    assert len(selects(statements)) == len(small) == 4  # page, agreements by region, their matters, guides


async def test_upsert_matter_with_a_stale_version_is_a_conflict(client, admin_token) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {admin_token}"}
    query = """mutation($v: Int) { upsertMatter(version: $v, input: {code: "M-V1", name: "版本测试事项", department: "测试",
               scope: CROSS_PROVINCE, modes: [], keywords: []}) { code version } }"""
    created = (
        await client.post("/graphql", json={"query": query, "variables": {"v": None}}, headers=headers)
    ).json()
    assert created["data"]["upsertMatter"]["version"] == 1
    renamed = query.replace("版本测试事项", "版本测试事项(改)")
    first = (
        await client.post("/graphql", json={"query": renamed, "variables": {"v": 1}}, headers=headers)
    ).json()
    assert first["data"]["upsertMatter"]["version"] == 2
    stale = query.replace("版本测试事项", "版本测试事项(旧)")
    second = (
        await client.post("/graphql", json={"query": stale, "variables": {"v": 1}}, headers=headers)
    ).json()
    assert second["errors"][0]["extensions"]["code"] == "CONFLICT"
    check = (
        await client.post("/graphql", json={"query": '{ matter(code: "M-V1") { name version } }'})
    ).json()
    assert check["data"]["matter"] == {"name": "版本测试事项(改)", "version": 2}
