"""`GET /graphql` in a real Chromium: the API docs page starts GraphiQL (served by the project)
under the site's CSP (script-src 'self', no inline script or style) and runs an example query."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import DESKTOP, Server

pytestmark = pytest.mark.browser


def test_graphiql_runs_an_example_under_the_csp(server: Server, browser: Any) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def console(message: Any) -> None:
        # GraphiQL's stylesheet embeds its fonts as data: URIs, which font-src 'self' refuses:
        # the explorer then uses the page's fonts. Anything else the CSP blocks is a failure.
        if message.type == "error" and "data:font" not in message.text:
            problems.append(message.text)

    page.on("console", console)
    try:
        response = page.goto(server.url + "/graphql", wait_until="networkidle")
        assert response is not None and response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_selector("#graphiql[data-ready='1'] .graphiql-container", timeout=15_000)
        page.locator(".api-example-load").nth(2).click()  # "what did we sign": loads that example
        page.locator(".graphiql-execute-button").first.click()
        page.wait_for_function(
            "() => (document.querySelector('.result-window') || {}).innerText?.includes('citywideShared')",
            timeout=15_000,
        )
        result = page.locator(".result-window").inner_text()
        assert "四川省南充市" in result and '"errors"' not in result
        assert problems == []
    finally:
        context.close()


def test_examples_run_without_javascript(server: Server, browser: Any) -> None:
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(server.url + "/graphql")
        assert page.locator("#graphiql .graphiql-container").count() == 0
        page.locator("#example-coverage button[type=submit]").click()
        assert '"covered":true' in page.content().replace(" ", "")
    finally:
        context.close()


def test_docs_page_on_a_phone_has_no_serious_axe_violations(
    server: Server, browser: Any, axe_source: str
) -> None:
    """The server-rendered docs (the explorer's scripts blocked, so without GraphiQL's own widgets)
    on a 390 px phone: what people read and the example forms."""
    from tests.browser.conftest import PHONE
    from tests.browser.test_public_journey import describe, run_axe

    context = browser.new_context(viewport=PHONE, locale="zh-CN", bypass_csp=True)
    try:
        page = context.new_page()
        page.route("**/vendor/graphiql/*.js*", lambda route: route.abort())
        page.goto(server.url + "/graphql")
        page.wait_for_load_state("networkidle")
        violations = run_axe(page, axe_source)
        assert not violations, describe(violations)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width} px)"
    finally:
        context.close()
