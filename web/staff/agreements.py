"""Agreements (一地签约、全市共享): list, detail, new, edit and the reach preview.

A form page's GET checks permission (403) and renders; its POST saves through `common.save_form`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from api import rules
from api.models import Agreement
from api.services.agreements import create_agreement, load_agreement, update_agreement
from api.services.base import Forbidden, NotFound, today
from api.services.dashboard import all_contacts, contacts_for_region, load_agreements, table_rows
from api.services.permissions import may_edit_local, may_see_agreement
from api.services.snapshots import agreement_snapshot
from web.staff.common import (
    county_choices,
    int_or_none,
    lookup_region,
    matter_choices,
    page,
    path_id,
    region_name,
    save_form,
    see_other,
    state,
)
from web.staff.forms import AgreementForm
from web.staff.session import LOCAL_ROLES, Staff, make_form, staff_page


def _agreement_form(request: Request, staff: Staff, formdata: Any = None, **data: Any) -> AgreementForm:
    form = make_form(request, AgreementForm, formdata, data=data or None)
    form.localCode.choices = county_choices(staff, include_city=True, only_own=True)
    form.matterCodes.choices = matter_choices(staff)
    return form


def reach_preview(
    staff: Staff,
    local_code: str | None,
    citywide: bool,
    partner_code: str | None,
    signed_on: str | None,
    registered_on: dt.date | None,
) -> dict[str, Any]:
    """What the agreement will do once saved: the counties it reaches (rules.local_reach) and
    where it stands against the 3-day rule. Server-rendered, with or without JavaScript."""
    tree = staff.catalog.tree
    home = staff.catalog.home_city
    preview: dict[str, Any] = {
        "counties": [],
        "all": False,
        "reason": "",
        "partner": "",
        "days": None,
        "late": False,
        "registered_on": registered_on,
        "signed_on": None,
        "total": len(tree.local_counties(home)),
    }
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
            id=0,
            key=None,
            title="",
            partner_code=partner_code or local_code,
            local_code=local_code,
            signed_on=signed or today(),
            effective_from=signed or today(),
            expires_on=None,
            stored_status="ACTIVE",
            citywide_shared=citywide,
            matter_codes=None,
        )
        reach = rules.local_reach(tree, home, facts)
        preview["counties"] = [(c, tree.name(c)) for c in reach]
        preview["all"] = set(reach) >= set(tree.local_counties(home))
        if local_code == home:
            preview["reason"] = f"由{tree.name(home)}本级签订, 效力及于全市各县(市、区)"
        elif citywide:
            preview["reason"] = (
                f"按“一地签约、全市共享”, 与{tree.name(local_code)}签约后, 合作效力及于{tree.name(home)}各县(市、区)"
            )
        else:
            preview["reason"] = (
                f"未实行全市共享: 仅在{'、'.join(tree.name(c) for c in reach)}生效, 其他县(市、区)的窗口不能据此受理"
            )
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
    snap = agreement_snapshot(
        agreement, None if agreement.covers_all_matters else [m.code for m in agreement.matters]
    )
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


def _render_agreement_form(
    request: Request,
    staff: Staff,
    form: AgreementForm,
    *,
    agreement: Agreement | None,
    general: list[str] | None = None,
    status: int = 200,
    conflict: Any = None,
    candidates: Any = (),
    partner_code: str | None = None,
) -> Response:
    registered = agreement.registered_on if agreement is not None else None
    preview = reach_preview(
        staff,
        form.localCode.data,
        bool(form.citywideShared.data),
        partner_code or (form.partnerCode.data or "").strip(),
        form.signedOn.data,
        registered,
    )
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
        form = _agreement_form(
            request,
            staff,
            citywideShared=True,
            localCode=local,
            status="ACTIVE",
            coverage="all",
            signedOn=ctx.today.isoformat(),
        )
        return _render_agreement_form(request, staff, form, agreement=None)
    formdata = await request.form()
    form = _agreement_form(request, staff, formdata)
    partner, candidates = await _partner_from_form(staff, form)
    if formdata.get("action") == "preview" or (partner is None and form.partnerCode.data):
        status = 200 if formdata.get("action") == "preview" else 422
        return _render_agreement_form(
            request, staff, form, agreement=None, status=status, candidates=candidates, partner_code=partner
        )
    raw = agreement_raw(form, partner)

    async def save(session: AsyncSession) -> int:
        return (await create_agreement(session, ctx, raw, require_not_shared_reason=True)).id

    agreement_id, failed = await save_form(request, form, save, record="agreement")
    if failed is not None:
        return _render_agreement_form(
            request, staff, form, agreement=None, partner_code=partner, **failed.shown
        )
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
    preview = reach_preview(
        staff,
        form.localCode.data,
        bool(form.citywideShared.data),
        partner,
        form.signedOn.data,
        agreement.registered_on if agreement else None,
    )
    return page(request, staff, "staff/_reach_preview.html", {"preview": preview})


async def _load_agreement(request: Request, agreement_id: int) -> Agreement:
    async with state(request).db.read() as session:
        agreement = await load_agreement(session, agreement_id=agreement_id)
    if agreement is None:
        raise NotFound(f"没有编号为 {agreement_id} 的协议")
    return agreement


@staff_page(*LOCAL_ROLES)
async def agreement_edit(request: Request, staff: Staff) -> Response:
    agreement_id = path_id(request)
    agreement = await _load_agreement(request, agreement_id)
    ctx = staff.ctx()
    if not may_edit_local(ctx, agreement.local_code):
        raise Forbidden(
            f"{staff.name} 无权修改{region_name(ctx.tree, agreement.local_code)}签订的协议: 县(市、区)账号只能修改本县(市、区)的记录"
        )
    if request.method == "GET":
        form = _agreement_form(request, staff, **_agreement_data(agreement))
        return _render_agreement_form(request, staff, form, agreement=agreement)
    formdata = await request.form()
    form = _agreement_form(request, staff, formdata)
    partner, candidates = await _partner_from_form(staff, form)
    if formdata.get("action") == "preview" or (partner is None and form.partnerCode.data):
        status = 200 if formdata.get("action") == "preview" else 422
        return _render_agreement_form(
            request,
            staff,
            form,
            agreement=agreement,
            status=status,
            candidates=candidates,
            partner_code=partner,
        )
    version = int_or_none(form.version.data) or 0
    raw = {**agreement_snapshot(agreement, None), **agreement_raw(form, partner)}
    raw.pop("registeredOn", None)  # kept by the service: the 3-day rule measures the first registration
    _, failed = await save_form(
        request,
        form,
        lambda session: update_agreement(
            session, ctx, agreement_id, version, raw, require_not_shared_reason=True
        ),
        record="agreement",
        mine=lambda current: {**current, **{k: v for k, v in raw.items() if k in current}},
        reload=lambda: _load_agreement(request, agreement_id),
        tree=ctx.tree,
    )
    if failed is not None:
        return _render_agreement_form(
            request, staff, form, agreement=failed.fresh or agreement, partner_code=partner, **failed.shown
        )
    return see_other(f"/staff/agreements/{agreement_id}?saved=1")


@staff_page()
async def agreements_list(request: Request, staff: Staff) -> Response:
    ctx = staff.ctx()
    async with state(request).db.read() as session:
        agreements = await load_agreements(session)
        contacts = await all_contacts(session)
    rows = [
        r
        for r in table_rows(agreements, contacts, staff.catalog, ctx.today)
        if may_see_agreement(ctx, r.partner_code)
    ]
    editable = {r.id for r in rows if may_edit_local(staff.ctx(), r.local_code)}
    return page(
        request,
        staff,
        "staff/agreements.html",
        {"title": "通办协议", "rows": rows, "editable": editable},
        nav="agreements",
    )


@staff_page()
async def agreement_detail(request: Request, staff: Staff) -> Response:
    agreement_id = path_id(request)
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
    return page(
        request,
        staff,
        "staff/agreement.html",
        {
            "title": agreement.title,
            "agreement": agreement,
            "row": row,
            "liaisons": liaisons,
            "local_liaisons": local_liaisons,
            "may_edit": may_edit_local(staff.ctx(), agreement.local_code),
            "saved": request.query_params.get("saved") == "1",
            "history_key": agreement.key or str(agreement.id),
        },
        nav="agreements",
    )
