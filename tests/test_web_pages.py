"""The public pages (issue 5, CONTRACT.md §6), on SQLite and PostgreSQL, through the real app.

What a citizen must get: a plain coverage answer for their home region, the halls with address,
hours and phone, the reason; the same URL as a full page or (for htmx) only the results fragment,
with `Vary: HX-Request`; helpful 404s, a 503 when the database is down; sample data labelled;
the anonymous feedback form protected against CSRF, keeping what was typed on error; and no
markup from the data ever reaching the page unescaped.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from api.db import Database
from api.enums import label, value_of
from api.models import Feedback, Hall, Matter
from api.settings import Settings

COVERED = "可以在台州任一县(市、区)办理"
NANCHONG = "511300"  # 四川省南充市: covered by the 路桥 agreement, shared citywide
CHAOYANG = "110105"  # 北京市朝阳区: no agreement with Taizhou
BIJIE = "520500"  # 贵州省毕节市: agreement limited to M-002, M-007, M-008
WENLING_TAIPING = "331081001"

PAGES = [
    "/",
    "/?province=510000",
    f"/search?q=社保卡&home={NANCHONG}&near={WENLING_TAIPING}",
    f"/search?q=户口迁移&home={CHAOYANG}",
    "/matters/M-007",
    f"/matters/M-001?home={NANCHONG}",
    "/lists",
    "/lists/cross-province",
    "/lists/citywide",
    f"/regions/{NANCHONG}",
    "/regions/331004",
    "/feedback",
]


async def get(client: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response:
    return await client.get(url, **kwargs)


async def hall_id(settings: Settings, key: str) -> int:
    database = Database(settings.database_url)
    try:
        async with database.read() as session:
            return int((await session.execute(select(Hall.id).where(Hall.key == key))).scalar_one())
    finally:
        await database.dispose()


def visible_text(html: str) -> str:
    """Text without tags (rough), for phrase checks that must not depend on markup."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# ---------------------------------------------------------------- every page


@pytest.mark.parametrize("url", PAGES)
async def test_every_page_is_accessible_html_without_inline_code(client: httpx.AsyncClient, url: str) -> None:
    response = await get(client, url)
    assert response.status_code == 200, response.text[:500]
    html = response.text
    assert '<html lang="zh-CN">' in html
    assert 'class="skip-link" href="#main"' in html and 'id="main"' in html
    assert "<header" in html and "<main" in html and "<footer" in html and 'aria-label="主导航"' in html
    assert (
        '<meta name="htmx-config"' in html
        and '"allowEval":false' in html
        and '"includeIndicatorStyles":false' in html
    )
    # CSP allows scripts and styles from files only: no inline code, no style attributes, no handlers
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)
    assert "<style" not in html
    # the feedback form is on every page, with its CSRF token
    assert 'action="/feedback"' in html and 'name="csrf_token"' in html
    assert "HX-Request" in response.headers.get("vary", "")
    # every form control has a label
    for control in re.findall(r'<(?:input|select|textarea)\b[^>]*\bid="([^"]+)"', html):
        assert f'for="{control}"' in html, f"no label for #{control} on {url}"


async def test_static_assets_are_served_and_fingerprinted(client: httpx.AsyncClient) -> None:
    html = (await get(client, "/")).text
    css = re.search(r'href="(/static/css/site\.css\?v=[0-9a-f]+)"', html)
    js = re.search(r'src="(/static/js/app\.js\?v=[0-9a-f]+)"', html)
    assert css and js
    response = await get(client, css.group(1))
    assert response.status_code == 200 and "immutable" in response.headers["cache-control"]
    assert (await get(client, js.group(1))).status_code == 200
    assert "/static/vendor/htmx.min.js" in html


async def test_results_page_weighs_under_100_kb(client: httpx.AsyncClient) -> None:
    """HTML + CSS + JS of a busy results page (10 results, halls, a location), uncompressed."""
    url = "/search?q=证明&home=341621&near=331002"
    page = await get(client, url)
    assert page.status_code == 200
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    total = len(page.content)
    for asset in assets:
        response = await get(client, asset)
        if asset.startswith("/static/vendor/") and response.status_code == 404:
            pytest.fail("web/static/vendor/htmx.min.js is missing: run scripts/bootstrap")
        total += len(response.content)
    assert total < 100 * 1024, f"results page weighs {total} bytes"


# ---------------------------------------------------------------- lookup


async def test_home_chooser_works_as_plain_get_forms(client: httpx.AsyncClient) -> None:
    first = (await get(client, "/")).text
    assert 'name="province"' in first and "四川省" in first and 'name="city"' not in first
    second = (await get(client, "/?province=510000&q=社保卡&pick=1")).text
    assert 'name="city"' in second and ">南充市<" in second
    assert 'value="社保卡"' in second  # what was typed survives the round trip
    third = (await get(client, "/?province=510000&city=511300&pick=1")).text
    assert 'name="county"' in third and ">顺庆区<" in third
    # an inconsistent chain is dropped, not trusted
    mixed = (await get(client, "/?province=330000&city=511300")).text
    assert 'name="county"' not in mixed


async def test_lookup_region_type_ahead_without_javascript(client: httpx.AsyncClient) -> None:
    """A place read as one region is chosen at once; an ambiguous one is asked, each a link."""
    html = (await get(client, "/?region_q=nanchong&q=社保卡&pick=1")).text
    assert "已选择" in html and "四川省南充市" in html and f'name="home" value="{NANCHONG}"' in html
    asked = (await get(client, "/?region_q=nanc&q=社保卡&pick=1")).text
    assert f"/search?q=%E7%A4%BE%E4%BF%9D%E5%8D%A1&amp;home={NANCHONG}" in asked
    ambiguous = visible_text((await get(client, "/?region_q=朝阳&q=社保卡&pick=1")).text)
    assert "可能是下面几个地区" in ambiguous and "北京市朝阳区" in ambiguous and "辽宁省朝阳市" in ambiguous


async def test_region_suggest_by_name_pinyin_and_initials(client: httpx.AsyncClient) -> None:
    for text in ("南充", "nanchong", "NanChong", "ncs"):
        response = await get(
            client, "/regions/suggest", params={"q": text}, headers={"Accept": "application/json"}
        )
        assert response.status_code == 200
        codes = [entry["code"] for entry in response.json()]
        assert NANCHONG in codes, (text, codes)
    fragment = await get(
        client, "/regions/suggest", params={"region_q": "nanchong", "q": "户口", "near": "331002"}
    )
    assert (
        "<html" not in fragment.text
        and f"home={NANCHONG}" in fragment.text
        and "near=331002" in fragment.text
    )
    empty = await get(client, "/regions/suggest", params={"q": ""}, headers={"Accept": "application/json"})
    assert empty.json() == []


# ---------------------------------------------------------------- results


async def test_search_full_page_and_fragment(client: httpx.AsyncClient) -> None:
    url = f"/search?q=社保卡&home={NANCHONG}"
    full = await get(client, url)
    assert full.status_code == 200
    assert "<html" in full.text and 'id="results"' in full.text
    assert "HX-Request" in full.headers["vary"]
    assert COVERED in full.text

    fragment = await get(client, url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<header" not in fragment.text
    assert COVERED in fragment.text
    assert 'id="search-status"' in fragment.text and 'hx-swap-oob="true"' in fragment.text
    assert "HX-Request" in fragment.headers["vary"]

    restore = await get(client, url, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text and "HX-Request" in restore.headers["vary"]


async def test_search_answer_is_a_compact_card(client: httpx.AsyncClient) -> None:
    """Name, scope, the verdict with its reason in one clause, the nearest hall with its distance,
    the presumption; the explanation, modes and every hall are on the matter page."""
    html = (await get(client, f"/search?q=社保卡&home={NANCHONG}&near={WENLING_TAIPING}")).text
    first = visible_text(html.split('<li class="result', 2)[1].split("</li>", 1)[0])
    assert COVERED in first and "依据南充市—路桥区协议（一地签约、全市共享）" in first
    assert "最近可办" in first and "温岭市" in first and "公里" in first
    assert "推定可办" in first and "电话确认" in first  # the 南充 agreement lists no matters
    assert "依据：" not in first and "网上就能办完" not in first and "地址：" not in first
    text = visible_text(html)
    assert "位置：" in text and "台州市温岭市太平街道" in text


async def test_search_with_coordinates_orders_halls_by_distance(client: httpx.AsyncClient) -> None:
    near_sanmen = "29.10,121.38"
    html = (await get(client, f"/search?q=社保卡申领&home={NANCHONG}&near={near_sanmen}")).text
    first_result = html.split('<li class="result', 2)[1]
    halls = re.findall(r'<a href="/halls/\d+">([^<]+)</a>', first_result)
    assert halls and halls[0].startswith("三门县"), halls


async def test_uncovered_home_gets_plain_answer_and_consult_window(client: httpx.AsyncClient) -> None:
    html = (await get(client, f"/search?q=户口迁移&home={CHAOYANG}&near=331002")).text
    text = visible_text(html)
    assert "暂不能在台州办理" in text and COVERED not in text
    assert "你的户籍地与台州没有生效的协议覆盖这件事" in text and "北京市朝阳区" in text
    assert "可异地咨询" in text and "椒江区行政服务中心" in text


async def test_covered_matters_come_first(client: httpx.AsyncClient) -> None:
    """毕节's agreement lists three matters only: those come before the matters it does not cover."""
    html = (await get(client, f"/search?q=社保&home={BIJIE}")).text
    classes = re.findall(r'<li class="result (yes|no)">', html)
    assert "yes" in classes and "no" in classes, classes
    assert classes == sorted(classes, key=lambda c: c != "yes"), classes


async def test_search_without_home_and_without_query(client: httpx.AsyncClient) -> None:
    html = (await get(client, "/search?q=社保卡")).text
    assert "选择户籍地后" in html
    summary = (await get(client, f"/search?home={NANCHONG}")).text
    assert "有生效的“跨省通办”协议" in summary and f"/regions/{NANCHONG}" in summary
    nothing = await get(client, "/search?q=xyzzy")
    assert nothing.status_code == 200 and "没有找到相关事项" in nothing.text and "12345" in nothing.text


async def test_search_bad_inputs_are_helpful_not_errors(client: httpx.AsyncClient) -> None:
    unknown = await get(client, "/search?q=社保卡&home=999999")
    assert unknown.status_code == 404 and "没有找到代码为" in unknown.text and "重新选择" in unknown.text
    fragment = await get(client, "/search?q=社保卡&home=abc", headers={"HX-Request": "true"})
    assert fragment.status_code == 404 and "<html" not in fragment.text
    for near in ("999,999", "110105", "<script>", "331081001999"):
        response = await get(client, "/search", params={"q": "社保卡", "home": NANCHONG, "near": near})
        assert response.status_code == 200, near
        assert "<script>" not in response.text.split("</head>", 1)[1].replace("<script src", "")
    long = await get(client, "/search", params={"q": "社" * 5000, "page": "-3"})
    assert long.status_code == 200


# ---------------------------------------------------------------- matter, lists, hall, region


async def test_matter_page_has_the_unified_guide(client: httpx.AsyncClient) -> None:
    response = await get(client, "/matters/M-007")
    assert response.status_code == 200
    text = visible_text(response.text)
    parts = (
        "办事指南",
        "办理条件",
        "材料清单",
        "办理步骤",
        "办理时限",
        "收费",
        "法律依据",
        "教你办",
        "信息来源",
        "本站更新于",
    )
    for part in parts:
        assert part in text, part
    assert 'class="checklist"' in response.text and 'type="checkbox"' in response.text
    assert 'href="https://www.gjzwfw.gov.cn/"' in response.text
    assert "选择你的户籍地（参保地）" in text  # no home yet: the chooser


async def test_matter_page_with_home_says_where_to_handle(client: httpx.AsyncClient) -> None:
    text = visible_text((await get(client, f"/matters/M-001?home={NANCHONG}&near=331004")).text)
    assert COVERED in text and "离你近的大厅" in text and "路桥区行政服务中心" in text
    assert "教你办" in text  # M-001 has a walk-through
    assert "示例数据" in text  # its guide is illustrative


async def test_matter_lists_by_scope(client: httpx.AsyncClient, settings: Settings) -> None:
    index = (await get(client, "/lists")).text
    assert "/lists/cross-province" in index and "/lists/province-wide" in index and "/lists/citywide" in index
    # each list's count is its published matters (counted from the snapshot, not per request)
    database = Database(settings.database_url)
    try:
        async with database.read() as session:
            rows = (await session.execute(select(Matter.scope, Matter.published))).all()
    finally:
        await database.dispose()
    for scope in ("CROSS_PROVINCE", "PROVINCE_WIDE", "CITYWIDE"):
        published = sum(1 for s, p in rows if value_of(s) == scope and p)
        heading = index.split(f"{label(scope)}事项清单", 1)[1]
        assert f"共 {published} 项" in heading.split("</p>", 1)[0], scope
    cross = (await get(client, "/lists/cross-province")).text
    assert "企业等各类市场主体登记注册" in cross and "国办发〔2020〕35号" in cross
    citywide = (await get(client, "/lists/citywide")).text
    assert "居住证申领" in citywide and "示例数据" in citywide


async def test_hall_page(client: httpx.AsyncClient, settings: Settings) -> None:
    real = await hall_id(settings, "taizhou-city-centre")
    text = visible_text((await get(client, f"/halls/{real}")).text)
    assert "台州市人民政府行政服务中心" in text and "地址待核实" in text and "异地咨询" in text
    assert "来源：" in text and "近似位置" in text and "示例数据" not in text.replace("标注“示例数据”", "")
    sample = await hall_id(settings, "sanmen-centre")
    sample_text = visible_text((await get(client, f"/halls/{sample}")).text)
    assert "示例数据" in sample_text and "工作日" in sample_text
    redirect = await get(client, "/halls/sanmen-centre")
    assert redirect.status_code == 301 and redirect.headers["location"] == f"/halls/{sample}"


async def test_region_page_for_people_from_there(client: httpx.AsyncClient) -> None:
    text = visible_text((await get(client, f"/regions/{NANCHONG}")).text)
    assert "四川省南充市" in text and "生效中的“跨省通办”协议" in text
    assert "2023年5月10日" in text and "一地签约、全市共享" in text and "全市9个县（市、区）都有效" in text
    assert "结对关系（不是通办协议）" in text and "东西部协作" in text
    assert "红色·重点" in text and "人口潜力指数" in text and "80" in text and "75" in text
    assert "示例数据" in text
    province = visible_text((await get(client, "/regions/510000")).text)
    assert "四川省内已与台州签约的地区" in province and "四川省南充市" in province
    assert re.search(
        r"四川省南充市\s*：\s*\d+ 份协议，生效中", province
    )  # each signed region: how many, any in force
    local = visible_text((await get(client, "/regions/331004")).text)
    assert "本地户籍" in local and "路桥区行政服务中心" in local


@pytest.mark.parametrize(
    "url",
    [
        "/matters/NO-SUCH",
        "/matters/%3Cscript%3E",
        "/regions/999999",
        "/regions/abc",
        "/halls/999999",
        "/halls/-1",
        "/lists/nope",
        "/lists/citywide?page=99",
        "/no/such/page",
    ],
)
async def test_unknown_things_get_a_helpful_404(client: httpx.AsyncClient, url: str) -> None:
    response = await get(client, url)
    assert response.status_code == 404
    assert "<html" in response.text and "没有找到" in response.text
    assert 'action="/search"' in response.text and "12345" in response.text
    assert "<script>" not in response.text


# ---------------------------------------------------------------- preferences


async def test_large_text_and_contrast_kept_in_a_cookie(client: httpx.AsyncClient) -> None:
    response = await get(client, "/prefs?text=large&back=/search%3Fq%3Dx")
    assert response.status_code == 303 and response.headers["location"] == "/search?q=x"
    assert "tb_prefs=large" in response.headers["set-cookie"]
    client.cookies.set("tb_prefs", "large")
    html = (await get(client, "/")).text
    assert 'class="pref-large"' in html and "标准字号" in html
    both = await get(client, "/prefs?contrast=high&back=/")
    assert "contrast.large" in both.headers["set-cookie"]
    for hostile in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        escape = await get(client, "/prefs", params={"text": "large", "back": hostile})
        assert escape.headers["location"] == "/", hostile


# ---------------------------------------------------------------- feedback


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def stored_feedback(settings: Settings) -> list[Feedback]:
    database = Database(settings.database_url)
    try:
        async with database.read() as session:
            return list((await session.execute(select(Feedback))).scalars())
    finally:
        await database.dispose()


async def test_feedback_success_gives_reference(client: httpx.AsyncClient, settings: Settings) -> None:
    page = await get(client, f"/matters/M-008?home={NANCHONG}")
    assert "tb_csrf" in client.cookies
    data = {
        "csrf_token": form_token(page.text),
        "description": "窗口说要户口本原件，网上写的是复印件",
        "stage": "DURING",
        "category": "MATERIALS",
        "contact": "13800000000",
        "matterCode": "M-008",
        "homeRegionCode": NANCHONG,
        "pageUrl": f"/matters/M-008?home={NANCHONG}",
    }
    response = await client.post("/feedback", data=data)
    assert response.status_code == 303
    location = response.headers["location"]
    query = parse_qs(urlsplit(location).query)
    reference = query["ref"][0]
    assert re.match(r"^FK\d{8}-\d{5}-[0-9a-f]{4}$", reference)
    thanks = await get(client, location)
    assert reference in thanks.text and "反馈已收到" in thanks.text
    assert f'href="/matters/M-008?home={NANCHONG}"' in thanks.text
    rows = await stored_feedback(settings)
    assert len(rows) == 1
    row = rows[0]
    assert row.reference == reference and row.channel.value == "PUBLIC"
    assert row.matter_code == "M-008" and row.home_region_code == NANCHONG and row.category == "MATERIALS"


async def test_feedback_errors_keep_what_was_typed(client: httpx.AsyncClient, settings: Settings) -> None:
    page = await get(client, "/")
    data = {
        "csrf_token": form_token(page.text),
        "description": "差",
        "contact": "王先生 <b>13800000000</b>",
        "stage": "AFTER",
    }
    response = await client.post("/feedback", data=data)
    assert response.status_code == 400
    html = response.text
    assert 'id="fb-description-error"' in html and "至少4个字" in html
    assert 'aria-invalid="true"' in html
    assert ">差</textarea>" in html
    assert 'value="王先生 &lt;b&gt;13800000000&lt;/b&gt;"' in html
    assert '<option value="AFTER" selected>' in html
    assert await stored_feedback(settings) == []


async def test_feedback_without_valid_csrf_token_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await get(client, "/")
    data = {"description": "这是一条伪造的跨站提交内容"}
    missing = await client.post("/feedback", data=data)
    assert missing.status_code == 403 and "这是一条伪造的跨站提交内容" in missing.text
    forged = await client.post("/feedback", data={**data, "csrf_token": "x" * 40})
    assert forged.status_code == 403
    # a token signed for another browser's cookie does not fit this one
    other = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")  # noqa: SLF001
    async with other:
        foreign = form_token((await other.get("/")).text)
    stolen = await client.post("/feedback", data={**data, "csrf_token": foreign})
    assert stolen.status_code == 403
    # no cookie at all (cookies blocked): refused, with a hint
    client.cookies.clear()
    blocked = await client.post("/feedback", data={**data, "csrf_token": foreign})
    assert blocked.status_code == 403 and "Cookie" in blocked.text
    assert await stored_feedback(settings) == []


# ---------------------------------------------------------------- hostile data and failures


async def test_stored_markup_is_shown_as_text(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    from api.services.base import SYSTEM, ServiceContext
    from api.services.matters import upsert_matter
    from api.services.regions import load_tree

    payload = "<script>alert(1)</script>"
    database = Database(settings.database_url)
    try:
        async with database.write() as session:
            tree = await load_tree(session)
            ctx = ServiceContext(actor=SYSTEM, tree=tree, home_city=settings.home_region)
            await upsert_matter(
                session,
                ctx,
                {
                    "code": "X-XSS",
                    "name": payload,
                    "department": '<img src=x onerror="alert(2)">',
                    "scope": "CROSS_PROVINCE",
                    "modes": ["FULL_ONLINE"],
                    "keywords": ["xsstest"],
                    "source": "<b>来源</b>",
                    "sourceUrl": "javascript:alert(3)",
                    "guide": {
                        "conditions": "<iframe src=//evil>",
                        "materials": [{"name": "<svg onload=alert(4)>", "required": True, "copies": 1}],
                        "steps": ["<a href=javascript:alert(5)>点我</a>"],
                        "walkthrough": "</textarea><script>alert(6)</script>",
                    },
                },
            )
    finally:
        await database.dispose()
    await app.state.tongban.search.catch_up()

    pages = [
        "/matters/X-XSS",
        f"/matters/X-XSS?home={NANCHONG}",
        "/lists/cross-province",
        f"/search?q=xsstest&home={NANCHONG}",
        "/search?q=alert",
    ]
    seen_escaped = False
    for url in pages:
        html = (await get(client, url)).text
        body = html.split("</head>", 1)[1]
        assert payload not in body, url
        assert "<img src=x" not in body and "<iframe" not in body and "<svg" not in body, url
        assert "javascript:alert" not in re.sub(
            r"&[a-z#0-9]+;", "", "".join(re.findall(r'href="([^"]*)"', body))
        ), url
        seen_escaped = seen_escaped or "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert seen_escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (await get(client, "/matters/X-XSS")).text
    search = (await get(client, f"/search?q=xsstest&home={NANCHONG}")).text
    assert "X-XSS" in search


@pytest.fixture
async def broken_database(app: Any) -> AsyncIterator[None]:
    """Point the running app at a database that refuses connections, as if it went down."""
    state = app.state.tongban
    saved = (state.db, state.catalog.db, state.catalog._catalog)  # noqa: SLF001
    dead = Database("postgresql+asyncpg://nobody:nothing@127.0.0.1:9/none", pool_pre_ping=False)
    state.db = dead
    state.catalog.db = dead
    state.catalog.invalidate()
    try:
        yield
    finally:
        state.db, state.catalog.db, state.catalog._catalog = saved  # noqa: SLF001
        await dead.dispose()


@pytest.mark.usefixtures("broken_database")
@pytest.mark.parametrize(
    "url", ["/", "/search?q=社保卡", "/matters/M-008", f"/regions/{NANCHONG}", "/lists/citywide"]
)
async def test_database_down_gives_the_503_page(client: httpx.AsyncClient, url: str) -> None:
    response = await get(client, url)
    assert response.status_code == 503
    assert "服务暂时不可用" in response.text and "12345" in response.text
    assert response.headers.get("retry-after") == "30"


async def test_search_still_answers_while_the_index_is_not_ready(client: httpx.AsyncClient, app: Any) -> None:
    state = app.state.tongban
    saved = state.search
    state.search = None
    try:
        html = (await get(client, f"/search?q=户口迁移&home={NANCHONG}")).text
    finally:
        state.search = saved
    assert "暂时只按事项名称查找" in html and COVERED in html and "/matters/M-009" in html


async def test_matter_page_chooser_and_type_ahead_stay_on_the_matter(client: httpx.AsyncClient) -> None:
    choosing = visible_text((await get(client, "/matters/M-008?province=510000&pick=1")).text)
    assert "南充市" in choosing and COVERED not in choosing  # still choosing: no answer yet
    chosen = visible_text((await get(client, "/matters/M-008?province=510000&city=511300")).text)
    assert COVERED in chosen
    fragment = await get(client, "/regions/suggest", params={"region_q": "南充", "to": "/matters/M-008"})
    assert f'href="/matters/M-008?home={NANCHONG}"' in fragment.text
    hostile = await get(client, "/regions/suggest", params={"region_q": "南充", "to": "//evil.example/x"})
    assert "evil" not in hostile.text


async def test_results_show_a_matter_edit_at_once(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """Result details are remembered per catalog mark; an edit moves the mark, so the next page
    shows the edited matter, not the remembered one."""
    from api.services.base import SYSTEM, ServiceContext
    from api.services.matters import upsert_matter
    from api.services.regions import load_tree

    state = app.state.tongban

    async def save(modes: list[str]) -> None:
        async with state.db.write() as session:
            tree = await load_tree(session)
            ctx = ServiceContext(actor=SYSTEM, tree=tree, home_city=settings.home_region)
            await upsert_matter(
                session,
                ctx,
                {
                    "code": "X-EDIT",
                    "name": "缓存测试事项",
                    "department": "测试局",
                    "scope": "CROSS_PROVINCE",
                    "modes": modes,
                    "keywords": ["cachetest"],
                },
            )
        await state.search.catch_up()

    await save(["FULL_ONLINE"])
    first = (await get(client, f"/search?q=cachetest&home={NANCHONG}")).text
    assert "缓存测试事项" in first and "跨省通办" in first
    assert "全程网办" in (await get(client, "/matters/X-EDIT")).text
    await save(["REMOTE_PROXY"])
    second = (await get(client, "/matters/X-EDIT")).text
    assert "异地代收代办" in second and "全程网办" not in second.split("</head>", 1)[1].split("<footer", 1)[0]


async def test_region_page_shows_relation_and_index_edits_at_once(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """The region page's details are read once per catalog mark: each edit must move the mark."""
    from api.services.base import SYSTEM, ServiceContext
    from api.services.directory import parse_relation, save_relation
    from api.services.partners import set_partner_indices
    from api.services.regions import load_tree

    state = app.state.tongban
    before = visible_text((await get(client, f"/regions/{NANCHONG}")).text)
    assert "缓存测试结对" not in before
    async with state.db.write() as session:
        tree = await load_tree(session)
        ctx = ServiceContext(actor=SYSTEM, tree=tree, home_city=settings.home_region)
        data, errors = parse_relation(
            {
                "key": "cache-test",
                "kind": "COOPERATION",
                "localCode": "331081",
                "partnerCode": NANCHONG,
                "since": "缓存测试结对",
            },
            ctx,
        )
        assert data is not None, errors
        await save_relation(session, ctx, data)
    assert "缓存测试结对" in visible_text((await get(client, f"/regions/{NANCHONG}")).text)
    async with state.db.write() as session:
        await set_partner_indices(session, ctx, NANCHONG, 12.5, 13.5)
    after = visible_text((await get(client, f"/regions/{NANCHONG}")).text)
    assert "12.5" in after and "13.5" in after


async def test_region_agreements_come_a_page_at_a_time(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The city's own page lists every agreement signed with any county: hundreds at scale."""
    from web import public

    whole = (await get(client, "/regions/331000")).text
    titles = re.findall(r'<h3 id="agreement-\d+">', whole)
    assert len(titles) > 4
    monkeypatch.setattr(public, "AGREEMENTS_PER_PAGE", 2)
    seen: list[str] = []
    page = 1
    while True:
        html = (await get(client, f"/regions/331000?page={page}")).text
        on_page = re.findall(r'<h3 id="agreement-\d+">', html)
        assert 1 <= len(on_page) <= 2
        seen += on_page
        if 'rel="next"' not in html:
            break
        page += 1
    assert sorted(seen) == sorted(titles)  # every agreement once, none lost between pages
    assert "协议第 1/" in (await get(client, "/regions/331000")).text
    assert (await get(client, f"/regions/331000?page={page + 1}")).status_code == 404
