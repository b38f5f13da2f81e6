"""Backups restore into an empty database and compare equal: `tongban export`/`import` on every
backend (see tests/test_import_export.py) and `pg_dump`/`psql` on PostgreSQL."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from api.db import Database
from api.services.transfer import export_document
from tests.support import postgres


async def test_pg_dump_restores_into_an_empty_database(template_store: Any, tmp_path: Path) -> None:
    bindir = postgres.find_bindir()
    if bindir is None or not (bindir / "pg_dump").exists():
        pytest.fail("pg_dump is missing: run scripts/system-deps")
    server = template_store.pg()
    source_url = template_store.clone("postgresql", True, tmp_path)
    source_name = source_url.rsplit("/", 1)[1]
    dump = tmp_path / "backup.sql"
    subprocess.run(
        [str(bindir / "pg_dump"), "--no-owner", "--no-privileges", "-f", str(dump), server.dsn(source_name)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    target_name = server.create_database()
    subprocess.run(
        [str(bindir / "psql"), "-v", "ON_ERROR_STOP=1", "-q", "-f", str(dump), server.dsn(target_name)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    exports = []
    for url in (source_url, server.url(target_name)):
        database = Database(url)
        try:
            exports.append(json.dumps(await export_document(database), ensure_ascii=False, sort_keys=True))
        finally:
            await database.dispose()
    assert exports[0] == exports[1]
    assert '"matters": [' in exports[0]
