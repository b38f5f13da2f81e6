"""Stored XSS and htmx injection: markup in any record field is shown as text, on every public page
and in the staff area.

Every text field of every record kind a citizen or staff member can see (matter name, department,
keywords, aliases, deadline, guide conditions / materials / steps / fee / legal basis / walk-through;
hall name, address, phone, opening hours; agreement title, note, document reference; relation
note; contact name, organisation, role, phone, liaison group; feedback description and contact;
FAQ question and answer; case title and summary) is stored, through the same services staff use,
holding a payload that breaks out of an attribute, opens a `<script>` and carries `hx-get` —
the attribute htmx would act on. Each payload ends in a unique token, so the test knows which
field a page shows.

On every page: the raw payload never appears (no `<script>alert`, no `hx-get="/staff/pwn"`), and
wherever a token is shown, the escaped payload (`&lt;script&gt;…`) is there instead. Every field
must be shown somewhere (public pages or staff area), so the test proves escaping where it
matters rather than passing because nothing was displayed. SQLite only: escaping happens in the
templates, not in the database.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.db import Database
from api.enums import Role
from api.models import Agreement, Contact, FaqEntry, Feedback, Hall
from api.services.base import Actor, ServiceContext
from api.services.cases import save_case
from api.services.faq import compile_edition, publish_edition, save_entry
from api.services.feedback import submit_feedback
from api.services.regions import load_tree
from api.services.transfer import import_document
from api.settings import Settings
from tests.test_staff_helpers import signed_in

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

HOME = "331000"
PARTNER = "511300"  # 四川省南充市
COUNTY = "331004"  # 路桥区
CODE = "XSS-1"
SEARCH_WORD = "跨站脚本测试事项"
RAW_FRAGMENTS = ("<script>alert", "<i hx-get", '"><script')
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"


def payload(token: str) -> str:
    """Closes a quoted attribute, opens a script, and adds an htmx attribute (unquoted, so inside an
    unquoted attribute value it would start a new attribute even when escaped); 52 characters plus
    the token."""
    return f'"><script>alert(1)</script><i hx-get=/staff/pwn>{token}</i>'


def short(token: str) -> str:
    """For fields of at most 40 characters (keywords)."""
    return f"<script>alert(1)</script>{token}"


# field label → token; tokens are distinct words (no token is a prefix of another)
TOKENS = {
    "matter.name": "Zqmname",
    "matter.department": "Zqmdept",
    "matter.keyword": "Zqmkeyw",
    "matter.alias": "Zqmalias",
    "matter.deadline": "Zqmdeadl",
    "guide.conditions": "Zqgcond",
    "guide.material": "Zqgmat",
    "guide.materialNote": "Zqgmnote",
    "guide.step": "Zqgstep",
    "guide.fee": "Zqgfee",
    "guide.legalBasis": "Zqglegal",
    "guide.walkthrough": "Zqgwalk",
    "hall.name": "Zqhname",
    "hall.address": "Zqhaddr",
    "hall.phone": "Zqhphone",
    "hall.openingHours": "Zqhhours",
    "agreement.title": "Zqatitle",
    "agreement.note": "Zqanote",
    "agreement.documentRef": "Zqaref",
    "relation.note": "Zqrnote",
    "contact.name": "Zqcname",
    "contact.organisation": "Zqcorg",
    "contact.role": "Zqcrole",
    "contact.phone": "Zqcphone",
    "contact.liaisonGroup": "Zqcgroup",
    "feedback.description": "Zqfdesc",
    "feedback.contact": "Zqfcontact",
    "faq.question": "Zqqquest",
    "faq.answer": "Zqqanswer",
    "case.title": "Zqktitle",
    "case.summary": "Zqksummary",
}
# Fields a citizen must be able to read on the public site (the rest are staff-only by design).
PUBLIC_FIELDS = {
    "matter.name",
    "guide.conditions",
    "guide.material",
    "guide.step",
    "guide.fee",
    "guide.legalBasis",
    "guide.walkthrough",
    "hall.name",
    "hall.address",
    "hall.phone",
    "hall.openingHours",
    "agreement.title",
    "faq.question",
    "faq.answer",
    "case.title",
    "case.summary",
}


def document() -> dict[str, Any]:
    t = TOKENS
    return {
        "matters": [
            {
                "code": CODE,
                "name": payload(t["matter.name"]) + SEARCH_WORD,
                "department": payload(t["matter.department"]),
                "scope": "CROSS_PROVINCE",
                "modes": ["FULL_ONLINE"],
                "keywords": [short(t["matter.keyword"]), "跨站"],
                "aliases": [payload(t["matter.alias"])],
                "deadline": payload(t["matter.deadline"]),
                "guide": {
                    "conditions": payload(t["guide.conditions"]),
                    "materials": [
                        {"name": payload(t["guide.material"]), "note": payload(t["guide.materialNote"])}
                    ],
                    "steps": [payload(t["guide.step"]), "受理"],
                    "fee": payload(t["guide.fee"]),
                    "legalBasis": payload(t["guide.legalBasis"]),
                    "walkthrough": payload(t["guide.walkthrough"]),
                    "timeLimitDays": 3,
                },
            }
        ],
        "halls": [
            {
                "key": "xss-hall",
                "name": payload(t["hall.name"]),
                "regionCode": COUNTY,
                "level": "COUNTY",
                "address": payload(t["hall.address"]),
                "phone": payload(t["hall.phone"]),
                "openingHours": payload(t["hall.openingHours"]),
                "latitude": 28.58,
                "longitude": 121.37,
                "hasCrossRegionWindow": True,
                "matterCodes": [CODE],
            }
        ],
        "agreements": [
            {
                "key": "xss-agreement",
                "title": payload(t["agreement.title"]),
                "partnerCode": PARTNER,
                "localCode": COUNTY,
                "signedOn": "2024-01-02",
                "registeredOn": "2024-01-03",
                "note": payload(t["agreement.note"]),
                "documentRef": payload(t["agreement.documentRef"]),
                "citywideShared": True,
                "matterCodes": None,
            }
        ],
        "relations": [
            {
                "key": "xss-relation",
                "kind": "COOPERATION",
                "localCode": COUNTY,
                "partnerCode": PARTNER,
                "since": "2020",
                "note": payload(t["relation.note"]),
            }
        ],
        "contacts": [
            {
                "key": "xss-contact",
                "name": payload(t["contact.name"]),
                "regionCode": PARTNER,
                "organisation": payload(t["contact.organisation"]),
                "role": payload(t["contact.role"]),
                "phone": payload(t["contact.phone"]),
                "liaisonGroup": payload(t["contact.liaisonGroup"]),
            }
        ],
    }


@dataclass
class Seeded:
    settings: Settings
    ids: dict[str, int] = field(default_factory=dict)


async def seed(settings: Settings) -> Seeded:
    """Store every payload through the services (import, feedback, FAQ, case), before the app starts."""
    database = Database(settings.database_url)
    seeded = Seeded(settings)
    try:
        async with database.read() as session:
            tree = await load_tree(session)
        admin = ServiceContext(Actor("xss-admin", Role.ADMIN, HOME, "import"), tree, HOME)
        citizen = ServiceContext(Actor("public", Role.PARTNER, None, "public"), tree, HOME)
        await import_document(database, admin, document())
        async with database.write() as session:
            await submit_feedback(
                session,
                citizen,
                {
                    "description": payload(TOKENS["feedback.description"]),
                    "contact": payload(TOKENS["feedback.contact"]),
                    "matterCode": CODE,
                    "homeRegionCode": PARTNER,
                    "countyCode": COUNTY,
                    "stage": "DURING",
                },
            )
            entry = await save_entry(
                session,
                admin,
                {
                    "question": payload(TOKENS["faq.question"]),
                    "answer": payload(TOKENS["faq.answer"]),
                    "matterCode": CODE,
                    "published": True,
                },
            )
            edition = await compile_edition(session, admin, 2099, 11, [])
            await publish_edition(session, admin, edition.id)
            case = await save_case(
                session,
                admin,
                {
                    "title": payload(TOKENS["case.title"]),
                    "summary": payload(TOKENS["case.summary"]) + "经过与做法的说明文字",
                    "countyCode": COUNTY,
                    "partnerCode": PARTNER,
                    "matterCode": CODE,
                    "published": True,
                    "happenedOn": dt.date(2024, 5, 1).isoformat(),
                },
            )
            seeded.ids.update(entry=entry.id, edition=edition.id, case=case.id)
        async with database.read() as session:
            for name, model, where in (
                ("hall", Hall, Hall.key == "xss-hall"),
                ("agreement", Agreement, Agreement.key == "xss-agreement"),
                ("contact", Contact, Contact.key == "xss-contact"),
                ("feedback", Feedback, Feedback.matter_code == CODE),
            ):
                seeded.ids[name] = int((await session.execute(select(model.id).where(where))).scalar_one())
            seeded.ids["edition_entry"] = int(
                (
                    await session.execute(
                        select(FaqEntry.id).where(FaqEntry.edition_id == seeded.ids["edition"])
                    )
                )
                .scalars()
                .first()
            )
    finally:
        await database.dispose()
    return seeded


@pytest.fixture
async def stored(settings: Settings) -> AsyncIterator[tuple[Seeded, Any]]:
    from api.app import create_app

    seeded = await seed(settings)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield seeded, application


def public_pages(ids: dict[str, int]) -> list[str]:
    return [
        "/",
        f"/?region_q=nanchong&q={SEARCH_WORD}&pick=1",
        f"/search?q={SEARCH_WORD}",
        f"/search?q={SEARCH_WORD}&home={PARTNER}&near={COUNTY}",
        f"/search?q=跨站&home={PARTNER}",
        f"/search?home={PARTNER}",
        f"/matters/{CODE}",
        f"/matters/{CODE}?home={PARTNER}&near={COUNTY}",
        "/lists/cross-province",
        f"/halls/{ids['hall']}",
        f"/regions/{PARTNER}",
        f"/regions/{COUNTY}",
        "/regions/510000",
        f"/feedback?matter={CODE}",
        "/faq",
        "/faq/2099-11",
        "/cases",
    ]


def staff_pages(ids: dict[str, int]) -> list[str]:
    return [
        "/staff/",
        "/staff/desk",
        f"/staff/desk?home={PARTNER}&matter={CODE}",
        f"/staff/desk?home={PARTNER}",
        "/staff/matters",
        f"/staff/matters?q={SEARCH_WORD}",
        f"/staff/matters/{CODE}",
        f"/staff/matters/{CODE}/edit",
        f"/staff/matters/{CODE}/guide",
        f"/staff/matters/{CODE}/guide/diff",
        "/staff/halls",
        f"/staff/halls/{ids['hall']}/edit",
        "/staff/agreements",
        f"/staff/agreements/{ids['agreement']}",
        f"/staff/agreements/{ids['agreement']}/edit",
        "/staff/contacts",
        f"/staff/contacts/{ids['contact']}/edit",
        "/staff/feedback",
        f"/staff/feedback/{ids['feedback']}",
        f"/staff/feedback/new?matterCode={CODE}",
        "/staff/faq",
        f"/staff/faq/entries/{ids['entry']}/edit",
        f"/staff/faq/editions/{ids['edition']}",
        "/staff/cases",
        f"/staff/cases/{ids['case']}/edit",
        "/staff/history",
        f"/staff/history/matter/{CODE}",
        "/staff/history/hall/xss-hall",
        "/staff/history/agreement/xss-agreement",
        "/staff/history/contact/xss-contact",
        "/staff/table",
        f"/staff/table?partner={PARTNER}",
        "/staff/dashboard",
        "/staff/partners",
        f"/staff/partners/{PARTNER}",
    ]


class ActiveContent(HTMLParser):
    """What a browser would act on: an htmx or event-handler attribute, or script text, carrying
    the payload. Parsing (rather than searching the text) also catches a payload that became an
    attribute of the app's own element, e.g. inside an unquoted attribute value."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_script = tag == "script"
        for name, value in attrs:
            if "pwn" in name or "alert" in name:
                self.found.append(f"<{tag} {name}=…>")
            if name.startswith(("hx-", "data-hx-", "on")) and value and ("pwn" in value or "alert" in value):
                self.found.append(f"<{tag} {name}={value[:40]!r}>")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and "alert(" in data:
            self.found.append(f"<script>{data[:40]}")


def inspect(url: str, response: httpx.Response, shown: dict[str, set[str]]) -> list[str]:
    """Problems on one page; records which tokens it shows."""
    problems = []
    if response.status_code != 200:
        return [f"{url}: HTTP {response.status_code}"]
    body = response.text
    scanner = ActiveContent()
    scanner.feed(body)
    problems += [f"{url}: active payload {found}" for found in scanner.found]
    for fragment in RAW_FRAGMENTS:
        at = body.find(fragment)
        if at >= 0:
            problems.append(f"{url}: raw {fragment!r} in …{body[max(0, at - 80) : at + 80]!r}…")
    visible = [label for label, token in TOKENS.items() if token in body]
    for label in visible:
        shown.setdefault(label, set()).add(url)
    if visible and ESCAPED_SCRIPT not in body and "&lt;script&gt;" not in body:
        problems.append(f"{url}: shows {visible} but not the escaped payload")
    # the markup must not have been stripped either: a token is shown with its escaped tags around it
    for label in visible:
        token = TOKENS[label]
        for match in re.finditer(re.escape(token), body):
            before = body[max(0, match.start() - 60) : match.start()]
            if (
                "&gt;" not in before
                and "&lt;" not in before
                and "/search" not in before
                and "q=" not in before
            ):
                problems.append(f"{url}: {label} shown without its escaped markup: …{before}{token}…")
                break
    return problems


async def test_markup_in_every_field_is_shown_as_text_everywhere(stored: tuple[Seeded, Any]) -> None:
    seeded, application = stored
    shown: dict[str, set[str]] = {}
    problems: list[str] = []
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as public:
        for url in public_pages(seeded.ids):
            problems += inspect(url, await public.get(url), shown)
            if url.startswith(("/search", "/matters")):  # the htmx fragment of the same URL
                problems += inspect(
                    f"{url} (fragment)", await public.get(url, headers={"HX-Request": "true"}), shown
                )
    public_shown = set(shown)
    async with signed_in(application, seeded.settings, "admin", HOME) as staff:
        for url in staff_pages(seeded.ids):
            problems += inspect(url, await staff.get(url), shown)
    assert not problems, "\n".join(problems)
    missing_public = sorted(PUBLIC_FIELDS - public_shown)
    assert not missing_public, (
        f"not shown on any public page (so escaping there is unproven): {missing_public}"
    )
    missing = sorted(set(TOKENS) - set(shown))
    assert not missing, f"not shown on any page at all: {missing}"
    print(
        f"\nstored content: {len(TOKENS)} fields, {len(public_pages(seeded.ids))} public URLs (+ fragments), "
        f"{len(staff_pages(seeded.ids))} staff URLs; field → pages: "
        + "; ".join(f"{label} {len(urls)}" for label, urls in sorted(shown.items()))
    )
