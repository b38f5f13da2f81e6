"""Matters and their service guides (办事指南): list, detail, new, edit, draft, publish and diff.

A form page's GET checks permission (403) and renders; its POST saves through `common.save_form`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from api.models import Matter
from api.services.base import BadInput, Conflict, FieldError, NotFound
from api.services.guides import discard_draft, draft_of, guide_text_lines, publish_draft, save_draft
from api.services.matters import load_matter, upsert_matter
from api.services.snapshots import guide_snapshot, matter_snapshot, published_guide
from api.services.versioned import update_matter
from search_index.query import MAX_QUERY_CHARS
from web.staff.common import (
    error_status,
    form_failure,
    int_or_none,
    page,
    record_form,
    save_form,
    see_other,
    state,
)
from web.staff.diff import guide_version_diff, side_by_side
from web.staff.forms import (
    GuideActionForm,
    GuideForm,
    MatterForm,
    materials_from_text,
    materials_to_text,
    split_list,
)
from web.staff.session import ADMIN_ONLY, Staff, make_form, staff_page


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
        "version": matter.version,
        "code": matter.code,
        "name": matter.name,
        "department": matter.department,
        "scope": getattr(matter.scope, "value", matter.scope),
        "modes": list(matter.modes or []),
        "keywords": "、".join(matter.keywords or []),
        "aliases": "、".join(matter.aliases or []),
        "nationalList": matter.national_list or "",
        "deadline": matter.deadline or "",
        "published": matter.published,
        "source": matter.source or "",
        "sourceUrl": matter.source_url or "",
        "sample": matter.is_sample,
        "verifiedOn": matter.verified_on.isoformat() if matter.verified_on else "",
    }


MATTER_SECTIONS = [
    ("事项", ["code", "name", "department", "scope", "modes", "keywords", "aliases"]),
    ("清单与来源", ["nationalList", "deadline", "published", "source", "sourceUrl", "verifiedOn", "sample"]),
]


def _render_matter_form(
    request: Request,
    staff: Staff,
    form: MatterForm,
    matter: Matter | None,
    **shown: Any,
) -> Response:
    if matter is not None:
        form.code.render_kw = {"readonly": True}
    return record_form(
        request,
        staff,
        form,
        title=f"修改事项 {matter.code}" if matter else "新增事项",
        sections=MATTER_SECTIONS,
        action=f"/staff/matters/{matter.code}/edit" if matter else "/staff/matters/new",
        back=f"/staff/matters/{matter.code}" if matter else "/staff/matters",
        history=("matter", matter.code) if matter else None,
        nav="matters",
        **shown,
    )


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
    return page(
        request,
        staff,
        "staff/matters.html",
        {"title": "事项与办事指南", "matters": matters, "q": q, "scope": scope},
        nav="matters",
    )


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
    return page(
        request,
        staff,
        "staff/matter.html",
        {
            "title": matter.name,
            "matter": matter,
            "guide": published_guide(matter),
            "draft": draft_of(matter),
            "guides": guides,
            "saved": request.query_params.get("saved"),
        },
        nav="matters",
    )


@staff_page(*ADMIN_ONLY)
async def matter_new(request: Request, staff: Staff) -> Response:
    if request.method == "GET":
        form = _matter_form(request, scope="CROSS_PROVINCE", published=True)
        return _render_matter_form(request, staff, form, None)
    form = _matter_form(request, await request.form())
    raw = matter_raw(form)

    async def save(session: AsyncSession) -> str:
        if raw["code"] and await load_matter(session, raw["code"]) is not None:
            raise BadInput(
                "事项编码已存在",
                [FieldError("code", f"已有编码为 {raw['code']} 的事项, 请打开该事项修改")],
            )
        return (await upsert_matter(session, staff.ctx(), raw)).code

    code, failed = await save_form(request, form, save, record="matter")
    if failed is not None:
        return _render_matter_form(request, staff, form, None, **failed.shown)
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
    _, failed = await save_form(
        request,
        form,
        lambda session: update_matter(session, staff.ctx(), code, int_or_none(form.version.data) or 0, raw),
        record="matter",
        mine=lambda current: {k: raw.get(k) for k in current},
        reload=lambda: _load_matter(request, code),
        tree=staff.catalog.tree,
        leave_out=("guide",),
    )
    if failed is not None:
        return _render_matter_form(request, staff, form, failed.fresh or matter, **failed.shown)
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


def _render_guide(
    request: Request,
    staff: Staff,
    matter: Matter,
    form: GuideForm,
    *,
    general: list[str] | None = None,
    status: int = 200,
    conflict: Any = None,
) -> Response:
    draft = draft_of(matter)
    current = published_guide(matter)
    diff = (
        guide_version_diff(guide_text_lines(guide_snapshot(current)), guide_text_lines(guide_snapshot(draft)))
        if draft
        else []
    )
    action_form = make_form(
        request, GuideActionForm, data={"draft_version": str(draft.version) if draft else ""}
    )
    return page(
        request,
        staff,
        "staff/guide_form.html",
        {
            "title": f"办事指南: {matter.name}",
            "matter": matter,
            "form": form,
            "draft": draft,
            "current": current,
            "diff": diff,
            "general": general or [],
            "conflict": conflict,
            "action_form": action_form,
        },
        status=status,
        nav="matters",
    )


@staff_page(*ADMIN_ONLY)
async def guide_edit(request: Request, staff: Staff) -> Response:
    code = request.path_params["code"]
    matter = await _load_matter(request, code)
    draft = draft_of(matter)
    if request.method == "GET":
        source = draft if draft is not None else published_guide(matter)
        form = make_form(
            request, GuideForm, data=_guide_data(guide_snapshot(source), draft.version if draft else None)
        )
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
        rows = side_by_side(current, guide_raw(form), staff.catalog.tree, "guide")
        return _render_guide(
            request,
            staff,
            fresh,
            form,
            general=[
                error.message,
                "下表左侧是他人保存的草稿, 右侧是您填写的内容(仍在下方表单中); 再次保存将以您的内容覆盖草稿。",
            ],
            status=409,
            conflict=rows,
        )
    except BadInput as error:
        return _render_guide(
            request, staff, matter, form, general=form_failure(form, error), status=error_status(error)
        )
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
                guide = await publish_draft(
                    session, staff.ctx(), code, int_or_none(form.draft_version.data) or 0
                )
                target = f"/staff/matters/{code}?saved=v{guide.version}"
    except Conflict as error:
        matter = await _load_matter(request, code)
        draft = draft_of(matter)
        form = make_form(
            request,
            GuideForm,
            data=_guide_data(
                guide_snapshot(draft or published_guide(matter)), draft.version if draft else None
            ),
        )
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
    older = int_or_none(request.query_params.get("from")) or (
        versions[versions.index(newer) - 1] if newer in versions and versions.index(newer) > 0 else newer
    )
    if newer not in by_version or older not in by_version:
        raise NotFound("没有这个版本的办事指南")
    lines = guide_version_diff(
        guide_text_lines(guide_snapshot(by_version[older])),
        guide_text_lines(guide_snapshot(by_version[newer])),
    )
    return page(
        request,
        staff,
        "staff/guide_diff.html",
        {
            "title": f"办事指南版本对比: {matter.name}",
            "matter": matter,
            "older": by_version[older],
            "newer": by_version[newer],
            "versions": [by_version[v] for v in versions],
            "lines": lines,
        },
        nav="matters",
    )
