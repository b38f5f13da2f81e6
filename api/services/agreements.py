"""Cross-province agreements (跨省通办协议): parse, permit, write, audit, queue.

The checks here are the policy's: the partner lies outside the home city and the local signatory
inside it; an agreement cannot expire before it takes effect; a county's staff register only their
own county's agreements; and the registration date is kept for the 3-day rule.

The registration date is the server's (`ctx.today` when the agreement first arrives through the API
or a form): the 3-day rule measures it, so a county account cannot choose it (`registeredOn` given
by a non-admin and different from the server's date → FORBIDDEN; the same date is accepted, so a
client that sends back what it read keeps working). A city admin may correct it, through the API or
a form only with `registeredOnReason`, which the change-log entry carries. An admin's (or the CLI's)
import keeps the date the file gives (restoring a backup); a county's import cannot set it either.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from api.enums import AgreementStatus
from api.models import Agreement
from api.rules import local_county_of
from api.services.base import (
    NOT_LOADED,
    BadInput,
    Conflict,
    FieldError,
    NotFound,
    ServiceContext,
    preloaded,
    remember,
    save_tail,
)
from api.services.fields import Reader
from api.services.halls import matters_by_code
from api.services.permissions import require_local, require_registration_correction
from api.services.snapshots import agreement_snapshot


@dataclass(frozen=True)
class AgreementData:
    key: str | None
    values: dict[str, Any]
    matter_codes: list[str] | None
    registered_given: bool
    registration_reason: str | None = None


#: the change-log reason of an admin import that changes a stored registration date
IMPORT_REASON = "导入文件中的登记日"


def default_title(ctx: ServiceContext, partner_code: str, local_code: str) -> str:
    return f"{ctx.tree.full_name(partner_code)}与{ctx.tree.full_name(local_code)}跨省通办合作协议"


NOT_SHARED_REASON_REQUIRED = (
    "未实行“一地签约、全市共享”的协议须写明原因（例如协议中只对本县（市、区）有效的条款），公众查询时会看到"
)


def parse_agreement(
    raw: Any,
    ctx: ServiceContext,
    section: str | None = None,
    row: int | None = None,
    *,
    require_not_shared_reason: bool = False,
) -> tuple[AgreementData | None, list[FieldError]]:
    """`require_not_shared_reason`: the staff form's rule (an agreement recorded as not shared
    citywide needs its reason); imports and the API keep historic records without one, and the
    staff dashboard lists those as needing the clause."""
    reader = Reader(raw, section, row)
    key = reader.text("key", max_len=80)
    partner = reader.text("partnerCode", required=True, max_len=12)
    local = reader.text("localCode", required=True, max_len=12)
    tree, home = ctx.tree, ctx.home_city
    if partner is not None:
        if partner not in tree:
            reader.fail("partnerCode", f"未知行政区划代码 {partner}")
        elif tree.contains(home, partner) or tree.contains(partner, home):
            reader.fail(
                "partnerCode", f"合作地区应在{tree.name(home)}以外, {tree.full_name(partner)}不是外地"
            )
    if local is not None:
        if local not in tree:
            reader.fail("localCode", f"未知行政区划代码 {local}")
        elif local != home and local_county_of(tree, home, local) is None:
            reader.fail("localCode", f"本地签约方应在{tree.name(home)}范围内, {tree.full_name(local)}不是")
    signed = reader.date("signedOn", required=True)
    effective = reader.date("effectiveFrom") or signed
    expires = reader.date("expiresOn")
    registered = reader.date("registeredOn")
    reason = reader.text("registeredOnReason", max_len=500)
    if effective is not None and expires is not None and expires < effective:
        reader.fail("expiresOn", f"到期日 {expires} 早于生效日 {effective}")
    if signed is not None and registered is not None and registered < signed:
        reader.fail("registeredOn", f"登记日 {registered} 早于签约日 {signed}")
    values = {
        "title": reader.text("title", max_len=300),
        "partner_code": partner,
        "local_code": local,
        "signed_on": signed,
        "effective_from": effective,
        "expires_on": expires,
        "status": reader.enum("status", AgreementStatus, default=AgreementStatus.ACTIVE),
        "citywide_shared": reader.boolean("citywideShared", True),
        "not_shared_reason": reader.text("notSharedReason", max_len=500),
        "document_ref": reader.text("documentRef", max_len=200),
        "registered_on": registered,
        "items_count": reader.integer("itemsCount", minimum=0, maximum=100000),
        "note": reader.text("note", max_len=5000),
        "source": reader.text("source", max_len=5000),
        "source_url": reader.text("sourceUrl", max_len=2000),
        "is_sample": reader.boolean("sample", False),
    }
    if reader.has("verifiedOn"):  # absent (an API call, an older file): the stored date stays
        values["verified_on"] = reader.date("verifiedOn")
    if reader.has("includesClause"):  # yes / no / empty = not yet checked
        values["includes_clause"] = (
            reader.boolean("includesClause", False)
            if reader.raw.get("includesClause") not in (None, "")
            else None
        )
    matter_codes = reader.optional_list("matterCodes")
    if values["citywide_shared"] is not False or local == home:
        values["not_shared_reason"] = None  # shared citywide (or signed by the city): no exception
    elif require_not_shared_reason and not values["not_shared_reason"]:
        reader.fail("notSharedReason", NOT_SHARED_REASON_REQUIRED)
    if reader.errors or partner is None or local is None:  # (both required: an error when missing)
        return None, reader.errors
    if not values["title"]:
        values["title"] = default_title(ctx, partner, local)
    registered_given = registered is not None  # null or empty: the server's date
    data = AgreementData(
        key=key,
        values=values,
        matter_codes=matter_codes,
        registered_given=registered_given,
        registration_reason=reason,
    )
    return data, []


async def load_agreement(
    session: AsyncSession,
    *,
    key: str | None = None,
    agreement_id: int | None = None,
    for_update: bool = False,
) -> Agreement | None:
    """`for_update` locks the row on PostgreSQL so two concurrent saves cannot both pass the version
    check (SQLite's write transactions are already serialised by BEGIN IMMEDIATE)."""
    if key is not None and (cached := preloaded(session, Agreement, key)) is not NOT_LOADED:
        return cached
    query = select(Agreement).options(selectinload(Agreement.matters))
    if for_update:
        query = query.with_for_update(of=Agreement).execution_options(populate_existing=True)
    query = (
        query.where(Agreement.key == key) if key is not None else query.where(Agreement.id == agreement_id)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def save_agreement(
    session: AsyncSession,
    ctx: ServiceContext,
    data: AgreementData,
    *,
    agreement_id: int | None = None,
    version: int | None = None,
    register_today: bool = True,
) -> Agreement:
    """Create, or update an existing agreement (by id with a version check, or by key for imports).

    `register_today`: a new agreement entered through a form or the API is registered today (the
    3-day rule is measured against that); an admin's import keeps the date the file gives. Any
    other date is a correction: admins only, with a reason outside imports (see the module doc).
    """
    require_local(ctx, data.values["local_code"], "通办协议")
    if agreement_id is None and data.key is None:
        data = replace(data, key=natural_key(data))
    agreement = None
    if agreement_id is not None:
        agreement = await load_agreement(session, agreement_id=agreement_id, for_update=True)
        if agreement is None:
            raise NotFound(f"没有编号为 {agreement_id} 的协议")
    elif data.key is not None:
        agreement = await load_agreement(session, key=data.key, for_update=True)
    matters = await matters_by_code(session, data.matter_codes or [], "matterCodes")
    values = dict(data.values)
    reason = _registration(ctx, data, agreement, values, register_today)
    if agreement is None:
        agreement = Agreement(
            key=data.key, version=1, covers_all_matters=data.matter_codes is None, matters=matters, **values
        )
        session.add(agreement)
        remember(session, Agreement, data.key, agreement)
        before = None
    else:
        require_local(ctx, agreement.local_code, "通办协议")
        before = agreement_snapshot(
            agreement, None if agreement.covers_all_matters else [m.code for m in agreement.matters]
        )
        if version is not None and version != agreement.version:
            raise Conflict(f"该协议已被他人修改(当前版本 {agreement.version}, 提交版本 {version})", before)
        for field, value in values.items():
            setattr(agreement, field, value)
        if data.key is not None:
            agreement.key = data.key
        agreement.covers_all_matters = data.matter_codes is None
        agreement.matters = matters
    after = agreement_snapshot(agreement, None if data.matter_codes is None else [m.code for m in matters])
    if before is not None and before.get("registeredOn") == after.get("registeredOn"):
        reason = None  # the date did not change: nothing to explain
    await save_tail(
        session,
        ctx.actor,
        agreement,
        "agreement",
        before,
        after,
        key=lambda a: a.key or str(a.id),
        outbox=("agreement", lambda a: str(a.id)),
        reason=reason,
    )
    return agreement


def _registration(
    ctx: ServiceContext,
    data: AgreementData,
    agreement: Agreement | None,
    values: dict[str, Any],
    register_today: bool,
) -> str | None:
    """Sets `values["registered_on"]`; returns the change-log reason when it corrects the date."""
    if agreement is not None:
        server_date = agreement.registered_on
    elif register_today or not ctx.actor.is_admin:
        server_date = ctx.today
    else:
        server_date = None  # an admin's import: the file's date, or none
    if not data.registered_given or values["registered_on"] == server_date:
        values["registered_on"] = server_date if not data.registered_given else values["registered_on"]
        return None
    require_registration_correction(ctx)
    if not register_today:
        return data.registration_reason or (IMPORT_REASON if agreement is not None else None)
    if not data.registration_reason:
        raise BadInput(
            "更正登记日需填写理由",
            [
                FieldError(
                    "registeredOnReason", "更正登记日(3日内更新规则据此计算)须说明理由, 理由记入变更记录"
                )
            ],
        )
    return data.registration_reason


async def create_agreement(
    session: AsyncSession,
    ctx: ServiceContext,
    raw: dict[str, Any],
    *,
    require_not_shared_reason: bool = False,
) -> Agreement:
    data, errors = parse_agreement(raw, ctx, require_not_shared_reason=require_not_shared_reason)
    if data is None:
        raise BadInput("协议数据有误", errors)
    if data.key is not None and await load_agreement(session, key=data.key) is not None:
        raise BadInput(
            "协议标识已存在", [FieldError("key", f"已有协议使用标识 {data.key}, 请改用 updateAgreement")]
        )
    if data.key is None:
        base = natural_key(data)
        key, number = base, 1
        while await load_agreement(session, key=key) is not None:
            number += 1
            key = f"{base}-{number}"
        data = replace(data, key=key)
    return await save_agreement(session, ctx, data)


def natural_key(data: AgreementData) -> str:
    """A key for an agreement given without one: partner, local signatory and signing date. Every
    record gets a key, so an export imported again updates instead of duplicating."""
    values = data.values
    return f"{values['partner_code']}-{values['local_code']}-{values['signed_on']:%Y%m%d}"


async def update_agreement(
    session: AsyncSession,
    ctx: ServiceContext,
    agreement_id: int,
    version: int,
    raw: dict[str, Any],
    *,
    require_not_shared_reason: bool = False,
) -> Agreement:
    data, errors = parse_agreement(raw, ctx, require_not_shared_reason=require_not_shared_reason)
    if data is None:
        raise BadInput("协议数据有误", errors)
    if data.key is not None:
        other = await load_agreement(session, key=data.key)
        if other is not None and other.id != agreement_id:
            raise BadInput("协议标识已存在", [FieldError("key", f"标识 {data.key} 已被另一份协议使用")])
    return await save_agreement(session, ctx, data, agreement_id=agreement_id, version=version)
