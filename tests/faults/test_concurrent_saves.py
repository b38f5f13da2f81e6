"""Eight staff saving at once: none lost, no "database is locked", stale versions refused."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from api.db import Database
from api.enums import Role
from api.models import Agreement, ChangeLog
from api.services.agreements import create_agreement, load_agreement, update_agreement
from api.services.base import Actor, Conflict, ServiceContext
from api.services.regions import load_tree

PARTNERS = ["511302", "511303", "511304", "511321", "511322", "511323", "511324", "511325"]
COUNTIES = ["331002", "331003", "331004", "331022", "331023", "331024", "331081", "331082"]


async def contexts(db: Database) -> list[ServiceContext]:
    async with db.read() as session:
        tree = await load_tree(session)
    return [ServiceContext(Actor(f"staff-{c}", Role.COUNTY, c, "form"), tree, "331000") for c in COUNTIES]


async def test_eight_concurrent_creates_are_all_kept(demo_db: Database) -> None:
    ctxs = await contexts(demo_db)

    async def save(index: int) -> int:
        async with demo_db.write() as session:
            agreement = await create_agreement(
                session,
                ctxs[index],
                {
                    "key": f"concurrent-{index}",
                    "partnerCode": PARTNERS[index],
                    "localCode": COUNTIES[index],
                    "signedOn": "2026-11-01",
                },
            )
            return agreement.id

    ids = await asyncio.gather(*(save(i) for i in range(8)))
    assert len(set(ids)) == 8
    async with demo_db.read() as session:
        stored = (
            await session.execute(
                select(func.count()).select_from(Agreement).where(Agreement.key.like("concurrent-%"))
            )
        ).scalar_one()
        logged = (
            await session.execute(
                select(func.count()).select_from(ChangeLog).where(ChangeLog.entity_key.like("concurrent-%"))
            )
        ).scalar_one()
    assert stored == 8 and logged == 8


async def test_concurrent_updates_of_one_record_one_wins_the_rest_conflict(demo_db: Database) -> None:
    ctxs = await contexts(demo_db)
    admin = ServiceContext(Actor("admin", Role.ADMIN, "331000", "form"), ctxs[0].tree, "331000")
    async with demo_db.write() as session:
        agreement = await create_agreement(
            session,
            admin,
            {"key": "contested", "partnerCode": "511300", "localCode": "331004", "signedOn": "2026-11-01"},
        )
        agreement_id, version = agreement.id, agreement.version

    async def save(index: int) -> str:
        try:
            async with demo_db.write() as session:
                await update_agreement(
                    session,
                    admin,
                    agreement_id,
                    version,
                    {
                        "key": "contested",
                        "partnerCode": "511300",
                        "localCode": "331004",
                        "signedOn": "2026-11-01",
                        "note": f"edit {index}",
                    },
                )
            return "saved"
        except Conflict:
            return "conflict"

    outcomes = await asyncio.gather(*(save(i) for i in range(8)))
    assert outcomes.count("saved") == 1 and outcomes.count("conflict") == 7
    async with demo_db.read() as session:
        stored = await load_agreement(session, agreement_id=agreement_id)
        updates = (
            await session.execute(
                select(func.count())
                .select_from(ChangeLog)
                .where(ChangeLog.entity_key == "contested", ChangeLog.action == "update")
            )
        ).scalar_one()
    assert stored is not None and stored.version == version + 1
    assert updates == 1
