"""Contacts (一录) and liaison groups (一群): list, new and edit.

A form page's GET checks permission (403) and renders; its POST saves through `common.save_form`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from api.models import Contact, LiaisonGroup
from api.services.base import Forbidden, NotFound
from api.services.dashboard import all_contacts
from api.services.liaison import groups_with_counts, save_group
from api.services.permissions import may_edit_contact, may_see_contact
from api.services.snapshots import contact_snapshot
from api.services.versioned import create_contact, update_contact
from web.staff.common import (
    fetch,
    int_or_none,
    lookup_region,
    page,
    path_id,
    record_form,
    region_name,
    save_form,
    see_other,
    state,
)
from web.staff.forms import ContactForm, GroupForm
from web.staff.session import ADMIN_ONLY, Staff, make_form, staff_page

CONTACT_SECTIONS = [
    (
        "联络人",
        [
            "name",
            "regionCode",
            "organisation",
            "role",
            "phone",
            "email",
            "liaisonGroup",
            "verifiedOn",
            "sample",
        ],
    )
]


def contact_raw(form: ContactForm, region_code: str | None) -> dict[str, Any]:
    return {
        "name": form.name.data,
        "regionCode": region_code or form.regionCode.data,
        "organisation": form.organisation.data,
        "role": form.role.data,
        "phone": form.phone.data,
        "email": form.email.data,
        "liaisonGroup": form.liaisonGroup.data,
        "sample": bool(form.sample.data),
        "verifiedOn": form.verifiedOn.data,
    }


async def _group_names(request: Request) -> list[str]:
    async with state(request).db.read() as session:
        return list((await session.execute(select(LiaisonGroup.name).order_by(LiaisonGroup.name))).scalars())


async def _render_contact_form(
    request: Request,
    staff: Staff,
    form: ContactForm,
    contact: Contact | None,
    **shown: Any,
) -> Response:
    form.liaisonGroup.render_kw = {"list": "liaison-groups"}
    return record_form(
        request,
        staff,
        form,
        title=f"修改联络人: {contact.name}" if contact else "新增联络人",
        sections=CONTACT_SECTIONS,
        datalist=("liaison-groups", await _group_names(request)),
        action=f"/staff/contacts/{contact.id}/edit" if contact else "/staff/contacts/new",
        back="/staff/contacts",
        history=("contact", contact.key or str(contact.id)) if contact else None,
        nav="contacts",
        **shown,
    )


@staff_page()
async def contacts_list(request: Request, staff: Staff) -> Response:
    async with state(request).db.read() as session:
        contacts = await all_contacts(session)
        groups = await groups_with_counts(session)
    group_names = {g.id: g.name for g, _ in groups}
    ctx = staff.ctx()
    contacts = [c for c in contacts if may_see_contact(ctx, c.region_code)]
    return page(
        request,
        staff,
        "staff/contacts.html",
        {
            "title": "通办通讯录与联络群",
            "contacts": contacts,
            "groups": groups,
            "group_names": group_names,
            "editable": {c.id for c in contacts if may_edit_contact(ctx, c.region_code)},
        },
        nav="contacts",
    )


@staff_page()  # partner regions keep their own liaison contacts (permissions.may_edit_contact)
async def contact_new(request: Request, staff: Staff) -> Response:
    if request.method == "GET":
        form = make_form(
            request, ContactForm, data={"regionCode": "" if staff.is_admin else staff.region_code}
        )
        return await _render_contact_form(request, staff, form, None)
    form = make_form(request, ContactForm, await request.form())
    found = await lookup_region(staff.catalog.tree, form.regionCode.data)
    if found.problem:
        form.regionCode.errors = [found.problem]
        return await _render_contact_form(request, staff, form, None, status=422)
    raw = contact_raw(form, found.code)
    _, failed = await save_form(
        request, form, lambda session: create_contact(session, staff.ctx(), raw), record="contact"
    )
    if failed is not None:
        return await _render_contact_form(request, staff, form, None, **failed.shown)
    return see_other("/staff/contacts?saved=1")


@staff_page()
async def contact_edit(request: Request, staff: Staff) -> Response:
    contact_id = path_id(request)
    async with state(request).db.read() as session:
        contact = await session.get(Contact, contact_id)
        group = (
            await session.get(LiaisonGroup, contact.group_id)
            if contact is not None and contact.group_id
            else None
        )
    if contact is None:
        raise NotFound(f"没有编号为 {contact_id} 的联络人")
    if not may_edit_contact(staff.ctx(), contact.region_code):
        raise Forbidden(
            f"{staff.name} 无权修改{region_name(staff.catalog.tree, contact.region_code)}的联络人"
        )
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
    _, failed = await save_form(
        request,
        form,
        lambda session: update_contact(
            session, staff.ctx(), contact_id, int_or_none(form.version.data) or 0, raw
        ),
        record="contact",
        mine=lambda current: {k: raw.get(k) for k in current if k in raw},
        reload=lambda: fetch(request, Contact, contact_id),
        tree=staff.catalog.tree,
    )
    if failed is not None:
        return await _render_contact_form(request, staff, form, failed.fresh or contact, **failed.shown)
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
        return record_form(
            request,
            staff,
            form,
            title=f"联络群: {group.name}" if group else "新建通办联络群",
            sections=GROUP_SECTIONS,
            general=general,
            conflict=None,
            back="/staff/contacts",
            action=f"/staff/groups/{group.id}/edit" if group else "/staff/groups/new",
            history=("liaison-group", str(group.id)) if group else None,
            status=status,
            nav="contacts",
        )

    if request.method == "GET":
        data = {"name": group.name, "channel": group.channel or "", "note": group.note or ""} if group else {}
        return render_group(make_form(request, GroupForm, data=data))
    form = make_form(request, GroupForm, await request.form())
    raw = {"name": form.name.data, "channel": form.channel.data, "note": form.note.data}
    _, failed = await save_form(
        request,
        form,
        lambda session: save_group(session, staff.ctx(), raw, group_id=group_id),
        record="liaison-group",
    )
    if failed is not None:
        return render_group(form, failed.general, failed.status)
    return see_other("/staff/contacts?saved=group")
