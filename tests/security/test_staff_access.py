"""Who may open which staff page, and where citizens' personal data may appear: one table over
EVERY staff route, generated from the running app's route table.

`ACCESS` has one entry per route (method + pattern, exactly as Starlette spells it under /staff).
The test walks the app's routes; a route missing from the table fails the test with a message
saying to add it, so a new page cannot skip the check. Each entry lists one or more probes (a
concrete path) and what each of four accounts gets:

- ``admin``  the city (331000)
- ``county`` 路桥区 (331004), to which the planted feedback is routed and which owns the planted records
- ``other``  椒江区 (331002), another county
- ``partner`` 南充市 (511300), the partner region the planted feedback is about

An expectation is a status code, or ``OK`` for a POST that must pass the permission gate (an empty
form then fails validation, 4xx other than 401/403/404, or succeeds). In every answer, to every
account, the planted personal data appears only where `SECRETS` allows it; `shows` names the
probes where it must appear (proving the planting works).

To add a route: one line in `ACCESS`, e.g.
    "GET /staff/users": probe("/staff/users", ADMIN),
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select
from starlette.routing import BaseRoute, Mount, Route

from api.db import Database
from api.models import Agreement, Contact, Hall, LiaisonGroup, Matter
from api.services.activities import create_activity
from api.services.base import SYSTEM, ServiceContext
from api.services.cases import save_case
from api.services.faq import compile_edition, save_entry
from api.services.feedback import move_feedback, submit_feedback
from api.services.regions import load_tree
from api.services.synonyms import save_synonym
from api.settings import Settings
from tests.test_staff_helpers import add_staff, csrf_token, sign_in

ROLES = ("admin", "county", "other", "partner")
ACCOUNTS = {
    "admin": ("admin", "331000"),
    "county": ("county", "331004"),
    "other": ("county", "331002"),
    "partner": ("partner", "511300"),
}

OK = "ok"  # a POST that passes the permission gate


def _roles(admin: Any, county: Any, other: Any, partner: Any) -> dict[str, Any]:
    return {"admin": admin, "county": county, "other": other, "partner": partner}


ALL = _roles(200, 200, 200, 200)
LOCAL = _roles(200, 200, 200, 403)  # city and county staff
OWN = _roles(200, 200, 403, 403)  # the record's own county and the city
ADMIN = _roles(200, 403, 403, 403)
OWN_JOB = _roles(200, 200, 404, 403)  # an import job: its account and the city; to others it does not exist
POST_ALL = _roles(OK, OK, OK, OK)
POST_LOCAL = _roles(OK, OK, OK, 403)
POST_OWN = _roles(OK, OK, 403, 403)
POST_ADMIN = _roles(OK, 403, 403, 403)


@dataclass(frozen=True)
class Probe:
    path: str  # formatted with the planted records' ids: {feedback}, {hall}, ...
    expect: dict[str, Any]
    shows: tuple[str, ...] = ()  # secrets that must appear for the roles allowed to see them


def probe(path: str, expect: dict[str, Any], shows: tuple[str, ...] = ()) -> list[Probe]:
    return [Probe(path, expect, shows)]


ACCESS: dict[str, list[Probe]] = {
    "GET /staff": probe("/staff", _roles(308, 308, 308, 308)),
    "GET /staff/": probe("/staff/", ALL),
    "GET /staff/login": probe("/staff/login", _roles(303, 303, 303, 303)),
    "POST /staff/login": probe("/staff/login", _roles(403, 403, 403, 403)),  # no sign-in form token
    # the window assistant and feedback
    "GET /staff/desk": probe("/staff/desk", LOCAL),
    "GET /staff/feedback": probe("/staff/feedback", ALL, shows=("description",)),
    "GET /staff/feedback/new": probe("/staff/feedback/new", ALL),
    "POST /staff/feedback/new": probe("/staff/feedback/new", POST_ALL),
    "GET /staff/feedback/{id:int}": probe(
        "/staff/feedback/{feedback}", _roles(200, 200, 403, 200), shows=("phone", "description")
    ),
    "POST /staff/feedback/{id:int}/move": probe("/staff/feedback/{feedback}/move", POST_OWN),
    # agreements
    "GET /staff/agreements": probe("/staff/agreements", ALL),
    "GET /staff/agreements/new": probe("/staff/agreements/new", LOCAL),
    "POST /staff/agreements/new": probe("/staff/agreements/new", POST_LOCAL),
    "POST /staff/agreements/preview": probe("/staff/agreements/preview", POST_LOCAL),
    "GET /staff/agreements/{id:int}": probe("/staff/agreements/{agreement}", ALL)
    + probe("/staff/agreements/{foreign_agreement}", _roles(200, 200, 200, 403)),
    "GET /staff/agreements/{id:int}/edit": probe("/staff/agreements/{agreement}/edit", OWN),
    "POST /staff/agreements/{id:int}/edit": probe("/staff/agreements/{agreement}/edit", POST_OWN),
    # matters and guides (the city's)
    "GET /staff/matters": probe("/staff/matters", ALL),
    "GET /staff/matters/new": probe("/staff/matters/new", ADMIN),
    "POST /staff/matters/new": probe("/staff/matters/new", POST_ADMIN),
    "GET /staff/matters/{code}": probe("/staff/matters/{matter}", ALL),
    "GET /staff/matters/{code}/edit": probe("/staff/matters/{matter}/edit", ADMIN),
    "POST /staff/matters/{code}/edit": probe("/staff/matters/{matter}/edit", POST_ADMIN),
    "GET /staff/matters/{code}/guide": probe("/staff/matters/{matter}/guide", ADMIN),
    "POST /staff/matters/{code}/guide": probe("/staff/matters/{matter}/guide", POST_ADMIN),
    "POST /staff/matters/{code}/guide/publish": probe("/staff/matters/{matter}/guide/publish", POST_ADMIN),
    "POST /staff/matters/{code}/guide/discard": probe("/staff/matters/{matter}/guide/discard", POST_ADMIN),
    "GET /staff/matters/{code}/guide/diff": probe("/staff/matters/{matter}/guide/diff", ALL),
    # halls
    "GET /staff/halls": probe("/staff/halls", ALL),
    "GET /staff/halls/new": probe("/staff/halls/new", LOCAL),
    "POST /staff/halls/new": probe("/staff/halls/new", POST_LOCAL),
    "GET /staff/halls/{id:int}/edit": probe("/staff/halls/{hall}/edit", OWN),
    "POST /staff/halls/{id:int}/edit": probe("/staff/halls/{hall}/edit", POST_OWN),
    # contacts and liaison groups
    "GET /staff/contacts": probe("/staff/contacts", ALL),
    # partner accounts keep their own region's liaisons (issue 17)
    "GET /staff/contacts/new": probe("/staff/contacts/new", ALL),
    "POST /staff/contacts/new": probe("/staff/contacts/new", POST_ALL),
    "GET /staff/contacts/{id:int}/edit": probe("/staff/contacts/{contact}/edit", OWN),
    "POST /staff/contacts/{id:int}/edit": probe("/staff/contacts/{contact}/edit", POST_OWN),
    "GET /staff/groups/new": probe("/staff/groups/new", ADMIN),
    "POST /staff/groups/new": probe("/staff/groups/new", POST_ADMIN),
    "GET /staff/groups/{id:int}/edit": probe("/staff/groups/{group}/edit", ADMIN),
    "POST /staff/groups/{id:int}/edit": probe("/staff/groups/{group}/edit", POST_ADMIN),
    # partner indices, tiers, synonyms (the city's)
    "GET /staff/partners": probe("/staff/partners", ADMIN),
    "POST /staff/partners/thresholds": probe("/staff/partners/thresholds", POST_ADMIN),
    "GET /staff/partners/{code}": probe("/staff/partners/511300", ADMIN),
    "POST /staff/partners/{code}": probe("/staff/partners/511300", POST_ADMIN),
    "GET /staff/synonyms": probe("/staff/synonyms", ADMIN),
    "POST /staff/synonyms": probe("/staff/synonyms", POST_ADMIN),
    "POST /staff/synonyms/{id:int}": probe("/staff/synonyms/{synonym}", POST_ADMIN),
    "POST /staff/synonyms/{id:int}/delete": probe("/staff/synonyms/{synonym}/delete", POST_ADMIN),
    # the change log: feedback entries carry the citizen's contact, sign-ins the address
    "GET /staff/history": probe("/staff/history", LOCAL, shows=("phone",)),
    "GET /staff/history/{entity}/{key:path}": probe(
        "/staff/history/feedback/{reference}", LOCAL, shows=("phone",)
    )
    + probe("/staff/history/session/{admin_name}", ADMIN, shows=("address",))
    + probe("/staff/history/user/{admin_name}", ADMIN)
    + probe("/staff/history/hall/luqiao-centre", LOCAL),
    # 一册 and 一集
    "GET /staff/faq": probe("/staff/faq", ALL),
    "GET /staff/faq/entries/new": probe("/staff/faq/entries/new", LOCAL)
    + probe("/staff/faq/entries/new?feedback={feedback}", _roles(200, 200, 404, 403), shows=("description",)),
    "POST /staff/faq/entries/new": probe("/staff/faq/entries/new", POST_LOCAL),
    "GET /staff/faq/entries/{id:int}/edit": probe("/staff/faq/entries/{faq}/edit", LOCAL),
    "POST /staff/faq/entries/{id:int}/edit": probe("/staff/faq/entries/{faq}/edit", POST_LOCAL),
    "POST /staff/faq/editions": probe("/staff/faq/editions", POST_ADMIN),
    "GET /staff/faq/editions/{id:int}": probe("/staff/faq/editions/{edition}", LOCAL),
    "POST /staff/faq/editions/{id:int}/publish": probe("/staff/faq/editions/{edition}/publish", POST_ADMIN),
    "GET /staff/cases": probe("/staff/cases", ALL),
    "GET /staff/cases/new": probe("/staff/cases/new", LOCAL),
    "POST /staff/cases/new": probe("/staff/cases/new", POST_LOCAL),
    "GET /staff/cases/{id:int}/edit": probe("/staff/cases/{case}/edit", OWN),
    "POST /staff/cases/{id:int}/edit": probe("/staff/cases/{case}/edit", POST_OWN),
    # 一表 and the dashboard
    "GET /staff/table": probe("/staff/table", LOCAL),
    "GET /staff/table.xlsx": probe("/staff/table.xlsx", LOCAL),
    "GET /staff/table.csv": probe("/staff/table.csv", LOCAL),
    "GET /staff/dashboard": probe("/staff/dashboard", LOCAL),
    "POST /staff/outreach": probe("/staff/outreach", POST_LOCAL),
    # cooperation work and the needs survey (issue 21)
    "GET /staff/activities": probe("/staff/activities", ALL),
    "GET /staff/activities/new": probe("/staff/activities/new", LOCAL),
    "POST /staff/activities/new": probe("/staff/activities/new", POST_LOCAL),
    "GET /staff/activities/{id:int}/edit": probe("/staff/activities/{activity}/edit", OWN),
    "POST /staff/activities/{id:int}/edit": probe("/staff/activities/{activity}/edit", POST_OWN),
    "GET /staff/activities/partner/{code}": probe("/staff/activities/partner/511300", ALL),
    "GET /staff/survey.xlsx": probe("/staff/survey.xlsx", LOCAL),
    "GET /staff/survey.csv": probe("/staff/survey.csv", LOCAL),
    # searches that found nothing (issue 16): the city teaches the index
    "GET /staff/search-gaps": probe("/staff/search-gaps", ADMIN),
    "POST /staff/search-gaps/teach": probe("/staff/search-gaps/teach", POST_ADMIN),
    # partners' webhooks and their failed deliveries (issue 18)
    "GET /staff/webhooks": probe("/staff/webhooks", _roles(200, 403, 403, 200)),
    # data in without a shell (issue 17): import, accounts, data health
    "GET /staff/import": probe("/staff/import", LOCAL),
    "POST /staff/import": probe("/staff/import", POST_LOCAL),
    "GET /staff/import/template.xlsx": probe("/staff/import/template.xlsx", LOCAL),
    # an import job (its progress and result): the account that started it (路桥区's) and the city
    "GET /staff/import/jobs/{job:str}": probe("/staff/import/jobs/{import_job}", OWN_JOB),
    "GET /staff/import/jobs/{job:str}/progress": probe("/staff/import/jobs/{import_job}/progress", OWN_JOB),
    "GET /staff/users": probe("/staff/users", ADMIN),
    "POST /staff/users": probe("/staff/users", POST_ADMIN),
    "POST /staff/users/{id:int}/disable": probe("/staff/users/{spare_user}/disable", POST_ADMIN),
    "POST /staff/users/{id:int}/enable": probe("/staff/users/{spare_user}/enable", POST_ADMIN),
    "POST /staff/users/{id:int}/password": probe("/staff/users/{spare_user}/password", POST_ADMIN),
    "POST /staff/users/{id:int}/tokens/{token:int}/revoke": probe(
        "/staff/users/{spare_user}/tokens/{spare_token}/revoke", POST_ADMIN
    ),
    "GET /staff/health": probe("/staff/health", LOCAL),
    # sign-in throttles (admins see and clear them)
    "GET /staff/throttles": probe("/staff/throttles", ADMIN),
    "POST /staff/throttles/clear": probe("/staff/throttles/clear", POST_ADMIN),
    # last: it ends the session
    "POST /staff/logout": probe("/staff/logout", POST_ALL),
}

PHONE = "13912345678"
ADDRESS = "10.77.66.55"
DESCRIPTION = "路桥窗口补领社保卡被要求回原籍XK7"


@dataclass(frozen=True)
class Secret:
    text: str
    visible_to: frozenset[str]


SECRETS = {
    # the citizen's contact: only whoever handles the feedback (its county, the city)
    "phone": Secret(f"{PHONE} 路桥区银安街88号", frozenset({"admin", "county"})),
    # an admin's sign-in address: only the admins
    "address": Secret(ADDRESS, frozenset({"admin"})),
    # the feedback itself: the county it is routed to, the city, the partner region it is about
    "description": Secret(DESCRIPTION, frozenset({"admin", "county", "partner"})),
}


def staff_route_keys(routes: list[BaseRoute], prefix: str = "") -> Iterator[str]:
    """ "METHOD /path" for every route of the app whose path starts with /staff (HEAD left out)."""
    for route in routes:
        if isinstance(route, Mount):
            yield from staff_route_keys(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            path = prefix + route.path
            if path == "/staff" or path.startswith("/staff/"):
                for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                    yield f"{method} {path}"


async def plant(settings: Settings, admin_name: str) -> dict[str, Any]:
    """Records every probe can point at, and a citizen's feedback with contact details."""
    database = Database(settings.database_url)
    try:
        async with database.write() as session:
            tree = await load_tree(session)
            ctx = ServiceContext(actor=SYSTEM, tree=tree, home_city=settings.home_region)
            feedback = await submit_feedback(
                session,
                ctx,
                {
                    "description": DESCRIPTION,
                    "countyCode": "331004",
                    "partnerCode": "511300",
                    "homeRegionCode": "511302",
                    "contact": SECRETS["phone"].text,
                    "stage": "DURING",
                },
            )
            feedback_id, reference = feedback.id, feedback.reference
            await submit_feedback(
                session,
                ctx,
                {  # and one still open (the home page lists open ones)
                    "description": DESCRIPTION,
                    "countyCode": "331004",
                    "partnerCode": "511300",
                    "contact": SECRETS["phone"].text,
                },
            )
            await move_feedback(
                session, ctx, feedback_id, feedback.version, "RESOLVED", "已电话回复, 可在路桥窗口办理"
            )
            entry = await save_entry(
                session, ctx, {"question": "居住证办理需要多久?", "answer": "一般7个工作日。"}
            )
            case = await save_case(
                session,
                ctx,
                {
                    "title": "南充务工人员路桥补换社保卡",
                    "countyCode": "331004",
                    "partnerCode": "511300",
                    "summary": "群众在路桥区跨区域通办窗口申请, 两地联动三天办结。",
                    "published": True,
                },
            )
            synonym = await save_synonym(session, ctx, "社保卡、社会保障卡XK")
            activity = await create_activity(
                session,
                ctx,
                {
                    "kind": "CONSULTATION",
                    "partnerCode": "511300",
                    "localCode": "331004",
                    "heldOn": "2026-03-10",
                    "title": "南充—路桥通办会商",
                },
            )
            edition = await compile_edition(session, ctx, 2030, 5, [])
            ids: dict[str, Any] = {
                "feedback": feedback_id,
                "reference": reference,
                "faq": entry.id,
                "case": case.id,
                "synonym": synonym.id,
                "activity": activity.id,
                "edition": edition.id,
                "admin_name": admin_name,
            }
        async with database.read() as session:
            ids["agreement"] = (
                await session.execute(select(Agreement.id).where(Agreement.key == "nanchong-luqiao-2023"))
            ).scalar_one()
            ids["foreign_agreement"] = (
                await session.execute(select(Agreement.id).where(Agreement.key == "shangrao-yuhuan-2024"))
            ).scalar_one()
            ids["hall"] = (
                await session.execute(select(Hall.id).where(Hall.key == "luqiao-centre"))
            ).scalar_one()
            ids["contact"] = (
                await session.execute(select(Contact.id).where(Contact.key == "liaison-331004"))
            ).scalar_one()
            ids["group"] = (await session.execute(select(LiaisonGroup.id).limit(1))).scalar_one()
            ids["matter"] = (
                await session.execute(select(Matter.code).order_by(Matter.code).limit(1))
            ).scalar_one()
        return ids
    finally:
        await database.dispose()


async def plant_spare_account(settings: Settings) -> dict[str, Any]:
    """An account (with a token) the account pages may disable, reset and revoke without touching
    the four probing accounts."""
    from api.models import ApiToken, StaffUser
    from api.services.users import add_token

    name = await add_staff(settings, "county", "331003")
    database = Database(settings.database_url)
    try:
        async with database.write() as session:
            await add_token(session, SYSTEM, name)
        async with database.read() as session:
            user = (await session.execute(select(StaffUser).where(StaffUser.name == name))).scalar_one()
            token = (
                await session.execute(select(ApiToken.id).where(ApiToken.user_id == user.id))
            ).scalar_one()
        return {"spare_user": user.id, "spare_token": token}
    finally:
        await database.dispose()


async def plant_import_job(settings: Settings, name: str) -> dict[str, Any]:
    """A running import job started by the account `name`."""
    from api.models import StaffUser
    from api.services.base import Actor
    from api.services.import_jobs import start_job

    database = Database(settings.database_url)
    try:
        async with database.read() as session:
            user = (await session.execute(select(StaffUser).where(StaffUser.name == name))).scalar_one()
            tree = await load_tree(session)
        actor = Actor(user.name, user.role, user.region_code, "import", user.id)
        ctx = ServiceContext(actor=actor, tree=tree, home_city=settings.home_region)
        return {"import_job": await start_job(database, ctx, "check", "路桥大厅.xlsx")}
    finally:
        await database.dispose()


def _client(app: Any, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 40000), raise_app_exceptions=False),
        base_url="http://testserver",
    )


def _allowed(expected: Any, status: int) -> bool:
    if expected == OK:
        return status < 500 and status not in (401, 403, 404)
    return status == expected


def test_every_staff_route_is_in_the_access_table(app: Any) -> None:
    routes = set(staff_route_keys(list(app.routes)))
    missing = sorted(routes - set(ACCESS))
    assert not missing, (
        "staff routes without an access rule: add each to ACCESS in tests/security/test_staff_access.py "
        "(one entry per route with the status each role gets): " + ", ".join(missing)
    )
    stale = sorted(set(ACCESS) - routes)
    assert not stale, f"ACCESS names routes the app no longer has: {stale}"


async def test_every_staff_route_answers_each_role_as_the_table_says(app: Any, settings: Settings) -> None:
    names = {role: await add_staff(settings, *ACCOUNTS[role]) for role in ROLES}
    clients = {
        role: _client(app, ADDRESS if role == "admin" else f"10.0.0.{i + 1}") for i, role in enumerate(ROLES)
    }
    try:
        for role, client in clients.items():
            assert (await sign_in(client, names[role])).status_code == 303
        ids = await plant(settings, names["admin"])
        ids.update(await plant_spare_account(settings))
        ids.update(await plant_import_job(settings, names["county"]))
        tokens = {
            role: csrf_token((await client.get("/staff/feedback/new")).text)
            for role, client in clients.items()
        }
        failures: list[str] = []
        routes = set(staff_route_keys(list(app.routes)))
        keys = [key for key in ACCESS if key in routes]  # in the table's order: sign-out last
        for key in keys:
            method = key.split(" ", 1)[0]
            for item in ACCESS[key]:
                path = item.path.format(**ids)
                for role in ROLES:
                    client = clients[role]
                    if method == "GET":
                        response = await client.get(path, follow_redirects=False)
                    else:
                        response = await client.post(
                            path, data={"csrf_token": tokens[role]}, follow_redirects=False
                        )
                    expected = item.expect[role]
                    if not _allowed(expected, response.status_code):
                        failures.append(
                            f"{method} {path} as {role}: {response.status_code}, expected {expected}"
                        )
                    body = response.text if "text" in response.headers.get("content-type", "") else ""
                    for name, secret in SECRETS.items():
                        if role not in secret.visible_to and secret.text in body:
                            failures.append(f"{method} {path} as {role}: shows {name} ({secret.text})")
                        if (
                            name in item.shows
                            and role in secret.visible_to
                            and response.status_code == 200
                            and secret.text not in body
                        ):
                            failures.append(f"{method} {path} as {role}: should show {name}")
        assert not failures, "\n".join(failures)
    finally:
        for client in clients.values():
            await client.aclose()
