"""A process killed in the middle of an import leaves the database exactly as before the import."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from api.settings import Settings

CHILD = textwrap.dedent(
    """
    import asyncio, json, sys
    from api.cli import _context
    from api.db import Database
    from api.services.base import SYSTEM
    from api.services.transfer import import_document
    from api.settings import Settings

    async def main():
        db = Database(sys.argv[1])
        ctx = await _context(db, Settings(database_url=sys.argv[1], home_region="331000"), SYSTEM)
        document = json.load(open(sys.argv[2], encoding="utf-8"))
        def progress(section, done, total):
            print(f"writing {done}", flush=True)
        await import_document(db, ctx, document, progress=progress)
        print("committed", flush=True)

    asyncio.run(main())
    """
)


def export(settings: Settings, target: Path) -> str:
    env = {**os.environ, "TONGBAN_DATABASE_URL": settings.database_url, "TONGBAN_SECRET_KEY": "x"}
    subprocess.run(
        [sys.executable, "-m", "api.cli", "export", str(target)],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return target.read_text(encoding="utf-8")


def test_kill_mid_import_leaves_the_database_as_before(settings: Settings, tmp_path: Path) -> None:
    big = {
        "matters": [
            {
                "code": f"K-{i:05d}",
                "name": f"中途终止测试事项{i}",
                "scope": "CROSS_PROVINCE",
                "guide": {
                    "conditions": "测试",
                    "materials": [{"name": "居民身份证"}],
                    "steps": ["申请", "受理", "办结"],
                },
            }
            for i in range(1500)
        ]
    }
    path = tmp_path / "big.json"
    path.write_text(json.dumps(big, ensure_ascii=False), encoding="utf-8")
    before = export(settings, tmp_path / "before.json")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, settings.database_url, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert child.stdout is not None
    killed_at = None
    for line in child.stdout:
        if line.startswith("writing ") and int(line.split()[1]) >= 600:
            killed_at = line.strip()
            child.send_signal(signal.SIGKILL)
            break
        assert line.strip() != "committed", "the import finished before it could be killed"
    child.wait(timeout=60)
    child.stdout.close()
    assert killed_at is not None, "the child never reached the writing phase"
    assert child.returncode == -signal.SIGKILL
    after = export(settings, tmp_path / "after.json")
    assert after == before, f"killed at {killed_at}: the database changed"
