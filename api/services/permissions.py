"""Who may read and change what, in one place: the city's admins everything, a county's staff only
records whose local side lies in their county (towns included) and the feedback routed to it, a
partner region's staff its own region's agreements and feedback and nothing else.

Every adapter asks here: the staff pages (the role gates of `staff_page` come from `LOCAL_ROLES` /
`ADMIN_ONLY` below), GraphQL mutations and the CLI through the service functions. Read rules come
in two shapes where a list is filtered in the database: a predicate on one record
(`may_see_feedback`) and the same rule as a SQL condition (`visible_feedback_filter`); the tests
check both against each other.

Citizens' personal data: a feedback form's contact field (a phone number, an address) and the
addresses staff sign in from are shown only to whoever handles them: the county the feedback is
routed to and the city's admins (`may_see_feedback_contact`), an account's own sign-ins and the
admins (`may_see_session_history`).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, false, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from api.enums import FeedbackStatus, Role
from api.models import ChangeLog, Feedback
from api.rules import RegionTree, local_county_of
from api.services.base import Actor, FieldError, Forbidden, ServiceContext

LOCAL_ROLES = (Role.ADMIN, Role.COUNTY)
"""City and county staff: the roles that may open the directory's editing pages."""
ADMIN_ONLY = (Role.ADMIN,)

PERSONAL_ENTITIES = ("session", "user", "token", "login-throttle")
"""Change-log entities about accounts (sign-in addresses among them): an account's own, and admins."""


# ------------------------------------------------------------------ records with a local side


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


def is_own_local_record(ctx: ServiceContext, region_code: str | None) -> bool:
    """A record (an agreement, a hall) whose local side is the actor's county or one of its towns;
    for an admin every record. What a county's "my late agreements" list shows."""
    if ctx.actor.role == Role.ADMIN:
        return True
    return region_code is not None and ctx.actor.role == Role.COUNTY and may_edit_local(ctx, region_code)


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
        raise Forbidden(
            f"{ctx.actor.name} 无权登记或修改{name}的合作交流活动: 县(市、区)账号只能登记本县(市、区)开展的活动"
        )


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


# ------------------------------------------------------------------ staff roles and records


def is_local_staff(actor: Actor) -> bool:
    return actor.role in LOCAL_ROLES


def _inside_partner(ctx: ServiceContext, code: str | None) -> bool:
    """`code` is the partner account's own region or lies inside it."""
    region = ctx.actor.region_code
    return code is not None and region is not None and ctx.tree.contains(region, code)


def may_see_agreement(ctx: ServiceContext, partner_code: str) -> bool:
    """Local staff read every agreement; a partner account those of its region, inside or above it."""
    if is_local_staff(ctx.actor):
        return True
    region = ctx.actor.region_code
    if ctx.actor.role != Role.PARTNER or region is None:
        return False
    return ctx.tree.contains(partner_code, region) or ctx.tree.contains(region, partner_code)


def may_see_contact(ctx: ServiceContext, region_code: str) -> bool:
    """The liaison directory: local staff all of it; a partner its own side and the home city's."""
    return may_read_contact(ctx.actor, ctx.tree, ctx.home_city, region_code)


def may_edit_contact(ctx: ServiceContext, region_code: str) -> bool:
    """Home-city contacts: their county (admins any). A partner region's liaison: the city and any
    county (the county that signs records it within 3 days), and the partner region itself for its
    own region and the regions inside it."""
    if county_of_record(ctx, region_code) is not None:
        return may_edit_local(ctx, region_code)
    actor = ctx.actor
    if actor.role in (Role.ADMIN, Role.COUNTY):
        return True
    if actor.role != Role.PARTNER or not actor.region_code:
        return False
    return ctx.tree.contains(actor.region_code, region_code)


def may_edit_case(ctx: ServiceContext, county_code: str | None) -> bool:
    if ctx.actor.role == Role.ADMIN:
        return True
    return county_code is not None and may_edit_local(ctx, county_code)


def require_local_staff(ctx: ServiceContext, what: str) -> None:
    """City or county staff only (the handbook, partner regions' liaisons)."""
    if not is_local_staff(ctx.actor):
        raise Forbidden(f"只有本市工作人员可以编辑{what}")


def may_see_unpublished_cases(actor: Actor) -> bool:
    return is_local_staff(actor)


def faq_entry_edit_problem(ctx: ServiceContext, in_edition: bool, edition_published: bool) -> str | None:
    """Why the actor may not change a handbook entry (None when it may): working entries are every
    local account's; an entry of a compiled edition is the admins' until that edition is published,
    and nobody's after."""
    if not is_local_staff(ctx.actor):
        return "只有本市工作人员可以编辑知识手册"
    if not in_edition:
        return None
    if edition_published:
        return "已发布的手册版本不能修改"
    if ctx.actor.role != Role.ADMIN:
        return "只有市级管理员可以修改手册版本中的问答"
    return None


def require_case_permit(ctx: ServiceContext, county_code: str | None) -> None:
    """A county's case by that county (or the city); a citywide case (no county) by the city."""
    if county_code is None:
        require_admin(ctx, "全市通办案例")
    else:
        require_local(ctx, county_code, "通办案例")


def may_create_liaison_group(ctx: ServiceContext) -> bool:
    """Liaison groups (一群) are set up by the city; counties put their contacts into existing ones."""
    return ctx.actor.role == Role.ADMIN


def may_manage_sign_in_throttles(actor: Actor) -> bool:
    return actor.role == Role.ADMIN


# ------------------------------------------------------------------ feedback


def _feedback_visible(actor: Actor, county_code: str | None, partner_in_scope: bool) -> bool:
    """Admins every form; a county the forms routed to it; a partner those about its region (or a
    place inside it: `partner_in_scope`)."""
    if actor.role == Role.ADMIN:
        return True
    if actor.role == Role.COUNTY:
        return actor.region_code is not None and county_code == actor.region_code
    return actor.role == Role.PARTNER and partner_in_scope


def may_see_feedback(ctx: ServiceContext, feedback: Feedback) -> bool:
    return _feedback_visible(ctx.actor, feedback.county_code, _inside_partner(ctx, feedback.partner_code))


def _region_and_inside(ctx: ServiceContext, code: str) -> list[str]:
    found: list[str] = []
    stack = [code]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(ctx.tree.children(current))
    return found


def visible_feedback_filter(ctx: ServiceContext) -> ColumnElement[bool]:
    """`may_see_feedback` as a SQL condition on `Feedback`, for lists."""
    actor = ctx.actor
    if actor.role == Role.ADMIN:
        return true()
    if actor.role == Role.COUNTY and actor.region_code is not None:
        return Feedback.county_code == actor.region_code
    if actor.role == Role.PARTNER and actor.region_code is not None and actor.region_code in ctx.tree:
        return Feedback.partner_code.in_(_region_and_inside(ctx, actor.region_code))
    return false()


def may_see_feedback_contact(ctx: ServiceContext, feedback: Feedback) -> bool:
    """The citizen's contact details: only whoever handles the form (its county, the city)."""
    actor = ctx.actor
    if actor.role == Role.ADMIN:
        return True
    return (
        actor.role == Role.COUNTY
        and actor.region_code is not None
        and feedback.county_code == actor.region_code
    )


def may_handle_feedback(ctx: ServiceContext, feedback: Feedback) -> bool:
    """The city handles everything; a county its own county's forms (until escalated); a partner
    only follows its own."""
    if ctx.actor.role == Role.ADMIN:
        return True
    if ctx.actor.role == Role.COUNTY:
        return feedback.county_code == ctx.actor.region_code and feedback.status != FeedbackStatus.ESCALATED
    return False


def feedback_partner_problem(ctx: ServiceContext, partner_code: str | None) -> str | None:
    """A partner account files feedback only as its own region (or a place inside it)."""
    if ctx.actor.role != Role.PARTNER or ctx.actor.via == "public":
        return None
    if partner_code is None or _inside_partner(ctx, partner_code):
        return None
    own = ctx.actor.region_code or ""
    name = ctx.tree.full_name(own) if own in ctx.tree else own
    return f"合作地区账号只能以本地区({name})的名义填报"


# ------------------------------------------------------------------ the change log


def may_see_session_history(actor: Actor, account_name: str) -> bool:
    """Sign-ins (with their addresses), accounts and tokens: an account its own, admins all."""
    return actor.role == Role.ADMIN or (bool(actor.name) and actor.name == account_name)


def visible_change_log_filter(ctx: ServiceContext) -> ColumnElement[bool]:
    """The change-log entries an account may read, as a SQL condition on `ChangeLog`.

    Local staff read the directory's history; feedback entries (which carry the citizen's contact)
    only for the forms the account may see the contact of; account entries only their own.
    Partner accounts read no change log.
    """
    actor = ctx.actor
    if actor.role == Role.ADMIN:
        return true()
    if actor.role != Role.COUNTY or actor.region_code is None:
        return false()
    own_feedback = select(Feedback.reference).where(Feedback.county_code == actor.region_code)
    return and_(
        or_(ChangeLog.entity.not_in(PERSONAL_ENTITIES), ChangeLog.entity_key == actor.name),
        or_(ChangeLog.entity != "feedback", ChangeLog.entity_key.in_(own_feedback)),
    )


def may_see_change_log_entry(ctx: ServiceContext, entry: ChangeLog, feedback: Feedback | None) -> bool:
    """`visible_change_log_filter` for one entry (`feedback`: the form a feedback entry is about)."""
    actor = ctx.actor
    if actor.role == Role.ADMIN:
        return True
    if actor.role != Role.COUNTY:
        return False
    if entry.entity in PERSONAL_ENTITIES and entry.entity_key != actor.name:
        return False
    if entry.entity == "feedback":
        return feedback is not None and may_see_feedback_contact(ctx, feedback)
    return True


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
    """`may_edit_contact`, raising with the reason."""
    if county_of_record(ctx, region_code) is not None:
        require_local(ctx, region_code, "联络人")
    elif not may_edit_contact(ctx, region_code):
        raise Forbidden(
            f"{ctx.actor.name} 无权登记该地区的联络人: 合作地区账号只能登记本地区及其下辖地区的联络人"
        )


def require_webhook_owner(ctx: ServiceContext, webhook_region: str | None) -> None:
    """Webhooks: a partner region registers and removes its own; the city's admins any (also for
    a partner); county accounts none (they have the staff pages)."""
    actor = ctx.actor
    if actor.role == Role.ADMIN:
        return
    if actor.role == Role.PARTNER and actor.region_code is not None and actor.region_code == webhook_region:
        return
    raise Forbidden(f"{actor.name} 无权管理该 Webhook: 只有合作地区账号(本地区的)和市级管理员可以")


def feedback_visible(
    actor: Actor, county_code: str | None, partner_code: str | None, partner_codes: Iterable[str]
) -> bool:
    """`may_see_feedback` where the partner's region and everything inside it is known as a list."""
    return _feedback_visible(
        actor, county_code, partner_code is not None and partner_code in set(partner_codes)
    )


def may_read_unpublished_handbook(actor: Actor | None) -> bool:
    """FAQ entries not yet published and unpublished cases: the city's and counties' staff only
    (partners and the public read what is published, as on /faq and /cases)."""
    return actor is not None and may_see_unpublished_cases(actor)


def require_account_admin(ctx: ServiceContext) -> None:
    """Staff accounts and their API tokens are the city admins' alone."""
    require_admin(ctx, "工作人员账号")


def require_registration_correction(ctx: ServiceContext) -> None:
    """The registration date of an agreement (the 3-day rule measures it) is the server's; only the
    city's admins may correct it, and only with a reason that goes into the change log."""
    if ctx.actor.role != Role.ADMIN:
        raise Forbidden(
            "登记日由系统按收到协议的日期记录, 县(市、区)账号不能填写或修改; 如需更正请联系市级管理员",
            [FieldError("registeredOn", "登记日由系统记录, 只有市级管理员可以更正(需填写更正理由)")],
        )


def may_see_import_job(actor: Actor, job_user_id: int) -> bool:
    """An import job (its progress, the changes and errors it found) is seen by the account that
    started it and by the city's admins: a county account sees only its own jobs."""
    return actor.is_admin or (actor.user_id is not None and actor.user_id == job_user_id)
