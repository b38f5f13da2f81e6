"""One-time tokens of the public feedback form: a token files one form, then it is spent.

The token (web.csrf) is a signature over the browser's cookie value and a random nonce; spending
records the nonce in `used_form_tokens` in the same transaction as the feedback it filed, so a
replayed token (a script re-posting one captured form, or the browser's back button and submit)
files nothing more, across workers and instances. A failed submission (a field error) spends
nothing, and the page it re-renders carries a fresh token, so the no-JavaScript form still works.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import UsedFormToken
from api.services.base import now

KEEP = dt.timedelta(days=8)
"""Longer than a token lives (web.csrf.MAX_AGE_SECONDS, 7 days): an older token is refused anyway."""


async def spend(session: AsyncSession, nonce: str) -> bool:
    """Mark the nonce used; False when it had been used already (nothing is written then)."""
    if (
        await session.execute(select(UsedFormToken.nonce).where(UsedFormToken.nonce == nonce))
    ).first() is not None:
        return False
    at = now()
    await session.execute(delete(UsedFormToken).where(UsedFormToken.used_at < at - KEEP))
    session.add(UsedFormToken(nonce=nonce, used_at=at))
    await session.flush()  # a concurrent spender of the same nonce fails here (primary key) or at commit
    return True
