"""Text analysis kept cheap without changing a single term.

Covers: the bundled pinyin table (``search_index/pinyin.txt``) is what the installed pypinyin
gives, and ``char_pinyin`` reads exactly as ``lazy_pinyin`` on names, regions, synonyms,
phrases and mixed text; serving never imports pypinyin or pkg_resources; remembered jieba
cuts equal fresh ones and are forgotten when a word is added; the column-query document
reader of a rebuild equals the model-based ``matter_document``.
"""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from api.db import Database
from api.enums import GuideStatus
from api.models import Guide, Matter
from api.services.indexing import matter_document, published_documents
from search_index import analysis

ROOT = Path(__file__).resolve().parent.parent


def test_bundled_pinyin_table_is_what_the_installed_pypinyin_gives() -> None:
    bundled = (ROOT / "search_index" / "pinyin.txt").read_text(encoding="utf-8")
    assert analysis.generate_pinyin_data() == bundled, (
        "search_index/pinyin.txt is stale: regenerate it (see analysis.generate_pinyin_data)"
    )


def _corpus() -> list[str]:
    from pypinyin.constants import PHRASES_DICT

    texts: list[str] = []
    with open(ROOT / "api" / "data" / "regions.csv", encoding="utf-8") as fh:
        texts += [cell for row in csv.reader(fh) for cell in row]
    texts += (ROOT / "search_index" / "synonyms.txt").read_text(encoding="utf-8").split()
    texts += [
        q["q"]
        for q in json.loads((ROOT / "bench" / "eval_queries.json").read_text(encoding="utf-8"))["queries"]
    ]
    texts += [(ROOT / "api" / "data" / "demo.json").read_text(encoding="utf-8")[:20000]]
    phrases = sorted(PHRASES_DICT)
    texts += phrases[::7]
    rng = random.Random(8)
    odd = [
        chr(o) for o in (0x3007, 0x3400, 0x9FA5, 0xE815, 0xF900, 0x20000, 0x2A700, 0x31350, 0x3000, 0xFF21)
    ]
    odd += list(" \t\n,.，。、abcXYZ019ü①Ａ")
    for _ in range(3000):
        parts = [
            rng.choice(phrases) if rng.random() < 0.7 else "".join(rng.choices(odd, k=rng.randint(1, 3)))
            for _ in range(rng.randint(1, 5))
        ]
        text = "".join(parts)
        texts.append(text[rng.randint(0, 1) : len(text) - rng.randint(0, 1)] or text)
    return texts


def test_char_pinyin_reads_exactly_as_pypinyin() -> None:
    from pypinyin import Style, lazy_pinyin

    wrong = []
    for text in _corpus():
        expected = tuple(lazy_pinyin(text, style=Style.NORMAL, errors=lambda s: list(s)))
        if analysis.char_pinyin.__wrapped__(text) != expected:
            wrong.append(text[:40])
    assert not wrong, wrong[:10]
    # heteronyms read by the phrase, as before
    assert analysis.char_pinyin("银行") == ("yin", "hang")
    assert analysis.char_pinyin("行驶证") == ("xing", "shi", "zheng")
    assert analysis.char_pinyin("重庆") == ("chong", "qing")


def test_syllables_for_splitting_latin_input_are_pypinyins() -> None:
    from pypinyin.pinyin_dict import pinyin_dict

    expected = set()
    for value in set(pinyin_dict.values()):
        for marked in value.split(","):
            p = unicodedata.normalize("NFD", marked.replace("ü", "v"))
            plain = "".join(c for c in p if unicodedata.category(c) != "Mn")
            if plain.isascii() and plain.isalpha():
                expected.add(plain)
    assert analysis._syllables() == expected
    assert analysis.split_syllables("gongjijin") == ["gong", "ji", "jin"]


def test_searching_imports_neither_pypinyin_nor_pkg_resources(tmp_path: Path) -> None:
    """pypinyin's tables (~55 MB) and pkg_resources (~12 MB) stay out of serving processes."""
    script = f"""
import sys
from search_index import SearchIndex
index = SearchIndex({str(tmp_path / "index")!r})
index.rebuild([{{"code": "M-1", "name": "社会保障卡申领", "guide_text": "携带居民身份证。"}}], 1)
assert [h.code for h in index.search("shebaoka")] == ["M-1"], index.search("shebaoka")
assert [h.code for h in index.search("社报卡")] == ["M-1"]
print(sorted(m for m in ("pypinyin", "pkg_resources") if m in sys.modules))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.fixture
def own_tokenizer(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A tokenizer of this test's own, so the words it adds reach no other test."""
    tk = analysis.jieba.Tokenizer()
    tk.tmp_dir = analysis._cache_dir()
    tk.cache_file = "tongban-jieba.cache"
    tk.initialize()
    monkeypatch.setattr(analysis, "_tokenizer", tk)
    monkeypatch.setattr(analysis, "_added_words", set())
    analysis._cuts.clear()
    analysis._sub_word_cache.clear()
    yield
    analysis._cuts.clear()
    analysis._sub_word_cache.clear()


@pytest.mark.usefixtures("own_tokenizer")
def test_remembered_cuts_equal_fresh_ones_and_follow_added_words() -> None:
    texts = [
        "需要办理灵活就业人员社会保障卡补领的个人, 可在线或到跨区域通办窗口申请。",
        "居民身份证、户口簿；营业执照副本",
        "abc 123 ＡＢＣ　全角　空格\n换行",
    ]
    fresh = []
    for text in texts:
        analysis._cuts.clear()
        analysis._sub_word_cache.clear()
        fresh.append(analysis.index_words(text))
    with analysis.bulk_analysis():
        assert [analysis.index_words(t) for t in texts] == fresh
        assert [analysis.index_words(t) for t in texts] == fresh  # now from memory
        assert analysis._cuts
    assert not analysis._cuts  # forgotten after the bulk

    word = "跨域通办窗"  # not a dictionary word yet
    assert word not in analysis.index_words("到跨域通办窗口申请")[0]
    analysis.add_words([word])
    assert word in analysis.index_words("到跨域通办窗口申请")[0]


async def test_rebuild_reads_the_same_documents_as_the_models(demo_db: Database) -> None:
    async with demo_db.write() as session:
        matters = (await session.execute(select(Matter).order_by(Matter.code))).scalars().all()
        first, second, third = matters[0], matters[1], matters[2]
        # a newer published version wins over older ones; drafts and archived ones never count
        for matter, version, status, text in [
            (first, 90, GuideStatus.PUBLISHED, "第九十版条件"),
            (first, 91, GuideStatus.DRAFT, "草稿条件"),
            (first, 89, GuideStatus.PUBLISHED, "旧版条件"),
            (second, 95, GuideStatus.ARCHIVED, "归档条件"),
        ]:
            session.add(
                Guide(
                    matter_id=matter.id,
                    version=version,
                    status=status,
                    conditions=text,
                    materials=[{"name": "居民身份证"}],
                    steps=["窗口受理"],
                    walkthrough="教你办",
                )
            )
        third.published = False
    async with demo_db.read() as session:
        expected = [
            matter_document(m)
            for m in (
                await session.execute(
                    select(Matter)
                    .options(selectinload(Matter.guides))
                    .where(Matter.published.is_(True))
                    .order_by(Matter.code)
                )
            ).scalars()
        ]
        got = await published_documents(session)
    assert got == expected
    assert "第九十版条件" in got[0]["guide_text"]
    assert third.code not in {d["code"] for d in got}


@pytest.mark.parametrize("text", ["", " ", "ｓｂｋ", "社保卡", "公积金提取 shebao", "\u3007\u4e00"])
def test_char_pinyin_gives_one_syllable_per_character(text: str) -> None:
    assert len(analysis.char_pinyin(text)) == len(text)


def test_a_rebuild_in_memory_gives_the_same_index_as_one_on_disk(tmp_path: Path) -> None:
    from whoosh import index as windex

    from search_index import SearchIndex, store

    docs = [
        {
            "code": f"M-{i}",
            "name": name,
            "keywords": [name[:3]],
            "department": "人力资源社会保障局",
            "guide_text": f"携带居民身份证到窗口申请{name}。",
        }
        for i, name in enumerate(
            ["社会保障卡申领", "社保卡临时挂失", "购房提取住房公积金", "出生医学证明补发"] * 5
        )
    ]
    docs = [{**d, "code": f"{d['code']}-{n}"} for n, d in enumerate(docs)]
    readers = []
    # the default pool builds on disk with Whoosh's sorting pool; a larger one in memory, with
    # the postings grouped by term (index.GroupedPostings): the same terms, postings and weights
    for pool_mb in (64, 1024):
        index = SearchIndex(tmp_path / str(pool_mb))
        index.rebuild(docs, 5, pool_mb=pool_mb)
        assert index.search("shebaoka") and index.last_applied_id() == 5
        index.close()
        folder = tmp_path / str(pool_mb) / store.read_pointer(tmp_path / str(pool_mb))
        assert store.is_complete(folder)
        readers.append(windex.open_dir(str(folder)).reader())
    disk, memory = readers
    assert list(disk.all_terms()) == list(memory.all_terms())
    for fieldname, term in disk.all_terms():
        assert list(disk.postings(fieldname, term).items_as("weight")) == list(
            memory.postings(fieldname, term).items_as("weight")
        )
    for reader in readers:
        reader.close()


@pytest.mark.parametrize(
    "value",
    [
        ["社保", "社保卡", "社保", "sbk", "社保"],
        ["公积金"],
        [],
        ("出生", "医学", "证明", "出生"),
        "社保 社保卡 社保",
    ],
)
def test_term_list_fields_post_exactly_what_whoosh_would(value: object) -> None:
    """The index's term fields count their term lists themselves (faster than Whoosh's token path);
    the postings (term bytes, frequency, weight, stored value) must be Whoosh's own, boosts included."""
    from whoosh.fields import KEYWORD

    from search_index.schema import TermList

    for boost in (1.0, 2.5):
        ours, whooshs = (
            TermList(scorable=False, field_boost=boost),
            KEYWORD(scorable=False, field_boost=boost),
        )
        assert list(ours.index(value)) == list(whooshs.index(value))


def test_region_type_ahead_reads_every_bundled_region_as_pypinyin() -> None:
    """web.regions builds its pinyin index from the compact tables (pypinyin stays out of workers)."""
    import csv

    from pypinyin import Style, lazy_pinyin

    from web.regions import name_syllables

    with (ROOT / "api" / "data" / "regions.csv").open(encoding="utf-8") as handle:
        names = {row["name"] for row in csv.DictReader(handle)}
    assert len(names) > 3000
    wrong = [
        name
        for name in names
        if name_syllables(name) != lazy_pinyin(name, errors="ignore")
        or [s[0] for s in name_syllables(name)]
        != lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore")
    ]
    assert not wrong, wrong[:10]
