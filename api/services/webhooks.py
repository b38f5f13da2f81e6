"""Signed webhooks: partners (and the city's admins) register a URL; every change they may see is
POSTed to it as JSON, signed, at least once.

Delivery, in the serving process beside the index follower (`WebhookWorker`, started by the app's
lifespan):

1. *Fan-out*: for each webhook (claimed with `FOR UPDATE SKIP LOCKED`, so one instance at a time),
   the changes after its `last_seq` that its owner may see become `webhook_deliveries` rows (one
   per webhook and change: a unique constraint).
2. *Claim*: due pending deliveries are claimed with `FOR UPDATE SKIP LOCKED` and their
   `next_attempt_at` moved past the attempt's timeout (a lease) in one short transaction; the
   instance that committed the claim sends. If it dies mid-send the lease runs out and another
   instance sends again (at least once; receivers dedupe on `X-Tongban-Delivery`). On SQLite the
   single write lock serialises claims.
3. *Send*: `POST url`, body the change as JSON, `X-Tongban-Signature: sha256=<hex HMAC-SHA256(secret,
   body)>`, `X-Tongban-Delivery: <delivery id>` (the same on every retry). Only to hosts in
   TONGBAN_WEBHOOK_ALLOWED_HOSTS; a host name that resolves to a private, loopback, link-local or
   otherwise non-public address is refused unless that address itself is listed; the connection
   goes to the address that was checked (no second DNS answer); redirects are never followed (a 3xx
   is a failure); 10 s timeout.
4. *Result*: 2xx → delivered. Otherwise retried after 2, 4, 8, … s (at most an hour apart); after
   24 hours of failures the delivery is `failed`, with its last error on the staff page.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api import metrics
from api.enums import Role
from api.models import OutboxEvent, Webhook, WebhookDelivery
from api.services.base import Actor, BadInput, FieldError, NotFound, ServiceContext, audit, now
from api.services.changes import ChangeRow, _actions, _utc, latest_seq, read_changes, settle
from api.services.permissions import change_entities, require_webhook_owner

log = logging.getLogger("tongban.webhooks")

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
TIMEOUT_SECONDS = 10.0
LEASE = dt.timedelta(seconds=30)  # > the timeout: a claimed delivery is not sent twice at once
GIVE_UP_AFTER = dt.timedelta(hours=24)
FIRST_RETRY_SECONDS = 2.0
MAX_RETRY_SECONDS = 3600.0
CLAIM_BATCH = 20
FAN_OUT_BATCH = 1000


def backoff(attempts: int) -> dt.timedelta:
    """Wait after the `attempts`-th failed attempt: 2 s, 4 s, 8 s, … at most an hour."""
    return dt.timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS))


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def owner_actor(webhook: Webhook) -> Actor:
    return Actor(
        name=webhook.created_by, role=Role(webhook.owner_role), region_code=webhook.region_code, via="webhook"
    )


# ------------------------------------------------------------------ registering


def check_url(url: str, allowed_hosts: tuple[str, ...]) -> str | None:
    """Why `url` may not be a webhook target (None when it may): http(s), no credentials, a host
    listed in TONGBAN_WEBHOOK_ALLOWED_HOSTS."""
    if not allowed_hosts:
        return "本实例未开启 Webhook (TONGBAN_WEBHOOK_ALLOWED_HOSTS 为空)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "不是有效的网址"
    del port
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "网址应以 https:// (或 http://) 开头并包含主机名"
    if parts.username or parts.password:
        return "网址不能包含用户名或密码"
    if parts.hostname.lower() not in allowed_hosts:
        return f"主机 {parts.hostname} 不在允许的 Webhook 主机列表中 (TONGBAN_WEBHOOK_ALLOWED_HOSTS)"
    return None


@dataclass(frozen=True)
class WebhookData:
    url: str
    secret: str
    entities: list[str]


def parse_webhook(raw: dict[str, Any], actor: Actor, allowed_hosts: tuple[str, ...]) -> WebhookData:
    errors: list[FieldError] = []
    url = str(raw.get("url") or "").strip()
    secret = str(raw.get("secret") or "")
    entities = raw.get("entities") or []
    if len(url) > 2000:
        errors.append(FieldError("url", "网址过长 (最多 2000 个字符)"))
    else:
        problem = check_url(url, allowed_hosts)
        if problem:
            errors.append(FieldError("url", problem))
    if not 16 <= len(secret) <= 200:
        errors.append(FieldError("secret", "密钥应为 16 至 200 个字符"))
    visible = change_entities(actor)
    unknown = sorted({str(e) for e in entities} - visible)
    if unknown:
        errors.append(
            FieldError(
                "entities",
                f"未知或无权订阅的变更类别: {', '.join(unknown)} (可选: {', '.join(sorted(visible))})",
            )
        )
    if errors:
        raise BadInput("Webhook 信息有误", errors)
    return WebhookData(url=url, secret=secret, entities=sorted({str(e) for e in entities}))


async def create_webhook(
    session: AsyncSession, ctx: ServiceContext, raw: dict[str, Any], allowed_hosts: tuple[str, ...]
) -> Webhook:
    """A partner's own webhook (its region); an admin's for a partner region (`regionCode`: it gets
    what that partner may see) or for the city itself (no region). Changes from now on are
    delivered; the `changes` query has the earlier ones."""
    data = parse_webhook(raw, ctx.actor, allowed_hosts)
    region = ctx.actor.region_code if ctx.actor.role == Role.PARTNER else None
    owner_role = ctx.actor.role
    wanted = raw.get("regionCode")
    if wanted:
        wanted = str(wanted).strip()
        if wanted not in ctx.tree or ctx.tree.contains(ctx.home_city, wanted):
            raise BadInput(
                "Webhook 信息有误",
                [FieldError("regionCode", f"应为本市以外的合作地区代码 (收到 {wanted[:20]})")],
            )
        region, owner_role = wanted, Role.PARTNER
    require_webhook_owner(ctx, region)
    webhook = Webhook(
        url=data.url,
        secret=data.secret,
        entities=data.entities,
        region_code=region,
        owner_role=owner_role,
        created_by=ctx.actor.name,
        created_at=now(),
        last_seq=await latest_seq(session),
    )
    session.add(webhook)
    await session.flush()
    await audit(session, ctx.actor, "webhook", str(webhook.id), "create", None, _snapshot(webhook))
    return webhook


async def delete_webhook(session: AsyncSession, ctx: ServiceContext, webhook_id: int) -> None:
    webhook = await session.get(Webhook, webhook_id)
    if webhook is None:
        raise NotFound(f"没有编号为 {webhook_id} 的 Webhook")
    require_webhook_owner(ctx, webhook.region_code)
    before = _snapshot(webhook)
    await session.delete(webhook)
    await session.flush()
    await audit(session, ctx.actor, "webhook", str(webhook_id), "delete", before, None)


def _snapshot(webhook: Webhook) -> dict[str, Any]:
    return {"url": webhook.url, "entities": list(webhook.entities or []), "regionCode": webhook.region_code}


async def webhooks_for(session: AsyncSession, actor: Actor) -> list[Webhook]:
    """The webhooks `actor` manages: a partner its region's, an admin all, others none."""
    statement = select(Webhook).order_by(Webhook.id)
    if actor.role == Role.PARTNER:
        statement = statement.where(Webhook.region_code == actor.region_code)
    elif actor.role != Role.ADMIN:
        return []
    return list((await session.execute(statement)).scalars())


@dataclass(frozen=True)
class WebhookStatus:
    webhook: Webhook
    pending: int
    delivered: int
    failed: int
    recent_failures: list[WebhookDelivery]


async def webhook_statuses(session: AsyncSession, actor: Actor, failures: int = 10) -> list[WebhookStatus]:
    """For the staff page: each webhook with its delivery counts and latest failures (given up, or
    still being retried after an error)."""
    hooks = await webhooks_for(session, actor)
    if not hooks:
        return []
    ids = [h.id for h in hooks]
    counts: dict[tuple[int, str], int] = {
        (wid, status): int(n)
        for wid, status, n in (
            await session.execute(
                select(WebhookDelivery.webhook_id, WebhookDelivery.status, func.count())
                .where(WebhookDelivery.webhook_id.in_(ids))
                .group_by(WebhookDelivery.webhook_id, WebhookDelivery.status)
            )
        ).all()
    }
    result = []
    for hook in hooks:
        recent = list(
            (
                await session.execute(
                    select(WebhookDelivery)
                    .where(WebhookDelivery.webhook_id == hook.id, WebhookDelivery.last_error.is_not(None))
                    .where(WebhookDelivery.status != DELIVERED)
                    .order_by(WebhookDelivery.id.desc())
                    .limit(failures)
                )
            ).scalars()
        )
        result.append(
            WebhookStatus(
                hook,
                counts.get((hook.id, PENDING), 0),
                counts.get((hook.id, DELIVERED), 0),
                counts.get((hook.id, FAILED), 0),
                recent,
            )
        )
    return result


# ------------------------------------------------------------------ delivering


class Refused(Exception):
    """The target may not be contacted (SSRF guard)."""


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv4Address) and address in ipaddress.ip_network("100.64.0.0/10"))
    )


async def resolve_target(url: str, allowed_hosts: tuple[str, ...]) -> tuple[str, str]:
    """(the URL with its host replaced by the checked address, the original host) — or Refused."""
    problem = check_url(url, allowed_hosts)
    if problem:
        raise Refused(problem)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        address = literal  # listed explicitly by the operator: allowed even when private
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise Refused(f"无法解析主机 {host}: {exc}") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]  # IPv4/6: a str
        bad = [str(a) for a in addresses if not _public(a) and str(a) not in allowed_hosts]
        if not addresses or bad:
            raise Refused(f"主机 {host} 解析到非公网地址 {', '.join(bad) or '(无)'}, 已拒绝 (SSRF 防护)")
        address = addresses[0]
    netloc = f"[{address}]" if address.version == 6 else str(address)
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")), host


def change_body(row: ChangeRow, delivery_id: int) -> bytes:
    payload = {
        "deliveryId": str(delivery_id),
        "seq": row.seq,
        "entity": row.entity,
        "key": row.key,
        "action": row.action,
        "at": row.at.isoformat(),
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


async def send(
    client: httpx.AsyncClient,
    url: str,
    secret: str,
    body: bytes,
    delivery_id: int,
    allowed_hosts: tuple[str, ...],
) -> str | None:
    """POST one delivery; None on a 2xx answer, else what went wrong (for the staff page)."""
    try:
        target, host = await resolve_target(url, allowed_hosts)
    except Refused as refused:
        return f"已拒绝: {refused}"
    headers = {
        "Host": urlsplit(url).netloc.rsplit("@", 1)[-1],
        "Content-Type": "application/json",
        "User-Agent": "tongban-webhooks/1",
        "X-Tongban-Signature": sign(secret, body),
        "X-Tongban-Delivery": str(delivery_id),
    }
    extensions = {"sni_hostname": host} if target.startswith("https:") else {}
    try:
        response = await client.post(target, content=body, headers=headers, extensions=extensions)
    except httpx.TimeoutException:
        return f"超时 ({TIMEOUT_SECONDS:g} 秒)"
    except httpx.HTTPError as exc:
        return f"连接失败: {type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return None
    if 300 <= response.status_code < 400:
        return f"HTTP {response.status_code} 重定向 (不跟随重定向)"
    return f"HTTP {response.status_code}"


class WebhookWorker:
    """Fans out changes into deliveries and sends the due ones, every `interval` seconds."""

    def __init__(self, db: Any, catalog: Any, allowed_hosts: tuple[str, ...], interval: float = 0.5) -> None:
        self.db = db
        self.catalog = catalog
        self.allowed_hosts = allowed_hosts
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self.last_error: str | None = None

    async def start(self) -> None:
        if not self.allowed_hosts:
            return  # webhooks off
        self._client = httpx.AsyncClient(follow_redirects=False, timeout=TIMEOUT_SECONDS, trust_env=False)
        self._task = asyncio.create_task(self._run(), name="tongban-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
                self.last_error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the worker keeps going; the log says why
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("webhook worker: %s", self.last_error)
            await asyncio.sleep(self.interval)

    async def run_once(self) -> int:
        """One round: fan out, then send what is due. Returns how many deliveries were attempted."""
        await self.fan_out()
        return await self.deliver_due()

    async def fan_out(self) -> int:
        # A read first: an idle instance (no webhook behind the outbox) takes no write lock.
        async with self.db.read() as session:
            behind = (
                await session.execute(
                    select(Webhook.id)
                    .where(Webhook.last_seq < select(func.max(OutboxEvent.id)).scalar_subquery())
                    .limit(1)
                )
            ).first()
        if behind is None:
            return 0
        catalog = await self.catalog.get()
        created = 0
        async with self.db.write() as session:
            hooks = list(
                (
                    await session.execute(
                        select(Webhook).order_by(Webhook.id).with_for_update(skip_locked=True)
                    )
                ).scalars()
            )
            if not hooks or not await settle(session, wait=0.5):
                return 0
            top = await latest_seq(session)
            stamp = now()
            for hook in hooks:
                if hook.last_seq >= top:
                    continue
                rows, more = await read_changes(
                    session,
                    owner_actor(hook),
                    catalog.tree,
                    catalog.home_city,
                    hook.last_seq,
                    FAN_OUT_BATCH,
                    entities=hook.entities or None,
                )
                for row in rows:
                    session.add(
                        WebhookDelivery(
                            webhook_id=hook.id,
                            change_seq=row.seq,
                            status=PENDING,
                            attempts=0,
                            created_at=stamp,
                            next_attempt_at=stamp,
                        )
                    )
                created += len(rows)
                hook.last_seq = rows[-1].seq if more else top
        return created

    async def claim(self) -> list[tuple[WebhookDelivery, Webhook, ChangeRow]]:
        stamp = now()
        async with self.db.read() as session:  # nothing due: no write transaction
            due_any = (
                await session.execute(
                    select(WebhookDelivery.id)
                    .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= stamp)
                    .limit(1)
                )
            ).first()
        if due_any is None:
            return []
        async with self.db.write() as session:
            due = list(
                (
                    await session.execute(
                        select(WebhookDelivery)
                        .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= stamp)
                        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                        .limit(CLAIM_BATCH)
                        .with_for_update(skip_locked=True)
                    )
                ).scalars()
            )
            if not due:
                return []
            for delivery in due:
                delivery.attempts += 1
                delivery.next_attempt_at = stamp + LEASE
            hooks = {
                h.id: h
                for h in (
                    await session.execute(select(Webhook).where(Webhook.id.in_({d.webhook_id for d in due})))
                ).scalars()
            }
            events = {
                e.id: e
                for e in (
                    await session.execute(
                        select(OutboxEvent).where(OutboxEvent.id.in_({d.change_seq for d in due}))
                    )
                ).scalars()
            }
            actions = await _actions(session, list(events.values()))
        claimed = []
        for delivery in due:
            event = events.get(delivery.change_seq)
            hook = hooks.get(delivery.webhook_id)
            if event is None or hook is None:
                continue
            row = ChangeRow(event.id, event.entity, event.entity_key, actions[event.id], _utc(event.at))
            claimed.append((delivery, hook, row))
        return claimed

    async def deliver_due(self) -> int:
        claimed = await self.claim()
        if not claimed:
            return 0
        own_client = self._client is None  # run_once() without start(): a client for this round
        client = self._client or httpx.AsyncClient(
            follow_redirects=False, timeout=TIMEOUT_SECONDS, trust_env=False
        )
        try:
            results = await asyncio.gather(
                *(
                    send(
                        client,
                        hook.url,
                        hook.secret,
                        change_body(row, delivery.id),
                        delivery.id,
                        self.allowed_hosts,
                    )
                    for delivery, hook, row in claimed
                )
            )
        finally:
            if own_client:
                await client.aclose()
        # every attempt counts, whatever the bookkeeping below finds (delivered = attempts - failures)
        metrics.WEBHOOK_DELIVERIES.inc(len(results))
        metrics.WEBHOOK_FAILURES.inc(sum(1 for error in results if error is not None))
        given_up = 0
        stamp = now()
        async with self.db.write() as session:
            for (delivery, _hook, _row), error in zip(claimed, results, strict=True):
                current = await session.get(WebhookDelivery, delivery.id)
                if current is None or current.status != PENDING:
                    continue
                if error is None:
                    current.status = DELIVERED
                    current.delivered_at = stamp
                    current.last_error = None
                    continue
                current.last_error = error
                if stamp - _utc(current.created_at) >= GIVE_UP_AFTER:
                    current.status = FAILED
                    given_up += 1
                    log.warning(
                        "webhook delivery %s given up after %s attempts: %s",
                        current.id,
                        current.attempts,
                        error,
                    )
                else:
                    current.next_attempt_at = stamp + backoff(current.attempts)
        if given_up:  # counted once the write committed
            metrics.WEBHOOK_GIVEN_UP.inc(given_up)
        return len(claimed)
