"""The dashboard (驾驶舱), the cooperation table (通办合作表, 一表) with its exports, and the
outreach visit log (上门服务)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from api.enums import ActivityKind, AgreementStatus, label
from api.services.activities import list_activities
from api.services.base import BadInput
from api.services.dashboard import (
    NO_TIER,
    RANKING_RULE,
    TABLE_COLUMNS,
    TIERS,
    TableFilters,
    all_contacts,
    build_dashboard,
    load_agreements,
    table_cell,
    table_rows,
)
from api.services.health import data_health
from api.services.outreach import list_visits, log_visit
from api.services.search_log import click_share
from api.services.surveys import list_responses, survey_summary
from web.staff import svg
from web.staff.common import county_choices, error_status, page, see_other, state
from web.staff.export import survey_to_csv, survey_to_xlsx, to_csv, to_xlsx
from web.staff.forms import OutreachForm, apply_errors
from web.staff.session import LOCAL_ROLES, Staff, make_form, staff_page


async def _rows(request: Request, staff: Staff) -> tuple[list[Any], TableFilters, list[Any]]:
    async with state(request).db.read() as session:
        agreements = await load_agreements(session)
        contacts = await all_contacts(session)
        activities = await list_activities(session, staff.ctx())
    all_rows = table_rows(agreements, contacts, staff.catalog, staff.ctx().today, activities)
    filters = TableFilters.from_query(request.query_params)
    return [r for r in all_rows if filters.accepts(r)], filters, all_rows


def _filters_text(filters: TableFilters, staff: Staff) -> str:
    tree = staff.catalog.tree
    parts = []
    if filters.province and filters.province in tree:
        parts.append(f"省份: {tree.name(filters.province)}")
    if filters.county and filters.county in tree:
        parts.append(f"县(市、区): {tree.name(filters.county)}")
    if filters.status:
        parts.append(f"状态: {label(filters.status)}")
    if filters.tier:
        parts.append(f"分级: {'未分级' if filters.tier == NO_TIER else label(filters.tier)}")
    if filters.year:
        parts.append(f"签约年份: {filters.year}")
    if filters.late == "1":
        parts.append("仅逾期登记")
    if filters.q:
        parts.append(f"关键词: {filters.q}")
    return "筛选: " + ", ".join(parts) if parts else "全部协议"


@staff_page(*LOCAL_ROLES)
async def table(request: Request, staff: Staff) -> Response:
    rows, filters, all_rows = await _rows(request, staff)
    tree = staff.catalog.tree
    provinces = sorted({(r.province_code, r.province_name) for r in all_rows})
    years = sorted({r.signed_on.year for r in all_rows}, reverse=True)
    query = "&".join(f"{k}={quote(v)}" for k, v in filters.as_dict().items())
    return page(
        request,
        staff,
        "staff/table.html",
        {
            "title": "通办合作表",
            "rows": rows,
            "filters": filters,
            "provinces": provinces,
            "years": years,
            "counties": county_choices(staff),
            "statuses": [s.value for s in AgreementStatus],
            "tiers": [*TIERS, NO_TIER],
            "columns": TABLE_COLUMNS,
            "cell": table_cell,
            "export_query": ("?" + query) if query else "",
            "filters_text": _filters_text(filters, staff),
            "today": staff.ctx().today,
            "city": tree.name(staff.catalog.home_city),
        },
        nav="table",
    )


@staff_page(*LOCAL_ROLES)
async def table_export(request: Request, staff: Staff) -> Response:
    rows, filters, _ = await _rows(request, staff)
    today = staff.ctx().today
    city = staff.catalog.tree.name(staff.catalog.home_city)
    name = f"通办合作表-{today.isoformat()}"
    if request.url.path.endswith(".csv"):
        body, media, ext = to_csv(rows), "text/csv; charset=utf-8", "csv"
    else:
        body = to_xlsx(rows, f"{city}跨区域通办合作表", today, _filters_text(filters, staff))
        media, ext = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"
    disposition = f"attachment; filename=\"tongban-table-{today.isoformat()}.{ext}\"; filename*=UTF-8''{quote(name)}.{ext}"
    return Response(
        body, media_type=media, headers={"Content-Disposition": disposition, "Cache-Control": "no-store"}
    )


def _outreach_form(request: Request, staff: Staff, formdata: Any = None, **data: Any) -> OutreachForm:
    form = make_form(request, OutreachForm, formdata, data=data or None)
    form.countyCode.choices = county_choices(staff, only_own=True)
    return form


async def _render_dashboard(
    request: Request, staff: Staff, form: OutreachForm, general: list[str] | None = None, status: int = 200
) -> Response:
    today = staff.ctx().today
    tree = staff.catalog.tree
    async with state(request).db.read() as session:
        board = await build_dashboard(session, staff.catalog, today)
        health = (await data_health(session, tree, staff.catalog.home_city, today)).figures()
        visits = await list_visits(session, limit=30)
        survey = await survey_summary(session, staff.catalog)
        search_clicks = await click_share(session)
    tree = staff.catalog.tree
    charts = {
        "per_year": svg.vertical_bars(
            [(str(y), float(n)) for y, n in board.per_year], "各年度签订的通办协议数", "份"
        ),
        "tiers": svg.stacked_tiers(
            [(name, counts, total) for _, name, counts, total in board.by_province],
            "合作地区按省份和四色分级",
        ),
        "three_day": svg.share_bar(
            [
                ("3日内更新", board.three_day["on_time"], "#2e7d32"),
                ("逾期更新", board.three_day["late"], "#c62828"),
                ("未记录登记日", board.three_day["unknown"], "#9e9e9e"),
            ],
            "通办合作表3日内更新情况",
        ),
        "reach": svg.horizontal_bars(
            [(c.name, float(c.partners_reached), "") for c in board.counties],
            "各县(市、区)可受理的合作地区数",
            "个",
        ),
        "ranking": svg.horizontal_bars([(c.name, c.score, "") for c in board.ranking], "比学赶超积分", "分"),
        "map": svg.hall_map(board.halls, "服务大厅分布图"),
    }
    return page(
        request,
        staff,
        "staff/dashboard.html",
        {
            "title": "驾驶舱",
            "board": board,
            "charts": charts,
            "visits": visits,
            "form": form,
            "general": general or [],
            "ranking_rule": RANKING_RULE,
            "county_names": {c: tree.name(c) for c in tree.local_counties(staff.catalog.home_city)},
            "saved": request.query_params.get("saved"),
            "search_clicks": search_clicks,
            "activity_table": activity_table(board, staff.catalog),
            "activity_kinds": [(k.value, label(k.value)) for k in ActivityKind],
            "survey": survey,
            "health": health,
            "index_alert": state(request).search.alert() if state(request).search is not None else None,
        },
        status=status,
        nav="dashboard",
    )


@staff_page(*LOCAL_ROLES)
async def dashboard(request: Request, staff: Staff) -> Response:
    form = _outreach_form(
        request,
        staff,
        countyCode=staff.region_code if staff.is_county else "",
        visitedOn=staff.ctx().today.isoformat(),
    )
    return await _render_dashboard(request, staff, form)


@staff_page(*LOCAL_ROLES)
async def outreach(request: Request, staff: Staff) -> Response:
    form = _outreach_form(request, staff, await request.form())
    raw = {
        "countyCode": form.countyCode.data,
        "place": form.place.data,
        "visitedOn": form.visitedOn.data,
        "peopleServed": form.peopleServed.data,
        "note": form.note.data,
    }
    try:
        async with state(request).db.write() as session:
            await log_visit(session, staff.ctx(), raw)
    except BadInput as error:
        general = [error.message, *apply_errors(form, error.fields)]
        return await _render_dashboard(request, staff, form, general, error_status(error))
    return see_other("/staff/dashboard?saved=outreach#outreach")


# ------------------------------------------------------------------ cooperation work and the needs survey (issue 21)


def activity_table(board: Any, catalog: Any) -> list[tuple[str, dict[str, int], int]]:
    """Activities per local side (the city first, then each county) and kind, with row totals."""
    tree = catalog.tree
    home = catalog.home_city
    rows = []
    for code in (home, *tree.local_counties(home)):
        counts = board.activity_counts.get(code, {})
        name = f"{tree.name(home)}(市本级)" if code == home else tree.name(code)
        rows.append((name, counts, sum(counts.values())))
    return rows


@staff_page(*LOCAL_ROLES)
async def survey_export(request: Request, staff: Staff) -> Response:
    """The needs survey's answers (and its summary) as XLSX or CSV, like the cooperation table."""
    today = staff.ctx().today
    async with state(request).db.read() as session:
        responses = await list_responses(session)
    catalog = staff.catalog
    if request.url.path.endswith(".csv"):
        body, media, ext = survey_to_csv(responses, catalog), "text/csv; charset=utf-8", "csv"
    else:
        body = survey_to_xlsx(
            responses, catalog, f"{catalog.tree.name(catalog.home_city)}跨区域办事需求调查", today
        )
        media, ext = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"
    name = f"需求调查-{today.isoformat()}"
    disposition = f"attachment; filename=\"tongban-survey-{today.isoformat()}.{ext}\"; filename*=UTF-8''{quote(name)}.{ext}"
    return Response(
        body, media_type=media, headers={"Content-Disposition": disposition, "Cache-Control": "no-store"}
    )
