"""Who may change what, in one place: the city's admins everything, a county's staff only records
whose local side lies in their county, partner-region staff nothing but feedback."""

from __future__ import annotations

from api.enums import Role
from api.rules import local_county_of
from api.services.base import Forbidden, ServiceContext


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


def may_edit_contact(ctx: ServiceContext, region_code: str) -> bool:
    """Liaison contacts. A home-city contact belongs to its county (as `may_edit_local`). A partner
    region's contact may be recorded by the city's admins and any county's staff (the county that
    signs records it within 3 days, 一录), and by that partner region's own staff for their region
    and the places inside it."""
    actor = ctx.actor
    if local_county_of(ctx.tree, ctx.home_city, region_code) is not None:
        return may_edit_local(ctx, region_code)
    if actor.role in (Role.ADMIN, Role.COUNTY):
        return True
    if actor.role == Role.PARTNER and actor.region_code:
        return region_code == actor.region_code or ctx.tree.contains(actor.region_code, region_code)
    return False


def require_contact(ctx: ServiceContext, region_code: str) -> None:
    if not may_edit_contact(ctx, region_code):
        name = ctx.tree.full_name(region_code) if region_code in ctx.tree else region_code
        if ctx.actor.role == Role.PARTNER:
            raise Forbidden(f"{ctx.actor.name} 无权修改{name}的联络人: 合作地区账号只能维护本地区的联络人")
        raise Forbidden(f"{ctx.actor.name} 无权修改{name}的联络人: 县(市、区)账号只能修改本县(市、区)的记录")


def require_account_admin(ctx: ServiceContext) -> None:
    """Staff accounts and their API tokens are the city admins' alone."""
    require_admin(ctx, "工作人员账号")
