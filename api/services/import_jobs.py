"""A staff import as a job: its progress and result in the database, so every worker can show them.

The request that receives the upload starts the job (`start_job`) and runs it in its own process
(`run_job`): read the file, check every row, and with `apply` write them all or nothing
(`api.services.imports.run_import`), then bring the search index up to date. Progress goes through
the one progress interface (`api.progress.Progress`, the CLI's terminal bar hears the same calls)
into `JobProgress`, which writes it to the job's row every half second from a task of its own, so
the worker that does the work never waits for it. The status page (`load_job`) may be answered by
any worker behind nginx.

- The uploaded file is never stored: its bytes live in the running job's memory until it is read.
- A running job whose row has not been updated for `STALE_AFTER` died with its process (a server
  restart): it reads as failed, and says whether anything was written (an apply writes its result
  in the same transaction as the records, so "result present" means "committed").
- Seen by the account that started it and the city's admins (`permissions.may_see_import_job`);
  others get NOT_FOUND, so a job's id tells them nothing.
- Jobs older than `KEPT` are deleted when a new one starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import Database
from api.models import ImportJob
from api.services.base import FieldError, NotFound, ServiceContext, ServiceError, now
from api.services.imports import ImportOutcome, RecordChange, SectionSummary, read_upload, run_import
from api.services.permissions import may_see_import_job
from api.services.transfer import ImportFileError

log = logging.getLogger(__name__)

RUNNING, DONE, FAILED = "running", "done", "failed"
#: a running job not updated for this long died with its process
STALE_AFTER = dt.timedelta(seconds=60)
#: the progress is written at most this often; the heartbeat at least this often
WRITE_EVERY = 0.5
HEARTBEAT_EVERY = 5.0
KEPT = dt.timedelta(days=1)
#: what a finished job keeps to show (the page lists at most this many)
MAX_CHANGES_KEPT = 500
MAX_ERRORS_KEPT = 2000

DIED = "导入任务中断(服务器重启或进程退出), 未写入任何数据。请重新上传文件。"
DIED_AFTER_WRITING = "导入已写入; 随后的搜索索引更新被中断, 各实例会在一分钟内自动跟上。"


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)  # SQLite: naive UTC


@dataclass
class JobView:
    """What the status page shows of one job."""

    id: str
    mode: str
    filename: str
    state: str
    stage: str
    done: int
    total: int
    message: str | None
    seconds: float | None
    outcome: StoredOutcome | None
    created_at: dt.datetime

    @property
    def running(self) -> bool:
        return self.state == RUNNING


@dataclass
class StoredOutcome:
    """An `ImportOutcome` as kept with its job: the counts, the first changes and errors, and how
    many there were in all."""

    applied: bool
    sections: dict[str, SectionSummary]
    changes: list[RecordChange]
    errors: list[FieldError]
    changes_total: int
    errors_total: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.errors_total == 0

    @property
    def total_rows(self) -> int:
        return sum(s.rows for s in self.sections.values())


def outcome_json(outcome: ImportOutcome) -> dict[str, Any]:
    def plain(value: Any) -> Any:  # dates (also inside lists) as text, as the page shows them
        return json.loads(json.dumps(value, ensure_ascii=False, default=str))

    return {
        "applied": outcome.applied,
        "sections": {
            name: [s.rows, s.created, s.changed, s.unchanged] for name, s in outcome.sections.items()
        },
        "changes": [
            [c.section, c.key, c.action, [[f, plain(b), plain(a)] for f, b, a in c.fields]]
            for c in outcome.changes[:MAX_CHANGES_KEPT]
        ],
        "changesTotal": len(outcome.changes),
        "errors": [[e.field, e.message, e.section, e.row, e.key] for e in outcome.errors[:MAX_ERRORS_KEPT]],
        "errorsTotal": len(outcome.errors),
    }


def outcome_from_json(data: dict[str, Any]) -> StoredOutcome:
    return StoredOutcome(
        applied=bool(data.get("applied")),
        sections={name: SectionSummary(*counts) for name, counts in data.get("sections", {}).items()},
        changes=[
            RecordChange(section, key, action, [tuple(f) for f in fields])
            for section, key, action, fields in data.get("changes", [])
        ],
        errors=[FieldError(*e) for e in data.get("errors", [])],
        changes_total=int(data.get("changesTotal", 0)),
        errors_total=int(data.get("errorsTotal", 0)),
    )


def _view(job: ImportJob, at: dt.datetime) -> JobView:
    state, message = job.state, job.message
    outcome = outcome_from_json(job.result) if job.result is not None else None
    if state == RUNNING and at - _aware(job.updated_at) > STALE_AFTER:
        # the process that ran it is gone: committed (its result was written with the records) or not
        if outcome is not None and outcome.applied:
            state, message = DONE, DIED_AFTER_WRITING
        else:
            state, message, outcome = FAILED, DIED, None
    return JobView(
        id=job.id,
        mode=job.mode,
        filename=job.filename,
        state=state,
        stage=job.stage,
        done=job.done,
        total=job.total,
        message=message,
        seconds=job.seconds,
        outcome=outcome,
        created_at=_aware(job.created_at),
    )


async def start_job(db: Database, ctx: ServiceContext, mode: str, filename: str) -> str:
    """A new running job of this account (and old jobs deleted); returns its id."""
    if ctx.actor.user_id is None:
        raise ServiceError("导入任务需要登录的工作人员账号")
    job_id = secrets.token_hex(16)
    at = now()
    async with db.write() as session:
        await session.execute(delete(ImportJob).where(ImportJob.created_at < at - KEPT))
        session.add(
            ImportJob(
                id=job_id,
                user_id=ctx.actor.user_id,
                mode=mode,
                filename=filename[:200],
                state=RUNNING,
                stage="reading",
                done=0,
                total=0,
                created_at=at,
                updated_at=at,
            )
        )
    return job_id


async def running_job_of(db: Database, ctx: ServiceContext) -> str | None:
    """This account's job still running (one at a time: each holds a whole sheet in memory)."""
    async with db.read() as session:
        rows = (
            await session.execute(
                select(ImportJob).where(ImportJob.user_id == ctx.actor.user_id, ImportJob.state == RUNNING)
            )
        ).scalars()
        at = now()
        for job in rows:
            if _view(job, at).running:
                return job.id
    return None


async def load_job(db: Database, ctx: ServiceContext, job_id: str) -> JobView:
    """The job as its page shows it; NOT_FOUND when it does not exist or is not the reader's."""
    async with db.read() as session:
        job = await session.get(ImportJob, job_id) if len(job_id) <= 32 else None
    if job is None or not may_see_import_job(ctx.actor, job.user_id):
        raise NotFound("没有这个导入任务(任务保留一天, 只有发起的账号和市级管理员可以查看)")
    return _view(job, now())


class JobProgress:
    """The progress callback of one job (`api.progress.Progress`): remembers the latest call, and
    `run()` (a task of its own) writes it to the job's row every `WRITE_EVERY` seconds, and the
    heartbeat every `HEARTBEAT_EVERY` even when nothing moved. The import yields to the event loop
    at each progress step, so the writes happen while it runs."""

    def __init__(self, db: Database, job_id: str) -> None:
        self.db = db
        self.job_id = job_id
        self.stage, self.done, self.total = "reading", 0, 0
        self._written: tuple[str, int, int] | None = None
        self._beat = time.monotonic()
        self._stop = asyncio.Event()

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.stage, self.done, self.total = stage, done, total

    async def run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), WRITE_EVERY)
            if self._stop.is_set():
                return
            current = (self.stage, self.done, self.total)
            if current == self._written and time.monotonic() - self._beat < HEARTBEAT_EVERY:
                continue
            try:
                async with self.db.write() as session:
                    await session.execute(
                        update(ImportJob)
                        .where(
                            ImportJob.id == self.job_id,
                            ImportJob.state == RUNNING,
                            ImportJob.result.is_(None),  # not over a result written meanwhile
                        )
                        .values(stage=current[0], done=current[1], total=current[2], updated_at=now())
                    )
                self._written, self._beat = current, time.monotonic()
            except Exception:  # a busy database: the next turn tries again
                log.warning("import job %s: progress not written", self.job_id, exc_info=True)

    async def stop(self) -> None:
        self._stop.set()


async def update_job(db: Database, job_id: str, **values: Any) -> None:
    """Set the job's columns (and its heartbeat)."""
    async with db.write() as session:
        await session.execute(
            update(ImportJob).where(ImportJob.id == job_id).values(**values, updated_at=now())
        )


async def run_job(
    db: Database,
    ctx: ServiceContext,
    job_id: str,
    filename: str,
    content: bytes,
    *,
    apply: bool,
    after_commit: Callable[[Callable[[str, int, int], None]], Awaitable[None]] | None = None,
) -> None:
    """Read, check and (with `apply`) write the upload, reporting progress to the job's row; the
    job ends done (with its result) or failed (with the reason). `after_commit(progress)` runs
    after an apply committed (the search index catching up)."""
    started = time.perf_counter()
    progress = JobProgress(db, job_id)
    writer = asyncio.create_task(progress.run())
    outcome: ImportOutcome | None = None
    try:
        try:
            document = await asyncio.to_thread(read_upload, filename, content)
            del content  # the file is not needed any more
            total = sum(len(rows) for rows in document.values() if isinstance(rows, list))
            progress("checking", 0, total)

            async def written(session: AsyncSession, result: ImportOutcome) -> None:
                # in the import's own transaction: "result present" means "committed"
                await session.execute(
                    update(ImportJob)
                    .where(ImportJob.id == job_id)
                    .values(result=outcome_json(result), stage="indexing", done=0, total=0, updated_at=now())
                )

            outcome = await run_import(db, ctx, document, apply=apply, progress=progress, on_written=written)
        finally:
            await progress.stop()
            await writer
        if outcome.applied and after_commit is not None:
            await update_job(db, job_id, stage="indexing", done=0, total=0)
            try:
                await after_commit(progress)
            except Exception:  # the index follows the outbox anyway
                log.warning("import job %s: index catch-up failed", job_id, exc_info=True)
        await update_job(
            db,
            job_id,
            state=DONE,
            stage="done",
            done=outcome.total_rows,
            total=outcome.total_rows,
            result=outcome_json(outcome),
            seconds=time.perf_counter() - started,
        )
    except ServiceError as error:  # an unreadable file, a section that is not a list, a conflict
        message = error.message if isinstance(error, ImportFileError) else error.describe()
        await update_job(db, job_id, state=FAILED, message=message, seconds=time.perf_counter() - started)
    except Exception:
        log.exception("import job %s failed", job_id)
        if outcome is not None and outcome.applied:  # committed: what was written stays reported
            await update_job(db, job_id, state=DONE, stage="done", message=DIED_AFTER_WRITING)
        else:
            await update_job(
                db,
                job_id,
                state=FAILED,
                message="导入时发生内部错误, 未写入任何数据。请稍后重试或联系管理员。",
                seconds=time.perf_counter() - started,
            )
