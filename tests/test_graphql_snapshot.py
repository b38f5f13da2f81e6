"""coverage and whereToHandle are answered from the catalog snapshot (issue 8, performance).

What it shows: both answers cost no SQL statement once the snapshot is loaded (the outbox-mark check
aside), yet a hall changed by a mutation shows at once; requests that find the mark check due share
one query; the superset of halls the catalog hands to §5.7 changes no answer; and the short path
through graphql-core for plain leaf fields gives exactly graphql-core's answers and errors.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
from typing import Any

import httpx
import pytest
import strawberry
from sqlalchemy import event
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api import rules
from api.db import Database
from api.schema.execution import execution_context_for, leaf_fields
from api.services.catalog import CatalogCache
from tests.test_graphql_api import NEAR_WENLING, WHERE, counted, gql, selects, statements_of_this_request

TAIZHOU = "331000"
DAY = dt.date(2025, 6, 1)

COVERAGE_DETAILS = """
query ($home: String!, $matter: String) {
  coverage(homeRegionCode: $home, matterCode: $matter) {
    covered explanation homeRegion { code fullName } matter { code name scope modes }
    agreements { id title signedOn effectiveFrom expiresOn status late sample partner { code name } }
    localRegions { code name }
  }
}"""


async def test_coverage_and_where_to_handle_need_no_statements(app: Any, client: httpx.AsyncClient) -> None:
    lat, lon = NEAR_WENLING
    await gql(client, WHERE, {"home": "511302", "matter": "M-008"})  # warm the snapshot
    with statements_of_this_request(app):
        where, where_statements = await counted(
            app, client, WHERE, {"home": "511302", "matter": "M-008", "lat": lat, "lon": lon}
        )
        cover, cover_statements = await counted(
            app, client, COVERAGE_DETAILS, {"home": "511302", "matter": "M-008"}
        )
    assert "errors" not in where and "errors" not in cover, (where, cover)
    assert where["data"]["whereToHandle"] and cover["data"]["coverage"]["agreements"]
    assert cover["data"]["coverage"]["matter"]["code"] == "M-008"
    assert selects(where_statements) == [] and selects(cover_statements) == []


async def test_a_changed_hall_shows_at_once(client: httpx.AsyncClient, admin_token: str) -> None:
    lat, lon = NEAR_WENLING
    before = (await gql(client, WHERE, {"home": "511302", "matter": "M-008", "lat": lat, "lon": lon}))["data"]
    nearest = before["whereToHandle"][0]["hall"]
    found = await gql(
        client,
        "query ($id: ID!) { hall(id: $id) { key name level version region { code } } }",
        {"id": nearest["id"]},
    )
    hall = found["data"]["hall"]
    changed = await gql(
        client,
        """mutation ($id: ID!, $version: Int!, $input: HallInput!) {
             upsertHall(id: $id, version: $version, input: $input) { version } }""",
        {
            "id": nearest["id"],
            "version": hall["version"],
            "input": {
                "key": hall["key"],
                "name": hall["name"] + "(新址)",
                "regionCode": hall["region"]["code"],
                "level": hall["level"],
                "latitude": nearest["latitude"],
                "longitude": nearest["longitude"],
                "hasCrossRegionWindow": nearest["hasCrossRegionWindow"],
                "phone": "0576-00000000",
            },
        },
        token=admin_token,
    )
    assert "errors" not in changed, changed
    query = WHERE.replace("hall { id name", "hall { id phone name")
    after = (await gql(client, query, {"home": "511302", "matter": "M-008", "lat": lat, "lon": lon}))["data"]
    first = after["whereToHandle"][0]["hall"]
    assert first["id"] == nearest["id"]
    assert first["name"] == hall["name"] + "(新址)" and first["phone"] == "0576-00000000"


async def test_requests_that_find_the_check_due_share_one_mark_query(demo_db: Database) -> None:
    cache = CatalogCache(demo_db, TAIZHOU)
    first = await cache.get()
    marks: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "index_outbox" in statement:
            marks.append(statement)

    engine = demo_db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        cache._checked_at = -1e9  # the recheck interval has passed
        results = await asyncio.gather(*(cache.get() for _ in range(20)))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert all(result is first for result in results)
    assert len(marks) == 1
    assert cache.loads == 1


async def test_a_local_write_is_never_hidden_by_a_shared_check(demo_db: Database) -> None:
    cache = CatalogCache(demo_db, TAIZHOU)
    first = await cache.get()
    cache._checked_at = -1e9
    early = asyncio.ensure_future(cache.get())  # a mark check in flight …
    await asyncio.sleep(0)
    async with demo_db.write() as session:  # … while this process commits a change
        from api.models import OutboxEvent

        session.add(OutboxEvent(entity="agreement", entity_key="test", op="upsert"))
    later = await cache.get()
    await early
    assert later is not first and later.mark > first.mark


async def test_the_catalog_hands_section_5_7_a_superset_of_halls(demo_db: Database) -> None:
    catalog = await CatalogCache(demo_db, TAIZHOU).get()
    partners = sorted({a.partner_code for a in catalog.agreements})
    homes = [
        code for code in ["511302", "361102", "331004", "330102", "110101", *partners] if code in catalog.tree
    ]
    compared = 0
    for code in catalog.matters:
        for home in homes:
            coverage = catalog.coverage(home, code, DAY)
            for point in ((None, None), NEAR_WENLING):
                expected = rules.hall_options(
                    catalog.tree, TAIZHOU, coverage, catalog.matter(code), catalog.halls, *point
                )
                assert catalog.where_to_handle(home, code, *point, DAY) == expected
                compared += len(expected)
    assert compared > 0


# ------------------------------------------------------------------------------ the short path


@strawberry.enum
class Level(enum.Enum):
    HIGH = "HIGH"


@strawberry.type
class Item:
    name: str
    note: str | None
    count: int
    level: Level

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


@strawberry.type
class ItemQuery:
    @strawberry.field
    def items(self) -> list[Item | None]:
        # fine; None in a non-null field; a value Int cannot represent; not an enum member; an exception
        return [
            Item(name="a", note=None, count=1, level=Level.HIGH),
            Item(name=None, note="x", count=2, level=Level.HIGH),  # type: ignore[arg-type]
            Item(name="c", note="y", count="three", level=Level.HIGH),  # type: ignore[arg-type]
            Item(name="d", note="z", count=4, level="LOW"),  # type: ignore[arg-type]
            Item(name="e", note=ValueError("boom"), count=5, level=Level.HIGH),  # type: ignore[arg-type]
        ]


def _schema() -> strawberry.Schema:
    return strawberry.Schema(ItemQuery)


def test_the_short_path_answers_exactly_like_graphql_core() -> None:
    schema = _schema()
    assert set(leaf_fields(schema._schema)["Item"]) == {"name", "note", "count", "level"}
    query = "{ items { name note alias: count level shout } }"
    plain = schema.execute_sync(query)
    schema.execution_context_class = execution_context_for(schema._schema)
    fast = schema.execute_sync(query)
    assert (
        plain.errors and len(plain.errors) >= 3
    )  # None in a non-null field, a bad Int, a bad enum, an exception
    assert fast.data == plain.data
    assert [(e.message, e.path) for e in fast.errors or []] == [(e.message, e.path) for e in plain.errors]


@pytest.mark.parametrize("query", ["{ items { name } }", "{ items { ... on Item { note count } } }"])
def test_the_short_path_keeps_fragments_and_order(query: str) -> None:
    schema = _schema()
    plain = schema.execute_sync(query)
    schema.execution_context_class = execution_context_for(schema._schema)
    assert schema.execution_context_class is not StrawberryGraphQLCoreExecutionContext
    fast = schema.execute_sync(query)
    assert fast.data == plain.data
    assert [(e.message, e.path) for e in fast.errors or []] == [
        (e.message, e.path) for e in plain.errors or []
    ]


# ------------------------------------------------------------------------------ nested plain fields


@strawberry.type
class Owner:
    name: str
    tags: list[str]


@strawberry.type
class Box:
    label: str
    owner: Owner
    spare: Owner | None
    levels: list[Level]
    owners: list[Owner]
    maybe: list[Owner | None] | None

    @strawberry.field
    def loud(self) -> str:
        return self.label.upper()


def _boxes() -> list[Box]:
    good = Owner(name="o", tags=["a", "b"])
    return [
        Box(
            label="fine", owner=good, spare=None, levels=[Level.HIGH], owners=[good, good], maybe=[None, good]
        ),
        # a None owner (non-null): the error is at the box's owner, not the whole list
        Box(label="no owner", owner=None, spare=good, levels=[], owners=[], maybe=None),  # type: ignore[arg-type]
        # a bad enum inside a list, an exception as a tag, a None inside a non-null list
        Box(label="bad level", owner=good, spare=None, levels=["LOW"], owners=[good], maybe=[]),  # type: ignore[list-item]
        Box(
            label="boom",
            owner=Owner(name="x", tags=[ValueError("boom")]),
            spare=None,  # type: ignore[list-item]
            levels=[Level.HIGH],
            owners=[None],
            maybe=None,
        ),  # type: ignore[list-item]
        Box(label="tuple", owner=good, spare=good, levels=(Level.HIGH,), owners=(good,), maybe=None),  # type: ignore[arg-type]
    ]


@strawberry.type
class BoxQuery:
    @strawberry.field
    def boxes(self) -> list[Box | None]:  # a bad box nulls itself only: every error is seen
        return _boxes()

    @strawberry.field
    def first(self) -> Box:
        return _boxes()[0]

    @strawberry.field
    async def later(self) -> list[Box | None]:  # async resolvers: their answers are completed the same
        return _boxes()

    @strawberry.field
    async def fine_later(self) -> list[Box]:
        return [_boxes()[0], _boxes()[-1]]

    @strawberry.field
    async def broken_later(self) -> list[Box] | None:
        raise ValueError("the resolver failed")


NESTED_QUERIES = [
    "{ boxes { label owner { name tags } spare { name } levels owners { name } maybe { tags } } }",
    "{ boxes { __typename label who: owner { __typename n: name t: tags } ... on Box { owners { tags name } } } }",
    "query ($no: Boolean!) { boxes { owner { name tags @skip(if: $no) } spare @include(if: $no) { name } } }",
    "{ boxes { ...B } } fragment B on Box { loud owner { ...O } maybe { ...O } } fragment O on Owner { name }",
    "{ first { owner { name } owner { tags } levels } }",
    "{ later { label owner { name tags } spare { name } levels owners { name } maybe { tags } } }",
    "{ fineLater { label owner { name } owners { tags } } brokenLater { label } }",
    "{ fineLater { loud owner { name } } later { ...B } } fragment B on Box { owner { name } }",
]


@pytest.mark.parametrize("query", NESTED_QUERIES)
def test_the_short_path_answers_nested_plain_fields_exactly_like_graphql_core(query: str) -> None:
    """Objects and lists of plain fields are completed in one go, with graphql-core's data and errors
    (paths included) whenever anything in them is out of the ordinary."""
    schema = strawberry.Schema(BoxQuery)
    plain = asyncio.run(schema.execute(query, variable_values={"no": True}))
    schema.execution_context_class = execution_context_for(schema._schema)
    fast = asyncio.run(schema.execute(query, variable_values={"no": True}))
    assert fast.data == plain.data
    assert [(e.message, e.path) for e in fast.errors or []] == [
        (e.message, e.path) for e in plain.errors or []
    ]
    if query in (NESTED_QUERIES[0], NESTED_QUERIES[5]):
        assert plain.errors and len(plain.errors) == 3  # each bad box makes its error
    if query == NESTED_QUERIES[6]:
        assert plain.errors and plain.errors[0].path == ["brokenLater"] and plain.data["fineLater"]


def test_the_short_path_completes_a_plain_subtree_in_one_go(monkeypatch: pytest.MonkeyPatch) -> None:
    """Below `first` (a resolver) every field is plain: graphql-core's execute_field runs for `first` alone."""
    calls: list[str] = []
    standard = StrawberryGraphQLCoreExecutionContext.execute_field

    def counting(self: Any, parent_type: Any, source: Any, details: Any, *rest: Any) -> Any:
        calls.append(details[0].node.name.value)
        return standard(self, parent_type, source, details, *rest)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_field", counting)
    schema = strawberry.Schema(BoxQuery)
    query = "{ first { label owner { name tags } owners { name } maybe { tags } levels } }"
    plain = schema.execute_sync(query)
    assert len(calls) > 8
    calls.clear()
    schema.execution_context_class = execution_context_for(schema._schema)
    fast = schema.execute_sync(query)
    assert calls == ["first"] and fast.data == plain.data and not fast.errors
