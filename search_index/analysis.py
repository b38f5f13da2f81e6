"""Text analysis for matter search: jieba words, character bigrams, pinyin, synonyms.

Everything here turns text into plain lists of terms. The index stores those terms in
whitespace-separated KEYWORD fields, so the Whoosh schema pickled into the index holds
no custom analyzer: an index can be opened by any process without importing jieba into
Whoosh's unpickler, and indexing and querying are guaranteed to cut text the same way.

Four views of a text are produced:

* words: jieba's precise cut plus every dictionary word inside a longer word (a more
  exhaustive "search mode" than jieba's own, which skips 4-character sub-words such as
  社会保障 inside 社会保障卡);
* character bigrams of Chinese runs: a safety net when jieba cuts a query and a name
  differently, or one character is wrong;
* pinyin: per-word full pinyin and initials (``gongjijin``, ``sbk``) and syllable
  bigrams (``gongji``, ``jijin``), which also catch homophone typos (公基金);
* synonyms: a data file of everyday vocabulary, expanded at query time so staff
  additions take effect without re-indexing.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import re
import sys
import tempfile
import threading
import unicodedata
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol


def _import_jieba() -> Any:
    """Import jieba without ``pkg_resources`` (~12 MB per process, deprecated).

    jieba 0.42 only uses it to open its own dictionary file and falls back to a plain
    ``open`` when the import fails; the block is lifted right after the import.
    """
    if "pkg_resources" in sys.modules:
        import jieba

        return jieba
    sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # makes the import fail
    try:
        import jieba
    finally:
        del sys.modules["pkg_resources"]
    return jieba


jieba = _import_jieba()


class JiebaTokenizer(Protocol):
    """What this module uses of ``jieba.Tokenizer`` (jieba ships no type information)."""

    tmp_dir: str | None
    cache_file: str | None
    FREQ: dict[str, int]

    def initialize(self) -> None: ...

    def add_word(self, word: str) -> None: ...

    def cut(self, sentence: str, cut_all: bool = False, HMM: bool = True) -> Iterator[str]: ...


__all__ = [
    "abbreviations",
    "SynonymTable",
    "bigram_pairs",
    "bulk_analysis",
    "char_bigrams",
    "char_pinyin",
    "generate_pinyin_data",
    "is_cjk",
    "jieba_tokenizer",
    "lexicon_pairs",
    "load_synonyms",
    "normalize",
    "pinyin_terms",
    "query_words",
    "split_syllables",
    "index_words",
    "stopwords",
]

_DATA = Path(__file__).with_name("synonyms.txt")
#: the large everyday <-> official vocabulary (provenance: LEXICON_SOURCES.md), read with _DATA
_LEXICON = Path(__file__).with_name("lexicon.txt")
_STOPWORDS = Path(__file__).with_name("stopwords.txt")

_tokenizer: JiebaTokenizer | None = None
#: jieba's own block pattern (see ``_precise``)
_HAN_BLOCKS: re.Pattern[str] = jieba.re_han_default
_tokenizer_lock = threading.Lock()
_added_words: set[str] = set()


def is_cjk(ch: str) -> bool:
    """True for a CJK unified ideograph (the characters pinyin and bigrams apply to)."""
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2EBEF or 0xF900 <= o <= 0xFAFF


def normalize(text: str) -> str:
    """Fold width and case (NFKC + lower) so ＳＢＫ, Sbk and sbk are one term."""
    return unicodedata.normalize("NFKC", text).lower()


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or is_cjk(ch)


def jieba_tokenizer() -> JiebaTokenizer:
    """The process-wide jieba tokenizer, loaded once and quietly.

    Loading the dictionary takes about a second; jieba caches the parsed dictionary in
    ``TONGBAN_JIEBA_CACHE_DIR`` (default: the system temp folder), which makes later
    processes start in a fraction of that. Words from the synonym dictionary are added so
    that phrases like 社保卡 or 上户口 are cut as one word.
    """
    global _tokenizer
    if _tokenizer is not None:
        return _tokenizer
    with _tokenizer_lock:
        if _tokenizer is None:
            jieba.setLogLevel(logging.WARNING)
            tk: JiebaTokenizer = jieba.Tokenizer()
            tk.tmp_dir = _cache_dir()
            tk.cache_file = "tongban-jieba.cache"
            tk.initialize()
            for word in _jieba_words():
                _add_word(tk, word)
            _pinyin_tables()  # load the pinyin tables now, not in a query
            _tokenizer = tk
            # The dictionaries above are ~250k long-lived objects; without this, every
            # full garbage collection walks them (~40 ms, a visible search latency spike).
            # Freezing only exempts them from the cycle collector; nothing is leaked.
            gc.freeze()
    return _tokenizer


#: lexicon words longer than this are not taught to jieba: an official phrase (教师资格认定) as
#: one word would make its parts (教师资格) only weak sub-word matches; as an expansion it is cut
#: into its words like any text, all of them required
_MAX_LEXICON_WORD = 4


def _jieba_words() -> set[str]:
    """Words cut whole: every word of synonyms.txt, and the lexicon's short words."""
    core = parse_synonyms(_DATA.read_text(encoding="utf-8").splitlines()).all_words()
    lexicon = parse_synonyms(_LEXICON.read_text(encoding="utf-8").splitlines()).all_words()
    return core | {w for w in lexicon if len(w) <= _MAX_LEXICON_WORD}


def abbreviations(words: Sequence[str]) -> list[str]:
    """Short forms a name's words allow, in order: 公共租赁住房 -> 公租房, 医疗保险 -> 医保.

    Chinese short forms keep characters of the full name in order, usually the first character
    of each part (社会保障卡 -> 社保卡) and sometimes the last of the final part (公租房: 住房 ->
    房; 个税: 所得税 -> 税). The parts are the name's words, long words split into two-character
    dictionary words (a final three-character word kept whole); spans of 2-3 consecutive parts give one short form each, plus the variant
    with the last part's last character. Literal text is left to the word fields.
    """
    freq = jieba_tokenizer().FREQ
    out: list[str] = []
    for keep_final_three in (False, True):
        units: list[str] = []
        for w in words:
            if not w or not all(is_cjk(c) for c in w):
                units.append("")  # a break: no short form spans non-Chinese text
            elif len(w) <= 3:
                units.append(w)
            else:
                units.extend(_parts(w, freq, keep_final_three))
        n = len(units)
        for i in range(n):
            for j in range(i + 2, min(n, i + 3) + 1):
                span = units[i:j]
                if not all(span):
                    break
                head = "".join(u[0] for u in span[:-1])
                out.extend(head + last for last in dict.fromkeys((span[-1][0], span[-1][-1])))
    return list(dict.fromkeys(out))


def _parts(word: str, freq: Mapping[str, int], keep_final_three: bool) -> list[str]:
    """A long word in two-character dictionary words (else single characters), left to right;
    with ``keep_final_three`` a final three-character dictionary word stays whole (所得税)."""
    parts: list[str] = []
    i = 0
    while i < len(word):
        if keep_final_three and len(word) - i == 3 and freq.get(word[i:]):
            parts.append(word[i:])
            break
        step = 2 if i + 2 <= len(word) and freq.get(word[i : i + 2]) else 1
        parts.append(word[i : i + step])
        i += step
    return parts


def _cache_dir() -> str:
    """A writable folder for jieba's parsed-dictionary cache (else jieba logs a traceback)."""
    wanted = os.environ.get("TONGBAN_JIEBA_CACHE_DIR")
    if wanted:
        try:
            Path(wanted).mkdir(parents=True, exist_ok=True)
            if os.access(wanted, os.W_OK):
                return wanted
        except OSError:
            pass
    return tempfile.gettempdir()


def _add_word(tk: JiebaTokenizer, word: str) -> None:
    if len(word) >= 2 and word not in _added_words and all(_is_word_char(c) for c in word):
        tk.add_word(word)
        _added_words.add(word)
        # a new word changes how text is cut (and jieba's total frequency, so possibly
        # elsewhere too): forget every remembered cut
        global _cut_generation
        _cut_generation += 1
        _cuts.clear()
        _sub_word_cache.clear()


def add_words(words: Iterable[str]) -> None:
    """Teach the tokenizer extra words (staff synonyms), so queries cut them whole."""
    tk = jieba_tokenizer()
    with _tokenizer_lock:
        for w in words:
            _add_word(tk, normalize(w))


# Cuts are remembered per block, jieba's own unit: jieba splits a text at every character
# outside ``re_han_default`` (punctuation, spaces) and cuts each block on its own, so a
# block's words never depend on its neighbours. Names, materials and steps repeat across
# matters (20,000 matters have ~440,000 blocks but ~41,000 distinct ones), so a rebuild
# cuts each only once. Bounded: a serving process keeps a few thousand, a rebuild (inside
# ``bulk_analysis``) all it meets.
_CUT_CACHE_SIZE = 4096
_BULK_CUT_CACHE_SIZE = 500_000
_CACHED_BLOCK_CHARS = 200
_cut_cache_size = _CUT_CACHE_SIZE
_cuts: dict[str, tuple[str, ...]] = {}
_sub_word_cache: dict[str, tuple[str, ...]] = {}
_cut_generation = 0  # moves whenever a word is added (see ``_remember``)
_bulk_depth = 0


@contextlib.contextmanager
def bulk_analysis() -> Iterator[None]:
    """Remember many more cuts while indexing many documents (forgotten afterwards)."""
    global _cut_cache_size, _bulk_depth
    with _tokenizer_lock:
        _bulk_depth += 1
        _cut_cache_size = _BULK_CUT_CACHE_SIZE
    try:
        yield
    finally:
        with _tokenizer_lock:
            _bulk_depth -= 1
            if _bulk_depth == 0:
                _cut_cache_size = _CUT_CACHE_SIZE
                _cuts.clear()
                _sub_word_cache.clear()


def _remember(cache: dict[str, tuple[str, ...]], key: str, value: tuple[str, ...], generation: int) -> None:
    """Keep ``value``, computed while ``_cut_generation`` was ``generation``."""
    if len(key) > _CACHED_BLOCK_CHARS:
        return  # long blocks rarely repeat; they would only crowd the cache
    if len(cache) >= _cut_cache_size:
        cache.clear()
    cache[key] = value
    if _cut_generation != generation:  # a word was added meanwhile: the value may be stale
        cache.pop(key, None)


def _precise(text: str) -> list[str]:
    """jieba's precise cut without HMM (deterministic, and the same for index and query)."""
    tk = jieba_tokenizer()
    out: list[str] = []
    for block in _HAN_BLOCKS.split(text):
        if not block:
            continue
        words = _cuts.get(block)
        if words is None:
            generation = _cut_generation
            words = tuple(w for w in tk.cut(block, HMM=False) if w and _is_word_char(w[0]))
            _remember(_cuts, block, words, generation)
        out.extend(words)
    return out


def _sub_words(word: str) -> list[str]:
    """Every dictionary word strictly inside ``word`` (2 characters or more)."""
    if len(word) <= 2 or not is_cjk(word[0]):
        return []
    found = _sub_word_cache.get(word)
    if found is None:
        generation = _cut_generation
        freq = jieba_tokenizer().FREQ
        out = []
        n = len(word)
        for size in range(n - 1, 1, -1):
            for i in range(0, n - size + 1):
                sub = word[i : i + size]
                if freq.get(sub):
                    out.append(sub)
        found = tuple(out)
        _remember(_sub_word_cache, word, found, generation)
    return list(found)


def index_words(text: str) -> tuple[list[str], list[str]]:
    """Words to index for ``text``: the precise cut, and the sub-words of its long words.

    They are kept apart so a query for 社保 (social insurance) matches 社保卡 (the card)
    only weakly, through the sub-word field.
    """
    words = _precise(normalize(text))
    return words, [s for w in words for s in _sub_words(w)]


def query_words(text: str) -> list[tuple[str, list[str]]]:
    """The query's words, each with its sub-words (used as weaker alternatives)."""
    return [(w, _sub_words(w)) for w in _precise(normalize(text))]


def char_bigrams(text: str) -> list[str]:
    """Bigrams of each run of Chinese characters (a lone character gives none)."""
    text = normalize(text)
    out: list[str] = []
    run: list[str] = []
    for ch in [*text, " "]:
        if is_cjk(ch):
            run.append(ch)
            continue
        out.extend(run[i] + run[i + 1] for i in range(len(run) - 1))
        run = []
    return out


# Pinyin ------------------------------------------------------------------------------
#
# pypinyin's tables cost every process that imports it ~55 MB (its phrase table alone is
# ~600,000 Python objects). What this module needs of it -- one toneless syllable per
# character, phrase-aware like ``lazy_pinyin`` -- is kept in ``pinyin.txt``, generated
# from pypinyin by :func:`generate_pinyin_data` (a test checks it against the installed
# pypinyin), and loaded into a few compact strings (~3 MB): serving processes never
# import pypinyin. The conversion below reproduces ``lazy_pinyin(text, errors=list)``
# exactly, including its greedy phrase segmentation, so indexes built before and after
# this change hold the same terms.

_PINYIN_DATA = Path(__file__).with_name("pinyin.txt")
_TABLE_BASE = 0x3000
_NOT_HAN, _HAN_UNREAD = "\0", "\1"  # table codes below the first syllable code (2)
_PHRASE, _PREFIX = "\1", "\2"  # entry flags in the phrase-prefix blobs


@dataclass(frozen=True)
class _PinyinTables:
    #: code point - _TABLE_BASE -> _NOT_HAN, _HAN_UNREAD or chr(2 + index in ``syllables``)
    chars: str
    syllables: tuple[str, ...]
    #: first character -> "\n" + "\n".join(rest + flag) for every prefix of every phrase of
    #: two or more characters (flag _PHRASE for a phrase, _PREFIX for a mere prefix)
    prefixes: dict[str, str]
    #: phrases whose reading differs from their characters' default readings
    readings: dict[str, tuple[str, ...]]
    #: every toneless syllable of any reading of any character (for split_syllables)
    all_syllables: frozenset[str]


@lru_cache(maxsize=1)
def _pinyin_tables() -> _PinyinTables:
    """Load ``pinyin.txt`` (streamed: the file's phrases come sorted, so grouped by their
    first character, and only one group's entries exist at a time)."""
    codes = array("H")
    syllables: list[str] = []
    all_syllables: frozenset[str] = frozenset()
    prefixes: dict[str, str] = {}
    readings: dict[str, tuple[str, ...]] = {}
    first = ""
    rests: dict[str, str] = {}  # the rest of each phrase (and of its prefixes) → _PHRASE or _PREFIX

    def flush() -> None:
        if rests:
            prefixes[first] = "\n" + "\n".join(r + f for r, f in sorted(rests.items())) + "\n"

    with open(_PINYIN_DATA, encoding="utf-8") as fh:
        for raw in fh:
            line = raw.rstrip("\n")
            if not line or line[0] == "#":
                continue
            if line[0] == "@":
                key, _, value = line[1:].partition(" ")
                if key == "han":
                    lo, hi = (int(x, 16) - _TABLE_BASE for x in value.split("-"))
                    if len(codes) <= hi:
                        codes.frombytes(bytes(2 * (hi + 1 - len(codes))))  # zeros: _NOT_HAN
                    codes[lo : hi + 1] = array("H", [ord(_HAN_UNREAD)]) * (hi + 1 - lo)
                elif key == "syllables":
                    all_syllables = frozenset(value.split())
                continue
            if line[0] == "=":
                syllable, _, chars = line[1:].partition(" ")
                code = 2 + len(syllables)
                syllables.append(syllable)
                for ch in chars:
                    codes[ord(ch) - _TABLE_BASE] = code
                continue
            phrase, *reading = line.split(" ")
            if reading:
                readings[phrase] = tuple(reading)
            if phrase[0] != first:
                flush()
                first, rests = phrase[0], {}
                if first in prefixes:
                    raise ValueError(f"{_PINYIN_DATA.name}: phrases out of order at {phrase}")
            for end in range(2, len(phrase)):
                rests.setdefault(phrase[1:end], _PREFIX)
            rests[phrase[1:]] = _PHRASE
    flush()
    if codes.itemsize != 2 or len(syllables) > 0xD7FF - 2:
        raise ValueError("pinyin table does not fit 16-bit codes")
    chars = codes.tobytes().decode("utf-16-le" if sys.byteorder == "little" else "utf-16-be")
    return _PinyinTables(chars, tuple(syllables), prefixes, readings, all_syllables)


def _han_segments(run: str, prefixes: dict[str, str]) -> Iterable[str]:
    """pypinyin's greedy phrase segmentation of a run of Chinese characters.

    At each position the longest phrase starting there is taken, scanning while the text
    is a prefix of some phrase. Quirk kept on purpose (it decides readings): when the scan
    reaches the end of the run without finding a phrase, the rest is split into single
    characters.
    """
    remain = run
    while remain:
        blob = prefixes.get(remain[0])
        best = 0
        if blob is not None:
            for end in range(2, len(remain) + 1):
                key = "\n" + remain[1:end]
                if key + _PHRASE in blob:
                    best = end
                elif key + _PREFIX not in blob:
                    break
            else:
                if not best:
                    yield from remain
                    return
        if best:
            yield remain[:best]
            remain = remain[best:]
        else:
            yield remain[0]
            remain = remain[1:]


def generate_pinyin_data() -> str:
    """The text of ``pinyin.txt``, from the installed pypinyin (slow; imports pypinyin).

    After upgrading pypinyin, rewrite the file with::

        .venv/bin/python -c "from search_index.analysis import generate_pinyin_data as g; \\
            open('search_index/pinyin.txt', 'w', encoding='utf-8').write(g())"
    """
    from importlib.metadata import version

    from pypinyin import lazy_pinyin
    from pypinyin.constants import PHRASES_DICT, RE_HANS
    from pypinyin.pinyin_dict import pinyin_dict

    def each_character(chars: str) -> list[str]:
        return list(chars)

    def read(text: str) -> list[str]:
        # pypinyin documents that an `errors` callback may return a list (its stub says str only)
        return lazy_pinyin(text, errors=each_character)  # type: ignore[arg-type]

    han = [o for o in range(0x110000) if not 0xD800 <= o <= 0xDFFF and RE_HANS.match(chr(o))]
    ranges: list[list[int]] = []
    for o in han:
        if ranges and ranges[-1][1] == o - 1:
            ranges[-1][1] = o
        else:
            ranges.append([o, o])
    if not han or han[0] < _TABLE_BASE:
        raise ValueError("pypinyin's Chinese characters start below the table base")
    by_syllable: dict[str, list[str]] = {}
    default: dict[str, str] = {}
    for o in han:
        if o in pinyin_dict:
            (syllable,) = read(chr(o))
            if syllable != chr(o):
                by_syllable.setdefault(syllable, []).append(chr(o))
                default[chr(o)] = syllable
    phrases = []
    for phrase in sorted(PHRASES_DICT):
        if len(phrase) < 2 or not all(RE_HANS.match(c) for c in phrase):
            raise ValueError(f"unexpected pypinyin phrase {phrase!r}")
        reading = read(phrase)
        plain = [default.get(c, c) for c in phrase]
        phrases.append(phrase if reading == plain else " ".join([phrase, *reading]))
    syllables: set[str] = set()
    for value in set(pinyin_dict.values()):
        for marked in value.split(","):
            p = unicodedata.normalize("NFD", marked.replace("ü", "v"))
            plain_syllable = "".join(c for c in p if unicodedata.category(c) != "Mn")
            if plain_syllable.isascii() and plain_syllable.isalpha():
                syllables.add(plain_syllable)
    for syllable in [*by_syllable, *(w for line in phrases for w in line.split(" ")[1:])]:
        if not syllable or not syllable.isascii() or " " in syllable:
            raise ValueError(f"unexpected pypinyin syllable {syllable!r}")
    lines = [
        f"# Generated from pypinyin {version('pypinyin')} by search_index.analysis.generate_pinyin_data;"
        " do not edit.",
        "# @han LO-HI: code points pypinyin treats as Chinese; @syllables: every toneless syllable;",
        "# =SYLLABLE CHARS: characters read SYLLABLE when alone; then pypinyin's phrases, one a line,",
        "# followed by their reading where it differs from their characters' readings.",
        *(f"@han {lo:x}-{hi:x}" for lo, hi in ranges),
        "@syllables " + " ".join(sorted(syllables)),
        *(f"={syllable} {''.join(chars)}" for syllable, chars in sorted(by_syllable.items())),
        *phrases,
    ]
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=4096)
def char_pinyin(text: str) -> tuple[str, ...]:
    """One pinyin syllable per character of ``text`` (non-Chinese characters kept as is).

    The same as pypinyin's ``lazy_pinyin(text, errors=list)``: toneless, ``v`` for ü,
    phrase-aware (银行 -> yin hang, 行走 -> xing zou).
    """
    tables = _pinyin_tables()
    chars, syllables, size = tables.chars, tables.syllables, len(tables.chars)
    codes = [chars[o] if 0 <= (o := ord(ch) - _TABLE_BASE) < size else _NOT_HAN for ch in text]
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        start = i
        if codes[i] == _NOT_HAN:
            while i < n and codes[i] == _NOT_HAN:
                i += 1
            out.extend(text[start:i])
            continue
        while i < n and codes[i] != _NOT_HAN:
            i += 1
        position = start
        for segment in _han_segments(text[start:i], tables.prefixes):
            reading = tables.readings.get(segment) if len(segment) > 1 else None
            if reading is not None:
                out.extend(reading)
            else:
                for k, ch in enumerate(segment, start=position):
                    code = codes[k]
                    out.append(syllables[ord(code) - 2] if code > _HAN_UNREAD else ch)
            position += len(segment)
    return tuple(out)


def _word_pinyin(word: str) -> tuple[str, str] | None:
    """Full pinyin and initials of an all-Chinese word, e.g. ("gongjijin", "gjj")."""
    if not word or not all(is_cjk(c) for c in word):
        return None
    syl = char_pinyin(word)
    return "".join(syl), "".join(s[0] for s in syl if s)


def pinyin_terms(words: Sequence[str], texts: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """Pinyin views for the index: per-word full pinyin, initials, and syllable bigrams.

    ``words`` are the already-cut words of ``texts``; initials are also given for each
    whole text (``sbksl`` for 社保卡申领) so a citizen typing the initials of the name finds it.
    """
    full: list[str] = []
    initials: list[str] = []
    for w in words:
        p = _word_pinyin(w)
        if p:
            full.append(p[0])
            if len(p[1]) >= 2:
                initials.append(p[1])
    grams: list[str] = []
    for t in texts:
        t = normalize(t)
        syl = char_pinyin(t)
        cjk_initials = []
        for i, ch in enumerate(t):
            if is_cjk(ch):
                cjk_initials.append(syl[i][0])
                if i + 1 < len(t) and is_cjk(t[i + 1]):
                    grams.append(syl[i] + syl[i + 1])
        if len(cjk_initials) >= 2:
            initials.append("".join(cjk_initials))
    return full, initials, grams


def bigram_pairs(text: str) -> list[tuple[str, str]]:
    """Each Chinese character bigram of a query with its pinyin (公基 -> ("公基", "gongji"))."""
    text = normalize(text)
    syl = char_pinyin(text)
    if len(syl) != len(text):
        return []
    return [
        (text[i : i + 2], syl[i] + syl[i + 1])
        for i in range(len(text) - 1)
        if is_cjk(text[i]) and is_cjk(text[i + 1])
    ]


def _syllables() -> frozenset[str]:
    return _pinyin_tables().all_syllables


def split_syllables(latin: str) -> list[str] | None:
    """Split ``gongjijin`` into ``[gong, ji, jin]`` (fewest syllables); None if impossible."""
    if not latin.isascii() or not latin.isalpha() or len(latin) > 60:
        return None
    syl = _syllables()
    n = len(latin)
    best: list[list[str] | None] = [None] * (n + 1)
    best[0] = []
    for i in range(n):
        prev = best[i]
        if prev is None:
            continue
        for j in range(i + 1, min(n, i + 6) + 1):
            piece = latin[i:j]
            if piece in syl:
                cand = [*prev, piece]
                cur = best[j]
                if cur is None or len(cand) < len(cur):
                    best[j] = cand
    return best[n]


# Synonyms ---------------------------------------------------------------------------

_SPLIT = re.compile(r"[,，、]")


@dataclass
class SynonymTable:
    """Query-time expansions: word -> words to also search (with the word itself first).

    Equivalence groups expand every member to every other member; one-way rules
    (``丢了 => 挂失, 补领``) expand only from left to right.
    """

    expansions: dict[str, list[str]] = field(default_factory=dict)

    def _link(self, src: str, targets: Iterable[str]) -> None:
        bucket = self.expansions.setdefault(src, [])
        for t in targets:
            if t != src and t not in bucket:
                bucket.append(t)

    def add_group(self, words: Sequence[str]) -> None:
        words = [normalize(w).strip() for w in words]
        words = [w for w in words if w]
        for w in words:
            self._link(w, words)

    def add_rule(self, sources: Sequence[str], targets: Sequence[str]) -> None:
        targets = [t for t in (normalize(x).strip() for x in targets) if t]
        for s in (normalize(x).strip() for x in sources):
            if s:
                self._link(s, targets)

    def expand(self, word: str) -> list[str]:
        return self.expansions.get(word, [])

    def all_words(self) -> set[str]:
        out = set(self.expansions)
        for v in self.expansions.values():
            out.update(v)
        return out

    def merged(self, extra: Iterable[Sequence[str]] | None) -> SynonymTable:
        """A copy with staff-supplied groups added (each group is an equivalence group)."""
        table = SynonymTable({k: list(v) for k, v in self.expansions.items()})
        for group in extra or ():
            table.add_group([g for g in group if isinstance(g, str)])
        return table

    def pinyin_lexicon(self) -> dict[str, list[str]]:
        """Full pinyin and initials of dictionary words -> the words (``sbk`` -> 社保卡). Read only:
        the same words give the same table (see `_lexicon_of`)."""
        return _lexicon_of(frozenset(self.all_words()))


# The last lexicon made and its words. Every index opened in a process (one per app; the tests
# open one per test) asks for the same ~1,800 words, and making it again costs ~70 ms whenever
# searches have pushed those words out of `char_pinyin`'s cache in between.
_last_lexicon: tuple[frozenset[str], dict[str, list[str]]] | None = None


def _lexicon_of(words: frozenset[str]) -> dict[str, list[str]]:
    global _last_lexicon
    last = _last_lexicon
    if last is not None and last[0] == words:
        return last[1]
    lex: dict[str, list[str]] = {}
    for w in sorted(words):
        p = _word_pinyin(w)
        if not p:
            continue
        for key in {p[0], p[1]} if len(w) >= 2 else {p[0]}:
            if len(key) >= 2:
                lex.setdefault(key, []).append(w)
    _last_lexicon = (words, lex)
    return lex


def parse_synonyms(lines: Iterable[str]) -> SynonymTable:
    """Parse the synonym file format (see the header of ``synonyms.txt``)."""
    table = SynonymTable()
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if "=>" in line:
            left, right = line.split("=>", 1)
            table.add_rule(_SPLIT.split(left), _SPLIT.split(right))
        else:
            table.add_group(_SPLIT.split(line))
    return table


@lru_cache(maxsize=1)
def load_synonyms() -> SynonymTable:
    """The bundled dictionaries: ``synonyms.txt`` (the core) and ``lexicon.txt`` (the 政务 lexicon)."""
    lines = _DATA.read_text(encoding="utf-8").splitlines()
    lines += _LEXICON.read_text(encoding="utf-8").splitlines()
    return parse_synonyms(lines)


def lexicon_pairs(lines: Iterable[str]) -> set[tuple[str, str]]:
    """The distinct (everyday, official) word pairs a dictionary text states.

    A one-way rule ``a, b => c, d`` states a-c, a-d, b-c and b-d; an equivalence group states
    each member with its first (canonical) word. A word paired with itself is not a pair.
    """
    pairs: set[tuple[str, str]] = set()
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if "=>" in line:
            left, right = line.split("=>", 1)
            sources = [w.strip() for w in _SPLIT.split(left) if w.strip()]
            targets = [w.strip() for w in _SPLIT.split(right) if w.strip()]
        else:
            words = [w.strip() for w in _SPLIT.split(line) if w.strip()]
            sources, targets = words[1:], words[:1]
        pairs.update((s, t) for s in sources for t in targets if s != t)
    return pairs


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Filler words of colloquial questions (怎么, 哪里, 了 …), dropped from queries."""
    words: set[str] = set()
    for raw in _STOPWORDS.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        words.update(normalize(w).strip() for w in _SPLIT.split(line) if w.strip())
    return frozenset(words)
