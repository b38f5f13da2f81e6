"""数据体检 (/staff/health): per county, what is missing or stale, each line linking to the form
that fixes it (api/services/health.py decides what counts)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.services.health import KINDS, data_health
from web.staff.common import page, state
from web.staff.session import LOCAL_ROLES, Staff, staff_page


@staff_page(*LOCAL_ROLES)
async def health_page(request: Request, staff: Staff) -> Response:
    ctx = staff.ctx()
    async with state(request).db.read() as session:
        report = await data_health(session, ctx.tree, ctx.home_city, ctx.today)
    places = (
        [report.city, *report.counties]
        if staff.is_admin
        else [c for c in report.counties if c.code == staff.region_code]
    )
    return page(
        request,
        staff,
        "staff/health.html",
        {
            "title": "数据体检",
            "report": report,
            "places": places,
            "kinds": KINDS,
        },
        nav="health",
    )
