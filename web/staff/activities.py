"""Cooperation work with partner regions (合作交流活动): the list with the three due lists, the
form to record or change an activity, and each partner region's cooperation page (its agreements
next to its activities).

Same shape as the other record forms: GET renders (403 before anything is shown when the account
may not record for that county), POST builds the import-format dict and saves it through
`common.save_form`; field errors come back next to their fields with the input kept (422), a stale
version shows both versions (409), success is a 303.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.widgets import NumberInput

from api.enums import ActivityKind, label
from api.models import Activity
from api.records import ACTIVITY
from api.services.activities import (
    activity_snapshot,
    due_lists,
    latest_per_partner,
    list_activities,
    load_activity,
    save_activity,
)
from api.services.base import Forbidden, NotFound, ServiceError
from api.services.dashboard import all_contacts, load_agreements, table_rows
from api.services.permissions import may_read_partner_work, may_record_activity
from web.staff.common import (
    county_choices,
    fetch,
    int_or_none,
    lookup_region,
    page,
    record_form,
    region_name,
    save_form,
    see_other,
    state,
)
from web.staff.forms import LooseSelect, date_field
from web.staff.session import LOCAL_ROLES, Staff, StaffForm, make_form, staff_page

KINDS = [(k.value, label(k.value)) for k in ActivityKind]


class ActivityForm(StaffForm):
    version = HiddenField()
    kind = LooseSelect(ACTIVITY.form_label("kind"))
    partnerCode = StringField(ACTIVITY.form_label("partnerCode"))
    localCode = LooseSelect(ACTIVITY.form_label("localCode"))
    heldOn = date_field(ACTIVITY.form_label("heldOn"))
    title = StringField(ACTIVITY.form_label("title"))
    participants = StringField(ACTIVITY.form_label("participants"), widget=NumberInput(min=0))
    outcome = TextAreaField(ACTIVITY.form_label("outcome"))


SECTIONS = [
    ("合作交流活动", ["kind", "partnerCode", "localCode", "heldOn", "title", "participants", "outcome"])
]


def _form(request: Request, staff: Staff, formdata: Any = None, **data: Any) -> ActivityForm:
    form = make_form(request, ActivityForm, formdata, data=data or None)
    form.kind.choices = KINDS
    form.localCode.choices = county_choices(staff, include_city=True, only_own=True)
    return form


def _render_form(
    request: Request,
    staff: Staff,
    form: ActivityForm,
    activity: Activity | None,
    **shown: Any,
) -> Response:
    return record_form(
        request,
        staff,
        form,
        title=f"修改合作交流活动: {activity.title}" if activity else "登记合作交流活动",
        sections=SECTIONS,
        back="/staff/activities",
        action=f"/staff/activities/{activity.id}/edit" if activity else "/staff/activities/new",
        history=("activity", str(activity.id)) if activity else None,
        nav="activities",
        **shown,
    )


async def _raw(staff: Staff, form: ActivityForm) -> dict[str, Any] | None:
    found = await lookup_region(staff.catalog.tree, form.partnerCode.data)
    if found.problem:
        form.partnerCode.errors = [found.problem]
        return None
    return {
        "kind": form.kind.data,
        "partnerCode": found.code,
        "localCode": form.localCode.data,
        "heldOn": form.heldOn.data,
        "title": form.title.data,
        "participants": form.participants.data,
        "outcome": form.outcome.data,
    }


def _rows(staff: Staff, activities: list[Activity]) -> list[dict[str, Any]]:
    tree = staff.catalog.tree
    ctx = staff.ctx()
    return [
        {
            "activity": a,
            "kind": label(a.kind),
            "partner": region_name(tree, a.partner_code),
            "local": region_name(tree, a.local_code),
            "editable": may_record_activity(ctx, a.local_code),
        }
        for a in activities
    ]


def _due_rows(staff: Staff, items: list[Any]) -> list[dict[str, Any]]:
    tree = staff.catalog.tree
    ctx = staff.ctx()
    return [
        {
            "code": d.partner_code,
            "name": region_name(tree, d.partner_code),
            "last": d.last_held,
            "since": d.window_start,
        }
        for d in items
        if may_read_partner_work(ctx, d.partner_code)
    ]


async def due_context(request: Request, staff: Staff) -> dict[str, list[dict[str, Any]]]:
    """The three due lists as the `_activities_due.html` include wants them (also on the tier view)."""
    async with state(request).db.read() as session:
        lists = await due_lists(session, staff.catalog, staff.ctx().today)
    return {
        "consultations": _due_rows(staff, lists.consultations),
        "guidance": _due_rows(staff, lists.guidance),
        "reviews": _due_rows(staff, lists.reviews),
    }


@staff_page()
async def activities_list(request: Request, staff: Staff) -> Response:
    """Every activity the account may read, newest first, filtered by kind and county; the three due
    lists above them."""
    kind = request.query_params.get("kind", "")
    county = request.query_params.get("county", "")
    today = staff.ctx().today
    async with state(request).db.read() as session:
        activities = await list_activities(
            session,
            staff.ctx(),
            kind=ActivityKind(kind) if kind in ActivityKind.__members__ else None,
            local_code=county or None,
            limit=500,
        )
    return page(
        request,
        staff,
        "staff/activities.html",
        {
            "title": "合作交流",
            "rows": _rows(staff, activities),
            "kinds": KINDS,
            "kind": kind,
            "county": county,
            "counties": county_choices(staff, include_city=True),
            "today": today,
            "due": await due_context(request, staff),
            "saved": request.query_params.get("saved") == "1",
        },
        nav="activities",
    )


@staff_page(*LOCAL_ROLES)
async def activity_new(request: Request, staff: Staff) -> Response:
    if request.method == "GET":
        preset = {
            "localCode": staff.region_code if staff.is_county else staff.catalog.home_city,
            "heldOn": staff.ctx().today.isoformat(),
        }
        partner = request.query_params.get("partner", "")
        if partner in staff.catalog.tree:
            preset["partnerCode"] = partner
        kind = request.query_params.get("kind", "")
        if kind in ActivityKind.__members__:
            preset["kind"] = kind
        return _render_form(request, staff, _form(request, staff, **preset), None)
    form = _form(request, staff, await request.form())
    raw = await _raw(staff, form)
    if raw is None:
        return _render_form(request, staff, form, None, status=422)

    async def save(session: AsyncSession) -> str:
        return (await save_activity(session, staff.ctx(), raw)).partner_code

    partner, failed = await save_form(request, form, save, record="activity", refuse=ServiceError)
    if failed is not None:
        return _render_form(request, staff, form, None, **failed.shown)
    return see_other(f"/staff/activities/partner/{partner}?saved=1")


@staff_page(*LOCAL_ROLES)
async def activity_edit(request: Request, staff: Staff) -> Response:
    activity_id = int_or_none(request.path_params["id"]) or 0
    async with state(request).db.read() as session:
        activity = await load_activity(session, staff.ctx(), activity_id)
    if not may_record_activity(staff.ctx(), activity.local_code):
        raise Forbidden(f"{staff.name} 无权修改这项活动: 县(市、区)账号只能修改本县(市、区)登记的活动")
    if request.method == "GET":
        data = {k: ("" if v is None else v) for k, v in activity_snapshot(activity).items()}
        return _render_form(request, staff, _form(request, staff, **data, version=activity.version), activity)
    form = _form(request, staff, await request.form())
    raw = await _raw(staff, form)
    if raw is None:
        return _render_form(request, staff, form, activity, status=422)
    _, failed = await save_form(
        request,
        form,
        lambda session: save_activity(
            session, staff.ctx(), raw, activity_id=activity_id, version=int_or_none(form.version.data) or 0
        ),
        record="activity",
        mine=raw,
        reload=lambda: fetch(request, Activity, activity_id),
        tree=staff.catalog.tree,
        refuse=ServiceError,
    )
    if failed is not None:
        return _render_form(request, staff, form, failed.fresh or activity, **failed.shown)
    return see_other(f"/staff/activities/partner/{raw['partnerCode']}?saved=1")


@staff_page()
async def partner_page(request: Request, staff: Staff) -> Response:
    """A partner region's cooperation page: its agreements (signed by it or inside it) next to the
    work done with it, and whether a consultation, guidance or review is due."""
    code = request.path_params["code"]
    catalog = staff.catalog
    tree = catalog.tree
    if code not in tree or catalog.is_local(code):
        raise NotFound(f"没有代码为 {code} 的合作地区")
    ctx = staff.ctx()
    if not may_read_partner_work(ctx, code):
        raise Forbidden("合作地区账号只能查看本地区的合作情况")
    inside = set(catalog.descendants(code))
    related = inside | set(tree.ancestors(code))
    async with state(request).db.read() as session:
        agreements = [a for a in await load_agreements(session) if a.partner_code in related]
        contacts = await all_contacts(session)
        activities = await list_activities(session, ctx, partner_codes=sorted(related))
        lists = await due_lists(session, catalog, ctx.today)
    due = [
        (name, next((d for d in items if d.partner_code == code), None))
        for name, items in (
            ("会商", lists.consultations),
            ("业务指导", lists.guidance),
            ("通办后总结", lists.reviews),
        )
    ]
    return page(
        request,
        staff,
        "staff/activity_partner.html",
        {
            "title": f"{tree.full_name(code)}: 协议与合作交流",
            "code": code,
            "name": tree.full_name(code),
            "tier": catalog.tier(code),
            "agreements": table_rows(agreements, contacts, catalog, ctx.today),
            "rows": _rows(staff, activities),
            "due": [(n, d) for n, d in due if d is not None],
            "latest": latest_per_partner(activities),
            "saved": request.query_params.get("saved") == "1",
            "kinds": KINDS,
        },
        nav="activities",
    )
