"""The index schema and the mapping from a matter document (plain dict) to its fields.

All text fields are KEYWORD fields (:class:`TermList`) fed with pre-analysed terms (see
``analysis``): the schema pickled into the index needs no custom analyzer, and the terms
are exactly the ones the query builder produces. The terms are handed to Whoosh as lists,
which are indexed as they are (no tokenizer pass); a string of space-separated terms
would index the same, as no analysed term contains whitespace.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator, Mapping
from typing import Any

from whoosh.fields import ID, KEYWORD, STORED, Schema
from whoosh.system import pack_uint

from search_index import analysis

#: Code of the one bookkeeping document that carries the applied outbox id. Storing the
#: id in the index itself makes it part of the same atomic commit as the changes.
META_CODE = "__tongban_meta__"

#: Fields searched with word terms, with their query-time boosts (name > keywords > guide).
WORD_FIELDS: dict[str, float] = {
    "name_w": 3.0,
    "alias_w": 2.4,
    "keyword_w": 2.0,
    "sub_w": 1.0,
    "dept_w": 0.6,
    "guide_w": 0.5,
}
GRAM_FIELD, GRAM_BOOST = "gram", 0.6
PY_FIELD, PY_BOOST = "py", 2.2
PYI_FIELD, PYI_BOOST = "pyi", 1.6
PYG_FIELD, PYG_BOOST = "pyg", 0.4
#: short forms of the name and aliases (医保 for 医疗保险, see ``analysis.abbreviations``):
#: below every whole-word title field, above sub-words
ABBR_FIELD, ABBR_BOOST = "abbr", 1.2

_MAX_CODE = 200
_MAX_NAME = 500
_MAX_GUIDE = 20_000


class TermList(KEYWORD):
    """A KEYWORD field fed with a list of analysed terms, counted directly.

    Whoosh's own path makes a token object per term, runs it through its token filters and sums a
    boost per term in Python; for a term list that is only a count. The postings are the same:
    (UTF-8 term, frequency, frequency × the format's field boost, the packed frequency), the
    weight a float exactly as Whoosh's `Frequency` format makes it. Anything but a list or tuple
    goes Whoosh's way. Stored in the index's pickled schema by this name: keep it importable.
    """

    def index(self, value: Any, **kwargs: Any) -> Generator[tuple[bytes, int, float, bytes]]:
        if not isinstance(value, (list, tuple)):
            yield from super().index(value, **kwargs)
            return
        assert self.format is not None  # a KEYWORD field always has one (Frequency)
        boost = float(self.format.field_boost)
        for term, frequency in Counter(value).items():
            yield term.encode("utf-8"), frequency, frequency * boost, pack_uint(frequency)


def build_schema() -> Schema:
    """One document per published matter (plus the bookkeeping document)."""

    def terms() -> TermList:
        # Not "scorable" in Whoosh's sense: that only adds a per-document length column, which
        # a commit then reads back for every posting. The length normalisation is folded into
        # the posting weights instead (`length_norm`), and weights are stored either way.
        # Reindex of 20,044 matters: median 18.2 -> 16.7 s, 672 answers identical.
        return TermList(scorable=False)

    return Schema(
        code=ID(stored=True, unique=True),
        name=STORED(),
        aliases=STORED(),
        keywords=STORED(),
        guide=STORED(),
        applied_id=STORED(),
        name_w=terms(),
        alias_w=terms(),
        keyword_w=terms(),
        sub_w=terms(),
        dept_w=terms(),
        guide_w=terms(),
        gram=terms(),
        py=terms(),
        pyi=terms(),
        pyg=terms(),
        abbr=terms(),
    )


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _strings(value: Any, limit: int = 50) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return []
    return [v[:_MAX_NAME] for v in value[:limit] if isinstance(v, str) and v.strip()]


def _terms(terms: list[str]) -> list[str]:
    return [t for t in terms if t and not t.isspace()]


#: typical number of terms per field, the pivot of the length normalisation below
_TYPICAL_LENGTH = {
    "name_w": 4,
    "alias_w": 6,
    "keyword_w": 6,
    "sub_w": 6,
    "dept_w": 4,
    "guide_w": 120,
    "gram": 12,
}
_LENGTH_B = 0.5


def length_norm(field_name: str, n_terms: int) -> float:
    """BM25-style length normalisation, folded into the posting weights at index time.

    Stored as Whoosh's per-document field boost (``_<field>_boost``), so a query reads
    a posting's weight and never looks up document lengths: it keeps scoring cheap. The
    pivot is a fixed typical length instead of the live average, so an incremental
    update never changes other documents' weights.
    """
    typical = _TYPICAL_LENGTH.get(field_name)
    if not typical or n_terms <= 0:
        return 1.0
    return 1.0 / (1.0 - _LENGTH_B + _LENGTH_B * n_terms / typical)


def document_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Whoosh fields for one matter document; raises ValueError for a missing code."""
    code = doc.get("code")
    if not isinstance(code, str) or not code.strip() or len(code) > _MAX_CODE or code == META_CODE:
        raise ValueError(f"matter document needs a usable 'code', got {code!r}")
    name = _text(doc.get("name"), _MAX_NAME)
    aliases = _strings(doc.get("aliases"))
    keywords = _strings(doc.get("keywords"))
    department = _text(doc.get("department"), _MAX_NAME)
    guide = _text(doc.get("guide_text"), _MAX_GUIDE)

    titles = [name, *aliases, *keywords]
    cut = [analysis.index_words(t) for t in titles]
    name_words = cut[0][0]
    alias_words = [w for words, _subs in cut[1 : 1 + len(aliases)] for w in words]
    keyword_words = [w for words, _subs in cut[1 + len(aliases) :] for w in words]
    sub_words = [s for _words, subs in cut for s in subs]
    full, initials, grams = analysis.pinyin_terms(name_words + alias_words + keyword_words, titles)
    fields: dict[str, Any] = {
        "code": code,
        "name": name,
        "aliases": aliases,
        "keywords": keywords,
        "guide": guide,
        "name_w": _terms(name_words),
        "alias_w": _terms(alias_words),
        "keyword_w": _terms(keyword_words),
        "sub_w": _terms(sub_words),
        "dept_w": _terms(sum(analysis.index_words(department), [])),
        "guide_w": _terms(sum(analysis.index_words(guide), [])),
        "gram": _terms([g for t in titles for g in analysis.char_bigrams(t)]),
        "py": _terms(full),
        "pyi": _terms(initials),
        "pyg": _terms(grams),
        "abbr": _terms(
            [a for words, _subs in cut[: 1 + len(aliases)] for a in analysis.abbreviations(words)]
        ),
    }
    for fname in _TYPICAL_LENGTH:
        n = len(fields[fname])
        if n:
            fields[f"_{fname}_boost"] = length_norm(fname, n)
    return fields


def meta_fields(applied_id: int) -> dict[str, Any]:
    return {"code": META_CODE, "applied_id": int(applied_id)}
