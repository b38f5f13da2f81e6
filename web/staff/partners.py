"""Partner indices and tier thresholds (admins).

A form page's GET checks permission (403) and renders; its POST saves through `common.save_form`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.models import Region
from api.services.base import NotFound
from api.services.partners import set_tier_thresholds, tier_thresholds
from api.services.versioned import update_partner_indices
from web.staff.activities import due_context as activity_due_context
from web.staff.common import (
    fetch,
    int_or_none,
    page,
    record_form,
    save_form,
    see_other,
    state,
)
from web.staff.forms import PartnerForm, ThresholdForm
from web.staff.session import ADMIN_ONLY, Staff, make_form, staff_page


async def _render_partners(
    request: Request,
    staff: Staff,
    form: ThresholdForm | None = None,
    general: list[str] | None = None,
    status: int = 200,
) -> Response:
    catalog = staff.catalog
    tree = catalog.tree
    codes = {a.partner_code for a in catalog.agreements} | set(catalog.indices)
    codes = {c for c in codes if c in tree and not tree.contains(catalog.home_city, c)}
    rows = []
    for code in sorted(codes, key=lambda c: (tree.province_of(c) or "", c)):
        indices = catalog.partner_indices(code)
        rows.append(
            {
                "code": code,
                "name": tree.full_name(code),
                "tier": catalog.tier(code),
                "population": indices.population if indices else None,
                "cooperation": indices.cooperation if indices else None,
                "sample": indices.sample if indices else False,
                "agreements": sum(1 for a in catalog.agreements if a.partner_code == code),
            }
        )
    if form is None:
        async with state(request).db.read() as session:
            thresholds = await tier_thresholds(session)
        form = make_form(request, ThresholdForm, data={k: f"{v:g}" for k, v in thresholds.items()})
    return page(
        request,
        staff,
        "staff/partners.html",
        {
            "title": "合作地区四色分级",
            "rows": rows,
            "form": form,
            "general": general or [],
            "due": await activity_due_context(request, staff),
        },
        status=status,
        nav="partners",
    )


@staff_page(*ADMIN_ONLY)
async def partners_list(request: Request, staff: Staff) -> Response:
    return await _render_partners(request, staff)


@staff_page(*ADMIN_ONLY)
async def thresholds_save(request: Request, staff: Staff) -> Response:
    form = make_form(request, ThresholdForm, await request.form())
    _, failed = await save_form(
        request,
        form,
        lambda session: set_tier_thresholds(
            session, staff.ctx(), form.population.data, form.cooperation.data
        ),
        record="setting",
    )
    if failed is not None:
        return await _render_partners(request, staff, form, failed.general, failed.status)
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

    def render_partner(
        form: PartnerForm, general: list[str] | None = None, status: int = 200, conflict: Any = None
    ) -> Response:
        return record_form(
            request,
            staff,
            form,
            title=f"合作地区指数: {tree.full_name(code)}",
            sections=[("指数(0–100, 留空表示未评估)", ["populationIndex", "cooperationIndex"])],
            general=general,
            conflict=conflict,
            back="/staff/partners",
            action=f"/staff/partners/{code}",
            history=("partner", code),
            status=status,
            nav="partners",
        )

    if request.method == "GET":
        data = {
            "version": region.version,
            "populationIndex": "" if region.population_index is None else f"{region.population_index:g}",
            "cooperationIndex": "" if region.cooperation_index is None else f"{region.cooperation_index:g}",
        }
        return render_partner(make_form(request, PartnerForm, data=data))
    form = make_form(request, PartnerForm, await request.form())
    population = (form.populationIndex.data or "").strip() or None
    cooperation = (form.cooperationIndex.data or "").strip() or None
    _, failed = await save_form(
        request,
        form,
        lambda session: update_partner_indices(
            session, staff.ctx(), code, int_or_none(form.version.data) or 0, population, cooperation
        ),
        record="partner",
        mine={"regionCode": code, "populationIndex": population, "cooperationIndex": cooperation},
        reload=lambda: fetch(request, Region, code),
        tree=tree,
    )
    if failed is not None:
        return render_partner(form, failed.general, failed.status, failed.conflict)
    return see_other("/staff/partners?saved=" + code)
