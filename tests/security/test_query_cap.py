"""One cap on the search text `q` everywhere (issue 14, item 7, the `q` part).

The probe: a 20 KB `q` on the search page came back about four times (85 KB out): the page echoed
its own URL in the preference links and the feedback form. Now every door reads `q` through the
one constant `search_index.query.MAX_QUERY_CHARS`: the pages, the htmx fragment and the region
suggestions cut it there, the page URL they echo is cut the same way, and GraphQL `search` refuses a
longer text with BAD_INPUT. A 20 KB `q` gives the same small page as its first 100 characters.
"""

from __future__ import annotations

import httpx
import pytest

from api.schema.queries import MAX_QUERY_TEXT
from search_index.query import MAX_QUERY_CHARS
from web.public import MAX_QUERY

LONG = "社保卡" + "x" * 20_000  # 20 KB in the URL, as the probe sent


def test_every_door_uses_the_one_constant() -> None:
    assert MAX_QUERY == MAX_QUERY_TEXT == MAX_QUERY_CHARS == 100


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/search?home=511302", {}),
        ("/search?home=511302", {"HX-Request": "true"}),  # the htmx fragment
        ("/", {}),
        ("/regions/suggest", {}),
        ("/regions/suggest?region_q=南充", {"HX-Request": "true"}),
    ],
)
async def test_a_20_kb_q_gives_a_small_answer(
    client: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> None:
    cut = LONG[:MAX_QUERY_CHARS]
    long_answer = await client.get(path, params={"q": LONG}, headers=headers)
    short_answer = await client.get(path, params={"q": cut}, headers=headers)
    assert long_answer.status_code == short_answer.status_code == 200
    # the long q is answered exactly as its first 100 characters (the page echoes q in its URL:
    # the only difference is that echo, the cut text instead of the original)
    assert len(long_answer.content) <= len(short_answer.content) + 2_000, (
        len(long_answer.content),
        len(short_answer.content),
    )
    assert "x" * MAX_QUERY_CHARS not in long_answer.text
    assert len(long_answer.content) < 60_000


async def test_graphql_search_refuses_past_the_same_cap(client: httpx.AsyncClient) -> None:
    query = "query ($q: String!) { search(query: $q, first: 3) { score } }"
    at_cap = await client.post("/graphql", json={"query": query, "variables": {"q": LONG[:MAX_QUERY_CHARS]}})
    assert "errors" not in at_cap.json(), at_cap.text
    past = await client.post(
        "/graphql", json={"query": query, "variables": {"q": LONG[: MAX_QUERY_CHARS + 1]}}
    )
    assert [e["extensions"]["code"] for e in past.json()["errors"]] == ["BAD_INPUT"]
    assert len(past.content) < 1_000
