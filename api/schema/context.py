"""The per-request GraphQL context: the app's shared state, this request's loaders, its catalog
snapshot and (for mutations) the authenticated actor."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import strawberry

from api.schema.loaders import Loaders
from api.services.base import Actor, ServiceContext, Unauthenticated, today
from api.services.catalog import Catalog

if TYPE_CHECKING:
    from api.state import AppState


def bearer_token(headers: Any) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), else None."""
    value = headers.get("authorization") if headers is not None else None
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


@dataclass
class GraphQLContext:
    """One request's view of the world. `today` is fixed at the start (Asia/Shanghai) so every field
    of one answer agrees on the date."""

    state: AppState
    request: Any = None
    response: Any = None
    today: dt.date = field(default_factory=today)
    _loaders: Loaders | None = field(default=None, init=False)
    _catalog: Catalog | None = field(default=None, init=False)
    _catalog_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    _actor: Actor | None = field(default=None, init=False)

    @property
    def loaders(self) -> Loaders:
        """This request's DataLoaders, made on first use (answers from the snapshot need none)."""
        if self._loaders is None:
            self._loaders = Loaders(self.state.db)
        return self._loaders

    @property
    def db(self) -> Any:
        return self.state.db

    @property
    def settings(self) -> Any:
        return self.state.settings

    async def catalog(self) -> Catalog:
        """This request's snapshot: fetched once (one mark query), shared by every resolver."""
        if self._catalog is None:
            async with self._catalog_lock:
                if self._catalog is None:
                    self._catalog = await self.state.catalog.get()
        return self._catalog

    async def after_write(self) -> Catalog:
        """After a mutation: fresh loaders and a fresh snapshot, so the answer shows the change."""
        if self._loaders is not None:
            self._loaders.reset()
        self.state.catalog.invalidate()
        self._catalog = await self.state.catalog.get()
        return self._catalog

    async def actor(self) -> Actor:
        """The staff member behind the bearer token; UNAUTHENTICATED without a valid one."""
        if self._actor is not None:
            return self._actor
        from api.services.users import actor_for_token

        token = bearer_token(getattr(self.request, "headers", None))
        if token is None:
            raise Unauthenticated("需要 API 令牌: 请在请求头中提供 Authorization: Bearer <token>")
        async with self.db.write() as session:
            actor = await actor_for_token(session, token, via="graphql")
        if actor is None:
            raise Unauthenticated("API 令牌无效、已吊销或账号已停用")
        self._actor = actor
        return actor

    async def service_context(self) -> ServiceContext:
        actor = await self.actor()
        catalog = await self.catalog()
        return catalog.service_context(actor, self.today)


Info = strawberry.Info[GraphQLContext, None]
