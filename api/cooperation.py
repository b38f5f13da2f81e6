"""Which cooperation work is due with which partner region: pure functions, like `api.rules`.

No database, no clock, no settings: each function takes plain facts and the date to judge on, so
the due lists are tested on fixed dates (tests/test_cooperation_rules.py) and the staff pages and
GraphQL's `consultationsDue` ask the same question the same way.

The three lists, from the plan (seed §二.(三)–(四), §三.(二).2):

- **会商 due** (`consultations_due`): a RED ("重点") partner with no CONSULTATION in the 12 months
  up to and including the date: held on or after the same calendar day a year earlier (29 February
  → 28 February). Planned work dated after the day does not count.
- **业务指导 due** (`guidance_due`): a pairing region (对口援疆, 东西部协作, 对口合作) with no GUIDANCE
  in the calendar year of the date, up to the date (the yearly 对口工作任务书).
- **通办后总结 due** (`reviews_due`): a partner with an agreement in force on the date whose first
  year is over (in force since at least a year), and no REVIEW in the 12 months up to the date: the
  review is periodic, and first owed once the agreement has run a full year.

Work recorded with a region counts for the regions inside it: a consultation with 四川省 counts for
南充市, one with a county does not count for its city.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from api.rules import AgreementFacts, RegionTree, in_force

CONSULTATION = "CONSULTATION"
GUIDANCE = "GUIDANCE"
REVIEW = "REVIEW"
RED = "RED"


@dataclass(frozen=True, slots=True)
class ActivityFacts:
    """What the due lists need to know about one recorded activity."""

    kind: str
    partner_code: str
    held_on: dt.date


@dataclass(frozen=True, slots=True)
class Due:
    """A partner region owed some work: when that kind of work was last done with it (None: never),
    and the first day of the window the work should have fallen in."""

    partner_code: str
    last_held: dt.date | None
    window_start: dt.date


def one_year_before(day: dt.date) -> dt.date:
    """The same calendar day a year earlier (29 February → 28 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def counts_for(tree: RegionTree, activity_partner: str, partner: str) -> bool:
    """Work with `activity_partner` counts for `partner` when it is that region or contains it."""
    return activity_partner == partner or tree.contains(activity_partner, partner)


def last_held(
    tree: RegionTree, activities: Iterable[ActivityFacts], kind: str, partner: str, on_date: dt.date
) -> dt.date | None:
    """The latest date, not after `on_date`, of `kind` work that counts for `partner`."""
    dates = [
        a.held_on
        for a in activities
        if a.kind == kind and a.held_on <= on_date and counts_for(tree, a.partner_code, partner)
    ]
    return max(dates) if dates else None


def _due(
    tree: RegionTree,
    partners: Iterable[str],
    activities: Iterable[ActivityFacts],
    kind: str,
    window_start: dt.date,
    on_date: dt.date,
) -> list[Due]:
    relevant = [a for a in activities if a.kind == kind]
    found: list[Due] = []
    for partner in sorted(set(partners)):
        last = last_held(tree, relevant, kind, partner, on_date)
        if last is None or last < window_start:
            found.append(Due(partner, last, window_start))
    return found


def consultations_due(
    tree: RegionTree, tiers: Mapping[str, str | None], activities: Iterable[ActivityFacts], on_date: dt.date
) -> list[Due]:
    """RED partners with no CONSULTATION in the 12 months up to `on_date`, by code."""
    red = [code for code, tier in tiers.items() if tier == RED]
    return _due(tree, red, activities, CONSULTATION, one_year_before(on_date), on_date)


def guidance_due(
    tree: RegionTree, pairing_partners: Iterable[str], activities: Iterable[ActivityFacts], on_date: dt.date
) -> list[Due]:
    """Pairing regions with no GUIDANCE so far in `on_date`'s calendar year, by code."""
    return _due(tree, pairing_partners, activities, GUIDANCE, dt.date(on_date.year, 1, 1), on_date)


def reviews_due(
    tree: RegionTree,
    agreements: Iterable[AgreementFacts],
    activities: Iterable[ActivityFacts],
    on_date: dt.date,
) -> list[Due]:
    """Partners with an agreement in force whose first year is over and no REVIEW in the 12 months
    up to `on_date`, by code."""
    year_ago = one_year_before(on_date)
    partners = [a.partner_code for a in agreements if in_force(a, on_date) and a.effective_from <= year_ago]
    return _due(tree, partners, activities, REVIEW, year_ago, on_date)
