"""数据导入 (/staff/import): upload a sheet, check it, apply it all or nothing, and watch it happen.

Posting the form starts an import job (`api.services.import_jobs`) in this worker and answers at
once with 303 to the job's page, `/staff/import/jobs/<id>`: while it runs the page shows the stage
(reading the file, checking each section, comparing with the stored records, writing, indexing),
a `<progress>` bar and "已检查 3,000 / 5,000 行" in a `role=status` region; when it is over, the
result (counts per section, the records created / changed with a field diff / left unchanged,
and every bad row and field with the messages of `tongban import`). The job lives in the database,
so either worker behind nginx answers the page. Without JavaScript the page has a "刷新进度" link
(nothing refreshes by itself, so focus and reading position stay where they are); with it, htmx
asks `/progress` every second and swaps the region in place, and reloads the page once the job is
over. The change log records the channel 导入 ("import").
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from api.records import SECTIONS
from api.services.import_jobs import JobView, load_job, run_job, running_job_of, start_job
from api.services.imports import (
    MAX_IMPORT_BYTES,
    SECTION_TITLES,
    precheck_upload,
    template_workbook,
)
from api.services.transfer import ImportFileError
from web.staff.common import county_choices, page, see_other, state
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
    """A field as the preview names it: its one label from the record's field table (also for
    fields the template has no column for, e.g. notSharedReason), with the format's name."""
    record = SECTIONS.get(section or "")
    heading = record.label(name) if record is not None and name in record else None
    return f"{heading}({name})" if heading else name


#: the steps a job goes through, in order; an apply adds writing and indexing
STEPS = [("reading", "读取文件"), ("checking", "检查每一行"), ("comparing", "与现有数据比对")]
APPLY_STEPS = [*STEPS, ("writing", "写入数据库"), ("indexing", "更新搜索索引")]
VERBS = {"checking": "已检查", "comparing": "已比对", "writing": "已写入"}
#: the jobs this worker runs (a task must be referenced until it ends)
_RUNNING: set[asyncio.Task[None]] = set()


def progress_view(job: JobView) -> dict[str, Any]:
    """The stage as words: which step, which section, "已检查 3,000 / 5,000 行", and the steps list."""
    step, _, section = job.stage.partition(":")
    steps = APPLY_STEPS if job.mode == "apply" else STEPS
    names = [name for name, _ in steps]
    current = names.index(step) if step in names else 0
    title = SECTION_TITLES.get(section, "")
    label = dict(steps).get(step, "处理中") + (f": {title}" if title else "")
    count = None
    if step in VERBS and job.total:
        count = f"{VERBS[step]} {min(job.done, job.total):,} / {job.total:,} 行"
    return {
        "label": label,
        "count": count,
        "steps": [
            (text, "done" if i < current else "current" if i == current else "waiting")
            for i, (_, text) in enumerate(steps)
        ],
        "step_number": current + 1,
        "step_count": len(steps),
    }


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
        "job": None,
        "progress": None,
        "running_job": None,
        "section_titles": SECTION_TITLES,
        "field_label": field_label,
        "show": _show,
        "max_changes": MAX_CHANGES_SHOWN,
        "max_mib": MAX_IMPORT_BYTES // (1024 * 1024),
    }
    base.update(context)
    return page(request, staff, "staff/import.html", base, status=status, nav="import")


def _spawn(make: Callable[[], Any]) -> None:
    task = asyncio.get_running_loop().create_task(make())
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)


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
        await formdata.close()  # the spooled upload is deleted: the job keeps the bytes in memory only
    filename = upload.filename
    try:
        precheck_upload(filename, content)
    except ImportFileError as error:
        return _render(request, staff, status=422, mode=mode, filename=filename, problem=error.message)
    app = state(request)
    actor = dataclasses.replace(staff.actor, via="import")  # the change log's channel: 导入
    ctx = staff.catalog.service_context(actor)
    running = await running_job_of(app.db, ctx)
    if running is not None:
        return _render(
            request,
            staff,
            status=409,
            mode=mode,
            running_job=running,
            problem="您已有一个导入任务正在进行, 请等它完成后再上传。",
        )
    job_id = await start_job(app.db, ctx, mode, filename)
    search = app.search

    async def index_catch_up(_progress: Callable[[str, int, int], None]) -> None:
        if search is not None:
            await search.catch_up()  # this worker's index now; the other follows the outbox

    _spawn(
        lambda: run_job(
            app.db, ctx, job_id, filename, content, apply=mode == "apply", after_commit=index_catch_up
        )
    )
    return see_other(f"/staff/import/jobs/{job_id}")


@staff_page(*LOCAL_ROLES)
async def import_job(request: Request, staff: Staff) -> Response:
    """A job's page: its progress while it runs, its result when it is over."""
    job = await load_job(state(request).db, staff.catalog.service_context(staff.actor), _job_id(request))
    outcome = job.outcome if not job.running else None
    return _render(
        request,
        staff,
        job=job,
        progress=progress_view(job) if job.running else None,
        outcome=outcome,
        filename=job.filename,
        seconds=job.seconds,
        problem=job.message if job.state == "failed" else None,
        notice=job.message if job.state == "done" else None,
        # after a clean check, the next step is the apply
        mode="apply" if job.mode == "check" and outcome is not None and outcome.ok else job.mode,
    )


@staff_page(*LOCAL_ROLES)
async def import_job_progress(request: Request, staff: Staff) -> Response:
    """The progress region alone (htmx polls it); once the job is over, htmx reloads the page."""
    job = await load_job(state(request).db, staff.catalog.service_context(staff.actor), _job_id(request))
    response = page(
        request, staff, "staff/_import_progress.html", {"job": job, "progress": progress_view(job)}
    )
    if not job.running:
        response.headers["HX-Refresh"] = "true"
    return response


def _job_id(request: Request) -> str:
    return str(request.path_params.get("job", ""))[:32]


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
