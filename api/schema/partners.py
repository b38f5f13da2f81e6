"""What partner regions integrate with (CONTRACT §7): the changes feed, the liaison directory and
webhooks. Merged into the Query and Mutation roots by `api.schema.build_schema`.

Reads and writes go through the services (`api.services.changes`, `directory`, `webhooks`); who may
see or change what is decided in `api.services.permissions` alone.
"""

from __future__ import annotations

import datetime as dt

import strawberry
from sqlalchemy import select

from api.enums import FeedbackStatus
from api.models import Contact as ContactModel
from api.models import Feedback as FeedbackModel
from api.models import LiaisonGroup
from api.models import Webhook as WebhookModel
from api.schema.context import Info
from api.schema.pagination import PageInfo, decode_cursor, encode_cursor, page_info, page_size
from api.schema.queries import parse_id, unset
from api.services.base import Actor, BadInput, NotFound
from api.services.cases import list_cases
from api.services.changes import ChangeRow, count_changes, read_changes
from api.services.directory import upsert_contact
from api.services.faq import edition_entries
from api.services.faq import editions as faq_editions
from api.services.permissions import feedback_visible, may_read_contact, may_read_unpublished_handbook
from api.services.webhooks import create_webhook, delete_webhook, webhooks_for

# ------------------------------------------------------------------------------- changes


@strawberry.type(
    description="One change to a record, in outbox order. `seq` only grows: store the last one (or the "
    "cursor) you processed and ask for what came after."
)
class Change:
    seq: int
    entity: str = strawberry.field(
        description="agreement, hall, matter, region, relation, setting; contact (signed in)"
    )
    key: str = strawberry.field(
        description="The record's key: an agreement or hall id, a matter code, a region code …"
    )
    action: str = strawberry.field(description="create | update | delete")
    at: dt.datetime


@strawberry.type
class ChangeEdge:
    cursor: str
    node: Change


@strawberry.type
class ChangeConnection:
    edges: list[ChangeEdge]
    page_info: PageInfo
    actor: strawberry.Private[Actor | None]

    @strawberry.field(description="How many changes of the kinds you may see there are in all.")
    async def total_count(self, info: Info) -> int:
        catalog = await info.context.catalog()
        async with info.context.db.read() as session:
            return await count_changes(session, self.actor, catalog.tree, catalog.home_city)


def change_cursor(seq: int) -> str:
    return encode_cursor("change", [seq])


def change_node(row: ChangeRow) -> Change:
    return Change(seq=row.seq, entity=row.entity, key=row.key, action=row.action, at=row.at)


# ------------------------------------------------------------------------------- contacts


@strawberry.type(description="通办通讯录: a named liaison person of a region (signed-in tokens only).")
class Contact:
    key: str
    name: str
    region_code: str
    organisation: str | None
    role: str | None
    phone: str | None
    liaison_group: str | None
    updated_at: dt.datetime


@strawberry.type
class ContactEdge:
    cursor: str
    node: Contact


@strawberry.type
class ContactConnection:
    edges: list[ContactEdge]
    page_info: PageInfo
    total_count: int


@strawberry.input(description="A liaison contact, keyed by `key` (a new key creates one).")
class ContactInput:
    key: str
    name: str
    region_code: str
    organisation: str | None = strawberry.UNSET
    role: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    liaison_group: str | None = strawberry.UNSET


def contact_node(row: ContactModel, group: str | None) -> Contact:
    stamp = row.updated_at
    return Contact(
        key=row.key or f"contact-{row.id}",
        name=row.name,
        region_code=row.region_code,
        organisation=row.organisation,
        role=row.role,
        phone=row.phone,
        liaison_group=group,
        updated_at=stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp,
    )


# ------------------------------------------------------------------------------- webhooks


@strawberry.type(description="A URL that receives every change you may see, POSTed as signed JSON.")
class Webhook:
    id: strawberry.ID
    url: str
    entities: list[str]
    created_at: dt.datetime


def webhook_node(row: WebhookModel) -> Webhook:
    stamp = row.created_at
    return Webhook(
        id=strawberry.ID(str(row.id)),
        url=row.url,
        entities=list(row.entities or []),
        created_at=stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp,
    )


# ------------------------------------------------------------------------------- feedback, handbook, cases


@strawberry.type(
    description="问题反馈单 as its filer follows it (the filer's contact details are not shown)."
)
class FeedbackForm:
    reference: str
    status: str = strawberry.field(description="OPEN | RESPONDING | RESOLVED | ESCALATED")
    stage: str | None = strawberry.field(description="BEFORE | DURING | AFTER (三步闭环沟通)")
    category: str | None
    matter_code: str | None
    home_region_code: str | None
    county_code: str | None
    partner_code: str | None
    description: str
    resolution: str | None
    created_at: dt.datetime
    first_response_at: dt.datetime | None
    escalated_at: dt.datetime | None
    resolved_at: dt.datetime | None


@strawberry.type(description="一问一答 of the FAQ handbook (通办常见问题解答知识手册).")
class FaqEntry:
    question: str
    answer: str
    matter_code: str | None


@strawberry.type(description="An edition of the FAQ handbook, compiled each May and November.")
class FaqEdition:
    year: int
    month: int
    title: str
    published_at: dt.datetime | None
    entries: list[FaqEntry]


@strawberry.type(description="A case of the case collection (通办案例集).")
class Case:
    id: strawberry.ID
    title: str
    summary: str
    matter_code: str | None
    county_code: str | None
    partner_code: str | None
    happened_on: dt.date | None
    published: bool
    is_sample: bool


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def feedback_node(row: FeedbackModel) -> FeedbackForm:
    return FeedbackForm(
        reference=row.reference,
        status=str(getattr(row.status, "value", row.status)),
        stage=str(getattr(row.stage, "value", row.stage)) if row.stage is not None else None,
        category=row.category,
        matter_code=row.matter_code,
        home_region_code=row.home_region_code,
        county_code=row.county_code,
        partner_code=row.partner_code,
        description=row.description,
        resolution=row.resolution,
        created_at=_aware(row.created_at),  # type: ignore[arg-type]
        first_response_at=_aware(row.first_response_at),
        escalated_at=_aware(row.escalated_at),
        resolved_at=_aware(row.resolved_at),
    )


# ------------------------------------------------------------------------------- roots


async def optional_actor(info: Info) -> Actor | None:
    """The token's actor when a token is sent (an invalid one is UNAUTHENTICATED), else None."""
    from api.schema.context import bearer_token

    if bearer_token(getattr(info.context.request, "headers", None)) is None:
        return None
    return await info.context.actor()


@strawberry.type
class PartnerQuery:
    @strawberry.field(
        description="Changes after the cursor, oldest first (outbox order). Public records for anyone; "
        "liaison contacts too with a signed-in token. `first` defaults to 20, at most 100. Resume "
        "with `after: pageInfo.endCursor`; an empty page keeps your cursor."
    )
    async def changes(
        self, info: Info, after: str | None = strawberry.UNSET, first: int | None = 20
    ) -> ChangeConnection:
        (after,) = unset(after)
        size = page_size(first)
        cursor = decode_cursor("change", after, (int,))
        actor = await optional_actor(info)
        catalog = await info.context.catalog()
        async with info.context.db.read() as session:
            rows, more = await read_changes(
                session, actor, catalog.tree, catalog.home_city, cursor[0] if cursor else 0, size
            )
        edges = [ChangeEdge(cursor=change_cursor(r.seq), node=change_node(r)) for r in rows]
        return ChangeConnection(
            edges=edges, page_info=page_info([e.cursor for e in edges], more, after), actor=actor
        )

    @strawberry.field(
        description="The liaison directory (signed-in tokens only; a partner region sees its own region's, "
        "above and inside it, and the home city's), by key. `regionCode` includes the regions inside it."
    )
    async def contacts(
        self,
        info: Info,
        region_code: str | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> ContactConnection:
        region_code, first, after = unset(region_code, first, after)
        actor = await info.context.actor()
        size = page_size(first)
        cursor = decode_cursor("contact", after, (str,))
        catalog = await info.context.catalog()
        statement = select(ContactModel, LiaisonGroup.name).outerjoin(
            LiaisonGroup, ContactModel.group_id == LiaisonGroup.id
        )
        if region_code is not None:
            statement = statement.where(ContactModel.region_code.in_(catalog.descendants(region_code)))
        async with info.context.db.read() as session:
            rows = (await session.execute(statement)).all()
        readable = sorted(
            (
                (row.key or f"contact-{row.id}", row, group)
                for row, group in rows
                if may_read_contact(actor, catalog.tree, catalog.home_city, row.region_code)
            ),
            key=lambda item: item[0],
        )
        total = len(readable)
        if cursor is not None:
            readable = [item for item in readable if item[0] > cursor[0]]
        page = readable[:size]
        edges = [
            ContactEdge(cursor=encode_cursor("contact", [key]), node=contact_node(row, group))
            for key, row, group in page
        ]
        return ContactConnection(
            edges=edges,
            page_info=page_info([e.cursor for e in edges], len(readable) > size, after),
            total_count=total,
        )

    @strawberry.field(
        description="Feedback forms you follow (signed-in tokens only), newest first: a partner region the "
        "forms about it and the regions inside it, a county its county's, the city all. At most 100."
    )
    async def feedback_forms(
        self, info: Info, status: str | None = strawberry.UNSET, first: int | None = strawberry.UNSET
    ) -> list[FeedbackForm]:
        status, first = unset(status, first)
        actor = await info.context.actor()
        size = page_size(first)
        catalog = await info.context.catalog()
        partner_codes = catalog.descendants(actor.region_code) if actor.region_code in catalog.tree else ()
        statement = select(FeedbackModel).order_by(FeedbackModel.created_at.desc(), FeedbackModel.id.desc())
        if status is not None:
            if status not in FeedbackStatus.__members__:
                raise BadInput(
                    f"status 应为 {', '.join(FeedbackStatus.__members__)} 之一 (收到 {status[:20]!r})"
                )
            statement = statement.where(FeedbackModel.status == FeedbackStatus(status))
        async with info.context.db.read() as session:
            rows = (await session.execute(statement)).scalars()
            found = [r for r in rows if feedback_visible(actor, r.county_code, r.partner_code, partner_codes)]
        return [feedback_node(r) for r in found[:size]]

    @strawberry.field(
        description="The FAQ handbook's editions, newest first: published ones for everyone (as on /faq); "
        "with a city or county token also unpublished editions and entries."
    )
    async def faq_editions(self, info: Info) -> list[FaqEdition]:
        actor = await optional_actor(info)
        everything = may_read_unpublished_handbook(actor)
        async with info.context.db.read() as session:
            found = await faq_editions(session, published_only=not everything)
            result = []
            for edition in found:
                entries = [e for e in await edition_entries(session, edition.id) if everything or e.published]
                result.append(
                    FaqEdition(
                        year=edition.year,
                        month=edition.month,
                        title=edition.title,
                        published_at=_aware(edition.published_at),
                        entries=[
                            FaqEntry(question=e.question, answer=e.answer, matter_code=e.matter_code)
                            for e in entries
                        ],
                    )
                )
        return result

    @strawberry.field(
        description="The case collection: published cases for everyone (as on /cases); with a city or "
        "county token also unpublished ones."
    )
    async def cases(self, info: Info) -> list[Case]:
        actor = await optional_actor(info)
        async with info.context.db.read() as session:
            rows = await list_cases(session, published_only=not may_read_unpublished_handbook(actor))
        return [
            Case(
                id=strawberry.ID(str(c.id)),
                title=c.title,
                summary=c.summary,
                matter_code=c.matter_code,
                county_code=c.county_code,
                partner_code=c.partner_code,
                happened_on=c.happened_on,
                published=c.published,
                is_sample=c.is_sample,
            )
            for c in rows
        ]

    @strawberry.field(description="Your webhooks (a partner region's own; admins: all).")
    async def webhooks(self, info: Info) -> list[Webhook]:
        actor = await info.context.actor()
        async with info.context.db.read() as session:
            return [webhook_node(row) for row in await webhooks_for(session, actor)]


@strawberry.type
class PartnerMutation:
    @strawberry.mutation(
        description="Create or update a liaison contact by key. A partner region: its own region and the "
        "regions inside it; a county: its own county (and partner regions' liaisons); admins: any."
    )
    async def upsert_contact(self, info: Info, input: ContactInput) -> Contact:
        ctx = info.context
        service_ctx = await ctx.service_context()
        raw = {
            "key": input.key,
            "name": input.name,
            "regionCode": input.region_code,
            **{
                name: value
                for name, value in (
                    ("organisation", input.organisation),
                    ("role", input.role),
                    ("phone", input.phone),
                    ("liaisonGroup", input.liaison_group),
                )
                if value is not strawberry.UNSET
            },
        }
        async with ctx.db.write() as session:
            existing = (
                await session.execute(select(ContactModel).where(ContactModel.key == input.key))
            ).scalar_one_or_none()
            if existing is not None:
                # an update keeps the fields it does not name (and the sample flag, email)
                group = await session.get(LiaisonGroup, existing.group_id) if existing.group_id else None
                current = {
                    "organisation": existing.organisation,
                    "role": existing.role,
                    "phone": existing.phone,
                    "email": existing.email,
                    "liaisonGroup": group.name if group else None,
                    "sample": existing.is_sample,
                }
                raw = {**current, **raw}
            contact_id = (await upsert_contact(session, service_ctx, raw)).id
        await ctx.after_write()
        async with ctx.db.read() as session:
            found = (
                await session.execute(
                    select(ContactModel, LiaisonGroup.name)
                    .outerjoin(LiaisonGroup, ContactModel.group_id == LiaisonGroup.id)
                    .where(ContactModel.id == contact_id)
                )
            ).first()
        if found is None:
            raise NotFound(f"没有键为 {input.key} 的联络人")
        return contact_node(found[0], found[1])

    @strawberry.mutation(
        description="Register a webhook (partner regions for themselves; admins). Every later change you "
        "may see is POSTed to `url` with `X-Tongban-Signature: sha256=<HMAC-SHA256(secret, body)>` and "
        "`X-Tongban-Delivery`. `entities` limits the kinds (all you may see when omitted). Admins may "
        "register one for a partner region (`regionCode`): it receives what that region may see."
    )
    async def create_webhook(
        self,
        info: Info,
        url: str,
        secret: str,
        entities: list[str] | None = strawberry.UNSET,
        region_code: str | None = strawberry.UNSET,
    ) -> Webhook:
        entities, region_code = unset(entities, region_code)
        ctx = info.context
        service_ctx = await ctx.service_context()
        raw = {"url": url, "secret": secret, "entities": entities or [], "regionCode": region_code}
        async with ctx.db.write() as session:
            row = await create_webhook(session, service_ctx, raw, ctx.settings.webhook_allowed_hosts)
            node = webhook_node(row)
        return node

    @strawberry.mutation(
        description="Remove a webhook (its owner region or an admin); its pending deliveries go too."
    )
    async def delete_webhook(self, info: Info, id: strawberry.ID) -> bool:
        webhook_id = parse_id(id, "Webhook")
        ctx = info.context
        service_ctx = await ctx.service_context()
        async with ctx.db.write() as session:
            await delete_webhook(session, service_ctx, webhook_id)
        return True
