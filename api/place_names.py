"""Home places typed the way people write them: "四川南充", "南充顺庆", "安徽亳州涡阳", "sichuan nanchong",
"nanchongshunqing", "北京朝阳", "内蒙古呼和浩特" — any concatenation of a province, city and county name,
each with or without its suffix (省 市 县 区 自治区 自治州 自治县 地区 盟 旗 …), in characters or toneless
pinyin with or without spaces.

Pure functions over a :class:`api.rules.RegionTree` (no database, no framework, no settings):

- :func:`name_forms` — the ways one region's name is written (full, without suffix, short forms);
- :func:`build_name_table` — every form of every province, city and county → the regions it names;
- :func:`read_place` — the regions a text can mean, best first, and whether one stands out.

A reading is a chain of forms that concatenate to the whole text, each region inside the one before
(a county may follow its province directly: "四川顺庆"). Candidates typed with more suffixes win
("朝阳市" is the city in 辽宁, not a 朝阳区); what is left tied is ambiguous and the caller asks
("朝阳": 北京市朝阳区, 吉林省长春市朝阳区, 辽宁省朝阳市, 辽宁省朝阳市朝阳县).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from api.rules import RegionTree

#: the levels a home region may have (towns are never a home here)
HOME_LEVELS = ("PROVINCE", "CITY", "COUNTY")

#: suffixes dropped to get a name's stem, longest first ("自治州" before "州" is never a suffix)
SUFFIXES = (
    "特别行政区",
    "自治区",
    "自治州",
    "自治县",
    "自治旗",
    "地区",
    "林区",
    "省",
    "市",
    "县",
    "区",
    "盟",
    "旗",
)

#: the 55 minority peoples (and 各族) named in autonomous region names: "凉山彝族自治州" → "凉山"
_PEOPLES = (
    "蒙古|回|藏|维吾尔|苗|彝|壮|布依|朝鲜|满|侗|瑶|白|土家|哈尼|哈萨克|傣|黎|傈僳|佤|畲|高山|拉祜|水|东乡|"
    "纳西|景颇|柯尔克孜|土|达斡尔|仫佬|羌|布朗|撒拉|毛南|仡佬|锡伯|阿昌|普米|塔吉克|怒|乌孜别克|俄罗斯|"
    "鄂温克|德昂|保安|裕固|京|塔塔尔|独龙|鄂伦春|赫哲|门巴|珞巴|基诺|各"
)
_PEOPLE_TAIL = re.compile(f"(?:(?:{_PEOPLES})族|维吾尔)$")  # 新疆维吾尔自治区 has no 族

#: short forms people write that no suffix rule gives
SHORT_FORMS: Mapping[str, tuple[str, ...]] = MappingProxyType({"内蒙古自治区": ("内蒙",)})

#: the other common readings of characters whose first reading the pinyin table gives may not be
#: the one in a place name (朝阳 chaoyang, 长治 changzhi, 重庆 chongqing, 六安 lu'an, 乐清 yueqing)
POLYPHONES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "朝": ("chao", "zhao"),
        "长": ("chang", "zhang"),
        "重": ("chong", "zhong"),
        "都": ("du", "dou"),
        "乐": ("le", "yue"),
        "六": ("lu", "liu"),
        "行": ("xing", "hang"),
        "单": ("shan", "dan"),
        "曲": ("qu",),
        "厦": ("xia", "sha"),
        "蚌": ("beng", "bang"),
        "莘": ("shen", "xin"),
        "洞": ("dong", "tong"),
        "会": ("hui", "kuai"),
        "藏": ("zang", "cang"),
        "番": ("pan", "fan"),
        "解": ("xie", "jie"),
        "阿": ("a", "e"),
        "大": ("da", "dai"),
        "兴": ("xing",),
        "沈": ("shen",),
        "济": ("ji",),
    }
)
_MAX_VARIANTS = 8  # pinyin spellings kept per name form

#: what separates parts of a typed place (dropped): spaces, punctuation, apostrophes in pinyin
_SEPARATORS = re.compile(r"[\s,，、.。·•\-_/'’()（）]+")


def normalise(text: str) -> str:
    """The text as the table spells forms: NFKC (full-width letters become ASCII), lower case,
    no spaces or punctuation."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text or "")).lower()


def stem(name: str) -> str:
    """The name without its administrative suffix and the peoples of an autonomous region:
    "南充市" → "南充", "凉山彝族自治州" → "凉山", "广西壮族自治区" → "广西", "城区" → "城区" (a
    one-character stem is not a name anyone writes alone, so the full name is kept)."""
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            core = name[: -len(suffix)]
            if suffix.startswith("自治"):
                while (shorter := _PEOPLE_TAIL.sub("", core)) != core and shorter:
                    core = shorter
            return core if len(core) >= 2 else name
    return name


def name_forms(name: str) -> tuple[tuple[str, bool], ...]:
    """The ways a region's name is written in characters, each with whether it carries the suffix
    (the full name) or not: "南充市" → (("南充市", True), ("南充", False))."""
    forms: list[tuple[str, bool]] = [(name, True)]
    short = stem(name)
    if short != name:
        forms.append((short, False))
        if "自治" in name:  # "广西壮族" as well as "广西"
            without = name.split("自治")[0]
            if without not in (name, short) and len(without) >= 2:
                forms.append((without, False))
    forms.extend((alias, False) for alias in SHORT_FORMS.get(name, ()))
    return tuple(forms)


def pinyin_spellings(form: str, syllables_of: Callable[[str], Sequence[str]]) -> tuple[str, ...]:
    """Toneless pinyin spellings of a form, without spaces: the table's reading of each character
    plus the common other readings of a few polyphonic characters (at most a handful)."""
    syllables = list(syllables_of(form))
    if len(syllables) != len(form) or not all(s.isascii() and s.isalpha() for s in syllables):
        return ()
    options = [
        (s.lower(), *(r for r in POLYPHONES.get(ch, ()) if r != s.lower()))
        for s, ch in zip(syllables, form, strict=True)
    ]
    return tuple("".join(choice) for choice in itertools.islice(itertools.product(*options), _MAX_VARIANTS))


@dataclass(frozen=True)
class NameTable:
    """Every written form (characters and pinyin) → the regions it names, with whether the form is
    the full name (suffix typed)."""

    tree: RegionTree
    forms: Mapping[str, tuple[tuple[str, bool], ...]]
    longest: int


def build_name_table(tree: RegionTree, syllables_of: Callable[[str], Sequence[str]]) -> NameTable:
    """The table for every province, city and county of ``tree``; ``syllables_of(text)`` gives one
    toneless pinyin syllable per character (e.g. ``web.regions.name_syllables``)."""
    forms: dict[str, dict[str, bool]] = {}

    def add(form: str, code: str, full: bool) -> None:
        if len(form) < 2:
            return
        codes = forms.setdefault(form, {})
        codes[code] = codes.get(code, False) or full

    for place in tree:
        if place.level not in HOME_LEVELS:
            continue
        for form, full in name_forms(place.name):
            add(form, place.code, full)
            for spelling in pinyin_spellings(form, syllables_of):
                add(spelling, place.code, full)
    frozen = {form: tuple(sorted(codes.items())) for form, codes in forms.items()}
    return NameTable(tree, MappingProxyType(frozen), max(map(len, frozen), default=0))


@dataclass(frozen=True, slots=True)
class Candidate:
    """One region a typed place may mean: ``suffixes`` counts the parts typed with their suffix,
    ``parts`` how many names were typed (四川南充顺庆: 3)."""

    code: str
    full_name: str
    level: str
    suffixes: int
    parts: int


@dataclass(frozen=True)
class Reading:
    """What a typed place was read as: the candidates, best first. ``chosen`` is the region when one
    stands out; otherwise the caller asks which one is meant (or says nothing was found)."""

    text: str
    candidates: tuple[Candidate, ...] = field(default=())
    chosen: str | None = None

    @property
    def ambiguous(self) -> bool:
        return self.chosen is None and len(self.candidates) > 1


def _chains(table: NameTable, text: str) -> dict[str, tuple[int, int]]:
    """Every region ending a chain of forms that spells ``text`` exactly → (suffixes, parts),
    keeping each region's best (most suffixes, then most parts)."""
    tree = table.tree
    memo: dict[tuple[int, str | None], dict[str, tuple[int, int]]] = {}

    def ends(position: int, parent: str | None) -> dict[str, tuple[int, int]]:
        key = (position, parent)
        if key in memo:
            return memo[key]
        found: dict[str, tuple[int, int]] = {}
        for end in range(min(len(text), position + table.longest), position + 1, -1):
            codes = table.forms.get(text[position:end])
            if not codes:
                continue
            for code, full in codes:
                if parent is not None and (code == parent or not tree.contains(parent, code)):
                    continue
                here = (1 if full else 0, 1)
                if end == len(text):
                    options = {code: here}
                else:
                    options = {last: (here[0] + s, here[1] + p) for last, (s, p) in ends(end, code).items()}
                for last, score in options.items():
                    if score > found.get(last, (-1, -1)):
                        found[last] = score
        memo[key] = found
        return found

    return ends(0, None)


def read_place(table: NameTable, text: str, limit: int = 8) -> Reading:
    """The regions ``text`` can mean, best first (see the module docstring).

    Ranking: more parts typed with their suffix first (they say which level is meant), then more
    parts, then province before city before county, then code. One candidate left after keeping
    only those with the most suffixes is chosen; several are a question for the citizen.
    """
    typed = normalise(text)[:40]
    if not typed:
        return Reading(text)
    chains = _chains(table, typed)
    if not chains:
        return Reading(text)
    tree = table.tree
    best_suffixes = max(s for s, _ in chains.values())
    ranked = sorted(
        chains.items(),
        key=lambda item: (-item[1][0], -item[1][1], HOME_LEVELS.index(tree.place(item[0]).level), item[0]),
    )
    candidates = tuple(
        Candidate(code, tree.full_name(code), tree.place(code).level, s, p) for code, (s, p) in ranked[:limit]
    )
    top = [code for code, (s, _) in ranked if s == best_suffixes]
    return Reading(text, candidates, top[0] if len(top) == 1 else None)


def spellings_of(tree: RegionTree, code: str, syllables_of: Callable[[str], Sequence[str]]) -> Iterable[str]:
    """Ways a citizen may type the region ``code`` (for tests and examples): its chain of names
    with and without suffixes, in characters and in pinyin with and without spaces."""
    chain = [c for c in (*reversed(tree.ancestors(code)), code) if tree.place(c).level in HOME_LEVELS]
    per_level = [[form for form, _ in name_forms(tree.name(c))] for c in chain]
    for start in range(len(chain)):
        for combination in itertools.product(*per_level[start:]):
            yield "".join(combination)
    last = per_level[-1]
    for form in last:
        yield from pinyin_spellings(form, syllables_of)[:1]
    if len(chain) >= 2:
        upper = pinyin_spellings(per_level[-2][-1], syllables_of)[:1]
        lower = pinyin_spellings(last[-1], syllables_of)[:1]
        for a, b in itertools.product(upper, lower):
            yield f"{a} {b}"
            yield a + b
