"""The public needs survey (需求调研): `GET /survey` the form, `POST /survey` an answer, `GET
/survey/thanks`. Plain HTML (works without JavaScript, on a phone, with a screen reader).

Abuse limits, all before anything is stored:
- CSRF like the feedback form (signed double-submit token, `web.csrf`);
- a size cap on the request (`MAX_BODY_BYTES`, 413) and per field (the service's caps, 10 matters);
- a rate limit per client address (`PER_ADDRESS` answers per `WINDOW_SECONDS`) and for the whole
  instance (`OVERALL_PER_MINUTE`), in memory per process (429 with the answers kept);
- no markup, links or personal data stored (the service refuses them with a message), and every
  answer is rendered escaped (Jinja autoescape), never as HTML.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api.enums import Role
from api.services.base import Actor, BadInput
from api.services.surveys import (
    COMMENT_MAX,
    MAX_MATTERS,
    OBSTACLES,
    OTHER_MATTER_MAX,
    RESPONDENTS,
    parse_survey,
    submit_survey,
)
from web import csrf
from web.public import page
from web.templating import render

MAX_BODY_BYTES = 16 * 1024
PER_ADDRESS = 5
WINDOW_SECONDS = 600.0
OVERALL_PER_MINUTE = 120
FIELD_IDS = {
    "respondent": "sv-respondent",
    "homeProvince": "sv-province",
    "homeRegion": "sv-region",
    "matterCodes": "sv-matters",
    "otherMatter": "sv-other",
    "obstacles": "sv-obstacles",
    "comment": "sv-comment",
}


class SubmissionLimiter:
    """Sliding-window limits per address and overall (in memory; bounded number of addresses)."""

    def __init__(self, per_address: int = PER_ADDRESS, window: float = WINDOW_SECONDS,
                 overall_per_minute: int = OVERALL_PER_MINUTE, max_addresses: int = 20_000) -> None:
        self.per_address = per_address
        self.window = window
        self.overall_per_minute = overall_per_minute
        self.max_addresses = max_addresses
        self.by_address: OrderedDict[str, deque[float]] = OrderedDict()
        self.overall: deque[float] = deque()

    def _seen(self, address: str, now: float) -> deque[float]:
        while self.overall and self.overall[0] <= now - 60.0:
            self.overall.popleft()
        seen = self.by_address.pop(address, deque())
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        self.by_address[address] = seen
        while len(self.by_address) > self.max_addresses:
            self.by_address.popitem(last=False)
        return seen

    def check(self, address: str, now: float) -> bool:
        """Whether one more answer from `address` is within both limits (records nothing)."""
        seen = self._seen(address, now)
        return len(seen) < self.per_address and len(self.overall) < self.overall_per_minute

    def record(self, address: str, now: float) -> None:
        """Count a stored answer (a refused one, e.g. a typo, does not use up the allowance)."""
        self._seen(address, now).append(now)
        self.overall.append(now)

    def allow(self, address: str, now: float) -> bool:
        allowed = self.check(address, now)
        if allowed:
            self.record(address, now)
        return allowed


def limiter(request: Request) -> SubmissionLimiter:
    state = request.app.state
    found = getattr(state, "survey_limiter", None)
    if found is None:
        found = state.survey_limiter = SubmissionLimiter()
    return found  # type: ignore[no-any-return]


def _catalog_choices(catalog: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    tree = catalog.tree
    provinces = sorted(((p.code, p.name) for p in tree if p.level == "PROVINCE"), key=lambda item: item[0])
    matters = sorted(
        ((m.code, m.name) for m in catalog.matters.values() if m.scope == "CROSS_PROVINCE"), key=lambda item: item[0]
    )
    return provinces, matters


async def _form_page(request: Request, values: dict[str, Any], errors: dict[str, str], general: str | None,
                     status: int) -> Response:
    catalog = await request.app.state.tongban.catalog.get()
    provinces, matters = _catalog_choices(catalog)
    home = catalog.tree.name(catalog.home_city)
    return render(request, "survey.html", {
        "title": "跨区域办事需求调查", "values": values, "errors": errors, "general": general,
        "provinces": provinces, "matters": matters, "respondents": list(RESPONDENTS.items()),
        "obstacles": list(OBSTACLES.items()), "max_matters": MAX_MATTERS, "other_max": OTHER_MATTER_MAX,
        "comment_max": COMMENT_MAX, "field_ids": FIELD_IDS, "city": home,
    }, status_code=status, headers={"Cache-Control": "no-store"})


def _empty() -> dict[str, Any]:
    return {"respondent": "", "homeProvince": "", "homeRegion": "", "matterCodes": [], "otherMatter": "",
            "obstacles": [], "comment": ""}


@page
async def survey_form(request: Request) -> Response:
    return await _form_page(request, _empty(), {}, None, 200)


def _values(form: Any) -> dict[str, Any]:
    return {
        "respondent": str(form.get("respondent", ""))[:20],
        "homeProvince": str(form.get("homeProvince", ""))[:12],
        "homeRegion": str(form.get("homeRegion", ""))[:200],
        "matterCodes": [str(v)[:40] for v in form.getlist("matterCodes")[:200]],
        "otherMatter": str(form.get("otherMatter", ""))[:2000],
        "obstacles": [str(v)[:20] for v in form.getlist("obstacles")[:50]],
        "comment": str(form.get("comment", ""))[:5000],
    }


@page
async def survey_submit(request: Request) -> Response:
    declared = request.headers.get("content-length", "")
    if (declared.isdigit() and int(declared) > MAX_BODY_BYTES) or len(await request.body()) > MAX_BODY_BYTES:
        return render(request, "survey_thanks.html", {"title": "提交内容过长", "too_large": True}, status_code=413)
    form = await request.form(max_files=0, max_fields=200)
    values = _values(form)
    if not csrf.verify(request, str(form.get(csrf.FIELD, ""))):
        message = (
            "提交没有成功：请先允许本网站使用 Cookie，再提交一次。"
            if csrf.COOKIE not in request.cookies
            else "提交没有成功：页面停留时间过长或已过期。你填写的内容还在，请再点一次“提交”。"
        )
        return await _form_page(request, values, {}, message, 403)
    address = (request.client.host if request.client else "") or "unknown"
    if not limiter(request).check(address, time.monotonic()):
        response = await _form_page(request, values, {}, "提交太频繁了，请过几分钟再提交。你填写的内容还在。", 429)
        response.headers["Retry-After"] = str(int(WINDOW_SECONDS // 10))
        return response
    catalog = await request.app.state.tongban.catalog.get()
    _, matters = _catalog_choices(catalog)
    actor = Actor(name="公众", role=Role.PARTNER, region_code=None, via="public")
    ctx = catalog.service_context(actor)
    allowed = {code for code, _ in matters}
    # checked before a write transaction is opened: a flood of bad answers takes no database lock
    _, problems = parse_survey(values, ctx, allowed)
    try:
        if problems:
            raise BadInput("问卷填写有误", problems)
        async with request.app.state.tongban.db.write() as session:
            await submit_survey(session, ctx, values, allowed)
    except BadInput as error:
        errors: dict[str, str] = {}
        for field_error in error.fields:
            name = field_error.field if field_error.field in FIELD_IDS else "comment"
            errors.setdefault(name, field_error.message)
        return await _form_page(request, values, errors, "请按提示修改后再提交。", 400)
    limiter(request).record(address, time.monotonic())
    return RedirectResponse("/survey/thanks", status_code=303)


@page
async def survey_thanks(request: Request) -> Response:
    return render(request, "survey_thanks.html", {"title": "感谢参与调查", "too_large": False})
