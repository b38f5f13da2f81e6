"""The FAQ handbook (一册) and the case collection (一集): staff editing and the public pages.

Public pages: `/faq` (the latest published edition, printable), `/faq/{year}-{month}` (an earlier
edition) and `/cases` (published cases). They are served without a session and show only what
staff published.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.models import Case, FaqEdition, FaqEntry, Feedback
from api.services.base import BadInput, Forbidden, NotFound
from api.services.cases import case_snapshot, list_cases, save_case
from api.services.faq import (
    candidate_feedback,
    compile_edition,
    edition_entries,
    editions,
    latest_published,
    next_edition_month,
    publish_edition,
    save_entry,
    working_entries,
)
from api.services.permissions import (
    faq_entry_edit_problem,
    may_edit_case,
    may_see_feedback,
    may_see_unpublished_cases,
)
from web.staff.common import (
    county_choices,
    error_status,
    fetch,
    int_or_none,
    lookup_region,
    message_and_fields,
    page,
    record_form,
    region_name,
    save_form,
    see_other,
    state,
)
from web.staff.forms import CaseForm, DeleteForm, EditionForm, FaqEntryForm, apply_errors
from web.staff.session import ADMIN_ONLY, LOCAL_ROLES, Staff, make_form, staff_page
from web.templating import render

_EDITION = re.compile(r"^(\d{4})-(\d{1,2})$")


# ================================================================== FAQ (staff)


@staff_page()
async def faq_home(request: Request, staff: Staff) -> Response:
    async with state(request).db.read() as session:
        working = await working_entries(session)
        all_editions = await editions(session)
        candidates = (
            [f for f in await candidate_feedback(session) if may_see_feedback(staff.ctx(), f)]
            if staff.is_local
            else []
        )
    year, month = next_edition_month(staff.ctx().today)
    compile_form = make_form(
        request,
        EditionForm,
        data={"year": str(year), "month": str(month), "feedback": [str(f.id) for f in candidates]},
    )
    compile_form.feedback.choices = [(str(f.id), f"{f.reference}: {f.description[:60]}") for f in candidates]
    return page(
        request,
        staff,
        "staff/faq.html",
        {
            "title": "通办常见问题解答知识手册",
            "working": working,
            "editions": all_editions,
            "candidates": candidates,
            "compile_form": compile_form,
            "general": [],
            "saved": request.query_params.get("saved"),
        },
        nav="faq",
    )


def _entry_raw(form: FaqEntryForm) -> dict[str, Any]:
    return {
        "question": form.question.data,
        "answer": form.answer.data,
        "matterCode": form.matterCode.data,
        "published": bool(form.published.data),
        "feedbackId": form.feedbackId.data or None,
    }


def _render_entry(
    request: Request,
    staff: Staff,
    form: FaqEntryForm,
    entry: FaqEntry | None,
    *,
    feedback: Feedback | None = None,
    **shown: Any,
) -> Response:
    return record_form(
        request,
        staff,
        form,
        title="修改手册问答" if entry else "新增手册问答",
        sections=[("问答", ["question", "answer", "matterCode", "published"])],
        back="/staff/faq",
        action=f"/staff/faq/entries/{entry.id}/edit" if entry else "/staff/faq/entries/new",
        history=("faq", str(entry.id)) if entry else None,
        source_feedback=feedback,
        nav="faq",
        **shown,
    )


@staff_page(*LOCAL_ROLES)
async def faq_entry_new(request: Request, staff: Staff) -> Response:
    if request.method == "GET":
        data: dict[str, Any] = {"published": True}
        feedback = None
        feedback_id = int_or_none(request.query_params.get("feedback"))
        if feedback_id is not None:
            async with state(request).db.read() as session:
                feedback = await session.get(Feedback, feedback_id)
            if feedback is None or not may_see_feedback(staff.ctx(), feedback):
                raise NotFound(f"没有编号为 {feedback_id} 的反馈单")
            if feedback is not None:
                data.update(
                    question=feedback.description,
                    answer=feedback.resolution or "",
                    matterCode=feedback.matter_code or "",
                    feedbackId=str(feedback.id),
                )
        return _render_entry(
            request, staff, make_form(request, FaqEntryForm, data=data), None, feedback=feedback
        )
    form = make_form(request, FaqEntryForm, await request.form())
    raw = _entry_raw(form)
    _, failed = await save_form(
        request,
        form,
        lambda session: save_entry(session, staff.ctx(), raw),
        record="faq",
        failure=message_and_fields,
    )
    if failed is not None:
        return _render_entry(request, staff, form, None, **failed.shown)
    return see_other("/staff/faq?saved=entry")


@staff_page(*LOCAL_ROLES)
async def faq_entry_edit(request: Request, staff: Staff) -> Response:
    entry_id = int_or_none(request.path_params["id"]) or 0
    async with state(request).db.read() as session:
        entry = await session.get(FaqEntry, entry_id)
        edition = (
            await session.get(FaqEdition, entry.edition_id)
            if entry is not None and entry.edition_id
            else None
        )
    if entry is None:
        raise NotFound(f"没有编号为 {entry_id} 的问答")
    problem = faq_entry_edit_problem(
        staff.ctx(), edition is not None, edition is not None and edition.published_at is not None
    )
    if problem is not None:
        raise Forbidden(problem)
    back = f"/staff/faq/editions/{edition.id}" if edition else "/staff/faq"
    if request.method == "GET":
        data = {
            "version": entry.version,
            "question": entry.question,
            "answer": entry.answer,
            "matterCode": entry.matter_code or "",
            "published": entry.published,
            "feedbackId": str(entry.feedback_id or ""),
        }
        return _render_entry(request, staff, make_form(request, FaqEntryForm, data=data), entry)
    form = make_form(request, FaqEntryForm, await request.form())
    raw = _entry_raw(form)
    _, failed = await save_form(
        request,
        form,
        lambda session: save_entry(
            session, staff.ctx(), raw, entry_id=entry_id, version=int_or_none(form.version.data) or 0
        ),
        record="faq",
        mine={k: raw.get(k) for k in ("question", "answer", "matterCode", "published")},
        reload=lambda: fetch(request, FaqEntry, entry_id),
        failure=message_and_fields,
    )
    if failed is not None:
        return _render_entry(request, staff, form, failed.fresh or entry, **failed.shown)
    return see_other(back + "?saved=entry")


@staff_page(*ADMIN_ONLY)
async def faq_compile(request: Request, staff: Staff) -> Response:
    formdata = await request.form()
    form = make_form(request, EditionForm, formdata)
    chosen = [i for i in (int_or_none(v) for v in formdata.getlist("feedback")) if i is not None]
    try:
        async with state(request).db.write() as session:
            edition = await compile_edition(session, staff.ctx(), form.year.data, form.month.data, chosen)
            edition_id = edition.id
    except BadInput as error:
        async with state(request).db.read() as session:
            working = await working_entries(session)
            all_editions = await editions(session)
            candidates = await candidate_feedback(session)
        form.feedback.choices = [(str(f.id), f"{f.reference}: {f.description[:60]}") for f in candidates]
        general = [error.message, *apply_errors(form, error.fields)]
        return page(
            request,
            staff,
            "staff/faq.html",
            {
                "title": "通办常见问题解答知识手册",
                "working": working,
                "editions": all_editions,
                "candidates": candidates,
                "compile_form": form,
                "general": general,
                "saved": None,
            },
            status=error_status(error),
            nav="faq",
        )
    return see_other(f"/staff/faq/editions/{edition_id}")


@staff_page(*LOCAL_ROLES)
async def faq_edition(request: Request, staff: Staff) -> Response:
    edition_id = int_or_none(request.path_params["id"]) or 0
    async with state(request).db.read() as session:
        edition = await session.get(FaqEdition, edition_id)
        entries = await edition_entries(session, edition_id) if edition else []
    if edition is None:
        raise NotFound(f"没有编号为 {edition_id} 的手册版本")
    return page(
        request,
        staff,
        "staff/faq_edition.html",
        {
            "title": edition.title,
            "edition": edition,
            "entries": entries,
            "publish_form": make_form(request, DeleteForm),
            "saved": request.query_params.get("saved"),
        },
        nav="faq",
    )


@staff_page(*ADMIN_ONLY)
async def faq_publish(request: Request, staff: Staff) -> Response:
    edition_id = int_or_none(request.path_params["id"]) or 0
    async with state(request).db.write() as session:
        await publish_edition(session, staff.ctx(), edition_id)
    return see_other(f"/staff/faq/editions/{edition_id}?saved=published")


# ================================================================== cases (staff)


def _case_form(request: Request, staff: Staff, formdata: Any = None, **data: Any) -> CaseForm:
    form = make_form(request, CaseForm, formdata, data=data or None)
    choices = county_choices(staff, only_own=True)
    form.countyCode.choices = ([("", "全市(市级案例)")] if staff.is_admin else []) + choices
    return form


def _render_case(
    request: Request,
    staff: Staff,
    form: CaseForm,
    case: Case | None,
    **shown: Any,
) -> Response:
    return record_form(
        request,
        staff,
        form,
        title=f"修改案例: {case.title}" if case else "新增通办案例",
        sections=[
            (
                "案例",
                [
                    "title",
                    "summary",
                    "matterCode",
                    "countyCode",
                    "partnerCode",
                    "happenedOn",
                    "published",
                ],
            )
        ],
        back="/staff/cases",
        action=f"/staff/cases/{case.id}/edit" if case else "/staff/cases/new",
        history=("case", str(case.id)) if case else None,
        nav="cases",
        **shown,
    )


async def _case_raw(staff: Staff, form: CaseForm) -> dict[str, Any] | None:
    found = await lookup_region(staff.catalog.tree, form.partnerCode.data)
    if found.problem:
        form.partnerCode.errors = [found.problem]
        return None
    return {
        "title": form.title.data,
        "summary": form.summary.data,
        "matterCode": form.matterCode.data,
        "countyCode": form.countyCode.data,
        "partnerCode": found.code,
        "happenedOn": form.happenedOn.data,
        "published": bool(form.published.data),
    }


@staff_page()
async def cases_list(request: Request, staff: Staff) -> Response:
    async with state(request).db.read() as session:
        cases = await list_cases(session, published_only=not may_see_unpublished_cases(staff.actor))
    ctx = staff.ctx()
    editable = {c.id for c in cases if may_edit_case(ctx, c.county_code)}
    tree = staff.catalog.tree
    return page(
        request,
        staff,
        "staff/cases.html",
        {
            "title": "通办案例集",
            "cases": cases,
            "editable": editable,
            "names": {
                c.id: (region_name(tree, c.county_code), region_name(tree, c.partner_code)) for c in cases
            },
        },
        nav="cases",
    )


@staff_page(*LOCAL_ROLES)
async def case_new(request: Request, staff: Staff) -> Response:
    if request.method == "GET":
        form = _case_form(request, staff, countyCode=staff.region_code if staff.is_county else "")
        return _render_case(request, staff, form, None)
    form = _case_form(request, staff, await request.form())
    raw = await _case_raw(staff, form)
    if raw is None:
        return _render_case(request, staff, form, None, status=422)
    _, failed = await save_form(
        request,
        form,
        lambda session: save_case(session, staff.ctx(), raw),
        record="case",
        failure=message_and_fields,
    )
    if failed is not None:
        return _render_case(request, staff, form, None, **failed.shown)
    return see_other("/staff/cases?saved=1")


@staff_page(*LOCAL_ROLES)
async def case_edit(request: Request, staff: Staff) -> Response:
    case_id = int_or_none(request.path_params["id"]) or 0
    async with state(request).db.read() as session:
        case = await session.get(Case, case_id)
    if case is None:
        raise NotFound(f"没有编号为 {case_id} 的案例")
    if not may_edit_case(staff.ctx(), case.county_code):
        raise Forbidden(f"{staff.name} 无权修改这个案例: 县(市、区)账号只能修改本县(市、区)的案例")
    if request.method == "GET":
        snap = case_snapshot(case)
        data = {k: ("" if v is None else v) for k, v in snap.items()}
        return _render_case(request, staff, _case_form(request, staff, **data, version=case.version), case)
    form = _case_form(request, staff, await request.form())
    raw = await _case_raw(staff, form)
    if raw is None:
        return _render_case(request, staff, form, case, status=422)
    _, failed = await save_form(
        request,
        form,
        lambda session: save_case(
            session, staff.ctx(), raw, case_id=case_id, version=int_or_none(form.version.data) or 0
        ),
        record="case",
        mine=raw,
        reload=lambda: fetch(request, Case, case_id),
        tree=staff.catalog.tree,
        failure=message_and_fields,
    )
    if failed is not None:
        return _render_case(request, staff, form, failed.fresh or case, **failed.shown)
    return see_other("/staff/cases?saved=1")


# ================================================================== public pages


def _public(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    return render(request, template, {"nav_current": "", **context}, status_code=status)


async def public_faq(request: Request) -> Response:
    """The latest published handbook edition (or the one named in the path), printable."""
    wanted = request.path_params.get("edition")
    async with state(request).db.read() as session:
        published = await editions(session, published_only=True)
        if wanted:
            match = _EDITION.match(wanted)
            edition = next(
                (e for e in published if match and (e.year, e.month) == (int(match[1]), int(match[2]))), None
            )
        else:
            edition = await latest_published(session)
        entries = [e for e in await edition_entries(session, edition.id) if e.published] if edition else []
    if wanted and edition is None:
        return _public(
            request,
            "staff/public_faq.html",
            {"title": "没有这一版手册", "edition": None, "entries": [], "editions": published},
            404,
        )
    return _public(
        request,
        "staff/public_faq.html",
        {
            "title": edition.title if edition else "通办常见问题解答",
            "edition": edition,
            "entries": entries,
            "editions": published,
        },
    )


async def public_cases(request: Request) -> Response:
    async with state(request).db.read() as session:
        cases = await list_cases(session, published_only=True)
    catalog = await state(request).catalog.get()
    tree = catalog.tree
    return _public(
        request,
        "staff/public_cases.html",
        {
            "title": "跨区域通办案例集",
            "cases": cases,
            "names": {
                c.id: (region_name(tree, c.county_code), region_name(tree, c.partner_code)) for c in cases
            },
            "sample_notice": any(c.is_sample for c in cases),
        },
    )
