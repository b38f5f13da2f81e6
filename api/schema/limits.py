"""The extensions that bound what one request may cost, and the caches that make small queries cheap.

Limits: depth (nested selections), aliases (counted through fragments, so `a1: x … a50: x` hidden in
fragments still counts), and tokens (checked by the parser before any tree is built, so a 1 MB query
is refused in microseconds). All three answer QUERY_TOO_COMPLEX (see errors.py). Introspection
stays on for partner regions unless `settings.graphql_introspection` is false.

Extensions are given as factories: strawberry builds a fresh instance per request, so no state leaks
between concurrent requests. The parser and validation caches are shared LRU caches at module level.
"""

from __future__ import annotations

from collections.abc import Callable

from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
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


def extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    factories: list[Callable[[], SchemaExtension]] = [
        ErrorCodes,
        lambda: AddValidationRules(list(LIMIT_RULES)),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=CACHE_SIZE),
        lambda: ValidationCache(maxsize=CACHE_SIZE),
    ]
    if not settings.graphql_introspection:
        factories.append(DisableIntrospection)
    return factories
