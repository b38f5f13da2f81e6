"""The read rules of api/services/permissions.py as a table: which feedback each account sees (the
record predicate and the SQL filter agree), whose contact details it sees, and which agreements
are a county's own (its towns' included)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from api.db import Database
from api.enums import FeedbackStatus, Role
from api.models import Feedback
from api.services import permissions
from api.services.agreements import create_agreement
from api.services.base import SYSTEM, Actor, ServiceContext
from api.services.regions import load_tree
from api.settings import Settings
from tests.test_staff_helpers import signed_in

ACTORS = {
    "city": (Role.ADMIN, "331000"),
    "luqiao": (Role.COUNTY, "331004"),
    "jiaojiang": (Role.COUNTY, "331002"),
    "nanchong": (Role.PARTNER, "511300"),
    "sichuan": (Role.PARTNER, "510000"),
    "shunqing": (Role.PARTNER, "511302"),
}

# feedback forms: (county routed to, partner region)
FORMS = {
    "luqiao-nanchong": ("331004", "511300"),
    "luqiao-shunqing": ("331004", "511302"),
    "jiaojiang-guoyang": ("331002", "341621"),
    "unrouted": (None, None),
    "luqiao-none": ("331004", None),
}

# who sees which form: admins all; a county the forms routed to it; a partner those about its region
SEES = {
    "city": set(FORMS),
    "luqiao": {"luqiao-nanchong", "luqiao-shunqing", "luqiao-none"},
    "jiaojiang": {"jiaojiang-guoyang"},
    "nanchong": {"luqiao-nanchong", "luqiao-shunqing"},
    "sichuan": {"luqiao-nanchong", "luqiao-shunqing"},
    "shunqing": {"luqiao-shunqing"},
}
# whose contact details: only whoever handles the form
CONTACTS = {
    **{name: set() for name in ACTORS},
    "city": set(FORMS),
    "luqiao": SEES["luqiao"],
    "jiaojiang": SEES["jiaojiang"],
}


def _ctx(name: str, tree: Any) -> ServiceContext:
    role, region = ACTORS[name]
    return ServiceContext(
        actor=Actor(name=name, role=role, region_code=region, via="form"), tree=tree, home_city="331000"
    )


async def test_feedback_visibility_table_predicate_and_sql_filter_agree(demo_db: Database) -> None:
    async with demo_db.write() as session:
        for index, (label, (county, partner)) in enumerate(FORMS.items()):
            session.add(
                Feedback(
                    reference=label,
                    channel="STAFF",
                    status=FeedbackStatus.OPEN,
                    version=1,
                    description=f"反馈 {index}",
                    county_code=county,
                    partner_code=partner,
                    contact="13900000000",
                )
            )
    async with demo_db.read() as session:
        tree = await load_tree(session)
        rows = list((await session.execute(select(Feedback))).scalars())
        for name in ACTORS:
            ctx = _ctx(name, tree)
            by_predicate = {f.reference for f in rows if permissions.may_see_feedback(ctx, f)}
            by_sql = set(
                (
                    await session.execute(
                        select(Feedback.reference).where(permissions.visible_feedback_filter(ctx))
                    )
                ).scalars()
            )
            contacts = {f.reference for f in rows if permissions.may_see_feedback_contact(ctx, f)}
            assert by_predicate == SEES[name], name
            assert by_sql == SEES[name], name
            assert contacts == CONTACTS[name], name


async def test_late_agreements_signed_by_a_town_show_on_its_countys_home(
    app: Any, settings: Settings
) -> None:
    database = Database(settings.database_url)
    try:
        async with database.write() as session:
            tree = await load_tree(session)
            town = next(t for t in tree.children("331004"))
            ctx = ServiceContext(actor=SYSTEM, tree=tree, home_city=settings.home_region)
            await create_agreement(
                session,
                ctx,
                {
                    "key": "town-late-2025",
                    "partnerCode": "511300",
                    "localCode": town,
                    "signedOn": "2025-03-03",
                    "registeredOn": "2025-03-20",
                    "registeredOnReason": "补录: 协议3月20日才送达市里",  # a correction is reasoned (issue 14.5)
                    "title": "南充市与路桥某街道跨省通办合作协议(逾期登记)",
                },
            )
            luqiao = _ctx("luqiao", tree)
            assert permissions.is_own_local_record(luqiao, town)
            assert not permissions.is_own_local_record(_ctx("jiaojiang", tree), town)
            assert not permissions.is_own_local_record(_ctx("nanchong", tree), town)
    finally:
        await database.dispose()
    async with (
        signed_in(app, settings, "county", "331004") as own,
        signed_in(app, settings, "county", "331002") as other,
    ):
        assert "路桥某街道跨省通办合作协议(逾期登记)" in (await own.get("/staff/")).text
        assert "路桥某街道跨省通办合作协议(逾期登记)" not in (await other.get("/staff/")).text
