"""Guards for behaviour of third-party libraries that tongban relies on without a documented API.

Each test here pins one assumption listed in docs/UPGRADING.md, so that upgrading the library
(graphql-core, strawberry, Whoosh) fails here, with the reason, instead of changing what a partner
region's program sees. No database, no server.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest
import strawberry

from api.schema.errors import ErrorCodes, TongbanSchema


@strawberry.input
class Box:
    size: int


@strawberry.type
class Query:
    @strawberry.field
    def echo(self, number: int, box: Box | None = None) -> int:
        return number


_SCHEMA = TongbanSchema(query=Query, extensions=[ErrorCodes])


# api/schema/errors.py classifies graphql-core's and strawberry's messages by regular expression:
# every way a client can send a badly typed argument or variable must still come out as BAD_INPUT
# (CONTRACT §4: "a bad argument never answers 500"), a bad document as a validation error.
@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ('{ echo(number: "x") }', None, "BAD_INPUT"),  # Int cannot represent …
        ("{ echo }", None, "BAD_INPUT"),  # Argument '…' of type 'Int!' is required, but it was not provided
        ("{ echo(number: 1, box: {}) }", None, "BAD_INPUT"),  # Expected value of type 'Box' to include …
        ("query($n: Int!) { echo(number: $n) }", {"n": "x"}, "BAD_INPUT"),
        ("query($n: Int!) { echo(number: $n) }", {"n": 2**40}, "BAD_INPUT"),  # not a 32-bit Int
        ("query($n: Int!) { echo(number: $n) }", {}, "BAD_INPUT"),  # required variable missing
        ("query($n: Int!) { echo(number: $n) }", {"n": None}, "BAD_INPUT"),  # null for a non-null variable
        ("query($b: Box) { echo(number: 1, box: $b) }", {"b": {}}, "BAD_INPUT"),  # input field missing
        ("query($b: Box) { echo(number: 1, box: $b) }", {"b": {"size": 1, "x": 2}}, "BAD_INPUT"),
        ("{ nothing }", None, "GRAPHQL_VALIDATION_FAILED"),
        ("query($n: Int) { echo(number: $n) }", {}, "GRAPHQL_VALIDATION_FAILED"),  # Int where Int! is needed
        ("{ echo(number: 1", None, "GRAPHQL_PARSE_FAILED"),
    ],
)
def test_library_error_messages_still_get_their_code(
    query: str, variables: dict[str, Any] | None, code: str
) -> None:
    result = _SCHEMA.execute_sync(query, variable_values=variables)
    assert result.errors, result
    got = [(error.extensions or {}).get("code") for error in result.errors]
    assert got == [code] * len(got), [error.message for error in result.errors]


def test_the_index_schema_pickles_term_list_by_its_importable_name() -> None:
    """Whoosh pickles the schema into every index's table of contents: an index on disk names
    `search_index.schema.TermList`, so renaming or moving that class makes existing indexes
    unreadable (rebuild them with `tongban reindex`)."""
    from search_index.schema import TermList, build_schema

    data = pickle.dumps(build_schema())
    assert b"search_index.schema" in data and b"TermList" in data
    restored = pickle.loads(data)
    assert any(type(field) is TermList for _, field in restored.items())
