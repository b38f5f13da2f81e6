"""Schemathesis against the GraphQL schema, in-process: whatever a partner sends, no 5xx, and every
error leaves with a stable `extensions.code` — none of them a masked bug (`INTERNAL`).

The operations come from the committed SDL (`schema.graphql`): one schemathesis sub-test per root
field (12 queries, 6 mutations), 30 examples each, positive and negative (schema-violating) cases,
derandomized so a failure reproduces. Mutations carry an admin's bearer token, so generated inputs
get past authentication into the parsers, where the interesting failures would be.

Random text alone rarely names a real region or matter, and would only ever test the "unknown
code" branch; so `String` and `ID` mix real codes from the demo data with hostile text (markup,
SQL, LIKE wildcards, NUL, a lone surrogate, right-to-left marks, 5,000 characters) and plain
random text, and `Date` mixes real dates with impossible and non-dates.

The app runs with its lifespan (schemathesis' ASGI transport starts it, the fixture shuts it down)
on its own copy of the demo database, with the per-address rate limit off (a fuzzer is one address
sending hundreds of requests, which the limit would rightly refuse).

Schemathesis writes every value into the query text, and the GraphQL lexer refuses some of them
(a lone surrogate is a parse error), so those never reach a resolver. A second, plain-hypothesis
property therefore sends the same hostile values as *variables*, which go straight to resolvers
and services, for every root field with a text argument; and hostile JSON structure (nesting
deeper than the decoder's recursion limit) must be a 400, not a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes
from schemathesis.python import asgi

from tests.conftest import TemplateStore, make_token, run_blocking

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_PER_FIELD = 30
# The SDL file names no endpoint: every case is sent here, in-process.
ENDPOINT = "http://testserver/graphql"

REAL_CODES = [
    "511302",
    "511300",
    "510000",
    "331000",
    "331004",
    "331081",
    "331081001",
    "110105",
    "520500",
    "650000",
    "M-001",
    "M-002",
    "M-007",
    "M-008",
    "S-001",
    "luqiao-centre",
    "taizhou-city-centre",
    "yangpu-taizhou-2020-10",
    "社保卡",
    "nanchong",
    "户口迁移",
]
HOSTILE_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff x",
    "\u202e123",
    "\t\n",
    "%",
    "_",
    "%_%",
    "\\",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "hx-get=/staff",
    "'; DROP TABLE region; --",
    "社" * 5000,
    "9" * 400,
    "-1",
    "0",
    "1e308",
    "NaN",
    "null",
    "__typename",
    "$var",
    "{}",
    "[]",
]
TEXT = st.one_of(st.sampled_from(REAL_CODES), st.sampled_from(HOSTILE_TEXT), st.text(max_size=40))
IDS = st.one_of(
    st.integers(min_value=-2, max_value=40).map(str),
    st.sampled_from(["0", "-1", "99999999999999999999999999", "1.5", "abc", "", "\x00", "1e3", " 1"]),
    TEXT,
)
DATES = st.one_of(
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)).map(lambda d: d.isoformat()),
    st.sampled_from(
        ["2024-02-30", "0000-00-00", "9999-12-31", "2024-13-01", "", "yesterday", "2024-01-01T00:00"]
    ),
    st.text(max_size=20),
)

schemathesis.graphql.scalar("String", TEXT.map(nodes.String))
schemathesis.graphql.scalar("ID", IDS.map(nodes.String))
schemathesis.graphql.scalar("Date", DATES.map(nodes.String))
schemathesis.graphql.scalar("DateTime", st.datetimes().map(lambda d: d.isoformat()).map(nodes.String))

SCHEMA = schemathesis.graphql.from_path(ROOT / "schema.graphql")

OUTCOMES: Counter[str] = Counter()
OPERATIONS: Counter[str] = Counter()


def stop_following(app: Any) -> None:
    """Cancel the app's outbox-following task (it runs on the transport's event-loop thread).

    Why: Hypothesis reseeds the global `random` for every example, and Whoosh names new index
    segments with the global `random`; an index commit from the app's thread during a run would reuse
    a segment name and fail (and Hypothesis warns about the foreign `random` use). The fuzzer tests
    GraphQL, not indexing, so the index stays as it was at start-up.
    """
    search = app.state.tongban.search
    task = search._task
    if task is None:
        return

    async def cancel() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run_coroutine_threadsafe(cancel(), task.get_loop()).result(timeout=30)
    search._task = None


@pytest.fixture(scope="module")
def fuzz_app(template_store: TemplateStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One app over one demo-database copy for the whole module. Entering schemathesis' ASGI client
    starts the app's lifespan once (registered for this app object, so `case.call(app=...)` shares
    it); the fixture shuts it down at the end."""
    from api.app import create_app

    tmp = tmp_path_factory.mktemp("graphql-fuzz")
    url = template_store.clone("sqlite", True, tmp)
    app_settings = template_store.settings_for(url, tmp / "index").with_(rate_limit_per_minute=0)
    app = create_app(app_settings)
    token = run_blocking(make_token(app_settings, "fuzz-admin", "admin", "331000"))

    async def idle(self: Any) -> None:  # the follower, switched off for this module (see stop_following)
        await asyncio.Event().wait()

    from api.services.indexing import SearchService

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(SearchService, "_follow", idle)
            with asgi.get_client(app) as session:
                stop_following(app)
                app.state.fuzz_token = token
                app.state.fuzz_session = session
                yield app
    finally:
        asgi.shutdown_lifespans()
    kinds: Counter[str] = Counter()
    for key, count in OPERATIONS.items():
        kinds[key.split(":", 1)[0]] += count
    print(
        f"\nGraphQL fuzz: {sum(OPERATIONS.values())} requests ({dict(kinds)}) over "
        f"{len({key for key in OPERATIONS if key.startswith('schemathesis:')})} root fields; "
        f"outcomes {dict(sorted(OUTCOMES.items()))}"
    )


def check(case: Any, status: int, body: bytes) -> None:
    """The invariants for one answer; a failure shows the query that broke them."""
    where = f"\n--- query ---\n{case.body}"
    assert status < 500, f"HTTP {status}{where}\n--- body ---\n{body[:500]!r}"
    payload = json.loads(body)
    assert isinstance(payload, dict) and ("data" in payload or "errors" in payload), (
        f"not a GraphQL answer{where}"
    )
    errors = payload.get("errors") or []
    for error in errors:
        code = (error.get("extensions") or {}).get("code")
        assert isinstance(code, str) and code, f"uncoded error {error}{where}"
        assert code != "INTERNAL", f"a resolver failed unexpectedly (masked as INTERNAL): {error}{where}"
        assert "Traceback" not in error.get("message", ""), f"a trace reached the client{where}"
        OUTCOMES[code] += 1
    if not errors:
        OUTCOMES["answered"] += 1


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES_PER_FIELD,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_graphql_fields_answer_with_coded_errors_only(case: Any, fuzz_app: Any) -> None:
    headers = (
        {"Authorization": f"Bearer {fuzz_app.state.fuzz_token}"}
        if case.operation.definition.is_mutation
        else {}
    )
    response = case.call(base_url=ENDPOINT, app=fuzz_app, headers=headers)
    OPERATIONS[f"schemathesis:{case.operation.label}"] += 1
    check(case, response.status_code, response.content)


# ----------------------------------------------------------------------------- hostile variables

# The values most likely to break something below the GraphQL layer; each goes into every slot.
SPECIAL_TEXT = [
    "\ud800",
    "\udfff x",
    "\x00",
    "a\x00b",
    "\u202e123",
    "社" * 5000,
    "9" * 400,
    "<script>alert(1)</script>",
    "%_%",
    "'; DROP TABLE region; --",
]

# (root field, operation, valid variables, the slots hostile values go into, needs the admin token).
# A slot is a path into the variables ("i.guide.materials[].name": a list of one object) and the
# strategy the property draws for it; the sweep puts every SPECIAL_TEXT value into every slot.
Slot = tuple[str, st.SearchStrategy[Any]]
VARIABLE_OPERATIONS: list[tuple[str, str, dict[str, Any], list[Slot], bool]] = [
    ("region", "query($a:String!){region(code:$a){code fullName}}", {"a": "511302"}, [("a", TEXT)], False),
    (
        "regions",
        "query($a:String,$b:String,$c:String){regions(parentCode:$a,nameContains:$b,after:$c)"
        "{totalCount edges{node{code name}}}}",
        {},
        [("a", TEXT), ("b", TEXT), ("c", TEXT)],
        False,
    ),
    ("agreement", "query($a:ID!){agreement(id:$a){id title}}", {"a": "1"}, [("a", IDS)], False),
    (
        "agreements",
        "query($a:String,$b:String,$c:String){agreements(partnerCode:$a,localCode:$b,after:$c){totalCount}}",
        {},
        [("a", TEXT), ("b", TEXT), ("c", TEXT)],
        False,
    ),
    ("matter", "query($a:String!){matter(code:$a){code name}}", {"a": "M-001"}, [("a", TEXT)], False),
    ("matters", "query($a:String){matters(after:$a){totalCount}}", {}, [("a", TEXT)], False),
    ("hall", "query($a:ID!){hall(id:$a){id name}}", {"a": "1"}, [("a", IDS)], False),
    (
        "halls",
        "query($a:String,$b:String){halls(regionCode:$a,after:$b){totalCount}}",
        {},
        [("a", TEXT), ("b", TEXT)],
        False,
    ),
    (
        "search",
        "query($a:String!,$b:String){search(query:$a,homeRegionCode:$b){score highlight matter{code}}}",
        {"a": "社保卡", "b": "511300"},
        [("a", TEXT), ("b", TEXT)],
        False,
    ),
    (
        "coverage",
        "query($a:String!,$b:String,$c:Date){coverage(homeRegionCode:$a,matterCode:$b,onDate:$c)"
        "{covered kind}}",
        {"a": "511300", "b": "M-001"},
        [("a", TEXT), ("b", TEXT), ("c", DATES)],
        False,
    ),
    (
        "whereToHandle",
        "query($a:String!,$b:String!,$c:Date){whereToHandle(homeRegionCode:$a,matterCode:$b,"
        "onDate:$c){distanceKm hall{name}}}",
        {"a": "511300", "b": "M-001"},
        [("a", TEXT), ("b", TEXT), ("c", DATES)],
        False,
    ),
    (
        "upsertMatter",
        "mutation($i:MatterInput!){upsertMatter(input:$i){code}}",
        {"i": {"code": "FZ-1", "name": "模糊测试事项", "scope": "CITYWIDE"}},
        [
            (f"i.{name}", TEXT)
            for name in (
                "code",
                "name",
                "department",
                "keywords[]",
                "aliases[]",
                "nationalList",
                "deadline",
                "source",
                "sourceUrl",
                "guide.conditions",
                "guide.steps[]",
                "guide.materials[].name",
                "guide.materials[].note",
                "guide.fee",
            )
        ],
        True,
    ),
    (
        "upsertHall",
        "mutation($i:HallInput!){upsertHall(input:$i){id}}",
        {"i": {"key": "fz-hall", "name": "模糊测试大厅", "regionCode": "331004", "level": "COUNTY"}},
        [
            (f"i.{name}", TEXT)
            for name in (
                "key",
                "name",
                "regionCode",
                "address",
                "phone",
                "openingHours",
                "matterCodes[]",
                "source",
            )
        ],
        True,
    ),
    (
        "createAgreement",
        "mutation($i:AgreementInput!){createAgreement(input:$i){id}}",
        {"i": {"partnerCode": "511302", "localCode": "331004", "signedOn": "2024-01-01"}},
        [
            (f"i.{name}", TEXT)
            for name in ("partnerCode", "localCode", "key", "title", "documentRef", "note", "matterCodes[]")
        ]
        + [("i.signedOn", DATES), ("i.expiresOn", DATES)],
        True,
    ),
    (
        "setPartnerIndices",
        "mutation($a:String!){setPartnerIndices(regionCode:$a){code}}",
        {"a": "511300"},
        [("a", TEXT)],
        True,
    ),
]
OPERATION_IDS = [op[0] for op in VARIABLE_OPERATIONS]


def put(variables: dict[str, Any], path: str, value: Any) -> None:
    """Set `value` at `path`; a `name[]` part holds a list of one item."""
    *parents, last = path.split(".")
    target = variables
    for part in parents:
        if part.endswith("[]"):
            target[part[:-2]] = [{}]
            target = target[part[:-2]][0]
        else:
            target = target.setdefault(part, {})
    if last.endswith("[]"):
        target[last[:-2]] = [value]
    else:
        target[last] = value


class Client:
    """A requests session over the ASGI app (schemathesis' transport, which runs the app's lifespan);
    an exception escaping the app is what a real server turns into a 500, so it becomes one here."""

    def __init__(self, session: Any, token: str) -> None:
        self.session = session
        self.token = token

    def send(self, method: str, url: str, **kwargs: Any) -> tuple[int, bytes]:
        try:
            response = self.session.request(method, url, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the app crashed: that is the finding
            return 500, f"{type(exc).__name__}: {exc}".encode("utf-8", "backslashreplace")
        return response.status_code, response.content

    def graphql(self, query: str, variables: dict[str, Any], needs_token: bool) -> tuple[int, bytes]:
        body = json.dumps({"query": query, "variables": variables})  # ASCII escapes: lone surrogates travel
        headers = {"content-type": "application/json"}
        if needs_token:
            headers["Authorization"] = f"Bearer {self.token}"
        return self.send("POST", "/graphql", data=body.encode(), headers=headers)


@pytest.fixture(scope="module")
def variables_client(fuzz_app: Any) -> Client:
    """The fuzz app again (its lifespan is already running), through a plain session."""
    return Client(fuzz_app.state.fuzz_session, fuzz_app.state.fuzz_token)


class _Sent:
    """Enough of a schemathesis case for `check` to name what was sent."""

    def __init__(self, query: str, variables: dict[str, Any]) -> None:
        self.body = f"{query}\nvariables: {variables!r}"[:2000]


@pytest.mark.parametrize(
    ("field", "query", "base", "slots", "needs_token"), VARIABLE_OPERATIONS, ids=OPERATION_IDS
)
def test_every_special_value_in_every_argument(
    variables_client: Client,
    field: str,
    query: str,
    base: dict[str, Any],
    slots: list[Slot],
    needs_token: bool,
) -> None:
    """Deterministic sweep: each special value alone in each slot, the other arguments valid."""
    failures = []
    for path, _strategy in slots:
        for value in SPECIAL_TEXT:
            variables = copy.deepcopy(base)
            put(variables, path, value)
            status, content = variables_client.graphql(query, variables, needs_token)
            OPERATIONS[f"sweep:{field}"] += 1
            try:
                check(_Sent(query, variables), status, content)
            except AssertionError as exc:
                failures.append(f"{path} = {value[:20]!r}: {str(exc).splitlines()[0][:200]}")
    assert not failures, f"{field}: {len(failures)} failing slot/value pairs:\n" + "\n".join(failures)


@pytest.mark.parametrize(
    ("field", "query", "base", "slots", "needs_token"), VARIABLE_OPERATIONS, ids=OPERATION_IDS
)
@settings(
    max_examples=EXAMPLES_PER_FIELD,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_hostile_variables_get_coded_errors_only(
    variables_client: Client,
    field: str,
    query: str,
    base: dict[str, Any],
    slots: list[Slot],
    needs_token: bool,
    data: st.DataObject,
) -> None:
    """Random combinations: any subset of the slots replaced by drawn values at once."""
    variables = copy.deepcopy(base)
    for path, strategy in slots:
        if data.draw(st.booleans(), label=f"replace {path}"):
            put(variables, path, data.draw(strategy, label=path))
    status, content = variables_client.graphql(query, variables, needs_token)
    OPERATIONS[f"variables:{field}"] += 1
    check(_Sent(query, variables), status, content)


@pytest.mark.parametrize("depth", [100, 5000, 100_000])
def test_deeply_nested_json_is_a_coded_400(variables_client: Client, depth: int) -> None:
    """Nesting beyond the JSON decoder's recursion limit (about 1,000 levels), in a POST body and in
    GET variables: a 400 with a code (or an answer, for harmless depths), never a 500."""
    nested = "[" * depth + "]" * depth
    query = "{tierThresholds{population}}"
    body = ('{"query":"' + query + '","variables":{"deep":' + nested + "}}").encode()
    attempts = [("POST", {"data": body, "headers": {"content-type": "application/json"}})]
    if depth <= 5000:  # a longer URL is not a realistic request
        attempts.append(("GET", {"params": {"query": query, "variables": nested}}))
    for method, kwargs in attempts:
        status, content = variables_client.send(method, "/graphql", **kwargs)
        assert status in (200, 400), f"{method} nested {depth} deep: HTTP {status} {content[:300]!r}"
        errors = json.loads(content).get("errors") or []
        assert all((e.get("extensions") or {}).get("code") for e in errors), content[:300]
        OPERATIONS[f"nested:{method}"] += 1
