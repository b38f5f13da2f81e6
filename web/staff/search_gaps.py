"""Staff page "搜不到的问题" (issue 16): the frequent questions that found nothing or made nobody
open a result, the share of searches with a click in the top three, and one click to say "this
question means matter X" (``api.services.search_log.teach``: the question becomes a keyword of
the matter, audited, live in every instance's index after its one-second outbox poll)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from wtforms import HiddenField, StringField

from api.services.base import ServiceError
from api.services.search_log import click_share, search_gaps, teach
from web.staff.common import error_status, page, see_other, state
from web.staff.forms import apply_errors
from web.staff.session import ADMIN_ONLY, Staff, StaffForm, make_form, staff_page

DAYS = 30


class TeachForm(StaffForm):
    question = HiddenField("群众的提问")
    matter = StringField("其他事项编码")


async def _render(
    request: Request,
    staff: Staff,
    general: list[str] | None = None,
    status: int = 200,
    failed: TeachForm | None = None,
) -> Response:
    async with state(request).db.read() as session:
        gaps = await search_gaps(session, days=DAYS)
        share = await click_share(session, days=DAYS)
    matters = staff.catalog.matters
    forms: dict[str, Any] = {}
    for gap in gaps:
        forms[gap.query] = make_form(request, TeachForm, data={"question": gap.query})
    if failed is not None and failed.question.data in forms:
        forms[failed.question.data] = failed
    names = {code: m.name for code, m in matters.items()}
    return page(
        request,
        staff,
        "staff/search_gaps.html",
        {
            "title": "搜不到的问题",
            "gaps": gaps,
            "forms": forms,
            "share": share,
            "days": DAYS,
            "names": names,
            "general": general or [],
            "taught": request.query_params.get("taught"),
            "taught_matter": names.get(request.query_params.get("matter") or ""),
            "matter_options": sorted(names.items()),
        },
        status=status,
        nav="search_gaps",
    )


@staff_page(*ADMIN_ONLY)
async def search_gaps_page(request: Request, staff: Staff) -> Response:
    return await _render(request, staff)


@staff_page(*ADMIN_ONLY)
async def teach_question(request: Request, staff: Staff) -> Response:
    formdata = await request.form()
    form = make_form(request, TeachForm, formdata)
    # the one-click buttons send the matter as `pick`; the text box sends `matter`
    code = (formdata.get("pick") or form.matter.data or "").strip()
    if not form.validate():
        return await _render(request, staff, ["页面已过期, 请重新操作"], 400, form)
    try:
        async with state(request).db.write() as session:
            keyword = await teach(session, staff.ctx(), form.question.data, code)
    except ServiceError as error:
        general = apply_errors(form, error.fields, {"question": "matter"})
        return await _render(request, staff, [error.message, *general], error_status(error), form)
    return see_other("/staff/search-gaps?" + urlencode({"taught": keyword, "matter": code}))
