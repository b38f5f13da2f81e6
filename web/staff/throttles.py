"""Sign-in throttles (登录限制), for the city's admins: which accounts and addresses are being slowed
down or refused right now (api.services.sign_in_throttle), and a button to clear one; every
clearing is audited."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from wtforms import StringField

from api.services.base import BadInput, now
from api.services.sign_in_throttle import WINDOW, clear_throttle, current_throttles
from web.staff.common import error_status, page, see_other, state
from web.staff.forms import apply_errors
from web.staff.session import ADMIN_ONLY, CsrfOnly, Staff, StaffForm, make_form, staff_page

REASONS = {
    "pair": "该账号在该地址连续输错",
    "address": "该地址输错过多",
    "account": "该账号被多处猜测(上限)",
    "delay": "该账号被猜测, 需间隔",
}


class ThrottleClearForm(StaffForm):
    name = StringField("账号")
    address = StringField("来源地址")


async def _render(
    request: Request, staff: Staff, form: Any = None, general: list[str] | None = None, status: int = 200
) -> Response:
    async with state(request).db.read() as session:
        rows = await current_throttles(session, now())
    return page(
        request,
        staff,
        "staff/throttles.html",
        {
            "title": "登录限制",
            "rows": rows,
            "reasons": REASONS,
            "window_minutes": int(WINDOW.total_seconds() // 60),
            "form": form or make_form(request, ThrottleClearForm),
            "row_form": make_form(request, CsrfOnly),
            "general": general or [],
            "saved": request.query_params.get("saved"),
        },
        status=status,
        nav="throttles",
    )


@staff_page(*ADMIN_ONLY)
async def throttles(request: Request, staff: Staff) -> Response:
    return await _render(request, staff)


@staff_page(*ADMIN_ONLY)
async def throttle_clear(request: Request, staff: Staff) -> Response:
    form = make_form(request, ThrottleClearForm, await request.form())
    try:
        async with state(request).db.write() as session:
            cleared = await clear_throttle(session, staff.ctx(), form.name.data, form.address.data)
    except BadInput as error:
        return await _render(
            request, staff, form, [error.message, *apply_errors(form, error.fields)], error_status(error)
        )
    return see_other(f"/staff/throttles?saved={cleared}")
