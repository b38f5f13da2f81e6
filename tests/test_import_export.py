"""Import is all or nothing and idempotent; export → import → export is the identity, on both backends."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from api import bundled
from api.db import Database
from api.models import Agreement, ChangeLog, Guide, Hall, Matter, OutboxEvent, Region
from api.services.base import SYSTEM, BadInput, ServiceContext
from api.services.regions import load_tree
from api.services.transfer import export_document, import_document, read_document, write_document
from api.settings import Settings

COUNTED = (Matter, Hall, Agreement, Guide, ChangeLog, OutboxEvent)


async def counts(db: Database) -> dict[str, int]:
    async with db.read() as session:
        result = {
            m.__tablename__: (await session.execute(select(func.count()).select_from(m))).scalar_one()
            for m in COUNTED
        }
        result["indexed_regions"] = (
            await session.execute(
                select(func.count()).select_from(Region).where(Region.population_index.is_not(None))
            )
        ).scalar_one()
    return result


async def context(db: Database) -> ServiceContext:
    async with db.read() as session:
        tree = await load_tree(session)
    return ServiceContext(actor=SYSTEM, tree=tree, home_city="331000")


def small_document() -> dict[str, Any]:
    return {
        "matters": [
            {
                "code": "M-T1",
                "name": "测试事项甲",
                "department": "人力资源社会保障局",
                "scope": "CROSS_PROVINCE",
                "modes": ["FULL_ONLINE"],
                "keywords": ["测试"],
                "guide": {
                    "conditions": "无",
                    "materials": [{"name": "居民身份证", "required": True, "copies": 1}],
                    "steps": ["申请", "受理"],
                    "timeLimitDays": 5,
                    "fee": "不收费",
                    "legalBasis": "无",
                },
            },
            {"code": "M-T2", "name": "测试事项乙", "scope": "CITYWIDE"},
        ],
        "halls": [
            {
                "key": "t-hall",
                "name": "测试大厅",
                "regionCode": "331004",
                "level": "COUNTY",
                "latitude": 28.58,
                "longitude": 121.37,
                "hasCrossRegionWindow": True,
                "matterCodes": ["M-T2"],
            }
        ],
        "agreements": [
            {
                "key": "t-ok",
                "title": "有效协议",
                "partnerCode": "511300",
                "localCode": "331004",
                "signedOn": "2023-05-10",
                "effectiveFrom": "2023-05-10",
                "expiresOn": None,
                "status": "ACTIVE",
                "citywideShared": True,
                "matterCodes": None,
            },
            {
                "key": "t-list",
                "partnerCode": "520500",
                "localCode": "331024",
                "signedOn": "2024-01-02",
                "citywideShared": False,
                "matterCodes": ["M-T1"],
            },
        ],
        "partners": [{"regionCode": "511300", "populationIndex": 80, "cooperationIndex": 75}],
    }


async def test_one_bad_region_writes_nothing_and_names_row_and_field(db: Database) -> None:
    document = small_document()
    document["agreements"][1]["partnerCode"] = "000000"
    before = await counts(db)
    with pytest.raises(BadInput) as raised:
        await import_document(db, await context(db), document)
    assert await counts(db) == before, "valid rows of the same file must not be written either"
    described = raised.value.describe()
    assert "agreements 第2条" in described and "partnerCode" in described and "000000" in described


async def test_every_bad_row_and_field_is_reported(db: Database) -> None:
    document = small_document()
    document["matters"][1]["scope"] = "EVERYWHERE"
    document["halls"][0]["latitude"] = "north"
    document["agreements"][0]["signedOn"] = "2023-13-45"
    document["agreements"][0]["expiresOn"] = "2020-01-01"
    document["agreements"][1]["matterCodes"] = ["M-NOPE"]
    document["partners"][0]["populationIndex"] = 120
    with pytest.raises(BadInput) as raised:
        await import_document(db, await context(db), document)
    places = {(e.section, e.row, e.field) for e in raised.value.fields}
    assert {
        ("matters", 2, "scope"),
        ("halls", 1, "latitude"),
        ("agreements", 1, "signedOn"),
        ("agreements", 2, "matterCodes"),
        ("partners", 1, "populationIndex"),
    } <= places


async def test_the_same_file_twice_creates_nothing_new(db: Database) -> None:
    ctx = await context(db)
    first = await import_document(db, ctx, small_document())
    assert first.changes
    after_first = await counts(db)
    second = await import_document(db, ctx, small_document())
    assert not second.changes
    assert await counts(db) == after_first


async def test_dry_run_checks_but_writes_nothing(db: Database) -> None:
    before = await counts(db)
    report = await import_document(db, await context(db), small_document(), dry_run=True)
    assert report.changes[("agreement", "create")] == 2
    assert await counts(db) == before


async def test_changed_guide_becomes_a_new_version(db: Database) -> None:
    ctx = await context(db)
    await import_document(db, ctx, small_document())
    changed = small_document()
    changed["matters"][0]["guide"]["timeLimitDays"] = 3
    await import_document(db, ctx, changed)
    async with db.read() as session:
        versions = (await session.execute(select(Guide.version, Guide.status).order_by(Guide.version))).all()
    assert [(v, getattr(s, "value", s)) for v, s in versions] == [(1, "ARCHIVED"), (2, "PUBLISHED")]


@pytest.mark.parametrize("suffix", [".json", ".csv", ".xlsx"])
async def test_export_import_export_is_identity(
    suffix: str, demo_db: Database, empty_settings: Settings, tmp_path: Path
) -> None:
    exported = await export_document(demo_db)
    files = write_document(exported, tmp_path / f"export{suffix}")
    assert files and all(f.exists() for f in files)
    empty = Database(empty_settings.database_url)
    try:
        await import_document(empty, await context(empty), read_document(tmp_path / f"export{suffix}"))
        again = await export_document(empty)
    finally:
        await empty.dispose()
    assert json.dumps(again, ensure_ascii=False, sort_keys=True) == json.dumps(
        exported, ensure_ascii=False, sort_keys=True
    )


async def test_demo_export_matches_bundled_records(demo_db: Database) -> None:
    exported = await export_document(demo_db)
    demo = bundled.demo_document()
    for section in ("matters", "halls", "agreements", "partners", "relations", "contacts"):
        assert len(exported[section]) == len(demo.get(section, [])), section


async def test_export_is_the_same_from_sqlite_and_postgresql(template_store: Any, tmp_path: Path) -> None:
    """The same import into each backend exports to the very same text."""
    texts = {}
    for backend in ("sqlite", "postgresql"):
        folder = tmp_path / backend
        folder.mkdir()
        database = Database(template_store.clone(backend, False, folder))
        try:
            await import_document(database, await context(database), copy.deepcopy(bundled.demo_document()))
            texts[backend] = json.dumps(await export_document(database), ensure_ascii=False, sort_keys=True)
        finally:
            await database.dispose()
    assert texts["sqlite"] == texts["postgresql"]
