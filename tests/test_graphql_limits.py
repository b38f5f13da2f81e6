"""What a hostile or careless client can and cannot do to /graphql.

Each limit answers with a coded error, never a 500: depth, aliases (counted through fragments),
tokens, circular fragments; batching off; mutations never over GET; JSON bodies only; no WebSocket;
internal errors masked for the client and logged in full; introspection switchable by a setting.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from strawberry.extensions.parser_cache import _get_parse_cache

from api.schema.limits import CACHE_SIZE, MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from api.services.catalog import Catalog
from api.settings import Settings


async def post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    return response.json()


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors") or []]


# ------------------------------------------------------------------------------ query limits


async def test_deep_query_is_too_complex(client: httpx.AsyncClient) -> None:
    nested = "name"
    for _ in range(MAX_DEPTH + 2):
        nested = f"parent {{ {nested} }}"
    body = await post(client, f'{{ region(code: "511302") {{ {nested} }} }}')
    assert body["data"] is None
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "depth" in body["errors"][0]["message"]

    ok = "name"
    for _ in range(MAX_DEPTH - 2):
        ok = f"parent {{ {ok} }}"
    assert "errors" not in await post(client, f'{{ region(code: "511302") {{ {ok} }} }}')


async def test_aliases_are_counted_through_fragments(client: httpx.AsyncClient) -> None:
    aliases = " ".join(f'a{n}: region(code: "511302") {{ code }}' for n in range(50))
    query = "query { ...A } fragment A on Query { ...B } fragment B on Query { " + aliases + " }"
    body = await post(client, query)
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert body["data"] is None

    fine = " ".join(f'a{n}: region(code: "511302") {{ code }}' for n in range(MAX_ALIASES))
    assert "errors" not in await post(client, "query { ...A } fragment A on Query { " + fine + " }")


async def test_huge_token_count_is_refused_before_parsing_finishes(client: httpx.AsyncClient) -> None:
    fields = " ".join(["code"] * (MAX_TOKENS + 100))
    body = await post(client, f'{{ region(code: "511302") {{ {fields} }} }}')
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "tokens" in body["errors"][0]["message"]


async def test_circular_fragments_are_a_validation_error(client: httpx.AsyncClient) -> None:
    query = """query { region(code: "511302") { ...A } }
               fragment A on Region { parent { ...B } }
               fragment B on Region { children { ...A } }"""
    body = await post(client, query)
    assert body["data"] is None
    assert "GRAPHQL_VALIDATION_FAILED" in codes(body)
    assert any("Cannot spread fragment" in e["message"] for e in body["errors"])


async def test_validation_and_syntax_errors_keep_their_message(client: httpx.AsyncClient) -> None:
    body = await post(client, "{ nope }")
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "Cannot query field 'nope' on type 'Query'" in body["errors"][0]["message"]
    body = await post(client, "{ region(code: ")
    assert codes(body) == ["GRAPHQL_PARSE_FAILED"]
    assert "Syntax Error" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "query",
    [
        "{ regions(first: 1000) { totalCount } }",
        "{ regions(first: -1) { totalCount } }",
        "{ matters(first: 101) { totalCount } }",
        "{ halls(first: -5) { totalCount } }",
        "{ agreements(first: 99999999999) { totalCount } }",
        '{ agreement(id: "99999999999999999999999999") { id } }',
        '{ hall(id: "-1") { id } }',
        '{ whereToHandle(homeRegionCode: "511302", matterCode: "M-008", latitude: 1e308, longitude: 0) { distanceKm } }',
        '{ whereToHandle(homeRegionCode: "511302", matterCode: "M-008", first: 1000) { distanceKm } }',
        '{ regions(nameContains: "' + "长" * 100 + '") { totalCount } }',
        '{ search(query: "' + "社" * 300 + '") { score } }',
    ],
)
async def test_out_of_range_arguments_are_bad_input(client: httpx.AsyncClient, query: str) -> None:
    assert codes(await post(client, query)) == ["BAD_INPUT"]


async def test_first_zero_and_like_wildcards(client: httpx.AsyncClient) -> None:
    body = await post(
        client, "{ matters(first: 0) { totalCount edges { cursor } pageInfo { hasNextPage endCursor } } }"
    )
    page = body["data"]["matters"]
    assert page["edges"] == [] and page["pageInfo"] == {"hasNextPage": True, "endCursor": None}
    assert page["totalCount"] > 0
    wildcard = await post(client, '{ regions(nameContains: "%") { totalCount } }')
    assert wildcard["data"]["regions"]["totalCount"] == 0  # % is a character here, not a wildcard


# ------------------------------------------------------------------------------ HTTP rules


async def test_batched_requests_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json=[{"query": "{ __typename }"}, {"query": "{ __typename }"}])
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_queries_over_get_but_never_mutations(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": '{ region(code: "511302") { fullName } }'})
    assert response.status_code == 200
    assert response.json()["data"]["region"]["fullName"] == "四川省南充市顺庆区"

    mutation = 'mutation { setPartnerIndices(regionCode: "511300", populationIndex: 1) { tier } }'
    response = await client.get("/graphql", params={"query": mutation})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"

    response = await client.get("/graphql", params={"query": "{ __typename }", "variables": "{not json"})
    assert response.status_code == 400
    response = await client.get("/graphql", headers={"accept": "text/html"})
    # CONTRACT §7: the API docs for people, with a GraphiQL served by the project (never a CDN)
    assert response.status_code == 200 and "https://" not in response.text.split("<main", 1)[0]


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"content": '{"query": "{ __typename }"}', "headers": {"content-type": "text/plain"}}, 415),
        ({"data": {"query": "{ __typename }"}}, 415),
        ({"files": {"operations": ("o.json", b'{"query": "{ __typename }"}')}}, 415),
        ({"content": "{ __typename }", "headers": {"content-type": "application/graphql"}}, 415),
        ({"content": "{not json", "headers": {"content-type": "application/json"}}, 400),
        ({"content": '"just a string"', "headers": {"content-type": "application/json"}}, 400),
        ({"content": "42", "headers": {"content-type": "application/json"}}, 400),
        ({"content": b"\xff\xfe", "headers": {"content-type": "application/json"}}, 400),
        ({"json": {"query": "{ __typename }", "variables": [1]}}, 400),
        ({"json": {"query": 5}}, 400),
        ({"json": {}}, 400),
    ],
)
async def test_json_bodies_only(client: httpx.AsyncClient, kwargs: dict[str, Any], status: int) -> None:
    response = await client.post("/graphql", **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["extensions"]["code"] in {"UNSUPPORTED_MEDIA_TYPE", "BAD_REQUEST"}


async def test_other_methods_are_not_allowed(client: httpx.AsyncClient) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        response = await client.request(method, "/graphql", json={"query": "{ __typename }"})
        assert response.status_code == 405


async def test_no_websocket_route(app: Any) -> None:
    """A graphql-transport-ws handshake is closed without being accepted: no subscriptions at all."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
        "headers": [(b"host", b"testserver"), (b"sec-websocket-protocol", b"graphql-transport-ws")],
        "subprotocols": ["graphql-transport-ws"],
    }
    await app(scope, receive, send)
    assert sent and sent[0]["type"] == "websocket.close"
    assert not any(message["type"] == "websocket.accept" for message in sent)


# ------------------------------------------------------------------------------ errors and caches


async def test_internal_errors_are_masked_and_logged_in_full(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret connection string postgres://admin:hunter2@db")

    monkeypatch.setattr(Catalog, "coverage", broken)
    with caplog.at_level(logging.ERROR, logger="tongban.graphql"):
        response = await client.post(
            "/graphql", json={"query": '{ coverage(homeRegionCode: "511302") { covered } }'}
        )
    assert response.status_code == 200
    body = response.json()
    assert codes(body) == ["INTERNAL"]
    assert body["errors"][0]["message"] == "Internal server error"
    assert "hunter2" not in response.text
    logged = [r for r in caplog.records if r.name == "tongban.graphql" and r.levelno == logging.ERROR]
    assert logged and logged[0].exc_info is not None
    assert "hunter2" in caplog.text and "Traceback" in caplog.text


async def test_introspection_is_on_by_default(client: httpx.AsyncClient) -> None:
    body = await post(client, "{ __schema { queryType { name } mutationType { name } } }")
    assert body["data"]["__schema"] == {"queryType": {"name": "Query"}, "mutationType": {"name": "Mutation"}}


@pytest.fixture
async def closed_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from api.app import create_app

    app = create_app(settings.with_(graphql_introspection=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def test_introspection_can_be_switched_off(closed_client: httpx.AsyncClient) -> None:
    body = await post(closed_client, "{ __schema { queryType { name } } }")
    assert body["data"] is None
    assert set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}
    assert "introspection" in body["errors"][0]["message"].lower()
    assert (await post(closed_client, "{ __typename }"))["data"] == {"__typename": "Query"}
    assert (await post(closed_client, '{ region(code: "511302") { name } }'))["data"]["region"][
        "name"
    ] == "顺庆区"


async def test_parser_and_validation_caches_are_used(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same query text is parsed once and validated once (the validation cache keys on the parsed
    document the parser cache hands back); another text is validated afresh, and a refused query's
    errors come from the cache just the same. Both caches live as long as the process (apps share
    one schema), so the texts are this test's own."""
    from api.schema import complexity

    tag = uuid.uuid4().hex[:8]

    validated: list[str] = []
    real_validate = complexity.validate

    def counting(schema: Any, document: Any, rules: Any) -> Any:
        validated.append(document.loc.source.body if document.loc else "")
        return real_validate(schema, document, rules)

    monkeypatch.setattr(complexity, "validate", counting)
    query = f'{{ cacheProbe{tag}: region(code: "511303") {{ code }} }}'
    parse_cache = _get_parse_cache(CACHE_SIZE)
    await post(client, query)
    parse_hits = parse_cache.cache_info().hits
    assert (await post(client, query))["data"][f"cacheProbe{tag}"]["code"] == "511303"
    assert parse_cache.cache_info().hits == parse_hits + 1
    assert validated == [query]
    other = f'{{ cacheProbe2{tag}: region(code: "511303") {{ code }} }}'
    await post(client, other)
    assert validated == [query, other]
    wrong = f'{{ cacheProbe3{tag}: region(code: "511303") {{ nope }} }}'
    first, second = await post(client, wrong), await post(client, wrong)
    assert validated == [query, other, wrong] and first == second and first["errors"]
