"""The public needs survey (issue 21): anonymous answers stored and summarised; its abuse limits
(CSRF, rate limit, size caps, no markup / links / personal data stored or rendered) each refuse
before anything is written. Database tests run on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api.db import Database
from api.models import SurveyResponse
from api.settings import Settings
from tests.test_staff_helpers import signed_in
from web.survey import MAX_BODY_BYTES, PER_ADDRESS, SharedSubmissionLimiter, SubmissionLimiter

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def client_at(app: Any, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def open_form(client: httpx.AsyncClient) -> tuple[str, list[str]]:
    page = await client.get("/survey")
    assert page.status_code == 200
    matters = re.findall(r'name="matterCodes" value="([^"]+)"', page.text)
    return _TOKEN.search(page.text).group(1), matters  # type: ignore[union-attr]


async def stored(settings: Settings) -> list[SurveyResponse]:
    database = Database(settings.database_url)
    try:
        async with database.read() as session:
            return list((await session.execute(select(SurveyResponse).order_by(SurveyResponse.id))).scalars())
    finally:
        await database.dispose()


async def count(settings: Settings) -> int:
    database = Database(settings.database_url)
    try:
        async with database.read() as session:
            return int((await session.execute(select(func.count()).select_from(SurveyResponse))).scalar_one())
    finally:
        await database.dispose()


def answer(token: str, matters: list[str], **changes: Any) -> dict[str, Any]:
    return {
        "csrf_token": token,
        "respondent": "PERSON",
        "homeProvince": "510000",
        "homeRegion": "南充",
        "matterCodes": matters[:2],
        "obstacles": ["TRAVEL", "MATERIALS"],
        "comment": "希望社保卡能异地补办",
        **changes,
    }


async def test_anonymous_answer_is_stored_and_summarised(app: Any, settings: Settings) -> None:
    async with client_at(app, "10.0.0.1") as citizen:
        token, matters = await open_form(citizen)
        assert len(matters) >= 10
        response = await citizen.post("/survey", data=answer(token, matters))
        assert response.status_code == 303 and response.headers["location"] == "/survey/thanks"
        company = answer(
            token,
            matters,
            respondent="COMPANY",
            homeProvince="520000",
            homeRegion="",
            matterCodes=[matters[0]],
            obstacles=[],
            comment="",
            otherMatter="企业跨省迁移登记",
        )
        assert (await citizen.post("/survey", data=company)).status_code == 303
        thanks = await citizen.get("/survey/thanks")
        assert thanks.status_code == 200 and "感谢参与调查" in thanks.text
    rows = await stored(settings)
    assert [(r.respondent, r.home_province, r.home_region) for r in rows] == [
        ("PERSON", "510000", "511300"),
        ("COMPANY", "520000", None),
    ]
    assert rows[0].matter_codes == matters[:2] and rows[1].other_matter == "企业跨省迁移登记"

    async with signed_in(app, settings, "admin", "331000") as admin:
        board = await admin.get("/staff/dashboard")
        assert board.status_code == 200
        survey = board.text.split('id="survey"', 1)[1].split("</section>", 1)[0]
        assert "共 2 份答卷" in survey and "四川省" in survey and "贵州省" in survey
        assert re.search(r"<td>[^<]+</td><td>2</td>", survey)  # the first matter was chosen twice
        export = await admin.get("/staff/survey.csv")
        assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
        lines = export.content.decode("utf-8-sig").splitlines()
        assert (
            len(lines) == 3
            and "四川省" in lines[1]
            and "南充市" in lines[1]
            and "企业跨省迁移登记" in lines[2]
        )
        xlsx = await admin.get("/staff/survey.xlsx")
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    async with signed_in(app, settings, "partner", "511300") as partner:
        assert (await partner.get("/staff/survey.csv")).status_code == 403


async def test_without_a_csrf_token_nothing_is_stored(app: Any, settings: Settings) -> None:
    async with client_at(app, "10.0.0.2") as citizen:
        _, matters = await open_form(citizen)
        refused = await citizen.post("/survey", data=answer("forged", matters))
        assert refused.status_code == 403 and "提交没有成功" in refused.text
        assert "希望社保卡能异地补办" in refused.text  # what was typed is kept
    async with client_at(app, "10.0.0.3") as stranger:  # no cookie at all
        refused = await stranger.post("/survey", data=answer("x", ["M"]))
        assert refused.status_code == 403
    assert await count(settings) == 0


async def test_rate_limit_per_address(app: Any, settings: Settings) -> None:
    async with client_at(app, "10.0.0.4") as busy:
        token, matters = await open_form(busy)
        for _ in range(PER_ADDRESS + 2):  # answers refused for a typo do not use up the allowance
            assert (
                await busy.post("/survey", data=answer(token, matters, homeProvince="x"))
            ).status_code == 400
        for _ in range(PER_ADDRESS):
            assert (await busy.post("/survey", data=answer(token, matters))).status_code == 303
        limited = await busy.post("/survey", data=answer(token, matters, comment="第六份"))
        assert limited.status_code == 429 and "提交太频繁" in limited.text and "第六份" in limited.text
        assert limited.headers["retry-after"]
    async with client_at(app, "10.0.0.5") as other:
        token, matters = await open_form(other)
        assert (await other.post("/survey", data=answer(token, matters))).status_code == 303
    assert await count(settings) == PER_ADDRESS + 1


@pytest.mark.parametrize(
    ("changes", "field_message"),
    [
        ({"comment": "<script>alert(1)</script>"}, "不要包含尖括号"),
        ({"otherMatter": "<b>户口</b>"}, "不要包含尖括号"),
        ({"comment": "详见 https://spam.example/x"}, "不要填写网址"),
        ({"comment": "请打我电话13812345678"}, "不要填写电话号码"),
        ({"comment": "身份证 51130219900101123X"}, "不要填写电话号码、身份证号"),
        ({"comment": "长" * 501}, "过长"),
        ({"otherMatter": "长" * 101}, "过长"),
        ({"matterCodes": [], "otherMatter": ""}, "请至少选择一个事项"),
        ({"homeProvince": "511300"}, "请从列表中选择省份"),
        ({"homeRegion": "温州"}, "没有找到"),
        ({"respondent": "ROBOT"}, "请选择个人或企业"),
        ({"obstacles": ["HACK"]}, "请从列表中选择"),
    ],
)
async def test_bad_answers_are_refused_with_a_message_and_nothing_stored(
    app: Any, settings: Settings, changes: dict[str, Any], field_message: str
) -> None:
    async with client_at(app, "10.0.0.6") as citizen:
        token, matters = await open_form(citizen)
        refused = await citizen.post("/survey", data=answer(token, matters, **changes))
        assert refused.status_code == 400, refused.text[:500]
        assert field_message in refused.text
        assert (
            "<script>alert" not in refused.text and "<b>户口" not in refused.text
        )  # shown escaped, never as HTML
    assert await count(settings) == 0


async def test_size_caps(app: Any, settings: Settings) -> None:
    async with client_at(app, "10.0.0.7") as citizen:
        token, matters = await open_form(citizen)
        too_many = await citizen.post("/survey", data=answer(token, matters, matterCodes=matters[:11]))
        assert too_many.status_code == 400 and "最多 10 项" in too_many.text
        huge = await citizen.post("/survey", data=answer(token, matters, comment="长" * MAX_BODY_BYTES))
        assert huge.status_code == 413 and "提交内容过长" in huge.text
    assert await count(settings) == 0


async def test_the_form_works_without_javascript_and_is_labelled(client: httpx.AsyncClient) -> None:
    page = await client.get("/survey")
    html = page.text
    assert '<form method="post" action="/survey"' in html
    assert "<script>" not in html.split("<main", 1)[1]  # no inline script in the page body
    for field_id in ("sv-province", "sv-region", "sv-other", "sv-comment"):
        assert f'<label for="{field_id}"' in html
    assert html.count("<fieldset") == 3 and html.count("<legend>") == 3
    assert "姓名" not in html.split("<form", 1)[1].split("</form>", 1)[0].replace("不需要填写姓名", "")


LIMITER_TABLE = [
    # (times of attempts from one address, expected answers) with 3 per 60 s and 100 overall a minute
    ([0, 1, 2, 3], [True, True, True, False]),
    ([0, 1, 2, 61], [True, True, True, True]),  # the window slides
    ([0, 30, 59, 60, 61], [True, True, True, True, False]),
]


@pytest.mark.parametrize(("times", "expected"), LIMITER_TABLE)
def test_limiter_per_address(times: list[float], expected: list[bool]) -> None:
    limiter = SubmissionLimiter(per_address=3, window=60.0, overall_per_minute=100)
    assert [limiter.allow("a", t) for t in times] == expected


def test_limiter_overall_and_bounded_memory() -> None:
    limiter = SubmissionLimiter(per_address=3, window=60.0, overall_per_minute=5, max_addresses=4)
    answers = [limiter.allow(f"10.0.0.{i}", float(i)) for i in range(8)]
    assert answers == [True] * 5 + [False] * 3  # a crowd of new addresses meets the overall cap
    assert len(limiter.by_address) <= 4
    assert limiter.allow("10.0.0.99", 70.0)  # a minute later there is room again


@pytest.mark.parametrize(("times", "expected"), LIMITER_TABLE)
def test_shared_limiter_two_workers_one_budget(
    tmp_path: Any, times: list[float], expected: list[bool]
) -> None:
    """Two workers' limiters over one run folder: the same windows as one in-memory limiter, the
    attempts spread over both (times from 1000: the monotonic clock is never near zero)."""
    path = tmp_path / SharedSubmissionLimiter.FILE_NAME
    SharedSubmissionLimiter.create(path)
    workers = [
        SharedSubmissionLimiter(path, per_address=3, window=60.0, overall_per_minute=100) for _ in range(2)
    ]
    answers = [workers[i % 2].allow("a", 1000.0 + t) for i, t in enumerate(times)]
    assert answers == expected
    assert workers[0].allow("b", 1000.0)  # another address has its own window


def test_shared_limiter_overall_cap_and_check_records_nothing(tmp_path: Any) -> None:
    path = tmp_path / SharedSubmissionLimiter.FILE_NAME
    one, two = (
        SharedSubmissionLimiter(path, per_address=3, window=60.0, overall_per_minute=5) for _ in range(2)
    )
    assert all(one.check("10.0.0.1", 1000.0) for _ in range(10))  # checking uses nothing up
    answers = [(one if i % 2 else two).allow(f"10.0.0.{i}", 1000.0 + i) for i in range(8)]
    assert answers == [True] * 5 + [False] * 3
    assert two.allow("10.0.0.99", 1070.0)  # a minute later there is room again


async def test_two_workers_of_one_serve_share_the_survey_budget(settings: Settings, tmp_path: Any) -> None:
    """Under `tongban serve --workers 2` the kernel spreads one address's requests over both
    workers: the survey's per-address limit holds for the host, not per worker."""
    import dataclasses

    from api.app import create_app

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shared = dataclasses.replace(settings, run_dir=run_dir)
    first, second = create_app(shared), create_app(shared)
    async with (
        first.router.lifespan_context(first),
        second.router.lifespan_context(second),
        client_at(first, "10.0.0.7") as via_first,
        client_at(second, "10.0.0.7") as via_second,
    ):
        token, matters = await open_form(via_first)
        via_second.cookies.update(via_first.cookies)
        statuses = []
        for i in range(PER_ADDRESS + 1):
            worker = via_first if i % 2 == 0 else via_second
            statuses.append((await worker.post("/survey", data=answer(token, matters))).status_code)
    assert statuses == [303] * PER_ADDRESS + [429]
    assert await count(settings) == PER_ADDRESS
