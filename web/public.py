"""The citizen's pages (CONTRACT.md §6): lookup, results, matter guide, lists, hall, region, the
feedback form, display preferences, and the helpful 404 and 503 pages.

Every page works as plain HTML forms and links; htmx (when JavaScript runs) only swaps the results
fragment in place. `/search` answers `HX-Request` (but not a history restore) with the fragment
alone and always sends `Vary: HX-Request`, so a cache never serves one for the other.

Coverage and halls come from the in-memory catalog snapshot; a page of results costs two small
queries (the change mark, the matters' display details), never one per result.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple
from urllib.parse import quote_plus, urlencode

from markupsafe import Markup
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from api import rules
from api.db import database_unavailable
from api.enums import Role, label
from api.services import form_tokens
from api.services.base import Actor, BadInput, NotFound, ServiceError, UnknownRegion, today
from api.services.feedback import CATEGORIES, submit_feedback
from api.state import AppState, state_of
from search_index.query import MAX_QUERY_CHARS
from web import csrf, data, regions, search_tracking
from web.templating import (
    PREFS_COOKIE,
    page_url,
    prefs_cookie_value,
    prefs_of,
    query_string,
    render,
    render_page,
)
from web.views import (
    NATIONAL_PLATFORM_NAME,
    NATIONAL_PLATFORM_URL,
    SCOPE_SLUGS,
    SLUG_OF_SCOPE,
    Presenter,
    details_links,
)

log = logging.getLogger("tongban.web")

Handler = Callable[[Request], Awaitable[Response]]

MAX_QUERY = MAX_QUERY_CHARS  # the one cap on `q` (search_index.query); longer text is cut there
RESULTS_PER_PAGE = 10
AGREEMENTS_PER_PAGE = 20
SEARCH_DEPTH = 50
LIST_PAGE_SIZE = 200
VARY = {"Vary": "HX-Request"}
_CODE = re.compile(r"^\d{6}(?:\d{3})?$")
_MATTER_CODE = re.compile(r"^[\w.-]{1,40}$")
_REFERENCE = re.compile(r"^FK\d{8}-\d{5}-[0-9a-f]{4}$")


class PageNotFound(Exception):
    """Raised by a handler to answer with the helpful 404 page."""

    def __init__(self, message: str, what: str = "page") -> None:
        super().__init__(message)
        self.message = message
        self.what = what


# ------------------------------------------------------------------ plumbing


def _state(request: Request) -> AppState:
    return state_of(request)


def is_fragment_request(request: Request) -> bool:
    """htmx asks for the fragment; a history restore (cache miss) needs the whole page."""
    headers = request.headers
    return headers.get("hx-request") == "true" and headers.get("hx-history-restore-request") != "true"


def not_found_response(request: Request, message: str, what: str = "page") -> Response:
    return render(
        request,
        "errors/404.html",
        {"title": "没有找到这个页面", "message": message, "what": what},
        status_code=404,
        headers=VARY,
    )


def unavailable_response(request: Request) -> Response:
    return render(
        request,
        "errors/503.html",
        {"title": "服务暂时不可用"},
        status_code=503,
        headers={**VARY, "Retry-After": "30", "Cache-Control": "no-store"},
    )


def page(handler: Handler) -> Handler:
    """Unknown records become the helpful 404 page and an unreachable database the 503 page."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except PageNotFound as missing:
            return not_found_response(request, missing.message, missing.what)
        except (UnknownRegion, NotFound) as missing:
            return not_found_response(request, missing.message)
        except Exception as error:
            if database_unavailable(error):
                log.warning("database unavailable: %s: %s", type(error).__name__, error)
                try:
                    return unavailable_response(request)
                except Exception:  # the 503 page itself must not fail
                    return Response("服务暂时不可用，请稍后再试。", status_code=503, media_type="text/plain")
            raise

    return wrapped


async def snapshot(request: Request) -> tuple[Any, data.HallDirectory]:
    catalog = await _state(request).catalog.get()
    return catalog, data.hall_directory(catalog)


def _param(request: Request, name: str, max_len: int = 40) -> str:
    value = request.query_params.get(name, "")
    return value.strip()[:max_len]


def _page_number(request: Request) -> int:
    try:
        return min(max(1, int(request.query_params.get("page", "1"))), 1000)
    except ValueError:
        return 1


async def parse_home(request: Request, tree: rules.RegionTree) -> tuple[str | None, str | None]:
    """The home region from `home`, or from the chooser's selects (county, city, province), or
    from the place typed in `region_q` when it reads as one region (四川南充 → 南充市; an
    ambiguous 朝阳 is asked on the lookup page).

    Returns (code, problem); an unknown code is a problem to show, never an exception.
    """
    raw = _param(request, "home")
    if not raw:
        chosen = regions.chooser(
            tree, _param(request, "province"), _param(request, "city"), _param(request, "county")
        ).chosen
        typed = _param(request, "region_q", 30)
        if chosen is None and typed:
            chosen = (await regions.read_home(tree, typed)).chosen
        return chosen, None
    if _CODE.match(raw) and raw in tree:
        return raw, None
    return None, f"没有找到代码为“{raw[:20]}”的地区。请在下面重新选择你的户籍地（参保地）。"


Highlighter = Callable[[list[str]], dict[str, str | None]]


def _fallback_hits(catalog: Any, text: str, limit: int) -> list[tuple[str, float]]:
    """While the search index is not ready: matter names containing the words typed."""
    words = [w for w in re.split(r"[\s,，、]+", text) if w]
    if not words:
        return []
    found = []
    for matter in catalog.matters.values():
        matched = sum(1 for w in words if w in matter.name)
        if matched:
            found.append((matter.code, float(matched)))
    found.sort(key=lambda h: (-h[1], h[0]))
    return found[:limit]


def run_search(
    request: Request, catalog: Any, text: str, limit: int
) -> tuple[list[tuple[str, float]], Highlighter, bool]:
    """(hits, highlighter, degraded): the index's hits (code, score) for published matters, or name
    matching without it. The highlighter marks the matched words for the hits a page shows."""
    search = _state(request).search
    if search is not None and search.is_ready():
        try:
            answer = search.find(text, limit)
            if answer is None:
                return [], _no_highlights, False
            hits = [(code, score) for code, score in answer.scored() if code in catalog.matters]
            return hits, answer.highlights, False
        except Exception:
            log.exception("search failed; falling back to name matching")
    return _fallback_hits(catalog, text, limit), _no_highlights, True


def _no_highlights(codes: list[str]) -> dict[str, str | None]:
    return dict.fromkeys(codes)


NEAR_KEY = "web.public.near"  # `Catalog.views`: the points the `near` values stand for
NEAR_REMEMBERED = 1_000


def resolve_near(request: Request, catalog: Any, directory: Any) -> tuple[regions.Near | None, str | None]:
    """`regions.resolve_near` for this request's `near`, once per value and snapshot: a place name
    stands for the mean point of the halls in it, which walks every hall."""
    raw = _param(request, "near", 60)
    known: dict[str, tuple[regions.Near | None, str | None]] = catalog.views.setdefault(NEAR_KEY, {})
    found = known.get(raw)
    if found is None:
        found = regions.resolve_near(raw, catalog.tree, catalog.home_city, directory.ordered)
        if len(known) >= NEAR_REMEMBERED:  # any text may be typed: bounded
            known.clear()
        known[raw] = found
    return found


def _near_context(tree: rules.RegionTree, home_city: str, near: regions.Near | None) -> dict[str, Any]:
    return {
        "near": near,
        "near_raw": near.raw if near else "",
        "near_groups": regions.near_options(tree, home_city),
    }


def _home_context(catalog: Any, home: str | None) -> dict[str, Any]:
    tree = catalog.tree
    if home is None:
        return {"home": None, "home_name": "", "home_is_local": False}
    return {"home": home, "home_name": tree.full_name(home), "home_is_local": catalog.is_local(home)}


def _feedback_context(
    matter: str | None = None,
    home: str | None = None,
    near: regions.Near | None = None,
    place: str | None = None,
) -> dict[str, str]:
    """Hidden fields of the feedback form: what the page was about, so staff can route the report."""
    context = {}
    if matter:
        context["matterCode"] = matter
    if home:
        context["homeRegionCode"] = home
    place = place or (near.region_code if near is not None else None)
    if place:
        context["countyCode"] = place
    return context


# ------------------------------------------------------------------ lookup and results


@page
async def lookup(request: Request) -> Response:
    """The lookup: what matter, where is your home region, where are you now."""
    catalog, directory = await snapshot(request)
    tree = catalog.tree
    home, home_problem = await parse_home(request, tree)
    near, near_problem = resolve_near(request, catalog, directory)
    chooser = regions.chooser(
        tree, _param(request, "province"), _param(request, "city"), _param(request, "county")
    )
    region_q = _param(request, "region_q", 30)
    reading, suggestions = await regions.place_suggestions(tree, region_q) if region_q else (None, [])
    # a home given as a code, or typed so that it reads as one region, is chosen; the selects are not
    typed_home = chooser.chosen is None and bool(region_q)
    explicit_home = home is not None and (bool(_param(request, "home")) or typed_home)
    context = {
        "title": "查一查：在台州能不能办、去哪里办",
        "nav_current": "lookup",
        "q": _param(request, "q", MAX_QUERY),
        "chooser": chooser,
        "explicit_home": explicit_home,
        "home_problem": home_problem,
        "near_problem": near_problem,
        "region_q": region_q,
        "suggestions": suggestions,
        "reading": reading,
        "city_name": tree.name(catalog.home_city),
        **_home_context(catalog, home if explicit_home else None),
        **_near_context(tree, catalog.home_city, near),
        "feedback_context": _feedback_context(home=home, near=near),
    }
    return render(request, "lookup.html", context, status_code=404 if home_problem else 200, headers=VARY)


@page
async def search(request: Request) -> Response:
    """Results: each matter with the coverage answer for that home, modes, nearest halls, reason."""
    catalog, directory = await snapshot(request)
    tree = catalog.tree
    text = _param(request, "q", MAX_QUERY)
    home, home_problem = await parse_home(request, tree)
    if (
        home is None
        and not home_problem
        and _param(request, "region_q", 30)
        and not is_fragment_request(request)
    ):
        # Enter pressed in the lookup's place-name box without JavaScript: show the place matches.
        query = urlencode(
            [(k, v) for k, v in request.query_params.multi_items() if k != "pick"] + [("pick", "1")]
        )
        return RedirectResponse("/?" + query, status_code=303, headers=VARY)
    near, near_problem = resolve_near(request, catalog, directory)
    presenter = Presenter(catalog, directory, today())
    lat, lon = (near.lat, near.lon) if near else (None, None)
    near_raw = near.raw if near else None

    page_number = _page_number(request)
    cards: list[Markup] = []  # each shown result's compact card (Presenter.card)
    search_id: str | None = None
    degraded = False
    found = covered = 0
    if text:
        hits, highlights, degraded = run_search(request, catalog, text, SEARCH_DEPTH)
        # Whether each hit is covered comes from the in-memory snapshot (no query, no sentence), so
        # the covered matters can go first across all pages; the shown page gets the explanations.
        codes = [code for code, _ in hits]
        yes = catalog.covered_each(home, codes, presenter.day) if home else dict.fromkeys(codes, True)
        ranked = sorted(hits, key=lambda h: 0 if yes[h[0]] else 1)
        found = len(ranked)
        covered = sum(yes.values()) if home else 0
        shown = ranked[(page_number - 1) * RESULTS_PER_PAGE : page_number * RESULTS_PER_PAGE]
        matters = data.result_matters(catalog, [code for code, _ in shown])
        shown = [(code, score) for code, score in shown if code in matters]
        marked = highlights([code for code, _ in shown])
        # issue 16's search log: first pages only; each result link carries `s=<search_id>`
        search_id = (
            search_tracking.record_search(request, text, [code for code, _ in shown], found)
            if page_number == 1
            else None
        )
        link = details_links(home, near_raw, search_id)
        for code, _score in shown:
            cards.append(Markup(presenter.card(matters[code], marked[code], home, lat, lon, link(code))))
    pages = max(1, -(-found // RESULTS_PER_PAGE))

    summary = presenter.summary(catalog.coverage(home, None, presenter.day)) if home and not text else None
    home_level_hint = bool(
        home and tree.place(home).level == "PROVINCE" and regions.home_children(tree, home)
    )
    if not text:
        status_text = "请输入要办的事，例如“社保卡”“户口迁移”“公积金”。"
    elif not found:
        status_text = f"没有找到与“{text}”相关的事项。"
    elif home and not covered:
        status_text = (
            f"找到 {found} 个事项，目前都不能在{presenter.city_short}直接办理；每项下面写了可以怎么办。"
        )
    elif home:
        status_text = f"找到 {found} 个事项，其中 {covered} 个可以在{presenter.city_short}办理。"
    else:
        status_text = f"找到 {found} 个事项。选择户籍地后可告诉你能否在{presenter.city_short}办理。"
    if pages > 1:
        status_text += f"（第 {page_number}/{pages} 页）"
    title = f"“{text}”的查询结果" if text else "查询结果"
    fragment = is_fragment_request(request)
    # search.html and _results.html are rendered with holes (render_page): the flags choose what
    # they write, the strings (links made here) are only printed
    shape = {
        "nav_current": "lookup",
        "fragment": fragment,
        "degraded": degraded,
        "home_level_hint": home_level_hint,
        "summary_covered": summary.covered if summary else False,
        "paged": pages > 1,
    }
    home_code = home or ""
    holes = {
        "title": title,
        "q": text,
        "home": home_code,
        "home_name": tree.full_name(home) if home else "",
        "near_raw": near_raw or "",
        "near_description": near.description if near else "",
        "home_problem": home_problem or "",
        "near_problem": near_problem or "",
        "status_text": status_text,
        "city_short": presenter.city_short,
        "summary_headline": summary.headline if summary else "",
        "summary_explanation": summary.explanation if summary else "",
        "cards": Markup("\n").join(cards),
        "page": str(page_number),
        "pages": str(pages),
        **search_links(text, home, near_raw, page_number, pages),
    }
    return render_page(
        request,
        "_results.html" if fragment else "search.html",
        shape,
        holes,
        feedback_context=_feedback_context(home=home, near=near),
        status_code=404 if home_problem else 200,
        headers=VARY,
    )


def search_links(
    text: str, home: str | None, near: str | None, page_number: int, pages: int
) -> dict[str, str]:
    """The results page's links, each `"/…" + query_string({...})` of its values, with each value
    quoted once (the question was quoted five times a page; a test holds them equal)."""
    q, h, n = (quote_plus(v) if v else "" for v in (text, home, near))

    def query(*pairs: tuple[str, str]) -> str:
        found = "&".join(f"{name}={value}" for name, value in pairs if value)
        return "?" + found if found else ""

    def page_href(number: int) -> str:
        return "/search" + query(("q", q), ("home", h), ("near", n), ("page", str(number)))

    return {
        "home_pick_href": "/" + query(("q", q), ("near", n)),
        "near_change_href": "/" + query(("q", q), ("home", h), ("near", n)),
        "near_pick_href": "/" + query(("q", q), ("home", h)),
        "cross_list_href": "/lists/cross-province" + query(("home", h)),
        "prev_href": page_href(page_number - 1) if page_number > 1 else "",
        "next_href": page_href(page_number + 1) if page_number < pages else "",
    }


# ------------------------------------------------------------------ matters and lists


@page
async def matter_page(request: Request) -> Response:
    """The unified guide and, with ?home=, where to handle it."""
    code = request.path_params["code"]
    catalog, directory = await snapshot(request)
    if not _MATTER_CODE.match(code) or code not in catalog.matters:
        raise PageNotFound(f"没有找到编码为“{code[:40]}”的事项。它可能已下线，或编码有误。", "matter")
    async with _state(request).db.read() as session:
        matter = await data.matter_with_guide(session, code)
    if matter is None:
        raise PageNotFound(f"没有找到编码为“{code[:40]}”的事项。", "matter")
    search_tracking.record_click(request, code)  # opened from a search result (`?s=`)
    tree = catalog.tree
    home, home_problem = await parse_home(request, tree)
    choosing = bool(request.query_params.get("pick"))
    if choosing:
        home = None  # still moving down province → city → county: no answer yet
    near, near_problem = resolve_near(request, catalog, directory)
    presenter = Presenter(catalog, directory, today())
    lat, lon = (near.lat, near.lon) if near else (None, None)
    result = presenter.result(matter, None, 0.0, home, lat, lon, halls_shown=100)
    region_q = _param(request, "region_q", 30)
    context = {
        "title": matter.name,
        "nav_current": "lists",
        "matter": matter,
        "result": result,
        "list_slug": SLUG_OF_SCOPE.get(matter.scope, "cross-province"),
        "home_problem": home_problem,
        "near_problem": near_problem,
        "city_short": presenter.city_short,
        "platform_url": NATIONAL_PLATFORM_URL,
        "platform_name": NATIONAL_PLATFORM_NAME,
        "chooser": regions.chooser(
            tree, _param(request, "province"), _param(request, "city"), _param(request, "county")
        ),
        "explicit_home": home is not None,
        "region_q": region_q,
        "suggestions": (await regions.place_suggestions(tree, region_q))[1] if region_q else [],
        "sample_notice": matter.sample
        or (matter.guide is not None and matter.guide.sample)
        or matter.modes_sample,
        **_home_context(catalog, home),
        **_near_context(tree, catalog.home_city, near),
        "feedback_context": _feedback_context(matter=code, home=home, near=near),
    }
    return render(request, "matter.html", context, status_code=404 if home_problem else 200, headers=VARY)


@page
async def lists_index(request: Request) -> Response:
    catalog = await _state(request).catalog.get()
    counts = data.scope_counts(catalog)
    lists = [(slug, scope, counts.get(scope, 0)) for slug, scope in SCOPE_SLUGS.items()]
    return render(request, "lists.html", {"title": "通办事项清单", "nav_current": "lists", "lists": lists})


@page
async def matter_list(request: Request) -> Response:
    slug = request.path_params["scope"]
    scope = SCOPE_SLUGS.get(slug)
    if scope is None:
        raise PageNotFound(f"没有“{slug[:30]}”这份清单。可以看跨省通办、全省通办、全市通办三份清单。", "list")
    try:
        page_number = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page_number = 1
    async with _state(request).db.read() as session:
        total, matters = await data.matter_list(
            session, scope, (page_number - 1) * LIST_PAGE_SIZE, LIST_PAGE_SIZE
        )
    pages = max(1, -(-total // LIST_PAGE_SIZE))
    if page_number > pages:
        raise PageNotFound(f"这份清单只有 {pages} 页。", "list")
    home = _param(request, "home")
    context = {
        "title": f"{label(scope)}事项清单",
        "nav_current": "lists",
        "scope": scope,
        "slug": slug,
        "matters": matters,
        "total": total,
        "page": page_number,
        "pages": pages,
        "home": home if _CODE.match(home) else "",
        "sample_notice": any(m.sample for m in matters),
    }
    return render(request, "list.html", context)


# ------------------------------------------------------------------ halls and regions


@page
async def hall_page(request: Request) -> Response:
    raw = request.path_params["hall"]
    catalog, directory = await snapshot(request)
    hall = None
    if raw.isdigit() and len(raw) <= 10:
        hall = directory.by_id.get(int(raw))
    elif len(raw) <= 80:
        found = next((h for h in directory.ordered if h.key == raw), None)
        if found is not None:
            return RedirectResponse(found.url, status_code=301)
    if hall is None:
        raise PageNotFound(f"没有找到编号为“{raw[:20]}”的服务大厅。", "hall")
    async with _state(request).db.read() as session:
        listed = await data.hall_matter_codes(session, hall.id)
    cross_count = sum(1 for m in catalog.matters.values() if m.scope == "CROSS_PROVINCE")
    tree = catalog.tree
    county = tree.county_of(hall.region_code) if hall.region_code in tree else None
    neighbours = [
        h for h in directory.ordered if h.id != hall.id and county and tree.contains(county, h.region_code)
    ]
    context = {
        "title": hall.name,
        "nav_current": "",
        "hall": hall,
        "listed": listed,
        "cross_count": cross_count,
        "neighbours": neighbours,
        "county_code": county,
        "sample_notice": hall.sample,
        "feedback_context": _feedback_context(place=hall.region_code),
    }
    return render(request, "hall.html", context)


class InnerPartner(NamedTuple):
    """A region inside the one shown that signed with the home city: how many agreements, any in force."""

    agreements: int
    in_force: bool


@page
async def region_page(request: Request) -> Response:
    """For people from that region: agreements in force and what they cover, counties reached,
    pairing relations (not agreements), the tier and the two indices behind it."""
    code = request.path_params["code"]
    catalog, directory = await snapshot(request)
    tree = catalog.tree
    if not _CODE.match(code) or code not in tree:
        raise PageNotFound(
            f"没有找到代码为“{code[:20]}”的地区。地区代码是6位数字（乡镇街道为9位），例如四川省南充市是 511300。",
            "region",
        )
    presenter = Presenter(catalog, directory, today())
    place = tree.place(code)
    is_local = catalog.is_local(code)
    summary = presenter.summary(catalog.coverage(code, None, presenter.day))

    if is_local:
        county = tree.county_of(code)
        relevant = [a for a in catalog.agreements if county is None or county in catalog.local_reach(a)]
        inner: list[rules.AgreementFacts] = []
    else:
        relevant = list(catalog.agreements_for_home(code))
        inner = list(catalog.agreements_inside(code))
    extra = await data.region_details(_state(request), catalog)
    details = extra.agreements
    relations = extra.relations_touching(tree, code)
    # In force first, then by signing date; a page of them at a time (the home city's own page lists
    # every agreement signed with any county, hundreds at scale, which no one reads on one page).
    day = presenter.day
    ordered = sorted(relevant, key=lambda a: (not rules.in_force(a, day), a.signed_on))
    in_force_total = sum(1 for a in ordered if rules.in_force(a, day))
    page_number = _page_number(request)
    pages = max(1, -(-len(ordered) // AGREEMENTS_PER_PAGE))
    if page_number > pages:
        raise PageNotFound(f"“{tree.full_name(code)}”的协议只有 {pages} 页。", "region")
    shown = ordered[(page_number - 1) * AGREEMENTS_PER_PAGE : page_number * AGREEMENTS_PER_PAGE]
    views = [presenter.agreement(a, details.get(int(a.id))) for a in shown]
    in_force = [v for v in views if v.in_force]
    not_in_force = [v for v in views if not v.in_force]
    # the regions inside that signed: each named with its count of agreements and whether any is in
    # force (a province's page has hundreds; no agreement view is needed for that)
    inner_by_partner: dict[str, InnerPartner] = {}
    for agreement in sorted(inner, key=lambda a: a.partner_code):
        seen = inner_by_partner.get(agreement.partner_code, InnerPartner(0, False))
        inner_by_partner[agreement.partner_code] = InnerPartner(
            seen.agreements + 1, seen.in_force or rules.in_force(agreement, day)
        )

    indices = catalog.partner_indices(code)
    tier = catalog.tier(code)
    halls = [h for h in directory.ordered if tree.contains(code, h.region_code)] if is_local else []
    children = [
        regions.Option(c, tree.name(c))
        for c in tree.children(code)
        if (p := tree.get(c)) and p.level != "TOWN"
    ]
    chain = [regions.Option(c, tree.name(c)) for c in reversed(tree.ancestors(code))]
    context = {
        "title": f"{tree.full_name(code)}：跨省通办协议与办事指引",
        "nav_current": "",
        "place": place,
        "full_name": tree.full_name(code),
        "chain": chain,
        "is_local": is_local,
        "summary": summary,
        "in_force": in_force,
        "not_in_force": not_in_force,
        "in_force_total": in_force_total,
        "not_in_force_total": len(ordered) - in_force_total,
        "page": page_number,
        "pages": pages,
        "inner_by_partner": inner_by_partner,
        "relations": relations,
        "indices": indices,
        "indices_date": indices.updated_at if indices else None,
        "tier": tier,
        "thresholds": catalog.thresholds,
        "halls": halls,
        "children": children,
        "city_short": presenter.city_short,
        "city_name": presenter.city_name,
        "county_count": len(presenter.counties),
        "names": presenter.names,
        "full": presenter.full_name,
        "sample_notice": bool(indices and indices.sample)
        or any(v.details and v.details.sample for v in views),
        "feedback_context": _feedback_context(home=code),
    }
    return render(request, "region.html", context)


@page
async def region_suggest(request: Request) -> Response:
    """Type-ahead for the home region, by name or pinyin: an HTML list of links (htmx), or JSON."""
    catalog = await _state(request).catalog.get()
    region_text = _param(request, "region_q", 30)
    # `region_q` when sent by the lookup form (whose `q` is the matter); plain `q` for API use.
    text = region_text or _param(request, "q", MAX_QUERY)
    reading, entries = await regions.place_suggestions(catalog.tree, text) if text else (None, [])
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(
            [{"code": e.code, "name": e.name, "fullName": e.full_name, "level": e.level} for e in entries],
            headers=VARY,
        )
    keep = {"q": _param(request, "q", MAX_QUERY) if region_text else "", "near": _param(request, "near", 60)}
    target = _param(request, "to", 60)
    if re.match(r"^/matters/[\w.-]{1,40}$", target):
        keep = {"to": target, "near": keep["near"]}
    context = {"suggestions": entries, "region_q": text, "keep": keep, "reading": reading}
    return render(request, "_region_suggestions.html", context, headers=VARY)


# ------------------------------------------------------------------ preferences


def safe_back(value: str | None) -> str:
    """Only a path on this site (never //host or a scheme): an open redirect helps phishers."""
    value = (value or "").strip()
    if (
        not value.startswith("/")
        or value.startswith("//")
        or value.startswith("/\\")
        or any(ord(c) < 32 for c in value)
    ):
        return "/"
    return value[:1000]


async def set_prefs(request: Request) -> Response:
    """`/prefs?text=large|normal&contrast=high|normal&back=/path`: a plain link, no JavaScript needed."""
    prefs = set(prefs_of(request))
    text = request.query_params.get("text")
    contrast = request.query_params.get("contrast")
    if text == "large":
        prefs.add("large")
    elif text == "normal":
        prefs.discard("large")
    if contrast == "high":
        prefs.add("contrast")
    elif contrast == "normal":
        prefs.discard("contrast")
    response = RedirectResponse(safe_back(request.query_params.get("back")), status_code=303)
    response.set_cookie(
        PREFS_COOKIE,
        prefs_cookie_value(frozenset(prefs)),
        max_age=365 * 24 * 3600,
        path="/",
        httponly=False,
        samesite="lax",
        secure=bool(getattr(_state(request).settings, "https_only", False)),
    )
    return response


# ------------------------------------------------------------------ feedback


FEEDBACK_FIELDS = ("description", "stage", "category", "contact")
HIDDEN_FIELDS = ("matterCode", "homeRegionCode", "countyCode", "pageUrl")
FIELD_IDS = {
    "description": "fb-description",
    "stage": "fb-stage",
    "category": "fb-category",
    "contact": "fb-contact",
}


def _feedback_page(
    request: Request, values: dict[str, str], errors: dict[str, str], general: str | None, status: int
) -> Response:
    context = {
        "title": "反馈问题",
        "feedback": {"values": values, "errors": errors, "general": general},
        "feedback_open": True,
        "feedback_context": {k: values[k] for k in HIDDEN_FIELDS if values.get(k)},
        "categories": CATEGORIES,
        "back": safe_back(values.get("pageUrl")),
        "standalone": True,
    }
    return render(request, "feedback.html", context, status_code=status)


@page
async def feedback_form(request: Request) -> Response:
    values = {k: _param(request, k, 500) for k in HIDDEN_FIELDS}
    values["pageUrl"] = safe_back(
        values.get("pageUrl") or request.headers.get("referer", "").partition(request.url.netloc)[2]
    )
    return _feedback_page(request, values, {}, None, 200)


@page
async def feedback_submit(request: Request) -> Response:
    """File an anonymous feedback form; errors re-render with the input kept, success → 303."""
    form = await request.form()
    values = {k: str(form.get(k, ""))[:4000] for k in (*FEEDBACK_FIELDS, *HIDDEN_FIELDS)}
    values["pageUrl"] = safe_back(values["pageUrl"])
    nonce = csrf.verified_nonce(request, str(form.get(csrf.FIELD, "")))
    if nonce is None:
        message = (
            "提交没有成功：请先允许本网站使用 Cookie，再提交一次。"
            if csrf.COOKIE not in request.cookies
            else "提交没有成功：页面停留时间过长或已过期。你填写的内容还在，请再点一次“提交反馈”。"
        )
        return _feedback_page(request, values, {}, message, 403)

    catalog = await _state(request).catalog.get()
    tree = catalog.tree
    raw: dict[str, Any] = {k: values[k] for k in FEEDBACK_FIELDS if values[k].strip()}
    if values["category"] and values["category"] not in CATEGORIES:
        raw.pop("category")
    if values["stage"] and values["stage"] not in ("BEFORE", "DURING", "AFTER"):
        raw.pop("stage")
    for key in ("homeRegionCode", "countyCode"):
        code = values[key].strip()
        if code in tree and (key != "countyCode" or rules.local_county_of(tree, catalog.home_city, code)):
            raw[key] = code
    if _MATTER_CODE.match(values["matterCode"].strip()):
        raw["matterCode"] = values["matterCode"].strip()
    raw["pageUrl"] = values["pageUrl"]
    actor = Actor(name="公众", role=Role.PARTNER, region_code=None, via="public")
    try:
        async with _state(request).db.write() as session:
            if not await form_tokens.spend(session, nonce):
                raise TokenSpent
            feedback = await submit_feedback(session, catalog.service_context(actor), raw)
            reference = feedback.reference
    except (TokenSpent, IntegrityError):
        return _feedback_page(
            request,
            values,
            {},
            "这份反馈已经提交过了(同一张表单只能提交一次)。如需再次提交, 请再点一次“提交反馈”。",
            409,
        )
    except BadInput as error:
        errors = {}
        for field_error in error.fields:
            name = field_error.field if field_error.field in FEEDBACK_FIELDS else "description"
            errors.setdefault(name, field_error.message)
        return _feedback_page(request, values, errors, "请按提示修改后再提交。", 400)
    except ServiceError as error:
        return _feedback_page(request, values, {}, error.message, 400)
    target = "/feedback/thanks" + query_string({"ref": reference, "back": values["pageUrl"]})
    return RedirectResponse(target, status_code=303)


class TokenSpent(Exception):
    """The form's one-time token was used already."""


@page
async def feedback_thanks(request: Request) -> Response:
    reference = request.query_params.get("ref", "")
    context = {
        "title": "反馈已收到",
        "reference": reference if _REFERENCE.match(reference) else None,
        "back": safe_back(request.query_params.get("back")),
    }
    return render(request, "feedback_thanks.html", context)


# ------------------------------------------------------------------ everything else


async def not_found(request: Request) -> Response:
    """Any other path: the helpful 404 page (search box, lists, hotline), never a bare "Not Found"."""
    return not_found_response(request, f"网址“{page_url(request)[:80]}”没有对应的页面。")
