"""The extensions that bound what one request may cost, and the caches that make small queries cheap.

Limits: tokens (checked by the parser before any tree is built, so a 1 MB query is refused in
microseconds), then the expanded size, depth (nested selections) and aliases (counted through
fragments, so `a1: x … a50: x` hidden in fragments still counts), all three measured in one linear
pass with memoised per-fragment figures before any other validation rule runs (`complexity.py`,
which also bounds graphql-core's field-merging rule). All answer QUERY_TOO_COMPLEX (see errors.py). Introspection
stays on for partner regions unless `settings.graphql_introspection` is false.

Extensions are given as factories: strawberry builds a fresh instance per request, so no state leaks
between concurrent requests. The parser cache is a shared LRU cache at module level, the validation
cache (`ValidationCache` here) one per schema.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any
from weakref import WeakKeyDictionary

from strawberry.extensions import (
    DisableIntrospection,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
)

from api.schema import complexity
from api.schema.complexity import MAX_ALIASES, MAX_DEPTH, MAX_SELECTIONS
from api.schema.errors import ErrorCodes
from api.settings import Settings

__all__ = ["CACHE_SIZE", "MAX_ALIASES", "MAX_DEPTH", "MAX_SELECTIONS", "MAX_TOKENS", "extensions"]

MAX_TOKENS = 2000
CACHE_SIZE = 256


#: per schema: (id of the document, the rules) -> (the document, its validation errors)
_VALIDATED: WeakKeyDictionary[Any, OrderedDict[tuple[int, tuple[Any, ...]], tuple[Any, list[Any]]]] = (
    WeakKeyDictionary()
)


class ValidationCache(SchemaExtension):
    """strawberry's `ValidationCache`, keyed by the parsed document's identity instead of its hash.

    The parser cache hands every request with the same query text the same document object; its hash
    (graphql-core's AST nodes are dataclasses) walks the whole tree each time, 4% of a `coverage`
    request under load. The cached entry holds its document, so the id cannot be reused while the
    entry lives. One cache per schema (dropped with it), bounded like the parser cache; the event
    loop is the only thread that runs validation. The expanded-size, depth and alias limits run
    first (`complexity.validate`), so no rule ever walks a document past them."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        schema, document, rules = context.schema._schema, context.graphql_document, context.validation_rules  # noqa: SLF001 - strawberry's graphql-core schema; docs/UPGRADING.md
        cache = _VALIDATED.get(schema)
        if cache is None:
            cache = _VALIDATED[schema] = OrderedDict()
        key = (id(document), tuple(rules))
        found = cache.get(key)
        if found is not None and found[0] is document:
            cache.move_to_end(key)
            errors = found[1]
        else:
            errors = complexity.validate(schema, document, rules)
            cache[key] = (document, errors)
            while len(cache) > CACHE_SIZE:
                cache.popitem(last=False)
        context.pre_execution_errors = errors
        yield


def extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    factories: list[Callable[[], SchemaExtension]] = [
        ErrorCodes,
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=CACHE_SIZE),
        ValidationCache,
    ]
    if not settings.graphql_introspection:
        factories.append(DisableIntrospection)
    return factories
