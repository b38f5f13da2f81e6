"""Every path the web package serves, in one table: the public site (CONTRACT.md §6), the public
FAQ handbook and case collection, and the staff area under /staff.

`create_app()` appends these routes after /healthz, /readyz, /metrics and /graphql. Nothing is
discovered at run time: a page exists when it is listed here. The catch-all that turns any unknown
path into the helpful 404 page comes last.
"""

from __future__ import annotations

from typing import Any

from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route, request_response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Scope

from api.settings import Settings
from web import feeds, public, survey
from web.caching import conditional
from web.staff import (
    activities,
    agreements,
    auth_views,
    cockpit,
    contacts,
    desk,
    halls,
    handbook,
    health,
    history,
    imports,
    matters,
    partners,
    search_gaps,
    synonyms,
    throttles,
    users,
    webhooks,
)
from web.templating import STATIC_DIR

ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
READ = ["GET", "HEAD"]
GET = READ
POST = ["POST"]
BOTH = ["GET", "HEAD", "POST"]
GZIP_MINIMUM = 1000
#: a 28 KB results page: level 9 (Starlette's default) 360 us -> 4,501 bytes; level 5 258 us ->
#: 4,570 bytes. Every browser asks for gzip, so this is paid on most pages; 70 bytes are not.
GZIP_LEVEL = 5


def compressed(app: ASGIApp) -> ASGIApp:
    """gzip for browsers that accept it: a results page and htmx shrink to about a quarter, which
    matters on an old phone's connection. A response already encoded upstream passes through."""
    return GZipMiddleware(app, minimum_size=GZIP_MINIMUM, compresslevel=GZIP_LEVEL)


def page(path: str, handler: Any, methods: list[str] = READ, name: str | None = None) -> Route:
    return Route(path, compressed(request_response(handler)), methods=methods, name=name)


class CachedStaticFiles(StaticFiles):
    """Static files; a fingerprinted URL (`?v=<hash>`, see templating.static_url) may be cached
    for a year, anything else must be revalidated."""

    async def get_response(self, path: str, scope: Scope) -> Any:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            fingerprinted = b"v=" in scope.get("query_string", b"")
            response.headers["Cache-Control"] = (
                "public, max-age=31536000, immutable"
                if fingerprinted
                else "public, max-age=0, must-revalidate"
            )
        return response


def web_routes(settings: Settings) -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        page("/", conditional(public.lookup), name="lookup"),
        page("/search", conditional(public.search, uses_index=True), name="search"),
        page("/matters/{code}", conditional(public.matter_page), name="matter"),
        page("/lists", conditional(public.lists_index), name="lists"),
        page("/lists/{scope}", conditional(public.matter_list), name="matter_list"),
        page("/halls/{hall}", conditional(public.hall_page), name="hall"),
        page("/regions/suggest", public.region_suggest, name="region_suggest"),
        page("/regions/{code}", conditional(public.region_page), name="region"),
        Route("/prefs", public.set_prefs, methods=READ, name="prefs"),
        page("/feedback", public.feedback_form, name="feedback_form"),
        page("/feedback", public.feedback_submit, methods=["POST"], name="feedback_submit"),
        page("/feedback/thanks", public.feedback_thanks, name="feedback_thanks"),
        page("/survey", survey.survey_form, name="survey_form"),
        page("/survey", survey.survey_submit, methods=["POST"], name="survey_submit"),
        page("/survey/thanks", survey.survey_thanks, name="survey_thanks"),
        page("/feeds/changes.atom", feeds.changes_atom, name="changes_atom"),
        # the FAQ handbook (一册) and case collection (一集) that staff publish
        Route("/faq", handbook.public_faq, methods=GET, name="public_faq"),
        Route("/faq/{edition}", handbook.public_faq, methods=GET, name="public_faq_edition"),
        Route("/cases", handbook.public_cases, methods=GET, name="public_cases"),
        Mount("/static", app=compressed(CachedStaticFiles(directory=str(STATIC_DIR))), name="static"),
        # the staff area (工作台)
        Route("/staff", _to_staff_home, methods=GET),
        Mount("/staff", routes=staff_pages(), name="staff"),
        # last: any other path is the helpful 404 page
        page("/{path:path}", public.not_found, methods=ANY_METHOD, name="not_found"),
    ]
    return routes


def staff_pages() -> list[BaseRoute]:
    """The staff area's pages, relative to /staff."""
    return [
        Route("/", auth_views.home, methods=GET, name="staff_home"),
        Route("/login", auth_views.login, methods=BOTH, name="staff_login"),
        Route("/logout", auth_views.logout, methods=POST, name="staff_logout"),
        # the window assistant and feedback
        Route("/desk", desk.desk, methods=GET, name="staff_desk"),
        Route("/feedback", desk.feedback_list, methods=GET),
        Route("/feedback/new", desk.feedback_new, methods=BOTH),
        Route("/feedback/{id:int}", desk.feedback_detail, methods=GET),
        Route("/feedback/{id:int}/move", desk.feedback_move, methods=POST),
        # agreements (一地签约、全市共享)
        Route("/agreements", agreements.agreements_list, methods=GET),
        Route("/agreements/new", agreements.agreement_new, methods=BOTH),
        Route("/agreements/preview", agreements.agreement_preview, methods=POST),
        Route("/agreements/{id:int}", agreements.agreement_detail, methods=GET),
        Route("/agreements/{id:int}/edit", agreements.agreement_edit, methods=BOTH),
        # matters and guides
        Route("/matters", matters.matters_list, methods=GET),
        Route("/matters/new", matters.matter_new, methods=BOTH),
        Route("/matters/{code}", matters.matter_detail, methods=GET),
        Route("/matters/{code}/edit", matters.matter_edit, methods=BOTH),
        Route("/matters/{code}/guide", matters.guide_edit, methods=BOTH),
        Route("/matters/{code}/guide/publish", matters.guide_publish, methods=POST),
        Route("/matters/{code}/guide/discard", matters.guide_publish, methods=POST),
        Route("/matters/{code}/guide/diff", matters.guide_diff, methods=GET),
        # halls and windows
        Route("/halls", halls.halls_list, methods=GET),
        Route("/halls/new", halls.hall_new, methods=BOTH),
        Route("/halls/{id:int}/edit", halls.hall_edit, methods=BOTH),
        # contacts (一录) and liaison groups (一群)
        Route("/contacts", contacts.contacts_list, methods=GET),
        Route("/contacts/new", contacts.contact_new, methods=BOTH),
        Route("/contacts/{id:int}/edit", contacts.contact_edit, methods=BOTH),
        Route("/groups/new", contacts.group_form, methods=BOTH),
        Route("/groups/{id:int}/edit", contacts.group_form, methods=BOTH),
        # partner indices and tiers, search synonyms (admins)
        Route("/partners", partners.partners_list, methods=GET),
        Route("/partners/thresholds", partners.thresholds_save, methods=POST),
        Route("/partners/{code}", partners.partner_edit, methods=BOTH),
        Route("/search-gaps", search_gaps.search_gaps_page, methods=GET),
        Route("/search-gaps/teach", search_gaps.teach_question, methods=POST),
        Route("/synonyms", synonyms.synonyms_page, methods=BOTH),
        Route("/synonyms/{id:int}", synonyms.synonym_edit, methods=POST),
        Route("/synonyms/{id:int}/delete", synonyms.synonym_edit, methods=POST),
        # data import in the browser (数据导入)
        Route("/import", imports.import_page, methods=BOTH),
        Route("/import/template.xlsx", imports.import_template, methods=GET),
        Route("/import/jobs/{job:str}", imports.import_job, methods=GET),
        Route("/import/jobs/{job:str}/progress", imports.import_job_progress, methods=GET),
        # accounts and API tokens (admins)
        Route("/users", users.users_page, methods=BOTH),
        Route("/users/{id:int}/disable", users.user_active, methods=POST),
        Route("/users/{id:int}/enable", users.user_active, methods=POST),
        Route("/users/{id:int}/password", users.user_password, methods=POST),
        Route("/users/{id:int}/tokens/{token:int}/revoke", users.token_revoke, methods=POST),
        # change log
        Route("/history", history.history, methods=GET),
        Route("/history/{entity}/{key:path}", history.history, methods=GET),
        # 一册 and 一集
        Route("/faq", handbook.faq_home, methods=GET),
        Route("/faq/entries/new", handbook.faq_entry_new, methods=BOTH),
        Route("/faq/entries/{id:int}/edit", handbook.faq_entry_edit, methods=BOTH),
        Route("/faq/editions", handbook.faq_compile, methods=POST),
        Route("/faq/editions/{id:int}", handbook.faq_edition, methods=GET),
        Route("/faq/editions/{id:int}/publish", handbook.faq_publish, methods=POST),
        Route("/cases", handbook.cases_list, methods=GET),
        Route("/cases/new", handbook.case_new, methods=BOTH),
        Route("/cases/{id:int}/edit", handbook.case_edit, methods=BOTH),
        # 一表 and the dashboard
        Route("/table", cockpit.table, methods=GET),
        Route("/table.xlsx", cockpit.table_export, methods=GET),
        Route("/table.csv", cockpit.table_export, methods=GET),
        Route("/dashboard", cockpit.dashboard, methods=GET),
        Route("/health", health.health_page, methods=GET),
        Route("/outreach", cockpit.outreach, methods=POST),
        # cooperation work with partner regions (issue 21)
        Route("/activities", activities.activities_list, methods=GET),
        Route("/activities/new", activities.activity_new, methods=BOTH),
        Route("/activities/{id:int}/edit", activities.activity_edit, methods=BOTH),
        Route("/activities/partner/{code}", activities.partner_page, methods=GET),
        Route("/survey.xlsx", cockpit.survey_export, methods=GET),
        Route("/survey.csv", cockpit.survey_export, methods=GET),
        # sign-in throttles (admins)
        Route("/throttles", throttles.throttles, methods=GET),
        Route("/throttles/clear", throttles.throttle_clear, methods=POST),
        # partners' webhooks and their failed deliveries
        Route("/webhooks", webhooks.webhooks_list, methods=GET),
    ]


async def _to_staff_home(request: Request) -> Response:
    return RedirectResponse("/staff/", status_code=308)
