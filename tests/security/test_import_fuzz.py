"""Hypothesis properties on the import path (api/services/transfer.py and every `parse_*`).

What an operator may feed `tongban import` (or a staff upload) is anything at all. The promises:

* every `parse_*` function collects field errors and never raises, whatever the record is;
* `import_document` on any JSON-shaped document (wrong types, huge strings, NUL, lone surrogates,
  nested junk, missing or unknown sections, duplicated keys) either imports it or raises `BadInput`
  (or its subclass `ImportFileError`) naming the problems, and a refused document, or any dry run,
  changes nothing: every table's row count and the change-log and outbox marks stay equal;
* a valid document imports, and importing it again changes nothing (no change-log entry);
* `read_document` on any bytes named .json, .csv or .xlsx returns a document or raises
  `ImportFileError`, nothing else.

The database-touching properties run on SQLite only and reuse one database per test function
(hypothesis examples share it on purpose: later examples see what earlier ones imported).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from api.db import Database
from api.models import Base, ChangeLog, OutboxEvent
from api.services.agreements import parse_agreement
from api.services.base import SYSTEM, BadInput, ServiceContext
from api.services.cases import parse_case
from api.services.directory import parse_contact, parse_relation
from api.services.faq import parse_entry
from api.services.feedback import parse_feedback
from api.services.guides import parse_guide_form
from api.services.halls import parse_hall
from api.services.matters import parse_matter
from api.services.partners import parse_partner
from api.services.regions import load_tree
from api.services.synonyms import parse_terms
from api.services.transfer import (
    COLUMNS,
    SECTIONS,
    ImportFileError,
    import_document,
    read_document,
    write_document,
)

HOME = "331000"
COUNTIES = ["331002", "331003", "331004", "331022", "331023", "331024", "331081", "331082", "331083"]
TOWNS = ["331081001", "331004001"]
PARTNERS = ["511300", "511302", "520500", "110105", "650000", "341621", "310110"]
DEMO_MATTERS = ["M-001", "M-002", "M-007", "M-008", "S-001"]

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
TALLY: Counter[str] = Counter()

# ----------------------------------------------------------------------------- strategies

HOSTILE_TEXT = [
    "",
    "   ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\u202e",
    "\x1b[31m",
    "\r\n",
    "<script>alert(1)</script>",
    '" hx-get="/staff" x="',
    "'; DROP TABLE matters; --",
    "%",
    "null",
    "true",
    "2024-02-30",
    "NaN",
    "1e999",
    "x" * 100_000,
    "社" * 5000,
    "9" * 400,
]
JUNK_TEXT = st.one_of(st.text(max_size=20), st.sampled_from(HOSTILE_TEXT))
JUNK_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([10**400, -(10**400), 2**63, -1, 0, 100_001]),  # JSON carries big integers exactly
    st.floats(),  # NaN and ±Infinity too: Python's json reads them
    JUNK_TEXT,
)
JUNK = st.recursive(
    JUNK_SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(JUNK_TEXT, inner, max_size=3),
    max_leaves=8,
)
SAFE_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(
    str.strip
)
DATES = st.dates().map(lambda d: d.isoformat())

# A plausible value for each field of the import format: hostile documents mix these with junk, so
# a parser is pushed deep (most fields right, one or two wrong) rather than failing at the first.
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "code": st.sampled_from(DEMO_MATTERS) | st.from_regex(r"FZ-[0-9]{1,4}", fullmatch=True),
    "key": st.from_regex(r"fz-[a-z0-9]{1,8}", fullmatch=True),
    "regionCode": st.sampled_from(COUNTIES + TOWNS + PARTNERS),
    "localCode": st.sampled_from(COUNTIES + [HOME]),
    "partnerCode": st.sampled_from(PARTNERS),
    "scope": st.sampled_from(["CROSS_PROVINCE", "PROVINCE_WIDE", "CITYWIDE", "cross_province"]),
    "modes": st.lists(st.sampled_from(["FULL_ONLINE", "REMOTE_PROXY", "MULTI_SITE"]), max_size=3),
    "level": st.sampled_from(["CITY", "COUNTY", "TOWN", "VILLAGE"]),
    "status": st.sampled_from(["DRAFT", "PENDING", "ACTIVE", "SUSPENDED", "TERMINATED", "EXPIRED"]),
    "kind": st.sampled_from(["AID_XINJIANG", "EAST_WEST", "COOPERATION"]),
    "windowServices": st.lists(st.sampled_from(["CONSULT", "ASSIST", "SEND_RECEIVE"]), max_size=3),
    "matterCodes": st.none() | st.lists(st.sampled_from(DEMO_MATTERS), max_size=3),
    "keywords": st.lists(SAFE_TEXT, max_size=3),
    "aliases": st.lists(SAFE_TEXT, max_size=2),
    "signedOn": DATES,
    "effectiveFrom": DATES,
    "expiresOn": DATES,
    "registeredOn": DATES,
    "latitude": st.floats(min_value=-90, max_value=90),
    "longitude": st.floats(min_value=-180, max_value=180),
    "populationIndex": st.floats(min_value=0, max_value=100),
    "cooperationIndex": st.floats(min_value=0, max_value=100),
    "itemsCount": st.integers(min_value=0, max_value=100_000),
    "guide": st.fixed_dictionaries(
        {},
        optional={
            "conditions": SAFE_TEXT,
            "steps": st.lists(SAFE_TEXT | JUNK, max_size=3),
            "timeLimitDays": JUNK_SCALAR,
            "materials": st.lists(
                st.one_of(
                    SAFE_TEXT,
                    st.fixed_dictionaries(
                        {"name": SAFE_TEXT | JUNK}, optional={"copies": JUNK, "note": JUNK}
                    ),
                ),
                max_size=3,
            )
            | JUNK,
            "fee": SAFE_TEXT | JUNK,
            "walkthrough": JUNK,
        },
    ),
}
BOOLEAN_FIELDS = {
    "sample",
    "modesSample",
    "published",
    "coordinatesApproximate",
    "hasCrossRegionWindow",
    "citywideShared",
}


def field_value(name: str) -> st.SearchStrategy[Any]:
    if name in PLAUSIBLE:
        plausible = PLAUSIBLE[name]
    elif name in BOOLEAN_FIELDS:
        plausible = st.booleans() | st.sampled_from(["是", "否", "yes", "0"])
    else:
        plausible = SAFE_TEXT
    return st.one_of(plausible, plausible, JUNK)


def hostile_record(section: str) -> st.SearchStrategy[Any]:
    fields = {name: field_value(name) for name in COLUMNS[section]}
    record = st.fixed_dictionaries({}, optional=fields)
    extra = st.dictionaries(JUNK_TEXT, JUNK, max_size=2)  # unknown fields
    with_extra = st.tuples(record, extra).map(lambda pair: {**pair[1], **pair[0]})
    return st.one_of(record, record, with_extra, JUNK)


def hostile_rows(section: str) -> st.SearchStrategy[Any]:
    rows = st.lists(hostile_record(section), max_size=4)
    duplicated = rows.filter(bool).map(lambda r: r + r[:1])  # the same key twice in one file
    return st.one_of(rows, rows, duplicated, JUNK)


HOSTILE_DOCUMENT = st.fixed_dictionaries(
    {},
    optional={section: hostile_rows(section) for section in SECTIONS}
    | {"unknownSection": JUNK, "": JUNK, "Matters": st.lists(hostile_record("matters"), max_size=1)},
)


@st.composite
def valid_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A document every row of which is valid, with unique keys, referring only to known matters.
    Every hall, agreement and contact carries its key (the import's identity for re-imports)."""
    tag = draw(st.integers(min_value=0, max_value=10**6))
    codes = [f"VD-{tag}-{i}" for i in range(draw(st.integers(min_value=0, max_value=3)))]
    known = codes + DEMO_MATTERS

    def text(max_size: int = 30) -> Any:
        return draw(st.none() | SAFE_TEXT.map(lambda t: t[:max_size]))

    matters = [
        {
            "code": code,
            "name": draw(SAFE_TEXT),
            "department": text(),
            "scope": draw(PLAUSIBLE["scope"]),
            "modes": draw(PLAUSIBLE["modes"]),
            "keywords": draw(PLAUSIBLE["keywords"]),
            "aliases": draw(PLAUSIBLE["aliases"]),
            "deadline": text(),
            "published": draw(st.booleans()),
            "sample": draw(st.booleans()),
            "guide": draw(
                st.none()
                | st.fixed_dictionaries(
                    {
                        "conditions": SAFE_TEXT,
                        "steps": st.lists(SAFE_TEXT, max_size=3),
                        "materials": st.lists(
                            st.fixed_dictionaries(
                                {
                                    "name": SAFE_TEXT,
                                    "required": st.booleans(),
                                    "copies": st.none() | st.integers(0, 100),
                                }
                            ),
                            max_size=3,
                        ),
                        "timeLimitDays": st.none() | st.integers(0, 3650),
                        "fee": st.none() | SAFE_TEXT,
                    }
                )
            ),
        }
        for code in codes
    ]
    halls = []
    for i in range(draw(st.integers(min_value=0, max_value=2))):
        located = draw(st.booleans())
        halls.append(
            {
                "key": f"vd-{tag}-hall-{i}",
                "name": draw(SAFE_TEXT),
                "regionCode": draw(st.sampled_from(COUNTIES + TOWNS)),
                "level": draw(PLAUSIBLE["level"]),
                "address": text(),
                "phone": text(20),
                "openingHours": text(),
                "latitude": draw(PLAUSIBLE["latitude"]) if located else None,
                "longitude": draw(PLAUSIBLE["longitude"]) if located else None,
                "hasCrossRegionWindow": draw(st.booleans()),
                "windowServices": draw(PLAUSIBLE["windowServices"]),
                "matterCodes": draw(st.lists(st.sampled_from(known), max_size=3, unique=True)),
            }
        )
    agreements = []
    for i in range(draw(st.integers(min_value=0, max_value=2))):
        signed = draw(st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2090, 1, 1)))
        agreements.append(
            {
                "key": f"vd-{tag}-agreement-{i}",
                "title": text(),
                "partnerCode": draw(st.sampled_from(PARTNERS)),
                "localCode": draw(PLAUSIBLE["localCode"]),
                "signedOn": signed.isoformat(),
                "expiresOn": draw(st.none() | st.just((signed + dt.timedelta(days=3 * 365)).isoformat())),
                "registeredOn": draw(st.none() | st.just(signed.isoformat())),
                "status": draw(PLAUSIBLE["status"]),
                "citywideShared": draw(st.booleans()),
                "matterCodes": draw(st.none() | st.lists(st.sampled_from(known), max_size=3, unique=True)),
                "itemsCount": draw(st.none() | PLAUSIBLE["itemsCount"]),
                "note": text(),
            }
        )
    partners = [
        {
            "regionCode": code,
            "populationIndex": draw(st.none() | PLAUSIBLE["populationIndex"]),
            "cooperationIndex": draw(st.none() | PLAUSIBLE["cooperationIndex"]),
            "sample": draw(st.booleans()),
        }
        for code in draw(st.lists(st.sampled_from(PARTNERS), max_size=2, unique=True))
    ]
    relations = [
        {
            "key": f"vd-{tag}-relation-{i}",
            "kind": draw(PLAUSIBLE["kind"]),
            "localCode": draw(PLAUSIBLE["localCode"]),
            "partnerCode": draw(st.sampled_from(PARTNERS)),
            "since": text(),
            "note": text(),
        }
        for i in range(draw(st.integers(min_value=0, max_value=1)))
    ]
    contacts = [
        {
            "key": f"vd-{tag}-contact-{i}",
            "name": draw(SAFE_TEXT),
            "regionCode": draw(st.sampled_from(COUNTIES + PARTNERS)),
            "organisation": text(),
            "role": text(),
            "phone": text(20),
            "liaisonGroup": text(),
        }
        for i in range(draw(st.integers(min_value=0, max_value=2)))
    ]
    sections = {
        "matters": matters,
        "halls": halls,
        "agreements": agreements,
        "partners": partners,
        "relations": relations,
        "contacts": contacts,
    }
    return {name: rows for name, rows in sections.items() if rows or draw(st.booleans())}


SPECIAL_VALUES = st.sampled_from(
    [
        10**400,
        -(10**400),
        float("nan"),
        float("inf"),
        -1,
        0,
        True,
        [],
        {},
        [[1]],
        "\ud800",
        "a\udfffb",
        "a\x00b",
        "\x00",
        "x" * 100_000,
        "2024-02-30",
        "9" * 5000,
        ["\ud800"],
        ["a\x00b"],
        [10**400],
        [None],
        [{"name": "\ud800"}],
        {"name": "\ud800"},
        {"conditions": "\ud800", "steps": ["\ud800"]},
        {"materials": [{"name": "a", "copies": 10**400}]},
    ]
)
MUTATIONS = ("set", "set", "set", "drop", "junk row", "duplicate row", "junk section", "unknown section")


@st.composite
def corrupted_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid document with one to three things wrong: mostly right, so the parsers and the
    writers are reached, with a hostile value where one field should be."""
    document = draw(valid_documents())
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        mutation = draw(st.sampled_from(MUTATIONS))
        filled = [name for name, rows in document.items() if isinstance(rows, list) and rows]
        if mutation == "unknown section" or not filled:
            document[draw(st.sampled_from(["Matters", "hall", "", "x" * 300]))] = draw(JUNK)
            continue
        section = draw(st.sampled_from(filled))
        rows = document[section]
        index = draw(st.integers(min_value=0, max_value=len(rows) - 1))
        row = rows[index]
        if mutation == "junk section":
            document[section] = draw(JUNK)
        elif mutation == "junk row":
            rows[index] = draw(JUNK)
        elif mutation == "duplicate row":
            rows.append(row)
        elif isinstance(row, dict):
            name = draw(st.sampled_from(COLUMNS[section]) | JUNK_TEXT)
            if mutation == "drop":
                row.pop(name, None)
            else:
                row[name] = draw(SPECIAL_VALUES | JUNK)
    return document


# ----------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module", autouse=True)
def report_counts() -> Iterator[None]:
    """Prints what the properties tried (shown with -s; figures for the hardening report)."""
    yield
    print(f"\nimport fuzz: {sum(TALLY.values())} inputs; {dict(sorted(TALLY.items()))}")


@pytest.fixture
async def import_ctx(demo_db: Database) -> AsyncIterator[ServiceContext]:
    async with demo_db.read() as session:
        tree = await load_tree(session)
    for code in COUNTIES + TOWNS + PARTNERS + [HOME]:
        assert code in tree, code
    yield ServiceContext(SYSTEM, tree, HOME)


async def snapshot(db: Database) -> dict[str, int]:
    """Row counts of every table, plus the change-log and outbox marks (every update is audited)."""
    counts: dict[str, int] = {}
    async with db.read() as session:
        for table in Base.metadata.sorted_tables:
            counts[table.name] = int(
                (await session.execute(select(func.count()).select_from(table))).scalar_one()
            )
        counts["change_log.max_id"] = int(
            (await session.execute(select(func.max(ChangeLog.id)))).scalar_one() or 0
        )
        counts["outbox.max_id"] = int(
            (await session.execute(select(func.max(OutboxEvent.id)))).scalar_one() or 0
        )
    return counts


def describe(document: Any) -> str:
    text = json.dumps(document, ensure_ascii=True, default=repr)
    return text if len(text) < 1500 else text[:1500] + "…"


# ----------------------------------------------------------------------------- parse_* never raise


PARSERS_WITH_CONTEXT = {
    "matters": lambda raw, ctx: parse_matter(raw, "matters", 1),
    "halls": lambda raw, ctx: parse_hall(raw, ctx, "halls", 1),
    "agreements": lambda raw, ctx: parse_agreement(raw, ctx, "agreements", 1),
    "partners": lambda raw, ctx: parse_partner(raw, ctx, "partners", 1),
    "relations": lambda raw, ctx: parse_relation(raw, ctx, "relations", 1),
    "contacts": lambda raw, ctx: parse_contact(raw, ctx, "contacts", 1),
}
CASE_FIELDS = [
    "title",
    "summary",
    "matterCode",
    "countyCode",
    "partnerCode",
    "happenedOn",
    "published",
    "sample",
]
ENTRY_FIELDS = ["question", "answer", "matterCode", "published", "sample", "feedbackId"]
FEEDBACK_FIELDS = [
    "description",
    "stage",
    "category",
    "matterCode",
    "homeRegionCode",
    "countyCode",
    "partnerCode",
    "pageUrl",
    "contact",
]


def loose_record(fields: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(st.fixed_dictionaries({}, optional={f: field_value(f) for f in fields}), JUNK)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@FUZZ
@given(data=st.data())
async def test_every_parser_collects_errors_and_never_raises(
    import_ctx: ServiceContext, data: st.DataObject
) -> None:
    ctx = import_ctx
    section = data.draw(st.sampled_from(SECTIONS), label="section")
    corrupted = (
        corrupted_documents()
        .map(lambda d: d.get(section))
        .filter(lambda rows: isinstance(rows, list) and rows)
    )
    candidates = [
        (
            "parse_" + section,
            PARSERS_WITH_CONTEXT[section],
            hostile_record(section) | corrupted.map(lambda r: r[-1]),
        ),
        ("parse_case", parse_case, loose_record(CASE_FIELDS)),
        ("parse_entry", lambda raw, _ctx: parse_entry(raw), loose_record(ENTRY_FIELDS)),
        ("parse_feedback", parse_feedback, loose_record(FEEDBACK_FIELDS)),
        ("parse_guide_form", lambda raw, _ctx: parse_guide_form(raw), PLAUSIBLE["guide"] | JUNK),
        ("parse_terms", lambda raw, _ctx: parse_terms(raw), st.lists(JUNK_TEXT, max_size=5) | JUNK),
    ]
    for name, parser, strategy in candidates:
        raw = data.draw(strategy, label=name)
        parsed, errors = parser(raw, ctx)  # raising anything is the failure
        TALLY[f"{name}:{'ok' if not errors else 'refused'}"] += 1
        if name == "parse_terms" or (name == "parse_guide_form" and raw is None):  # None: "no guide"
            continue
        assert (parsed is None) == bool(errors), (
            f"{name}: parsed={parsed!r} errors={errors!r} for {describe(raw)}"
        )
        for error in errors:
            assert error.field and error.message, error


# ----------------------------------------------------------------------------- import_document


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@FUZZ
@given(
    document=st.one_of(corrupted_documents(), corrupted_documents(), HOSTILE_DOCUMENT), dry_run=st.booleans()
)
async def test_hostile_documents_are_refused_whole_or_imported(
    demo_db: Database, import_ctx: ServiceContext, document: dict[str, Any], dry_run: bool
) -> None:
    before = await snapshot(demo_db)
    try:
        await import_document(demo_db, import_ctx, document, dry_run=dry_run)
    except BadInput as refused:
        TALLY["hostile:refused"] += 1
        assert refused.fields or isinstance(refused, ImportFileError), refused.describe()
        assert await snapshot(demo_db) == before, (
            f"a refused document changed the database: {describe(document)}"
        )
        return
    except Exception as exc:
        raise AssertionError(f"{type(exc).__name__}: {exc!s:.300} for {describe(document)}") from exc
    TALLY["hostile:imported" + (" (dry run)" if dry_run else "")] += 1
    if dry_run:
        assert await snapshot(demo_db) == before, f"a dry run changed the database: {describe(document)}"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@settings(FUZZ, max_examples=30)
@given(document=valid_documents())
async def test_valid_documents_import_and_a_second_import_changes_nothing(
    demo_db: Database, import_ctx: ServiceContext, document: dict[str, Any]
) -> None:
    try:
        await import_document(demo_db, import_ctx, document)
    except BadInput as refused:
        raise AssertionError(
            f"a valid document was refused: {refused.describe()}\n{describe(document)}"
        ) from refused
    after_first = await snapshot(demo_db)
    again = await import_document(demo_db, import_ctx, document)
    TALLY["valid:imported twice"] += 1
    assert not again.changes, f"the second import changed {dict(again.changes)}: {describe(document)}"
    assert await snapshot(demo_db) == after_first


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_reimporting_rows_without_a_key_changes_nothing(
    demo_db: Database, import_ctx: ServiceContext
) -> None:
    """CONTRACT §3: "importing the same file twice changes nothing". A hall, agreement or contact
    without `key` must either be refused (BadInput naming `key`) or be found again on the second
    import — not be created a second time."""
    document = {
        "halls": [{"name": "无编号的便民服务中心", "regionCode": "331004", "level": "TOWN"}],
        "agreements": [{"partnerCode": "511302", "localCode": "331004", "signedOn": "2024-03-01"}],
        "contacts": [{"name": "无编号联络人", "regionCode": "511300", "phone": "0817-0000000"}],
    }
    for section, rows in document.items():
        before = await snapshot(demo_db)
        try:
            await import_document(demo_db, import_ctx, {section: rows})
        except BadInput as refused:
            assert any(f.field == "key" for f in refused.fields), refused.describe()
            assert await snapshot(demo_db) == before
            continue
        after_first = await snapshot(demo_db)
        again = await import_document(demo_db, import_ctx, {section: rows})
        assert not again.changes, f"{section} without key: the second import did {dict(again.changes)}"
        assert await snapshot(demo_db) == after_first, f"{section} without key was created twice"


# One valid row per section; the sweep puts each special value into each field in turn.
BASE_ROWS: dict[str, dict[str, Any]] = {
    "matters": {
        "code": "SW-1",
        "name": "扫描事项",
        "scope": "CITYWIDE",
        "guide": {"conditions": "条件", "materials": [{"name": "身份证"}], "steps": ["申请"]},
    },
    "halls": {
        "key": "sw-hall",
        "name": "扫描大厅",
        "regionCode": "331004",
        "level": "COUNTY",
        "latitude": 28.5,
        "longitude": 121.3,
        "matterCodes": ["M-001"],
    },
    "agreements": {
        "key": "sw-agreement",
        "partnerCode": "511302",
        "localCode": "331004",
        "signedOn": "2024-01-01",
        "matterCodes": ["M-001"],
    },
    "partners": {"regionCode": "511300", "populationIndex": 50, "cooperationIndex": 50},
    "relations": {
        "key": "sw-relation",
        "kind": "COOPERATION",
        "localCode": "331004",
        "partnerCode": "511300",
    },
    "contacts": {"key": "sw-contact", "name": "扫描联络人", "regionCode": "511300", "liaisonGroup": "扫描群"},
}
GUIDE_FIELDS = ["guide.conditions", "guide.steps", "guide.materials", "guide.timeLimitDays", "guide.fee"]
SWEEP_VALUES: list[Any] = [
    10**400,
    float("nan"),
    float("inf"),
    True,
    "\ud800",
    "a\x00b",
    "x" * 100_000,
    ["\ud800"],
    ["a\x00b"],
    [10**400],
    [[1]],
    {"name": "\ud800"},
]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("section", SECTIONS)
async def test_every_special_value_in_every_field_is_refused_or_imported(
    demo_db: Database, import_ctx: ServiceContext, section: str
) -> None:
    """Deterministic sweep (dry runs): a valid row with one field replaced, for every field and
    value; the answer is an import or a BadInput, never another exception, and nothing changes."""
    before = await snapshot(demo_db)
    failures = []
    fields = COLUMNS[section] + (GUIDE_FIELDS if section == "matters" else [])
    for field in fields:
        for value in SWEEP_VALUES:
            row = json.loads(json.dumps(BASE_ROWS[section]))
            if field.startswith("guide."):
                row["guide"][field.removeprefix("guide.")] = value
            else:
                row[field] = value
            try:
                await import_document(demo_db, import_ctx, {section: [row]}, dry_run=True)
                TALLY["sweep:imported (dry run)"] += 1
            except BadInput:
                TALLY["sweep:refused"] += 1
            except Exception as exc:  # noqa: BLE001 - collected, reported together below
                failures.append(f"{field} = {repr(value)[:30]}: {type(exc).__name__}: {str(exc)[:120]}")
    assert not failures, f"{section}: {len(failures)} field/value pairs raised:\n" + "\n".join(failures)
    assert await snapshot(demo_db) == before


# ----------------------------------------------------------------------------- read_document

NESTED = st.integers(min_value=1, max_value=200_000).map(lambda n: "[" * n + "]" * n)


def json_texts() -> st.SearchStrategy[bytes]:
    document = st.dictionaries(st.sampled_from([*SECTIONS, "x"]), JUNK, max_size=3)
    return st.one_of(
        st.binary(max_size=300),
        document.map(lambda d: json.dumps(d, ensure_ascii=False).encode("utf-8", "surrogatepass")),
        document.map(lambda d: json.dumps(d).encode()[: max(1, len(json.dumps(d)) // 2)]),  # truncated
        NESTED.map(lambda n: ('{"matters": ' + n + "}").encode()),
        st.integers(min_value=1, max_value=20_000).map(lambda n: b'{"matters": [' + b"7" * n + b"]}"),
        st.just(b'{"matters": [], "matters": {"code": 1}}'),  # duplicated object keys
        st.just("{}".encode("utf-16")),
        st.just(b"\xef\xbb\xbf{}"),
    )


def csv_texts() -> st.SearchStrategy[bytes]:
    cell = st.one_of(
        JUNK_TEXT,
        NESTED,
        st.integers(min_value=1, max_value=20_000).map(lambda n: "[" + "7" * n + "]"),
        st.integers(min_value=100_000, max_value=300_000).map(lambda n: "x" * n),
    )
    header = st.sampled_from([COLUMNS["matters"][:4], ["code", "name"], ["", "code"], ["\x00"]])

    def table(parts: tuple[list[str], list[list[str]]]) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(parts[0])
        writer.writerows(parts[1])
        return buffer.getvalue().encode("utf-8", "surrogatepass")

    return st.one_of(
        st.binary(max_size=300),
        st.tuples(header, st.lists(st.lists(cell, max_size=3), max_size=3)).map(table),
    )


_XLSX: dict[str, bytes] = {}


def base_xlsx() -> bytes:
    """A real export (two matters) to mutate: a parser that only ever sees garbage tests little."""
    if "base" not in _XLSX:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "base.xlsx"
            write_document(
                {
                    "matters": [
                        {"code": "X-1", "name": "事项", "guide": {"steps": ["[1]"]}},
                        {"code": "X-2", "name": "<b>", "keywords": ["a", "b"]},
                    ]
                },
                path,
            )
            _XLSX["base"] = path.read_bytes()
    return _XLSX["base"]


def xlsx_bytes() -> st.SearchStrategy[bytes]:
    flips = st.lists(
        st.tuples(st.integers(min_value=0, max_value=10**6), st.integers(0, 255)), min_size=1, max_size=8
    )

    def mutate(changes: list[tuple[int, int]]) -> bytes:
        data = bytearray(base_xlsx())
        for position, value in changes:
            data[position % len(data)] = value
        return bytes(data)

    def truncate(fraction: float) -> bytes:
        data = base_xlsx()
        return data[: int(len(data) * fraction)]

    return st.one_of(
        st.binary(max_size=300),
        flips.map(mutate),
        st.floats(0, 1).map(truncate),
        st.just(b"PK\x03\x04" + b"\x00" * 100),
    )


def xlsx_with_cell(text: str) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cell.xlsx"
        write_document({"matters": [{"code": "X-1", "name": text}]}, path)
        return path.read_bytes()


# Named cases, so each known way of breaking the reader is its own test (the property below
# stops at the first failure it finds).
READ_CASES: dict[str, tuple[str, Any]] = {
    "json-5000-digit-number": ("a.json", lambda: b'{"matters": [' + b"7" * 5000 + b"]}"),
    "json-nested-100000-deep": ("a.json", lambda: b'{"matters": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    "json-duplicated-keys": ("a.json", lambda: b'{"matters": [], "matters": {"code": 1}}'),
    "json-utf16": ("a.json", lambda: "{}".encode("utf-16")),
    "json-top-level-list": ("a.json", lambda: b"[]"),
    "csv-5000-digit-number-in-list-cell": ("a.matters.csv", lambda: b"code,name\n[" + b"7" * 5000 + b"],x\n"),
    "csv-list-cell-nested-100000-deep": ("a.matters.csv", lambda: b"code,guide\nA," + b"[" * 100_000 + b"\n"),
    "csv-200000-character-cell": ("a.matters.csv", lambda: b"code,name\nA," + b"x" * 200_000 + b"\n"),
    "csv-nul-in-cell": ("a.matters.csv", lambda: b"code,name\nA\x00,b\n"),
    "csv-not-utf8": ("a.matters.csv", lambda: b"code,name\n\xff\xfe,b\n"),
    "xlsx-cell-nested-3000-deep": ("a.xlsx", lambda: xlsx_with_cell("[" * 3000)),
    "xlsx-truncated": ("a.xlsx", lambda: base_xlsx()[:2000]),
    "xlsx-empty": ("a.xlsx", lambda: b""),
}


@pytest.mark.parametrize("case", READ_CASES, ids=list(READ_CASES))
def test_read_document_named_cases(case: str, tmp_path: Path) -> None:
    name, make = READ_CASES[case]
    path = tmp_path / name
    path.write_bytes(make())
    try:
        document = read_document(path)
    except ImportFileError:
        return
    except Exception as exc:
        raise AssertionError(f"{case}: read_document raised {type(exc).__name__}: {exc!s:.200}") from exc
    assert isinstance(document, dict)


@settings(FUZZ, max_examples=80, phases=[Phase.explicit, Phase.generate])
@given(
    case=st.one_of(
        st.tuples(st.just("fuzz.json"), json_texts()),
        st.tuples(st.sampled_from(["fuzz.matters.csv", "halls.csv", "fuzz.csv"]), csv_texts()),
        st.tuples(st.just("fuzz.xlsx"), xlsx_bytes()),
    )
)
def test_read_document_returns_a_document_or_import_file_error(case: tuple[str, bytes]) -> None:
    name, content = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        try:
            document = read_document(path)
        except ImportFileError:
            TALLY[f"read {path.suffix}: refused"] += 1
            return
        except Exception as exc:
            raise AssertionError(
                f"read_document({name}) raised {type(exc).__name__}: {exc!s:.200} "
                f"for {content[:200]!r}… ({len(content)} bytes)"
            ) from exc
    TALLY[f"read {path.suffix}: read"] += 1
    assert isinstance(document, dict)
