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

import gc
import logging
import os
import re
import tempfile
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jieba
from pypinyin import Style, lazy_pinyin

__all__ = [
    "SynonymTable",
    "bigram_pairs",
    "char_bigrams",
    "char_pinyin",
    "is_cjk",
    "jieba_tokenizer",
    "load_synonyms",
    "normalize",
    "pinyin_terms",
    "query_words",
    "split_syllables",
    "index_words",
    "stopwords",
]

_DATA = Path(__file__).with_name("synonyms.txt")
_STOPWORDS = Path(__file__).with_name("stopwords.txt")

_tokenizer: jieba.Tokenizer | None = None
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


def jieba_tokenizer() -> jieba.Tokenizer:
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
            tk = jieba.Tokenizer()
            tk.tmp_dir = _cache_dir()
            tk.cache_file = "tongban-jieba.cache"
            tk.initialize()
            table = load_synonyms()
            for word in table.all_words():
                _add_word(tk, word)
            char_pinyin.cache_clear()
            lazy_pinyin("载入")  # load pypinyin's phrase tables now
            _tokenizer = tk
            # The dictionaries above are ~250k long-lived objects; without this, every
            # full garbage collection walks them (~40 ms, a visible search latency spike).
            # Freezing only exempts them from the cycle collector; nothing is leaked.
            gc.freeze()
    return _tokenizer


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


def _add_word(tk: jieba.Tokenizer, word: str) -> None:
    if len(word) >= 2 and word not in _added_words and all(_is_word_char(c) for c in word):
        tk.add_word(word)
        _added_words.add(word)


def add_words(words: Iterable[str]) -> None:
    """Teach the tokenizer extra words (staff synonyms), so queries cut them whole."""
    tk = jieba_tokenizer()
    with _tokenizer_lock:
        for w in words:
            _add_word(tk, normalize(w))


def _precise(text: str) -> list[str]:
    """jieba's precise cut without HMM (deterministic, and the same for index and query)."""
    return [w for w in jieba_tokenizer().cut(text, HMM=False) if w and _is_word_char(w[0])]


def _sub_words(word: str) -> list[str]:
    """Every dictionary word strictly inside ``word`` (2 characters or more)."""
    if len(word) <= 2 or not is_cjk(word[0]):
        return []
    freq = jieba_tokenizer().FREQ
    out = []
    n = len(word)
    for size in range(n - 1, 1, -1):
        for i in range(0, n - size + 1):
            sub = word[i : i + size]
            if freq.get(sub):
                out.append(sub)
    return out


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


@lru_cache(maxsize=4096)
def char_pinyin(text: str) -> tuple[str, ...]:
    """One pinyin syllable per character of ``text`` (non-Chinese characters kept as is)."""
    return tuple(lazy_pinyin(text, style=Style.NORMAL, errors=lambda s: list(s)))


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


@lru_cache(maxsize=1)
def _syllables() -> frozenset[str]:
    from pypinyin.pinyin_dict import pinyin_dict

    marked = {p for value in set(pinyin_dict.values()) for p in value.split(",")}
    out: set[str] = set()
    for p in marked:
        p = unicodedata.normalize("NFD", p.replace("ü", "v"))
        s = "".join(c for c in p if unicodedata.category(c) != "Mn")
        if s.isascii() and s.isalpha():
            out.add(s)
    return frozenset(out)


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
        """Full pinyin and initials of dictionary words -> the words (``sbk`` -> 社保卡)."""
        lex: dict[str, list[str]] = {}
        for w in sorted(self.all_words()):
            p = _word_pinyin(w)
            if not p:
                continue
            for key in {p[0], p[1]} if len(w) >= 2 else {p[0]}:
                if len(key) >= 2:
                    lex.setdefault(key, []).append(w)
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
    """The bundled dictionary (``search_index/synonyms.txt``)."""
    return parse_synonyms(_DATA.read_text(encoding="utf-8").splitlines())


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Filler words of colloquial questions (怎么, 哪里, 了 …), dropped from queries."""
    words = set()
    for raw in _STOPWORDS.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        words.update(normalize(w).strip() for w in _SPLIT.split(line) if w.strip())
    return frozenset(words)
