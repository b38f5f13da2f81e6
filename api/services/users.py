"""Staff accounts and API tokens. Passwords are hashed with argon2id; tokens are random, shown once,
and stored as SHA-256 (a token is already high-entropy, so a fast hash is the right tool)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.enums import Role
from api.models import ApiToken, StaffSession, StaffUser
from api.rules import RegionTree, local_county_of
from api.services.base import Actor, BadInput, FieldError, NotFound, ServiceContext, audit, now
from api.services.permissions import require_account_admin

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def actor_of(user: StaffUser, via: str) -> Actor:
    return Actor(name=user.name, role=Role(user.role), region_code=user.region_code, via=via, user_id=user.id)


async def add_user(
    session: AsyncSession,
    actor: Actor,
    tree: RegionTree,
    home_city: str,
    name: str,
    password: str,
    role: str,
    region_code: str,
) -> StaffUser:
    errors: list[FieldError] = []
    name = name.strip()
    if not name or len(name) > 80:
        errors.append(FieldError("name", "账号名必填, 最多80字"))
    try:
        role_value = Role(role.upper())
    except ValueError:
        errors.append(FieldError("role", "角色应为 admin、county 或 partner"))
        role_value = None
    if region_code not in tree:
        errors.append(FieldError("region", f"未知行政区划代码 {region_code}"))
    elif role_value == Role.COUNTY and (local_county_of(tree, home_city, region_code) != region_code):
        errors.append(FieldError("region", f"县(市、区)账号的地区应为{tree.name(home_city)}下辖的县(市、区)"))
    elif role_value == Role.ADMIN and region_code != home_city:
        errors.append(FieldError("region", f"管理员账号的地区应为本市 {home_city}"))
    elif role_value == Role.PARTNER and tree.contains(home_city, region_code):
        errors.append(FieldError("region", "合作地区账号的地区应在本市以外"))
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.append(FieldError("password", f"密码至少{MIN_PASSWORD_LENGTH}位"))
    if (
        not errors
        and (await session.execute(select(StaffUser).where(StaffUser.name == name))).scalar_one_or_none()
    ):
        errors.append(FieldError("name", f"账号 {name} 已存在"))
    if errors or role_value is None:  # (no role is always one of the errors)
        raise BadInput("无法创建账号", errors)
    user = StaffUser(
        name=name, password_hash=hash_password(password), role=role_value, region_code=region_code
    )
    session.add(user)
    await session.flush()
    await audit(
        session,
        actor,
        "user",
        name,
        "create",
        None,
        {"name": name, "role": role_value.value, "regionCode": region_code},
    )
    return user


async def add_token(session: AsyncSession, actor: Actor, user_name: str, label: str | None = None) -> str:
    user = (await session.execute(select(StaffUser).where(StaffUser.name == user_name))).scalar_one_or_none()
    if user is None or not user.active:
        raise NotFound(f"没有名为 {user_name} 的有效账号")
    token = "tb_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=token_digest(token), label=label))
    await audit(session, actor, "token", user_name, "create", None, {"user": user_name, "label": label})
    return token


async def actor_for_token(session: AsyncSession, token: str, via: str = "graphql") -> Actor | None:
    """The staff member behind a bearer token, or None for an unknown, revoked or inactive one."""
    if not token or len(token) > 200:
        return None
    row = (
        await session.execute(
            select(ApiToken, StaffUser)
            .join(StaffUser, StaffUser.id == ApiToken.user_id)
            .where(
                ApiToken.token_hash == token_digest(token),
                ApiToken.revoked_at.is_(None),
                StaffUser.active.is_(True),
            )
        )
    ).first()
    if row is None:
        return None
    api_token, user = row
    api_token.last_used_at = now()
    return actor_of(user, via)


# ----------------------------------------------------------------------------- account administration (/staff/users)


@dataclass
class AccountRow:
    user: StaffUser
    tokens: list[ApiToken]


async def list_accounts(session: AsyncSession, ctx: ServiceContext) -> list[AccountRow]:
    require_account_admin(ctx)
    users = (
        (
            await session.execute(
                select(StaffUser).order_by(StaffUser.role, StaffUser.region_code, StaffUser.name)
            )
        )
        .scalars()
        .all()
    )
    tokens = (
        (await session.execute(select(ApiToken).order_by(ApiToken.created_at, ApiToken.id))).scalars().all()
    )
    by_user: dict[int, list[ApiToken]] = {}
    for token in tokens:
        by_user.setdefault(token.user_id, []).append(token)
    return [AccountRow(user, by_user.get(user.id, [])) for user in users]


async def create_account(
    session: AsyncSession, ctx: ServiceContext, name: str, password: str, role: str, region_code: str
) -> StaffUser:
    require_account_admin(ctx)
    return await add_user(session, ctx.actor, ctx.tree, ctx.home_city, name, password, role, region_code)


async def _account(session: AsyncSession, user_id: int) -> StaffUser:
    user = await session.get(StaffUser, user_id, with_for_update=True)
    if user is None:
        raise NotFound(f"没有编号为 {user_id} 的账号")
    return user


async def revoke_access(session: AsyncSession, user_id: int, *, tokens: bool = True) -> None:
    """End every session (and, with `tokens`, every API token) of the account for good: a revoked
    row stays revoked, so enabling the account again revives none of them."""
    at = now()
    await session.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    if tokens:
        await session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )


async def set_account_active(
    session: AsyncSession, ctx: ServiceContext, user_id: int, active: bool
) -> StaffUser:
    """Disable (sessions and tokens revoked at once) or enable again (with no old session or token)."""
    require_account_admin(ctx)
    user = await _account(session, user_id)
    if not active and user.id == ctx.actor.user_id:
        raise BadInput("不能停用自己正在使用的账号", [FieldError("active", "不能停用自己正在使用的账号")])
    if user.active == active:
        return user
    user.active = active
    if not active:
        await revoke_access(session, user.id)
    await audit(
        session,
        ctx.actor,
        "user",
        user.name,
        "enable" if active else "disable",
        {"active": not active},
        {"active": active},
    )
    return user


async def reset_password(
    session: AsyncSession, ctx: ServiceContext, user_id: int, password: str
) -> StaffUser:
    """A new password; every session signed in with the old one ends (API tokens stay: revoke them apart)."""
    require_account_admin(ctx)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadInput("密码太短", [FieldError("password", f"密码至少{MIN_PASSWORD_LENGTH}位")])
    user = await _account(session, user_id)
    user.password_hash = await asyncio.to_thread(hash_password, password)  # argon2 is slow on purpose
    await revoke_access(session, user.id, tokens=False)
    await audit(session, ctx.actor, "user", user.name, "reset-password", None, None)
    return user


async def revoke_token(session: AsyncSession, ctx: ServiceContext, token_id: int) -> ApiToken:
    require_account_admin(ctx)
    token = await session.get(ApiToken, token_id, with_for_update=True)
    if token is None:
        raise NotFound(f"没有编号为 {token_id} 的接口令牌")
    if token.revoked_at is None:
        token.revoked_at = now()
        user = await session.get(StaffUser, token.user_id)
        await audit(
            session,
            ctx.actor,
            "token",
            user.name if user else str(token.user_id),
            "revoke",
            None,
            {"token": token.id, "label": token.label},
        )
    return token
