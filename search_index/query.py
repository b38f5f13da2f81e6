"""Safe query planning, scoring and highlighting for the public search box.

The public text never reaches Whoosh's query language: it is cleaned
(:func:`sanitize_query`), cut into words by the same analysis as the index, and turned
into a :class:`QueryPlan` of exact (field, term) look-ups built here. ``*``,
``name:[a TO z]``, ``~2`` or ``AND`` are therefore plain characters (mostly dropped as
punctuation), and the work per query is bounded by the caps below, whatever the input.

Scoring (one clause per query word, summed, so matching more words ranks higher)::

    sum over query words of  max over (word | synonyms | sub-words | pinyin) x fields
                             of  BM25(term, field) x field boost x alternative weight
      + per query bigram: the character bigram on name/aliases/keywords if the index has
        it, else its pinyin (公基 -> gongji)   (segmentation and homophone-typo net)

Field boosts: name 3 > aliases 2.4 > keywords 2 > sub-words 1 > department 0.6 > guide 0.5.

A hit that matched only through the net must match at least half of the query's
bigrams: one wrong character is tolerated, a single shared bigram (登记) is not.
"""

from __future__ import annotations

import heapq
import html
import math
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Container, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher

from search_index import analysis
from search_index.schema import (
    ABBR_BOOST,
    ABBR_FIELD,
    GRAM_BOOST,
    GRAM_FIELD,
    PY_BOOST,
    PY_FIELD,
    PYG_BOOST,
    PYG_FIELD,
    PYI_BOOST,
    PYI_FIELD,
    WORD_FIELDS,
)

#: the one cap on a search text (`q`) everywhere: the search page, its htmx fragment, the region
#: suggestions, GraphQL `search`, the staff matter list, and the page URL a page echoes back
MAX_QUERY_CHARS = 100
_MAX_RAW_CHARS = 4_000
_MAX_CONCEPTS = 12
_MAX_ALTERNATIVES = 16
_MAX_NET_TERMS = 40

_SYNONYM_WEIGHT = 0.85
_SUBWORD_WEIGHT = 0.35
_SINGLE_CHAR_WEIGHT = 0.3
_PINYIN_WORD_WEIGHT = 0.85
_HOMOPHONE_WEIGHT = 0.7
#: alternatives at least this strong are also looked up in the body fields (the word as typed)
_BODY_WEIGHT = 1.0
_MAX_HOMOPHONES = 4

#: body fields whose very common terms are skipped on large indexes (see ``execute``)
_BODY_FIELDS = frozenset({"guide_w", "dept_w"})
_BODY_DF_SHARE = 0.2
_BODY_DF_FLOOR = 200
_K1 = 1.2
_K1_PLUS_1 = _K1 + 1.0


def sanitize_query(text: object) -> str:
    """Clean public input: no control/format characters, NUL or lone surrogates; 100 chars.

    Whitespace runs become one space. Anything that is not a ``str`` becomes "".
    """
    if not isinstance(text, str):
        return ""
    text = text[:_MAX_RAW_CHARS]
    out: list[str] = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Cs", "Co", "Cn"):  # controls, format, surrogates, private, unassigned
            out.append(" " if ch in "\t\n\r\x0b\x0c\x85" else "")
        elif cat in ("Zs", "Zl", "Zp"):
            out.append(" ")
        else:
            out.append(ch)
    return " ".join("".join(out).split())[:MAX_QUERY_CHARS].strip()


@dataclass(frozen=True, slots=True)
class Alternative:
    """One way a query word can match: words (all required), a weight, and the fields."""

    words: tuple[str, ...]
    weight: float
    fields: tuple[tuple[str, float], ...]


@dataclass
class QueryPlan:
    """What to look up for one query (built from analysed tokens only)."""

    #: one list per query word: its alternatives (itself, synonyms, sub-words, pinyin)
    concepts: list[list[Alternative]] = field(default_factory=list)
    #: the typo/segmentation net, one slot per query bigram: options (field, term, boost)
    #: in order of preference; the first one present in the index adds to the score
    #: (the character bigram if it exists, else its pinyin, which catches homophone typos)
    net: list[tuple[tuple[str, str, float], ...]] = field(default_factory=list)
    #: how many character (or syllable) bigrams the query has, for the half-match rule
    net_size: int = 0
    #: terms (field, text) that count as a real word match (not just the net)
    word_terms: set[tuple[str, str]] = field(default_factory=set)


_WORD_FIELD_ITEMS = tuple(WORD_FIELDS.items())
_TITLE_FIELD_ITEMS = tuple((f, b) for f, b in WORD_FIELDS.items() if f not in {"guide_w", "dept_w"})


def _pinyin_spans(syllables: Sequence[str]) -> list[str]:
    spans = []
    n = len(syllables)
    for i in range(n):
        for j in range(i + 2, min(n, i + 5) + 1):
            spans.append("".join(syllables[i:j]))
    return spans


def _homophone_fixes(text: str, lexicon: Mapping[str, list[str]], known: set[str]) -> list[str]:
    """Dictionary words the text contains with one wrong, same-sounding character.

    社报卡 -> 社保卡, 营业执找 -> 执照: the span's pinyin equals a dictionary word's pinyin
    and exactly one character differs.
    """
    norm = analysis.normalize(text)
    syl = analysis.char_pinyin(norm)
    if len(syl) != len(norm):
        return []
    out: list[str] = []
    n = len(norm)
    for i in range(n):
        for j in range(i + 2, min(n, i + 6) + 1):
            span = norm[i:j]
            if not analysis.is_cjk(span[-1]):
                break
            candidates = lexicon.get("".join(syl[i:j]), [])
            if span in candidates:
                continue  # a dictionary word written correctly is no typo (社保卡, not 社宝卡)
            for zh in candidates:
                if (
                    len(zh) == len(span)
                    and zh not in known
                    and zh not in out
                    and sum(a != b for a, b in zip(zh, span, strict=True)) == 1
                ):
                    out.append(zh)
    return out[:_MAX_HOMOPHONES]


def _word_alternatives(alts: list[tuple[str, float]]) -> list[Alternative]:
    """Best weight per alternative word, cut into index words (a phrase needs all of them)."""
    best: dict[str, float] = {}
    for alt, weight in alts:
        if weight > best.get(alt, 0.0):
            best[alt] = weight
    out = []
    for alt, weight in list(best.items())[:_MAX_ALTERNATIVES]:
        words = tuple(dict.fromkeys(w for w, _subs in analysis.query_words(alt)))
        if alt in words:
            words = (alt,)
        if words:
            # only the word as typed is looked up in the body (guide, department): an expansion
            # (synonym, sub-word, lone character) matches many documents there and changes the
            # ranking little, and with the 政务 lexicon a word has many (issue 16: p95 at 20,000)
            fields = _WORD_FIELD_ITEMS if weight >= _BODY_WEIGHT else _TITLE_FIELD_ITEMS
            out.append(Alternative(words, weight, fields))
    return out


def join_spaced_pinyin(text: str) -> str:
    """Join pinyin typed with spaces between syllables (``shen fen zheng`` -> ``shenfenzheng``).

    Only runs of two or more tokens that are each made of whole pinyin syllables are joined, so
    the joined word goes through the pinyin path like ``shenfenzheng`` typed in one piece.
    """
    if " " not in text:
        return text
    tokens = text.split(" ")
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) >= 2:
            out.append("".join(run))
        else:
            out.extend(run)
        run.clear()

    for tok in tokens:
        low = tok.lower()
        if low.isascii() and low.isalpha() and len(low) <= 6 and analysis.split_syllables(low) is not None:
            run.append(low)
        else:
            flush()
            out.append(tok)
    flush()
    return " ".join(out)


def build_plan(
    text: str,
    synonyms: analysis.SynonymTable,
    lexicon: Mapping[str, list[str]],
) -> QueryPlan | None:
    """Plan the lookups for already-sanitised ``text``; None when there is nothing to search."""
    text = join_spaced_pinyin(text)
    words = analysis.query_words(text)
    stop = analysis.stopwords()
    content = [(w, subs) for w, subs in words if w not in stop] or words
    seen: set[str] = set()
    concepts_in: list[tuple[str, list[str]]] = []
    for w, subs in content:
        if w not in seen:
            seen.add(w)
            concepts_in.append((w, subs))
    plan = QueryPlan()

    for word, subs in concepts_in[:_MAX_CONCEPTS]:
        alts: list[tuple[str, float]] = []
        extra: list[Alternative] = []
        if word.isascii():
            alts.append((word, 1.0))
            for zh in lexicon.get(word, [])[:4]:
                alts.append((zh, _PINYIN_WORD_WEIGHT))
                alts.extend((s, _PINYIN_WORD_WEIGHT * _SYNONYM_WEIGHT) for s in synonyms.expand(zh)[:6])
            if word.isalpha() and len(word) >= 2:
                extra.append(Alternative((word,), 1.0, ((PY_FIELD, PY_BOOST), (PYI_FIELD, PYI_BOOST))))
                syl = analysis.split_syllables(word)
                if syl and len(syl) >= 2:
                    for span in _pinyin_spans(syl):
                        if span != word:
                            extra.append(Alternative((span,), 0.6, ((PY_FIELD, PY_BOOST),)))
                            alts.extend((zh, _PINYIN_WORD_WEIGHT * 0.8) for zh in lexicon.get(span, [])[:2])
                    plan.net.extend(
                        ((PYG_FIELD, syl[i] + syl[i + 1], PYG_BOOST),) for i in range(len(syl) - 1)
                    )
        else:
            if 2 <= len(word) <= 4 and all(analysis.is_cjk(c) for c in word):
                extra.append(Alternative((word,), 1.0, ((ABBR_FIELD, ABBR_BOOST),)))
            alts.append((word, _SINGLE_CHAR_WEIGHT if len(word) == 1 else 1.0))
            alts.extend((s, _SYNONYM_WEIGHT) for s in synonyms.expand(word))
            alts.extend((s, _SUBWORD_WEIGHT) for s in subs)
            alts.extend((x, _SUBWORD_WEIGHT * _SYNONYM_WEIGHT) for s in subs for x in synonyms.expand(s)[:4])
        concept = _word_alternatives(alts) + extra
        if concept:
            plan.concepts.append(concept)

    # a short form jieba cut into single characters (残辅 -> 残, 辅): the run as one short form
    run = ""
    for word, _subs in [*concepts_in[:_MAX_CONCEPTS], ("", [])]:
        if len(word) == 1 and analysis.is_cjk(word):
            run += word
            continue
        if 2 <= len(run) <= 4:
            plan.concepts.append([Alternative((run,), 1.0, ((ABBR_FIELD, ABBR_BOOST),))])
        run = ""

    for zh in _homophone_fixes(text, lexicon, seen):
        alts = [(zh, _HOMOPHONE_WEIGHT)]
        alts.extend((s, _HOMOPHONE_WEIGHT * _SYNONYM_WEIGHT) for s in synonyms.expand(zh)[:6])
        plan.concepts.append(_word_alternatives(alts))

    for concept in plan.concepts:
        for alt in concept:
            if len(alt.words) == 1 and not alt.words[0].isascii() and len(alt.words[0]) == 1:
                continue  # a lone character (申, 和) is too common to count as a real word match
            plan.word_terms.update((f, w) for f, _b in alt.fields for w in alt.words)

    for gram, pygram in analysis.bigram_pairs(text)[:_MAX_NET_TERMS]:
        plan.net.append(((GRAM_FIELD, gram, GRAM_BOOST), (PYG_FIELD, pygram, PYG_BOOST)))
    plan.net = list(dict.fromkeys(plan.net))[:_MAX_NET_TERMS]
    plan.net_size = len(plan.net)
    if not plan.concepts and not plan.net:
        return None
    return plan


def qualifies(plan: QueryPlan, terms: set[tuple[str, str]]) -> bool:
    """A real word matched, or at least half of the net's bigrams (one typo tolerated)."""
    if terms & plan.word_terms:
        return True
    net_matches = sum(1 for f, _t in terms if f in (GRAM_FIELD, PYG_FIELD))
    return net_matches >= max(2, (plan.net_size + 1) // 2)


# Execution ------------------------------------------------------------------------------


@dataclass
class Scored:
    docnum: int
    score: float
    terms: set[tuple[str, str]]


class PostingsCache:
    """Scored postings per (field, term) for one searcher -- and per query word, the best score of
    its alternatives (keyed ``("", alternatives)``) -- least recently used evicted first.

    A searcher is a fixed view of the index (a commit opens a new one, with a new cache), so an
    entry never goes stale; only memory bounds it: ``budget`` postings in all (about 80 bytes
    each). Popular words (社保, 公积金) stay in memory and a query over them costs dictionary
    look-ups instead of a walk over every posting in every segment. Thread-safe.
    """

    __slots__ = ("_budget", "_entries", "_lock", "_size")

    def __init__(self, budget: int = 200_000) -> None:
        self._budget = budget
        self._entries: OrderedDict[Hashable, dict[int, float] | None] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> tuple[bool, dict[int, float] | None]:
        with self._lock:
            if key not in self._entries:
                return False, None
            self._entries.move_to_end(key)
            return True, self._entries[key]

    def put(self, key: Hashable, postings: dict[int, float] | None) -> None:
        cost = 1 + (len(postings) if postings else 0)
        if cost > self._budget:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = postings
            self._size += cost
            while self._size > self._budget:
                _key, dropped = self._entries.popitem(last=False)
                self._size -= 1 + (len(dropped) if dropped else 0)

    def __len__(self) -> int:
        return len(self._entries)


def term_weights(leaves: Sequence[tuple[Any, int]], fname: str, term: str) -> Iterator[tuple[int, float]]:
    """(docnum, weight) of every live posting of a term, over the index's segments (``leaves``:
    the reader's ``leaf_readers()``), in docnum order.

    Whoosh's matcher interface costs four method calls per posting (``is_active``, ``id``,
    ``weight``, ``next``) plus a deleted-documents filter around it; broad words have thousands
    of postings. Whoosh's own segment matcher (``W3LeafMatcher``) decodes a block of postings at a
    time into an id tuple and a weight array, so for it the block arrays are read directly, which
    is several times faster. Any other matcher goes the standard way. ``test_search_index``
    compares both for every term of a multi-segment index with deletions.
    """
    for leaf, offset in leaves:
        if (fname, term) not in leaf:
            continue
        matcher = leaf.postings(fname, term)
        deleted: Container[int] = ()
        if isinstance(matcher, FilterMatcher) and matcher._exclude:  # noqa: SLF001 - Whoosh's deletions filter; docs/UPGRADING.md
            deleted, matcher = matcher._ids, matcher.child  # noqa: SLF001 - the deleted docnums, read once
        if type(matcher) is W3LeafMatcher:
            yield from _block_weights(matcher, offset, deleted)
        else:
            while matcher.is_active():
                docnum = matcher.id()
                if docnum not in deleted:
                    yield docnum + offset, matcher.weight()
                matcher.next()


def _block_weights(
    matcher: W3LeafMatcher, offset: int, deleted: Container[int]
) -> Iterator[tuple[int, float]]:
    """The postings of a fresh W3LeafMatcher block by block (its `id`/`weight`/`next`, unrolled)."""
    # (W3LeafMatcher's methods are unannotated in whoosh3: each call below is marked no-untyped-call)
    while matcher.is_active():  # type: ignore[no-untyped-call]
        if matcher._ids is None:  # noqa: SLF001 - W3LeafMatcher's block arrays; docs/UPGRADING.md
            matcher._read_ids()  # type: ignore[no-untyped-call]  # noqa: SLF001 - decodes the block's ids
        if matcher._weights is None:  # noqa: SLF001 - W3LeafMatcher's block arrays
            matcher._read_weights()  # type: ignore[no-untyped-call]  # noqa: SLF001 - decodes the block's weights
        ids, weights = matcher._ids, matcher._weights  # noqa: SLF001 - the whole block at once
        assert ids is not None and weights is not None  # both decoded just above
        if deleted:
            yield from ((d + offset, w) for d, w in zip(ids, weights, strict=True) if d not in deleted)
        elif offset:
            yield from ((d + offset, w) for d, w in zip(ids, weights, strict=True))
        else:
            yield from zip(ids, weights, strict=True)
        matcher._next_block()  # type: ignore[no-untyped-call]  # noqa: SLF001 - next block (resets the arrays)


def execute(searcher: Any, plan: QueryPlan, limit: int, shared: PostingsCache | None = None) -> list[Scored]:
    """Score documents for ``plan``: per query word the best alternative, summed over words.

    Reads each term's postings once (or takes them from ``shared``, the searcher's cache) and scores them BM25-style from the stored weight
    (term frequency with the length normalisation folded in at index time), then
    aggregates in plain Python. Whoosh's compound matchers cost several microseconds per
    posting per tree level; this loop is several times faster, and it records which terms
    matched each document for the qualification rule and the highlight. Body terms (guide,
    department) found in a large share of a large index are skipped: they cost the most
    and, by their low IDF, change scores the least.
    """
    reader = searcher.reader()
    leaves = reader.leaf_readers()
    total_docs = searcher.doc_count_all() or 1
    body_df_cap = max(_BODY_DF_FLOOR, int(total_docs * _BODY_DF_SHARE))
    cache: dict[tuple[str, str], dict[int, float] | None] = {}

    def postings(fname: str, term: str) -> dict[int, float] | None:
        key = (fname, term)
        if key in cache:
            return cache[key]
        if shared is not None:
            known, got = shared.get(key)
            if known:
                cache[key] = got
                return got
        got = None
        try:
            if key in reader:
                df = reader.doc_frequency(fname, term)
                if not (fname in _BODY_FIELDS and df > body_df_cap):
                    idf = math.log(1.0 + (total_docs - df + 0.5) / (df + 0.5))
                    got = {}
                    for docnum, w in term_weights(leaves, fname, term):
                        # w: term frequency x length norm (see schema.length_norm)
                        got[docnum] = idf * w * _K1_PLUS_1 / (w + _K1)
        except Exception:  # a term the field cannot encode, a vanished segment
            cache[key] = None
            return None  # not remembered across queries: a vanished segment is retried
        cache[key] = got
        if shared is not None:
            shared.put(key, got)
        return got

    totals: dict[int, float] = {}
    for concept in plan.concepts:
        concept_key = ("", tuple(concept))
        known, cached_best = shared.get(concept_key) if shared is not None else (False, None)
        if known and cached_best is not None:
            for alt in concept:  # the qualification rule and the highlight need the terms' postings
                for fname, _boost in alt.fields:
                    for w in alt.words:
                        postings(fname, w)
            for d, sc in cached_best.items():
                totals[d] = totals.get(d, 0.0) + sc
            continue
        best: dict[int, float] = {}
        get = best.get
        for alt in concept:
            for fname, boost in alt.fields:
                factor = boost * alt.weight
                if len(alt.words) == 1:
                    single = postings(fname, alt.words[0])
                    if not single:
                        continue
                    if not best:  # the first list: nothing to compare with (a comprehension is faster)
                        best = {d: v for d, sc in single.items() if (v := sc * factor) > 0.0}
                        get = best.get
                        continue
                    for d, sc in single.items():
                        sc *= factor
                        if sc > get(d, 0.0):
                            best[d] = sc
                    continue
                lists = [postings(fname, w) for w in alt.words]
                present = [p for p in lists if p]
                if len(present) < len(lists):
                    continue
                for d in set(present[0]).intersection(*present[1:]):
                    sc = factor * sum(p[d] for p in present)
                    if sc > get(d, 0.0):
                        best[d] = sc
        if totals:
            for d, sc in best.items():
                totals[d] = totals.get(d, 0.0) + sc
        else:
            totals.update(best)  # the same floats: 0.0 + sc == sc
        if shared is not None:  # the same word (社保卡) recurs across many different questions
            shared.put(concept_key, best)
    for options in plan.net:
        for fname, term, boost in options:
            p = postings(fname, term)
            if p:
                for d, sc in p.items():
                    totals[d] = totals.get(d, 0.0) + boost * sc
                break

    looked_up = [(key, p) for key, p in cache.items() if p]
    # Only the best documents are ranked first: a broad question scores thousands (all of a
    # 20,000-matter index), and sorting them all was a large part of its time. The candidates are
    # the documents scoring at least the k-th best score (ties included, so the order is exactly
    # that of the full sort); only when too few of them qualify is everything ranked.
    wanted = max(limit * _CANDIDATE_FACTOR, 64)
    if len(totals) > 2 * wanted:
        threshold = heapq.nlargest(wanted, totals.values())[-1]
        out = _rank([(d, sc) for d, sc in totals.items() if sc >= threshold], plan, looked_up, limit)
        if len(out) >= limit:
            return out
    return _rank(list(totals.items()), plan, looked_up, limit)


_CANDIDATE_FACTOR = 4


def _rank(
    items: list[tuple[int, float]],
    plan: QueryPlan,
    looked_up: list[tuple[tuple[str, str], dict[int, float]]],
    limit: int,
) -> list[Scored]:
    """The qualifying documents of ``items``, best first, ties by docnum, at most ``limit``."""
    out: list[Scored] = []
    # best first, ties by docnum: two C sorts (by docnum, then stably by score) instead of one
    # with a key tuple built in Python per document (~1,000 documents for a broad question)
    items.sort()
    items.sort(key=itemgetter(1), reverse=True)
    for d, sc in items:
        terms = {key for key, p in looked_up if d in p}  # which terms this document has
        if qualifies(plan, terms):
            out.append(Scored(d, sc, terms))
            if len(out) >= limit:
                break
    return out


# Highlighting -------------------------------------------------------------------------


def _norm_chars(text: str) -> str:
    """Per-character normalisation keeping positions (NFKC may change a char's length)."""
    out = []
    for ch in text:
        n = analysis.normalize(ch)
        out.append(n if len(n) == 1 else ch.lower())
    return "".join(out)


def _spans(text: str, terms: set[tuple[str, str]]) -> list[tuple[int, int]]:
    if not text:
        return []
    norm = _norm_chars(text)
    spans: list[tuple[int, int]] = []
    surface = {t for f, t in terms if f in WORD_FIELDS or f == GRAM_FIELD}
    for s in surface:
        if not s:
            continue
        start = norm.find(s)
        while start != -1:
            spans.append((start, start + len(s)))
            start = norm.find(s, start + 1)
    for short in {t for f, t in terms if f == ABBR_FIELD}:  # 医保 in 医疗保险: its characters in order
        spans.extend(_subsequence_spans(norm, short))
    py = {t for f, t in terms if f in (PY_FIELD, PYG_FIELD)}
    pyi = {t for f, t in terms if f == PYI_FIELD}
    if py or pyi:
        syl = analysis.char_pinyin(norm)
        if len(syl) == len(norm):
            n = len(norm)
            for i in range(n):
                if not analysis.is_cjk(norm[i]):
                    continue
                full, initials = "", ""
                for j in range(i, min(n, i + 8)):
                    if not analysis.is_cjk(norm[j]):
                        break
                    full += syl[j]
                    initials += syl[j][:1]
                    if j > i and (full in py or initials in pyi):
                        spans.append((i, j + 1))
    return spans


def _subsequence_spans(text: str, short: str) -> list[tuple[int, int]]:
    """Each character of ``short`` at its first place in ``text`` in order (none unless all are)."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for ch in short:
        pos = text.find(ch, pos)
        if pos == -1:
            return []
        spans.append((pos, pos + 1))
        pos += 1
    return spans


def _render(text: str, spans: list[tuple[int, int]]) -> str:
    spans.sort()
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    out: list[str] = []
    pos = 0
    for a, b in merged:
        out.append(html.escape(text[pos:a]))
        out.append("<mark>" + html.escape(text[a:b]) + "</mark>")
        pos = b
    out.append(html.escape(text[pos:]))
    return "".join(out)


def highlight(stored: Mapping[str, Any], terms: set[tuple[str, str]]) -> str | None:
    """HTML-safe text with ``<mark>`` around matched words, everything else escaped.

    The name when it matched; otherwise the first matching alias or keyword; otherwise a
    short excerpt of the guide around the first match; None when nothing can be shown.
    """
    name = stored.get("name") or ""
    spans = _spans(name, terms)
    if spans:
        return _render(name, spans)
    for key in ("aliases", "keywords"):
        for value in stored.get(key) or []:
            spans = _spans(value, terms)
            if spans:
                return _render(value, spans)
    guide = stored.get("guide") or ""
    if guide:
        guide_terms = {(f, t) for f, t in terms if f == "guide_w" and len(t) >= 2}
        spans = _spans(guide, guide_terms)
        if spans:
            first = min(a for a, _b in spans)
            lo, hi = max(0, first - 20), min(len(guide), first + 40)
            window = [(max(a, lo) - lo, min(b, hi) - lo) for a, b in spans if a < hi and b > lo]
            body = _render(guide[lo:hi], window)
            return ("…" if lo > 0 else "") + body + ("…" if hi < len(guide) else "")
    return None
