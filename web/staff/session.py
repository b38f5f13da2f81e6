"""Who is signed in, and the CSRF check every staff POST passes before its handler runs.

The session cookie holds only a `StaffSession` id signed with the instance's secret key
(itsdangerous); the row decides whether it is still live, so signing out ends it everywhere.
Cookie: HttpOnly, SameSite=Lax, Secure when the site runs behind HTTPS, path /staff.

CSRF: WTForms' `SessionCSRF`, with the csrf context bound to the staff session (a hash of its id),
so a token minted for one session is worthless in another. The sign-in form, which has no session
yet, binds to a random pre-session value in its own short-lived signed cookie. The check runs in
`staff_page` for every POST, before the handler: no handler can forget it, and a POST without a
valid token is 403 and reaches no service.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from wtforms import Form
from wtforms.csrf.session import SessionCSRF
from wtforms.validators import ValidationError

from api.enums import Role
from api.models import StaffUser
from api.services.base import Actor, Forbidden, NotFound, ServiceContext, UnknownRegion
from api.services.permissions import ADMIN_ONLY, LOCAL_ROLES
from api.services.staff_auth import SESSION_LIFETIME, user_for_session
from api.services.users import actor_of
from api.state import AppState, state_of
from web.templating import render

log = logging.getLogger("tongban.staff")

SESSION_COOKIE = "tb_staff"
PRE_COOKIE = "tb_staff_pre"
COOKIE_PATH = "/staff"
SESSION_SALT = "tongban.staff-session"
PRE_SALT = "tongban.staff-presession"
CSRF_TIME_LIMIT = dt.timedelta(hours=8)
PRE_MAX_AGE = 3600


def _state(request: Request) -> AppState:
    return state_of(request)


def _secret(request: Request) -> str:
    secret = _state(request).settings.secret_key or ""
    if not secret:
        raise RuntimeError("TONGBAN_SECRET_KEY is empty: staff sessions cannot be signed")
    return str(secret)


def _serializer(request: Request, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret(request), salt=salt)


def csrf_secret(request: Request) -> bytes:
    """A key for CSRF tokens derived from (not equal to) the secret key that signs sessions."""
    return hmac.new(_secret(request).encode(), b"tongban.staff-csrf", hashlib.sha256).digest()


class StaffCSRF(SessionCSRF):
    """WTForms' SessionCSRF, comparing the token's HMAC in constant time."""

    def validate_csrf_token(self, form: Any, field: Any) -> None:
        data = field.data or ""
        if "##" not in data:
            raise ValidationError(field.gettext("CSRF token missing."))
        expires, given = data.split("##", 1)
        expected = hmac.new(
            self.form_meta.csrf_secret, (self.session["csrf"] + expires).encode(), hashlib.sha1
        )
        if not hmac.compare_digest(expected.hexdigest(), given):
            raise ValidationError(field.gettext("CSRF failed."))
        if self.time_limit and self.now().strftime(self.TIME_FORMAT) > expires:
            raise ValidationError(field.gettext("CSRF token expired."))


class StaffForm(Form):
    """Every staff form: WTForms with session-bound CSRF. Build through `make_form`."""

    class Meta:
        csrf = True
        csrf_class = StaffCSRF
        csrf_field_name = "csrf_token"
        csrf_time_limit = CSRF_TIME_LIMIT


def _csrf_context(request: Request) -> dict[str, str]:
    context = getattr(request.state, "csrf_context", None)
    if context is None:
        raise RuntimeError("no CSRF context: staff forms are built inside staff_page or the sign-in page")
    return {"csrf": context}


def make_form(request: Request, form_class: type[StaffForm], formdata: Any = None, **kwargs: Any) -> Any:
    meta = {"csrf_secret": csrf_secret(request), "csrf_context": _csrf_context(request)}
    return form_class(formdata=formdata, meta=meta, **kwargs)


class CsrfOnly(StaffForm):
    """The bare token check run for every staff POST."""


def csrf_ok(request: Request, formdata: Any) -> bool:
    form = make_form(request, CsrfOnly, formdata)
    return bool(form.validate())


# ------------------------------------------------------------------ who is signed in


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member for this request."""

    user_id: int
    name: str
    role: Role
    region_code: str
    session_id: str
    actor: Actor
    catalog: Any

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_county(self) -> bool:
        return self.role == Role.COUNTY

    @property
    def is_partner(self) -> bool:
        return self.role == Role.PARTNER

    @property
    def is_local(self) -> bool:
        """City or county staff (not a partner region's)."""
        return self.role in (Role.ADMIN, Role.COUNTY)

    def ctx(self) -> ServiceContext:
        return self.catalog.service_context(self.actor)

    @property
    def region_name(self) -> str:
        tree = self.catalog.tree
        return tree.full_name(self.region_code) if self.region_code in tree else self.region_code


def session_token(request: Request, session_id: str) -> str:
    return _serializer(request, SESSION_SALT).dumps(session_id)


def session_id_of(request: Request) -> str | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw or len(raw) > 400:
        return None
    try:
        value = _serializer(request, SESSION_SALT).loads(raw, max_age=int(SESSION_LIFETIME.total_seconds()))
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


async def current_staff(request: Request) -> Staff | None:
    session_id = session_id_of(request)
    if session_id is None:
        return None
    state = _state(request)
    async with state.db.read() as session:
        user: StaffUser | None = await user_for_session(session, session_id)
    if user is None:
        return None
    catalog = await state.catalog.get()
    return Staff(
        user_id=user.id,
        name=user.name,
        role=Role(user.role),
        region_code=user.region_code,
        session_id=session_id,
        actor=actor_of(user, "form"),
        catalog=catalog,
    )


def set_session_cookie(request: Request, response: Response, session_id: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_token(request, session_id),
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=bool(_state(request).settings.https_only),
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=bool(_state(request).settings.https_only),
    )


def session_csrf_context(session_id: str) -> str:
    return hashlib.sha256(("staff:" + session_id).encode()).hexdigest()


def pre_session(request: Request) -> tuple[str, bool]:
    """The sign-in form's CSRF context: (value, is_new) from the signed pre-session cookie."""
    raw = request.cookies.get(PRE_COOKIE)
    if raw and len(raw) < 400:
        try:
            value = _serializer(request, PRE_SALT).loads(raw, max_age=PRE_MAX_AGE)
            if isinstance(value, str) and len(value) >= 32:
                return value, False
        except BadSignature:
            pass
    return secrets.token_urlsafe(32), True


def set_pre_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(
        PRE_COOKIE,
        _serializer(request, PRE_SALT).dumps(value),
        max_age=PRE_MAX_AGE,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=bool(_state(request).settings.https_only),
    )


# ------------------------------------------------------------------ the page decorator


StaffHandler = Callable[[Request, Staff], Awaitable[Response]]


def problem(request: Request, status: int, title: str, message: str, staff: Staff | None = None) -> Response:
    return render(
        request,
        "staff/problem.html",
        {
            "title": title,
            "message": message,
            "staff": staff,
            "nav_current": "staff",
            "staff_nav": "",
            "logout_form": None,
            "local_time": str,
        },
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def safe_next(value: str | None) -> str:
    """Only a path inside the staff area: never an open redirect."""
    if (
        value
        and value.startswith("/staff")
        and not value.startswith("//")
        and "\\" not in value
        and "\n" not in value
    ):
        return value[:500]
    return "/staff/"


def staff_page(*roles: Role) -> Callable[[StaffHandler], Callable[[Request], Awaitable[Response]]]:
    """Sign-in required (GET redirects to the sign-in page; POST is 403), role check, CSRF on POST,
    coded service errors as 403/404 pages, and `Cache-Control: no-store` on every answer."""

    def decorate(handler: StaffHandler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def wrapped(request: Request) -> Response:
            staff = await current_staff(request)
            if staff is None:
                if request.method in ("GET", "HEAD"):
                    target = "/staff/login?next=" + quote(
                        request.url.path + ("?" + request.url.query if request.url.query else ""), safe=""
                    )
                    return RedirectResponse(target, status_code=303)
                return problem(
                    request, 403, "需要登录", "登录已失效或尚未登录: 本次提交未被处理, 请重新登录后再试。"
                )
            request.state.csrf_context = session_csrf_context(staff.session_id)
            request.state.staff = staff
            if roles and staff.role not in roles:
                return problem(request, 403, "无权访问", "您的账号无权打开此页面。", staff)
            if request.method == "POST":
                formdata = await request.form()
                if not csrf_ok(request, formdata):
                    log.warning(
                        "staff POST without a valid CSRF token: %s by %s", request.url.path, staff.name
                    )
                    return problem(
                        request,
                        403,
                        "提交未被接受",
                        "表单校验码无效或已过期(CSRF): 本次提交未被处理。请返回刷新页面后重新提交。",
                        staff,
                    )
            try:
                response = await handler(request, staff)
            except Forbidden as error:
                return problem(request, 403, "无权操作", error.message, staff)
            except (NotFound, UnknownRegion) as error:
                return problem(request, 404, "没有找到", error.message, staff)
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return wrapped

    return decorate


__all__ = ["ADMIN_ONLY", "LOCAL_ROLES", "Staff", "make_form", "staff_page"]
