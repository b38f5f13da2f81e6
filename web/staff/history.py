"""Every record's change log, filtered by what the account may see."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from api.models import Agreement, ChangeLog
from api.services.base import Forbidden
from api.services.permissions import PERSONAL_ENTITIES, may_see_session_history, visible_change_log_filter
from api.words import ENTITY_LABELS
from web.staff.common import int_or_none, page, state
from web.staff.diff import record_diff
from web.staff.session import LOCAL_ROLES, Staff, staff_page


def _record_link(entity: str, key: str) -> str | None:
    if entity == "matter":
        return f"/staff/matters/{key}"
    if entity == "partner":
        return f"/staff/partners/{key}"
    return None


@staff_page(*LOCAL_ROLES)
async def history(request: Request, staff: Staff) -> Response:
    entity = request.path_params.get("entity")
    key = request.path_params.get("key")
    if entity in PERSONAL_ENTITIES and not may_see_session_history(staff.actor, key or ""):
        raise Forbidden("登录、账号和令牌记录只有市级管理员和账号本人可以查看")
    async with state(request).db.read() as session:
        query = select(ChangeLog).where(visible_change_log_filter(staff.ctx())).order_by(ChangeLog.id.desc())
        if entity:
            query = query.where(ChangeLog.entity == entity, ChangeLog.entity_key == key)
        else:
            query = query.where(ChangeLog.entity.not_in(PERSONAL_ENTITIES), ChangeLog.via != "init").limit(
                100
            )
        entries = list((await session.execute(query)).scalars())
        link = _record_link(entity or "", key or "")
        if entity == "agreement" and key:
            found = (
                await session.execute(
                    select(Agreement.id).where(
                        (Agreement.key == key) | (Agreement.id == (int_or_none(key) or -1))
                    )
                )
            ).first()
            link = f"/staff/agreements/{found[0]}" if found else None
    tree = staff.catalog.tree
    items = [{"entry": e, "changes": record_diff(e.before, e.after, tree, e.entity)} for e in entries]
    return page(
        request,
        staff,
        "staff/history.html",
        {
            "title": "修改记录" + (f": {ENTITY_LABELS.get(entity, entity)} {key}" if entity else ""),
            "items": items,
            "entity": entity,
            "key": key,
            "entity_labels": ENTITY_LABELS,
            "record_link": link,
        },
        nav="history",
    )
