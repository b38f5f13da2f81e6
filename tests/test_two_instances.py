"""Two server instances on one PostgreSQL, each with its own search index, both answer with an
edit made through either within two seconds (issue 4: the database is the source of truth)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.settings import Settings


@asynccontextmanager
async def instance(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client,
    ):
        yield client


async def found(client: httpx.AsyncClient, text: str, code: str) -> bool:
    query = {
        "query": "query($q: String!) { search(query: $q) { matter { code name } } }",
        "variables": {"q": text},
    }
    body = (await client.post("/graphql", json=query)).json()
    return any(hit["matter"]["code"] == code for hit in body["data"]["search"])


async def wait_for(client: httpx.AsyncClient, text: str, code: str, limit: float = 2.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if await found(client, text, code):
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    pytest.fail(f"{text!r} not found within {limit} s")


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_an_edit_through_either_instance_shows_in_both(
    settings: Settings, admin_token: str, tmp_path: Path
) -> None:
    first = replace(settings, index_dir=tmp_path / "index-a")
    second = replace(settings, index_dir=tmp_path / "index-b")
    headers = {"Authorization": f"Bearer {admin_token}"}
    mutation = """mutation($name: String!) { upsertMatter(input: {code: "M-TWO", name: $name, department: "测试",
                  scope: CROSS_PROVINCE, modes: [], keywords: []}) { code } }"""
    async with instance(first) as a, instance(second) as b:
        made = await a.post(
            "/graphql", json={"query": mutation, "variables": {"name": "双实例同步测试事项"}}, headers=headers
        )
        assert "errors" not in made.json(), made.text
        delays: dict[str, Any] = {
            "a": await wait_for(a, "双实例同步测试", "M-TWO"),
            "b": await wait_for(b, "双实例同步测试", "M-TWO"),
        }
        renamed = await b.post(
            "/graphql", json={"query": mutation, "variables": {"name": "跨实例改名验证事项"}}, headers=headers
        )
        assert "errors" not in renamed.json(), renamed.text
        delays["a2"] = await wait_for(a, "跨实例改名验证", "M-TWO")
        delays["b2"] = await wait_for(b, "跨实例改名验证", "M-TWO")
    print(f"seen after (s): {delays}")
