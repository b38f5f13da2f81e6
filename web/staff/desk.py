"""The window assistant (窗口端"不能挡", seed §三.(三).2) and the feedback workflow (问题反馈单).

The desk page answers a window clerk's question in one screen: can this person (home region) do
this matter here, why (the Catalog's explanation, naming the agreement), where, with which guide,
and whom to call on the partner side, with a feedback form already filled in for when something
still goes wrong. So no citizen is told "不知道".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload
from starlette.requests import Request
from starlette.responses import Response

from api.enums import FeedbackStatus
from api.models import Feedback, Matter
from api.services.base import BadInput, Conflict, Forbidden, NotFound
from api.services.dashboard import all_contacts, contact_view, contacts_for_region
from api.services.feedback import (
    CATEGORIES,
    TRANSITIONS,
    may_handle,
    move_feedback,
    response_overdue,
    submit_feedback,
)
from api.services.permissions import may_see_feedback, may_see_feedback_contact, visible_feedback_filter
from api.services.snapshots import published_guide
from web.staff.common import (
    county_choices,
    error_status,
    int_or_none,
    lookup_region,
    page,
    record_form,
    region_name,
    see_other,
    state,
)
from web.staff.forms import FeedbackForm, MoveForm, apply_errors
from web.staff.session import LOCAL_ROLES, Staff, make_form, staff_page

ACTIONS = {
    FeedbackStatus.RESPONDING.value: "响应(开始处理)",
    FeedbackStatus.RESOLVED.value: "办结(记录解决情况)",
    FeedbackStatus.ESCALATED.value: "上报市级",
}


def _feedback_form(request: Request, staff: Staff, formdata: Any = None, **data: Any) -> FeedbackForm:
    form = make_form(request, FeedbackForm, formdata, data=data or None)
    form.countyCode.choices = [("", "—")] + county_choices(staff)
    return form


@staff_page(*LOCAL_ROLES)
async def desk(request: Request, staff: Staff) -> Response:
    catalog = staff.catalog
    tree = catalog.tree
    home_text = request.query_params.get("home", "").strip()[:40]
    matter_code = request.query_params.get("matter", "").strip()[:40]
    found = await lookup_region(tree, home_text)
    home = found.code
    matter = catalog.matters.get(matter_code) if matter_code else None
    problems = []
    if found.problem:
        problems.append(found.problem)
    if matter_code and matter is None:
        problems.append(f"没有编码为 {matter_code} 的公开事项")
    context: dict[str, Any] = {
        "title": "窗口助手",
        "home_text": home_text,
        "home": home,
        "matter_code": matter_code,
        "matter": matter,
        "candidates": found.candidates,
        "problems": problems,
        "coverage": None,
        "halls": [],
        "guide": None,
        "liaisons": [],
        "local_liaisons": [],
        "feedback_form": None,
        "agreements": [],
        "matters_by_scope": _matters_by_scope(catalog),
    }
    if home is not None and matter is not None:
        coverage = catalog.coverage(home, matter.code)
        options = catalog.where_to_handle(home, matter.code) if coverage.covered else []
        async with state(request).db.read() as session:
            row = (
                await session.execute(
                    select(Matter).options(selectinload(Matter.guides)).where(Matter.code == matter.code)
                )
            ).scalar_one()
            contacts = await all_contacts(session)
        partner = (
            coverage.agreements[0].partner_code
            if coverage.agreements
            else (tree.city_of(home) or tree.province_of(home) or home)
        )
        own_county = staff.region_code if staff.is_county else ""
        context.update(
            coverage=coverage,
            halls=[
                (o, region_name(tree, o.county_code))
                for o in options
                if not own_county or o.county_code in (own_county, catalog.home_city)
            ]
            or [(o, region_name(tree, o.county_code)) for o in options],
            guide=published_guide(row),
            matter_row=row,
            agreements=[(a, [tree.name(c) for c in catalog.local_reach(a)]) for a in coverage.agreements],
            liaisons=[
                contact_view(c, tree)
                for c in contacts_for_region(contacts, tree, home)
                if not catalog.is_local(c.region_code)
            ],
            local_liaisons=[
                contact_view(c, tree) for c in contacts_for_region(contacts, tree, staff.region_code)
            ]
            if staff.is_county
            else [],
            home_name=tree.full_name(home),
            feedback_form=_feedback_form(
                request,
                staff,
                stage="DURING",
                matterCode=matter.code,
                homeRegionCode=home,
                countyCode=own_county,
                partnerCode=partner if not catalog.is_local(partner) else "",
            ),
        )
    return page(request, staff, "staff/desk.html", context, nav="desk")


def _matters_by_scope(catalog: Any) -> list[tuple[str, list[Any]]]:
    groups: dict[str, list[Any]] = {"CROSS_PROVINCE": [], "PROVINCE_WIDE": [], "CITYWIDE": []}
    for matter in sorted(catalog.matters.values(), key=lambda m: m.code):
        groups.setdefault(matter.scope, []).append(matter)
    return [(scope, items) for scope, items in groups.items() if items]


# ------------------------------------------------------------------ feedback


@staff_page()
async def feedback_list(request: Request, staff: Staff) -> Response:
    params = request.query_params
    status = params.get("status", "")
    county = params.get("county", "")
    partner = params.get("partner", "").strip()[:12]
    overdue_only = params.get("overdue") == "1"
    query = (
        select(Feedback)
        .where(visible_feedback_filter(staff.ctx()))
        .order_by(Feedback.created_at.desc(), Feedback.id.desc())
    )
    if status in FeedbackStatus.__members__:
        query = query.where(Feedback.status == status)
    if county:
        query = query.where(Feedback.county_code == county)
    if partner:
        query = query.where(Feedback.partner_code == partner)
    async with state(request).db.read() as session:
        items = list((await session.execute(query.limit(500))).scalars())
    today = staff.ctx().today
    rows = [(f, response_overdue(f, today)) for f in items]
    if overdue_only:
        rows = [r for r in rows if r[1]]
    tree = staff.catalog.tree
    partners = sorted({f.partner_code for f in items if f.partner_code}, key=lambda c: c)
    return page(
        request,
        staff,
        "staff/feedback_list.html",
        {
            "title": "问题反馈单",
            "rows": rows,
            "status": status,
            "county": county,
            "partner": partner,
            "overdue_only": overdue_only,
            "counties": county_choices(staff),
            "partners": [(c, region_name(tree, c)) for c in partners],
            "categories": CATEGORIES,
            "statuses": list(FeedbackStatus),
        },
        nav="feedback",
    )


@staff_page()
async def feedback_new(request: Request, staff: Staff) -> Response:
    if request.method == "GET":
        data = {
            k: request.query_params.get(k, "")[:40]
            for k in ("matterCode", "homeRegionCode", "countyCode", "partnerCode", "stage")
        }
        if staff.is_county and not data["countyCode"]:
            data["countyCode"] = staff.region_code
        if staff.is_partner and not data["partnerCode"]:
            data["partnerCode"] = staff.region_code
        return _render_feedback_new(request, staff, _feedback_form(request, staff, **data))
    form = _feedback_form(request, staff, await request.form())
    raw = {
        name: getattr(form, name).data
        for name in (
            "description",
            "stage",
            "category",
            "matterCode",
            "homeRegionCode",
            "countyCode",
            "partnerCode",
            "contact",
        )
    }
    try:
        async with state(request).db.write() as session:
            feedback = await submit_feedback(session, staff.ctx(), raw)
            feedback_id = feedback.id
    except BadInput as error:
        general = apply_errors(form, error.fields)
        return _render_feedback_new(request, staff, form, [error.message, *general], error_status(error))
    return see_other(f"/staff/feedback/{feedback_id}?saved=1")


def _render_feedback_new(
    request: Request, staff: Staff, form: FeedbackForm, general: list[str] | None = None, status: int = 200
) -> Response:
    return record_form(
        request,
        staff,
        form,
        title="填报问题反馈单",
        general=general,
        back="/staff/feedback",
        sections=[
            ("问题", ["description", "stage", "category"]),
            ("涉及", ["matterCode", "homeRegionCode", "countyCode", "partnerCode", "contact"]),
        ],
        action="/staff/feedback/new",
        status=status,
        nav="feedback",
    )


async def _load_feedback(request: Request, feedback_id: int) -> Feedback:
    async with state(request).db.read() as session:
        feedback = (
            await session.execute(
                select(Feedback).options(selectinload(Feedback.events)).where(Feedback.id == feedback_id)
            )
        ).scalar_one_or_none()
    if feedback is None:
        raise NotFound(f"没有编号为 {feedback_id} 的反馈单")
    return feedback


async def _render_feedback(
    request: Request,
    staff: Staff,
    feedback: Feedback,
    *,
    general: list[str] | None = None,
    status: int = 200,
    move_form: MoveForm | None = None,
    failed: str | None = None,
) -> Response:
    ctx = staff.ctx()
    current = FeedbackStatus(feedback.status)
    handle = may_handle(ctx, feedback)
    actions = []
    if handle:
        for target in sorted(TRANSITIONS[current], key=lambda s: list(FeedbackStatus).index(s)):
            text = "重新打开" if current == FeedbackStatus.RESOLVED else ACTIONS[target.value]
            form = (
                move_form
                if (move_form is not None and failed == target.value)
                else make_form(
                    request, MoveForm, data={"version": feedback.version, "to_status": target.value}
                )
            )
            actions.append((target.value, text, form))
    tree = staff.catalog.tree
    faq_link = (
        f"/staff/faq/entries/new?feedback={feedback.id}"
        if current == FeedbackStatus.RESOLVED and staff.is_local
        else None
    )
    return page(
        request,
        staff,
        "staff/feedback.html",
        {
            "title": f"问题反馈单 {feedback.reference}",
            "item": feedback,
            "actions": actions,
            "general": general or [],
            "overdue": response_overdue(feedback, ctx.today),
            "categories": CATEGORIES,
            "names": {
                k: region_name(tree, getattr(feedback, k))
                for k in ("home_region_code", "county_code", "partner_code")
            },
            "may_handle": handle,
            "faq_link": faq_link,
            "show_contact": may_see_feedback_contact(ctx, feedback),
            "saved": request.query_params.get("saved"),
        },
        status=status,
        nav="feedback",
    )


@staff_page()
async def feedback_detail(request: Request, staff: Staff) -> Response:
    feedback = await _load_feedback(request, int_or_none(request.path_params["id"]) or 0)
    if not may_see_feedback(staff.ctx(), feedback):
        raise Forbidden("无权查看这张反馈单")
    return await _render_feedback(request, staff, feedback)


@staff_page()
async def feedback_move(request: Request, staff: Staff) -> Response:
    feedback_id = int_or_none(request.path_params["id"]) or 0
    form = make_form(request, MoveForm, await request.form())
    target = (form.to_status.data or "").strip()
    try:
        async with state(request).db.write() as session:
            await move_feedback(
                session,
                staff.ctx(),
                feedback_id,
                int_or_none(form.version.data) or 0,
                target,
                (form.note.data or "").strip() or None,
            )
    except Conflict as error:
        feedback = await _load_feedback(request, feedback_id)
        return await _render_feedback(
            request,
            staff,
            feedback,
            general=[error.message, "页面已更新为最新状态, 您填写的说明仍保留在表单中。"],
            status=409,
            move_form=_refreshed(request, form, feedback),
            failed=target,
        )
    except BadInput as error:
        feedback = await _load_feedback(request, feedback_id)
        general = apply_errors(form, error.fields, {"status": "to_status"})
        return await _render_feedback(
            request,
            staff,
            feedback,
            general=[error.message, *general],
            status=error_status(error),
            move_form=form,
            failed=target,
        )
    return see_other(f"/staff/feedback/{feedback_id}?saved=1")


def _refreshed(request: Request, form: MoveForm, feedback: Feedback) -> MoveForm:
    fresh = make_form(
        request,
        MoveForm,
        data={"version": feedback.version, "to_status": form.to_status.data, "note": form.note.data},
    )
    return fresh
