"""Every GraphQL error leaves with a stable `extensions.code`; unexpected ones are masked and logged.

Why one extension and not try/except in resolvers: a resolver raises the service layer's coded
`ServiceError` (or lets a bug escape); this is the single place that turns them into what a partner
region's program can branch on:

- `ServiceError` → its code (BAD_INPUT, UNKNOWN_REGION, NOT_FOUND, FORBIDDEN, UNAUTHENTICATED,
  CONFLICT, UNAVAILABLE) and its message, with the bad fields listed in `extensions.fields`;
- the depth, alias and token limits → QUERY_TOO_COMPLEX;
- a badly typed argument or variable (a date that is not a date) → BAD_INPUT;
- other parse and validation errors keep their readable message (GRAPHQL_PARSE_FAILED,
  GRAPHQL_VALIDATION_FAILED);
- anything else is a bug: the client sees "Internal server error" (INTERNAL) and the log gets the
  full traceback (`TongbanSchema.process_errors` runs before this extension rewrites anything).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import SchemaExtension

from api import rules
from api.db import database_unavailable
from api.services.base import Conflict, ServiceError, _jsonable

log = logging.getLogger("tongban.graphql")

INTERNAL_MESSAGE = "Internal server error"

_TOO_COMPLEX = (
    re.compile(r"exceeds maximum operation depth of \d+"),
    re.compile(r"^\d+ aliases found\. Allowed: \d+"),
    re.compile(r"Document contains more than \d+ tokens"),
)
_BAD_VALUE = (
    re.compile(r"^Variable '\$[^']+' got invalid value"),
    re.compile(r"^Variable '\$[^']+' has invalid value"),  # graphql-core 3.3's wording of the line above
    re.compile(r"^Variable '\$[^']+' of required type .* was not provided"),
    re.compile(r"^Variable '\$[^']+' of non-null type .* must not be null"),
    re.compile(r"^Expected value of type "),
    re.compile(r"cannot represent", re.IGNORECASE),
    re.compile(r"^Field '[^']+' argument '[^']+' of type '[^']+' is required"),
    re.compile(r"^Argument '[^']+' of type '[^']+' is required, but it was not provided"),
    re.compile(r"^Argument '[^']+' of (required|non-null) type"),
    re.compile(r"^Field '[^']+' of required type '[^']+' was not provided"),
)


class Unavailable(ServiceError):
    """A dependency (the search index) is not there; try again later."""

    code = "UNAVAILABLE"


def _is_expected(original: BaseException | None) -> bool:
    return original is None or isinstance(
        original, ServiceError | rules.UnknownRegion | GraphQLError | StrawberryInputCoercionError
    )


def classify(error: GraphQLError) -> str:
    """The `extensions.code` for one error (see the module docstring)."""
    original = error.original_error
    if isinstance(original, ServiceError):
        return original.code
    if isinstance(original, rules.UnknownRegion):
        return "UNKNOWN_REGION"
    if original is not None and database_unavailable(original):
        return "UNAVAILABLE"  # the database cannot be reached now: retry later, not a bug
    existing = (error.extensions or {}).get("code")
    if isinstance(existing, str):
        return existing
    if error.path is not None or not _is_expected(original):
        # A failure while executing that no service raised on purpose (a bug, or graphql-core's
        # "null in a non-null field"): the client learns nothing of the internals.
        return "INTERNAL"
    message = error.message
    if any(pattern.search(message) for pattern in _TOO_COMPLEX):
        return "QUERY_TOO_COMPLEX"
    if isinstance(original, StrawberryInputCoercionError) or any(p.search(message) for p in _BAD_VALUE):
        return "BAD_INPUT"
    if isinstance(error, GraphQLSyntaxError) or isinstance(original, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    return "GRAPHQL_VALIDATION_FAILED"


def with_code(error: GraphQLError) -> GraphQLError:
    """The error as the client sees it: coded, and masked when unexpected."""
    code = classify(error)
    extensions: dict[str, Any] = {**(error.extensions or {}), "code": code}
    original = error.original_error
    message = error.message
    if code == "INTERNAL":
        message = INTERNAL_MESSAGE
        extensions = {"code": code}
    elif code == "UNAVAILABLE" and not isinstance(original, ServiceError):
        message = "数据库暂时无法连接, 请稍后再试 (database temporarily unavailable)"
        extensions = {"code": code}
    elif isinstance(original, ServiceError):
        message = original.message
        if original.fields:
            message += ": " + "; ".join(f"{f.field} {f.message}" for f in original.fields)
            extensions["fields"] = [{"field": f.field, "message": f.message} for f in original.fields]
        if isinstance(original, Conflict) and original.current is not None:
            extensions["current"] = _jsonable(original.current)
    elif isinstance(original, rules.UnknownRegion):
        message = f"未知行政区划代码 {original.code}"
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


def ensure_codes(errors: list[GraphQLError]) -> list[GraphQLError]:
    """For errors that bypassed `ErrorCodes` (a parse failure raised inside the parser-cache hook
    ends the operation before the extension sees the result): code them now."""
    return [e if isinstance((e.extensions or {}).get("code"), str) else with_code(e) for e in errors]


class ErrorCodes(SchemaExtension):
    """Adds `extensions.code` to every error and masks unexpected ones (after they were logged)."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [with_code(error) for error in errors]


class TongbanSchema(strawberry.Schema):
    """`process_errors` logs a bug in full (with its traceback) and a client's mistake briefly."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        for error in errors:
            original = error.original_error
            if _is_expected(original) and classify(error) != "INTERNAL":
                log.info("GraphQL request error [%s]: %s", classify(error), error.message)
                continue
            if original is not None and database_unavailable(original):
                log.warning("GraphQL request failed: database unavailable (%s)", type(original).__name__)
                continue
            if original is not None:
                log.error(
                    "GraphQL resolver failed at %s: %s",
                    error.path,
                    error.message,
                    exc_info=(type(original), original, original.__traceback__),
                )
            else:
                log.error("GraphQL execution error at %s: %s", error.path, error.message)
