"""The results page's shortcuts give what the plain paths give, byte for byte (issue 15, speed).

Each shortcut replaces a general mechanism on every page (a template include, itsdangerous'
serializer, Starlette's cookie writer, building the request's URL, logging's time format) with
work done once; each is compared here with the mechanism it replaces, over a table of inputs
that includes the awkward ones (characters to escape, Secure cookies, odd paths). The whole
pages are compared with the code before the shortcuts by `bench/page_cost.py --same-as REV`.
"""

from __future__ import annotations

import logging
import re
import secrets
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import Response

from api.observability import TEXT_FORMAT, TextFormatter
from search_index.query import MAX_QUERY_CHARS
from web import csrf
from web.templating import MAX_ECHOED_PARAMS, build_environment, page_url, prepared_feedback_form

HIDDEN = [
    {},
    {"homeRegionCode": "511302"},
    {"homeRegionCode": "511302", "countyCode": "331081"},
    {"matterCode": 'A&B"<x>', "homeRegionCode": "1", "countyCode": "331081"},
    {"pageUrl": "/elsewhere", "matterCode": "M-1"},  # the template never repeats pageUrl
]
TOKENS = ["InR5cCI6IkpXVCJ9.a0nSAA.sig", "a\"<&>'b"]
URLS = ["/search?q=%E7%A4%BE%E4%BF%9D&home=511302&near=331081", "", '/x?a=<b>&c="d"']


@pytest.mark.parametrize("hidden", HIDDEN)
def test_prepared_feedback_form_is_what_the_template_renders(hidden: dict[str, str]) -> None:
    env = build_environment()
    template = env.get_template("_feedback_form.html")
    for token in TOKENS:
        for url in URLS:
            expected = template.render(
                feedback=None, feedback_open=False, feedback_context=hidden, csrf_token=token, page_url=url
            )
            prepared = prepared_feedback_form(env, token, url, hidden)
            assert prepared is not None
            assert str(escape(prepared)) == expected


def test_a_form_with_unusual_hidden_values_is_left_to_the_template() -> None:
    assert prepared_feedback_form(build_environment(), "t", "/", {"homeRegionCode": None}) is None


def test_base_layout_shows_the_prepared_form_as_it_shows_the_include() -> None:
    env = build_environment()
    context = {
        "prefs": frozenset(),
        "body_classes": "",
        "page_url": "/lists?a=<b>",
        "page_url_q": "%2Flists%3Fa%3D%3Cb%3E",
        "csrf_token": 'tok"en',
        "feedback": None,
        "feedback_open": False,
        "feedback_context": {"homeRegionCode": "511302"},
        "nav_current": "",
        "sample_notice": False,
        "home_city_code": "331000",
        "title": "标题",
    }
    plain = env.get_template("base.html").render(context)
    prepared = prepared_feedback_form(env, 'tok"en', "/lists?a=<b>", {"homeRegionCode": "511302"})
    assert env.get_template("base.html").render(context, prepared_feedback_form=prepared) == plain
    assert 'value="tok&#34;en"' in plain


SECRET = "a-test-secret-key-of-some-length"


@pytest.mark.parametrize(
    "payload",
    [
        ["A" * 43, "nonce-1234567890"],
        ["x", "y"],
        ["é中文", "\"'<>"],
        ["A" * 200, "B" * 100],  # URL-safe and compressed
        ["Zm9vYmFy_-0123456789abcdefghijklmnopqrstuvwxy", "AbCdEfGh_-123456"],  # URL-safe, as a page's
        [],
        ["x\n", "y"],  # not URL-safe: the serializer's JSON
    ],
)
def test_csrf_tokens_are_itsdangerous_tokens(monkeypatch: pytest.MonkeyPatch, payload: list[str]) -> None:
    serializer = URLSafeTimedSerializer(SECRET, salt=csrf.SALT)
    assert serializer.loads(csrf._signing_for(SECRET).dumps(payload), max_age=60) == payload
    # the serializer's own token, except that URL-safe text is never compressed
    url_safe = all(re.fullmatch(r"[A-Za-z0-9_-]*", part) for part in payload)
    same = not (url_safe and serializer.dump_payload(payload).startswith(b"."))
    for stamp in (0, 1_800_000_000, 2**40):
        monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self, stamp=stamp: stamp)
        assert (csrf._signing_for(SECRET).dumps(payload) == serializer.dumps(payload)) is same


def test_page_tokens_are_never_compressed_by_the_serializer_either() -> None:
    """A page's token signs [cookie value, nonce], both random URL-safe text: the serializer would
    not compress them either, so the tokens are byte for byte its own."""
    serializer = URLSafeTimedSerializer(SECRET, salt=csrf.SALT)
    for _ in range(2000):
        payload = [secrets.token_urlsafe(32), secrets.token_urlsafe(12)]
        assert not serializer.dump_payload(payload).startswith(b".")


def _request_with(https_only: bool) -> SimpleNamespace:
    settings = SimpleNamespace(https_only=https_only, secret_key=SECRET)
    return SimpleNamespace(
        app=SimpleNamespace(state=SimpleNamespace(tongban=SimpleNamespace(settings=settings)))
    )


@pytest.mark.parametrize("https_only", [False, True])
def test_csrf_cookie_header_is_the_one_starlette_writes(https_only: bool) -> None:
    value = "Abc_-" + "x" * 38
    ours, theirs = Response("page"), Response("page")
    csrf.set_cookie(_request_with(https_only), ours, value)  # type: ignore[arg-type]
    theirs.set_cookie(
        csrf.COOKIE,
        value,
        max_age=csrf.MAX_AGE_SECONDS,
        path="/",
        httponly=True,
        samesite="lax",
        secure=https_only,
    )
    assert ours.raw_headers == theirs.raw_headers


def test_log_lines_keep_their_time_format() -> None:
    plain, ours = logging.Formatter(TEXT_FORMAT), TextFormatter(TEXT_FORMAT)
    for created in (
        1_800_000_000.0,
        1_800_000_000.999,
        1_800_000_001.0005,
        1_800_000_001.5,
        1_700_000_000.25,
    ):
        record = logging.LogRecord("tongban.access", logging.INFO, __file__, 1, "GET %s", ("/x",), None)
        record.created = created
        record.msecs = (created - int(created)) * 1000
        record.request_id = "abc"
        assert ours.format(record) == plain.format(record)


def _plain_page_url(request: Request) -> str:
    """page_url as it was: the path from Starlette's URL."""
    items = request.query_params.multi_items()[:MAX_ECHOED_PARAMS]
    query = urlencode([(k[:40], v[:MAX_QUERY_CHARS]) for k, v in items])
    return request.url.path + ("?" + query if query else "")


@pytest.mark.parametrize(
    "path",
    [
        "/search",
        "/",
        "/matters/S-1",
        "/matters/中文 名",
        "/a?b",
        "/a#b",
        "/a\\b",
        "//evil.example/x",
        "/a\tb\r\n",
        "",
    ],
)
@pytest.mark.parametrize("query", [b"", b"q=%E7%A4%BE&home=511302", b"a=1&a=2&b=%3C"])
def test_page_url_is_what_the_request_url_gives(path: str, query: bytes) -> None:
    for headers in ([(b"host", b"example.org")], []):
        scope = {
            "type": "http",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "query_string": query,
            "headers": headers,
            "server": ("127.0.0.1", 8000) if headers else None,
        }
        assert page_url(Request(scope)) == _plain_page_url(Request(scope))


# The card as `_results.html` wrote it before `web.views.card_html` (kept here as the reference).
CARD_TEMPLATE = """{% for r in results %}
<li class="result{% if r.covered is not none %}{{ ' yes' if r.covered else ' no' }}{% endif %}">
<h2><a href="{{ r.link }}">{{ r.title }}</a></h2>
<p><span class="tag">{{ r.matter.scope|label }}</span>{% if r.matter.sample %} <span class="tag tag-sample">示例数据</span>{% endif %}{% if r.matched %} <small>匹配：{{ r.matched }}</small>{% endif %}</p>
{% if r.covered is none %}
<p>选择户籍地后，告诉你能不能在{{ city_short }}办。</p>
{% else %}
<p><b>{{ r.verdict }}</b><small>：{{ r.why }}</small></p>
{% for reason in r.exceptions %}<p><em>未全市共享的原因：{{ reason }}</em></p>{% endfor %}
{% if r.halls %}{% set o = r.halls[0] %}
<p>最近可办：{{ o.line.link }}{% if o.distance_km is not none %} {{ o.distance_km|distance }}{% endif %}{% if r.more_halls %}<small>（共{{ r.more_halls + 1 }}个）</small>{% endif %}</p>
{% elif r.consult %}{% set o = r.consult %}
<p>可异地咨询：{{ o.line.link }}{% if o.distance_km is not none %} {{ o.distance_km|distance }}{% endif %}</p>
{% endif %}
{% if r.presumed %}<p><em>{{ PRESUMED_SHORT }}</em></p>{% endif %}
{% endif %}
</li>
{% endfor %}
"""


def _cards() -> list[SimpleNamespace]:
    from markupsafe import Markup

    hall = SimpleNamespace(line=SimpleNamespace(link=Markup('<a href="/halls/1">椒江&amp;中心</a>')))
    options = [
        SimpleNamespace(distance_km=None, **vars(hall)),
        SimpleNamespace(distance_km=0.4, **vars(hall)),
        SimpleNamespace(distance_km=12.345, **vars(hall)),
        SimpleNamespace(distance_km=250.0, **vars(hall)),
    ]
    cards = []
    for covered in (None, True, False):
        for sample in (False, True):
            for matched in ("", Markup("落户、<b>x</b>"), "a<b"):
                for option in options:
                    for halls, consult in (([option], None), ([], option), ([], None)):
                        for more, exceptions, presumed in ((0, (), False), (3, ("理由<1>", "理由2"), True)):
                            cards.append(
                                SimpleNamespace(
                                    covered=covered,
                                    link="/matters/S-1?home=511302&s=ab",
                                    title=Markup("<mark>社保</mark>卡&amp;"),
                                    matter=SimpleNamespace(scope="CROSS_PROVINCE", sample=sample),
                                    matched=matched,
                                    verdict="可以在台州任一县(市、区)办理",
                                    why="依据南充—椒江协议（一地签约、全市共享）<&>",
                                    exceptions=exceptions,
                                    halls=halls,
                                    consult=consult,
                                    more_halls=more,
                                    presumed=presumed,
                                )
                            )
    return cards


def result_card(r: object, city_short: str) -> Markup:
    """A compact card from a `ResultView` (or anything shaped like one): `card_html` of its parts."""
    from web.views import card_html

    option = r.halls[0] if r.halls else r.consult  # type: ignore[attr-defined]
    return Markup(
        card_html(
            r.covered,  # type: ignore[attr-defined]
            r.link,  # type: ignore[attr-defined]
            r.title,  # type: ignore[attr-defined]
            r.matter.scope,  # type: ignore[attr-defined]
            r.matter.sample,  # type: ignore[attr-defined]
            r.matched,  # type: ignore[attr-defined]
            city_short,
            verdict=r.verdict,  # type: ignore[attr-defined]
            why=r.why,  # type: ignore[attr-defined]
            exceptions=r.exceptions,  # type: ignore[attr-defined]
            is_hall=bool(r.halls),  # type: ignore[attr-defined]
            place=option.line.link if option is not None else None,
            distance_km=option.distance_km if option is not None else None,
            more_halls=r.more_halls,  # type: ignore[attr-defined]
            presumed=r.presumed,  # type: ignore[attr-defined]
        )
    )


def test_result_cards_are_what_the_template_wrote() -> None:
    env = build_environment()
    cards = _cards()
    expected = env.from_string(CARD_TEMPLATE).render(results=cards, city_short="台&州")
    got = env.from_string("{% for r in results %}\n{{ result_card(r, city_short) }}\n{% endfor %}\n").render(
        results=cards, city_short="台&州", result_card=result_card
    )
    assert got == expected
    assert got.count("<li") == len(cards) == 3 * 2 * 3 * 4 * 3 * 2


# ------------------------------------------------------------------ pages prepared with holes

PAGE_TEXT = st.text(alphabet=st.sampled_from(list("ab中 <>&\"'%+/?#=;\n")), max_size=8)


def _page_context(draw: st.DrawFn) -> tuple[dict[str, object], dict[str, object]]:
    """A search page's shape and holes as `web.public.search` passes them, plus the shared ones."""
    from markupsafe import Markup

    prefs = draw(st.sampled_from([frozenset(), frozenset({"large"}), frozenset({"large", "contrast"})]))
    shape = {
        "prefs": prefs,
        "body_classes": " ".join(sorted(f"pref-{p}" for p in prefs)),
        "feedback": None,
        "feedback_open": False,
        "nav_current": "lookup",
        "sample_notice": draw(st.booleans()),
        "home_city_code": "331000",
        "fragment": draw(st.booleans()),
        "degraded": draw(st.booleans()),
        "home_level_hint": draw(st.booleans()),
        "summary_covered": draw(st.booleans()),
        "paged": draw(st.booleans()),
    }
    names = [
        "page_url",
        "page_url_q",
        "csrf_token",
        "title",
        "q",
        "home",
        "home_name",
        "near_raw",
        "near_description",
        "home_problem",
        "near_problem",
        "status_text",
        "city_short",
        "summary_headline",
        "summary_explanation",
        "page",
        "pages",
        "home_pick_href",
        "near_change_href",
        "near_pick_href",
        "cross_list_href",
        "prev_href",
        "next_href",
    ]
    holes: dict[str, object] = {name: draw(PAGE_TEXT) for name in names}
    holes["cards"] = Markup(draw(st.sampled_from(["", '<li class="result">&amp;</li>\n<li>2</li>'])))
    holes["prepared_feedback_form"] = Markup('<form id="fb"><input value="t&amp;"></form>')
    return shape, holes


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_a_prepared_page_is_what_the_template_renders(data: st.DataObject) -> None:
    """`render_page`'s shortcut: the search page (and its htmx fragment) made once per shape with
    stand-ins, filled per page, is what Jinja renders from the same context, for any strings in
    the holes (characters to escape or quote, empty or not) and every shape."""
    from web.templating import PreparedPage, _prepared_page

    env = build_environment()
    shape, holes = data.draw(st.composite(lambda draw: _page_context(draw))())
    name = "_results.html" if shape["fragment"] else "search.html"
    prepared = _prepared_page(env, name, shape, holes)
    assert prepared is not None
    assert prepared.fill(holes) == env.get_template(name).render({**shape, **holes})
    assert isinstance(prepared, PreparedPage)


@pytest.mark.parametrize(
    ("source", "kept"),
    [
        ("<p>{{ x }} and again {{ x }}</p>", True),
        ("<a href='/?x={{ x|urlencode }}'>{{ x }}</a>", False),  # quoted, not escaped
        ("{% if x|length > 3 %}long{% endif %}{{ x }}", False),  # measured
        ("{{ x[:2] }}", False),  # cut
        ("{{ x|safe }}", False),  # not escaped at all
        ("{% if x %}some{% else %}none{% endif %}", True),  # tested for being empty: part of the shape
    ],
)
def test_a_template_that_does_more_than_print_a_hole_is_left_to_jinja(source: str, kept: bool) -> None:
    from jinja2 import DictLoader, Environment, StrictUndefined

    from web.templating import PreparedPage

    env = Environment(loader=DictLoader({"t.html": source}), autoescape=True, undefined=StrictUndefined)
    prepared = PreparedPage.prepare(env, "t.html", {}, {"x": "value"})
    assert (prepared is not None) is kept
    if prepared is not None:
        for value in ("value", "<&\"'>", "中 文"):
            assert prepared.fill({"x": value}) == env.get_template("t.html").render(x=value)


@settings(max_examples=200, deadline=None)
@given(
    PAGE_TEXT,
    st.one_of(st.none(), st.sampled_from(["511302", "a b&c"])),
    st.one_of(st.none(), PAGE_TEXT),
    st.integers(1, 4),
    st.integers(1, 4),
)
def test_search_links_are_what_query_string_makes(
    text: str, home: str | None, near: str | None, page_number: int, pages: int
) -> None:
    from web.public import search_links
    from web.templating import query_string as qs

    def page(n: int) -> str:
        return "/search" + qs({"q": text, "home": home, "near": near, "page": n})

    assert search_links(text, home, near, page_number, pages) == {
        "home_pick_href": "/" + qs({"q": text, "near": near}),
        "near_change_href": "/" + qs({"q": text, "home": home, "near": near}),
        "near_pick_href": "/" + qs({"q": text, "home": home}),
        "cross_list_href": "/lists/cross-province" + qs({"home": home}),
        "prev_href": page(page_number - 1) if page_number > 1 else "",
        "next_href": page(page_number + 1) if page_number < pages else "",
    }


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.integers(), st.text().map(lambda t: Markup(escape(t)) + Markup("<b>x</b>"))))
def test_html_text_is_markupsafes_escape(value: object) -> None:
    from web.templating import html_text

    assert html_text(value) == str(escape(value))
    assert type(html_text(value)) is str


def test_a_hole_that_is_not_text_is_left_to_jinja() -> None:
    from web.templating import _prepared_page

    env = build_environment()
    assert _prepared_page(env, "search.html", {}, {"q": None}) is None
    assert _prepared_page(env, "search.html", {}, {"page": 2}) is None


async def test_a_card_is_the_result_view_written_as_a_card(demo_db: object) -> None:
    """`Presenter.card` (what the results page writes) against `result_card` of the compact
    `Presenter.result` it stands for: homes of every kind (none, local, in the province, a partner
    and its county, an agreement with three matters, an unshared one, none at all), every matter,
    with and without a point and a highlight."""
    import datetime as dt

    from api.services.catalog import CatalogCache
    from web import data
    from web.views import Presenter

    catalog = await CatalogCache(demo_db, "331000").get()  # type: ignore[arg-type]
    directory = data.hall_directory(catalog)
    presenter = Presenter(catalog, directory, dt.date(2026, 6, 1))
    matters = data.result_matters(catalog, sorted(catalog.matters))
    homes = [None, "331004", "330100", "511302", "511300", "520500", "361100", "650100"]
    points = [(None, None), (28.37, 121.38), (28.66, 121.42)]
    checked = 0
    for code, matter in matters.items():
        for home in homes:
            for lat, lon in points:
                for highlight in (
                    None,
                    f"<mark>{matter.name[:2]}</mark>{matter.name[2:]}",
                    "<mark>落户</mark>",
                ):
                    link = f"/matters/{code}?home={home}&s=ab"
                    view = presenter.result(
                        matter, highlight, 0.0, home, lat, lon, halls_shown=1, compact=True, link=link
                    )
                    expected = str(result_card(view, presenter.city_short))
                    assert presenter.card(matter, highlight, home, lat, lon, link) == expected, (
                        code,
                        home,
                        lat,
                    )
                    checked += 1
    assert checked > 500


async def test_kept_verdicts_are_the_words_of_their_own_decision(demo_db: object) -> None:
    """`Presenter.verdict` keeps the words per decision, by identity: for every home kind and demo
    matter, asked twice and after the keep was emptied, they are what `_verdict` says of that
    very decision."""
    import datetime as dt

    from api.services.catalog import CatalogCache
    from web import data
    from web.views import Presenter

    catalog = await CatalogCache(demo_db, "331000").get()  # type: ignore[arg-type]
    presenter = Presenter(catalog, data.hall_directory(catalog), dt.date(2026, 6, 1))
    homes = ["331004", "330100", "511302", "511300", "520500", "361100", "650100", "310110"]
    with_agreements = 0
    for round_ in range(3):
        if round_ == 2:
            presenter._verdicts.clear()
        for home in homes:
            for code, matter in catalog.matters.items():
                decision = catalog.decision(home, code, presenter.day)
                with_agreements += bool(decision.agreements)
                assert presenter.verdict(decision, matter.scope) == presenter._verdict(decision, matter.scope)
    assert with_agreements > 50
