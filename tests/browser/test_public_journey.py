"""The citizen's journey in a real browser (Debian Chromium via Playwright), with JavaScript on and
off, on a phone and a desktop: search → results → matter guide → hall. Plus keyboard-only search,
the display preferences, "use my location", and axe-core checks (no serious or critical
violations). Every step leaves a screenshot in test-artifacts/.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, Server

pytestmark = pytest.mark.browser

COVERED = "可以在台州任一县(市、区)办理"
VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}


class Journey:
    """One browser context (a viewport, JavaScript on or off) that records problems and screenshots."""

    def __init__(
        self,
        browser: Any,
        server: Server,
        artifacts: Path,
        name: str,
        viewport: dict[str, int],
        js: bool,
        **options: Any,
    ) -> None:
        self.server = server
        self.artifacts = artifacts
        self.name = name
        self.context = browser.new_context(
            viewport=viewport, java_script_enabled=js, locale="zh-CN", device_scale_factor=1, **options
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.problems: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.step = 0

    def goto(self, path: str) -> Any:
        return self.page.goto(self.server.url + path)

    def shot(self, label: str) -> Path:
        self.step += 1
        path = self.artifacts / f"{self.name}-{self.step:02d}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def journeys(browser: Any, server: Server, artifacts: Path) -> Iterator[Any]:
    opened: list[Journey] = []

    def open_journey(name: str, viewport: dict[str, int], js: bool = True, **options: Any) -> Journey:
        journey = Journey(browser, server, artifacts, name, viewport, js, **options)
        opened.append(journey)
        return journey

    yield open_journey
    for journey in opened:
        journey.close()


def body_text(page: Any) -> str:
    return re.sub(r"\s+", " ", page.inner_text("body"))


def finish_journey(j: Journey) -> None:
    """From the results: the first result's guide, then its first hall."""
    page = j.page
    first = page.locator("#results li.result").first
    assert COVERED in first.inner_text()
    first.locator("h2 a").click()
    page.wait_for_url(re.compile(r"/matters/M-\d+\?home=5113"))
    text = body_text(page)
    assert "办事指南" in text and "材料清单" in text and COVERED in text
    assert page.locator("h1").inner_text().strip()
    j.shot("matter")
    page.locator(".hall-card .hall-name a").first.click()
    page.wait_for_url(re.compile(r"/halls/\d+$"))
    text = body_text(page)
    assert "跨区域通办窗口" in text and "信息来源" in text
    j.shot("hall")
    assert not j.problems, j.problems


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_journey_with_javascript(journeys: Any, viewport: str) -> None:
    """Active search (htmx swaps the results and pushes the URL), pinyin type-ahead for the home."""
    j = journeys(f"js-{viewport}", VIEWPORTS[viewport], js=True)
    page = j.page
    j.goto("/")
    j.shot("lookup")
    page.fill("#q", "社保卡")
    page.wait_for_selector("#results li.result")
    page.wait_for_url(
        re.compile(r"/search\?q=%E7%A4%BE%E4%BF%9D%E5%8D%A1$")
    )  # hx-push-url, empty fields left out
    assert "选择户籍地" in page.inner_text("#results")
    assert "找到" in page.inner_text("#search-status")
    page.fill("#region-q", "nanchong")
    suggestion = page.locator("#region-suggestions a", has_text="四川省南充市")
    suggestion.wait_for()
    j.shot("type-ahead")
    suggestion.click()
    page.wait_for_url(re.compile(r"/search\?q=.+&home=511300"))
    assert COVERED in page.inner_text("#results")
    j.shot("results")
    finish_journey(j)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_journey_without_javascript(journeys: Any, viewport: str) -> None:
    """Plain GET forms: province → city → county reloads, then the search, then links."""
    j = journeys(f"nojs-{viewport}", VIEWPORTS[viewport], js=False)
    page = j.page
    j.goto("/")
    assert page.locator("#geo-button").is_hidden()  # needs JavaScript: stays hidden
    page.fill("#q", "社保卡")
    page.select_option("#province", "510000")
    page.get_by_role("button", name="显示下一级").click()
    page.wait_for_selector("#city")
    assert page.input_value("#q") == "社保卡"
    page.select_option("#city", "511300")
    page.get_by_role("button", name="显示下一级").click()
    page.wait_for_selector("#county")
    page.select_option("#county", "511302")
    page.select_option("#near", "331004")
    j.shot("lookup-chosen")
    page.click("#lookup-form .actions button[type=submit]")
    page.wait_for_url(re.compile(r"/search\?"))
    text = body_text(page)
    assert "四川省南充市顺庆区" in text and COVERED in text and "台州市路桥区" in text
    j.shot("results")
    finish_journey(j)


def test_keyboard_only_search(journeys: Any) -> None:
    """Tab from the top of the page: the skip link first, then on to the search box; type; Enter."""
    j = journeys("keyboard", DESKTOP, js=True)
    page = j.page
    j.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    for _ in range(30):
        if page.evaluate("document.activeElement.id") == "q":
            break
        page.keyboard.press("Tab")
    else:
        pytest.fail("the search box is not reachable with Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "focus must be visible"
    page.keyboard.type("户口迁移")
    page.keyboard.press("Enter")
    page.wait_for_selector("#results li.result")
    assert "户口迁移" in page.inner_text("#results")
    j.shot("keyboard-results")
    # the skip link moves focus into the main content
    j.goto("/search?q=户口迁移")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    assert not j.problems, j.problems


def test_keyboard_only_search_without_javascript(journeys: Any) -> None:
    j = journeys("keyboard-nojs", PHONE, js=False)
    page = j.page
    j.goto("/")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "q":
            break
    page.keyboard.type("公积金")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q="))
    assert page.locator("#results li.result").count() > 0


def test_display_preferences(journeys: Any) -> None:
    """大字模式 and 高对比度: switch in place with JavaScript, kept in the cookie on the next page."""
    j = journeys("prefs", PHONE, js=True)
    page = j.page
    j.goto("/matters/M-007")
    size_before = page.evaluate("parseFloat(getComputedStyle(document.querySelector('h3')).fontSize)")
    page.click("a[data-pref=large]")
    expect(page.locator("html")).to_have_class(re.compile(r"\bpref-large\b"))
    assert page.evaluate("parseFloat(getComputedStyle(document.querySelector('h3')).fontSize)") > size_before
    page.click("a[data-pref=contrast]")
    expect(page.locator("html")).to_have_class(re.compile(r"\bpref-contrast\b"))
    j.goto("/search?q=社保卡&home=511300")
    assert page.evaluate("document.documentElement.className") == "pref-contrast pref-large"
    j.shot("large-contrast-results")
    assert not j.problems, j.problems
    nojs = journeys("prefs-nojs", PHONE, js=False)
    nojs.goto("/prefs?text=large&back=/lists")
    assert nojs.page.url.endswith("/lists")
    assert "pref-large" in nojs.page.evaluate("document.documentElement.className")


def test_use_my_location(journeys: Any, server: Server) -> None:
    """On request only: the browser's position fills "where are you now", halls come nearest first."""
    j = journeys(
        "geo",
        PHONE,
        js=True,
        geolocation={"latitude": 29.12, "longitude": 121.38},
        permissions=["geolocation"],
    )
    page = j.page
    j.goto("/?home=511300&q=社会保障卡申领")
    page.click("#geo-button")
    expect(page.locator("#near")).to_have_value(re.compile(r"^\d+\.\d+,\d+\.\d+$"))
    assert "已使用你的位置" in page.inner_text("#geo-status")
    page.click("#lookup-form .actions button[type=submit]")
    page.wait_for_selector("#results li.result a[href^='/halls/']")
    first_hall = page.locator("#results li.result").first.locator("a[href^='/halls/']").first.inner_text()
    assert first_hall.startswith("三门县"), first_hall
    assert not j.problems, j.problems


def test_print_stylesheet_keeps_the_checklist(journeys: Any) -> None:
    j = journeys("print", DESKTOP, js=True)
    page = j.page
    j.goto("/matters/M-007")
    page.emulate_media(media="print")
    assert page.locator(".checklist").is_visible()
    assert page.locator(".site-header").is_hidden() and page.locator(".feedback-area").is_hidden()
    j.shot("print-view")


# ---------------------------------------------------------------- axe-core

AXE_PAGES = [
    ("lookup", "/"),
    ("lookup-province", "/?province=510000&pick=1"),
    ("results", "/search?q=社保卡&home=511300&near=331081001"),
    ("results-uncovered", "/search?q=户口迁移&home=110105"),
    ("matter", "/matters/M-007?home=511300"),
    ("matter-chooser", "/matters/M-001"),
    ("list", "/lists/cross-province"),
    ("hall", "/halls/1"),
    ("region", "/regions/511300"),
    ("region-local", "/regions/331004"),
    ("feedback", "/feedback"),
    ("not-found", "/matters/NOPE"),
]


def run_axe(page: Any, axe_source: str) -> list[dict[str, Any]]:
    page.add_script_tag(content=axe_source)
    options = {
        "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}
    }
    result = page.evaluate("options => axe.run(document, options)", options)
    return [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps(
        [
            {
                "id": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "nodes": [n["target"] for n in v["nodes"][:5]],
            }
            for v in violations
        ],
        ensure_ascii=False,
        indent=1,
    )


@pytest.mark.parametrize("prefs", ["standard", "large-contrast"])
@pytest.mark.parametrize(("label", "path"), AXE_PAGES)
def test_axe_finds_no_serious_violations(
    browser: Any, server: Server, artifacts: Path, axe_source: str, label: str, path: str, prefs: str
) -> None:
    # bypass_csp only so that axe itself can be injected; the pages are unchanged
    context = browser.new_context(viewport=PHONE, locale="zh-CN", bypass_csp=True, device_scale_factor=1)
    try:
        if prefs != "standard":
            context.add_cookies([{"name": "tb_prefs", "value": "contrast.large", "url": server.url}])
        page = context.new_page()
        page.goto(server.url + path)
        page.wait_for_load_state("networkidle")
        # open the collapsed feedback form too, so its fields are checked
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        violations = run_axe(page, axe_source)
        if prefs == "standard":
            page.screenshot(path=str(artifacts / f"axe-{label}.png"), full_page=True)
        assert not violations, describe(violations)
    finally:
        context.close()
