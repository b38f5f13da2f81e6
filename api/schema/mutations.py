"""Staff mutations of CONTRACT.md §4: bearer token → actor → the one service function per change.

Each mutation authenticates first (UNAUTHENTICATED before anything else is looked at), then runs the
same service the staff forms and the CLI import run, inside one write transaction: its checks,
permission (FORBIDDEN), optimistic version (CONFLICT), audit entry and outbox row all happen there,
and any error rolls the whole transaction back. The answer is re-read after the commit, through
fresh loaders and a fresh catalog snapshot, so it shows what is now stored.
"""

from __future__ import annotations

import strawberry

from api.schema.context import Info
from api.schema.inputs import AgreementInput, HallInput, MatterInput, as_import_dict
from api.schema.queries import TierThresholds, parse_id, unset
from api.schema.types import Agreement, Hall, Matter, Region, region_of
from api.services.agreements import create_agreement, update_agreement
from api.services.base import NotFound
from api.services.halls import upsert_hall
from api.services.matters import upsert_matter
from api.services.partners import set_partner_indices, set_tier_thresholds


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Register an agreement. A county account may only register its own county's."
    )
    async def create_agreement(self, info: Info, input: AgreementInput) -> Agreement:
        ctx = info.context
        service_ctx = await ctx.service_context()
        async with ctx.db.write() as session:
            agreement_id = (await create_agreement(session, service_ctx, as_import_dict(input))).id
        return await _agreement(info, agreement_id)

    @strawberry.mutation(
        description="Change an agreement; a stale `version` fails with CONFLICT and changes nothing."
    )
    async def update_agreement(
        self, info: Info, id: strawberry.ID, version: int, input: AgreementInput
    ) -> Agreement:
        agreement_id = parse_id(id, "协议")
        ctx = info.context
        service_ctx = await ctx.service_context()
        async with ctx.db.write() as session:
            await update_agreement(session, service_ctx, agreement_id, version, as_import_dict(input))
        return await _agreement(info, agreement_id)

    @strawberry.mutation(
        description="Create or update a matter by code (admins only); a changed guide is a new version. "
        "With `version`, a stale save fails with CONFLICT and changes nothing."
    )
    async def upsert_matter(
        self, info: Info, input: MatterInput, version: int | None = strawberry.UNSET
    ) -> Matter:
        (version,) = unset(version)
        ctx = info.context
        service_ctx = await ctx.service_context()
        async with ctx.db.write() as session:
            code = (await upsert_matter(session, service_ctx, as_import_dict(input), version=version)).code
        await ctx.after_write()
        row = await ctx.loaders.matter_by_code.load(code)
        if row is None:
            raise NotFound(f"没有编码为 {code} 的事项")
        return Matter(row=row)

    @strawberry.mutation(
        description="Create or update a hall: by `id` (with `version`, CONFLICT when stale) or by `input.key`."
    )
    async def upsert_hall(
        self,
        info: Info,
        input: HallInput,
        id: strawberry.ID | None = strawberry.UNSET,
        version: int | None = strawberry.UNSET,
    ) -> Hall:
        id, version = unset(id, version)
        hall_id = parse_id(id, "服务大厅") if id is not None else None
        ctx = info.context
        service_ctx = await ctx.service_context()
        async with ctx.db.write() as session:
            saved_id = (
                await upsert_hall(
                    session, service_ctx, as_import_dict(input), hall_id=hall_id, version=version
                )
            ).id
        catalog = await ctx.after_write()
        row = await ctx.loaders.hall_by_id.load(saved_id)
        if row is None:
            raise NotFound(f"没有编号为 {saved_id} 的服务大厅")
        return Hall(row=row, catalog=catalog)

    @strawberry.mutation(description="Set a partner region's two indices (0–100; null clears). Admins only.")
    async def set_partner_indices(
        self,
        info: Info,
        region_code: str,
        population_index: float | None = strawberry.UNSET,
        cooperation_index: float | None = strawberry.UNSET,
    ) -> Region:
        population_index, cooperation_index = unset(population_index, cooperation_index)
        ctx = info.context
        service_ctx = await ctx.service_context()
        async with ctx.db.write() as session:
            await set_partner_indices(session, service_ctx, region_code, population_index, cooperation_index)
        catalog = await ctx.after_write()
        return region_of(catalog, region_code)

    @strawberry.mutation(
        description="Set the thresholds of the four-colour grading (0–100 each). Admins only."
    )
    async def set_tier_thresholds(self, info: Info, population: float, cooperation: float) -> TierThresholds:
        ctx = info.context
        service_ctx = await ctx.service_context()
        async with ctx.db.write() as session:
            await set_tier_thresholds(session, service_ctx, population, cooperation)
        catalog = await ctx.after_write()
        population_threshold, cooperation_threshold = catalog.thresholds
        return TierThresholds(population=population_threshold, cooperation=cooperation_threshold)


async def _agreement(info: Info, agreement_id: int) -> Agreement:
    ctx = info.context
    catalog = await ctx.after_write()
    row = await ctx.loaders.agreement_by_id.load(agreement_id)
    if row is None:
        raise NotFound(f"没有编号为 {agreement_id} 的协议")
    return Agreement(row=row, catalog=catalog)
