"""The search synonym dictionary (admins).

A form page's GET checks permission (403) and renders; its POST saves through `common.save_form`.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from api.services.synonyms import delete_synonym, list_synonyms, save_synonym
from web.staff.common import page, path_id, save_form, see_other, state
from web.staff.forms import DeleteForm, SynonymForm
from web.staff.session import ADMIN_ONLY, Staff, make_form, staff_page


async def _render_synonyms(
    request: Request,
    staff: Staff,
    form: SynonymForm,
    general: list[str] | None = None,
    status: int = 200,
    editing: int | None = None,
) -> Response:
    async with state(request).db.read() as session:
        rows = await list_synonyms(session)
    delete_form = make_form(request, DeleteForm)
    edit_forms = {
        r.id: make_form(request, SynonymForm, data={"terms": "、".join(r.terms or [])}) for r in rows
    }
    if editing is not None:
        edit_forms[editing] = form
    return page(
        request,
        staff,
        "staff/synonyms.html",
        {
            "title": "搜索同义词词典",
            "rows": rows,
            "form": form if editing is None else make_form(request, SynonymForm),
            "edit_forms": edit_forms,
            "delete_form": delete_form,
            "general": general or [],
            "editing": editing,
            "index_status": state(request).search.describe() if state(request).search is not None else "",
        },
        status=status,
        nav="synonyms",
    )


@staff_page(*ADMIN_ONLY)
async def synonyms_page(request: Request, staff: Staff) -> Response:
    if request.method == "GET":
        return await _render_synonyms(request, staff, make_form(request, SynonymForm))
    form = make_form(request, SynonymForm, await request.form())
    _, failed = await save_form(
        request,
        form,
        lambda session: save_synonym(session, staff.ctx(), form.terms.data or ""),
        record="synonym",
    )
    if failed is not None:
        return await _render_synonyms(request, staff, form, failed.general, failed.status)
    return see_other("/staff/synonyms?saved=1")


@staff_page(*ADMIN_ONLY)
async def synonym_edit(request: Request, staff: Staff) -> Response:
    synonym_id = path_id(request)
    form = make_form(request, SynonymForm, await request.form())

    async def save(session: AsyncSession) -> None:
        if request.url.path.endswith("/delete"):
            await delete_synonym(session, staff.ctx(), synonym_id)
        else:
            await save_synonym(session, staff.ctx(), form.terms.data or "", synonym_id=synonym_id)

    _, failed = await save_form(request, form, save, record="synonym")
    if failed is not None:
        return await _render_synonyms(request, staff, form, failed.general, failed.status, editing=synonym_id)
    return see_other("/staff/synonyms?saved=1")
