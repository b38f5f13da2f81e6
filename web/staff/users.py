"""账号管理 (/staff/users, admins only): create county and partner accounts, disable and enable them,
reset passwords, list and revoke each account's API tokens.

Disabling revokes every session and token of the account at once and for good: the rows keep their
`revoked_at`, so enabling the account again brings none of them back (the person signs in anew and
an admin issues new tokens with `tongban token add`)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from api.services.base import BadInput
from api.services.users import create_account, list_accounts, reset_password, revoke_token, set_account_active
from api.words import ROLE_LABELS
from web.staff.common import error_status, int_or_none, lookup_region, page, region_name, see_other, state
from web.staff.forms import apply_errors
from web.staff.session import ADMIN_ONLY, CsrfOnly, Staff, StaffForm, make_form, staff_page

ROLE_CHOICES = [
    SelectChoice("county", "县(市、区)工作人员"),
    SelectChoice("partner", "合作地区工作人员"),
    SelectChoice("admin", "市级管理员"),
]
ERROR_FIELDS = {"name": "username", "region": "regionCode"}  # users.add_user's field names → this form's


class AccountForm(StaffForm):
    username = StringField("账号名")
    role = SelectField("角色", choices=ROLE_CHOICES)
    regionCode = StringField(
        "地区(行政区划代码或名称)",
        description="县(市、区)账号填本市的县(市、区); 合作地区账号填合作地区, 如 511300 或 南充市",
    )
    password = PasswordField("初始密码(至少10位)")


class PasswordForm(StaffForm):
    password = PasswordField("新密码(至少10位)")


async def _render(
    request: Request,
    staff: Staff,
    form: Any = None,
    *,
    status: int = 200,
    general: list[str] | None = None,
    reset: tuple[int, Any] | None = None,
) -> Response:
    async with state(request).db.read() as session:
        accounts = await list_accounts(session, staff.ctx())
    return page(
        request,
        staff,
        "staff/users.html",
        {
            "title": "账号管理",
            "form": form or make_form(request, AccountForm),
            "accounts": accounts,
            "role_labels": ROLE_LABELS,
            "region_name": lambda code: region_name(staff.catalog.tree, code),
            "action_form": make_form(request, CsrfOnly),
            "password_forms": {
                a.user.id: (reset[1] if reset and reset[0] == a.user.id else make_form(request, PasswordForm))
                for a in accounts
            },
            "general": general or [],
            "saved": request.query_params.get("saved"),
        },
        status=status,
        nav="users",
    )


@staff_page(*ADMIN_ONLY)
async def users_page(request: Request, staff: Staff) -> Response:
    if request.method in ("GET", "HEAD"):
        return await _render(request, staff)
    form = make_form(request, AccountForm, await request.form())
    found = await lookup_region(staff.catalog.tree, form.regionCode.data)
    if found.problem or found.code is None:
        form.regionCode.errors = [found.problem or "请填写地区"]
        return await _render(request, staff, form, status=422)
    try:
        async with state(request).db.write() as session:
            await create_account(
                session,
                staff.ctx(),
                form.username.data or "",
                form.password.data or "",
                form.role.data or "",
                found.code,
            )
    except BadInput as error:
        general = apply_errors(form, error.fields, ERROR_FIELDS)
        return await _render(request, staff, form, status=error_status(error), general=general)
    return see_other("/staff/users?saved=created")


def _user_id(request: Request) -> int:
    value = int_or_none(request.path_params.get("id"))
    return value if value is not None else 0


@staff_page(*ADMIN_ONLY)
async def user_active(request: Request, staff: Staff) -> Response:
    active = request.url.path.endswith("/enable")
    try:
        async with state(request).db.write() as session:
            await set_account_active(session, staff.ctx(), _user_id(request), active)
    except BadInput as error:
        return await _render(request, staff, status=error_status(error), general=[error.message])
    return see_other(f"/staff/users?saved={'enabled' if active else 'disabled'}")


@staff_page(*ADMIN_ONLY)
async def user_password(request: Request, staff: Staff) -> Response:
    user_id = _user_id(request)
    form = make_form(request, PasswordForm, await request.form())
    try:
        async with state(request).db.write() as session:
            await reset_password(session, staff.ctx(), user_id, form.password.data or "")
    except BadInput as error:
        apply_errors(form, error.fields)
        return await _render(
            request, staff, status=error_status(error), general=[error.message], reset=(user_id, form)
        )
    return see_other("/staff/users?saved=password")


@staff_page(*ADMIN_ONLY)
async def token_revoke(request: Request, staff: Staff) -> Response:
    token_id = int_or_none(request.path_params.get("token")) or 0
    async with state(request).db.write() as session:
        await revoke_token(session, staff.ctx(), token_id)
    return see_other("/staff/users?saved=token")
