"""What partner regions integrate with (CONTRACT §7): the changes feed, the liaison directory and
webhook registration, over GraphQL, with the same permission rules as the staff pages."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.models import OutboxEvent
from api.settings import Settings
from tests.conftest import make_token
from tests.test_graphql_api import codes, gql, state_db

CHANGES = """query($after: String, $first: Int) {
  changes(after: $after, first: $first) {
    totalCount edges { cursor node { seq entity key action at } } pageInfo { hasNextPage endCursor } } }"""

UPSERT_CONTACT = """mutation($input: ContactInput!) {
  upsertContact(input: $input) { key name regionCode organisation role phone liaisonGroup updatedAt } }"""


async def all_changes(
    client: httpx.AsyncClient, token: str | None = None, first: int = 7, after: str | None = None
):
    """Page through `changes` to the end; returns the nodes and the last cursor."""
    nodes: list[dict[str, Any]] = []
    while True:
        body = await gql(client, CHANGES, {"after": after, "first": first}, token)
        assert "errors" not in body, body
        page = body["data"]["changes"]
        nodes += [edge["node"] for edge in page["edges"]]
        after = page["pageInfo"]["endCursor"] or after
        if not page["pageInfo"]["hasNextPage"]:
            return nodes, after


async def partner_token(settings: Settings, region: str, name: str | None = None) -> str:
    return await make_token(settings, name or f"partner-{region}", "partner", region)


async def test_changes_follow_the_outbox_and_resume(
    client: httpx.AsyncClient, app: Any, admin_token: str
) -> None:
    async with state_db(app).read() as session:
        outbox = list((await session.execute(select(OutboxEvent).order_by(OutboxEvent.id))).scalars())
    public = [
        e for e in outbox if e.entity in {"agreement", "hall", "matter", "region", "relation", "setting"}
    ]
    nodes, cursor = await all_changes(client)
    assert [n["seq"] for n in nodes] == [e.id for e in public]
    assert (await gql(client, CHANGES, {"first": 0}))["data"]["changes"]["totalCount"] == len(public)
    assert [(n["entity"], n["key"]) for n in nodes] == [(e.entity, e.entity_key) for e in public]
    assert {n["entity"] for n in nodes} >= {"agreement", "hall", "matter"}
    assert "contact" not in {n["entity"] for n in nodes}  # contacts only for signed-in tokens
    first_seen: set[tuple[str, str]] = set()
    for node in nodes:  # the first change of a record is its creation
        ident = (node["entity"], node["key"])
        assert node["action"] == ("update" if ident in first_seen else "create")
        first_seen.add(ident)

    # nothing new: an empty page that keeps the cursor
    body = await gql(client, CHANGES, {"after": cursor})
    assert (
        body["data"]["changes"]["edges"] == [] and body["data"]["changes"]["pageInfo"]["hasNextPage"] is False
    )

    # a change made now is the next one after the stored cursor, as an update of that hall
    hall = (await gql(client, "{ halls(first: 1) { edges { node { id key name version } } } }"))["data"][
        "halls"
    ]["edges"][0]["node"]
    changed = await gql(
        client,
        "mutation($id: ID!, $v: Int!, $input: HallInput!) { upsertHall(id: $id, version: $v, input: $input) { id } }",
        {
            "id": hall["id"],
            "v": hall["version"],
            "input": {
                "key": hall["key"],
                "name": hall["name"] + "(新址)",
                "regionCode": "331004",
                "level": "COUNTY",
            },
        },
        admin_token,
    )
    assert "errors" not in changed, changed
    new, _ = await all_changes(client, after=cursor)
    assert [(n["entity"], n["key"], n["action"]) for n in new] == [("hall", hall["id"], "update")]
    assert new[0]["seq"] > nodes[-1]["seq"]


async def test_changes_bad_cursor_and_first(client: httpx.AsyncClient) -> None:
    assert codes(await gql(client, CHANGES, {"after": "not-a-cursor"})) == ["BAD_INPUT"]
    assert codes(await gql(client, CHANGES, {"first": 101})) == ["BAD_INPUT"]
    assert codes(await gql(client, CHANGES, {"first": 1}, token="wrong-token")) == ["UNAUTHENTICATED"]


async def test_contacts_need_a_token_and_follow_the_page_rule(
    client: httpx.AsyncClient, settings: Settings, admin_token: str
) -> None:
    query = "query($r: String) { contacts(regionCode: $r, first: 100) { totalCount edges { node { key regionCode } } } }"
    assert codes(await gql(client, query)) == ["UNAUTHENTICATED"]
    everyone = (await gql(client, query, token=admin_token))["data"]["contacts"]
    regions = {edge["node"]["regionCode"] for edge in everyone["edges"]}
    assert {"331004", "511300", "341600"} <= regions
    nanchong = await partner_token(settings, "511300")
    seen = {
        e["node"]["regionCode"]
        for e in (await gql(client, query, token=nanchong))["data"]["contacts"]["edges"]
    }
    assert "511300" in seen and "331004" in seen and "341600" not in seen  # 亳州's liaison is not theirs
    only = (await gql(client, query, {"r": "511300"}, nanchong))["data"]["contacts"]
    assert {e["node"]["regionCode"] for e in only["edges"]} == {"511300"} and only["totalCount"] == 1
    # signed-in tokens see contact changes too, a partner only those it may read
    nodes, _ = await all_changes(client, nanchong, first=100)
    keys = {n["key"] for n in nodes if n["entity"] == "contact"}
    assert "liaison-511300" in keys and "liaison-331004" in keys and "liaison-341600" not in keys
    total = (await gql(client, CHANGES, {"first": 1}, nanchong))["data"]["changes"]["totalCount"]
    assert total == len(nodes)  # counts only what this partner may see
    admin_nodes, _ = await all_changes(client, admin_token, first=100)
    assert (await gql(client, CHANGES, {"first": 1}, admin_token))["data"]["changes"]["totalCount"] == len(
        admin_nodes
    )
    assert "liaison-341600" in {n["key"] for n in admin_nodes if n["entity"] == "contact"}


@pytest.mark.parametrize(
    ("role", "own", "target", "allowed"),
    [
        ("partner", "511300", "511300", True),  # its own region
        ("partner", "511300", "511302", True),  # inside it (顺庆区)
        ("partner", "511302", "511300", False),  # not above it
        ("partner", "511300", "341600", False),  # another partner region
        ("partner", "511300", "331004", False),  # a home-city county
        ("county", "331004", "331004", True),  # its own county
        ("county", "331004", "331081", False),  # another county
        ("county", "331004", "511300", True),  # a partner's liaison (the signing county records it)
    ],
)
async def test_upsert_contact_permissions(
    client: httpx.AsyncClient, settings: Settings, role: str, own: str, target: str, allowed: bool
) -> None:
    token = await make_token(settings, f"{role}-{own}-x", role, own)
    contact = {
        "key": f"t-{target}",
        "name": "测试联络人",
        "regionCode": target,
        "phone": "0576-1234567",
        "liaisonGroup": "台州市跨区域通办联络群",  # an existing group: only admins create groups
    }
    body = await gql(client, UPSERT_CONTACT, {"input": contact}, token)
    if not allowed:
        assert codes(body) == ["FORBIDDEN"]
        admin = await make_token(settings, "admin-check", "admin", "331000")
        listed = await gql(client, "{ contacts(first: 100) { edges { node { key } } } }", token=admin)
        assert f"t-{target}" not in {e["node"]["key"] for e in listed["data"]["contacts"]["edges"]}
        return
    assert "errors" not in body, body
    saved = body["data"]["upsertContact"]
    assert (
        saved["regionCode"] == target
        and saved["liaisonGroup"] == "台州市跨区域通办联络群"
        and saved["updatedAt"]
    )
    # an update through the same key keeps what it does not name, and is a change for readers
    again = await gql(
        client,
        UPSERT_CONTACT,
        {"input": {"key": f"t-{target}", "name": "测试联络人", "regionCode": target, "role": "科长"}},
        token,
    )
    assert (
        again["data"]["upsertContact"]["phone"] == "0576-1234567"
        and again["data"]["upsertContact"]["role"] == "科长"
    )
    nodes, _ = await all_changes(client, token, first=100)
    assert [n["action"] for n in nodes if n["key"] == f"t-{target}"] == ["create", "update"]


async def test_upsert_contact_bad_input_and_no_token(client: httpx.AsyncClient, settings: Settings) -> None:
    contact = {"key": "t-x", "name": "测试", "regionCode": "999999"}
    assert codes(await gql(client, UPSERT_CONTACT, {"input": contact})) == ["UNAUTHENTICATED"]
    token = await partner_token(settings, "511300")
    assert codes(await gql(client, UPSERT_CONTACT, {"input": contact}, token)) == ["BAD_INPUT"]


ATOM = "{http://www.w3.org/2005/Atom}"


async def test_atom_feeds_all_and_per_region(client: httpx.AsyncClient, app: Any) -> None:
    import xml.etree.ElementTree as ET

    response = await client.get("/feeds/changes.atom")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    entries = feed.findall(f"{ATOM}entry")
    seqs = [int(e.find(f"{ATOM}id").text.rsplit(":", 1)[1]) for e in entries]
    assert 0 < len(seqs) <= 50 and seqs == sorted(seqs, reverse=True)
    async with state_db(app).read() as session:
        newest = (
            (
                await session.execute(
                    select(OutboxEvent).where(OutboxEvent.entity != "contact").order_by(OutboxEvent.id.desc())
                )
            )
            .scalars()
            .first()
        )
    assert seqs[0] == newest.id
    assert "contact" not in response.text and "示例联络人" not in response.text

    nanchong = ET.fromstring((await client.get("/feeds/changes.atom?region=511302")).content)
    titles = [e.find(f"{ATOM}title").text for e in nanchong.findall(f"{ATOM}entry")]
    assert "南充" in nanchong.find(f"{ATOM}title").text
    assert any(t.startswith("通办协议") and "南充" in t for t in titles)
    assert not any(t.startswith("通办协议") and "亳州" in t for t in titles)  # another partner's agreement
    assert not any(t.startswith("地区") and "亳州" in t for t in titles)
    assert (await client.get("/feeds/changes.atom?region=999999")).status_code == 404


async def test_feedback_faq_and_cases_follow_the_pages_rules(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    from api.enums import Role
    from api.services.base import Actor
    from api.services.feedback import submit_feedback

    catalog = await app.state.tongban.catalog.get()
    filed = {}
    for name, role, region, raw in [
        (
            "nanchong",
            Role.PARTNER,
            "511302",
            {"description": "顺庆区群众社保卡补办材料不一致", "countyCode": "331004"},
        ),
        (
            "bozhou",
            Role.PARTNER,
            "341600",
            {"description": "亳州群众营业执照变更受理问题", "countyCode": "331081"},
        ),
    ]:
        ctx = catalog.service_context(Actor(name=name, role=role, region_code=region, via="form"))
        async with state_db(app).write() as session:
            filed[name] = (await submit_feedback(session, ctx, raw)).reference
    query = "query($s: String) { feedbackForms(status: $s) { reference status partnerCode countyCode createdAt } }"
    assert codes(await gql(client, query)) == ["UNAUTHENTICATED"]

    def refs(body: dict[str, Any]) -> set[str]:
        assert "errors" not in body, body
        return {f["reference"] for f in body["data"]["feedbackForms"]}

    nanchong = await partner_token(settings, "511300")  # the city sees its districts' forms
    assert refs(await gql(client, query, token=nanchong)) == {filed["nanchong"]}
    assert refs(await gql(client, query, {"s": "RESOLVED"}, nanchong)) == set()
    assert codes(await gql(client, query, {"s": "NOPE"}, nanchong)) == ["BAD_INPUT"]
    luqiao = await make_token(settings, "luqiao-fb", "county", "331004")
    assert filed["nanchong"] in refs(await gql(client, query, token=luqiao))
    assert filed["bozhou"] not in refs(await gql(client, query, token=luqiao))
    admin = await make_token(settings, "city-fb", "admin", "331000")
    assert {filed["nanchong"], filed["bozhou"]} <= refs(await gql(client, query, token=admin))

    # FAQ and cases: what /faq and /cases show for everyone; unpublished only for local staff
    from api.models import Case

    async with state_db(app).write() as session:
        session.add(Case(title="未发布的案例", summary="草稿", published=False))
        session.add(Case(title="已发布的案例", summary="南充群众在路桥办成", published=True))
    cases = "{ cases { title published } faqEditions { title entries { question } } }"
    public = (await gql(client, cases))["data"]
    assert "已发布的案例" in {c["title"] for c in public["cases"]} and all(
        c["published"] for c in public["cases"]
    )
    assert "未发布的案例" not in {
        c["title"] for c in (await gql(client, cases, token=nanchong))["data"]["cases"]
    }
    assert "未发布的案例" in {c["title"] for c in (await gql(client, cases, token=luqiao))["data"]["cases"]}


async def test_a_reader_never_skips_a_change_committed_late(settings: Settings) -> None:
    """Outbox ids are given at insert, commits land in any order (PostgreSQL): a reader must never
    hand out a later change while an earlier one is still uncommitted, or a client resuming after
    it would miss the earlier one forever."""
    import asyncio

    from api.db import Database
    from api.services.base import queue
    from api.services.catalog import CatalogCache
    from api.services.changes import WritesInFlight, latest_seq, read_changes

    db = Database(settings.database_url)
    try:
        catalog = await CatalogCache(db, settings.home_region).get()
        async with db.read() as session:
            mark = await latest_seq(session)

        async def read() -> list[int] | None:
            async with db.read() as session:
                try:
                    rows, _ = await read_changes(
                        session, None, catalog.tree, catalog.home_city, mark, 10, wait=0.3
                    )
                except WritesInFlight:
                    return None  # "retry shortly": also fine, nothing was skipped
            return [r.seq for r in rows]

        first_done = asyncio.Event()

        async def slow_writer() -> None:
            async with db.write() as session:
                queue(session, "matter", "M-001")
                await session.flush()  # the earlier id is taken …
                await first_done.wait()  # … and committed only after the later one

        async def quick_writer() -> None:
            async with db.write() as session:
                queue(session, "matter", "M-002")

        slow = asyncio.create_task(slow_writer())
        await asyncio.sleep(0.2)
        quick = asyncio.create_task(quick_writer())  # PostgreSQL: commits now; SQLite: waits for the lock
        await asyncio.sleep(0.3)
        seen = await read()
        assert seen in (None, []), f"handed out {seen} while an earlier change was uncommitted"
        first_done.set()
        await slow
        await quick
        seen = await read()
        assert seen is not None and len(seen) == 2 and seen == sorted(seen)
    finally:
        await db.dispose()
