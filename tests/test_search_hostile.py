"""Hostile input to the public search box: never an exception, always fast.

The text must never reach Whoosh's query language, so wildcard, range, field, fuzzy and
boolean syntax are plain characters; length is capped; control characters, NUL and lone
surrogates are removed. Each input must answer well under a second.
"""

from __future__ import annotations

import time

import pytest

from search_index import Hit, SearchIndex

HOSTILE = [
    "*",
    "办*",
    "*社保*",
    "?",
    "name:[a TO z]",
    "code:*",
    "name:社保卡",
    "[a TO z]",
    "{a TO z}",
    "社保卡~2",
    "~2",
    "gongjijin~",
    "AND OR NOT",
    "社保卡 AND NOT 公积金",
    "NOT",
    "(((",
    ")))",
    '"',
    '"社保卡',
    "'",
    "'; DROP TABLE matters; --",
    "' OR 1=1 --",
    "\\",
    "^2",
    "社保卡^100",
    "<script>alert(1)</script>",
    "<mark>社保卡</mark>",
    "&lt;&amp;",
    "x" * 5000,
    "社保卡" * 2000,
    "gongjijin" * 600,
    "a b c d e f g h i j k l m n o p q r s t u v w x y z " * 40,
    "1" * 5000,
    "社" * 5000,
    "的" * 200,
    "\x00",
    "社保\x00卡",
    "\ud800",
    "\udfff\ud800社保卡",
    "社保\ud83d卡",
    "🙂👍🏻🇨🇳👨‍👩‍👧",
    "社保卡🙂丢了",
    "\u202e社保卡",
    "\u200b\u200b\u200b",
    "\t\n\r\x0b\x0c",
    "\x1b[31m社保卡",
    "ＳＢＫ",
    "𠀀𠀁𠀂",  # CJK extension B
    "%00%27",
    "..%2F..%2Fetc%2Fpasswd",
    "",
    " ",
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> SearchIndex:
    idx = SearchIndex(tmp_path_factory.mktemp("hostile") / "index")
    idx.rebuild(
        [
            {"code": "M-1", "name": "社会保障卡申领", "aliases": ["社保卡申领"], "keywords": ["社保卡"]},
            {"code": "M-2", "name": "购房提取住房公积金", "department": "住房公积金中心"},
            {"code": "M-3", "name": "<b>名称</b>含标签", "guide_text": "<script>x</script>"},
            {"code": "M-4", "name": "新生儿入户", "guide_text": "办理" * 500},
        ],
        applied_id=0,
    )
    return idx


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t[:20]) + f"/{len(t)}")
def test_hostile_input_answers_quickly_without_exception(index: SearchIndex, text: str) -> None:
    started = time.perf_counter()
    hits = index.search(text)
    elapsed = time.perf_counter() - started
    assert isinstance(hits, list)
    assert all(isinstance(h, Hit) for h in hits)
    assert elapsed < 0.5, f"{elapsed:.3f}s for {text[:30]!r}"
    for h in hits:
        if h.highlight is not None:
            bare = h.highlight.replace("<mark>", "").replace("</mark>", "")
            assert "<" not in bare and ">" not in bare


@pytest.mark.parametrize("value", [None, 42, b"\xff\xfe", ["社保卡"], {"q": 1}])
def test_non_text_input_gives_no_results(index: SearchIndex, value: object) -> None:
    assert index.search(value) == []  # type: ignore[arg-type]


def test_query_syntax_is_not_interpreted(index: SearchIndex) -> None:
    """`name:社保卡` is just the words 'name' and 社保卡, never a field query."""
    plain = [h.code for h in index.search("社保卡")]
    assert [h.code for h in index.search("name:社保卡")] == plain
    assert [h.code for h in index.search("*社保卡*")] == plain
    assert index.search("*") == []
    assert index.search("code:*") == []


def test_many_hostile_queries_stay_fast_in_total(index: SearchIndex) -> None:
    started = time.perf_counter()
    for text in HOSTILE * 3:
        index.search(text)
    assert time.perf_counter() - started < 5.0
