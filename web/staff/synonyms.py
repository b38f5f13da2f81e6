"""The search synonym dictionary (admins).

Every form handler has the same shape: GET renders the form (403 before anything is shown when the
account may not edit the record); POST builds the import-format dict from the form and calls the
one service function for that record inside one write transaction. A service's field errors come
back next to their fields with what was typed kept (422); a stale version (409) shows the stored
version beside the user's input, which stays in the form; success is a 303 to the record.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.services.base import BadInput
from api.services.synonyms import delete_synonym, list_synonyms, save_synonym
from web.staff.common import error_status, form_failure, page, path_id, see_other, state
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
    try:
        async with state(request).db.write() as session:
            await save_synonym(session, staff.ctx(), form.terms.data or "")
    except BadInput as error:
        return await _render_synonyms(request, staff, form, form_failure(form, error), error_status(error))
    return see_other("/staff/synonyms?saved=1")


@staff_page(*ADMIN_ONLY)
async def synonym_edit(request: Request, staff: Staff) -> Response:
    synonym_id = path_id(request)
    form = make_form(request, SynonymForm, await request.form())
    try:
        async with state(request).db.write() as session:
            if request.url.path.endswith("/delete"):
                await delete_synonym(session, staff.ctx(), synonym_id)
            else:
                await save_synonym(session, staff.ctx(), form.terms.data or "", synonym_id=synonym_id)
    except BadInput as error:
        return await _render_synonyms(
            request, staff, form, form_failure(form, error), error_status(error), editing=synonym_id
        )
    return see_other("/staff/synonyms?saved=1")
