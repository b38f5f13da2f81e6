"""数据导入 (/staff/import): upload a sheet, check it, apply it all or nothing.

`mode=check` runs every row through the services inside a transaction that is rolled back and shows
what would happen: counts per section, the records created / changed (with a field diff) / left
unchanged, and every bad row and field with the messages of `tongban import`. `mode=apply` does the
same and commits only when not one row is wrong. Both are synchronous: a 5,000-row sheet is checked
in a few seconds, so the browser's own loading indicator is the progress shown, with or without
JavaScript, and the answer is an ordinary page. The change log records the channel 导入 ("import").
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from api.services.base import ServiceError
from api.services.imports import (
    HEADINGS,
    MAX_IMPORT_BYTES,
    SECTION_TITLES,
    read_upload,
    run_import,
    template_workbook,
)
from api.services.transfer import ImportFileError
from web.staff.common import county_choices, page, state
from web.staff.session import LOCAL_ROLES, CsrfOnly, Staff, make_form, staff_page

MAX_CHANGES_SHOWN = 500
MODES = {"check": "检查(预览, 不写入)", "apply": "导入(全部成功或全部不写入)"}


def _show(value: Any) -> str:
    if value is None:
        return "(空)"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def field_label(section: str | None, name: str) -> str:
    heading = HEADINGS.get(section or "", {}).get(name)
    return f"{heading}({name})" if heading else name


def _render(request: Request, staff: Staff, *, status: int = 200, **context: Any) -> Response:
    base = {
        "title": "数据导入",
        "form": make_form(request, CsrfOnly),
        "modes": MODES,
        "mode": "check",
        "outcome": None,
        "problem": None,
        "filename": None,
        "seconds": None,
        "section_titles": SECTION_TITLES,
        "field_label": field_label,
        "show": _show,
        "max_changes": MAX_CHANGES_SHOWN,
        "max_mib": MAX_IMPORT_BYTES // (1024 * 1024),
    }
    base.update(context)
    return page(request, staff, "staff/import.html", base, status=status, nav="import")


@staff_page(*LOCAL_ROLES)
async def import_page(request: Request, staff: Staff) -> Response:
    if request.method in ("GET", "HEAD"):
        return _render(request, staff)
    formdata = await request.form()
    mode = str(formdata.get("mode") or "check")
    if mode not in MODES:
        return _render(request, staff, status=400, problem="请选择“检查”或“导入”")
    upload = formdata.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _render(
            request, staff, status=422, mode=mode, problem="请选择要上传的文件(.xlsx、.csv、.zip 或 .json)"
        )
    try:
        content = await upload.read(MAX_IMPORT_BYTES + 1)
    finally:
        await formdata.close()  # the spooled upload is not needed any more
    filename = upload.filename
    started = time.perf_counter()
    try:
        document = await asyncio.to_thread(read_upload, filename, content)
    except ImportFileError as error:
        return _render(request, staff, status=422, mode=mode, filename=filename, problem=error.message)
    actor = dataclasses.replace(staff.actor, via="import")  # the change log's channel: 导入
    try:
        outcome = await run_import(
            state(request).db, staff.catalog.service_context(actor), document, apply=mode == "apply"
        )
    except ServiceError as error:  # e.g. a section that is not a list
        return _render(request, staff, status=422, mode=mode, filename=filename, problem=error.describe())
    seconds = time.perf_counter() - started
    status = 200 if outcome.ok else 422
    return _render(
        request, staff, status=status, mode=mode, filename=filename, outcome=outcome, seconds=seconds
    )


@staff_page(*LOCAL_ROLES)
async def import_template(request: Request, staff: Staff) -> Response:
    body = await asyncio.to_thread(template_workbook, county_choices(staff, include_city=True))
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": 'attachment; filename="tongban-import-template.xlsx"; '
            "filename*=UTF-8''%E5%AF%BC%E5%85%A5%E6%A8%A1%E6%9D%BF.xlsx"
        },
    )
