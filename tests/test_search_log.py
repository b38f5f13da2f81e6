"""The search log (issue 16): searches and result clicks recorded without personal data, the staff
page "搜不到的问题", the one-click "this question means matter X" (audited, through the matters'
write path, live in the index after the outbox poll) and the top-3 click share."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from api.db import Database
from api.enums import Role
from api.models import ChangeLog, Matter, OutboxEvent, SearchEvent
from api.services.base import SYSTEM, Actor, BadInput, Forbidden, NotFound, ServiceContext
from api.services.regions import load_tree
from api.services.search_log import click_share, scrub_query, search_gaps, teach, write_events
from api.settings import Settings
from tests.test_staff_helpers import read_form, signed_in, with_values

NONSENSE = "瓜瓜乐乐"  # a question nothing in the demo data answers


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("社保卡丢了", "社保卡丢了"),
        ("身份证号330102199001011234丢了", "身份证号＊丢了"),
        ("身份证33010219900101123X补办", "身份证＊补办"),
        ("电话 13800138000 社保", "电话 ＊ 社保"),
        ("me@example.com 公积金", "＊ 公积金"),
        ("第2次 2024年", "第2次 2024年"),  # short numbers are not personal
        ("  \x00 ", ""),
    ],
)
def test_questions_are_stored_without_personal_numbers(typed: str, stored: str) -> None:
    assert scrub_query(typed) == stored


async def _ctx(session: Any, settings: Settings, actor: Actor = SYSTEM) -> ServiceContext:
    return ServiceContext(actor=actor, tree=await load_tree(session), home_city=settings.home_region)


def _event(token: str, query: str, shown: list[str], found: int | None = None) -> dict[str, Any]:
    from api.services.base import now

    return {
        "token": token,
        "at": now(),
        "query": query,
        "shown": shown,
        "found": len(shown) if found is None else found,
    }


async def test_clicks_count_once_and_only_for_results_shown(demo_db: Database) -> None:
    async with demo_db.write() as session:
        await write_events(
            session,
            [
                _event("a" * 16, "社保卡", ["M-008", "M-019"]),
                _event("b" * 16, "社保卡", ["M-008", "M-019"]),
                _event("c" * 16, NONSENSE, [], 0),
                _event("d" * 16, "户口", ["M-009", "M-010", "M-029", "M-030"]),
            ],
            [
                ("a" * 16, "M-019"),
                ("a" * 16, "M-008"),
                ("b" * 16, "M-999"),
                ("d" * 16, "M-030"),
                ("e" * 16, "M-008"),
            ],
        )
    async with demo_db.read() as session:
        rows = {r.token[0]: r for r in (await session.execute(select(SearchEvent))).scalars()}
        assert (rows["a"].clicked_code, rows["a"].clicked_rank) == ("M-019", 2)  # the first click counts
        assert rows["b"].clicked_code is None  # M-999 was not among its results
        assert rows["d"].clicked_rank == 4
        share = await click_share(session)
        assert (share.searches, share.clicked_top3) == (4, 1)
        gaps = await search_gaps(session)
    by_query = {g.query: g for g in gaps}
    assert gaps[0].query == "社保卡"  # two searches without a click in the top... (b) and none found for c
    assert (by_query["社保卡"].searches, by_query["社保卡"].no_click) == (2, 1)
    assert (by_query[NONSENSE].no_result, by_query[NONSENSE].shown) == (1, [])
    assert "户口" not in by_query  # clicked: not a gap


async def test_old_events_are_pruned(db: Database) -> None:
    import datetime as dt

    from api.services.base import now
    from api.services.search_log import KEEP_DAYS, prune

    old = {**_event("f" * 16, "旧问题", []), "at": now() - dt.timedelta(days=KEEP_DAYS + 1)}
    async with db.write() as session:
        await write_events(session, [old, _event("0" * 16, "新问题", [])], [])
    async with db.write() as session:
        assert await prune(session) == 1
    async with db.read() as session:
        assert [e.query for e in (await session.execute(select(SearchEvent))).scalars()] == ["新问题"]


async def test_teach_adds_the_question_as_an_audited_keyword(demo_db: Database, settings: Settings) -> None:
    async with demo_db.write() as session:
        ctx = await _ctx(session, settings)
        assert await teach(session, ctx, NONSENSE, "M-012") == NONSENSE
    async with demo_db.write() as session:  # the same twice changes nothing
        assert await teach(session, await _ctx(session, settings), NONSENSE, "M-012") == NONSENSE
    async with demo_db.read() as session:
        matter = (await session.execute(select(Matter).where(Matter.code == "M-012"))).scalar_one()
        assert NONSENSE in matter.keywords
        audits = list(
            (
                await session.execute(
                    select(ChangeLog).where(
                        ChangeLog.entity == "matter", ChangeLog.entity_key == "M-012", ChangeLog.via != "init"
                    )
                )
            ).scalars()
        )
        assert len(audits) == 1 and NONSENSE in audits[0].after["keywords"]
        queued = (
            (await session.execute(select(OutboxEvent).where(OutboxEvent.entity_key == "M-012")))
            .scalars()
            .all()
        )
        assert queued[-1].id == max((await session.execute(select(OutboxEvent.id))).scalars())  # queued last


@pytest.mark.parametrize(
    ("question", "code", "error"),
    [
        ("", "M-012", BadInput),
        ("问" * 41, "M-012", BadInput),
        (NONSENSE, "", BadInput),
        (NONSENSE, "NOPE-1", NotFound),
    ],
)
async def test_teach_refuses_bad_input_and_changes_nothing(
    demo_db: Database, settings: Settings, question: str, code: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        async with demo_db.write() as session:
            await teach(session, await _ctx(session, settings), question, code)
    async with demo_db.read() as session:
        changed = select(ChangeLog).where(ChangeLog.entity == "matter", ChangeLog.via != "init")
        assert (await session.execute(changed)).first() is None


async def test_only_admins_teach(demo_db: Database, settings: Settings) -> None:
    county = Actor(name="luqiao", role=Role.COUNTY, region_code="331004", via="form")
    with pytest.raises(Forbidden):
        async with demo_db.write() as session:
            await teach(session, await _ctx(session, settings, county), NONSENSE, "M-012")


async def test_search_click_gap_and_teach_end_to_end(app: Any, client: Any, settings: Settings) -> None:
    log_of = lambda: app.state.search_log  # noqa: E731 - created by the first search
    found = await client.get("/search", params={"q": "社保卡"})
    assert found.status_code == 200
    token = re.search(r'href="/matters/(M-\d+)\?s=([0-9a-f]{24})"', found.text)
    assert token, "result links carry the search's token"
    code, search_id = token.groups()
    assert (await client.get(f"/matters/{code}", params={"s": search_id})).status_code == 200
    assert (await client.get("/matters/M-012", params={"s": "not-a-token"})).status_code == 200  # ignored
    for _ in range(2):
        assert (await client.get("/search", params={"q": NONSENSE})).status_code == 200
    await log_of().flush()

    database = Database(settings.database_url)
    try:
        async with database.read() as session:
            events = list((await session.execute(select(SearchEvent).order_by(SearchEvent.id))).scalars())
    finally:
        await database.dispose()
    assert [(e.query, e.clicked_code, e.clicked_rank) for e in events] == [
        ("社保卡", code, 1 + events[0].shown.index(code)),
        (NONSENSE, None, None),
        (NONSENSE, None, None),
    ]
    assert events[1].found == 0

    async with signed_in(app, settings, "admin", "331000") as city:
        gaps = await city.get("/staff/search-gaps")
        assert gaps.status_code == 200 and NONSENSE in gaps.text and "style=" not in gaps.text
        assert "33%" in gaps.text  # 1 of 3 searches had a click in the top 3
        assert "搜索后点开前3条结果的比例" in (await city.get("/staff/dashboard")).text
        fields = read_form(gaps.text, "/staff/search-gaps/teach")
        bad = await city.post(
            "/staff/search-gaps/teach", data=with_values(fields, question=NONSENSE, matter="NOPE-1")
        )
        assert (
            bad.status_code == 422 and "NOPE-1" in bad.text and 'value="NOPE-1"' in bad.text
        )  # kept what was typed
        taught = await city.post(
            "/staff/search-gaps/teach", data=with_values(fields, question=NONSENSE, matter="M-012")
        )
        assert taught.status_code == 303
    async with signed_in(app, settings, "county", "331004") as luqiao:
        assert (await luqiao.get("/staff/search-gaps")).status_code == 403

    await app.state.tongban.search.catch_up()  # what the one-second outbox poll does on every instance
    answer = await client.get("/search", params={"q": NONSENSE})
    assert 'href="/matters/M-012?s=' in answer.text


async def test_a_direct_flush_waits_for_the_one_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    """A flush (at close, or a test's) while the scheduled one is still writing writes after it:
    the search goes in before the click on it, whichever flush took which event."""
    import asyncio
    import contextlib

    from api.services import search_log

    written: list[tuple[list[str], list[str]]] = []
    first_started, release = asyncio.Event(), asyncio.Event()

    async def slow_write(session: Any, searches: Any, clicks: Any) -> None:
        if not written and not first_started.is_set():
            first_started.set()
            await release.wait()  # the first batch is slow to commit
        written.append(([s["query"] for s in searches], [code for _token, code in clicks]))

    class FakeDb:
        @contextlib.asynccontextmanager
        async def write(self, notify_caches: bool = True) -> Any:
            yield None

    async def no_prune(session: Any) -> None:
        return None

    monkeypatch.setattr(search_log, "write_events", slow_write)
    monkeypatch.setattr(search_log, "prune", no_prune)
    monkeypatch.setattr(search_log, "FLUSH_SECONDS", 0.0)
    log = search_log.SearchLog(FakeDb())
    token = log.search("社保卡", ["M-008"], 1)
    await asyncio.wait_for(first_started.wait(), 5)  # the scheduled flush holds the search
    log.click(token, "M-008")
    direct = asyncio.create_task(log.flush())
    await asyncio.sleep(0.05)
    assert written == []  # waits for the one in flight instead of writing the click first
    release.set()
    await asyncio.wait_for(direct, 5)
    assert written == [(["社保卡"], []), ([], ["M-008"])]
    await log.close()


async def test_a_flush_writes_its_searches_in_a_few_statements(db: Database) -> None:
    """A busy results page logs ~1,000 searches a second. Written as an ORM object each (an INSERT
    and a round trip between the event loop and the database thread per row), a flush fell behind
    under load: a served run of ~8,000 searches wrote 542 of them, the rest waiting until the
    buffer dropped them. A few bulk INSERTs keep up (the same run: 6,540 of 6,705)."""
    from sqlalchemy import event

    from api.services.search_log import SearchLog

    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "search_events" in statement:
            statements.append(statement.split()[0].upper())

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    told: list[str] = []
    db.write_listeners.append(lambda: told.append("commit"))
    log = SearchLog(db)
    for number in range(1_500):
        log.search(f"问题{number}", ["M-008", "M-019"], 2)
    await log.flush()
    assert statements.count("INSERT") == 4  # a quarter of the batch each (`insert_rows`)
    # nothing cached shows the events: the catalog and the index follower are not told of them
    # (each commit made the next page wait for a mark query)
    assert told == []
    async with db.read() as session:
        rows = (await session.execute(select(SearchEvent.query, SearchEvent.shown, SearchEvent.found))).all()
    assert sorted(rows) == sorted((f"问题{n}", ["M-008", "M-019"], 2) for n in range(1_500))
    await log.close()


@pytest.mark.parametrize(
    ("batch", "rows", "statements"),
    [
        (1, 200, 1),
        (200, 200, 1),
        (800, 200, 4),
        (801, 201, 4),
        (1_100, 275, 4),
        (4_000, 1_000, 4),
        (5_000, 1_000, 5),
    ],
)
def test_a_flush_writes_a_batch_in_a_few_slices(batch: int, rows: int, statements: int) -> None:
    """A quarter of the batch per INSERT, 200 to 1,000 rows: at a few connections no statement
    holds the event loop long (1,000 rows ~11 ms, the p99 there); under load still four."""
    from api.services.search_log import insert_rows

    assert insert_rows(batch) == rows
    assert -(-batch // rows) == statements


def test_tokens_are_time_ordered_and_links_with_older_tokens_still_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A search's token starts with its second (the unique index grows at its end, like a UUIDv7's)
    and ends in 8 random bytes; the 16-digit random tokens of links made before still count."""
    from api.services import search_log
    from api.services.search_log import TOKEN_RE, SearchLog, new_token

    made = []
    for second in (1_800_000_000.9, 1_800_000_001.0, 1_800_000_001.5, 1_900_000_000.0):
        monkeypatch.setattr(search_log.time, "time", lambda second=second: second)
        made.append(new_token())
    monkeypatch.undo()
    assert all(re.fullmatch(r"[0-9a-f]{24}", token) for token in made)
    assert made[0] < made[1] and made[1][:8] == made[2][:8] and made[2] < made[3]  # by second
    assert made[1][8:] != made[2][8:]  # the random part
    log = SearchLog(None)
    fresh = new_token()
    for token in (fresh, "0123456789abcdef", "0123456789abcdef0", "0123456789ABCDEF", "x" * 24):
        log.click(token, "M-008")
    assert [token for token, _code in log._pending.clicks] == [fresh, "0123456789abcdef"]
    assert TOKEN_RE.match(fresh)
