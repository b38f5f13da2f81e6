"""The coverage read model: a snapshot that follows the outbox, and nothing hard-coded to 台州.

`Catalog` only plumbs data into api.rules; these tests check the plumbing (what is loaded, when it
is reloaded, how errors are coded) and that another home city (温州市 330300) gets its own counties
from the same code, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.db import Database
from api.enums import Role
from api.models import AppSetting, OutboxEvent, Region
from api.services.agreements import create_agreement
from api.services.base import SYSTEM, Actor, BadInput, NotFound, UnknownRegion
from api.services.catalog import Catalog, CatalogCache, build_service_context
from api.services.halls import upsert_hall
from api.settings import Settings, load_settings

TAIZHOU = "331000"
WENZHOU = "330300"
TAIZHOU_COUNTIES = ("331002", "331003", "331004", "331022", "331023", "331024", "331081", "331082", "331083")
DAY = dt.date(2025, 6, 1)


async def wenzhou_counties(db: Database) -> tuple[str, ...]:
    """温州's county-level children as the bundled regions list them (not a list typed into the test)."""
    async with db.read() as session:
        rows = await session.execute(
            select(Region.code)
            .where(Region.parent_code == WENZHOU, Region.level == "COUNTY")
            .order_by(Region.code)
        )
        return tuple(rows.scalars())


async def touch_outbox(db: Database, entity: str = "agreement") -> None:
    async with db.write() as session:
        session.add(OutboxEvent(entity=entity, entity_key="test", op="upsert"))


# ------------------------------------------------------------------------------ snapshot


async def test_catalog_holds_the_facts_of_the_demo_data(demo_db: Database) -> None:
    catalog = await CatalogCache(demo_db, TAIZHOU).get()
    assert catalog.local_counties == TAIZHOU_COUNTIES
    assert len(catalog.tree) > 3000
    assert catalog.is_local("331004001" if "331004001" in catalog.tree else "331004")
    assert not catalog.is_local("511300")
    nanchong = next(a for a in catalog.agreements if a.key == "nanchong-luqiao-2023")
    assert nanchong.citywide_shared and nanchong.matter_codes is None
    bijie = next(a for a in catalog.agreements if a.key == "bijie-xianju-2023")
    assert bijie.matter_codes == frozenset({"M-002", "M-007", "M-008"})
    assert catalog.local_reach(nanchong) == TAIZHOU_COUNTIES
    town_hall = next(h for h in catalog.halls if h.key == "wenling-taiping-town")
    assert "M-008" in town_hall.matter_codes and not town_hall.has_cross_region_window
    assert catalog.matter("M-008").scope == "CROSS_PROVINCE"
    assert catalog.tier("511300") == "RED"  # 80 / 75 against the default 60 / 60
    assert catalog.tier("320505") == "BLUE"  # 40 / 70
    assert catalog.tier("511302") is None  # no indices
    assert catalog.thresholds == (60.0, 60.0)
    assert catalog.agreement(nanchong.id) is nanchong


async def test_a_decision_is_the_coverage_answer_without_its_sentence(demo_db: Database) -> None:
    """`Catalog.decision` (a compact card's verdict) against `coverage` for homes of every kind, every
    published matter, asked twice: homes no agreement reaches share a decision per (where, scope)."""
    catalog = await CatalogCache(demo_db, TAIZHOU).get()
    homes = ["331004", "330100", "511302", "511300", "520500", "361100", "110105", "650100"]
    for home in homes:
        for code in catalog.matters:
            for _ in range(2):
                got = catalog.decision(home, code, DAY)
                full = catalog.coverage(home, code, DAY)
                assert (got.covered, got.kind, got.agreements, tuple(got.local_regions)) == (
                    full.covered,
                    full.kind,
                    full.agreements,
                    tuple(full.local_regions),
                ), (home, code)
    assert {kind for (_where, _scope), kind in ((k, v.kind) for k, v in catalog._plain.items())} >= {
        "LOCAL",
        "PROVINCE",
    }
    # homes agreements reach: one decision per (home, day, scope, agreement pattern), not per matter
    reached = {key[0] for key in catalog._patterns}
    assert {"511302", "511300"} <= reached
    assert len(catalog._patterns) < len(reached) * len(catalog.matters)


async def test_coverage_and_where_to_handle_call_the_rules(demo_db: Database) -> None:
    catalog = await CatalogCache(demo_db, TAIZHOU).get()
    result = catalog.coverage("511302", "M-008", DAY)
    assert result.covered and result.kind == "AGREEMENT" and result.local_regions == TAIZHOU_COUNTIES
    assert "南充市" in result.explanation and "路桥区" in result.explanation
    options = catalog.where_to_handle("511302", "M-008", 28.37, 121.38, DAY)
    assert options[0].county_code == "331081"
    distances = [o.distance_km for o in options]
    assert distances == sorted(distances)  # type: ignore[type-var]
    assert len(catalog.where_to_handle("511302", "M-008", 28.37, 121.38, DAY, first=2)) == 2
    shangrao = catalog.coverage("361102", "M-008", DAY)
    assert shangrao.local_regions == ("331083",)
    assert catalog.coverage("511302", None, DAY).covered


async def test_covered_agrees_with_coverage_for_every_home_matter_and_day(demo_db: Database) -> None:
    """A results page ranks its hits with `covered` (no sentence written) and explains the shown
    ones with `coverage`: both read one home standing per (home, day), and must never disagree,
    in whatever order they are asked, whatever the day (agreements start and expire)."""
    catalog = await CatalogCache(demo_db, TAIZHOU).get()
    partners = sorted({a.partner_code for a in catalog.agreements})
    homes = [
        *partners,
        *(c for p in partners for c in catalog.tree.children(p)[:2]),
        "331081",
        "330106",
        "110101",
    ]
    codes: list[str | None] = [*sorted(catalog.matters), None]
    days = sorted(
        {
            DAY,
            *(a.effective_from for a in catalog.agreements),
            *(a.expires_on for a in catalog.agreements if a.expires_on),
        }
    )
    kinds = set()
    for day in days[:6]:
        for home in homes:
            for code in codes:
                asked_first = catalog.covered(home, code, day)
                result = catalog.coverage(home, code, day)
                assert asked_first == result.covered == catalog.covered(home, code, day), (home, code, day)
                kinds.add(result.kind)
    assert kinds == {"LOCAL", "PROVINCE", "AGREEMENT", "NONE", "SCOPE_EXCLUDED"}  # every branch was asked


async def test_agreements_inside_a_region_are_those_signed_strictly_within_it(demo_db: Database) -> None:
    """A province's page lists the agreements its cities and counties signed (they do not cover the
    province itself, §5.3): for every region, exactly those whose partner lies strictly inside it."""
    catalog = await CatalogCache(demo_db, TAIZHOU).get()
    tree = catalog.tree
    partners = {a.partner_code for a in catalog.agreements}
    regions = {p for p in partners} | {a for p in partners for a in tree.ancestors(p)} | {"110101", "331081"}
    asked_with_some = 0
    for code in sorted(regions):
        expected = [
            a for a in catalog.agreements if a.partner_code != code and tree.contains(code, a.partner_code)
        ]
        found = catalog.agreements_inside(code)
        assert sorted(a.id for a in found) == sorted(a.id for a in expected), code
        asked_with_some += bool(found)
    assert asked_with_some >= 2  # provinces above the demo's signed cities


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c: c.coverage("999999", "M-008", DAY), UnknownRegion),
        (lambda c: c.coverage("511302", "NO-SUCH", DAY), NotFound),
        (lambda c: c.covered("999999", "M-008", DAY), UnknownRegion),
        (lambda c: c.covered("511302", "NO-SUCH", DAY), NotFound),
        (lambda c: c.where_to_handle("511302", "M-008", 28.3, None, DAY), BadInput),
        (lambda c: c.where_to_handle("511302", "M-008", 91.0, 121.0, DAY), BadInput),
        (lambda c: c.where_to_handle("511302", "M-008", None, None, DAY, first=-1), BadInput),
        (lambda c: c.where_to_handle("000000", "M-008", None, None, DAY), UnknownRegion),
        (lambda c: c.region("12345"), UnknownRegion),
        (lambda c: c.descendants("12345"), UnknownRegion),
    ],
)
async def test_catalog_errors_are_coded(demo_db: Database, call: Any, error: type[Exception]) -> None:
    catalog = await CatalogCache(demo_db, TAIZHOU).get()
    with pytest.raises(error) as raised:
        call(catalog)
    assert getattr(raised.value, "code", None) == error.code  # type: ignore[attr-defined]


async def test_cache_reloads_only_when_the_outbox_moves(demo_db: Database) -> None:
    loaded: list[int] = []
    cache = CatalogCache(demo_db, TAIZHOU, on_load=lambda: loaded.append(cache.loads))
    first = await cache.get()
    assert await cache.get() is first
    assert cache.loads == 1 and loaded == [1]  # the hook runs after each load, not on a hit

    await touch_outbox(demo_db)
    second = await cache.get()
    assert second is not first and second.mark > first.mark
    assert second.tree is first.tree  # regions are static: loaded once per cache
    assert cache.loads == 2

    cache.invalidate()
    assert await cache.get() is not second
    assert cache.loads == 3 and loaded == [1, 2, 3]


async def test_concurrent_readers_of_a_stale_cache_reload_once(demo_db: Database) -> None:
    cache = CatalogCache(demo_db, TAIZHOU)
    results = await asyncio.gather(*(cache.get() for _ in range(10)))
    assert cache.loads == 1
    assert all(result is results[0] for result in results)


async def test_thresholds_and_indices_follow_their_changes(demo_db: Database) -> None:
    cache = CatalogCache(demo_db, TAIZHOU)
    assert (await cache.get()).tier("511300") == "RED"
    async with demo_db.write() as session:
        session.add(AppSetting(key="tier_thresholds", value={"population": 80, "cooperation": 80}))
        region = await session.get(Region, "361100")
        assert region is not None
        region.population_index, region.cooperation_index = 90.0, 90.0
        session.add(OutboxEvent(entity="region", entity_key="361100", op="upsert"))
    catalog = await cache.get()
    assert catalog.thresholds == (80.0, 80.0)
    assert catalog.tier("511300") == "GREEN"  # 80 ≥ 80, 75 < 80
    assert catalog.tier("361100") == "RED"


async def test_empty_database_gives_an_empty_catalog(db: Database) -> None:
    catalog = await CatalogCache(db, TAIZHOU).get()
    assert catalog.agreements == () and catalog.halls == () and not catalog.matters
    assert catalog.local_counties == TAIZHOU_COUNTIES
    result = catalog.coverage("511302", None, DAY)
    assert not result.covered and result.kind == "NONE"
    assert catalog.coverage("331004", None, DAY).kind == "LOCAL"


async def test_build_service_context(db: Database) -> None:
    ctx = await build_service_context(db, SYSTEM, WENZHOU)
    assert ctx.home_city == WENZHOU and "330302" in ctx.local_counties
    catalog = await CatalogCache(db, TAIZHOU).get()
    assert catalog.service_context(SYSTEM, DAY).today == DAY


# ------------------------------------------------------------------------------ another home city


async def test_wenzhou_as_home_city_gets_its_own_counties(demo_db: Database) -> None:
    """The same code with TONGBAN_HOME_REGION=330300: 温州's counties are local, 台州's are not."""
    expected = await wenzhou_counties(demo_db)
    assert "330302" in expected and len(expected) >= 11
    cache = CatalogCache(demo_db, WENZHOU)
    catalog = await cache.get()
    assert catalog.local_counties == expected
    assert catalog.is_local("330302") and not catalog.is_local("331004")

    lucheng = catalog.coverage("330302", "S-006", DAY)  # a 温州 home: local, even for a citywide matter
    assert lucheng.kind == "LOCAL" and lucheng.local_regions == expected
    luqiao = catalog.coverage("331004", "S-001", DAY)  # 台州 is elsewhere in the province now
    assert luqiao.kind == "PROVINCE" and luqiao.local_regions == expected
    assert not catalog.coverage("331004", "S-006", DAY).covered  # 温州's citywide matters are not for 台州

    # 南充's agreement was signed with 路桥 (台州): it does nothing for 温州.
    assert not catalog.coverage("511302", "M-008", DAY).covered
    assert catalog.where_to_handle("511302", "M-008", 28.0, 120.6, DAY) == []

    # A shared agreement signed with 鹿城区 reaches every 温州 county; a hall there handles the matter.
    admin = Actor(name="wenzhou-admin", role=Role.ADMIN, region_code=WENZHOU, via="test")
    ctx = catalog.service_context(admin, DAY)
    async with demo_db.write() as session:
        await create_agreement(
            session,
            ctx,
            {
                "key": "nanchong-lucheng",
                "title": "南充市与鹿城区跨省通办合作协议",
                "partnerCode": "511300",
                "localCode": "330302",
                "signedOn": "2025-01-02",
                "citywideShared": True,
                "matterCodes": None,
            },
        )
        await upsert_hall(
            session,
            ctx,
            {
                "key": "lucheng-centre",
                "name": "鹿城区行政服务中心",
                "regionCode": "330302",
                "level": "COUNTY",
                "latitude": 28.0,
                "longitude": 120.65,
                "hasCrossRegionWindow": True,
            },
        )
    catalog = await cache.get()
    covered = catalog.coverage("511302", "M-008", DAY)
    assert covered.covered and covered.local_regions == expected
    assert "南充市" in covered.explanation and "鹿城区" in covered.explanation
    assert "温州市" in covered.explanation and "台州" not in covered.explanation
    options = catalog.where_to_handle("511302", "M-008", 28.0, 120.6, DAY)
    assert [o.hall.key for o in options] == ["lucheng-centre"]

    # 台州's own instance on the same database is unaffected by 温州's agreement.
    taizhou = await CatalogCache(demo_db, TAIZHOU).get()
    assert taizhou.coverage("511302", "M-008", DAY).local_regions == TAIZHOU_COUNTIES
    assert isinstance(taizhou, Catalog)


async def test_graphql_with_tongban_home_region_wenzhou(settings: Settings, tmp_path: Path) -> None:
    """TONGBAN_HOME_REGION=330300 through the environment, asked over HTTP."""
    from api.app import create_app

    wenzhou_settings = load_settings(
        environ={
            "TONGBAN_DATABASE_URL": settings.database_url,
            "TONGBAN_INDEX_DIR": str(tmp_path / "wenzhou-index"),
            "TONGBAN_HOME_REGION": WENZHOU,
            "TONGBAN_SECRET_KEY": "test-secret",
        },
        cwd=tmp_path,
    )
    assert wenzhou_settings.home_region == WENZHOU
    app = create_app(wenzhou_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            query = """{ coverage(homeRegionCode: "330302", onDate: "2025-06-01") { covered kind localRegions { code } }
                         lucheng: region(code: "330302") { isLocal }
                         luqiao: region(code: "331004") { isLocal }
                         nanchong: coverage(homeRegionCode: "511302", matterCode: "M-008") { covered } }"""
            response = await client.post("/graphql", json={"query": query})
    data = response.json()["data"]
    database = Database(settings.database_url)
    try:
        expected = list(await wenzhou_counties(database))
    finally:
        await database.dispose()
    assert data["coverage"]["kind"] == "LOCAL"
    assert [r["code"] for r in data["coverage"]["localRegions"]] == expected
    assert data["lucheng"]["isLocal"] is True and data["luqiao"]["isLocal"] is False
    assert data["nanchong"]["covered"] is False


async def test_cache_never_marks_past_a_change_committed_late(demo_db: Database) -> None:
    """PostgreSQL gives outbox ids at insert and commits land in any order. A snapshot marked with
    a later id while an earlier one was uncommitted would never reload for the earlier change (nor
    would the pages' ETags change): the cache keeps its snapshot until the outbox has settled."""
    from sqlalchemy import update

    from api.models import Matter
    from api.services.base import queue

    cache = CatalogCache(demo_db, TAIZHOU, recheck_seconds=0)
    await cache.get()
    async with demo_db.read() as session:
        slow_code, quick_code = (
            (
                await session.execute(
                    select(Matter.code).where(Matter.published.is_(True)).order_by(Matter.code).limit(2)
                )
            )
            .scalars()
            .all()
        )
    first_done = asyncio.Event()

    async def rename(code: str, name: str, hold: asyncio.Event | None = None) -> None:
        async with demo_db.write() as session:
            await session.execute(update(Matter).where(Matter.code == code).values(name=name))
            queue(session, "matter", code)
            await session.flush()  # the outbox id is taken here …
            if hold is not None:
                await hold.wait()  # … and committed only after the later one

    slow = asyncio.create_task(rename(slow_code, "慢提交的事项", first_done))
    try:
        await asyncio.sleep(0.2)
        quick = asyncio.create_task(rename(quick_code, "快提交的事项"))  # PostgreSQL: commits now
        await asyncio.sleep(0.3)
        await cache.get()  # the earlier id is still uncommitted
    finally:
        first_done.set()
        await slow
    await quick
    latest = await cache.get()
    assert (latest.matters[slow_code].name, latest.matters[quick_code].name) == (
        "慢提交的事项",
        "快提交的事项",
    )
