"""/readyz (CONTRACT §7) and the index repair of issue 14 item 6: a damaged index folder used to
leave new records unsearchable for good while /healthz said ok. Now a failing index update drops
readiness, shows on the staff dashboard and is repaired by a rebuild-and-swap in the background."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from api.services.indexing import SearchService
from api.settings import Settings
from search_index import store
from tests.test_staff_helpers import signed_in

UPSERT = """mutation($name: String!) { upsertMatter(input: {code: "M-READY", name: $name, department: "测试",
            scope: CROSS_PROVINCE, modes: [], keywords: []}) { code } }"""


async def searchable(client: httpx.AsyncClient, text: str, code: str) -> bool:
    query = {
        "query": "query($q: String!) { search(query: $q) { matter { code } } }",
        "variables": {"q": text},
    }
    body = (await client.post("/graphql", json=query)).json()
    return any(hit["matter"]["code"] == code for hit in body["data"]["search"])


def damage(index_dir: Path) -> None:
    """What an operator found: the live generation's files gone (a bad disk, a stray `rm`). The
    open searcher keeps its file handles, so searches still answer from the old state."""
    live = index_dir / (store.read_pointer(index_dir) or "")
    assert live.is_dir()
    for path in live.iterdir():
        path.unlink()


async def test_readyz_answers_ready_when_the_index_holds_the_outbox(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["index"]["caughtUp"] and body["index"]["lag"] == 0
    assert (await client.get("/healthz")).status_code == 200


async def test_readyz_is_503_while_the_index_lags_the_outbox(
    app: Any, client: httpx.AsyncClient, admin_token: str, monkeypatch: Any
) -> None:
    search: SearchService = app.state.tongban.search

    async def stuck() -> int:
        return 0

    monkeypatch.setattr(search, "catch_up", stuck)  # the follower no longer applies the outbox
    search.health.in_step_at = time.monotonic() - 60
    made = await client.post(
        "/graphql",
        json={"query": UPSERT, "variables": {"name": "就绪检查落后事项"}},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert "errors" not in made.json(), made.text
    lagging = await client.get("/readyz")
    assert lagging.status_code == 503, lagging.text
    assert lagging.json()["index"]["lag"] >= 1
    assert (await client.get("/healthz")).status_code == 200  # liveness is not readiness


async def test_a_damaged_index_is_rebuilt_and_reported_until_then(
    app: Any, client: httpx.AsyncClient, settings: Settings, admin_token: str, monkeypatch: Any
) -> None:
    search: SearchService = app.state.tongban.search
    gate = asyncio.Event()
    real_rebuild = SearchService.rebuild

    async def held_rebuild(self: SearchService, *args: Any, **kwargs: Any) -> int:
        await gate.wait()  # keep the repair in progress until the test has looked
        return await real_rebuild(self, *args, **kwargs)

    monkeypatch.setattr(SearchService, "rebuild", held_rebuild)
    damage(settings.index_dir)
    made = await client.post(
        "/graphql",
        json={"query": UPSERT, "variables": {"name": "损坏索引修复验证事项"}},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert "errors" not in made.json(), made.text

    deadline = time.monotonic() + 10
    while not search.health.rebuilding:
        assert time.monotonic() < deadline, f"the failing update was not noticed: {search.status()}"
        await asyncio.sleep(0.05)
    assert not await searchable(client, "损坏索引修复验证", "M-READY")
    ready = await client.get("/readyz")
    assert ready.status_code == 503, ready.text
    assert ready.json()["index"]["failing"] and ready.json()["index"]["rebuilding"]
    async with signed_in(app, settings, "admin", settings.home_region) as staff:
        board = await staff.get("/staff/dashboard")
        assert board.status_code == 200
        assert "搜索索引更新失败" in board.text and "正在后台重建" in board.text

    gate.set()
    deadline = time.monotonic() + 20
    while not await searchable(client, "损坏索引修复验证", "M-READY"):
        assert time.monotonic() < deadline, f"not searchable after the repair: {search.status()}"
        await asyncio.sleep(0.1)
    deadline = time.monotonic() + 5
    while (ready := await client.get("/readyz")).status_code != 200:
        assert time.monotonic() < deadline, ready.text
        await asyncio.sleep(0.1)
    assert search.health.repairs == 1 and not search.health.failing
    async with signed_in(app, settings, "admin", settings.home_region) as staff:
        assert "搜索索引更新失败" not in (await staff.get("/staff/dashboard")).text
