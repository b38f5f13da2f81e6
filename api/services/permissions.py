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


# ------------------------------------------------------------------ cooperation activities (issue 21)


def may_record_activity(ctx: ServiceContext, local_code: str) -> bool:
    """Cooperation work is recorded by the county that did it (its own county exactly); the city's
    admins record any, including the city's own (市本级). Partner accounts record none."""
    actor = ctx.actor
    if actor.role == Role.ADMIN:
        return True
    return actor.role == Role.COUNTY and actor.region_code is not None and local_code == actor.region_code


def require_activity(ctx: ServiceContext, local_code: str) -> None:
    if not may_record_activity(ctx, local_code):
        if ctx.actor.role == Role.PARTNER:
            raise Forbidden("合作地区账号只能查看合作交流记录, 不能登记或修改")
        name = ctx.tree.full_name(local_code) if local_code in ctx.tree else local_code
        raise Forbidden(f"{ctx.actor.name} 无权登记或修改{name}的合作交流活动: 县(市、区)账号只能登记本县(市、区)开展的活动")


def may_read_partner_work(ctx: ServiceContext, partner_code: str) -> bool:
    """City and county staff read all cooperation work; a partner region's staff only the work with
    their own region, a region inside it, or a region containing it (a province-level meeting)."""
    actor = ctx.actor
    if actor.role in (Role.ADMIN, Role.COUNTY):
        return True
    region = actor.region_code
    if region is None:
        return False
    return ctx.tree.contains(region, partner_code) or ctx.tree.contains(partner_code, region)


def partner_work_scope(ctx: ServiceContext) -> tuple[str, ...] | None:
    """The partner codes whose work the actor may read (None: all), for filtering in SQL; the same
    decision as `may_read_partner_work`."""
    actor = ctx.actor
    if actor.role in (Role.ADMIN, Role.COUNTY):
        return None
    region = actor.region_code
    if region is None or region not in ctx.tree:
        return ()
    inside: list[str] = []
    stack = [region]
    while stack:
        current = stack.pop()
        inside.append(current)
        stack.extend(ctx.tree.children(current))
    return (*ctx.tree.ancestors(region), *inside)
