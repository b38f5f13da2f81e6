"""数据导入 as a job: the progress staff see while a sheet is checked or applied, kept in the database
so that any worker answers the page; only the account that started it (and the city's admins) see
it; a job whose process died reads as failed, not as running forever; the page works without
JavaScript. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from api.db import Database
from api.models import ChangeLog, Hall, ImportJob, LiaisonGroup, Matter, OutboxEvent, StaffUser
from api.services import import_jobs
from api.services.base import Actor, ServiceContext, now
from api.services.imports import run_import
from api.services.regions import load_tree
from api.settings import Settings
from tests.test_staff_helpers import add_staff, count, new_client, sign_in
from tests.test_staff_import import NEW_HALL, _text, as_json, finished, start


def _halls(n: int, region: str = "331004") -> list[dict[str, Any]]:
    return [
        {"key": f"t-job-{i}", "name": f"测试便民服务中心{i}", "regionCode": region, "level": "TOWN"}
        for i in range(n)
    ]


async def _context(database: Database, name: str) -> ServiceContext:
    async with database.read() as session:
        tree = await load_tree(session)
        user = (await session.execute(select(StaffUser).where(StaffUser.name == name))).scalar_one()
    actor = Actor(name=user.name, role=user.role, region_code=user.region_code, via="import", user_id=user.id)
    return ServiceContext(actor=actor, tree=tree, home_city="331000")


async def _signed_in_as(app: Any, name: str) -> Any:
    client = new_client(app)
    response = await sign_in(client, name)
    assert response.status_code == 303, response.text
    return client


@dataclass
class Clerk:
    """A county clerk of 路桥 (331004), signed in, with the database and their service context."""

    name: str
    client: Any
    database: Database
    ctx: ServiceContext


@pytest.fixture
async def clerk(app: Any, settings: Settings) -> AsyncIterator[Clerk]:
    name = await add_staff(settings, "county", "331004")
    database = Database(settings.database_url)
    client = await _signed_in_as(app, name)
    try:
        yield Clerk(name, client, database, await _context(database, name))
    finally:
        await client.aclose()
        await database.dispose()


async def test_progress_is_written_as_it_advances_and_any_request_reads_it(
    app: Any, settings: Settings
) -> None:
    name = await add_staff(settings, "county", "331004")
    database = Database(settings.database_url)
    client = await _signed_in_as(app, name)
    try:
        ctx = await _context(database, name)
        job_id = await import_jobs.start_job(database, ctx, "apply", "大厅.xlsx")
        progress = import_jobs.JobProgress(database, job_id)
        writer = asyncio.create_task(progress.run())
        seen = []
        for stage, done in [("checking:halls", 1000), ("checking:halls", 3000), ("writing:halls", 4500)]:
            progress(stage, done, 5000)
            for _ in range(100):  # the writer's next turn (every half second)
                job = await import_jobs.load_job(database, ctx, job_id)
                if (job.stage, job.done) == (stage, done):
                    break
                await asyncio.sleep(0.05)
            page = await client.get(
                f"/staff/import/jobs/{job_id}"
            )  # another request, as another worker would
            assert page.status_code == 200
            region = re.search(r'<div id="import-progress" role="status".*?</div>', page.text, re.S)
            assert region, page.text
            seen.append(_text(region.group(0)))
            assert re.search(rf'<progress class="import-bar" max="5000" value="{done}"', page.text)
        await progress.stop()
        await writer
        assert "检查每一行: 服务大厅" in seen[0] and "已检查 1,000 / 5,000 行" in seen[0]
        assert "已检查 3,000 / 5,000 行" in seen[1]
        assert "写入数据库: 服务大厅" in seen[2] and "已写入 4,500 / 5,000 行" in seen[2]
        assert "(第 4 步, 共 5 步)" in seen[2] and "读取文件 (已完成)" in seen[2]
    finally:
        await client.aclose()
        await database.dispose()


async def test_an_import_reports_every_stage_in_order(demo_db: Database, settings: Settings) -> None:
    """The one progress interface (api.progress.Progress) hears checking, comparing and writing of
    each section, counts rising to the total."""
    name = await add_staff(settings, "admin", "331000")
    ctx = await _context(demo_db, name)
    calls: list[tuple[str, int, int]] = []
    outcome = await run_import(
        demo_db, ctx, {"halls": _halls(600)}, apply=True, progress=lambda *call: calls.append(call)
    )
    assert outcome.applied, outcome.errors
    stages = [stage for stage, _, _ in calls]
    firsts = [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s]
    assert firsts[:3] == ["checking:halls", "comparing:halls", "writing:halls"]
    for stage in ("checking:halls", "comparing:halls", "writing:halls"):
        counts = [done for s, done, _ in calls if s == stage]
        assert counts == sorted(counts) and counts[-1] == 600 and len(counts) >= 2, (stage, counts)
    assert {total for _, _, total in calls} == {600}


async def test_a_job_is_seen_only_by_its_account_and_the_admins(app: Any, settings: Settings) -> None:
    owner = await add_staff(settings, "county", "331004")
    colleague = await add_staff(settings, "county", "331004")
    other = await add_staff(settings, "county", "331002")
    admin = await add_staff(settings, "admin", "331000")
    clients = {who: await _signed_in_as(app, who) for who in (owner, colleague, other, admin)}
    try:
        started = await start(clients[owner], "check", as_json([NEW_HALL]))
        assert started.status_code == 303
        url = started.headers["location"]
        page = await finished(clients[owner], url)
        assert "检查通过, 尚未写入" in _text(page.text) and NEW_HALL["key"] in page.text
        assert (await clients[admin].get(url)).status_code == 200
        for who in (other, colleague):  # another county, and even another account of the same county
            for path in (url, url + "/progress"):
                response = await clients[who].get(path)
                assert response.status_code == 404, (who, path)
                assert NEW_HALL["key"] not in response.text
        assert (await clients[owner].get("/staff/import/jobs/" + "0" * 32)).status_code == 404
    finally:
        for client in clients.values():
            await client.aclose()


async def test_a_job_whose_process_died_reads_as_failed_not_running(clerk: Clerk) -> None:
    job_id = await import_jobs.start_job(clerk.database, clerk.ctx, "apply", "大厅.json")
    url = f"/staff/import/jobs/{job_id}"
    running = await clerk.client.get(url)
    assert 'id="import-job"' in running.text and "正在导入" in _text(running.text)

    async with clerk.database.write() as session:  # the server stopped a minute and more ago
        await session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id)
            .values(stage="writing:halls", done=300, total=900, updated_at=now() - dt.timedelta(minutes=2))
        )
    died = await clerk.client.get(url)
    text = _text(died.text)
    assert 'id="import-job"' not in died.text and 'hx-trigger="every' not in died.text
    assert "导入任务中断" in text and "未写入任何数据" in text and 'role="alert"' in died.text
    fragment = await clerk.client.get(url + "/progress")  # htmx stops polling: the page reloads once
    assert fragment.headers.get("HX-Refresh") == "true"
    assert await import_jobs.running_job_of(clerk.database, clerk.ctx) is None  # a new upload is not blocked

    # it had committed (the result is written in the import's own transaction): it says so
    async with clerk.database.write() as session:
        await session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id)
            .values(result={"applied": True, "sections": {"halls": [1, 1, 0, 0]}, "changesTotal": 1})
        )
    written = _text((await clerk.client.get(url)).text)
    assert "已导入" in written and "索引更新被中断" in written and "导入任务中断" not in written


async def test_the_job_page_works_without_javascript(clerk: Clerk) -> None:
    """A running job's page is complete HTML: the stage, a <progress> with its numbers in text, a
    role=status region and a plain 刷新进度 link to the same page; nothing refreshes by itself (no
    meta refresh, no inline script); the result arrives on the same address."""
    job_id = await import_jobs.start_job(clerk.database, clerk.ctx, "check", "大厅.json")
    url = f"/staff/import/jobs/{job_id}"
    await import_jobs.update_job(clerk.database, job_id, stage="comparing:halls", done=2000, total=5000)
    page = await clerk.client.get(url)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = _text(page.text)
    assert "已比对 2,000 / 5,000 行" in text and "与现有数据比对: 服务大厅" in text
    assert re.search(r'<progress class="import-bar" max="5000" value="2000"', page.text)
    assert re.search(rf'<a class="button" href="{url}" id="refresh-progress">刷新进度</a>', page.text)
    assert 'role="status"' in page.text
    assert 'http-equiv="refresh"' not in page.text and "<script>" not in page.text
    assert re.search(rf'hx-get="{url}/progress" hx-trigger="every 1s"', page.text)  # with JS: polled
    fragment = await clerk.client.get(url + "/progress")
    assert "已比对 2,000 / 5,000 行" in _text(fragment.text) and "HX-Refresh" not in fragment.headers
    assert "<html" not in fragment.text


@pytest.mark.parametrize("mode", ["check", "apply"])
async def test_one_running_job_per_account_and_a_bad_apply_writes_nothing(
    mode: str, clerk: Clerk, settings: Settings
) -> None:
    busy = await import_jobs.start_job(clerk.database, clerk.ctx, "check", "另一个.json")
    refused = await start(clerk.client, mode, as_json([NEW_HALL]))
    assert refused.status_code == 409 and f"/staff/import/jobs/{busy}" in refused.text
    await import_jobs.update_job(clerk.database, busy, state="done")

    logs = await count(settings, ChangeLog)
    bad = [*_halls(300), {**NEW_HALL, "regionCode": "331083"}]  # the last row is another county's
    started = await start(clerk.client, mode, as_json(bad))
    page = await finished(clerk.client, started.headers["location"])
    text = _text(page.text)
    assert "有 1 处错误, 未写入任何数据" in text and "第301条" in text
    assert await count(settings, ChangeLog) == logs
    assert await count(settings, Hall, Hall.key.like("t-job-%")) == 0


async def test_the_cli_bar_hears_the_same_stages(demo_db: Database, settings: Settings) -> None:
    """`tongban import` draws the one progress interface on a terminal: the same stages."""
    import io

    from api.progress import ProgressBar
    from api.services.transfer import import_document

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    name = await add_staff(settings, "admin", "331000")
    screen = Terminal()
    bar = ProgressBar("导入", stream=screen)
    bar.enabled = True
    await import_document(demo_db, await _context(demo_db, name), {"halls": _halls(600)}, progress=bar)
    drawn = screen.getvalue()
    assert "checking:halls" in drawn and "writing:halls" in drawn and "600/600" in drawn


async def test_the_other_worker_answers_the_job_page(app: Any, settings: Settings) -> None:
    """Behind nginx the upload reaches one worker and the progress page may reach the other: two
    app instances over one database, the job runs in the first, the second shows it to the end."""
    from api.app import create_app

    other_worker = create_app(settings)
    name = await add_staff(settings, "county", "331004")
    first = await _signed_in_as(app, name)
    try:
        async with other_worker.router.lifespan_context(other_worker):
            second = new_client(other_worker)
            second.cookies = first.cookies  # the same browser
            started = await start(first, "apply", as_json(_halls(300)))
            assert started.status_code == 303
            page = await finished(second, started.headers["location"])
            assert "已导入" in _text(page.text)
            assert "服务大厅 300 300 0 0" in _text(
                re.search(r'id="import-counts".*?</table>', page.text, re.S).group(0)
            )
            assert await count(settings, Hall, Hall.key.like("t-job-%")) == 300
            await second.aclose()
    finally:
        await first.aclose()


async def test_the_bulk_path_decides_each_row_as_a_single_save_would(
    demo_db: Database, settings: Settings
) -> None:
    """Two keyless rows naming the same hall: the second updates the first (as when each row was
    flushed and looked up); an existing hall's matter list is replaced; a new liaison group named by
    an admin is created once; every change audited as 导入 with its key, nothing left unflushed."""
    name = await add_staff(settings, "admin", "331000")
    ctx = await _context(demo_db, name)
    async with demo_db.read() as session:
        codes = list((await session.execute(select(Matter.code).order_by(Matter.code).limit(3))).scalars())
    same = {"name": "路桥区测试中心", "regionCode": "331004", "level": "TOWN"}
    document = {
        "halls": [
            {**same, "matterCodes": codes[:1]},
            {**same, "phone": "0576-1", "matterCodes": codes[:2]},
            {
                "key": "luqiao-centre",
                "name": "路桥区行政服务中心",
                "regionCode": "331004",
                "matterCodes": codes,
            },
        ],
        "contacts": [
            {"key": "t-c1", "name": "甲", "regionCode": "331004", "liaisonGroup": "新建联络群XK"},
            {"key": "t-c2", "name": "乙", "regionCode": "331004", "liaisonGroup": "新建联络群XK"},
        ],
    }
    outcome = await run_import(demo_db, ctx, document, apply=True)
    assert outcome.applied, outcome.errors
    async with demo_db.read() as session:
        halls = (
            (
                await session.execute(
                    select(Hall).options(selectinload(Hall.matters)).where(Hall.name == same["name"])
                )
            )
            .scalars()
            .all()
        )
        assert len(halls) == 1 and halls[0].phone == "0576-1"
        assert [m.code for m in halls[0].matters] == codes[:2]
        centre = (
            await session.execute(
                select(Hall).options(selectinload(Hall.matters)).where(Hall.key == "luqiao-centre")
            )
        ).scalar_one()
        assert [m.code for m in centre.matters] == codes
        groups = (
            await session.execute(select(LiaisonGroup).where(LiaisonGroup.name == "新建联络群XK"))
        ).scalars()
        assert len(list(groups)) == 1
        logs = (
            await session.execute(
                select(ChangeLog.entity, ChangeLog.entity_key, ChangeLog.action).where(
                    ChangeLog.actor_name == name
                )
            )
        ).all()
    key = halls[0].key
    assert ("hall", key, "create") in logs and ("hall", key, "update") in logs
    assert ("hall", "luqiao-centre", "update") in logs
    assert {("contact", "t-c1", "create"), ("contact", "t-c2", "create")} <= set(logs)
    async with demo_db.read() as session:
        outbox = set(
            (
                await session.execute(
                    select(OutboxEvent.entity, OutboxEvent.entity_key).where(OutboxEvent.entity == "hall")
                )
            ).all()
        )
    assert ("hall", str(halls[0].id)) in outbox  # the id the flush gave it, not a placeholder
