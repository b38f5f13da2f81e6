"""Cooperation work and the needs survey in a real browser (Debian Chromium via Playwright):

- a 路桥区 (331004) clerk records a 会商 with 南充市 (a RED partner in the demo data) through the
  staff form, with JavaScript off; the partner's page then shows it next to the agreements, and the
  "no consultation in 12 months" list no longer names 南充市;
- a citizen answers the needs survey on a 390 px phone with JavaScript off, after first being told
  (next to the field, with the input kept) that a phone number may not be written in it; axe-core
  finds no serious or critical violations on the survey, the form's error state and the staff pages.

Its own server (this test writes): a fresh SQLite demo database built with `api.cli.initialise`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_public_journey import describe, run_axe
from tests.support.server import demo_server

pytestmark = pytest.mark.browser

CLERK, PASSWORD = "luqiao-coop", "luqiao coop 2026"


@pytest.fixture(scope="module")
def coop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with demo_server(tmp_path_factory.mktemp("coop-server"), (CLERK, PASSWORD, "county", "331004")) as url:
        yield url


def _text(page: Any, selector: str = "body") -> str:
    return re.sub(r"\s+", " ", page.inner_text(selector))


def _consultation_due(page: Any) -> str:
    text = _text(page, "#due")
    return text.split("近12个月未会商", 1)[1].split("今年尚未业务指导", 1)[0]


def test_clerk_records_a_consultation_without_javascript(
    browser: Any, coop_server: str, artifacts: Path, axe_source: str
) -> None:
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, java_script_enabled=False
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{coop_server}/staff/activities")
    page.wait_for_url(re.compile(r"/staff/login\?next="))
    page.fill("#name", CLERK)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/staff/activities$"))
    assert "南充市" in _consultation_due(page)

    page.get_by_role("link", name="登记合作交流活动").click()
    page.wait_for_url(re.compile(r"/staff/activities/new$"))
    assert page.input_value("#localCode") == "331004"
    page.select_option("#kind", "CONSULTATION")
    page.fill("#partnerCode", "331003")  # 黄岩区 is in Taizhou: the error comes back next to the field
    page.fill("#title", "南充—路桥通办合作城市会商")
    page.fill("#participants", "12")
    page.get_by_role("button", name="保存").click()
    assert "合作地区应在台州市以外" in _text(page, ".has-error")
    assert page.input_value("#title") == "南充—路桥通办合作城市会商"  # what was typed is kept
    page.screenshot(path=str(artifacts / "coop-01-activity-form-error.png"), full_page=True)
    page.fill("#partnerCode", "南充市")
    page.fill("#outcome", "互认社保卡补办材料清单")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(re.compile(r"/staff/activities/partner/511300\?saved=1$"))
    partner = _text(page)
    assert (
        "已保存" in partner and "南充—路桥通办合作城市会商" in partner and "互认社保卡补办材料清单" in partner
    )
    assert "四川省南充市与浙江省台州市路桥区" in partner  # the agreements beside the activities
    page.screenshot(path=str(artifacts / "coop-02-partner-page.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # fits a phone

    page.goto(f"{coop_server}/staff/activities")
    assert "南充市" not in _consultation_due(page) and "毕节市" in _consultation_due(page)
    context.close()

    # axe on the staff pages (JavaScript on, only so axe itself can run)
    checked = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, bypass_csp=True)
    staff = checked.new_page()
    staff.goto(f"{coop_server}/staff/login")
    staff.fill("#name", CLERK)
    staff.fill("#password", PASSWORD)
    staff.get_by_role("button", name="登录").click()
    staff.wait_for_url(re.compile(r"/staff/$"))
    for path in ("/staff/activities", "/staff/activities/new", "/staff/activities/partner/511300"):
        staff.goto(f"{coop_server}{path}")
        violations = run_axe(staff, axe_source)
        assert not violations, f"{path}: {describe(violations)}"
    checked.close()


def test_citizen_answers_the_survey_on_a_phone_without_javascript(
    browser: Any, coop_server: str, artifacts: Path, axe_source: str
) -> None:
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, java_script_enabled=False
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{coop_server}/")
    page.get_by_role("link", name="跨区域办事需求调查").click()
    page.wait_for_url(re.compile(r"/survey$"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone
    page.get_by_role("radio", name="个人").check()
    page.select_option("#sv-province", "510000")
    page.fill("#sv-region", "南充")
    page.get_by_role("checkbox", name="社会保障卡申领").first.check()
    page.get_by_label("还要回户籍地(参保地)跑").check()
    page.fill("#sv-comment", "补卡要回老家, 电话13812345678")
    page.get_by_role("button", name="提交").click()
    assert "请不要填写电话号码" in _text(page)
    assert page.input_value("#sv-region") == "南充" and page.is_checked("#sv-o-travel")
    page.screenshot(path=str(artifacts / "coop-03-survey-error.png"), full_page=True)
    page.fill("#sv-comment", "补卡要回老家")
    page.get_by_role("button", name="提交").click()
    page.wait_for_url(re.compile(r"/survey/thanks$"))
    assert "感谢参与调查" in _text(page)
    page.screenshot(path=str(artifacts / "coop-04-survey-thanks.png"), full_page=True)
    context.close()

    checked = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, bypass_csp=True)
    survey = checked.new_page()
    survey.goto(f"{coop_server}/survey")
    violations = run_axe(survey, axe_source)
    assert not violations, describe(violations)
    survey.get_by_role("button", name="提交").click()  # empty: every error shown, still accessible
    survey.wait_for_selector(".error-summary")
    violations = run_axe(survey, axe_source)
    assert not violations, describe(violations)
    checked.close()
