"""Who may change (and read) what, in one place: the city's admins everything, a county's staff only
records whose local side lies in their county, partner-region staff their feedback, their own
liaison contacts and webhooks."""

from __future__ import annotations

from collections.abc import Iterable

from api.enums import Role
from api.rules import RegionTree, local_county_of
from api.services.base import Actor, Forbidden, ServiceContext


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


# ------------------------------------------------------------------ partners: feeds, contacts, webhooks

#: Kinds of change anyone may follow (they are public records on the site and in GraphQL).
PUBLIC_CHANGE_ENTITIES = frozenset({"agreement", "hall", "matter", "region", "relation", "setting"})
#: Signed-in staff (city, county, partner tokens) also follow the liaison directory.
SIGNED_IN_CHANGE_ENTITIES = PUBLIC_CHANGE_ENTITIES | {"contact"}


def change_entities(actor: Actor | None) -> frozenset[str]:
    """Which kinds of change `actor` (None: anonymous) may see in `changes`, feeds and webhooks."""
    return SIGNED_IN_CHANGE_ENTITIES if actor is not None else PUBLIC_CHANGE_ENTITIES


def may_read_contact(actor: Actor | None, tree: RegionTree, home_city: str, region_code: str) -> bool:
    """The staff contacts page's rule: the city and counties read the whole directory; a partner
    region reads its own region's (above and inside it) and the home city's liaisons."""
    if actor is None:
        return False
    if actor.role in (Role.ADMIN, Role.COUNTY):
        return True
    own = actor.region_code
    if own is None:
        return False
    return (
        tree.contains(own, region_code)
        or tree.contains(region_code, own)
        or local_county_of(tree, home_city, region_code) is not None
    )


def require_contact_edit(ctx: ServiceContext, region_code: str) -> None:
    """Home-city contacts: their county (admins any). A partner region's liaison: the city and any
    county (the county that signs records it within 3 days), and the partner region itself for its
    own region and the regions inside it."""
    actor = ctx.actor
    if local_county_of(ctx.tree, ctx.home_city, region_code) is not None:
        require_local(ctx, region_code, "联络人")
        return
    if actor.role in (Role.ADMIN, Role.COUNTY):
        return
    if actor.role == Role.PARTNER and actor.region_code and ctx.tree.contains(actor.region_code, region_code):
        return
    raise Forbidden(f"{actor.name} 无权登记该地区的联络人: 合作地区账号只能登记本地区及其下辖地区的联络人")


def require_webhook_owner(ctx: ServiceContext, webhook_region: str | None) -> None:
    """Webhooks: a partner region registers and removes its own; the city's admins any (also for
    a partner); county accounts none (they have the staff pages)."""
    actor = ctx.actor
    if actor.role == Role.ADMIN:
        return
    if actor.role == Role.PARTNER and actor.region_code is not None and actor.region_code == webhook_region:
        return
    raise Forbidden(f"{actor.name} 无权管理该 Webhook: 只有合作地区账号(本地区的)和市级管理员可以")


def feedback_visible(actor: Actor, county_code: str | None, partner_code: str | None, partner_codes: Iterable[str]) -> bool:
    """A county follows its county's forms; a partner region the forms about it and the regions
    inside it (`partner_codes` = its region and everything inside); the city all."""
    if actor.role == Role.ADMIN:
        return True
    if actor.role == Role.COUNTY:
        return county_code is not None and county_code == actor.region_code
    if actor.role == Role.PARTNER:
        return partner_code is not None and partner_code in set(partner_codes)
    return False


def may_read_unpublished_handbook(actor: Actor | None) -> bool:
    """FAQ entries not yet published and unpublished cases: the city's and counties' staff only
    (partners and the public read what is published, as on /faq and /cases)."""
    return actor is not None and actor.role in (Role.ADMIN, Role.COUNTY)
