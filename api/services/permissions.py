"""Who may change what, in one place: the city's admins everything, a county's staff only records
whose local side lies in their county, partner-region staff nothing but feedback."""

from __future__ import annotations

from api.enums import Role
from api.rules import local_county_of
from api.services.base import FieldError, Forbidden, ServiceContext


def county_of_record(ctx: ServiceContext, region_code: str) -> str | None:
    return local_county_of(ctx.tree, ctx.home_city, region_code)


def may_edit_local(ctx: ServiceContext, region_code: str) -> bool:
    """True when the actor may change a record whose local side is `region_code`."""
    actor = ctx.actor
    if actor.role == Role.ADMIN:
        return True
    if actor.role != Role.COUNTY or actor.region_code is None:
        return False
    return county_of_record(ctx, region_code) == actor.region_code and region_code != ctx.home_city


def require_local(ctx: ServiceContext, region_code: str, what: str) -> None:
    if not may_edit_local(ctx, region_code):
        name = ctx.tree.full_name(region_code) if region_code in ctx.tree else region_code
        raise Forbidden(f"{ctx.actor.name} 无权修改{name}的{what}: 县(市、区)账号只能修改本县(市、区)的记录")


def require_admin(ctx: ServiceContext, what: str) -> None:
    if ctx.actor.role != Role.ADMIN:
        raise Forbidden(f"只有市级管理员可以修改{what}")


def require_registration_correction(ctx: ServiceContext) -> None:
    """The registration date of an agreement (the 3-day rule measures it) is the server's; only the
    city's admins may correct it, and only with a reason that goes into the change log."""
    if ctx.actor.role != Role.ADMIN:
        raise Forbidden(
            "登记日由系统按收到协议的日期记录, 县(市、区)账号不能填写或修改; 如需更正请联系市级管理员",
            [FieldError("registeredOn", "登记日由系统记录, 只有市级管理员可以更正(需填写更正理由)")],
        )
