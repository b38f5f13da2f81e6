"""The API docs at `GET /graphql` (for people) and the SDL at `/graphql/schema.graphql` (for
programs); every worked example is a query that runs without errors."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from api.settings import Settings
from tests.conftest import make_token
from web.api_docs import EXAMPLES

ROOT = Path(__file__).resolve().parents[1]


async def test_docs_page_for_browsers_and_json_for_programs(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "no inline script"
    assert "style=" not in html and "<style" not in html
    for path in re.findall(r'<script src="([^"?]+)', html):
        assert path.startswith("/static/"), path  # served by the project, no CDN
        assert (await client.get(path)).status_code == 200, path
    assert "vendor/graphiql/graphiql.min.js" in html
    for example in EXAMPLES:
        assert example.question in html
    # programs asking for JSON still get GraphQL answers on GET
    answer = await client.get(
        "/graphql", params={"query": "{ __typename }"}, headers={"Accept": "application/json"}
    )
    assert answer.json() == {"data": {"__typename": "Query"}}


async def test_sdl_is_the_committed_schema(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql/schema.graphql")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert response.text == (ROOT / "schema.graphql").read_text(encoding="utf-8")


async def test_every_worked_example_runs(client: httpx.AsyncClient, settings: Settings) -> None:
    token = await make_token(settings, "docs-partner", "partner", "511300")
    for example in EXAMPLES:
        headers = {"Authorization": f"Bearer {token}"} if example.needs_token else {}
        body = (await client.post("/graphql", json={"query": example.query}, headers=headers)).json()
        assert "errors" not in body, (example.slug, body)
        assert any(value for value in body["data"].values()), (example.slug, body)
