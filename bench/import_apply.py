"""Time the staff import (`api.services.imports.run_import`) of a mixed 5,000-row sheet: check, then
apply, on a fresh database each run (regions only, `tongban init` without --demo).

Usage::

    .venv/bin/python bench/import_apply.py [--rows 5000] [--runs 3] [--postgres]

`--postgres` starts a throw-away PostgreSQL from Debian's binaries (tests/support/postgres.py), or
uses `TONGBAN_TEST_PG_URL`. Prints each run and the medians (seconds; with the CPU seconds this process
spent applying, which a busy shared machine disturbs less than the wall clock). The sheet (seeded, the same
every run) mixes every section: 30 % matters, 30 % halls, 20 % agreements, 4 % partners,
6 % relations, 10 % contacts; halls and agreements name the file's own matters.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scale_data import generate, load_regions, local_towns, partner_candidates  # noqa: E402

TODAY = dt.date(2026, 6, 1)


def mixed_sheet(rows: int, seed: int = 17) -> dict[str, Any]:
    matters, halls, agreements = int(rows * 0.3), int(rows * 0.3), int(rows * 0.2)
    partners, relations = int(rows * 0.04), int(rows * 0.06)
    contacts = rows - matters - halls - agreements - partners - relations
    regions = load_regions()
    document = generate(matters, halls, agreements, seed=seed, today=TODAY, regions=regions)
    rng = random.Random(seed)
    candidates = partner_candidates(regions)
    counties = sorted(local_towns(regions))
    document["partners"] = [
        {"regionCode": code, "populationIndex": rng.randint(20, 95), "cooperationIndex": rng.randint(20, 95)}
        for code in rng.sample(candidates, partners)
    ]
    document["relations"] = [
        {
            "key": f"bench-rel-{i}",
            "kind": "COOPERATION",
            "localCode": rng.choice(counties),
            "partnerCode": rng.choice(candidates),
            "since": "2021",
        }
        for i in range(relations)
    ]
    document["contacts"] = [
        {
            "key": f"bench-contact-{i}",
            "name": f"联络人{i}",
            "regionCode": rng.choice(counties),
            "organisation": "行政服务中心",
            "phone": f"0576-8{i:07d}",
            "liaisonGroup": "跨省通办联络群",
        }
        for i in range(contacts)
    ]
    return document


async def one_run(url: str, index_dir: Path, document: dict[str, Any]) -> tuple[float, float, float, int]:
    from api.db import Database
    from api.enums import Role
    from api.services.base import Actor, ServiceContext
    from api.services.imports import run_import
    from api.services.regions import load_tree

    db = Database(url)
    try:
        async with db.read() as session:
            tree = await load_tree(session)
        actor = Actor(name="bench", role=Role.ADMIN, region_code=None, via="import")
        ctx = ServiceContext(actor=actor, tree=tree, home_city="331000", today=TODAY)
        started = time.perf_counter()
        checked = await run_import(db, ctx, document, apply=False)
        check_s = time.perf_counter() - started
        assert checked.ok, [e.describe() for e in checked.errors[:5]]
        started, cpu = time.perf_counter(), time.process_time()
        applied = await run_import(db, ctx, document, apply=True)
        apply_s, apply_cpu = time.perf_counter() - started, time.process_time() - cpu
        assert applied.applied, [e.describe() for e in applied.errors[:5]]
        return check_s, apply_s, apply_cpu, applied.total_rows
    finally:
        await db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args(argv)

    from api.cli import initialise
    from api.settings import Settings

    document = mixed_sheet(args.rows)
    work = Path(tempfile.mkdtemp(prefix="tongban-bench-import-"))
    server = None
    try:
        if args.postgres:
            from tests.support.postgres import PostgresServer

            server = PostgresServer(external_url=os.environ.get("TONGBAN_TEST_PG_URL")).start()
        template = work / "template.db"
        if not args.postgres:
            settings = Settings(database_url=f"sqlite+aiosqlite:///{template}", index_dir=work / "index")
            asyncio.run(initialise(settings, demo=False, quiet=True))
        results = []
        for run in range(args.runs):
            if args.postgres:
                assert server is not None
                name = server.create_database()
                url = server.url(name)
                asyncio.run(initialise(Settings(database_url=url, index_dir=work / "index"), False, True))
            else:
                copy = work / f"run{run}.db"
                shutil.copy(template, copy)
                url = f"sqlite+aiosqlite:///{copy}"
            check_s, apply_s, apply_cpu, total = asyncio.run(one_run(url, work / "index", document))
            results.append((check_s, apply_s, apply_cpu))
            print(
                f"run {run + 1}: {total} rows  check {check_s:.2f} s  apply {apply_s:.2f} s "
                f"(this process's CPU {apply_cpu:.2f} s)",
                flush=True,
            )
        print(
            f"median of {args.runs} ({'PostgreSQL' if args.postgres else 'SQLite'}): "
            f"check {statistics.median(r[0] for r in results):.2f} s, "
            f"apply {statistics.median(r[1] for r in results):.2f} s "
            f"(CPU {statistics.median(r[2] for r in results):.2f} s)"
        )
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
