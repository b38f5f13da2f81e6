"""What one flush of the search log costs SQLite as the log grows.

1,000 searches inserted into a log that already holds 200,000, with the old keys (random 16-digit
tokens under a unique index, and an index on the question) and the current ones (time-ordered
tokens, `api.services.search_log.new_token`; no index on the question, migration 0010). sqlite3
directly, in WAL mode with synchronous=NORMAL as tongban runs it; CPU time of each flush (the
INSERTs and the commit), median of 15.

Usage (from the repository root, ~45 s, files in the system temp folder)::

    .venv/bin/python bench/search_log_flush.py
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

LOGGED = 200
FLUSHES = 15
ROWS = 1_000
QUESTIONS = [f"问题{number}" for number in range(3_000)]
INSERT = "INSERT INTO search_events (token, at, query, shown, found) VALUES (?, ?, ?, ?, ?)"


def open_log(path: Path, question_index: bool) -> sqlite3.Connection:
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE search_events (id INTEGER PRIMARY KEY, token VARCHAR(32) UNIQUE, at DATETIME,"
        " query VARCHAR(100), shown JSON, found INTEGER, clicked_code VARCHAR(40), clicked_rank INTEGER)"
    )
    db.execute("CREATE INDEX ix_search_events_at ON search_events (at)")
    if question_index:
        db.execute("CREATE INDEX ix_search_events_query ON search_events (query)")
    return db


def searches(second: int, time_ordered: bool) -> list[tuple[str, str, str, str, int]]:
    at = dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    made = []
    for _ in range(ROWS):
        token = f"{second:08x}{secrets.token_hex(8)}" if time_ordered else secrets.token_hex(8)
        made.append((token, at, secrets.choice(QUESTIONS), json.dumps(["M-1", "M-2", "M-3"]), 5))
    return made


def main() -> None:
    start = 1_790_000_000
    for name, time_ordered, question_index in (
        ("random tokens, index on the question (before)", False, True),
        ("time-ordered tokens, index on the question", True, True),
        ("time-ordered tokens, no index on the question (now)", True, False),
    ):
        db = open_log(
            Path(tempfile.gettempdir()) / f"tongban-search-log-{int(time_ordered)}.db", question_index
        )
        for second in range(start, start + LOGGED):
            db.executemany(INSERT, searches(second, time_ordered))
            db.commit()
        spent = []
        for second in range(start + LOGGED, start + LOGGED + FLUSHES):
            batch = searches(second, time_ordered)
            began = time.process_time()
            db.executemany(INSERT, batch)
            db.commit()
            spent.append((time.process_time() - began) * 1000)
        db.close()
        print(
            f"{name}: a {ROWS:,}-row flush into {LOGGED * ROWS:,} rows takes"
            f" {statistics.median(spent):.1f} ms CPU (median of {FLUSHES}; {min(spent):.1f} - {max(spent):.1f})"
        )


if __name__ == "__main__":
    main()
