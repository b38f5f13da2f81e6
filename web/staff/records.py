"""Forms for the directory's records: agreements (一地签约、全市共享), matters and their guides,
halls and windows, contacts and liaison groups (一录, 一群), partner indices and tier thresholds,
the search synonym dictionary, and every record's change log.

Every handler has the same shape: GET renders the form (403 before anything is shown when the
account may not edit the record); POST builds the import-format dict from the form and calls the
one service function for that record inside one write transaction. A service's field errors come
back next to their fields with what was typed kept (422); a stale version (409) shows the stored
version beside the user's input, which stays in the form; success is a 303 to the record.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from api import rules
from api.models import Agreement, ChangeLog, Contact, Hall, LiaisonGroup, Matter, Region
from api.services.agreements import create_agreement, load_agreement, update_agreement
from api.services.base import BadInput, Conflict, FieldError, Forbidden, NotFound, ServiceError
from api.services.dashboard import all_contacts, contacts_for_region, load_agreements, table_rows
from api.services.geo import CoordinateError, outside_county, parse_coordinates
from api.services.guides import discard_draft, draft_of, guide_text_lines, publish_draft, save_draft
from api.services.halls import load_hall, upsert_hall
from api.services.liaison import groups_with_counts, save_group
from api.services.matters import load_matter, upsert_matter
from api.services.partners import set_tier_thresholds, tier_thresholds
from api.services.permissions import (
    PERSONAL_ENTITIES,
    may_edit_contact,
    may_edit_local,
    may_see_agreement,
    may_see_contact,
    may_see_session_history,
    visible_change_log_filter,
)
from api.services.snapshots import (
    agreement_snapshot,
    contact_snapshot,
    guide_snapshot,
    hall_snapshot,
    matter_snapshot,
    published_guide,
)
from api.services.synonyms import delete_synonym, list_synonyms, save_synonym
from api.services.versioned import create_contact, update_contact, update_matter, update_partner_indices
from search_index.query import MAX_QUERY_CHARS
from web.staff.activities import due_context as activity_due_context
from web.staff.common import (
    county_choices,
    error_status,
    int_or_none,
    local_place_choices,
    lookup_region,
    page,
    region_name,
    see_other,
    state,
)
from web.staff.diff import guide_version_diff, record_diff, side_by_side
from web.staff.forms import (
    AgreementForm,
    ContactForm,
    DeleteForm,
    GroupForm,
    GuideActionForm,
    GuideForm,
    HallForm,
    MatterForm,
    PartnerForm,
    SynonymForm,
    ThresholdForm,
    apply_errors,
    materials_from_text,
    materials_to_text,
    split_list,
)
from web.staff.session import ADMIN_ONLY, LOCAL_ROLES, Staff, make_form, staff_page


def _id(request: Request, name: str = "id") -> int:
    value = int_or_none(request.path_params.get(name))
    if value is None or value < 1:
        raise NotFound("没有这条记录")
    return value


def _failure(form: Any, error: ServiceError) -> list[str]:
    general = apply_errors(form, error.fields)
    if not error.fields or general:
        general.insert(0, error.message)
    return general


# ================================================================== agreements


def matter_choices(staff: Staff, scope: str | None = "CROSS_PROVINCE") -> list[tuple[str, str]]:
    matters = staff.catalog.matters.values()
    return [(m.code, f"{m.name}({m.code})") for m in sorted(matters, key=lambda m: m.code) if scope is None or m.scope == scope]


def _agreement_form(request: Request, staff: Staff, formdata: Any = None, **data: Any) -> AgreementForm:
    form = make_form(request, AgreementForm, formdata, data=data or None)
    form.localCode.choices = county_choices(staff, include_city=True, only_own=True)
    form.matterCodes.choices = matter_choices(staff)
    return form


def reach_preview(staff: Staff, local_code: str | None, citywide: bool, partner_code: str | None,
                  signed_on: str | None, registered_on: dt.date | None) -> dict[str, Any]:
    """What the agreement will do once saved: the counties it reaches (rules.local_reach) and
    where it stands against the 3-day rule. Server-rendered, with or without JavaScript."""
    tree = staff.catalog.tree
    home = staff.catalog.home_city
    preview: dict[str, Any] = {"counties": [], "all": False, "reason": "", "partner": "", "days": None, "late": False,
                               "registered_on": registered_on, "signed_on": None, "total": len(tree.local_counties(home))}
    if partner_code and partner_code in tree:
        preview["partner"] = tree.full_name(partner_code)
    signed = None
    if signed_on:
        try:
            signed = dt.date.fromisoformat(signed_on[:10])
        except ValueError:
            signed = None
    preview["signed_on"] = signed
    if local_code and local_code in tree:
        facts = rules.AgreementFacts(
            id=0, key=None, title="", partner_code=partner_code or local_code, local_code=local_code,
            signed_on=signed or dt.date.today(), effective_from=signed or dt.date.today(), expires_on=None,
            stored_status="ACTIVE", citywide_shared=citywide, matter_codes=None,
        )
        reach = rules.local_reach(tree, home, facts)
        preview["counties"] = [(c, tree.name(c)) for c in reach]
        preview["all"] = set(reach) >= set(tree.local_counties(home))
        if local_code == home:
            preview["reason"] = f"由{tree.name(home)}本级签订, 效力及于全市各县(市、区)"
        elif citywide:
            preview["reason"] = f"按“一地签约、全市共享”, 与{tree.name(local_code)}签约后, 合作效力及于{tree.name(home)}各县(市、区)"
        else:
            preview["reason"] = f"未实行全市共享: 仅在{'、'.join(tree.name(c) for c in reach)}生效, 其他县(市、区)的窗口不能据此受理"
    if signed is not None:
        registered = registered_on or staff.ctx().today
        preview["days"] = (registered - signed).days
        preview["late"] = rules.is_late_registration(signed, registered)
    return preview


def agreement_raw(form: AgreementForm, partner_code: str | None) -> dict[str, Any]:
    return {
        "key": form.key.data,
        "title": form.title.data,
        "partnerCode": partner_code if partner_code is not None else form.partnerCode.data,
        "localCode": form.localCode.data,
        "signedOn": form.signedOn.data,
        "effectiveFrom": form.effectiveFrom.data,
        "expiresOn": form.expiresOn.data,
        "status": form.status.data,
        "citywideShared": bool(form.citywideShared.data),
        "notSharedReason": form.notSharedReason.data,
        "matterCodes": None if form.coverage.data != "listed" else list(form.matterCodes.data or []),
        "itemsCount": form.itemsCount.data,
        "documentRef": form.documentRef.data,
        "note": form.note.data,
        "source": form.source.data,
        "sourceUrl": form.sourceUrl.data,
        "verifiedOn": form.verifiedOn.data,
        "includesClause": {"yes": True, "no": False}.get(form.includesClause.data or ""),
    }


def _agreement_data(agreement: Agreement) -> dict[str, Any]:
    snap = agreement_snapshot(agreement, None if agreement.covers_all_matters else [m.code for m in agreement.matters])
    return {
        "version": agreement.version,
        "key": snap["key"] or "",
        "title": snap["title"],
        "partnerCode": snap["partnerCode"],
        "localCode": snap["localCode"],
        "signedOn": snap["signedOn"] or "",
        "effectiveFrom": snap["effectiveFrom"] or "",
        "expiresOn": snap["expiresOn"] or "",
        "status": snap["status"],
        "citywideShared": snap["citywideShared"],
        "notSharedReason": snap.get("notSharedReason") or "",
        "coverage": "all" if snap["matterCodes"] is None else "listed",
        "matterCodes": snap["matterCodes"] or [],
        "itemsCount": "" if snap["itemsCount"] is None else str(snap["itemsCount"]),
        "documentRef": snap["documentRef"] or "",
        "note": snap["note"] or "",
        "source": snap["source"] or "",
        "sourceUrl": snap["sourceUrl"] or "",
        "verifiedOn": snap["verifiedOn"] or "",
        "includesClause": {True: "yes", False: "no"}.get(snap["includesClause"], ""),
    }


def _render_agreement_form(request: Request, staff: Staff, form: AgreementForm, *, agreement: Agreement | None,
                           general: list[str] | None = None, status: int = 200, conflict: Any = None,
                           candidates: Any = (), partner_code: str | None = None) -> Response:
    registered = agreement.registered_on if agreement is not None else None
    preview = reach_preview(staff, form.localCode.data, bool(form.citywideShared.data),
                            partner_code or (form.partnerCode.data or "").strip(), form.signedOn.data, registered)
    context = {
        "title": "修改通办协议" if agreement else "登记通办协议",
        "form": form,
        "agreement": agreement,
        "general": general or [],
        "conflict": conflict,
        "candidates": candidates,
        "preview": preview,
        "action": f"/staff/agreements/{agreement.id}/edit" if agreement else "/staff/agreements/new",
    }
    return page(request, staff, "staff/agreement_form.html", context, status=status, nav="agreements")


async def _partner_from_form(staff: Staff, form: AgreementForm) -> tuple[str | None, Any]:
    found = await lookup_region(staff.catalog.tree, form.partnerCode.data)
    if found.problem:
        form.partnerCode.errors = [found.problem]
    return found.code, found.candidates


@staff_page(*LOCAL_ROLES)
async def agreement_new(request: Request, staff: Staff) -> Response:
    ctx = staff.ctx()
    if request.method == "GET":
        local = staff.region_code if staff.is_county else staff.catalog.home_city
        form = _agreement_form(request, staff, citywideShared=True, localCode=local, status="ACTIVE",
                               coverage="all", signedOn=ctx.today.isoformat())
        return _render_agreement_form(request, staff, form, agreement=None)
    formdata = await request.form()
    form = _agreement_form(request, staff, formdata)
    partner, candidates = await _partner_from_form(staff, form)
    if formdata.get("action") == "preview" or (partner is None and form.partnerCode.data):
        status = 200 if formdata.get("action") == "preview" else 422
        return _render_agreement_form(request, staff, form, agreement=None, status=status, candidates=candidates, partner_code=partner)
    try:
        async with state(request).db.write() as session:
            agreement = await create_agreement(session, ctx, agreement_raw(form, partner), require_not_shared_reason=True)
            agreement_id = agreement.id
    except BadInput as error:
        return _render_agreement_form(request, staff, form, agreement=None, general=_failure(form, error),
                                      status=error_status(error), partner_code=partner)
    return see_other(f"/staff/agreements/{agreement_id}?saved=1")


@staff_page(*LOCAL_ROLES)
async def agreement_preview(request: Request, staff: Staff) -> Response:
    """The reach preview alone (htmx swaps it in while the form is being filled)."""
    formdata = await request.form()
    form = _agreement_form(request, staff, formdata)
    partner = (await lookup_region(staff.catalog.tree, form.partnerCode.data)).code
    agreement = None
    agreement_id = int_or_none(formdata.get("agreement_id"))
    if agreement_id is not None:
        async with state(request).db.read() as session:
            agreement = await session.get(Agreement, agreement_id)
    preview = reach_preview(staff, form.localCode.data, bool(form.citywideShared.data), partner, form.signedOn.data,
                            agreement.registered_on if agreement else None)
    return page(request, staff, "staff/_reach_preview.html", {"preview": preview})


async def _load_agreement(request: Request, agreement_id: int) -> Agreement:
    async with state(request).db.read() as session:
        agreement = await load_agreement(session, agreement_id=agreement_id)
    if agreement is None:
        raise NotFound(f"没有编号为 {agreement_id} 的协议")
    return agreement


@staff_page(*LOCAL_ROLES)
async def agreement_edit(request: Request, staff: Staff) -> Response:
    agreement_id = _id(request)
    agreement = await _load_agreement(request, agreement_id)
    ctx = staff.ctx()
    if not may_edit_local(ctx, agreement.local_code):
        raise Forbidden(f"{staff.name} 无权修改{region_name(ctx.tree, agreement.local_code)}签订的协议: 县(市、区)账号只能修改本县(市、区)的记录")
    if request.method == "GET":
        form = _agreement_form(request, staff, **_agreement_data(agreement))
        return _render_agreement_form(request, staff, form, agreement=agreement)
    formdata = await request.form()
    form = _agreement_form(request, staff, formdata)
    partner, candidates = await _partner_from_form(staff, form)
    if formdata.get("action") == "preview" or (partner is None and form.partnerCode.data):
        status = 200 if formdata.get("action") == "preview" else 422
        return _render_agreement_form(request, staff, form, agreement=agreement, status=status, candidates=candidates, partner_code=partner)
    version = int_or_none(form.version.data) or 0
    raw = {**agreement_snapshot(agreement, None), **agreement_raw(form, partner)}
    raw.pop("registeredOn", None)  # kept by the service: the 3-day rule measures the first registration
    try:
        async with state(request).db.write() as session:
            await update_agreement(session, ctx, agreement_id, version, raw, require_not_shared_reason=True)
    except Conflict as error:
        fresh = await _load_agreement(request, agreement_id)
        form.version.data = str(fresh.version)
        mine = {**(error.current or {}), **{k: v for k, v in raw.items() if k in (error.current or {})}}
        rows = side_by_side(error.current or {}, mine, ctx.tree)
        return _render_agreement_form(request, staff, form, agreement=fresh, status=409, conflict=rows,
                                      general=[error.message], partner_code=partner)
    except BadInput as error:
        return _render_agreement_form(request, staff, form, agreement=agreement, general=_failure(form, error),
                                      status=error_status(error), partner_code=partner)
    return see_other(f"/staff/agreements/{agreement_id}?saved=1")


@staff_page()
async def agreements_list(request: Request, staff: Staff) -> Response:
    ctx = staff.ctx()
    async with state(request).db.read() as session:
        agreements = await load_agreements(session)
        contacts = await all_contacts(session)
    rows = [r for r in table_rows(agreements, contacts, staff.catalog, ctx.today) if may_see_agreement(ctx, r.partner_code)]
    editable = {r.id for r in rows if may_edit_local(staff.ctx(), r.local_code)}
    return page(request, staff, "staff/agreements.html", {"title": "通办协议", "rows": rows, "editable": editable}, nav="agreements")


@staff_page()
async def agreement_detail(request: Request, staff: Staff) -> Response:
    agreement_id = _id(request)
    async with state(request).db.read() as session:
        agreement = await load_agreement(session, agreement_id=agreement_id)
        if agreement is None:
            raise NotFound(f"没有编号为 {agreement_id} 的协议")
        contacts = await all_contacts(session)
    if not may_see_agreement(staff.ctx(), agreement.partner_code):
        raise Forbidden("合作地区账号只能查看本地区的协议")
    row = table_rows([agreement], contacts, staff.catalog, staff.ctx().today)[0]
    liaisons = contacts_for_region(contacts, staff.catalog.tree, agreement.partner_code)
    local_liaisons = contacts_for_region(contacts, staff.catalog.tree, agreement.local_code)
    return page(request, staff, "staff/agreement.html", {
        "title": agreement.title, "agreement": agreement, "row": row, "liaisons": liaisons, "local_liaisons": local_liaisons,
        "may_edit": may_edit_local(staff.ctx(), agreement.local_code), "saved": request.query_params.get("saved") == "1",
        "history_key": agreement.key or str(agreement.id),
    }, nav="agreements")


# ================================================================== matters and guides


def _matter_form(request: Request, formdata: Any = None, **data: Any) -> MatterForm:
    return make_form(request, MatterForm, formdata, data=data or None)


def matter_raw(form: MatterForm) -> dict[str, Any]:
    return {
        "code": (form.code.data or "").strip(),
        "name": form.name.data,
        "department": form.department.data,
        "scope": form.scope.data,
        "modes": list(form.modes.data or []),
        "keywords": split_list(form.keywords.data),
        "aliases": split_list(form.aliases.data),
        "nationalList": form.nationalList.data,
        "deadline": form.deadline.data,
        "published": bool(form.published.data),
        "source": form.source.data,
        "sourceUrl": form.sourceUrl.data,
        "verifiedOn": form.verifiedOn.data,
        "sample": bool(form.sample.data),
    }


def _matter_data(matter: Matter) -> dict[str, Any]:
    return {
        "version": matter.version, "code": matter.code, "name": matter.name, "department": matter.department,
        "scope": getattr(matter.scope, "value", matter.scope), "modes": list(matter.modes or []),
        "keywords": "、".join(matter.keywords or []), "aliases": "、".join(matter.aliases or []),
        "nationalList": matter.national_list or "", "deadline": matter.deadline or "", "published": matter.published,
        "source": matter.source or "", "sourceUrl": matter.source_url or "", "sample": matter.is_sample,
        "verifiedOn": matter.verified_on.isoformat() if matter.verified_on else "",
    }


MATTER_SECTIONS = [
    ("事项", ["code", "name", "department", "scope", "modes", "keywords", "aliases"]),
    ("清单与来源", ["nationalList", "deadline", "published", "source", "sourceUrl", "verifiedOn", "sample"]),
]


def _render_matter_form(request: Request, staff: Staff, form: MatterForm, matter: Matter | None, *,
                        general: list[str] | None = None, status: int = 200, conflict: Any = None) -> Response:
    if matter is not None:
        form.code.render_kw = {"readonly": True}
    return page(request, staff, "staff/record_form.html", {
        "title": f"修改事项 {matter.code}" if matter else "新增事项", "form": form, "sections": MATTER_SECTIONS,
        "general": general or [], "conflict": conflict,
        "action": f"/staff/matters/{matter.code}/edit" if matter else "/staff/matters/new",
        "back": f"/staff/matters/{matter.code}" if matter else "/staff/matters",
        "history": ("matter", matter.code) if matter else None,
    }, status=status, nav="matters")


@staff_page()
async def matters_list(request: Request, staff: Staff) -> Response:
    q = request.query_params.get("q", "").strip()[:MAX_QUERY_CHARS]
    scope = request.query_params.get("scope", "")
    async with state(request).db.read() as session:
        query = select(Matter).order_by(Matter.code)
        if scope in ("CROSS_PROVINCE", "PROVINCE_WIDE", "CITYWIDE"):
            query = query.where(Matter.scope == scope)
        matters = list((await session.execute(query)).scalars())
    if q:
        matters = [m for m in matters if q in m.name or q in m.code or any(q in k for k in m.keywords or [])]
    return page(request, staff, "staff/matters.html", {"title": "事项与办事指南", "matters": matters, "q": q, "scope": scope}, nav="matters")


async def _load_matter(request: Request, code: str) -> Matter:
    async with state(request).db.read() as session:
        matter = await load_matter(session, code)
    if matter is None:
        raise NotFound(f"没有编码为 {code} 的事项")
    return matter


@staff_page()
async def matter_detail(request: Request, staff: Staff) -> Response:
    matter = await _load_matter(request, request.path_params["code"])
    guides = sorted(matter.guides, key=lambda g: g.version, reverse=True)
    return page(request, staff, "staff/matter.html", {
        "title": matter.name, "matter": matter, "guide": published_guide(matter), "draft": draft_of(matter),
        "guides": guides, "saved": request.query_params.get("saved"),
    }, nav="matters")


@staff_page(*ADMIN_ONLY)
async def matter_new(request: Request, staff: Staff) -> Response:
    if request.method == "GET":
        form = _matter_form(request, scope="CROSS_PROVINCE", published=True)
        return _render_matter_form(request, staff, form, None)
    form = _matter_form(request, await request.form())
    raw = matter_raw(form)
    try:
        async with state(request).db.write() as session:
            if raw["code"] and await load_matter(session, raw["code"]) is not None:
                raise BadInput("事项编码已存在", [FieldError("code", f"已有编码为 {raw['code']} 的事项, 请打开该事项修改")])
            matter = await upsert_matter(session, staff.ctx(), raw)
            code = matter.code
    except BadInput as error:
        return _render_matter_form(request, staff, form, None, general=_failure(form, error), status=error_status(error))
    return see_other(f"/staff/matters/{code}?saved=1")


@staff_page(*ADMIN_ONLY)
async def matter_edit(request: Request, staff: Staff) -> Response:
    code = request.path_params["code"]
    matter = await _load_matter(request, code)
    if request.method == "GET":
        return _render_matter_form(request, staff, _matter_form(request, **_matter_data(matter)), matter)
    form = _matter_form(request, await request.form())
    form.code.data = code
    current = matter_snapshot(matter, published_guide(matter))
    raw = {**{k: v for k, v in current.items() if k != "guide"}, **matter_raw(form), "code": code}
    try:
        async with state(request).db.write() as session:
            await update_matter(session, staff.ctx(), code, int_or_none(form.version.data) or 0, raw)
    except Conflict as error:
        fresh = await _load_matter(request, code)
        form.version.data = str(fresh.version)
        theirs = {k: v for k, v in (error.current or {}).items() if k != "guide"}
        rows = side_by_side(theirs, {k: raw.get(k) for k in theirs}, staff.catalog.tree)
        return _render_matter_form(request, staff, form, fresh, general=[error.message], status=409, conflict=rows)
    except BadInput as error:
        return _render_matter_form(request, staff, form, matter, general=_failure(form, error), status=error_status(error))
    return see_other(f"/staff/matters/{code}?saved=1")


def _guide_data(snapshot: dict[str, Any] | None, draft_version: int | None) -> dict[str, Any]:
    snap = snapshot or {}
    return {
        "draft_version": "" if draft_version is None else str(draft_version),
        "conditions": snap.get("conditions") or "",
        "materials": materials_to_text(snap.get("materials")),
        "steps": "\n".join(snap.get("steps") or []),
        "timeLimitDays": "" if snap.get("timeLimitDays") is None else str(snap["timeLimitDays"]),
        "fee": snap.get("fee") or "",
        "legalBasis": snap.get("legalBasis") or "",
        "walkthrough": snap.get("walkthrough") or "",
        "publisher": snap.get("publisher") or "",
        "sourceUrl": snap.get("sourceUrl") or "",
        "publishedOn": snap.get("publishedOn") or "",
        "sample": bool(snap.get("sample")),
    }


def guide_raw(form: GuideForm) -> dict[str, Any]:
    return {
        "conditions": form.conditions.data,
        "materials": materials_from_text(form.materials.data),
        "steps": [line.strip() for line in (form.steps.data or "").splitlines() if line.strip()],
        "timeLimitDays": form.timeLimitDays.data,
        "fee": form.fee.data,
        "legalBasis": form.legalBasis.data,
        "walkthrough": form.walkthrough.data,
        "publisher": form.publisher.data,
        "sourceUrl": form.sourceUrl.data,
        "publishedOn": form.publishedOn.data,
        "sample": bool(form.sample.data),
    }


def _render_guide(request: Request, staff: Staff, matter: Matter, form: GuideForm, *, general: list[str] | None = None,
                  status: int = 200, conflict: Any = None) -> Response:
    draft = draft_of(matter)
    current = published_guide(matter)
    diff = guide_version_diff(guide_text_lines(guide_snapshot(current)), guide_text_lines(guide_snapshot(draft))) if draft else []
    action_form = make_form(request, GuideActionForm, data={"draft_version": str(draft.version) if draft else ""})
    return page(request, staff, "staff/guide_form.html", {
        "title": f"办事指南: {matter.name}", "matter": matter, "form": form, "draft": draft, "current": current,
        "diff": diff, "general": general or [], "conflict": conflict, "action_form": action_form,
    }, status=status, nav="matters")


@staff_page(*ADMIN_ONLY)
async def guide_edit(request: Request, staff: Staff) -> Response:
    code = request.path_params["code"]
    matter = await _load_matter(request, code)
    draft = draft_of(matter)
    if request.method == "GET":
        source = draft if draft is not None else published_guide(matter)
        form = make_form(request, GuideForm, data=_guide_data(guide_snapshot(source), draft.version if draft else None))
        return _render_guide(request, staff, matter, form)
    form = make_form(request, GuideForm, await request.form())
    started_from = int_or_none(form.draft_version.data)
    try:
        async with state(request).db.write() as session:
            await save_draft(session, staff.ctx(), code, guide_raw(form), draft_version=started_from)
    except Conflict as error:
        fresh = await _load_matter(request, code)
        current = dict(error.current or {})
        form.draft_version.data = str(current.pop("version", "")) if current else ""
        rows = side_by_side(current, guide_raw(form), staff.catalog.tree)
        return _render_guide(request, staff, fresh, form, general=[error.message, "下表左侧是他人保存的草稿, 右侧是您填写的内容(仍在下方表单中); 再次保存将以您的内容覆盖草稿。"],
                             status=409, conflict=rows)
    except BadInput as error:
        return _render_guide(request, staff, matter, form, general=_failure(form, error), status=error_status(error))
    return see_other(f"/staff/matters/{code}/guide?saved=draft")


@staff_page(*ADMIN_ONLY)
async def guide_publish(request: Request, staff: Staff) -> Response:
    code = request.path_params["code"]
    form = make_form(request, GuideActionForm, await request.form())
    try:
        async with state(request).db.write() as session:
            if request.url.path.endswith("/discard"):
                await discard_draft(session, staff.ctx(), code, int_or_none(form.draft_version.data) or 0)
                target = f"/staff/matters/{code}/guide?saved=discarded"
            else:
                guide = await publish_draft(session, staff.ctx(), code, int_or_none(form.draft_version.data) or 0)
                target = f"/staff/matters/{code}?saved=v{guide.version}"
    except Conflict as error:
        matter = await _load_matter(request, code)
        draft = draft_of(matter)
        form = make_form(request, GuideForm, data=_guide_data(guide_snapshot(draft or published_guide(matter)), draft.version if draft else None))
        return _render_guide(request, staff, matter, form, general=[error.message], status=409)
    return see_other(target)


@staff_page()
async def guide_diff(request: Request, staff: Staff) -> Response:
    code = request.path_params["code"]
    matter = await _load_matter(request, code)
    by_version = {g.version: g for g in matter.guides}
    if not by_version:
        raise NotFound("该事项还没有办事指南")
    versions = sorted(by_version)
    newer = int_or_none(request.query_params.get("to")) or versions[-1]
    older = int_or_none(request.query_params.get("from")) or (versions[versions.index(newer) - 1] if newer in versions and versions.index(newer) > 0 else newer)
    if newer not in by_version or older not in by_version:
        raise NotFound("没有这个版本的办事指南")
    lines = guide_version_diff(guide_text_lines(guide_snapshot(by_version[older])), guide_text_lines(guide_snapshot(by_version[newer])))
    return page(request, staff, "staff/guide_diff.html", {
        "title": f"办事指南版本对比: {matter.name}", "matter": matter, "older": by_version[older], "newer": by_version[newer],
        "versions": [by_version[v] for v in versions], "lines": lines,
    }, nav="matters")


# ================================================================== halls


def _hall_form(request: Request, staff: Staff, formdata: Any = None, **data: Any) -> HallForm:
    form = make_form(request, HallForm, formdata, data=data or None)
    form.regionCode.choices = local_place_choices(staff)
    form.matterCodes.choices = matter_choices(staff, None)
    return form


def hall_raw(form: HallForm) -> dict[str, Any]:
    return {
        "key": form.key.data, "name": form.name.data, "regionCode": form.regionCode.data, "level": form.level.data,
        "address": form.address.data, "phone": form.phone.data, "openingHours": form.openingHours.data,
        "latitude": form.latitude.data, "longitude": form.longitude.data,
        "coordinatesApproximate": bool(form.coordinatesApproximate.data),
        "hasCrossRegionWindow": bool(form.hasCrossRegionWindow.data),
        "windowServices": list(form.windowServices.data or []), "matterCodes": list(form.matterCodes.data or []),
        "source": form.source.data, "sourceUrl": form.sourceUrl.data, "verifiedOn": form.verifiedOn.data,
    }


def _pasted_coordinates(form: HallForm, staff: Staff) -> bool:
    """Coordinates pasted from a map app: parsed, checked against the hall's county (geo.outside_county),
    then written into latitude/longitude and marked exact. False (with the error on the field) when wrong."""
    text = (form.coordinates.data or "").strip()
    if not text:
        return True
    try:
        latitude, longitude = parse_coordinates(text)
    except CoordinateError as error:
        form.coordinates.errors = [str(error)]
        return False
    ctx = staff.ctx()
    problem = outside_county(ctx.tree, ctx.home_city, (form.regionCode.data or "").strip(), latitude, longitude)
    if problem:
        form.coordinates.errors = [problem]
        return False
    form.latitude.data, form.longitude.data = str(latitude), str(longitude)
    form.coordinatesApproximate.data = False
    form.coordinates.data = ""
    return True


def _hall_data(hall: Hall) -> dict[str, Any]:
    snap = hall_snapshot(hall, [m.code for m in hall.matters])
    data = {k: ("" if v is None else v) for k, v in snap.items()}
    data["latitude"] = "" if hall.latitude is None else str(hall.latitude)
    data["longitude"] = "" if hall.longitude is None else str(hall.longitude)
    data["version"] = hall.version
    return data


HALL_SECTIONS = [
    ("大厅", ["name", "regionCode", "level", "address", "phone", "openingHours"]),
    ("位置", ["coordinates", "latitude", "longitude", "coordinatesApproximate"]),
    ("跨区域通办窗口", ["hasCrossRegionWindow", "windowServices", "matterCodes"]),
    ("来源", ["source", "sourceUrl", "verifiedOn", "key"]),
]


def _render_hall_form(request: Request, staff: Staff, form: HallForm, hall: Hall | None, *, general: list[str] | None = None,
                      status: int = 200, conflict: Any = None) -> Response:
    return page(request, staff, "staff/record_form.html", {
        "title": f"修改服务大厅: {hall.name}" if hall else "新增服务大厅", "form": form, "sections": HALL_SECTIONS,
        "general": general or [], "conflict": conflict,
        "action": f"/staff/halls/{hall.id}/edit" if hall else "/staff/halls/new", "back": "/staff/halls",
        "history": ("hall", hall.key or str(hall.id)) if hall else None,
    }, status=status, nav="halls")


@staff_page()
async def halls_list(request: Request, staff: Staff) -> Response:
    async with state(request).db.read() as session:
        halls = list((await session.execute(select(Hall).order_by(Hall.region_code, Hall.name))).scalars())
    ctx = staff.ctx()
    return page(request, staff, "staff/halls.html", {
        "title": "服务大厅与跨区域通办窗口", "halls": halls, "editable": {h.id for h in halls if may_edit_local(ctx, h.region_code)},
    }, nav="halls")


@staff_page(*LOCAL_ROLES)
async def hall_new(request: Request, staff: Staff) -> Response:
    if request.method == "GET":
        town = request.query_params.get("regionCode", "")[:12]  # 数据体检's "town without a centre" link
        town = town if town in dict(local_place_choices(staff)) else ""
        form = _hall_form(request, staff, regionCode=town or (staff.region_code if staff.is_county else ""),
                          level="TOWN" if town else "COUNTY", hasCrossRegionWindow=True,
                          windowServices=["CONSULT", "ASSIST", "SEND_RECEIVE"])
        return _render_hall_form(request, staff, form, None)
    form = _hall_form(request, staff, await request.form())
    if not _pasted_coordinates(form, staff):
        return _render_hall_form(request, staff, form, None, status=422)
    try:
        async with state(request).db.write() as session:
            if form.key.data and await load_hall(session, key=form.key.data.strip()) is not None:
                raise BadInput("标识已存在", [FieldError("key", "已有大厅使用这个标识")])
            hall = await upsert_hall(session, staff.ctx(), hall_raw(form))
            hall_id = hall.id
    except BadInput as error:
        return _render_hall_form(request, staff, form, None, general=_failure(form, error), status=error_status(error))
    return see_other(f"/staff/halls?saved={hall_id}")


@staff_page(*LOCAL_ROLES)
async def hall_edit(request: Request, staff: Staff) -> Response:
    hall_id = _id(request)
    async with state(request).db.read() as session:
        hall = await load_hall(session, hall_id=hall_id)
    if hall is None:
        raise NotFound(f"没有编号为 {hall_id} 的服务大厅")
    ctx = staff.ctx()
    if not may_edit_local(ctx, hall.region_code):
        raise Forbidden(f"{staff.name} 无权修改{region_name(ctx.tree, hall.region_code)}的服务大厅")
    if request.method == "GET":
        return _render_hall_form(request, staff, _hall_form(request, staff, **_hall_data(hall)), hall)
    form = _hall_form(request, staff, await request.form())
    if not _pasted_coordinates(form, staff):
        return _render_hall_form(request, staff, form, hall, status=422)
    raw = {**hall_snapshot(hall, [m.code for m in hall.matters]), **hall_raw(form)}
    try:
        async with state(request).db.write() as session:
            await upsert_hall(session, ctx, raw, hall_id=hall_id, version=int_or_none(form.version.data) or 0)
    except Conflict as error:
        async with state(request).db.read() as session:
            fresh = await load_hall(session, hall_id=hall_id)
        form.version.data = str(fresh.version if fresh else "")
        rows = side_by_side(error.current or {}, {k: raw.get(k) for k in (error.current or {})}, ctx.tree)
        return _render_hall_form(request, staff, form, fresh or hall, general=[error.message], status=409, conflict=rows)
    except BadInput as error:
        return _render_hall_form(request, staff, form, hall, general=_failure(form, error), status=error_status(error))
    return see_other(f"/staff/halls?saved={hall_id}")


# ================================================================== contacts and liaison groups


CONTACT_SECTIONS = [("联络人", ["name", "regionCode", "organisation", "role", "phone", "email", "liaisonGroup", "verifiedOn", "sample"])]


def contact_raw(form: ContactForm, region_code: str | None) -> dict[str, Any]:
    return {
        "name": form.name.data, "regionCode": region_code or form.regionCode.data, "organisation": form.organisation.data,
        "role": form.role.data, "phone": form.phone.data, "email": form.email.data,
        "liaisonGroup": form.liaisonGroup.data, "sample": bool(form.sample.data), "verifiedOn": form.verifiedOn.data,
    }


async def _group_names(request: Request) -> list[str]:
    async with state(request).db.read() as session:
        return list((await session.execute(select(LiaisonGroup.name).order_by(LiaisonGroup.name))).scalars())


async def _render_contact_form(request: Request, staff: Staff, form: ContactForm, contact: Contact | None, *,
                               general: list[str] | None = None, status: int = 200, conflict: Any = None) -> Response:
    form.liaisonGroup.render_kw = {"list": "liaison-groups"}
    return page(request, staff, "staff/record_form.html", {
        "title": f"修改联络人: {contact.name}" if contact else "新增联络人", "form": form, "sections": CONTACT_SECTIONS,
        "general": general or [], "conflict": conflict, "datalist": ("liaison-groups", await _group_names(request)),
        "action": f"/staff/contacts/{contact.id}/edit" if contact else "/staff/contacts/new", "back": "/staff/contacts",
        "history": ("contact", contact.key or str(contact.id)) if contact else None,
    }, status=status, nav="contacts")


@staff_page()
async def contacts_list(request: Request, staff: Staff) -> Response:
    async with state(request).db.read() as session:
        contacts = await all_contacts(session)
        groups = await groups_with_counts(session)
    group_names = {g.id: g.name for g, _ in groups}
    ctx = staff.ctx()
    contacts = [c for c in contacts if may_see_contact(ctx, c.region_code)]
    return page(request, staff, "staff/contacts.html", {
        "title": "通办通讯录与联络群", "contacts": contacts, "groups": groups, "group_names": group_names,
        "editable": {c.id for c in contacts if may_edit_contact(ctx, c.region_code)},
    }, nav="contacts")


@staff_page()  # partner regions keep their own liaison contacts (permissions.may_edit_contact)
async def contact_new(request: Request, staff: Staff) -> Response:
    if request.method == "GET":
        form = make_form(request, ContactForm, data={"regionCode": "" if staff.is_admin else staff.region_code})
        return await _render_contact_form(request, staff, form, None)
    form = make_form(request, ContactForm, await request.form())
    found = await lookup_region(staff.catalog.tree, form.regionCode.data)
    if found.problem:
        form.regionCode.errors = [found.problem]
        return await _render_contact_form(request, staff, form, None, status=422)
    try:
        async with state(request).db.write() as session:
            await create_contact(session, staff.ctx(), contact_raw(form, found.code))
    except BadInput as error:
        return await _render_contact_form(request, staff, form, None, general=_failure(form, error), status=error_status(error))
    return see_other("/staff/contacts?saved=1")


@staff_page()
async def contact_edit(request: Request, staff: Staff) -> Response:
    contact_id = _id(request)
    async with state(request).db.read() as session:
        contact = await session.get(Contact, contact_id)
        group = await session.get(LiaisonGroup, contact.group_id) if contact is not None and contact.group_id else None
    if contact is None:
        raise NotFound(f"没有编号为 {contact_id} 的联络人")
    if not may_edit_contact(staff.ctx(), contact.region_code):
        raise Forbidden(f"{staff.name} 无权修改{region_name(staff.catalog.tree, contact.region_code)}的联络人")
    if request.method == "GET":
        snap = contact_snapshot(contact, group.name if group else None)
        data = {k: ("" if v is None else v) for k, v in snap.items()}
        form = make_form(request, ContactForm, data={**data, "version": contact.version})
        return await _render_contact_form(request, staff, form, contact)
    form = make_form(request, ContactForm, await request.form())
    found = await lookup_region(staff.catalog.tree, form.regionCode.data)
    if found.problem:
        form.regionCode.errors = [found.problem]
        return await _render_contact_form(request, staff, form, contact, status=422)
    raw = contact_raw(form, found.code)
    try:
        async with state(request).db.write() as session:
            await update_contact(session, staff.ctx(), contact_id, int_or_none(form.version.data) or 0, raw)
    except Conflict as error:
        async with state(request).db.read() as session:
            fresh = await session.get(Contact, contact_id)
        form.version.data = str(fresh.version if fresh else "")
        rows = side_by_side(error.current or {}, {k: raw.get(k) for k in (error.current or {}) if k in raw}, staff.catalog.tree)
        return await _render_contact_form(request, staff, form, fresh or contact, general=[error.message], status=409, conflict=rows)
    except BadInput as error:
        return await _render_contact_form(request, staff, form, contact, general=_failure(form, error), status=error_status(error))
    return see_other("/staff/contacts?saved=1")


GROUP_SECTIONS = [("通办联络群", ["name", "channel", "note"])]


@staff_page(*ADMIN_ONLY)
async def group_form(request: Request, staff: Staff) -> Response:
    group_id = int_or_none(request.path_params.get("id"))
    group = None
    if group_id is not None:
        async with state(request).db.read() as session:
            group = await session.get(LiaisonGroup, group_id)
        if group is None:
            raise NotFound(f"没有编号为 {group_id} 的联络群")

    def render_group(form: GroupForm, general: list[str] | None = None, status: int = 200) -> Response:
        return page(request, staff, "staff/record_form.html", {
            "title": f"联络群: {group.name}" if group else "新建通办联络群", "form": form, "sections": GROUP_SECTIONS,
            "general": general or [], "conflict": None, "back": "/staff/contacts",
            "action": f"/staff/groups/{group.id}/edit" if group else "/staff/groups/new",
            "history": ("liaison-group", str(group.id)) if group else None,
        }, status=status, nav="contacts")

    if request.method == "GET":
        data = {"name": group.name, "channel": group.channel or "", "note": group.note or ""} if group else {}
        return render_group(make_form(request, GroupForm, data=data))
    form = make_form(request, GroupForm, await request.form())
    try:
        async with state(request).db.write() as session:
            await save_group(session, staff.ctx(), {"name": form.name.data, "channel": form.channel.data, "note": form.note.data}, group_id=group_id)
    except BadInput as error:
        return render_group(form, _failure(form, error), error_status(error))
    return see_other("/staff/contacts?saved=group")


# ================================================================== partners and tiers (admins)


async def _render_partners(request: Request, staff: Staff, form: ThresholdForm | None = None, general: list[str] | None = None,
                           status: int = 200) -> Response:
    catalog = staff.catalog
    tree = catalog.tree
    codes = {a.partner_code for a in catalog.agreements} | set(catalog.indices)
    codes = {c for c in codes if c in tree and not tree.contains(catalog.home_city, c)}
    rows = []
    for code in sorted(codes, key=lambda c: (tree.province_of(c) or "", c)):
        indices = catalog.partner_indices(code)
        rows.append({"code": code, "name": tree.full_name(code), "tier": catalog.tier(code),
                     "population": indices.population if indices else None, "cooperation": indices.cooperation if indices else None,
                     "sample": indices.sample if indices else False,
                     "agreements": sum(1 for a in catalog.agreements if a.partner_code == code)})
    if form is None:
        async with state(request).db.read() as session:
            thresholds = await tier_thresholds(session)
        form = make_form(request, ThresholdForm, data={k: f"{v:g}" for k, v in thresholds.items()})
    return page(request, staff, "staff/partners.html", {"title": "合作地区四色分级", "rows": rows, "form": form, "general": general or [],
                                                         "due": await activity_due_context(request, staff)},
                status=status, nav="partners")


@staff_page(*ADMIN_ONLY)
async def partners_list(request: Request, staff: Staff) -> Response:
    return await _render_partners(request, staff)


@staff_page(*ADMIN_ONLY)
async def thresholds_save(request: Request, staff: Staff) -> Response:
    form = make_form(request, ThresholdForm, await request.form())
    try:
        async with state(request).db.write() as session:
            await set_tier_thresholds(session, staff.ctx(), form.population.data, form.cooperation.data)
    except BadInput as error:
        return await _render_partners(request, staff, form, _failure(form, error), error_status(error))
    return see_other("/staff/partners?saved=thresholds")


@staff_page(*ADMIN_ONLY)
async def partner_edit(request: Request, staff: Staff) -> Response:
    code = request.path_params["code"]
    tree = staff.catalog.tree
    if code not in tree:
        raise NotFound(f"未知行政区划代码 {code}")
    async with state(request).db.read() as session:
        region = await session.get(Region, code)
    if region is None:
        raise NotFound(f"未知行政区划代码 {code}")

    def render_partner(form: PartnerForm, general: list[str] | None = None, status: int = 200, conflict: Any = None) -> Response:
        return page(request, staff, "staff/record_form.html", {
            "title": f"合作地区指数: {tree.full_name(code)}", "form": form,
            "sections": [("指数(0–100, 留空表示未评估)", ["populationIndex", "cooperationIndex"])],
            "general": general or [], "conflict": conflict, "back": "/staff/partners",
            "action": f"/staff/partners/{code}", "history": ("partner", code),
        }, status=status, nav="partners")

    if request.method == "GET":
        data = {"version": region.version, "populationIndex": "" if region.population_index is None else f"{region.population_index:g}",
                "cooperationIndex": "" if region.cooperation_index is None else f"{region.cooperation_index:g}"}
        return render_partner(make_form(request, PartnerForm, data=data))
    form = make_form(request, PartnerForm, await request.form())
    population = (form.populationIndex.data or "").strip() or None
    cooperation = (form.cooperationIndex.data or "").strip() or None
    try:
        async with state(request).db.write() as session:
            await update_partner_indices(session, staff.ctx(), code, int_or_none(form.version.data) or 0, population, cooperation)
    except Conflict as error:
        async with state(request).db.read() as session:
            fresh = await session.get(Region, code)
        form.version.data = str(fresh.version if fresh else "")
        rows = side_by_side(error.current or {}, {"regionCode": code, "populationIndex": population, "cooperationIndex": cooperation}, tree)
        return render_partner(form, [error.message], 409, rows)
    except BadInput as error:
        return render_partner(form, _failure(form, error), error_status(error))
    return see_other("/staff/partners?saved=" + code)


# ================================================================== search synonyms (admins)


async def _render_synonyms(request: Request, staff: Staff, form: SynonymForm, general: list[str] | None = None, status: int = 200,
                           editing: int | None = None) -> Response:
    async with state(request).db.read() as session:
        rows = await list_synonyms(session)
    delete_form = make_form(request, DeleteForm)
    edit_forms = {r.id: make_form(request, SynonymForm, data={"terms": "、".join(r.terms or [])}) for r in rows}
    if editing is not None:
        edit_forms[editing] = form
    return page(request, staff, "staff/synonyms.html", {
        "title": "搜索同义词词典", "rows": rows, "form": form if editing is None else make_form(request, SynonymForm),
        "edit_forms": edit_forms, "delete_form": delete_form, "general": general or [], "editing": editing,
        "index_status": state(request).search.describe() if state(request).search is not None else "",
    }, status=status, nav="synonyms")


@staff_page(*ADMIN_ONLY)
async def synonyms_page(request: Request, staff: Staff) -> Response:
    if request.method == "GET":
        return await _render_synonyms(request, staff, make_form(request, SynonymForm))
    form = make_form(request, SynonymForm, await request.form())
    try:
        async with state(request).db.write() as session:
            await save_synonym(session, staff.ctx(), form.terms.data or "")
    except BadInput as error:
        return await _render_synonyms(request, staff, form, _failure(form, error), error_status(error))
    return see_other("/staff/synonyms?saved=1")


@staff_page(*ADMIN_ONLY)
async def synonym_edit(request: Request, staff: Staff) -> Response:
    synonym_id = _id(request)
    form = make_form(request, SynonymForm, await request.form())
    try:
        async with state(request).db.write() as session:
            if request.url.path.endswith("/delete"):
                await delete_synonym(session, staff.ctx(), synonym_id)
            else:
                await save_synonym(session, staff.ctx(), form.terms.data or "", synonym_id=synonym_id)
    except BadInput as error:
        return await _render_synonyms(request, staff, form, _failure(form, error), error_status(error), editing=synonym_id)
    return see_other("/staff/synonyms?saved=1")


# ================================================================== change log


ENTITY_LABELS = {
    "agreement": "通办协议", "matter": "事项", "guide": "办事指南草稿", "hall": "服务大厅", "contact": "联络人",
    "partner": "合作地区指数", "setting": "系统设置", "synonym": "同义词", "feedback": "问题反馈单", "faq": "手册问答",
    "faq-edition": "手册版本", "case": "通办案例", "outreach": "上门服务", "liaison-group": "联络群", "relation": "结对关系",
    "user": "账号", "token": "接口令牌", "session": "登录",
    "activity": "合作交流活动",
}


def _record_link(entity: str, key: str) -> str | None:
    if entity == "matter":
        return f"/staff/matters/{key}"
    if entity == "partner":
        return f"/staff/partners/{key}"
    return None


@staff_page(*LOCAL_ROLES)
async def history(request: Request, staff: Staff) -> Response:
    entity = request.path_params.get("entity")
    key = request.path_params.get("key")
    if entity in PERSONAL_ENTITIES and not may_see_session_history(staff.actor, key or ""):
        raise Forbidden("登录、账号和令牌记录只有市级管理员和账号本人可以查看")
    async with state(request).db.read() as session:
        query = select(ChangeLog).where(visible_change_log_filter(staff.ctx())).order_by(ChangeLog.id.desc())
        if entity:
            query = query.where(ChangeLog.entity == entity, ChangeLog.entity_key == key)
        else:
            query = query.where(ChangeLog.entity.not_in(PERSONAL_ENTITIES), ChangeLog.via != "init").limit(100)
        entries = list((await session.execute(query)).scalars())
        link = _record_link(entity or "", key or "")
        if entity == "agreement" and key:
            found = (await session.execute(select(Agreement.id).where((Agreement.key == key) | (Agreement.id == (int_or_none(key) or -1))))).first()
            link = f"/staff/agreements/{found[0]}" if found else None
    tree = staff.catalog.tree
    items = [{"entry": e, "changes": record_diff(e.before, e.after, tree)} for e in entries]
    return page(request, staff, "staff/history.html", {
        "title": "修改记录" + (f": {ENTITY_LABELS.get(entity, entity)} {key}" if entity else ""), "items": items,
        "entity": entity, "key": key, "entity_labels": ENTITY_LABELS, "record_link": link,
    }, nav="history")
