"""Halls and their windows (大厅、窗口): list, new and edit, with pasted map coordinates.

A form page's GET checks permission (403) and renders; its POST saves through `common.save_form`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from api.models import Hall
from api.services.base import BadInput, FieldError, Forbidden, NotFound
from api.services.geo import CoordinateError, outside_county, parse_coordinates
from api.services.halls import load_hall, upsert_hall
from api.services.permissions import may_edit_local
from api.services.snapshots import hall_snapshot
from web.staff.common import (
    int_or_none,
    local_place_choices,
    matter_choices,
    page,
    path_id,
    record_form,
    region_name,
    save_form,
    see_other,
    state,
)
from web.staff.forms import HallForm
from web.staff.session import LOCAL_ROLES, Staff, make_form, staff_page


def _hall_form(request: Request, staff: Staff, formdata: Any = None, **data: Any) -> HallForm:
    form = make_form(request, HallForm, formdata, data=data or None)
    form.regionCode.choices = local_place_choices(staff)
    form.matterCodes.choices = matter_choices(staff, None)
    return form


def hall_raw(form: HallForm) -> dict[str, Any]:
    return {
        "key": form.key.data,
        "name": form.name.data,
        "regionCode": form.regionCode.data,
        "level": form.level.data,
        "address": form.address.data,
        "phone": form.phone.data,
        "openingHours": form.openingHours.data,
        "latitude": form.latitude.data,
        "longitude": form.longitude.data,
        "coordinatesApproximate": bool(form.coordinatesApproximate.data),
        "hasCrossRegionWindow": bool(form.hasCrossRegionWindow.data),
        "windowServices": list(form.windowServices.data or []),
        "matterCodes": list(form.matterCodes.data or []),
        "source": form.source.data,
        "sourceUrl": form.sourceUrl.data,
        "verifiedOn": form.verifiedOn.data,
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
    problem = outside_county(
        ctx.tree, ctx.home_city, (form.regionCode.data or "").strip(), latitude, longitude
    )
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


def _render_hall_form(
    request: Request,
    staff: Staff,
    form: HallForm,
    hall: Hall | None,
    **shown: Any,
) -> Response:
    return record_form(
        request,
        staff,
        form,
        title=f"修改服务大厅: {hall.name}" if hall else "新增服务大厅",
        sections=HALL_SECTIONS,
        action=f"/staff/halls/{hall.id}/edit" if hall else "/staff/halls/new",
        back="/staff/halls",
        history=("hall", hall.key or str(hall.id)) if hall else None,
        nav="halls",
        **shown,
    )


@staff_page()
async def halls_list(request: Request, staff: Staff) -> Response:
    async with state(request).db.read() as session:
        halls = list((await session.execute(select(Hall).order_by(Hall.region_code, Hall.name))).scalars())
    ctx = staff.ctx()
    return page(
        request,
        staff,
        "staff/halls.html",
        {
            "title": "服务大厅与跨区域通办窗口",
            "halls": halls,
            "editable": {h.id for h in halls if may_edit_local(ctx, h.region_code)},
        },
        nav="halls",
    )


@staff_page(*LOCAL_ROLES)
async def hall_new(request: Request, staff: Staff) -> Response:
    if request.method == "GET":
        town = request.query_params.get("regionCode", "")[:12]  # 数据体检's "town without a centre" link
        town = town if town in dict(local_place_choices(staff)) else ""
        form = _hall_form(
            request,
            staff,
            regionCode=town or (staff.region_code if staff.is_county else ""),
            level="TOWN" if town else "COUNTY",
            hasCrossRegionWindow=True,
            windowServices=["CONSULT", "ASSIST", "SEND_RECEIVE"],
        )
        return _render_hall_form(request, staff, form, None)
    form = _hall_form(request, staff, await request.form())
    if not _pasted_coordinates(form, staff):
        return _render_hall_form(request, staff, form, None, status=422)

    async def save(session: AsyncSession) -> int:
        if form.key.data and await load_hall(session, key=form.key.data.strip()) is not None:
            raise BadInput("标识已存在", [FieldError("key", "已有大厅使用这个标识")])
        return (await upsert_hall(session, staff.ctx(), hall_raw(form))).id

    hall_id, failed = await save_form(request, form, save, record="hall")
    if failed is not None:
        return _render_hall_form(request, staff, form, None, **failed.shown)
    return see_other(f"/staff/halls?saved={hall_id}")


@staff_page(*LOCAL_ROLES)
async def hall_edit(request: Request, staff: Staff) -> Response:
    hall_id = path_id(request)
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
    _, failed = await save_form(
        request,
        form,
        lambda session: upsert_hall(
            session, ctx, raw, hall_id=hall_id, version=int_or_none(form.version.data) or 0
        ),
        record="hall",
        mine=lambda current: {k: raw.get(k) for k in current},
        reload=lambda: _reload_hall(request, hall_id),
        tree=ctx.tree,
    )
    if failed is not None:
        return _render_hall_form(request, staff, form, failed.fresh or hall, **failed.shown)
    return see_other(f"/staff/halls?saved={hall_id}")


async def _reload_hall(request: Request, hall_id: int) -> Hall | None:
    async with state(request).db.read() as session:
        return await load_hall(session, hall_id=hall_id)
