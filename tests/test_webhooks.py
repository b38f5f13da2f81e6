"""Signed webhooks (CONTRACT §7): partners register a URL and every change they may see is POSTed
to it as signed JSON, at least once, with backoff, given up after 24 hours (visible on the staff
page), once per change even with two instances on one database, and never to a private address
behind an allowed name or through a redirect. The receiver is a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from api.app import create_app
from api.db import Database
from api.enums import Role
from api.models import Webhook, WebhookDelivery
from api.services import webhooks
from api.services.base import Actor, queue
from api.services.catalog import CatalogCache
from api.services.webhooks import WebhookWorker, create_webhook
from api.settings import Settings
from tests.conftest import make_token
from tests.test_graphql_api import codes, gql
from tests.test_staff_helpers import signed_in

SECRET = "partner-shared-secret-0123456789"


@dataclass
class Received:
    path: str
    body: bytes
    headers: dict[str, str]
    at: float


@dataclass
class Receiver:
    port: int
    received: list[Received] = field(default_factory=list)
    failures_left: dict[str, int] = field(default_factory=dict)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


@contextlib.contextmanager
def receiver() -> Iterator[Receiver]:
    """/ok answers 204; /flaky 500 until its failures are used up; /fail always 500; /redirect 302
    to /target (which must never be reached)."""
    state = Receiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.received.append(
                Received(self.path, body, {k.lower(): v for k, v in self.headers.items()}, time.monotonic())
            )
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", state.url("/target"))
            elif self.path == "/fail" or (self.path == "/flaky" and state.failures_left.get("/flaky", 0) > 0):
                state.failures_left["/flaky"] = state.failures_left.get("/flaky", 0) - 1
                self.send_response(500)
            else:
                self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # many deliveries at once

    server = Server(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Instance:
    db: Database
    worker: WebhookWorker
    catalog: CatalogCache


@contextlib.asynccontextmanager
async def instance(settings: Settings, allowed: tuple[str, ...]) -> AsyncIterator[Instance]:
    """One serving instance's database handle and webhook worker (driven by the test, round by round)."""
    db = Database(settings.database_url)
    catalog = CatalogCache(db, settings.home_region)
    try:
        yield Instance(db, WebhookWorker(db, catalog, allowed), catalog)
    finally:
        await db.dispose()


async def register(
    inst: Instance,
    url: str,
    allowed: tuple[str, ...],
    region: str = "511300",
    entities: list[str] | None = None,
) -> int:
    catalog = await inst.catalog.get()
    ctx = catalog.service_context(
        Actor(name=f"partner-{region}", role=Role.PARTNER, region_code=region, via="graphql")
    )
    async with inst.db.write() as session:
        return (
            await create_webhook(
                session, ctx, {"url": url, "secret": SECRET, "entities": entities or []}, allowed
            )
        ).id


async def change(inst: Instance, *keys: str) -> None:
    async with inst.db.write() as session:
        for key in keys:
            queue(session, "matter", key)


async def deliveries(inst: Instance) -> list[WebhookDelivery]:
    async with inst.db.read() as session:
        return list((await session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id))).scalars())


def verify(item: Received) -> dict[str, Any]:
    expected = "sha256=" + hmac.new(SECRET.encode(), item.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(item.headers["x-tongban-signature"], expected)
    assert item.headers["content-type"] == "application/json"
    body = json.loads(item.body)
    assert body["deliveryId"] == item.headers["x-tongban-delivery"]
    return body


async def test_a_change_reaches_the_partner_signed_from_the_serving_process(settings: Settings) -> None:
    """The worker runs in the app's lifespan beside the index follower; registration via GraphQL."""
    with receiver() as target:
        app = create_app(settings.with_(webhook_allowed_hosts=("127.0.0.1",)))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                partner = await make_token(settings, "nanchong-hooks", "partner", "511300")
                admin = await make_token(settings, "city-hooks", "admin", "331000")
                created = await gql(
                    client,
                    'mutation($u: String!, $s: String!) { createWebhook(url: $u, secret: $s, entities: ["region"]) { id url entities createdAt } }',
                    {"u": target.url("/ok"), "s": SECRET},
                    partner,
                )
                assert "errors" not in created, created
                assert created["data"]["createWebhook"]["entities"] == ["region"]
                listed = await gql(client, "{ webhooks { id url } }", token=partner)
                assert [w["url"] for w in listed["data"]["webhooks"]] == [target.url("/ok")]
                body = await gql(
                    client,
                    'mutation { setPartnerIndices(regionCode: "511300", populationIndex: 61, cooperationIndex: 72) { code } }',
                    token=admin,
                )
                assert "errors" not in body, body
                deadline = time.monotonic() + 15
                while not target.on("/ok") and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                assert len(target.on("/ok")) == 1, "the change was not delivered within 15 s"
                sent = verify(target.on("/ok")[0])
                assert (sent["entity"], sent["key"], sent["action"]) == ("region", "511300", "update")
                assert sent["seq"] > 0 and sent["at"]
                await asyncio.sleep(
                    1.2
                )  # two more rounds: nothing is sent twice, nothing from before registration
                assert len(target.received) == 1
                # the partner's staff page lists it as delivered
                async with signed_in(app, settings, "partner", "511300") as page:
                    html = (await page.get("/staff/webhooks")).text
                    assert target.url("/ok") in html and "<dd>1</dd>" in html
                deleted = await gql(
                    client,
                    "mutation($id: ID!) { deleteWebhook(id: $id) }",
                    {"id": created["data"]["createWebhook"]["id"]},
                    admin,
                )
                assert deleted["data"]["deleteWebhook"] is True


async def test_registration_rules(client: httpx.AsyncClient, settings: Settings) -> None:
    create = "mutation($u: String!, $s: String!, $e: [String!]) { createWebhook(url: $u, secret: $s, entities: $e) { id } }"
    partner = await make_token(settings, "partner-rules", "partner", "511300")
    # this instance allows no hosts (TONGBAN_WEBHOOK_ALLOWED_HOSTS empty): webhooks are off
    assert codes(await gql(client, create, {"u": "https://partner.example/hook", "s": SECRET}, partner)) == [
        "BAD_INPUT"
    ]
    assert codes(await gql(client, create, {"u": "https://partner.example/hook", "s": SECRET})) == [
        "UNAUTHENTICATED"
    ]


@pytest.mark.parametrize(
    ("url", "secret", "entities", "problem"),
    [
        ("http://10.0.0.1/hook", SECRET, None, "url"),  # a private address not listed
        ("http://partner.example.evil/hook", SECRET, None, "url"),
        ("ftp://127.0.0.1/hook", SECRET, None, "url"),
        ("http://user:pw@127.0.0.1/hook", SECRET, None, "url"),
        ("http://127.0.0.1/hook", "short", None, "secret"),
        ("http://127.0.0.1/hook", SECRET, ["synonym"], "entities"),  # not a public kind of change
    ],
)
async def test_registration_bad_input(
    settings: Settings, url: str, secret: str, entities: list[str] | None, problem: str
) -> None:
    from api.services.base import BadInput

    allowed = ("127.0.0.1",)
    async with instance(settings, allowed) as inst:
        catalog = await inst.catalog.get()
        ctx = catalog.service_context(Actor(name="p", role=Role.PARTNER, region_code="511300", via="graphql"))
        with pytest.raises(BadInput) as raised:
            async with inst.db.write() as session:
                await create_webhook(
                    session, ctx, {"url": url, "secret": secret, "entities": entities}, allowed
                )
        assert [f.field for f in raised.value.fields] == [problem]
        county = catalog.service_context(
            Actor(name="c", role=Role.COUNTY, region_code="331004", via="graphql")
        )
        from api.services.base import Forbidden

        with pytest.raises(Forbidden):
            async with inst.db.write() as session:
                await create_webhook(
                    session, county, {"url": "http://127.0.0.1/x", "secret": SECRET}, allowed
                )


@pytest.mark.parametrize(
    ("attempts", "seconds"), [(0, 2), (1, 2), (2, 4), (3, 8), (4, 16), (11, 2048), (12, 3600), (40, 3600)]
)
def test_backoff_doubles_from_two_seconds_to_at_most_an_hour(attempts: int, seconds: int) -> None:
    assert webhooks.backoff(attempts) == dt.timedelta(seconds=seconds)


async def test_retries_back_off_then_deliver_with_the_same_delivery_id(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retries as a partner sees them, with the schedule (2 s, 4 s, … the test above) scaled to
    a quarter so the test waits 1.5 s instead of 6 s."""
    monkeypatch.setattr(webhooks, "FIRST_RETRY_SECONDS", webhooks.FIRST_RETRY_SECONDS / 4)
    allowed = ("127.0.0.1",)
    with receiver() as target:
        target.failures_left["/flaky"] = 2
        async with instance(settings, allowed) as inst:
            await register(inst, target.url("/flaky"), allowed)
            await change(inst, "M-008")
            deadline = time.monotonic() + 20
            while len(target.on("/flaky")) < 3 and time.monotonic() < deadline:
                await inst.worker.run_once()
                await asyncio.sleep(0.1)
            tries = target.on("/flaky")
            assert len(tries) == 3
            assert tries[1].at - tries[0].at <= 5.0  # first retry within 5 s
            assert tries[2].at - tries[1].at > tries[1].at - tries[0].at  # backing off
            assert len({t.headers["x-tongban-delivery"] for t in tries}) == 1
            assert [verify(t)["key"] for t in tries] == ["M-008"] * 3
            [done] = await deliveries(inst)
            assert (done.status, done.attempts, done.last_error) == ("delivered", 3, None)


async def test_given_up_after_24_hours_and_shown_on_the_staff_page(settings: Settings, app: Any) -> None:
    allowed = ("127.0.0.1",)
    with receiver() as target:
        async with instance(settings, allowed) as inst:
            await register(inst, target.url("/fail"), allowed)
            await change(inst, "M-008")
            await inst.worker.run_once()
            [pending] = await deliveries(inst)
            assert (pending.status, pending.attempts, pending.last_error) == ("pending", 1, "HTTP 500")
            long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)
            async with inst.db.write() as session:
                await session.execute(
                    update(WebhookDelivery).values(created_at=long_ago, next_attempt_at=long_ago)
                )
            await inst.worker.run_once()
            [failed] = await deliveries(inst)
            assert (failed.status, failed.attempts) == ("failed", 2)
            await inst.worker.run_once()
            assert len(target.on("/fail")) == 2  # not tried again
    async with signed_in(app, settings, "admin", "331000") as city:
        html = (await city.get("/staff/webhooks")).text
        assert "已放弃" in html and "HTTP 500" in html and target.url("/fail") in html
    async with signed_in(app, settings, "partner", "341600") as other:
        assert target.url("/fail") not in (await other.get("/staff/webhooks")).text  # not theirs
    async with signed_in(app, settings, "county", "331004") as county:
        assert (await county.get("/staff/webhooks")).status_code == 403


async def test_ssrf_a_private_address_and_a_redirect_are_refused(settings: Settings) -> None:
    """`localhost` is an allowed name, but it resolves to a loopback address that is not itself
    listed: refused before connecting. A 302 is a failure, never followed."""
    with receiver() as target:
        async with instance(settings, ("localhost",)) as inst:
            await register(inst, target.url("/ok", host="localhost"), ("localhost",))
            await change(inst, "M-008")
            await inst.worker.run_once()
            [refused] = await deliveries(inst)
            assert refused.status == "pending" and "非公网地址" in (refused.last_error or "")
            assert target.received == []
        async with instance(settings, ("127.0.0.1",)) as inst:
            async with inst.db.write() as session:
                await session.execute(update(WebhookDelivery).values(status="failed"))
            hook = await register(inst, target.url("/redirect"), ("127.0.0.1",))
            await change(inst, "M-009")
            await inst.worker.run_once()
            redirected = [d for d in await deliveries(inst) if d.webhook_id == hook]
            assert len(redirected) == 1 and "重定向" in (redirected[0].last_error or "")
            assert len(target.on("/redirect")) == 1 and target.on("/target") == []
        # a host removed from the allowed list later is refused at send time too
        async with instance(settings, ("other.example",)) as inst:
            async with inst.db.write() as session:
                await session.execute(update(WebhookDelivery).values(next_attempt_at=dt.datetime.now(dt.UTC)))
            await inst.worker.run_once()
            assert len(target.on("/redirect")) == 1
            assert all(
                "已拒绝" in (d.last_error or "") for d in await deliveries(inst) if d.status == "pending"
            )


async def test_two_instances_deliver_each_change_once(settings: Settings) -> None:
    allowed = ("127.0.0.1",)
    with receiver() as target:
        async with instance(settings, allowed) as one, instance(settings, allowed) as two:
            await register(one, target.url("/ok"), allowed)
            await register(two, target.url("/ok"), allowed, region="341600")
            keys = [f"M-{n:03d}" for n in range(1, 26)]
            await change(one, *keys[:12])
            await change(two, *keys[12:])
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                await asyncio.gather(one.worker.run_once(), two.worker.run_once(), one.worker.run_once())
                await asyncio.sleep(0.05)
                if len(target.on("/ok")) >= 2 * len(keys) and all(
                    d.status == "delivered" for d in await deliveries(one)
                ):
                    break
            sent = [verify(r) for r in target.on("/ok")]
            ids = [s["deliveryId"] for s in sent]
            assert len(ids) == len(set(ids)) == 2 * len(keys)  # each delivery exactly once
            rows = await deliveries(one)
            assert (
                len(rows) == 2 * len(keys)
                and {r.status for r in rows} == {"delivered"}
                and {r.attempts for r in rows} == {1}
            )
            async with one.db.read() as session:
                hooks = list((await session.execute(select(Webhook))).scalars())
            per_hook = {h.id: sorted(r.change_seq for r in rows if r.webhook_id == h.id) for h in hooks}
            assert all(len(seqs) == len(keys) for seqs in per_hook.values())


async def test_admins_register_for_a_partner_region(settings: Settings) -> None:
    from api.services.base import BadInput, Forbidden
    from api.services.webhooks import webhooks_for

    allowed = ("127.0.0.1",)
    async with instance(settings, allowed) as inst:
        catalog = await inst.catalog.get()
        admin = catalog.service_context(
            Actor(name="city", role=Role.ADMIN, region_code="331000", via="graphql")
        )
        raw = {"url": "http://127.0.0.1/hook", "secret": SECRET, "regionCode": "511300"}
        async with inst.db.write() as session:
            hook = await create_webhook(session, admin, raw, allowed)
            assert (hook.region_code, hook.owner_role, hook.created_by) == ("511300", Role.PARTNER, "city")
        partner = Actor(name="p", role=Role.PARTNER, region_code="511300", via="graphql")
        other = Actor(name="q", role=Role.PARTNER, region_code="341600", via="graphql")
        async with inst.db.read() as session:
            assert [h.id for h in await webhooks_for(session, partner)] == [hook.id]
            assert await webhooks_for(session, other) == []
        with pytest.raises(BadInput):  # a home-city county is not a partner region
            async with inst.db.write() as session:
                await create_webhook(session, admin, {**raw, "regionCode": "331004"}, allowed)
        with pytest.raises(Forbidden):  # a partner registers only for itself
            async with inst.db.write() as session:
                await create_webhook(session, catalog.service_context(other), raw, allowed)


def _webhook_counts() -> tuple[float, float, float]:
    from prometheus_client import REGISTRY

    return tuple(  # type: ignore[return-value]
        REGISTRY.get_sample_value(f"tongban_webhook_{name}_total") or 0.0
        for name in ("deliveries", "failures", "given_up")
    )


async def test_metrics_count_attempts_failures_and_given_up(settings: Settings) -> None:
    """/metrics' webhook counters move with the worker: every attempt, every failed attempt, and a
    delivery given up after 24 hours (an operator alerts on these, not on the staff page)."""
    allowed = ("127.0.0.1",)
    with receiver() as target:
        async with instance(settings, allowed) as inst:
            await register(inst, target.url("/ok"), allowed, region="511300")
            await register(inst, target.url("/fail"), allowed, region="341600")
            start = _webhook_counts()

            def grew() -> tuple[float, ...]:
                return tuple(after - before for after, before in zip(_webhook_counts(), start, strict=True))

            await change(inst, "M-008")
            assert await inst.worker.run_once() == 2
            assert grew() == (2, 1, 0)  # one delivered, one failed attempt
            long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)
            async with inst.db.write() as session:
                await session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.status == "pending")
                    .values(created_at=long_ago, next_attempt_at=long_ago)
                )
            assert await inst.worker.run_once() == 1
            assert grew() == (3, 2, 1)  # the second failure gave it up
            assert await inst.worker.run_once() == 0
            assert grew() == (3, 2, 1)
    from api.metrics import exposition

    text = exposition()[0].decode()
    assert "tongban_webhook_given_up_total" in text
