"""The one Jinja2 environment of the site and the context every page shares.

Why one place: the staff pages extend the same `base.html`, so the filters (Chinese labels and
dates), the reader's display preferences (large text, high contrast), the feedback form's CSRF
token and the cache-busted static URLs must come from one helper, `render()`, whoever renders.
Autoescaping is on for every template; only values built as `Markup` here are trusted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Hashable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.filters import do_urlencode
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates

from api.enums import label
from api.records import RECORDS
from api.services.base import SHANGHAI
from api.words import LABELS
from search_index.query import MAX_QUERY_CHARS
from web import csrf

WEB_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

PREFS_COOKIE = "tb_prefs"
PREF_TOKENS = frozenset({"large", "contrast"})

SITE_NAME = "台州市跨区域通办服务"

# The feedback categories (api.services.feedback.CATEGORIES) in words a citizen recognises.
PUBLIC_CATEGORIES = (
    ("INFORMATION", "网上信息不准确或已过时"),
    ("MATERIALS", "两地要求的材料不一样"),
    ("PROCESS", "两地办理流程衔接不上"),
    ("STANDARD", "两地办理标准不一致"),
    ("SYSTEM", "系统或网上办理出了问题"),
    ("RESPONSIBILITY", "不知道该找哪个部门"),
    ("OTHER", "其他"),
)
HOTLINE = "12345"
# what a presumed coverage answer says (api.rules.is_presumed), wherever it is shown
PRESUMED_NOTE = "该协议的事项清单未录入，按全部跨省通办事项推定，办理前请先电话确认。"
PRESUMED_SHORT = "推定可办：协议的事项清单未录入，办理前请先电话确认"  # on a compact result card


# ------------------------------------------------------------------ filters


def html_text(value: Any) -> str:
    """`str(markupsafe.escape(value))` without making a `Markup` for it: a results page escapes a
    hundred short values, and making each a Markup (a str subclass built in Python) cost more
    than the escaping. Plain strings get markupsafe's five replacements (& < > " '), in its
    order and spelling; anything else (Markup and other objects with `__html__`, numbers) goes
    through `escape` itself. A test holds the two equal for any string."""
    if type(value) is str:
        return (
            value.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace('"', "&#34;")
            .replace("'", "&#39;")
        )
    if type(value) is Markup:
        return str.__str__(value)  # safe already: escape() would hand it back as it is
    return str(escape(value))


def date_cn(value: Any) -> str:
    """A date (or a timestamp, read in Asia/Shanghai) as "2025年11月28日"; empty for None."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(SHANGHAI).date()
    return f"{value.year}年{value.month}月{value.day}日"


def distance_cn(km: float | None) -> str:
    """Great-circle distance in words a citizen reads at a glance."""
    if km is None:
        return ""
    if km < 1:
        return "不到 1 公里"
    if km < 100:
        return f"约 {km:.1f} 公里"
    return f"约 {km:.0f} 公里"


def tel_href(phone: str | None) -> str:
    """The first phone number in a free-text phone field, for a `tel:` link."""
    if not phone:
        return ""
    match = re.search(r"\+?\d[\d-]{4,}\d", phone)
    return "tel:" + match.group(0).replace("-", "") if match else ""


def query_string(params: Mapping[str, Any]) -> str:
    """`?a=1&b=2` from the non-empty values, or "" (so links stay short and clean)."""
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    return "?" + urlencode(clean) if clean else ""


def source_links(value: str | None) -> list[str]:
    """The http(s) addresses in a source-URL field (several may be separated by ";" or spaces).
    Anything else (javascript:, data:) is dropped: these links come from imported data."""
    if not value:
        return []
    return [part for part in re.split(r"[\s;；,，]+", value) if re.match(r"^https?://[^\s<>\"']+$", part)][:5]


_LATIN_WORDS = re.compile(r"[A-Za-z]{2,}[\s,;:()'’-]+[A-Za-z]{2,}")
_LATIN_ASIDE = re.compile(r"\s*[（(][^）)]*[A-Za-z]{2,}[^）)]*[）)]")  # "(forum repost; weak provenance)"
SOURCE_MAX = 40


def plain_source(value: str | None) -> str:
    """A record's source as citizens read it: the publisher in Chinese, cut to one short line; a
    source written in English ("China Daily … citing local media", "forum repost; weak
    provenance") is "公开报道" (its link is still shown), none is "未注明"."""
    text = _LATIN_ASIDE.sub("", (value or "")).strip()
    if not text:
        return "未注明"
    if _LATIN_WORDS.search(text):
        return "公开报道"
    first = re.split(r"[；;]", text, maxsplit=1)[0].strip()
    return first if len(first) <= SOURCE_MAX else first[: SOURCE_MAX - 1] + "…"


def nl2br(value: str | None) -> Markup:
    """Escaped text with line breaks kept."""
    if not value:
        return Markup("")
    return Markup("<br>").join(escape(line) for line in str(value).splitlines())


# ------------------------------------------------------------------ static files


@lru_cache(maxsize=64)
def _fingerprint(path: str, mtime_ns: int) -> str:
    return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]


def static_url(path: str) -> str:
    """`/static/<path>?v=<content hash>`: changed files get new URLs, so they may be cached for a year."""
    file = STATIC_DIR / path
    try:
        version = _fingerprint(path, file.stat().st_mtime_ns)
    except OSError:
        return f"/static/{path}"
    return f"/static/{path}?v={version}"


@lru_cache(maxsize=64)
def static_url_fixed(path: str) -> str:
    """`static_url` for a process whose static files do not change while it runs (not debug):
    hashed once, no file system call per page."""
    return static_url(path)


# ------------------------------------------------------------------ environment


def build_environment(reload: bool = False) -> Environment:
    """The Jinja environment. `reload` (debug mode): templates and static fingerprints follow
    edits to their files; otherwise they are read once, sparing a dozen `stat` calls a page."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=reload,
    )
    env.filters.update(
        label=label,
        date_cn=date_cn,
        distance=distance_cn,
        tel=tel_href,
        nl2br=nl2br,
        links=source_links,
        plain_source=plain_source,
    )
    env.globals.update(
        static=static_url if reload else static_url_fixed,
        qs=query_string,
        LABELS=LABELS,
        SITE_NAME=SITE_NAME,
        HOTLINE=HOTLINE,
        PRESUMED_NOTE=PRESUMED_NOTE,
        PRESUMED_SHORT=PRESUMED_SHORT,
        feedback_categories=PUBLIC_CATEGORIES,
        fields=RECORDS,  # each record's field names: {{ fields.agreement.label("signedOn") }}
    )
    return env


_templates: dict[bool, Jinja2Templates] = {}


def templates(reload: bool = False) -> Jinja2Templates:
    """The process's Jinja2Templates, built once (per `reload` setting, see build_environment)."""
    found = _templates.get(reload)
    if found is None:
        found = _templates[reload] = Jinja2Templates(env=build_environment(reload))
    return found


def attach(request: Request) -> Jinja2Templates:
    """Publish the templates on `request.app.state.tongban.templates` for other adapters
    (reloading edited templates when the app runs in debug mode)."""
    shared = templates(bool(getattr(request.app, "debug", False)))
    state = getattr(request.app.state, "tongban", None)
    if state is not None and getattr(state, "templates", None) is None:
        state.templates = shared
    return shared


# ------------------------------------------------------------------ preferences


def prefs_of(request: Request) -> frozenset[str]:
    """The reader's display preferences from the cookie: "large" text, high "contrast"."""
    raw = request.cookies.get(PREFS_COOKIE, "")
    return frozenset(token for token in raw.split(".") if token in PREF_TOKENS)


def prefs_cookie_value(prefs: frozenset[str]) -> str:
    return ".".join(sorted(prefs))


def _home_city(request: Request) -> str:
    state = getattr(request.app.state, "tongban", None)
    settings = getattr(state, "settings", None)
    return str(getattr(settings, "home_region", "") or "")


#: a page echoes its own URL (preference links, the feedback form): at most this many parameters,
#: each value cut to the search-text cap, so a 20 KB `q` is not repeated four times in the page
MAX_ECHOED_PARAMS = 12


#: a path `request.url.path` gives back unchanged (it escapes ?, # and \\, and a URL parser drops
#: tabs and line breaks): read from the scope, without building the URL
_PLAIN_PATH = re.compile(r"/(?!/)[^?#\\\t\r\n]*")


def page_url(request: Request) -> str:
    """This page's path and query: where a preference toggle or the feedback form returns to."""
    items = request.query_params.multi_items()[:MAX_ECHOED_PARAMS]
    query = urlencode([(k[:40], v[:MAX_QUERY_CHARS]) for k, v in items])
    path = request.scope.get("path", "")
    if not _PLAIN_PATH.fullmatch(path):
        path = request.url.path
    return path + ("?" + query if query else "")


# ------------------------------------------------------------------ rendering


# ------------------------------------------------------------------ the feedback form, prepared

#: stand-ins for the values of the feedback form that change with every page (plain letters and
#: digits: escaping leaves them alone, and nothing else on a page contains them); the hidden
#: fields' stand-ins are `_hidden_hole(i)`
_TOKEN_HOLE = "tbHoleCsrfToken5a1f"
_URL_HOLE = "tbHolePageUrl7c3e"
FORMS_KEPT = 64  # sets of hidden-field names (a handful in practice): a bound all the same


class PreparedForm:
    """The feedback form as `_feedback_form.html` renders it with no input and no errors (every
    page but the feedback page itself): a `PreparedPage` made once per set of hidden-field *names*
    (`_prepare_form`), whose holes (the CSRF token, the page's URL, each hidden field's value) are
    filled per page. It renders to what the template renders (a test compares them); `base.html`
    falls back to the template when there is none."""

    __slots__ = ("_page", "_values")

    def __init__(self, page: PreparedPage, values: Mapping[str, str]) -> None:
        self._page = page
        self._values = values

    def __html__(self) -> str:
        return self._page.fill(self._values)

    def __bool__(self) -> bool:
        return True


#: the form's holes: "token", "url", and "field:<name>" for each hidden field
_form_pages: dict[tuple[int, tuple[str, ...]], PreparedPage | None] = {}


def _hidden_hole(index: int) -> str:
    return f"tbHoleHidden{index}q9d2"


def prepared_feedback_form(
    env: Environment, token: str, page: str, hidden: Mapping[str, Any]
) -> PreparedForm | None:
    """The feedback form of a page without feedback input (see `PreparedForm`), or None when the
    hidden fields are not plain strings (then the template renders it). Kept per set of hidden
    field names (a handful: matter, home, county), so 2,000 homes no longer re-render it."""
    if not all(type(v) is str and type(k) is str for k, v in hidden.items()):
        return None
    names = tuple(hidden)
    key = (id(env), names)
    found = _form_pages.get(key, False)
    if found is False:
        found = _prepare_form(env, names)
        if len(_form_pages) >= FORMS_KEPT:
            _form_pages.clear()
        _form_pages[key] = found
    if found is None:
        return None
    values = {"token": token, "url": page}
    for name, value in hidden.items():
        values["field:" + name] = value
    return PreparedForm(found, values)


def _prepare_form(env: Environment, names: tuple[str, ...]) -> PreparedPage | None:
    """The form rendered with stand-ins, cut at each one; None (the template renders it then) when
    a stand-in shows more than once, or the token or URL not at all."""
    holes = {_TOKEN_HOLE: "token", _URL_HOLE: "url"}
    for index, name in enumerate(names):
        holes[_hidden_hole(index)] = "field:" + name
    text = env.get_template("_feedback_form.html").render(
        feedback=None,
        feedback_open=False,
        feedback_context={name: _hidden_hole(index) for index, name in enumerate(names)},
        csrf_token=_TOKEN_HOLE,
        page_url=_URL_HOLE,
    )
    for stand_in, hole in holes.items():
        seen = text.count(stand_in)
        # a hidden field the template leaves out (pageUrl) never shows; anything else shows once
        if seen != 1 and not (seen == 0 and hole.startswith("field:")):
            return None
    return PreparedPage.cut(text, holes)


def _shared_context(request: Request) -> tuple[dict[str, Any], str, bool]:
    """What every page's context holds (`render`, `render_page`), the CSRF cookie's value and
    whether it is new (then the response sets it)."""
    cookie_value, is_new = csrf.cookie_value(request)
    prefs = prefs_of(request)
    here = page_url(request)
    base: dict[str, Any] = {
        "prefs": prefs,
        "body_classes": " ".join(sorted(f"pref-{p}" for p in prefs)),
        "page_url": here,
        "page_url_q": do_urlencode(here),  # the preference links' `back=`
        "csrf_token": csrf.token_for(request, cookie_value),
        "feedback": None,
        "feedback_open": False,
        "feedback_context": {},
        "nav_current": "",
        "sample_notice": False,
        "home_city_code": _home_city(request),
    }
    return base, cookie_value, is_new


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Render a page with the shared context; sets the CSRF cookie on a first visit.

    Every page carries the feedback form, so every page needs the form's token, bound to the
    browser's CSRF cookie (signed double-submit: a cross-site page can neither read the cookie
    nor forge a token for it).
    """
    shared = attach(request)
    base, cookie_value, is_new = _shared_context(request)
    base.update(context or {})
    if (
        base["feedback"] is None
        and not base["feedback_open"]
        and "prepared_feedback_form" not in base
        and not shared.env.auto_reload  # debug: edited templates show at once
    ):
        base["prepared_feedback_form"] = prepared_feedback_form(
            shared.env, base["csrf_token"], base["page_url"], base["feedback_context"]
        )
    # Any page may be fetched by htmx (hx-select), so caches must key on HX-Request everywhere.
    all_headers = {"Vary": "HX-Request", **(headers or {})}
    response = shared.TemplateResponse(request, name, base, status_code=status_code, headers=all_headers)
    if is_new:
        csrf.set_cookie(request, response, cookie_value)
    return response


# ------------------------------------------------------------------ pages prepared with holes

#: (environment, template, shape, holes with a value) → the page cut at its holes; a bound all
#: the same (a page has a few dozen shapes: its flags, the reader's preferences)
PAGES_KEPT = 512
_prepared_pages: dict[tuple[Any, ...], PreparedPage | None] = {}
#: what every probe value holds: each character escaping or URL-quoting would change
_PROBE = "<&\"'%+ /?#=中>"


class PreparedPage:
    """A template rendered once for a *shape* (the context values that choose what it writes:
    flags, the navigation tab, the reader's preferences) with a stand-in for each *hole* (a value
    it prints, escaped, wherever it shows), cut at the stand-ins. A page is then the parts with
    each hole's value escaped in between: no template runs per request.

    Preparing checks itself: the template is also rendered with two sets of probe values (long ones
    with the characters escaping and URL-quoting treat differently, and one-character ones) and
    must equal the parts filled with them, so a template that does anything with a hole but print
    it escaped (quote it, cut it, measure it, test more than its emptiness) is left to Jinja for
    that shape (`None` is kept). `tests/test_page_fast_paths.py` holds the search page's prepared
    shapes equal to Jinja's for any strings."""

    __slots__ = ("_names", "_parts")

    def __init__(self, parts: tuple[str, ...], names: tuple[str, ...]) -> None:
        self._parts = parts  # text, hole, text, …, text: len(names) + 1 pieces
        self._names = names

    def fill(self, holes: Mapping[str, Any]) -> str:
        parts = self._parts
        out = [parts[0]]
        for name, text in zip(self._names, parts[1:], strict=True):
            out.append(html_text(holes[name]))
            out.append(text)
        return "".join(out)

    @classmethod
    def cut(cls, text: str, hole_of: Mapping[str, str]) -> PreparedPage:
        """`text` cut at each stand-in (a key of `hole_of`, which names its hole), wherever and
        however often it shows."""
        parts: list[str] = []
        names: list[str] = []
        start = 0
        if hole_of:
            for match in re.finditer("|".join(map(re.escape, hole_of)), text):
                parts.append(text[start : match.start()])
                names.append(hole_of[match.group(0)])
                start = match.end()
        parts.append(text[start:])
        return cls(tuple(parts), tuple(names))

    @classmethod
    def prepare(
        cls, env: Environment, name: str, shape: Mapping[str, Any], holes: Mapping[str, Any]
    ) -> PreparedPage | None:
        template = env.get_template(name)
        stand_ins = {hole: f"tbHolePage{index}w7k" for index, hole in enumerate(holes)}
        text = template.render({**shape, **stand_ins})
        prepared = cls.cut(text, {stand_in: hole for hole, stand_in in stand_ins.items()})
        for probes in (
            {hole: f"{_PROBE}{index}" for index, hole in enumerate(holes)},
            dict.fromkeys(holes, "<"),  # short, where the stand-ins and the first probes are long
        ):
            if prepared.fill(probes) != template.render({**shape, **probes}):
                return None
        return prepared


def _prepared_page(
    env: Environment, name: str, shape: Mapping[str, Any], holes: Mapping[str, Any]
) -> PreparedPage | None:
    if not all(isinstance(value, str) or hasattr(value, "__html__") for value in holes.values()):
        return None  # a hole is text (or safe HTML): anything else (None, a number) is Jinja's to write
    key = (id(env), name, tuple(shape.items()), tuple(hole for hole, value in holes.items() if value != ""))
    found = _prepared_pages.get(key, False)
    if found is False:
        empty = {hole: "" for hole, value in holes.items() if value == ""}
        found = PreparedPage.prepare(
            env, name, {**shape, **empty}, {hole: value for hole, value in holes.items() if value != ""}
        )
        if len(_prepared_pages) >= PAGES_KEPT:
            _prepared_pages.clear()
        _prepared_pages[key] = found
    return found


def render_page(
    request: Request,
    name: str,
    shape: Mapping[str, Hashable],
    holes: Mapping[str, str],
    *,
    feedback_context: Mapping[str, str] | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """`render(request, name, {**shape, **holes, "feedback_context": …})`, the same bytes, for a
    busy page whose context splits into `shape` (hashable values that choose what the template
    writes) and `holes` (strings, or `Markup`, it only prints or tests for being empty): the
    template runs once per shape (`PreparedPage`), each page fills in its holes. The shared
    context splits the same way (the page's URL, its quoted form and the feedback form are holes).
    Falls back to `render` in debug mode, for hidden feedback fields that are not plain strings,
    and when the shape cannot be prepared."""
    shared = attach(request)
    env = shared.env
    base, cookie_value, is_new = _shared_context(request)
    hidden = dict(feedback_context or {})
    form = (
        None if env.auto_reload else prepared_feedback_form(env, base["csrf_token"], base["page_url"], hidden)
    )
    page_shape = {
        "prefs": base["prefs"],
        "body_classes": base["body_classes"],
        "feedback": None,
        "feedback_open": False,
        "nav_current": base["nav_current"],
        "sample_notice": False,
        "home_city_code": base["home_city_code"],
        **shape,
    }
    page_holes = {
        "page_url": base["page_url"],
        "page_url_q": base["page_url_q"],
        "csrf_token": base["csrf_token"],
        **holes,
    }
    prepared = None
    if form is not None:
        page_holes["prepared_feedback_form"] = form
        prepared = _prepared_page(env, name, page_shape, page_holes)
    if prepared is None:
        context = {**shape, **holes, "feedback_context": hidden}
        return render(request, name, context, status_code=status_code, headers=headers)
    all_headers = {"Vary": "HX-Request", **(headers or {})}
    response = HTMLResponse(prepared.fill(page_holes), status_code=status_code, headers=all_headers)
    if is_new:
        csrf.set_cookie(request, response, cookie_value)
    return response
