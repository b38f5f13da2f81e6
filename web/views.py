"""Plain view models for the templates: the coverage answer in words, hall options with details,
agreements with their reach. No database access here: callers pass the catalog snapshot and the
rows they loaded in one batch, so building a page of twenty results costs no further queries.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

from markupsafe import Markup, escape

from api import metrics, rules
from api.enums import label
from api.services.catalog import remember
from api.words import MODE_WORDS
from web.data import AgreementDetails, HallDirectory, HallView, MatterView
from web.templating import HOTLINE, PRESUMED_SHORT, distance_cn, html_text, tel_href

NATIONAL_PLATFORM_URL = "https://www.gjzwfw.gov.cn/"
NATIONAL_PLATFORM_NAME = "国家政务服务平台“跨省通办”专区"


SCOPE_SLUGS = {"cross-province": "CROSS_PROVINCE", "province-wide": "PROVINCE_WIDE", "citywide": "CITYWIDE"}
SLUG_OF_SCOPE = {v: k for k, v in SCOPE_SLUGS.items()}

_MARK_ONLY = re.compile(r"</?mark>")
_MARKED = re.compile(r"<mark>(.*?)</mark>")
MATCHED_SHOWN = 3  # words named in a result's "匹配：" small print

# `Catalog.views` key of the snapshot's hall lines (hall id → HallLine), built as pages need them.
HALL_LINES_KEY = "web.views.hall_lines"
# `Catalog.views` key of the nearest consulting window per point (lat, lon), and how many are kept.
CONSULTS_KEY = "web.views.consults"
CONSULTS_KEPT = 256
# `Catalog.views` key of the verdicts by decision (its identity and the matter's scope), and how
# many are kept (each holds its decision: bounded like the catalog's own memos of them)
VERDICTS_KEY = "web.views.verdicts"
VERDICTS_KEPT = 10_000
# `Catalog.views` key of a covered card's nearest hall by (matter, reach, point), and how many kept
NEAREST_HALLS_KEY = "web.views.nearest_halls"
NEAREST_HALLS_KEPT = 20_000

#: a coverage verdict shown on a page (each result with a home, the home's summary)
_COVERED = metrics.COVERAGE_ANSWERS.labels("page", "true")
_NOT_COVERED = metrics.COVERAGE_ANSWERS.labels("page", "false")


def city_short_name(name: str) -> str:
    """ "台州市" → "台州" (how people say it)."""
    return name[:-1] if len(name) > 2 and name.endswith("市") else name


def safe_highlight(highlight: str | None, fallback: str) -> Markup:
    """The index's highlight is escaped text with <mark>; accept it only if that is all it holds."""
    if highlight:
        unmarked = _MARK_ONLY.sub("", highlight)
        if "<" not in unmarked and ">" not in unmarked:
            return Markup(highlight)
    return Markup(escape(fallback))


@lru_cache(maxsize=4096)
def result_title(highlight: str | None, name: str) -> tuple[Markup, str]:
    """(heading, matched): a result's heading is always the matter's official name, highlighted
    when the words matched the name itself; when they matched something else (an everyday word,
    a synonym, guide text) the heading is the plain name and `matched` names the words, for the
    small print "匹配：落户"."""
    if highlight:
        unmarked = _MARK_ONLY.sub("", highlight)
        if unmarked == str(escape(name)) and "<" not in unmarked and ">" not in unmarked:
            return Markup(highlight), ""
        words: list[str] = []
        for word in _MARKED.findall(highlight):
            if "<" in word or ">" in word:  # not the index's plain marked text: name nothing
                return Markup(escape(name)), ""
            if word and word not in words and word not in str(escape(name)):
                words.append(word)
        return Markup(escape(name)), Markup("、").join(Markup(w) for w in words[:MATCHED_SHOWN])
    return Markup(escape(name)), ""


def details_link(matter_code: str, home: str | None, near: str | None, search_id: str | None = None) -> str:
    """The link from a result to its matter page (explanation, every hall, modes, materials).
    The ONE place such links are built; `search_id` (`s=`) lets the matter page record the click
    for the search log (issue 16). A page of results takes `details_query` once and joins it
    to each `matter_path` (`details_links`)."""
    return matter_path(matter_code) + details_query(home, near, search_id)


def details_links(home: str | None, near: str | None, search_id: str | None = None) -> Callable[[str], str]:
    """`details_link` for one page's results (same home, place and search): the query once."""
    query = details_query(home, near, search_id) if search_id else _details_query(home, near)
    return lambda code: matter_path(code) + query


@lru_cache(maxsize=8192)
def matter_path(matter_code: str) -> str:
    return f"/matters/{quote(matter_code)}"


def details_query(home: str | None, near: str | None, search_id: str | None = None) -> str:
    """`?home=…&near=…&s=…` of the values given, or ""."""
    params = {"home": home, "near": near, "s": search_id}
    clean = {k: v for k, v in params.items() if v}
    return "?" + urlencode(clean) if clean else ""


@lru_cache(maxsize=4096)
def _details_query(home: str | None, near: str | None) -> str:
    return details_query(home, near)


@dataclass(frozen=True)
class Mode:
    code: str
    name: str
    words: str


def modes_of(matter: MatterView) -> tuple[Mode, ...]:
    return _modes(matter.modes)


@lru_cache(maxsize=64)
def _modes(codes: tuple[str, ...]) -> tuple[Mode, ...]:
    # Few combinations of the handful of modes exist, and every result asks for one.
    return tuple(Mode(m, label(m), MODE_WORDS.get(m, "")) for m in codes)


@dataclass(frozen=True)
class AgreementView:
    facts: rules.AgreementFacts
    partner_name: str
    local_name: str
    status: str
    in_force: bool
    reach: tuple[str, ...]
    reach_names: str
    reaches_all: bool
    matters: list[tuple[str, str]]
    covers_all: bool
    late: bool
    details: AgreementDetails | None


@dataclass(frozen=True)
class HallLine:
    """A hall's name and facts as one line of the results page (`_results.html`), escaped once
    per catalog snapshot: a page lists up to thirty halls, and building their lines in the
    template was a third of its render time. `Markup.format` escapes every value."""

    link: Markup  # the name, linked to the hall's page, and the sample tag
    facts: Markup  # 地址；时间；电话 of a hall that handles the matter
    consult_facts: Markup  # 地址；电话 of a consulting window, naming the hotline if it has no phone


_SAMPLE_TAG = Markup(' <span class="tag tag-sample">示例数据</span>')


def _truncate(text: str, length: int) -> str:
    """Jinja's `truncate(length, True, "…")` with its default leeway (5): text only a little too
    long is kept whole."""
    return text if len(text) <= length + 5 else text[: length - 1] + "…"


def build_hall_line(hall: HallView) -> HallLine:
    link = Markup('<a href="{}">{}</a>').format(hall.url, hall.name)
    if hall.sample:
        link += _SAMPLE_TAG
    tel = tel_href(hall.phone)

    def phone(missing: str) -> Markup:
        if hall.phone and tel:
            return Markup('<a href="{}">{}</a>').format(tel, hall.phone)
        return escape(hall.phone or missing)

    address = hall.address or "待核实"
    hours = _truncate(hall.opening_hours, 36) if hall.opening_hours else "待核实"
    return HallLine(
        link=link,
        facts=Markup("地址：{}；时间：{}；电话：{}").format(address, hours, phone("待核实")),
        consult_facts=Markup("地址：{}；电话：{}").format(address, phone(f"待核实（可拨打 {HOTLINE}）")),
    )


@dataclass(frozen=True)
class HallOptionView:
    hall: HallView
    distance_km: float | None
    explanation: str
    line: HallLine


@dataclass(frozen=True)
class CoverageView:
    covered: bool
    kind: str
    headline: str
    explanation: str
    reaches_all: bool
    regions: str
    agreements: list[AgreementView] = field(default_factory=list)
    reason: str = ""


@dataclass
class ResultView:
    matter: MatterView
    title: Markup
    score: float
    modes: tuple[Mode, ...]
    matched: str = ""  # the words that matched when they are not in the name (匹配：…)
    link: str = ""  # details_link()
    verdict: str = ""  # one line: 可以在台州任一县(市、区)办理 / 暂不能在台州办理
    why: str = ""  # the one short clause after the verdict
    covered: bool | None = None  # None: no home chosen yet
    presumed: bool = False  # rules.is_presumed
    exceptions: tuple[str, ...] = ()  # why a covering agreement is not shared citywide
    coverage: CoverageView | None = None
    halls: list[HallOptionView] = field(default_factory=list)
    more_halls: int = 0
    consult: HallOptionView | None = None
    online: bool = False


class Presenter:
    """Turns catalog answers into view models for one request (one catalog, one directory)."""

    def __init__(self, catalog: Any, directory: HallDirectory, day: dt.date) -> None:
        self.catalog = catalog
        self.tree: rules.RegionTree = catalog.tree
        self.home_city: str = catalog.home_city
        self.directory = directory
        self.day = day
        self.city_name = self.tree.name(self.home_city)
        self.city_short = city_short_name(self.city_name)
        self.counties = tuple(self.tree.local_counties(self.home_city))
        # the nearest consulting window per point, kept with the snapshot (it depends on the halls alone)
        self._consult: dict[tuple[float | None, float | None], HallOptionView | None] = (
            catalog.views.setdefault(CONSULTS_KEY, {})
        )
        self._hall_lines: dict[int, HallLine] = catalog.views.setdefault(HALL_LINES_KEY, {})
        self._verdicts: dict[tuple[int, str | None], tuple[rules.CoverageResult, tuple[str, str]]] = (
            catalog.views.setdefault(VERDICTS_KEY, {})
        )
        self._nearest_halls: dict[tuple[Any, ...], tuple[bool, str | None, float | None, int]] = (
            catalog.views.setdefault(NEAREST_HALLS_KEY, {})
        )

    # -------------------------------------------------------------- names

    def full_name(self, code: str) -> str:
        return self.tree.full_name(code) if code in self.tree else code

    def names(self, codes: tuple[str, ...] | list[str]) -> str:
        return "、".join(self.tree.name(c) for c in codes if c in self.tree)

    # -------------------------------------------------------------- coverage

    def coverage(self, result: rules.CoverageResult) -> CoverageView:
        (_COVERED if result.covered else _NOT_COVERED).inc()
        regions = tuple(result.local_regions)
        reaches_all = bool(regions) and set(regions) >= set(self.counties)
        if result.covered:
            if reaches_all:
                headline = f"可以在{self.city_short}任一县(市、区)办理"
            else:
                headline = f"可以在{self.names(regions)}办理（{self.city_short}其他县(市、区)暂不能办）"
        elif result.kind == "SCOPE_EXCLUDED":
            headline = f"不能在{self.city_short}办理：这件事不在你户籍地的通办范围内"
        else:
            headline = f"暂时不能在{self.city_short}办理：你的户籍地与{self.city_short}还没有生效的通办协议覆盖这件事"
        agreements = [self.agreement(a) for a in result.agreements]
        return CoverageView(
            result.covered,
            result.kind,
            headline,
            result.explanation,
            reaches_all,
            self.names(regions),
            agreements,
            self.short_reason(result, agreements),
        )

    def short_reason(self, result: rules.CoverageResult, agreements: list[AgreementView]) -> str:
        """The reason in one short sentence for a list of results.

        The rules' explanation names every covering agreement; for a home covered by several that
        runs to a paragraph per result, so the list names the most specific one (signed by the
        home region itself or its nearest enclosing region, the latest first) and counts the
        rest. The matter page shows the full explanation.
        """
        if len(agreements) <= 1 or len(result.explanation) <= 200:
            return result.explanation

        def specificity(view: AgreementView) -> tuple[int, dt.date]:
            depth = (
                len(self.tree.ancestors(view.facts.partner_code))
                if view.facts.partner_code in self.tree
                else 0
            )
            return depth, view.facts.signed_on

        best = max(agreements, key=specificity)
        facts = best.facts
        title = facts.title.strip().strip("《》")
        if facts.local_code == self.home_city:
            reach = f"由{self.city_name}本级签订，全市有效"
        elif best.reaches_all:
            reach = f"按“一地签约、全市共享”，在{self.city_name}全部{len(self.counties)}个县（市、区）有效"
        else:
            reach = f"在{best.reach_names}有效"
        return (
            f"{best.partner_name}与{best.local_name}于{rules.format_date_cn(facts.signed_on)}签订《{title}》，{reach}；"
            f"另有{len(agreements) - 1}份协议也覆盖这件事（详见办事指南页）。"
        )

    def verdict(self, result: rules.CoverageResult, scope: str | None = None) -> tuple[str, str]:
        """(verdict, why): the answer in one line and the reason in one short clause, for a
        compact result card; the matter page carries the full explanation. Kept per snapshot
        with the decision, by identity: `Catalog.decision` hands one object to every matter of a
        home's agreement pattern, and one per (where, scope) to homes no agreement reaches."""
        key = (id(result), scope)
        entry = self._verdicts.get(key)
        if entry is not None and entry[0] is result:  # the entry holds it: its id is not reused
            return entry[1]
        words = self._verdict(result, scope)
        remember(self._verdicts, key, (result, words), VERDICTS_KEPT)
        return words

    def _verdict(self, result: rules.CoverageResult, scope: str | None) -> tuple[str, str]:
        city = self.city_short
        regions = tuple(result.local_regions)
        if result.covered:
            if regions and set(regions) >= set(self.counties):
                verdict = f"可以在{city}任一县(市、区)办理"
            else:
                verdict = f"可以在{self.names(regions)}办理"
        else:
            verdict = f"暂不能在{city}办理"
        if result.kind == "LOCAL":
            why = "本市户籍（参保）"
        elif result.kind == "PROVINCE":
            province = self.tree.province_of(self.home_city)
            why = f"按{self.tree.name(province) if province else ''}全省通办"
        elif result.kind == "AGREEMENT":
            best = max(result.agreements, key=self._specificity)
            who = f"{self.tree.name(best.partner_code)}—{self.tree.name(best.local_code)}"
            more = f"等{len(result.agreements)}份协议" if len(result.agreements) > 1 else "协议"
            if best.local_code == self.home_city:
                reach = ""
            elif best.citywide_shared:
                reach = "（一地签约、全市共享）"
            else:
                reach = "（未实行全市共享）"
            why = f"依据{who}{more}{reach}"
        elif result.kind == "SCOPE_EXCLUDED":
            why = (
                "全市通办事项，仅限本市户籍（参保）"
                if scope == "CITYWIDE"
                else "全省通办事项，不在跨省通办范围"
            )
        else:
            why = f"你的户籍地与{city}没有生效的协议覆盖这件事"
        return verdict, why

    def _specificity(self, facts: rules.AgreementFacts) -> tuple[int, dt.date]:
        depth = len(self.tree.ancestors(facts.partner_code)) if facts.partner_code in self.tree else 0
        return depth, facts.signed_on

    def exceptions(self, result: rules.CoverageResult) -> tuple[str, ...]:
        """The recorded reasons why covering agreements are not shared citywide (一地签约、全市共享
        has exceptions only where staff recorded one, with its reason)."""
        found: list[str] = []
        for facts in result.agreements:
            if not facts.citywide_shared and facts.local_code != self.home_city:
                row = self.catalog.agreement_row(facts.id)
                reason = getattr(row, "not_shared_reason", None) if row is not None else None
                if reason and reason not in found:
                    found.append(reason)
        return tuple(found)

    def summary(self, result: rules.CoverageResult) -> CoverageView:
        """The answer for "any cross-province matter" (no matter chosen yet), in words."""
        view = self.coverage(result)
        where = f"{self.city_short}任一县(市、区)" if view.reaches_all else view.regions
        if result.kind == "LOCAL":
            headline = f"本地户籍（参保）：本市事项可以在{where}办理"
        elif result.kind == "PROVINCE":
            headline = f"按全省通办：全省通办和跨省通办事项可以在{where}办理"
        elif result.covered:
            headline = f"有生效的“跨省通办”协议：跨省通办事项可以在{where}办理"
        else:
            headline = f"你的户籍地与{self.city_short}目前没有生效的“跨省通办”协议"
        return CoverageView(
            view.covered,
            view.kind,
            headline,
            view.explanation,
            view.reaches_all,
            view.regions,
            view.agreements,
        )

    def agreement(
        self, facts: rules.AgreementFacts, details: AgreementDetails | None = None
    ) -> AgreementView:
        reach = self.catalog.local_reach(facts)
        matters = []
        if facts.matter_codes is not None:
            for code in sorted(facts.matter_codes):
                matter = self.catalog.matters.get(code)
                matters.append((code, matter.name if matter is not None else code))
        return AgreementView(
            facts=facts,
            partner_name=self.full_name(facts.partner_code),
            local_name=self.full_name(facts.local_code),
            status=rules.exposed_status(facts, self.day),
            in_force=rules.in_force(facts, self.day),
            reach=reach,
            reach_names=self.names(reach),
            reaches_all=bool(reach) and set(reach) >= set(self.counties),
            matters=matters,
            covers_all=facts.matter_codes is None,
            late=rules.is_late_registration(facts.signed_on, facts.registered_on),
            details=details,
        )

    # -------------------------------------------------------------- halls

    def hall_option(self, option: rules.HallOption) -> HallOptionView | None:
        hall = self.directory.by_id.get(int(option.hall.id))
        if hall is None:
            return None
        return HallOptionView(hall, option.distance_km, option.explanation, self.hall_line(hall))

    def hall_line(self, hall: HallView) -> HallLine:
        """The hall's results-page line, built once per catalog snapshot (the directory's halls
        change only with the snapshot)."""
        line = self._hall_lines.get(hall.id)
        if line is None:
            line = self._hall_lines[hall.id] = build_hall_line(hall)
        return line

    def nearest_consult(self, lat: float | None, lon: float | None) -> HallOptionView | None:
        """The nearest hall whose cross-region window gives 异地咨询 (advice for people from elsewhere).

        Without a location: the city-level hall if it advises, else the first county's. Every
        uncovered result of a page asks the same question, so it is answered once per request.
        """
        key = (lat, lon)
        if key not in self._consult:
            remember(self._consult, key, self._nearest_consult(lat, lon), CONSULTS_KEPT)
        return self._consult[key]

    def _nearest_consult(self, lat: float | None, lon: float | None) -> HallOptionView | None:
        candidates = [h for h in self.directory.ordered if h.consults]
        if not candidates:
            return None
        if lat is not None and lon is not None:
            located = [
                (rules.great_circle_km(lat, lon, h.latitude, h.longitude), h)
                for h in candidates
                if h.latitude is not None and h.longitude is not None
            ]
            if located:
                distance, hall = min(located, key=lambda item: (item[0], item[1].name))
                return HallOptionView(
                    hall, distance, "离你最近的跨区域通办窗口，提供异地咨询。", self.hall_line(hall)
                )
        levels = {"CITY": 0, "COUNTY": 1, "TOWN": 2, "VILLAGE": 3}
        hall = min(candidates, key=lambda h: (levels.get(h.level, 9), h.region_code, h.name))
        return HallOptionView(hall, None, "跨区域通办窗口提供异地咨询。", self.hall_line(hall))

    def result(
        self,
        matter: MatterView,
        highlight: str | None,
        score: float,
        home: str | None,
        lat: float | None,
        lon: float | None,
        halls_shown: int = 3,
        coverage: rules.CoverageResult | None = None,
        near: str | None = None,
        compact: bool = False,
        link: str | None = None,
    ) -> ResultView:
        """`link`: the details link when the caller made it (`details_links`), else built here."""
        title, matched = result_title(highlight, matter.name)
        view = ResultView(
            matter=matter,
            title=title,
            score=score,
            modes=modes_of(matter),
            online="FULL_ONLINE" in matter.modes,
            matched=matched,
            link=details_link(matter.code, home, near) if link is None else link,
        )
        if home is None:
            return view
        if coverage is None:
            # a compact card says the verdict in a clause: the decision without the sentence
            coverage = (self.catalog.decision if compact else self.catalog.coverage)(
                home, matter.code, self.day
            )
        view.covered = coverage.covered
        view.verdict, view.why = self.verdict(coverage, matter.scope)
        view.presumed = rules.is_presumed(coverage)
        view.exceptions = self.exceptions(coverage)
        if not compact:
            view.coverage = self.coverage(coverage)
        if coverage.covered:
            # a compact card names the nearest hall and its distance, not why that hall can do it
            options, total = self.catalog.where_to_handle_counted(
                home, matter.code, lat, lon, self.day, halls_shown, coverage, explain=not compact
            )
            shown = [v for o in options if (v := self.hall_option(o)) is not None]
            view.halls = shown
            view.more_halls = max(0, total - len(shown))
        else:
            view.consult = self.nearest_consult(lat, lon)
        return view

    def nearest_hall(
        self, home: str, code: str, coverage: rules.CoverageResult, lat: float | None, lon: float | None
    ) -> tuple[bool, str | None, float | None, int]:
        """(found, its linked name, distance, how many more halls): a covered card's nearest hall.
        It depends on the matter, where the answer reaches and the point alone (every home covered
        citywide shares it): kept per snapshot by those (half of a bench pass's covered cards
        found theirs made)."""
        key = (code, rules.reach_key(coverage), lat, lon)
        found = self._nearest_halls.get(key)
        if found is None:
            options, total = self.catalog.where_to_handle_counted(
                home, code, lat, lon, self.day, 1, coverage, explain=False
            )
            hall = self.directory.by_id.get(int(options[0].hall.id)) if options else None
            if hall is None:
                found = (False, None, None, 0)
            else:
                found = (True, self.hall_line(hall).link, options[0].distance_km, max(0, total - 1))
            remember(self._nearest_halls, key, found, NEAREST_HALLS_KEPT)
        return found

    def card(
        self,
        matter: MatterView,
        highlight: str | None,
        home: str | None,
        lat: float | None,
        lon: float | None,
        link: str,
    ) -> str:
        """The compact card of `self.result(..., halls_shown=1, compact=True, link=link)`, written
        by `card_html` without the view objects in between: a results page writes ten, and making
        a `ResultView`, its modes and hall views for each cost about as much as deciding it.
        `tests/test_page_fast_paths.py` holds the two equal for homes of every kind."""
        title, matched = result_title(highlight, matter.name)
        if home is None:  # no verdict without a home: the card says to choose one
            return card_html(None, link, title, matter.scope, matter.sample, matched, self.city_short)
        coverage = self.catalog.decision(home, matter.code, self.day)
        verdict, why = self.verdict(coverage, matter.scope)
        place = distance = None
        more = 0
        is_hall = False
        if coverage.covered:
            is_hall, place, distance, more = self.nearest_hall(home, matter.code, coverage, lat, lon)
        else:
            consult = self.nearest_consult(lat, lon)
            if consult is not None:
                place, distance = consult.line.link, consult.distance_km
        return card_html(
            coverage.covered,
            link,
            title,
            matter.scope,
            matter.sample,
            matched,
            self.city_short,
            verdict=verdict,
            why=why,
            exceptions=self.exceptions(coverage),
            is_hall=is_hall,
            place=place,
            distance_km=distance,
            more_halls=more,
            presumed=rules.is_presumed(coverage),
        )


# ------------------------------------------------------------------ the compact result card


def card_html(
    covered: bool | None,
    link: str,
    title: str,
    scope: str,
    sample: bool,
    matched: str,
    city_short: str,
    *,
    verdict: str = "",
    why: str = "",
    exceptions: tuple[str, ...] = (),
    is_hall: bool = False,
    place: str | None = None,
    distance_km: float | None = None,
    more_halls: int = 0,
    presumed: bool = False,
) -> str:
    """The compact card's HTML, the one place it is written: the name linked to the matter page,
    the scope, the verdict and its reason in one line, the nearest hall (`is_hall`) or consulting
    window (`place`, its linked name), a presumption note. Written here rather than in the
    template: ten cards were a third of the results fragment's render; every value goes through
    `html_text` (markupsafe's escaping; `Markup` values, already safe, pass unchanged)."""
    if covered is None:
        opening = '<li class="result">\n'
    else:
        opening = '<li class="result yes">\n' if covered else '<li class="result no">\n'
    parts = [
        opening,
        f'<h2><a href="{html_text(link)}">{html_text(title)}</a></h2>\n',
        f'<p><span class="tag">{html_text(label(scope))}</span>',
    ]
    if sample:
        parts.append(' <span class="tag tag-sample">示例数据</span>')
    if matched:
        parts.append(f" <small>匹配：{html_text(matched)}</small>")
    parts.append("</p>\n")
    if covered is None:
        parts.append(f"<p>选择户籍地后，告诉你能不能在{html_text(city_short)}办。</p>\n")
    else:
        parts.append(f"<p><b>{html_text(verdict)}</b><small>：{html_text(why)}</small></p>\n")
        for reason in exceptions:
            parts.append(f"<p><em>未全市共享的原因：{html_text(reason)}</em></p>")
        if place is not None:
            parts.append("<p>最近可办：" if is_hall else "<p>可异地咨询：")
            parts.append(html_text(place))
            if distance_km is not None:
                parts.append(f" {html_text(distance_cn(distance_km))}")
            if is_hall and more_halls:
                parts.append(f"<small>（共{html_text(more_halls + 1)}个）</small>")
            parts.append("</p>\n")
        if presumed:
            parts.append(f"<p><em>{html_text(PRESUMED_SHORT)}</em></p>")
    parts.append("</li>")
    return "".join(parts)
