"""What the process shares between requests, typed: `AppState`, reached by every handler through
`state_of(request)` (`request.app.state.tongban`).

A leaf module (its imports are for type checking only), so that any adapter (GraphQL, the public
site, the staff area) can import it without importing the application that builds it (`api.app`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.templating import Jinja2Templates

    from api.db import Database
    from api.services.catalog import CatalogCache
    from api.services.indexing import SearchService
    from api.services.webhooks import WebhookWorker
    from api.settings import Settings


@dataclass
class AppState:
    """Opened by `api.app.create_app`'s lifespan, in the event loop that serves requests."""

    settings: Settings
    db: Database
    catalog: CatalogCache
    search: SearchService | None  # always opened by the lifespan; handlers still answer without it
    webhooks: WebhookWorker
    templates: Jinja2Templates | None = None  # published by web.templating.attach on first use


def state_of(request: Request) -> AppState:
    return request.app.state.tongban  # type: ignore[no-any-return]
