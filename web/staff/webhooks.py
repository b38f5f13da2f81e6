"""Webhooks (partners' signed change notifications): who registered which URL, and what failed.

Partner regions register webhooks through the GraphQL API (`createWebhook`); this page lists them
with their delivery counts and latest failures, for the partner itself (its own) and the city's
admins (all), so a delivery that was given up after 24 hours is visible to people.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.enums import Role
from api.services.webhooks import webhook_statuses
from web.staff.common import page, state
from web.staff.session import Staff, staff_page


@staff_page(Role.ADMIN, Role.PARTNER)
async def webhooks_list(request: Request, staff: Staff) -> Response:
    async with state(request).db.read() as session:
        rows = await webhook_statuses(session, staff.actor)
    tree = staff.catalog.tree
    names = {
        r.webhook.region_code: tree.full_name(r.webhook.region_code)
        for r in rows
        if r.webhook.region_code in tree
    }
    enabled = bool(state(request).settings.webhook_allowed_hosts)
    return page(
        request,
        staff,
        "staff/webhooks.html",
        {"title": "变更推送 (Webhook)", "rows": rows, "region_names": names, "enabled": enabled},
        nav="webhooks",
    )
