"""Relay-style pagination done by the database: keyset on a unique sort key, opaque cursors.

Why keyset and not offset: the page after a cursor is `WHERE key > :cursor ORDER BY key LIMIT n+1`,
an index range scan whatever the page number, and a row inserted before the cursor never shifts
the next page. The cursor is base64 of a small JSON list holding the sort key, so clients treat it as
opaque and we can change it later (the "v" tag) without breaking stored cursors silently.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import strawberry

from api.services.base import BadInput

DEFAULT_PAGE = 20
MAX_PAGE = 100
CURSOR_VERSION = 1


def page_size(first: int | None, default: int = DEFAULT_PAGE) -> int:
    """`first` checked against the cap: negative or over 100 is a BAD_INPUT, never a silent clamp."""
    if first is None:
        return default
    if first < 0:
        raise BadInput(f"first 不能为负数 (收到 {first})")
    if first > MAX_PAGE:
        raise BadInput(f"first 最多为 {MAX_PAGE} (收到 {first})")
    return first


def encode_cursor(kind: str, key: Sequence[Any]) -> str:
    raw = json.dumps([CURSOR_VERSION, kind, *key], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii")


def decode_cursor(kind: str, cursor: str | None, types: Sequence[type]) -> tuple[Any, ...] | None:
    """The sort key inside a cursor made by `encode_cursor(kind, …)`; anything else is BAD_INPUT."""
    if cursor is None:
        return None
    try:
        if len(cursor) > 500:
            raise ValueError("too long")
        data = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")).decode("utf-8"))
        if not isinstance(data, list) or data[:2] != [CURSOR_VERSION, kind] or len(data) != 2 + len(types):
            raise ValueError("not ours")
        values = data[2:]
        for value, expected in zip(values, types, strict=True):
            if not isinstance(value, expected) or isinstance(value, bool):
                raise ValueError("wrong type")
        return tuple(values)
    except (ValueError, UnicodeError, binascii.Error, TypeError) as exc:
        raise BadInput(f"无效的分页游标 after: {cursor[:60]!r}") from exc


@strawberry.type(description="Where a page ends, Relay style.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool = strawberry.field(
        description="True when the page was asked for `after` a cursor (forward pagination only)."
    )
    start_cursor: str | None
    end_cursor: str | None


def page_info(cursors: Sequence[str], has_next: bool, after: str | None) -> PageInfo:
    return PageInfo(
        has_next_page=has_next,
        has_previous_page=after is not None,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )


Counter = Callable[[], Awaitable[int]]
