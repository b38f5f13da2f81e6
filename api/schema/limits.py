"""The extensions that bound what one request may cost, and the caches that make small queries cheap.

Limits: depth (nested selections), aliases (counted through fragments, so `a1: x … a50: x` hidden in
fragments still counts), and tokens (checked by the parser before any tree is built, so a 1 MB query
is refused in microseconds). All three answer QUERY_TOO_COMPLEX (see errors.py). Introspection
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
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule

from api.schema.errors import ErrorCodes
from api.settings import Settings

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 2000
CACHE_SIZE = 256

# The depth and alias rules are built once: `QueryDepthLimiter(...)`/`MaxAliasesLimiter(...)` make a
# new rule class per instance, which would give every request a new validation-cache key.
LIMIT_RULES = (depth_rule(MAX_DEPTH, None, None), alias_rule(MAX_ALIASES))


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
    loop is the only thread that runs validation."""

    def on_validate(self) -> Iterator[None]:
        from strawberry.schema.schema import validate_document

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
            errors = validate_document(schema, document, rules)
            cache[key] = (document, errors)
            while len(cache) > CACHE_SIZE:
                cache.popitem(last=False)
        context.pre_execution_errors = errors
        yield


def extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    factories: list[Callable[[], SchemaExtension]] = [
        ErrorCodes,
        lambda: AddValidationRules(list(LIMIT_RULES)),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=CACHE_SIZE),
        ValidationCache,
    ]
    if not settings.graphql_introspection:
        factories.append(DisableIntrospection)
    return factories
