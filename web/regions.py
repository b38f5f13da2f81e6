"""Regions as the pages need them: the home-region chooser, the pinyin type-ahead, and "where are
you now" (a place in the home city, or coordinates).

The region tree is static bundled data, so everything derived from it (option lists, the pinyin
index) is computed once per tree and kept; the pinyin index is built in a worker thread on first
use because it takes a few hundred milliseconds.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from api.place_names import NameTable, Reading, build_name_table, normalise, read_place, stem
from api.rules import RegionTree
from search_index.analysis import char_pinyin

HOME_LEVELS = ("PROVINCE", "CITY", "COUNTY")
_COORDS = re.compile(r"^\s*(-?\d{1,2}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)\s*$")
_CODE = re.compile(r"^\d{6}(?:\d{3})?$")


@dataclass(frozen=True, slots=True)
class Option:
    code: str
    name: str


# ------------------------------------------------------------------ chooser


def provinces(tree: RegionTree) -> list[Option]:
    return sorted((Option(p.code, p.name) for p in tree if p.level == "PROVINCE"), key=lambda o: o.code)


def home_children(tree: RegionTree, code: str) -> list[Option]:
    """The next level down for the chooser: cities (or a municipality's districts), then counties.
    Towns are never a home region here (only the home city's towns are bundled)."""
    if code not in tree:
        return []
    return [
        Option(c, tree.name(c))
        for c in tree.children(code)
        if (p := tree.get(c)) is not None and p.level != "TOWN"
    ]


@dataclass(frozen=True)
class Chooser:
    """The state of the province → city → county chooser, from the submitted selects."""

    provinces: list[Option]
    province: str | None
    cities: list[Option]
    city: str | None
    counties: list[Option]
    county: str | None

    @property
    def chosen(self) -> str | None:
        return self.county or self.city or self.province


def chooser(tree: RegionTree, province: str | None, city: str | None, county: str | None) -> Chooser:
    """Keep only a consistent chain (a city inside the province, a county inside the city)."""
    province = (
        province if province and (p := tree.get(province)) is not None and p.level == "PROVINCE" else None
    )
    cities = home_children(tree, province) if province else []
    city = city if city and any(o.code == city for o in cities) else None
    counties = home_children(tree, city) if city else []
    county = county if county and any(o.code == county for o in counties) else None
    return Chooser(provinces(tree), province, cities, city, counties, county)


def chain_of(tree: RegionTree, code: str) -> tuple[str | None, str | None, str | None]:
    """(province, city, county) codes of a home region, for pre-selecting the chooser."""
    chain = [*reversed(tree.ancestors(code)), code]
    chain = [c for c in chain if (p := tree.get(c)) is not None and p.level != "TOWN"]
    padded = [*chain, None, None, None]
    return padded[0], padded[1], padded[2]


# ------------------------------------------------------------------ type-ahead


@dataclass(frozen=True, slots=True)
class Entry:
    code: str
    name: str
    full_name: str
    level: str
    pinyin: str
    initials: str


def name_syllables(name: str) -> list[str]:
    """The toneless pinyin of a place name's Chinese characters (others dropped), from the search
    index's compact tables: pypinyin's own readings without loading pypinyin (~55 MB) in a worker."""
    return [syllable for syllable, ch in zip(char_pinyin(name), name, strict=True) if syllable != ch]


class PinyinIndex:
    """Regions searchable by Chinese name, full pinyin ("nanchong") or initials ("nc")."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.entries = entries

    @classmethod
    def build(cls, tree: RegionTree) -> PinyinIndex:
        entries = []
        for place in tree:
            if place.level not in HOME_LEVELS:
                continue
            syllables = name_syllables(place.name)
            initials = [s[0] for s in syllables]
            entries.append(
                Entry(
                    place.code,
                    place.name,
                    tree.full_name(place.code),
                    place.level,
                    "".join(syllables).lower(),
                    "".join(initials).lower(),
                )
            )
        entries.sort(key=lambda e: (HOME_LEVELS.index(e.level), e.code))
        return cls(entries)

    def suggest(self, text: str, limit: int = 10) -> list[Entry]:
        query = re.sub(r"\s+", "", text or "").lower()[:30]
        if not query:
            return []
        ranked: list[tuple[int, int, Entry]] = []
        ascii_query = query.isascii()
        for position, entry in enumerate(self.entries):
            if ascii_query:
                if entry.pinyin.startswith(query):
                    rank = 2
                elif entry.initials.startswith(query):
                    rank = 3
                elif len(query) >= 3 and query in entry.pinyin:
                    rank = 5
                else:
                    continue
            elif entry.name == query or entry.full_name == query:
                rank = 0
            elif entry.name.startswith(query):
                rank = 1
            elif query in entry.full_name:
                rank = 4
            else:
                continue
            ranked.append((rank, position, entry))
        ranked.sort(key=lambda item: (item[0], item[1]))
        return [entry for _, _, entry in ranked[:limit]]


# What is built from a region tree is kept on it (`RegionTree.views`), so it lives exactly as long
# as the tree (`api.services.regions.load_tree` hands back the same tree while the rows are the same)
_PINYIN_KEY = "web.regions.pinyin_index"
_NAMES_KEY = "web.regions.name_table"
_NEAR_KEY = "web.regions.near_options"


async def pinyin_index(tree: RegionTree) -> PinyinIndex:
    """The type-ahead index for this tree, built once (in a worker thread) and kept while the tree
    lives."""
    found: PinyinIndex | None = tree.views.get(_PINYIN_KEY)
    if found is None:
        found = tree.views[_PINYIN_KEY] = await asyncio.to_thread(PinyinIndex.build, tree)
    return found


async def name_table(tree: RegionTree) -> NameTable:
    """`api.place_names`' table for this tree, built once (in a worker thread, ~0.2 s) and kept while
    the tree lives."""
    found: NameTable | None = tree.views.get(_NAMES_KEY)
    if found is None:
        found = tree.views[_NAMES_KEY] = await asyncio.to_thread(build_name_table, tree, name_syllables)
    return found


async def read_home(tree: RegionTree, text: str) -> Reading:
    """A typed home place (四川南充, nanchong shunqing, 北京朝阳) read by `api.place_names`."""
    return read_place(await name_table(tree), text)


async def place_suggestions(tree: RegionTree, text: str, limit: int = 10) -> tuple[Reading, list[Entry]]:
    """The typed place's reading, and the regions to offer: the reading's candidates first (best
    first), then the type-ahead's prefix matches ("nanc" → 南充市) that are not among them."""
    reading = read_place(await name_table(tree), text, limit)
    entries = [Entry(c.code, tree.name(c.code), c.full_name, c.level, "", "") for c in reading.candidates]
    if len(entries) < limit and not reading.chosen:
        seen = {e.code for e in entries}
        for entry in (await pinyin_index(tree)).suggest(text, limit):
            if entry.code not in seen and len(entries) < limit:
                entries.append(entry)
    return reading, entries


# ------------------------------------------------------------------ where are you now


@dataclass(frozen=True)
class Near:
    """Where the citizen is now: a point, how we describe it, and the raw value to keep in links."""

    raw: str
    lat: float
    lon: float
    description: str
    region_code: str | None = None


@dataclass(frozen=True)
class NearGroup:
    county: Option
    towns: tuple[Option, ...]


def near_options(tree: RegionTree, home_city: str) -> tuple[NearGroup, ...]:
    """The home city's counties, each with its towns (for the "where are you now" select); built
    once per tree and home city."""
    kept: dict[str, tuple[NearGroup, ...]] = tree.views.setdefault(_NEAR_KEY, {})
    found = kept.get(home_city)
    if found is not None:
        return found
    groups = []
    for county in tree.local_counties(home_city):
        towns = tuple(
            Option(c, tree.name(c)) for c in tree.children(county) if (p := tree.get(c)) and p.level == "TOWN"
        )
        groups.append(NearGroup(Option(county, tree.name(county)), towns))
    found = kept[home_city] = tuple(groups)
    return found


def _mean_point(points: Iterable[tuple[float, float]]) -> tuple[float, float] | None:
    items = list(points)
    if not items:
        return None
    return sum(p[0] for p in items) / len(items), sum(p[1] for p in items) / len(items)


def local_place_by_name(tree: RegionTree, home_city: str, text: str) -> str | None:
    """A county or town of the home city typed by name, with or without its suffix and with or
    without the province and city before it (温岭, 温岭市, 台州温岭, 浙江省台州市温岭市, 箬横镇): its
    code when exactly one place matches, else None."""
    typed = normalise(text)
    for ancestor in (tree.province_of(home_city), home_city):
        if ancestor and ancestor in tree:
            for form in (tree.name(ancestor), stem(tree.name(ancestor))):
                if typed.startswith(form) and len(typed) > len(form):
                    typed = typed[len(form) :]
                    break
    if not typed:
        return None
    found: list[str] = []
    stack = list(tree.children(home_city))
    while stack:
        code = stack.pop()
        name = tree.name(code)
        if typed in (name, stem(name)):
            found.append(code)
        stack.extend(tree.children(code))
    return found[0] if len(found) == 1 else None


def resolve_near(
    raw: str | None, tree: RegionTree, home_city: str, halls: Iterable[Any]
) -> tuple[Near | None, str | None]:
    """`near` as a point: "lat,lon", or a home-city region code standing for its seat (the mean of
    the coordinates of the halls inside it, walking up to the county when a town has none).

    Returns (near, problem): a value we cannot use is ignored with a plain message, never an error.
    """
    value = (raw or "").strip()
    if not value:
        return None, None
    match = _COORDS.match(value)
    if match:
        lat, lon = float(match.group(1)), float(match.group(2))
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            return Near(f"{lat:.4f},{lon:.4f}", lat, lon, "你所在的位置（浏览器定位）"), None
        return None, "位置坐标超出范围，已忽略。"
    if not _CODE.match(value):
        value = local_place_by_name(tree, home_city, value) or value
    if not _CODE.match(value) or value not in tree or not tree.contains(home_city, value):
        return None, f"“{value[:20]}”不是{tree.name(home_city)}的县（市、区）或乡镇（街道），已忽略位置。"
    located = [h for h in halls if h.latitude is not None and h.longitude is not None]
    for candidate in (value, *tree.ancestors(value)):
        point = _mean_point(
            (h.latitude, h.longitude) for h in located if tree.contains(candidate, h.region_code)
        )
        if point is not None:
            name = tree.full_name(value).removeprefix(tree.full_name(tree.province_of(value) or value))
            return Near(value, point[0], point[1], name or tree.name(value), value), None
        if candidate == home_city:
            break
    return None, f"暂无{tree.name(value)}附近大厅的位置信息，按县（市、区）顺序列出大厅。"
