"""The staff journey in a real browser (Debian Chromium via Playwright, never `playwright install`):
a 路桥区 (331004) window clerk signs in and registers an agreement with a new partner region,
贵州省黔东南苗族侗族自治州 (522600); then a citizen from 凯里市 (522601, a county of that region)
searches the public site for 社保卡 and finds the matters covered, with the new agreement named in
the reason (一地签约、全市共享: it reaches every county, not only 路桥区).

The server is a real uvicorn process on a free loopback port over a fresh SQLite demo database
built with `api.cli.initialise` (not the public journey's shared server: this test writes).
The catalog and search index follow the change outbox with ~1 s polling, so the citizen's page is
reloaded until the change shows.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import demo_server

pytestmark = pytest.mark.browser

PASSWORD = "luqiao window 2025"
CLERK = "luqiao-window"
PARTNER = "522600"  # 贵州省黔东南苗族侗族自治州
CITIZEN_HOME = "522601"  # 凯里市
NEW_TITLE = "贵州省黔东南苗族侗族自治州与浙江省台州市路桥区跨省通办合作协议"


@pytest.fixture(scope="module")
def staff_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with demo_server(tmp_path_factory.mktemp("staff-server"), (CLERK, PASSWORD, "county", "331004")) as url:
        yield url


def _text(page: Any, selector: str = "body") -> str:
    return re.sub(r"\s+", " ", page.inner_text(selector))


def test_county_clerk_adds_an_agreement_and_a_citizen_of_that_region_finds_it(
    browser: Any, staff_server: str, artifacts: Path
) -> None:
    problems: list[str] = []
    search = f"{staff_server}/search?q=社保卡&home={CITIZEN_HOME}"

    def watch(page: Any) -> None:
        page.set_default_timeout(15_000)
        page.on(
            "console",
            lambda m: (
                problems.append(f"console {m.type} on {page.url}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    # before: nobody from 黔东南 is covered yet
    citizen = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    public = citizen.new_page()
    watch(public)
    public.goto(search)
    before = _text(public, "#results")
    assert "社会保障卡" in before
    assert "黔东南苗族侗族自治州—路桥区协议" not in before
    assert "暂不能在台州办理" in before  # the compact card's one-line verdict (issue 15)

    # the clerk signs in ...
    clerk = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = clerk.new_page()
    watch(page)
    page.goto(f"{staff_server}/staff/agreements/new")
    page.wait_for_url(re.compile(r"/staff/login\?next="))
    page.fill("#name", CLERK)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/staff/agreements/new$"))
    page.screenshot(path=str(artifacts / "staff-01-agreement-form.png"), full_page=True)

    # ... fills in the agreement: the 一地签约、全市共享 clause is on by default, and the
    # server-rendered preview (refreshed by htmx as the form changes) shows its reach
    assert page.is_checked("#citywideShared")
    assert page.input_value("#localCode") == "331004"
    page.fill("#partnerCode", PARTNER)
    page.fill("#signedOn", time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600)))
    page.fill("#documentRef", "路政服〔2025〕1号")  # moving on fires "change" on the fields above
    preview = page.locator("#reach-preview")
    preview.get_by_text("贵州省黔东南苗族侗族自治州").wait_for()
    preview.get_by_text("签约后第 0 天").wait_for()
    reach = _text(page, "#reach-preview")
    assert "一地签约、全市共享" in reach and "全市 9 个县(市、区)" in reach and "签约后第 0 天" in reach
    page.screenshot(path=str(artifacts / "staff-02-reach-preview.png"), full_page=True)
    page.get_by_role("button", name="登记协议").click()
    page.wait_for_url(re.compile(r"/staff/agreements/\d+\?saved=1$"))
    saved = _text(page)
    assert NEW_TITLE in saved and "已保存" in saved and "按时" in saved
    page.screenshot(path=str(artifacts / "staff-03-agreement-saved.png"), full_page=True)

    # the citizen from 凯里市 now finds the matters, and the reason names the new agreement
    deadline = time.monotonic() + 20
    while True:
        public.goto(search)
        results = _text(public, "#results")
        if "黔东南苗族侗族自治州—路桥区协议" in results:  # the compact card names the agreement (issue 15)
            break
        if time.monotonic() > deadline:
            pytest.fail(f"the new agreement did not reach the public results within 20 s:\n{results[:1500]}")
        time.sleep(0.5)
    first = public.locator("#results li.result").first
    reason = re.sub(r"\s+", " ", first.inner_text())
    assert "社会保障卡" in reason or "社保卡" in reason
    assert "可以在台州任一县(市、区)办理" in reason
    assert "黔东南苗族侗族自治州" in reason and "路桥区" in reason and "一地签约、全市共享" in reason
    public.screenshot(path=str(artifacts / "staff-04-citizen-results.png"), full_page=True)

    clerk.close()
    citizen.close()
    assert not problems, problems
