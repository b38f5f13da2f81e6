"""Issue 15 through the real app, on SQLite and PostgreSQL: result headings are the matters' official
names; compact cards within 6 KB; homes typed as people write them; presumptions and exceptions to
一地签约、全市共享 said on the verdict, in GraphQL and on the staff side; ETag and 304 on public pages.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from api.bundled import demo_document
from api.rules import AgreementFacts, CoverageResult, is_presumed
from api.settings import Settings
from tests.test_staff_forms import _agreement, _text
from tests.test_staff_helpers import read_form, signed_in, with_values

SHUNQING = "511302"  # 四川省南充市顺庆区: covered by the 路桥 agreement, whose item list was never entered
BIJIE = "520500"  # 贵州省毕节市: an agreement listing three matters
SHANGRAO = "361100"  # 江西省上饶市: an agreement with 玉环市 only, with its reason
COVERED = "可以在台州任一县(市、区)办理"
PRESUMED = "该协议的事项清单未录入，按全部跨省通办事项推定，办理前请先电话确认"


def cards(html: str) -> list[str]:
    return [part.split("</li>", 1)[0] for part in html.split('<li class="result')[1:]]


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


# ---------------------------------------------------------------- headings


@pytest.mark.parametrize("query", ["毕业生落户", "开公司", "驾照到期", "社保卡", "落户"])
async def test_result_headings_are_official_names(client: httpx.AsyncClient, query: str) -> None:
    names = {m["name"] for m in demo_document()["matters"]}
    html = (await client.get("/search", params={"q": query, "home": SHUNQING})).text
    headings = [text(h) for h in re.findall(r"<h2><a [^>]*>(.*?)</a></h2>", html)]
    assert headings, html[:300]
    assert all(h.replace(" ", "") in names for h in headings), headings


async def test_the_word_that_matched_follows_in_small_print(client: httpx.AsyncClient) -> None:
    html = (await client.get("/search", params={"q": "毕业生落户", "home": SHUNQING})).text
    moving = next(card for card in cards(html) if '">户口迁移</a></h2>' in card)
    assert "<small>匹配：落户</small>" in moving


# ---------------------------------------------------------------- compact cards


async def test_compact_cards_and_the_fragment_within_6_kb(client: httpx.AsyncClient) -> None:
    url = f"/search?q=社保&home={SHUNQING}"
    fragment = await client.get(url, headers={"HX-Request": "true"})
    found = cards(fragment.text)
    assert len(found) == 10
    assert len(fragment.content) <= 6 * 1024, len(fragment.content)
    first = text(found[0])
    assert COVERED in first and "依据南充市—路桥区协议" in first and "最近可办" in first
    for card in found:  # one link to the details, built in one place (web.views.details_link)
        links = set(re.findall(r'href="(/matters/[^"]+)"', card))
        # the one details link: the home, and the search log's id (issue 16) so the click is counted
        assert len(links) == 1 and re.search(rf"\?home={SHUNQING}(&amp;s=[0-9a-f]+)?$", next(iter(links))), (
            links
        )


async def test_uncovered_and_partly_covered_verdicts(client: httpx.AsyncClient) -> None:
    bijie = [text(c) for c in cards((await client.get("/search", params={"q": "社保", "home": BIJIE})).text)]
    assert any("暂不能在台州办理" in c and "没有生效的协议覆盖这件事" in c for c in bijie), bijie
    shangrao = text(cards((await client.get("/search", params={"q": "社保卡", "home": SHANGRAO})).text)[0])
    assert "可以在玉环市办理" in shangrao and "未实行全市共享" in shangrao
    assert "未全市共享的原因：协议约定仅在玉环市范围内受理（示例）" in shangrao


# ---------------------------------------------------------------- homes typed as people write them


@pytest.mark.parametrize(
    ("typed", "home"),
    [("四川南充", "四川省南充市"), ("南充顺庆", "四川省南充市顺庆区"), ("sichuan nanchong", "四川省南充市"),
     ("贵州毕节", "贵州省毕节市"), ("安徽亳州涡阳", "安徽省亳州市涡阳县")],
)  # fmt: skip
async def test_search_with_a_typed_home(client: httpx.AsyncClient, typed: str, home: str) -> None:
    response = await client.get("/search", params={"q": "社保卡", "region_q": typed})
    assert response.status_code == 200
    assert f"户籍地： {home}" in text(response.text) or f"户籍地：{home}" in text(response.text)


async def test_an_ambiguous_home_is_asked(client: httpx.AsyncClient) -> None:
    response = await client.get("/search", params={"q": "社保卡", "region_q": "朝阳"})
    assert response.status_code == 303 and "pick=1" in response.headers["location"]
    asked = text((await client.get(response.headers["location"])).text)
    assert "可能是下面几个地区" in asked and "北京市朝阳区" in asked and "辽宁省朝阳市" in asked
    suggest = await client.get(
        "/regions/suggest", params={"q": "贵州毕节"}, headers={"Accept": "application/json"}
    )
    assert [e["code"] for e in suggest.json()][:1] == [BIJIE]


# ---------------------------------------------------------------- presumptions


def test_presumed_is_decided_by_the_covering_agreements_item_lists() -> None:
    def facts(codes: frozenset[str] | None, id: int = 1) -> AgreementFacts:  # noqa: A002
        import datetime as dt

        day = dt.date(2024, 1, 1)
        return AgreementFacts(id, None, "t", "511300", "331004", day, day, None, "ACTIVE", True, codes)

    listed, unlisted = facts(frozenset({"M-1"}), 2), facts(None)
    assert is_presumed(CoverageResult(True, "AGREEMENT", (unlisted,), ("331004",), ""))
    assert not is_presumed(CoverageResult(True, "AGREEMENT", (unlisted, listed), ("331004",), ""))
    assert not is_presumed(CoverageResult(True, "AGREEMENT", (listed,), ("331004",), ""))
    assert not is_presumed(CoverageResult(True, "PROVINCE", (), ("331004",), ""))
    assert not is_presumed(CoverageResult(False, "NONE", (), (), ""))


async def test_presumption_on_the_verdict_and_in_graphql(client: httpx.AsyncClient) -> None:
    card = text(cards((await client.get("/search", params={"q": "社保卡", "home": SHUNQING})).text)[0])
    assert "推定可办" in card and "电话确认" in card
    matter = text((await client.get(f"/matters/M-008?home={SHUNQING}")).text)
    assert PRESUMED in matter
    query = (
        "query($h: String!, $m: String) { coverage(homeRegionCode: $h, matterCode: $m) { covered presumed } }"
    )
    answers = {}
    for home, code in ((SHUNQING, "M-008"), (BIJIE, "M-008"), ("330100", "M-008"), ("110105", "M-008")):
        body = (
            await client.post("/graphql", json={"query": query, "variables": {"h": home, "m": code}})
        ).json()
        assert "errors" not in body, body
        answers[home] = body["data"]["coverage"]
    assert answers[SHUNQING] == {"covered": True, "presumed": True}
    assert answers[BIJIE] == {"covered": True, "presumed": False}  # its agreement lists M-008
    assert answers["330100"] == {"covered": True, "presumed": False}  # 全省通办
    assert answers["110105"] == {"covered": False, "presumed": False}


# ---------------------------------------------------------------- exceptions to 一地签约、全市共享


async def test_staff_form_requires_the_reason_and_the_dashboard_lists_the_exception(
    app: Any, settings: Settings
) -> None:
    async with signed_in(app, settings, "county", "331004") as luqiao:
        fields = read_form((await luqiao.get("/staff/agreements/new")).text, "/staff/agreements/new")
        fields = with_values(fields, partnerCode="522600", citywideShared=None, note="只在路桥")
        refused = await luqiao.post("/staff/agreements/new", data=fields)
        assert refused.status_code in (400, 422), refused.status_code
        page = _text(refused.text)
        assert "须写明原因" in page and "只在路桥" in page  # next to the field, the input kept
        saved = await luqiao.post(
            "/staff/agreements/new", data=with_values(fields, notSharedReason="协议第五条：仅限路桥区")
        )
        assert saved.status_code == 303, _text(saved.text)[:500]
        board = _text((await luqiao.get("/staff/dashboard")).text)
        assert "未实行“一地签约、全市共享”的协议" in board
        assert "协议第五条：仅限路桥区" in board and "协议约定仅在玉环市范围内受理（示例）" in board

    yuhuan = await _agreement(settings, "shangrao-yuhuan-2024")
    assert yuhuan.not_shared_reason == "协议约定仅在玉环市范围内受理（示例）"


# ---------------------------------------------------------------- ETag and 304


@pytest.mark.parametrize(
    "url", [f"/search?q=社保卡&home={SHUNQING}", "/", "/matters/M-008", "/regions/511300", "/lists"]
)
async def test_public_pages_carry_an_etag_and_answer_304(client: httpx.AsyncClient, url: str) -> None:
    visit = await client.get(url)  # a first visit sets the form's cookie: private, untagged
    assert visit.status_code == 200 and "etag" not in visit.headers
    assert visit.headers["cache-control"].startswith("private")
    first = await client.get(url)  # the client keeps the cookie
    assert first.status_code == 200
    assert "Cookie" in first.headers["vary"] and "HX-Request" in first.headers["vary"]
    etag = first.headers.get("etag")
    assert etag and etag.startswith('W/"'), first.headers
    assert "max-age" in first.headers.get("cache-control", "") or "no-cache" in first.headers.get(
        "cache-control", ""
    )
    again = await client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.content
    assert again.headers.get("etag") == etag
    fragment = await client.get(url, headers={"HX-Request": "true", "If-None-Match": etag})
    assert fragment.status_code in (200, 304)
    if url.startswith("/search"):
        assert fragment.status_code == 200  # the fragment is another representation: another tag
    client.cookies.set("tb_prefs", "large")
    large = await client.get(url, headers={"If-None-Match": etag})
    assert large.status_code == 200  # large text is another page
