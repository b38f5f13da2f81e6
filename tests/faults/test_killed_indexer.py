"""The indexer SIGKILLed mid-commit leaves an index that opens, answers searches, and catches up to
the database's count of published matters.

Setup (once per module): a demo SQLite database whose search index is built, then 700 more
published matters with guides written straight into the database, each with its outbox row, as an
import leaves them, and not yet in the index. Each case copies that state and runs a real child
process that works on the index:

* `rebuild` — `SearchService.rebuild()`, what `tongban reindex` runs: a new index generation is
  written, committed (optimized) and swapped in;
* `update` — `SearchService.ensure_current()` on the existing index: the outbox is applied in
  batches of 500, each one commit into the live generation.

The child announces progress on stdout, as tests/faults/test_killed_import.py does. For most cases
it pauses at one chosen point inside the commit (hooks on Whoosh's segment finalisation, TOC write,
TOC rename and old-file cleanup, and on the generation-pointer swap) so that the SIGKILL lands
exactly there; the `timed` cases are killed a fixed time after the commit began, wherever it is.
Afterwards, in this process: the index is ready and answers a search, and after
`SearchService.ensure_current()` its document count equals the published matters in the database,
its applied mark equals the outbox's, and the new matters are found.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from api.db import Database
from api.enums import GuideStatus, MatterScope
from api.models import Guide, Matter, OutboxEvent
from api.services.indexing import SearchService
from tests.conftest import TemplateStore, run_blocking

ROOT = Path(__file__).resolve().parents[2]
EXTRA_MATTERS = 700
WORD = "索引断电测试"  # in every extra matter's name: a search for it finds the new matters

CHILD = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path

    url, folder, mode, point, wanted = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    seen = {}

    def hook(owner, attribute, name):
        original = getattr(owner, attribute)
        def wrapped(*args, **kwargs):
            seen[name] = seen.get(name, 0) + 1
            print(f"at {name} {seen[name]}", flush=True)
            if name == point and seen[name] == wanted:
                print("paused", flush=True)
                time.sleep(60)  # the parent kills us here
            return original(*args, **kwargs)
        setattr(owner, attribute, wrapped)

    import whoosh.filedb.filestore, whoosh.index, whoosh.writing
    import search_index.store
    from api.db import Database
    from api.services.indexing import SearchService

    hook(whoosh.writing.SegmentWriter, "commit", "commit")
    hook(whoosh.writing.SegmentWriter, "_finalize_segment", "segment")
    hook(whoosh.index.TOC, "write", "toc")
    hook(whoosh.filedb.filestore.FileStorage, "rename_file", "rename")
    hook(whoosh.index, "clean_files", "clean")
    hook(search_index.store, "write_pointer", "pointer")

    async def main():
        db = Database(url)
        search = SearchService(db, Path(folder))
        def progress(section, done, total):
            if done % 500 == 0:
                print(f"indexing {done}/{total}", flush=True)
        if mode == "rebuild":
            await search.rebuild(progress=progress)
        else:
            await search.ensure_current()
        print("finished", flush=True)

    asyncio.run(main())
    """
)


@dataclass(frozen=True)
class Golden:
    database: Path
    index: Path
    indexed_before: int


async def add_unindexed_matters(url: str) -> None:
    """What an import of 700 matters leaves behind: rows, published guides and outbox rows."""
    database = Database(url)
    try:
        async with database.write() as session:
            rows = [
                {
                    "code": f"KI-{i:05d}",
                    "name": f"{WORD}事项{i}号 社会保障卡补领",
                    "department": "测试局",
                    "scope": MatterScope.CROSS_PROVINCE,
                    "modes": ["FULL_ONLINE"],
                    "keywords": ["断电", f"编号{i}"],
                    "aliases": [],
                    "published": True,
                    "version": 1,
                }
                for i in range(EXTRA_MATTERS)
            ]
            await session.execute(insert(Matter), rows)
            ids = dict(
                (await session.execute(select(Matter.code, Matter.id).where(Matter.code.like("KI-%")))).all()
            )
            await session.execute(
                insert(Guide),
                [
                    {
                        "matter_id": ids[row["code"]],
                        "version": 1,
                        "status": GuideStatus.PUBLISHED,
                        "conditions": "申请人持有效身份证件。" * 4,
                        "materials": [{"name": "居民身份证", "required": True}],
                        "steps": ["申请", "受理", "办结"],
                    }
                    for row in rows
                ],
            )
            await session.execute(
                insert(OutboxEvent),
                [{"entity": "matter", "entity_key": row["code"], "op": "upsert"} for row in rows],
            )
    finally:
        await database.dispose()


async def build_index(url: str, folder: Path) -> int:
    database = Database(url)
    search = SearchService(database, folder)
    try:
        await search.ensure_current()
        return int(search.status()["documents"])
    finally:
        await search.stop()
        await database.dispose()


@pytest.fixture(scope="module")
def golden(template_store: TemplateStore, tmp_path_factory: pytest.TempPathFactory) -> Golden:
    folder = tmp_path_factory.mktemp("killed-indexer")
    url = template_store.clone("sqlite", True, folder)
    indexed = run_blocking(build_index(url, folder / "index"))
    run_blocking(add_unindexed_matters(url))
    return Golden(folder / "tongban.db", folder / "index", indexed)


def run_child_and_kill(url: str, index: Path, mode: str, point: str, wanted: int, delay: float) -> list[str]:
    """Start the child, SIGKILL it at the chosen point (or `delay` seconds after the wanted commit
    began, for `timed`); return everything it printed."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(index), mode, point, str(wanted)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    lines: list[str] = []
    killed = False
    try:
        for line in child.stdout:
            lines.append(line.strip())
            if point == "timed" and line.strip() == f"at commit {wanted}":
                time.sleep(delay)
                child.send_signal(signal.SIGKILL)
                killed = True
                break
            if line.strip() == "paused":
                child.send_signal(signal.SIGKILL)
                killed = True
                break
        lines += [line.strip() for line in child.stdout]
    finally:
        if not killed:
            child.kill()
        child.wait(timeout=60)
        child.stdout.close()
    assert killed, f"the child never reached {point} #{wanted}: {lines[-10:]}"
    assert child.returncode == -signal.SIGKILL
    assert "finished" not in lines, f"the child finished before it was killed: {lines[-10:]}"
    return lines


async def published_count_and_mark(database: Database) -> tuple[int, int]:
    async with database.read() as session:
        count = (
            await session.execute(select(func.count()).select_from(Matter).where(Matter.published.is_(True)))
        ).scalar_one()
        mark = (await session.execute(select(func.max(OutboxEvent.id)))).scalar_one()
    return int(count), int(mark or 0)


# (mode, where the kill lands, which occurrence): update commits one batch of 500 at a time, so its
# second commit is killed, after the first batch was committed and its mark stored.
CASES = [
    ("rebuild", "toc", 1, 0.0),  # segment files written, no TOC yet
    ("rebuild", "pointer", 1, 0.0),  # new generation complete, the pointer not yet swapped
    ("rebuild", "timed", 1, 0.03),  # 30 ms into the optimizing commit
    ("update", "segment", 2, 0.0),  # second batch: its segment being written into the live generation
    ("update", "rename", 2, 0.0),  # second batch: TOC written to its temp file, not yet renamed
    ("update", "clean", 2, 0.0),  # second batch: TOC renamed, superseded files not yet deleted
]


@pytest.mark.parametrize(("mode", "point", "wanted", "delay"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_indexer_killed_mid_commit_recovers(
    golden: Golden, tmp_path: Path, mode: str, point: str, wanted: int, delay: float
) -> None:
    shutil.copyfile(golden.database, tmp_path / "tongban.db")
    shutil.copytree(golden.index, tmp_path / "index")
    url = f"sqlite+aiosqlite:///{tmp_path / 'tongban.db'}"
    lines = run_child_and_kill(url, tmp_path / "index", mode, point, wanted, delay)
    run_blocking(check_after_kill(url, tmp_path / "index", golden, lines))


async def check_after_kill(url: str, folder: Path, golden: Golden, lines: list[str]) -> None:
    from search_index import SearchIndex

    index = SearchIndex(folder)
    try:
        assert index.is_ready(), f"the index does not open after the kill (last output {lines[-3:]})"
        before_catch_up = index.doc_count()
        assert before_catch_up >= golden.indexed_before
        assert index.search("社会保障卡"), "the index opened but answers no search"
    finally:
        index.close()

    database = Database(url)
    search = SearchService(database, folder)
    try:
        outcome = await asyncio.wait_for(search.ensure_current(), timeout=120)
        published, mark = await published_count_and_mark(database)
        status = search.status()
        assert status["documents"] == published, (
            f"{outcome}: index has {status['documents']}, database {published}"
        )
        assert status["appliedId"] == mark
        hits = search.search(WORD, limit=100)
        assert len(hits) == 100 and all(hit.code.startswith("KI-") for hit in hits)
        assert await search.ensure_current() == "current"
    finally:
        await search.stop()
        await database.dispose()
    print(
        f"\nkilled after {lines[-1]!r}: {before_catch_up} documents still searchable, {outcome}, "
        f"now {published} = published matters, records lost 0"
    )
