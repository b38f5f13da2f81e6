"""The staff search-synonym dictionary: groups of words citizens use for the same thing
(社保卡 = 社会保障卡). Parse, permit (the city's admins), write, audit, queue.

Why an outbox row with entity "synonym": the synonyms are part of the search analyzer, so a change
cannot be applied to single documents; every instance's index follower sees the row and rebuilds
its index (api.services.indexing.SearchService.catch_up).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import SearchSynonym
from api.services.base import BadInput, FieldError, NotFound, ServiceContext, audit, queue
from api.services.permissions import require_admin

MAX_TERMS = 20
MAX_TERM_LEN = 40
_SPLIT = re.compile(r"[,，、;；\s]+")


def parse_terms(raw: Any) -> tuple[list[str], list[FieldError]]:
    """A list of terms, or one text with terms separated by commas, 、 or spaces."""
    if isinstance(raw, str):
        items = _SPLIT.split(raw)
    elif isinstance(raw, list | tuple):
        items = [str(item) for item in raw]
    else:
        items = []
    terms: list[str] = []
    errors: list[FieldError] = []
    for item in items:
        term = item.strip()
        if not term:
            continue
        if len(term) > MAX_TERM_LEN:
            errors.append(FieldError("terms", f"“{term[:20]}…”过长(每个词最多{MAX_TERM_LEN}字)"))
            continue
        if any(ord(c) < 32 for c in term) or any(c in term for c in "*?~^:\"'()[]{}"):
            errors.append(FieldError("terms", f"“{term}”含有不允许的符号"))
            continue
        if term not in terms:
            terms.append(term)
    if len(terms) < 2 and not errors:
        errors.append(FieldError("terms", "同义词组至少需要两个不同的词, 用逗号或顿号分隔"))
    if len(terms) > MAX_TERMS:
        errors.append(FieldError("terms", f"一组最多{MAX_TERMS}个词"))
    return terms, errors


async def list_synonyms(session: AsyncSession) -> list[SearchSynonym]:
    return list((await session.execute(select(SearchSynonym).order_by(SearchSynonym.id))).scalars())


async def save_synonym(
    session: AsyncSession, ctx: ServiceContext, raw: Any, *, synonym_id: int | None = None
) -> SearchSynonym:
    """Add a group, or replace the terms of an existing one."""
    terms, errors = parse_terms(raw)
    if errors:
        raise BadInput("同义词组有误", errors)
    require_admin(ctx, "搜索同义词词典")
    row: SearchSynonym | None
    before: dict[str, list[str]] | None
    if synonym_id is None:
        row = SearchSynonym(terms=terms)
        session.add(row)
        before = None
    else:
        row = await session.get(SearchSynonym, synonym_id)
        if row is None:
            raise NotFound(f"没有编号为 {synonym_id} 的同义词组")
        before = {"terms": list(row.terms or [])}
        if before["terms"] == terms:
            return row
        row.terms = terms
    await session.flush()
    await audit(
        session,
        ctx.actor,
        "synonym",
        str(row.id),
        "create" if before is None else "update",
        before,
        {"terms": terms},
    )
    queue(session, "synonym", str(row.id))
    return row


async def delete_synonym(session: AsyncSession, ctx: ServiceContext, synonym_id: int) -> None:
    require_admin(ctx, "搜索同义词词典")
    row = await session.get(SearchSynonym, synonym_id)
    if row is None:
        raise NotFound(f"没有编号为 {synonym_id} 的同义词组")
    before = {"terms": list(row.terms or [])}
    await session.delete(row)
    await audit(session, ctx.actor, "synonym", str(synonym_id), "delete", before, None)
    queue(session, "synonym", str(synonym_id), "delete")
