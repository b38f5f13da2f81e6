"""Guards for behaviour of third-party libraries that tongban relies on without a documented API.

Each test here pins one assumption listed in docs/UPGRADING.md, so that upgrading the library
(graphql-core, strawberry, Whoosh, WTForms) fails here, with the reason, instead of changing what a partner
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


# web/staff/session.py: StaffCSRF repeats WTForms' SessionCSRF check (token "<expires>##<hmac>",
# expiry against `now()`), only comparing in constant time. WTForms still makes the tokens, so the
# two must agree on every kind of token; a change in WTForms' format or expiry shows here first.
@pytest.mark.parametrize("kind", ["valid", "missing", "no separator", "forged", "other session", "expired"])
def test_staff_csrf_accepts_and_refuses_exactly_what_wtforms_does(kind: str) -> None:
    import datetime as dt

    from wtforms import Form
    from wtforms.csrf.session import SessionCSRF

    from web.staff.session import CSRF_TIME_LIMIT, StaffCSRF

    made_at = dt.datetime(2026, 1, 1, 9, 0)
    checked_at = made_at + (
        CSRF_TIME_LIMIT + dt.timedelta(minutes=1) if kind == "expired" else dt.timedelta(0)
    )

    def verdict(csrf_class: type[SessionCSRF]) -> str | None:
        class Clock(csrf_class):
            moment = made_at

            def now(self) -> dt.datetime:
                return self.moment

        class Meta:
            csrf = True
            csrf_class = Clock
            csrf_secret = b"a key for the test"
            csrf_time_limit = CSRF_TIME_LIMIT

        def form(session: dict[str, str], token: str | None = None) -> Any:
            data = None if token is None else _FormData(csrf_token=token)
            return type("TokenForm", (Form,), {"Meta": Meta})(formdata=data, meta={"csrf_context": session})

        session = {"csrf": "0123456789abcdef"}
        token = form(session).csrf_token.current_token
        token = {
            "missing": "",
            "no separator": token.replace("##", ""),
            "forged": token.split("##")[0] + "##" + "0" * 40,
        }.get(kind, token)
        if kind == "other session":
            session = {"csrf": "fedcba9876543210"}
        Clock.moment = checked_at
        posted = form(session, token)
        posted.validate()
        return next(iter(posted.csrf_token.errors), None)

    wtforms_says, staff_says = verdict(SessionCSRF), verdict(StaffCSRF)
    assert staff_says == wtforms_says
    assert (staff_says is None) == (kind == "valid")


class _FormData(dict[str, str]):
    """The smallest multidict WTForms reads (`getlist`)."""

    def getlist(self, key: str) -> list[str]:
        return [self[key]] if key in self else []
