"""The search index: finding matters the way citizens ask, and surviving its lifecycle.

Covers: search basics, synonyms and colloquial words, pinyin, typo tolerance without
flooding, highlight escaping, rebuild-and-swap under open searchers, idempotent outbox
application, crash leftovers (stale lock file, half-built generation), a live writer
holding the lock, and concurrent searches.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from whoosh import index as windex

from search_index import Hit, IndexBusyError, SearchIndex, sanitize_query, store


def doc(code: str, name: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "code": code,
        "name": name,
        "aliases": [],
        "keywords": [],
        "department": "",
        "scope": "CROSS_PROVINCE",
        "guide_text": "",
    }
    base.update(extra)
    return base


DOCS = [
    doc("M-SSC", "社会保障卡申领", department="人力资源社会保障局", guide_text="携带居民身份证到窗口申请。"),
    doc("M-LOSS", "社保卡临时挂失", department="人力资源社会保障局"),
    doc("M-HF-BUY", "购房提取住房公积金", department="住房公积金中心"),
    doc("M-HF-MOVE", "住房公积金转移接续", department="住房公积金中心"),
    doc("M-BABY", "新生儿入户", department="公安局", guide_text="持出生医学证明办理户口登记。"),
    doc("M-MED", "异地就医登记备案和结算", aliases=["就医结算备案"], department="医疗保障局"),
    doc("M-DRV", "机动车驾驶证换领", department="公安局"),
    doc("M-UNEMP", "失业登记", department="人力资源社会保障局"),
    doc("M-BIZ", "市场主体登记注册", aliases=["内资企业及分支机构设立登记"], department="市场监督管理局"),
    doc("M-XSS", "<script>alert(1)</script>公积金提取&查询", department="<b>部门</b>"),
    doc("M-GUIDE", "工程建设项目审批", guide_text="需提交施工图审查合格书和消防设计文件。"),
]


@pytest.fixture()
def index(tmp_path: Path) -> SearchIndex:
    idx = SearchIndex(tmp_path / "index")
    idx.rebuild(DOCS, applied_id=0)
    yield idx
    idx.close()


def codes(hits: list[Hit]) -> list[str]:
    return [h.code for h in hits]


# -- finding -------------------------------------------------------------------------------


def test_finds_a_matter_by_its_official_name(index: SearchIndex) -> None:
    hits = index.search("新生儿入户")
    assert codes(hits)[0] == "M-BABY"
    assert isinstance(hits[0].score, float) and hits[0].score > 0


def test_colloquial_short_name_finds_official_name_through_synonyms(index: SearchIndex) -> None:
    assert "M-SSC" in codes(index.search("社保卡"))  # 社会保障卡申领 has no alias 社保卡


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("社保卡丢了", "M-LOSS"),
        ("异地看病报销", "M-MED"),
        ("买房提公积金", "M-HF-BUY"),
        ("宝宝上户口", "M-BABY"),
        ("驾照到期换证", "M-DRV"),
        ("开公司", "M-BIZ"),
    ],
)
def test_colloquial_queries_rank_the_right_matter_first(
    index: SearchIndex, query: str, expected: str
) -> None:
    assert codes(index.search(query))[0] == expected


def test_full_pinyin_and_initials(index: SearchIndex) -> None:
    assert {"M-HF-BUY", "M-HF-MOVE"} <= set(codes(index.search("gongjijin")))
    assert "M-SSC" in codes(index.search("sbk"))
    assert codes(index.search("SBK")) == codes(index.search("sbk"))  # case and width folded


def test_one_wrong_character_is_tolerated(index: SearchIndex) -> None:
    assert codes(index.search("社保卡申岭"))[0] in {"M-SSC", "M-LOSS"}
    assert codes(index.search("公基金转移"))[0] == "M-HF-MOVE"  # homophone typo
    assert codes(index.search("新生儿入护"))[0] == "M-BABY"


def test_typo_tolerance_does_not_flood_results(tmp_path: Path) -> None:
    """Sharing one character pair (or its pinyin) with a typo query is not a match."""
    idx = SearchIndex(tmp_path / "ix")
    unrelated = [doc("U-1", "实证材料备案"), doc("U-2", "驾校使用登记"), doc("U-3", "护照换领")]
    idx.rebuild([doc("M-DRV", "机动车驾驶证换领"), *unrelated], 0)
    assert codes(idx.search("驾使证")) == ["M-DRV"]  # 驾使证: one wrong, same-sounding character
    hits = idx.search("驾驶证换岭")
    assert hits[0].code == "M-DRV"
    assert all(h.score < hits[0].score / 3 for h in hits[1:])  # 护照换领 only via the corrected 换领


def test_guide_text_is_searched_with_lower_weight(index: SearchIndex) -> None:
    hits = index.search("消防设计")
    assert codes(hits) == ["M-GUIDE"]
    assert hits[0].highlight is not None and "<mark>" in hits[0].highlight


def test_name_outranks_guide(tmp_path: Path) -> None:
    idx = SearchIndex(tmp_path / "ix")
    idx.rebuild([doc("G", "失业登记", guide_text="需要社会保障卡。" * 3), doc("N", "社会保障卡申领")], 0)
    assert codes(idx.search("社会保障卡")) == ["N", "G"]


def test_extra_synonyms_from_staff(tmp_path: Path) -> None:
    plain = SearchIndex(tmp_path / "a")
    plain.rebuild([doc("OLD", "老年人优待证办理")], 0)
    # a word the bundled dictionaries do not know (敬老卡 is in lexicon.txt since issue 16)
    assert plain.search("夕阳红卡") == []
    idx = SearchIndex(tmp_path / "b", extra_synonyms=[["老年人优待证", "夕阳红卡", "老年证"]])
    idx.rebuild([doc("OLD", "老年人优待证办理")], 0)
    assert codes(idx.search("夕阳红卡")) == ["OLD"]


def test_highlight_marks_matched_words_and_escapes_everything_else(index: SearchIndex) -> None:
    hit = next(h for h in index.search("公积金提取") if h.code == "M-XSS")
    assert hit.highlight is not None
    assert "<script>" not in hit.highlight
    assert hit.highlight.startswith("&lt;script&gt;alert(1)&lt;/script&gt;")
    assert "<mark>公积金提取</mark>" in hit.highlight or "<mark>公积金</mark>" in hit.highlight
    assert "&amp;" in hit.highlight
    stripped = hit.highlight.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in stripped and ">" not in stripped


def test_highlight_of_a_synonym_and_a_pinyin_match(index: SearchIndex) -> None:
    by_code = {h.code: h for h in index.search("社保卡")}
    assert by_code["M-SSC"].highlight == "<mark>社会保障卡</mark>申领"
    by_code = {h.code: h for h in index.search("gongjijin")}
    assert "公积金</mark>" in (by_code["M-HF-BUY"].highlight or "")
    assert index.search("jidongche")[0].highlight == "<mark>机动车</mark>驾驶证换领"  # via pinyin only
    assert index.search("jdc")[0].highlight == "<mark>机动车</mark>驾驶证换领"


def test_limit_is_clamped(index: SearchIndex) -> None:
    assert len(index.search("登记", limit=1)) == 1
    assert index.search("登记", limit=0) == index.search("登记", limit=1)
    assert len(index.search("登记", limit=10**9)) <= 100


def test_sanitize_query() -> None:
    assert sanitize_query("  社保卡\x00\n\t丢了\ud800 ") == "社保卡 丢了"
    assert sanitize_query("a\u200bb\u202ec") == "abc"
    assert len(sanitize_query("社" * 5000)) == 100
    assert sanitize_query(None) == ""


# -- lifecycle -------------------------------------------------------------------------------


def test_empty_folder_is_not_ready_and_answers_nothing(tmp_path: Path) -> None:
    idx = SearchIndex(tmp_path / "none")
    assert not idx.is_ready()
    assert idx.search("社保卡") == []
    assert idx.last_applied_id() == 0
    assert idx.doc_count() == 0


def test_rebuild_reports_count_and_applied_id(index: SearchIndex) -> None:
    assert index.is_ready()
    assert index.doc_count() == len(DOCS)
    index.rebuild(DOCS[:3], applied_id=41)
    assert index.doc_count() == 3
    assert index.last_applied_id() == 41


def test_rebuild_swaps_atomically_while_searchers_are_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import search_index.index as index_module

    monkeypatch.setattr(index_module, "RECHECK_SECONDS", 0)  # every search looks at the disk
    a = SearchIndex(tmp_path / "ix")
    b = SearchIndex(tmp_path / "ix")  # another worker process on the same folder
    a.rebuild(DOCS, 5)
    assert codes(b.search("新生儿入户"))[0] == "M-BABY"
    errors: list[BaseException] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            try:
                hits = b.search("公积金")
                assert hits, "a search during the swap must see the old or the new generation"
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
                errors.append(exc)
                return

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for n in range(3):
            a.rebuild([*DOCS, doc(f"NEW-{n}", f"公积金新事项{n}")], 10 + n)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors
    assert "NEW-2" in codes(b.search("公积金新事项2"))
    assert b.last_applied_id() == 12
    gens = sorted(p.name for p in (tmp_path / "ix").iterdir() if p.name.startswith("gen-"))
    assert len(gens) <= 2  # the live one and its predecessor


def test_apply_changes_is_idempotent_and_records_the_last_id(index: SearchIndex) -> None:
    new = doc("M-NEW", "居住证申领")
    assert index.apply_changes([(7, "M-NEW", new)]) == 7
    assert index.last_applied_id() == 7
    count = index.doc_count()
    assert index.apply_changes([(7, "M-NEW", new)]) == 7  # replay: nothing happens
    assert index.doc_count() == count
    assert codes(index.search("居住证")) == ["M-NEW"]

    index.apply_changes([(8, "M-NEW", None)])
    assert index.search("居住证") == []
    index.apply_changes([(7, "M-NEW", new)])  # an old change replayed late stays ignored
    assert index.search("居住证") == []
    assert index.last_applied_id() == 8


def test_apply_changes_can_move_the_mark_past_rows_that_do_not_touch_the_index(index: SearchIndex) -> None:
    assert index.apply_changes([], applied_id=30) == 30  # e.g. outbox rows for halls only
    assert index.last_applied_id() == 30
    assert index.apply_changes([(31, "M-NEW", doc("M-NEW", "居住证申领"))], applied_id=35) == 35
    assert index.apply_changes([], applied_id=20) == 35  # never moves backwards
    assert codes(index.search("居住证")) == ["M-NEW"]


def test_apply_changes_last_change_per_code_wins_within_a_batch(index: SearchIndex) -> None:
    index.apply_changes(
        [
            (12, "M-X", doc("M-X", "居住证签注")),
            (11, "M-X", doc("M-X", "居住证申领")),
            (13, "M-BABY", doc("M-BABY", "新生儿入户（出生登记）")),
        ]
    )
    assert codes(index.search("居住证签注")) == ["M-X"]
    assert index.doc_count() == len(DOCS) + 1
    assert index.last_applied_id() == 13
    assert codes(index.search("出生登记"))[0] == "M-BABY"


def test_apply_changes_rejects_malformed_changes_before_writing(index: SearchIndex) -> None:
    with pytest.raises(ValueError):
        index.apply_changes([(20, "M-A", doc("M-A", "甲")), ("21", "M-B", doc("M-B", "乙"))])  # type: ignore[list-item]
    assert index.last_applied_id() == 0
    assert index.search("甲") == []


def test_apply_changes_without_an_index_creates_one(tmp_path: Path) -> None:
    idx = SearchIndex(tmp_path / "fresh")
    assert idx.apply_changes([(3, "M-1", doc("M-1", "失业登记"))]) == 3
    assert idx.is_ready() and idx.doc_count() == 1


def test_reopen_after_crash_leftovers_and_catch_up(tmp_path: Path) -> None:
    folder = tmp_path / "ix"
    idx = SearchIndex(folder)
    idx.rebuild(DOCS, 100)
    idx.close()
    live = folder / store.read_pointer(folder)  # type: ignore[operator]
    # a writer killed mid-way: its lock file stays behind (no process holds the lock)
    (live / "MAIN_WRITELOCK").write_text("")
    # a rebuild killed before the swap: a half-written newer generation
    half = folder / "gen-999999"
    half.mkdir()
    (half / "MAIN_abc123.seg").write_bytes(b"\x00partial")
    old = time.time() - 2 * store.ABANDONED_AFTER_S
    os.utime(half, (old, old))
    (folder / ".CURRENT.1.2.tmp").write_text("gen-999999\n")  # a pointer never swapped in

    reopened = SearchIndex(folder, writer_timeout=2.0)
    assert reopened.is_ready()
    assert reopened.last_applied_id() == 100
    assert codes(reopened.search("新生儿入户"))[0] == "M-BABY"
    # catch up from the outbox: replayed ids are skipped, new ones applied
    assert reopened.apply_changes([(99, "M-BABY", None), (101, "M-NEW", doc("M-NEW", "居住证申领"))]) == 101
    assert "M-BABY" in codes(reopened.search("新生儿入户"))
    assert codes(reopened.search("居住证")) == ["M-NEW"]
    reopened.rebuild(DOCS, 101)
    assert not half.exists()


def test_pointer_to_a_missing_generation_keeps_serving_the_open_one(
    index: SearchIndex, tmp_path: Path
) -> None:
    folder = tmp_path / "index"
    assert index.search("新生儿入户")
    store.write_pointer(folder, "gen-000777")  # points nowhere (e.g. removed by hand)
    assert codes(index.search("新生儿入户"))[0] == "M-BABY"


def test_a_live_writer_blocks_only_until_the_timeout(tmp_path: Path) -> None:
    idx = SearchIndex(tmp_path / "ix", writer_timeout=0.3)
    idx.rebuild(DOCS, 1)
    live = tmp_path / "ix" / store.read_pointer(tmp_path / "ix")  # type: ignore[operator]
    lock = windex.open_dir(str(live)).lock("WRITELOCK")
    assert lock.acquire()
    try:
        started = time.monotonic()
        with pytest.raises(IndexBusyError):
            idx.apply_changes([(2, "M-NEW", doc("M-NEW", "居住证申领"))])
        assert time.monotonic() - started < 2.0
        assert codes(idx.search("新生儿入户"))[0] == "M-BABY"  # reads are never blocked
    finally:
        lock.release()
    assert idx.apply_changes([(2, "M-NEW", doc("M-NEW", "居住证申领"))]) == 2


def test_concurrent_searches_and_writes(index: SearchIndex) -> None:
    errors: list[BaseException] = []

    def search_many() -> None:
        try:
            for _ in range(30):
                assert index.search("公积金")
                index.search("社保卡丢了")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=search_many) for _ in range(6)]
    for t in threads:
        t.start()
    for n in range(5):
        index.apply_changes([(n + 1, f"M-C{n}", doc(f"M-C{n}", f"公积金测试{n}"))])
    for t in threads:
        t.join()
    assert not errors
    assert index.last_applied_id() == 5
    assert index.doc_count() == len(DOCS) + 5


def test_close_releases_and_the_index_reopens_lazily(index: SearchIndex) -> None:
    index.close()
    index.close()
    assert codes(index.search("新生儿入户"))[0] == "M-BABY"


def test_rebuild_with_a_bad_document_changes_nothing(index: SearchIndex, tmp_path: Path) -> None:
    before = store.read_pointer(tmp_path / "index")
    with pytest.raises(ValueError):
        index.rebuild([*DOCS, {"name": "无编码"}], 9)
    assert store.read_pointer(tmp_path / "index") == before
    assert index.last_applied_id() == 0


def test_a_broken_pointer_is_not_ready_until_repaired(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "ix"
    SearchIndex(folder).rebuild(DOCS, 3)
    good = store.read_pointer(folder)
    store.write_pointer(folder, "gen-000777")
    idx = SearchIndex(folder)
    for _ in range(3):
        assert idx.search("新生儿入户") == []
    assert not idx.is_ready()
    assert len([r for r in caplog.records if "cannot be opened" in r.getMessage()]) == 1  # logged once
    store.write_pointer(folder, good)  # type: ignore[arg-type]
    assert idx.is_ready() and idx.last_applied_id() == 3


def test_remembered_answers_and_postings_end_with_the_commit_that_changes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers are cached per searcher: a commit by this or another instance opens a new one."""
    import search_index.index as index_module

    monkeypatch.setattr(index_module, "RECHECK_SECONDS", 0)  # every search looks at the disk
    folder = tmp_path / "shared"
    writer, reader = SearchIndex(folder), SearchIndex(folder)
    writer.rebuild(DOCS, 1)
    first = reader.search("居住证 社保卡")
    assert reader.search("居住证 社保卡") == first  # the second ask is answered from the cache
    assert "M-NEW" not in codes(first)
    writer.apply_changes([(2, "M-NEW", doc("M-NEW", "居住证申领"))])
    assert codes(reader.search("居住证 社保卡"))[0] == "M-NEW"  # another instance's commit is seen
    reader.apply_changes([(3, "M-NEW", None)])
    assert "M-NEW" not in codes(reader.search("居住证 社保卡"))
    assert "M-NEW" not in codes(writer.search("居住证 社保卡"))


def test_postings_cache_stays_within_its_budget() -> None:
    from search_index.query import PostingsCache

    cache = PostingsCache(budget=10)
    cache.put(("name_w", "a"), {1: 1.0, 2: 1.0, 3: 1.0})  # costs 4
    cache.put(("name_w", "b"), None)  # an absent term costs 1
    cache.put(("name_w", "c"), {i: 1.0 for i in range(20)})  # larger than the whole budget: not kept
    assert cache.get(("name_w", "c")) == (False, None)
    assert cache.get(("name_w", "a")) == (True, {1: 1.0, 2: 1.0, 3: 1.0})  # now most recently used
    cache.put(("name_w", "d"), {i: 1.0 for i in range(5)})  # costs 6: "b" (least recent) goes
    assert cache.get(("name_w", "b")) == (False, None)
    assert cache.get(("name_w", "a"))[0] and cache.get(("name_w", "d"))[0]
    assert len(cache) == 2


def test_cached_postings_and_words_give_exactly_the_uncached_answers(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The per-searcher caches are an optimisation only: same hits, scores and highlights."""
    import json

    import search_index.index as index_module
    from search_index import query

    asked = [
        q["q"]
        for q in json.loads((Path(__file__).parent.parent / "bench" / "eval_queries.json").read_text())[
            "queries"
        ]
    ]
    asked += ["社保卡", "公积金 社保卡", "shebaoka", "gjj", "社报卡", "户口 迁移 证明"]
    cached = [index.search(q, 20) for q in asked] + [index.search(q, 20) for q in reversed(asked)][::-1]
    original = query.execute
    monkeypatch.setattr(
        index_module, "execute", lambda s, plan, limit, shared=None: original(s, plan, limit, None)
    )
    monkeypatch.setattr(index_module, "RESULTS_CACHED", 0)
    fresh = SearchIndex(index._dir)  # noqa: SLF001
    plain = [fresh.search(q, 20) for q in asked]
    assert cached == plain + plain
    assert sum(1 for hits in plain if hits) > len(asked) // 2  # the comparison is not vacuous


def test_batched_commits_do_not_pile_up_segments(index: SearchIndex) -> None:
    """An import applies its changes in batches, one commit (one segment) each, and Whoosh's merge
    policy keeps batches of a few hundred apart (10 batches of 200 left 11 segments); past the
    bound a commit merges them, and the same documents are found as in one built index."""
    from search_index.index import MAX_SEGMENTS

    def segments() -> int:
        folder = index._dir / store.read_pointer(index._dir)  # noqa: SLF001
        return len(windex.open_dir(str(folder))._segments())  # noqa: SLF001

    extra = [doc(f"M-X{i:04d}", f"第{i}号证明开具", guide_text="携带居民身份证") for i in range(2000)]
    for start in range(0, 1000, 200):  # batches of a catch-up that has more to apply: no merging yet
        batch = extra[start : start + 200]
        index.apply_changes([(start + i + 1, d["code"], d) for i, d in enumerate(batch)], more_follow=True)
    piled = segments()
    for start in range(1000, len(extra), 200):
        batch = extra[start : start + 200]
        index.apply_changes([(start + i + 1, d["code"], d) for i, d in enumerate(batch)])
        assert segments() <= MAX_SEGMENTS
    assert piled > 1
    built = SearchIndex(index._dir.parent / "built")  # noqa: SLF001
    built.rebuild([*DOCS, *extra], len(extra))
    for q in ("社保卡", "公积金", "新生儿入户"):  # the same documents (ties may order differently)
        assert sorted(codes(index.search(q, 100))) == sorted(codes(built.search(q, 100))), q
    assert (
        codes(index.search("第1234号证明开具"))[0] == codes(built.search("第1234号证明开具"))[0] == "M-X1234"
    )


def test_an_answer_highlights_only_the_hits_asked_for_and_the_same_as_search(index: SearchIndex) -> None:
    """A results page ranks every hit but shows a page of them: `find` leaves the highlights to be
    made for those, and they are the ones `search` gives."""
    answer = index.find("社保卡", 10)
    assert answer is not None and len(answer) >= 2
    first = answer.scored()[0][0]
    marked = answer.highlights([first])
    assert answer._highlights.keys() == {first}  # noqa: SLF001 - the others were not made
    whole = index.search("社保卡", 10)
    assert [code for code, _ in answer.scored()] == codes(whole)
    assert [score for _, score in answer.scored()] == [h.score for h in whole]
    assert marked == {first: whole[0].highlight}
    assert answer.highlights(codes(whole)) == {h.code: h.highlight for h in whole}
    assert answer.highlights(["M-NOT-A-HIT"]) == {"M-NOT-A-HIT": None}
    assert index.find("", 10) is None and index.find("zzzqqq", 10) is None


def test_an_answer_highlights_from_the_current_text_after_a_commit(index: SearchIndex) -> None:
    """Between the search and the page's highlights a commit may change or remove a matter: the
    highlight follows the index as it is then (never another document's text)."""
    answer = index.find("公积金", 10)
    assert answer is not None
    found = [code for code, _ in answer.scored()]
    assert {"M-HF-BUY", "M-HF-MOVE"} <= set(found)
    index.apply_changes([(1, "M-HF-BUY", None), (2, "M-HF-MOVE", doc("M-HF-MOVE", "公积金账户转移"))])
    marked = answer.highlights(found)
    assert marked["M-HF-BUY"] is None  # removed since
    assert marked["M-HF-MOVE"] == "<mark>公积金</mark>账户转移"


def test_block_reads_of_postings_match_the_matcher_interface(index: SearchIndex) -> None:
    """`term_weights` reads Whoosh's segment matchers a block at a time: over several segments with
    deleted documents it must give exactly what the standard matcher interface gives."""
    from whoosh.matching.wrappers import FilterMatcher

    from search_index.query import term_weights

    extra = [doc(f"M-B{i:03d}", f"第{i}号社保卡补领", guide_text="携带居民身份证") for i in range(300)]
    for start in range(0, 300, 100):  # three more segments (more_follow: no merge)
        batch = extra[start : start + 100]
        index.apply_changes([(start + i + 1, d["code"], d) for i, d in enumerate(batch)], more_follow=True)
    index.apply_changes(
        [(400 + i, f"M-B{i:03d}", None) for i in range(0, 300, 7)], more_follow=True
    )  # deletions
    index.apply_changes([(500, "M-LOSS", None)], more_follow=True)
    handle = index._acquire()  # noqa: SLF001
    try:
        reader = handle.searcher.reader()
        leaves = reader.leaf_readers()
        assert len(leaves) > 1 and any(leaf.has_deletions() for leaf, _ in leaves)
        filtered = compared = 0
        for fname in ("name_w", "sub_w", "guide_w", "gram", "py", "pyi"):
            for term in list(reader.lexicon(fname)):
                text = term.decode("utf-8") if isinstance(term, bytes) else term
                standard = []
                matcher = reader.postings(fname, text)
                filtered += any(isinstance(m, FilterMatcher) for m in getattr(matcher, "matchers", [matcher]))
                while matcher.is_active():
                    standard.append((matcher.id(), matcher.weight()))
                    matcher.next()
                assert list(term_weights(leaves, fname, text)) == standard, (fname, text)
                compared += 1
        assert compared > 100 and filtered > 0
    finally:
        index._release(handle)  # noqa: SLF001


def test_another_instances_commit_shows_within_the_recheck_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search trusts the disk for RECHECK_SECONDS (a stat and a folder listing per search were
    measurable); this instance's own writes show at once, another's after the interval."""
    import search_index.index as index_module

    folder = tmp_path / "shared"
    writer, reader = SearchIndex(folder), SearchIndex(folder)
    writer.rebuild(DOCS, 1)
    assert "M-NEW" not in codes(reader.search("居住证"))
    monkeypatch.setattr(index_module, "RECHECK_SECONDS", 3600.0)
    writer.apply_changes([(2, "M-NEW", doc("M-NEW", "居住证申领"))])
    assert codes(writer.search("居住证"))[0] == "M-NEW"  # its own write: at once
    assert "M-NEW" not in codes(reader.search("居住证"))  # the other: not looked at yet
    monkeypatch.setattr(index_module, "RECHECK_SECONDS", 0.05)
    time.sleep(0.06)
    assert codes(reader.search("居住证"))[0] == "M-NEW"
    writer.rebuild([*DOCS, doc("M-NEW2", "居住证签注")], 3)  # a swap to a new generation, too
    time.sleep(0.06)
    assert "M-NEW2" in codes(reader.search("居住证")) and reader.last_applied_id() == 3
