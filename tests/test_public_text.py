"""No developer notes on public pages (issue 15): every public page type, with the demo data, is
scanned for field names (camelCase, snake_case), null/true/false and English sentences. The data's
technical notes ("matterCodes 为 null", "signedOn 取当月1日", "citywideShared=false", "forum repost;
weak provenance") stay in the data files and on staff pages.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from api.bundled import demo_document

CAMEL = re.compile(r"\b[a-z]+[A-Z][A-Za-z]*\b")  # matterCodes, citywideShared, signedOn
SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")  # matter_codes, citywide_shared
LITERALS = re.compile(r"\b(?:null|true|false|None|True|False|undefined|NaN)\b")
ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[\s,;:'’()-]+[A-Za-z]{2,}){2,}")  # three English words in a row


def visible(html: str) -> str:
    """The text a reader sees (and a screen reader reads): no tags, scripts, styles or comments."""
    html = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", html)
    html = re.sub(r"(?s)<!--.*?-->", " ", html)
    html = re.sub(r'(?s)<p class="print-only">.*?</p>', " ", html)  # the page's address, on paper only
    text = re.sub(r"<[^>]+>", " ", html)
    for entity, char in (("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"), ("&#34;", '"'), ("&#39;", "'")):
        text = text.replace(entity, char)
    return re.sub(r"\s+", " ", text)


def leaks(text: str) -> list[str]:
    found = []
    for pattern in (CAMEL, SNAKE, LITERALS, ENGLISH):
        found += pattern.findall(text)
    return found


def public_urls() -> list[str]:
    """One URL per public page type and data shape: every matter (with and without a home), every
    hall, every agreement's partner and local region, every relation's regions, lists, search."""
    demo: dict[str, Any] = demo_document()
    regions = {"331000", "511300", "511302", "110105", "520500"}
    for a in demo["agreements"]:
        regions |= {a["partnerCode"], a["localCode"]}
    for r in demo.get("relations", []):
        regions |= {r.get("partnerCode") or "", r.get("localCode") or ""}
    urls = [
        "/",
        "/?province=510000&pick=1",
        "/lists",
        "/lists/cross-province",
        "/lists/province-wide",
        "/lists/citywide",
        "/feedback",
        "/feedback/thanks",
        "/matters/NOPE",
        "/nowhere",
        "/?region_q=朝阳&pick=1",
        "/search?q=社保卡&region_q=四川南充",
    ]
    for home in ("511302", "310110", "110105", "520500", "341621", "361100", "330100", "331004"):
        urls += [
            f"/search?q=社保卡&home={home}",
            f"/search?q=户口&home={home}&near=331081001",
            f"/search?home={home}",
        ]
    urls += [f"/matters/{m['code']}" for m in demo["matters"]]
    urls += [f"/matters/{m['code']}?home=310110&near=331004" for m in demo["matters"]]
    urls += [f"/regions/{code}" for code in sorted(regions) if code]
    urls += [f"/halls/{n}" for n in range(1, len(demo["halls"]) + 1)]
    return urls


async def test_no_field_names_literals_or_english_on_public_pages(client: httpx.AsyncClient) -> None:
    problems: dict[str, list[str]] = {}
    for url in public_urls():
        for headers in ({}, {"HX-Request": "true"}) if url.startswith("/search") else ({},):
            response = await client.get(url, headers=headers)
            assert response.status_code in (200, 404), (url, response.status_code)
            found = leaks(visible(response.text))
            if found:
                problems[url] = sorted(set(found))[:8]
    assert not problems, json.dumps(problems, ensure_ascii=False, indent=1)


@pytest.mark.parametrize(
    "leak", ["matterCodes 为 null", "citywideShared=false", "forum repost; weak provenance", "值为 true"]
)
def test_the_scan_catches_the_notes_of_the_issue(leak: str) -> None:
    assert leaks(visible(f"<p>来源：{leak}</p>")), leak


def test_the_scan_lets_plain_chinese_through() -> None:
    text = visible(
        "<p>来源：台州市政务服务管理办公室 <a href='https://x.gov.cn'>原文</a> 本站更新于 2025年1月1日；12345；www.gjzwfw.gov.cn；M-001</p>"
    )
    assert not leaks(text), leaks(text)
