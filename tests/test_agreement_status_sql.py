"""The agreements filter by status pages in SQL (`api.schema.queries.agreement_status_condition`),
so §5.2's exposed status is written twice: once in `rules.exposed_status`, once as SQL. This test
ties them together: for every stored status, start and expiry around the day asked about, the
agreements the SQL finds under each status are exactly those whose `rules.exposed_status` is that
status (on SQLite and PostgreSQL, through the `backend` fixture)."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select

from api import rules
from api.db import Database
from api.enums import AgreementStatus
from api.models import Agreement
from api.schema.queries import AGREEMENTS, agreement_status_condition

START = dt.date(2025, 3, 10)
END = dt.date(2025, 3, 20)

#: (effective_from, expires_on) of the stored agreements: started on START, on END, with and
#: without an expiry, and one that lasts a single day
TERMS: list[tuple[dt.date, dt.date | None]] = [
    (START, None),
    (START, END),
    (END, END),
    (END, None),
]

#: the days asked about: before, on and after each boundary
DAYS = [
    START - dt.timedelta(days=1),
    START,
    START + dt.timedelta(days=1),
    END - dt.timedelta(days=1),
    END,
    END + dt.timedelta(days=1),
]


async def test_sql_status_filter_is_the_rule(db: Database) -> None:
    stored = list(itertools.product(AgreementStatus, TERMS))
    facts: dict[int, rules.AgreementFacts] = {}
    async with db.write() as session:
        rows = [
            Agreement(
                key=f"status-{n}",
                title=f"状态 {n}",
                partner_code="511300",
                local_code="331004",
                signed_on=START - dt.timedelta(days=30),
                effective_from=start,
                expires_on=expires,
                status=status,
                citywide_shared=True,
                covers_all_matters=True,
            )
            for n, (status, (start, expires)) in enumerate(stored)
        ]
        session.add_all(rows)
        await session.flush()
        for row in rows:
            facts[row.id] = rules.AgreementFacts(
                row.id,
                row.key,
                row.title,
                row.partner_code,
                row.local_code,
                row.signed_on,
                row.effective_from,
                row.expires_on,
                str(row.status),
                True,
                None,
            )

    wrong = []
    async with db.read() as session:
        for status, day in itertools.product(AgreementStatus, DAYS):
            query = select(AGREEMENTS.c.id).where(agreement_status_condition(status, day))
            found = set((await session.execute(query)).scalars())
            expected = {i for i, f in facts.items() if rules.exposed_status(f, day) == status.value}
            if found != expected:
                wrong.append(
                    (status.value, day.isoformat(), sorted(found - expected), sorted(expected - found))
                )
    assert wrong == [], "status, day, found but not by the rule, by the rule but not found"
    # every exposed status occurs in the table, so each branch of the SQL is exercised
    exposed = {rules.exposed_status(f, day) for f in facts.values() for day in DAYS}
    assert exposed == {s.value for s in AgreementStatus}
