"""Staff put real data in without a shell, in a real browser (Debian Chromium via Playwright):
the city admin creates a 路桥区 account on /staff/users; that clerk, on a 390 px phone, downloads
nothing and types nothing but uploads a sheet on /staff/import, checks it (counts, the field diff,
nothing written), then applies it and finds the new hall; a bad sheet names its row and field and
writes nothing; the 数据体检 page lists what is missing with links to the forms. axe-core finds no
serious or critical violation on the import result, the accounts page and the data-health page.

The server is a real uvicorn process over its own fresh SQLite demo database (this test writes).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_public_journey import describe, run_axe
from tests.support.server import demo_server

pytestmark = pytest.mark.browser

ADMIN, ADMIN_PASSWORD = "city-data-admin", "city admin passphrase"
CLERK, CLERK_PASSWORD = "luqiao-data", "luqiao data passphrase"
NEW_HALL = {
    "key": "b-luqiao-jinqing",
    "name": "路桥区金清镇便民服务中心",
    "regionCode": "331004",
    "level": "TOWN",
    "address": "路桥区金清镇金清大道88号",
    "phone": "0576-82900000",
    "hasCrossRegionWindow": True,
}


WATCHER, WATCHER_PASSWORD = "luqiao-progress", "luqiao progress passphrase"


@pytest.fixture(scope="module")
def data_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("staff-data-server")


@pytest.fixture(scope="module")
def data_server(data_workdir: Path) -> Iterator[str]:
    with demo_server(
        data_workdir,
        (ADMIN, ADMIN_PASSWORD, "admin", "331000"),
        (WATCHER, WATCHER_PASSWORD, "county", "331004"),
    ) as url:
        yield url


def _on_database(workdir: Path, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run `work(database)` against the served database (in a thread: Playwright's loop runs here)."""

    async def run() -> Any:
        from api.db import Database

        database = Database(f"sqlite+aiosqlite:///{workdir / 'tongban.db'}")
        try:
            return await work(database)
        finally:
            await database.dispose()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


def _plant_job(workdir: Path, **progress: Any) -> str:
    """A running apply job of the WATCHER account, at the given stage."""

    async def work(database: Any) -> str:
        from sqlalchemy import select

        from api.models import StaffUser
        from api.services.base import Actor, ServiceContext
        from api.services.import_jobs import start_job, update_job
        from api.services.regions import load_tree

        async with database.read() as session:
            user = (await session.execute(select(StaffUser).where(StaffUser.name == WATCHER))).scalar_one()
            tree = await load_tree(session)
        actor = Actor(user.name, user.role, user.region_code, "import", user.id)
        job = await start_job(database, ServiceContext(actor, tree, "331000"), "apply", "路桥大厅.xlsx")
        await update_job(database, job, **progress)
        return job

    return _on_database(workdir, work)  # type: ignore[no-any-return]


def _move_job(workdir: Path, job: str, **values: Any) -> None:
    async def work(database: Any) -> None:
        from api.services.import_jobs import update_job

        await update_job(database, job, **values)

    _on_database(workdir, work)


DONE_RESULT = {
    "applied": True,
    "sections": {"halls": [5000, 4990, 0, 10]},
    "changes": [["halls", "b-progress-1", "create", []]],
    "changesTotal": 4990,
    "errors": [],
    "errorsTotal": 0,
}


def _text(page: Any, selector: str = "body") -> str:
    return re.sub(r"\s+", " ", page.inner_text(selector))


def _watch(page: Any, problems: list[str]) -> None:
    page.set_default_timeout(20_000)

    def console(message: Any) -> None:
        # the bad sheet's answer is a 422 on purpose (the browser logs every 4xx page load)
        if message.type in ("error", "warning") and "status of 422" not in message.text:
            problems.append(f"console {message.type} on {page.url}: {message.text}")

    page.on("console", console)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))


def _sign_in(page: Any, url: str, name: str, password: str, target: str) -> None:
    page.goto(url + target)
    page.wait_for_url(re.compile(r"/staff/login\?next="))
    page.fill("#name", name)
    page.fill("#password", password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(re.escape(target) + "$"))


def _axe_clean(page: Any, axe_source: str) -> None:
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    violations = run_axe(page, axe_source)
    assert not violations, describe(violations)


def test_admin_creates_an_account_and_the_clerk_imports_a_sheet(
    browser: Any, data_server: str, artifacts: Path, axe_source: str
) -> None:
    problems: list[str] = []
    admin_context = browser.new_context(locale="zh-CN", viewport=DESKTOP, bypass_csp=True)
    admin = admin_context.new_page()
    _watch(admin, problems)
    _sign_in(admin, data_server, ADMIN, ADMIN_PASSWORD, "/staff/users")
    admin.fill("#username", CLERK)
    admin.select_option("#role", "county")
    admin.fill("#regionCode", "331004")
    admin.fill("#password", CLERK_PASSWORD)
    admin.get_by_role("button", name="创建账号").click()
    admin.wait_for_url(re.compile(r"/staff/users\?saved=created$"))
    listing = _text(admin)
    assert "账号已创建" in listing and CLERK in listing and "路桥区" in listing
    admin.screenshot(path=str(artifacts / "staff-data-01-accounts.png"), full_page=True)
    _axe_clean(admin, axe_source)

    # the new clerk, on a phone, checks a sheet and then applies it
    clerk_context = browser.new_context(locale="zh-CN", viewport=PHONE, bypass_csp=True)
    clerk = clerk_context.new_page()
    _watch(clerk, problems)
    _sign_in(clerk, data_server, CLERK, CLERK_PASSWORD, "/staff/import")
    changed = {
        "key": "luqiao-centre",
        "name": "路桥区行政服务中心",
        "regionCode": "331004",
        "level": "COUNTY",
        "phone": "0576-82400000",
    }
    sheet = json.dumps({"halls": [NEW_HALL, changed]}, ensure_ascii=False).encode()
    clerk.set_input_files(
        "#import-file", files=[{"name": "路桥大厅.json", "mimeType": "application/json", "buffer": sheet}]
    )
    clerk.check("#mode-check")
    clerk.get_by_role("button", name="上传并执行").click()
    clerk.locator("#result-heading").wait_for()
    result = _text(clerk, ".import-result")
    assert "检查通过, 尚未写入" in result
    assert "服务大厅 2 1 1 0" in _text(clerk, "#import-counts")
    assert "电话(phone)" in result and "0576-82400000" in result
    clerk.screenshot(path=str(artifacts / "staff-data-02-import-check.png"), full_page=True)
    _axe_clean(clerk, axe_source)
    # the result the clerk waited for comes before the form to upload again, and each choice's
    # radio sits beside its label (on one line, also at 390 px), not above it
    result_top = clerk.locator("#result-heading").bounding_box()
    form_top = clerk.locator("#import-file").bounding_box()
    assert result_top and form_top and result_top["y"] < form_top["y"]
    for mode in ("check", "apply"):
        radio = clerk.locator(f"#mode-{mode}").bounding_box()
        label = clerk.locator(f"label[for=mode-{mode}]").bounding_box()
        assert radio and label and label["x"] > radio["x"] + radio["width"], mode
        assert (
            abs((label["y"] + label["height"] / 2) - (radio["y"] + radio["height"] / 2)) < label["height"]
        ), mode
    clerk.goto(data_server + "/staff/halls")
    assert NEW_HALL["name"] not in _text(clerk)  # the check wrote nothing

    clerk.goto(data_server + "/staff/import")
    clerk.set_input_files(
        "#import-file", files=[{"name": "路桥大厅.json", "mimeType": "application/json", "buffer": sheet}]
    )
    clerk.check("#mode-apply")
    clerk.get_by_role("button", name="上传并执行").click()
    clerk.locator("#result-heading").wait_for()
    assert "已导入" in _text(clerk, "#result-heading")
    clerk.goto(data_server + "/staff/halls")
    assert NEW_HALL["name"] in _text(clerk)

    # a bad sheet: every bad row and field named, nothing written
    bad = json.dumps(
        {
            "halls": [
                {**NEW_HALL, "key": "b-other"},
                {**NEW_HALL, "key": "b-yuhuan", "regionCode": "331083"},
                {"key": "b-broken", "regionCode": "331004", "level": "TOWN"},
            ]
        },
        ensure_ascii=False,
    ).encode()
    clerk.goto(data_server + "/staff/import")
    clerk.set_input_files(
        "#import-file", files=[{"name": "有误.json", "mimeType": "application/json", "buffer": bad}]
    )
    clerk.check("#mode-apply")
    clerk.get_by_role("button", name="上传并执行").click()
    clerk.locator("#import-errors").wait_for()
    errors = _text(clerk, "#import-errors")
    assert "第2条 b-yuhuan" in errors and "第3条 b-broken 大厅名称(name) 必填" in errors
    assert "未写入任何数据" in _text(clerk, "#result-heading")
    clerk.screenshot(path=str(artifacts / "staff-data-03-import-errors.png"), full_page=True)
    clerk.goto(data_server + "/staff/halls")
    assert "b-other" not in clerk.content()

    # 数据体检: the clerk's county, each line a link to its form
    clerk.goto(data_server + "/staff/health")
    section = _text(clerk, "#health-331004")
    assert "乡镇(街道)未录入便民服务中心" in section and "从未核实" in section
    link = clerk.locator("#health-331004 a[href^='/staff/halls/']").first
    href = link.get_attribute("href")
    link.click()
    clerk.wait_for_url(re.compile(re.escape(href or "/nowhere") + "$"))
    assert clerk.locator("#coordinates").count() == 1  # the hall form, with the pasted-coordinates field
    clerk.goto(data_server + "/staff/health")
    clerk.screenshot(path=str(artifacts / "staff-data-04-health.png"), full_page=True)
    _axe_clean(clerk, axe_source)

    admin_context.close()
    clerk_context.close()
    assert not problems, problems


def test_a_running_import_shows_its_progress_with_and_without_javascript(
    browser: Any, data_server: str, data_workdir: Path, artifacts: Path, axe_source: str
) -> None:
    """The job's page: the stage, a <progress> bar and "已检查 1,500 / 5,000 行" in a status region.
    With JavaScript the region follows the job in place (focus stays where it was) and the result
    replaces it when the job ends; without, the 刷新进度 link shows the latest."""
    problems: list[str] = []
    context = browser.new_context(locale="zh-CN", viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    _watch(page, problems)
    _sign_in(page, data_server, WATCHER, WATCHER_PASSWORD, "/staff/import")
    job = _plant_job(data_workdir, stage="checking:halls", done=1500, total=5000)
    page.goto(f"{data_server}/staff/import/jobs/{job}")
    region = page.locator("#import-progress[role=status]")
    assert "已检查 1,500 / 5,000 行" in _text(page, "#import-progress")
    assert page.locator("#import-progress progress").get_attribute("value") == "1500"
    page.screenshot(path=str(artifacts / "staff-data-05-import-progress.png"), full_page=True)
    _axe_clean(page, axe_source)

    page.focus("#refresh-progress")
    _move_job(data_workdir, job, stage="writing:halls", done=4000)
    # htmx polled and swapped the region
    region.locator(".import-count").get_by_text("已写入 4,000 / 5,000 行").wait_for()
    assert page.locator("#import-progress progress").get_attribute("value") == "4000"
    assert page.evaluate("document.activeElement.id") == "refresh-progress"  # nothing took the focus
    assert "写入数据库: 服务大厅" in _text(page, "#import-progress")

    _move_job(data_workdir, job, state="done", stage="done", result=DONE_RESULT)
    page.locator("#result-heading").wait_for()  # the job ended: the page shows the result
    assert "已导入" in _text(page, "#result-heading")
    assert "服务大厅 5000 4990 0 10" in _text(page, "#import-counts")
    assert page.locator("#import-progress").count() == 0
    context.close()

    # without JavaScript: the same page, a link to see the latest
    plain = browser.new_context(locale="zh-CN", viewport=PHONE, java_script_enabled=False)
    page = plain.new_page()
    _watch(page, problems)
    _sign_in(page, data_server, WATCHER, WATCHER_PASSWORD, "/staff/import")
    job = _plant_job(data_workdir, stage="comparing:halls", done=2000, total=5000)
    page.goto(f"{data_server}/staff/import/jobs/{job}")
    assert "已比对 2,000 / 5,000 行" in _text(page, "#import-progress")
    _move_job(data_workdir, job, stage="writing:halls", done=4500)
    page.get_by_role("link", name="刷新进度").click()
    page.wait_for_load_state()
    assert "已写入 4,500 / 5,000 行" in _text(page, "#import-progress")
    _move_job(data_workdir, job, state="done", stage="done", result=DONE_RESULT)
    page.get_by_role("link", name="刷新进度").click()
    page.locator("#result-heading").wait_for()
    assert "已导入" in _text(page, "#result-heading")
    plain.close()
    assert not problems, problems
