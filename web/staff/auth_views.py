"""Sign-in, sign-out and the staff home page."""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from api import rules
from api.enums import FeedbackStatus
from api.models import Feedback
from api.services.feedback import response_overdue
from api.services.permissions import is_own_local_record, visible_feedback_filter
from api.services.staff_auth import sign_in, sign_out
from web.staff.common import page, see_other, state
from web.staff.forms import LoginForm
from web.staff.session import (
    Staff,
    clear_session_cookie,
    csrf_ok,
    current_staff,
    make_form,
    pre_session,
    safe_next,
    set_pre_cookie,
    set_session_cookie,
    staff_page,
)
from web.templating import render

log = logging.getLogger("tongban.staff")


def client_address(request: Request) -> str:
    """The client's address (uvicorn applies X-Forwarded-For only from trusted proxies)."""
    return (request.client.host if request.client else "unknown")[:64]


def _login_page(
    request: Request, form: LoginForm, message: str | None, status: int, new_pre: str | None
) -> Response:
    response = render(
        request,
        "staff/login.html",
        {
            "title": "工作人员登录",
            "form": form,
            "message": message,
            "staff": None,
            "staff_nav": "",
            "nav_current": "staff",
        },
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )
    if new_pre is not None:
        set_pre_cookie(request, response, new_pre)
    return response


async def login(request: Request) -> Response:
    value, is_new = pre_session(request)
    request.state.csrf_context = value
    if request.method == "GET":
        if await current_staff(request) is not None:
            return see_other(safe_next(request.query_params.get("next")))
        form = make_form(request, LoginForm, data={"next": safe_next(request.query_params.get("next"))})
        return _login_page(request, form, None, 200, value if is_new else None)

    formdata = await request.form()
    form = make_form(request, LoginForm, formdata)
    form.password.data = ""  # never echo a password back
    if is_new or not csrf_ok(request, formdata):
        return _login_page(
            request,
            form,
            "页面已过期或浏览器未保存 Cookie, 请重新输入后登录。",
            403,
            value if is_new else None,
        )
    result = await sign_in(  # its own short read and write (argon2 runs with no transaction open)
        state(request).db,
        str(formdata.get("name", ""))[:200],
        str(formdata.get("password", ""))[:1000],
        client_address(request),
    )
    if result.throttled:
        response = _login_page(
            request, form, f"密码错误次数过多, 请 {_wait_text(result.retry_after_seconds)}后再试。", 429, None
        )
        response.headers["Retry-After"] = str(result.retry_after_seconds)
        return response
    if result.session_id is None:
        form.name.errors = ["账号或密码不正确"]
        return _login_page(request, form, "账号或密码不正确。", 401, None)
    log.info("staff sign-in: %s", result.user.name if result.user else "?")
    response = see_other(safe_next(str(formdata.get("next", ""))))
    set_session_cookie(request, response, result.session_id)
    return response


def _wait_text(seconds: int) -> str:
    return f"{seconds} 秒" if seconds < 60 else f"{-(-seconds // 60)} 分钟"


@staff_page()
async def logout(request: Request, staff: Staff) -> Response:
    async with state(request).db.write() as session:
        await sign_out(session, staff.session_id, staff.actor)
    response = see_other("/staff/login")
    clear_session_cookie(request, response)
    return response


@staff_page()
async def home(request: Request, staff: Staff) -> Response:
    catalog = staff.catalog
    ctx = staff.ctx()
    today = ctx.today
    async with state(request).db.read() as session:
        query = select(Feedback).where(
            Feedback.status != FeedbackStatus.RESOLVED, visible_feedback_filter(ctx)
        )
        open_items = list((await session.execute(query.order_by(Feedback.created_at))).scalars())
        total = (await session.execute(select(func.count()).select_from(Feedback))).scalar_one()
    overdue = [f for f in open_items if response_overdue(f, today)]
    late = [
        a
        for a in catalog.agreements
        if rules.is_late_registration(a.signed_on, a.registered_on) and is_own_local_record(ctx, a.local_code)
    ]
    return page(
        request,
        staff,
        "staff/home.html",
        {
            "title": "工作台",
            "open_items": open_items,
            "overdue": overdue,
            "late": late,
            "feedback_total": total,
        },
        nav="home",
    )
