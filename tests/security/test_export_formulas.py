"""No formula leaves tongban in a spreadsheet (issue 14, item 4), and the escaping loses nothing.

The probe: a county account sets its hall's phone to `=1+2` through GraphQL; `tongban export` wrote
it as a live formula cell in .xlsx, and .csv kept the leading `=`. Now XLSX text is a string cell,
CSV text that a spreadsheet would run gets a leading `'` that the CSV import removes again, and
export → import → export is byte-identical for CSV (and equal cell by cell for XLSX) with values that
start with every dangerous character and with `'` itself. The staff cooperation table downloads
(.xlsx, .csv) follow the same rule. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from api.db import Database
from api.services.base import SYSTEM, ServiceContext
from api.services.cells import csv_escape, csv_unescape
from api.services.regions import load_tree
from api.services.transfer import export_document, import_document, read_document, write_document
from api.settings import Settings
from tests.test_staff_helpers import signed_in

# The values a spreadsheet would run, and values that look like the escaping itself.
HOSTILE = [
    "=1+2",
    "+1",
    "-1",
    "@SUM(A1)",
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://example.invalid","点我")',
    "'quoted",
    "''two quotes",
    "'=1+2",
    "'",
]


@pytest.mark.parametrize("value", [*HOSTILE, "\t=1", "\r=1", "0576-88888888", "plain", ""])
def test_csv_escaping_is_reversible_and_neutralises_formulas(value: str) -> None:
    escaped = csv_escape(value)
    assert not escaped.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert csv_unescape(escaped)[0] == value
    assert csv_escape(-1.5) == -1.5  # numbers are numbers


async def context(db: Database) -> ServiceContext:
    async with db.read() as session:
        tree = await load_tree(session)
    return ServiceContext(actor=SYSTEM, tree=tree, home_city="331000")


def hostile_document() -> dict[str, Any]:
    halls = [
        {
            "key": f"hostile-{n}",
            "name": f"测试大厅{n}",
            "regionCode": "331004",
            "level": "COUNTY",
            "phone": value,
            "address": value,
            "openingHours": value,
            "latitude": 28.58,
            "longitude": 121.37,
        }
        for n, value in enumerate(HOSTILE)
    ]
    agreements = [
        {
            "key": f"hostile-agreement-{n}",
            "title": value,
            "partnerCode": "511300",
            "localCode": "331004",
            "signedOn": "2024-03-01",
            "registeredOn": "2024-03-02",
            "note": value,
            "documentRef": value,
            "citywideShared": True,
        }
        for n, value in enumerate(HOSTILE)
    ]
    return {"halls": halls, "agreements": agreements}


async def test_a_county_phone_formula_is_exported_as_text(
    client: httpx.AsyncClient, county_token: Any, settings: Settings, tmp_path: Path
) -> None:
    """The probe's reproduction: GraphQL, a county token, a phone `=1+2`, `tongban export`."""
    token = await county_token("331004")
    mutation = """mutation { upsertHall(input: {key: "probe-hall", name: "探测大厅", regionCode: "331004",
                  level: COUNTY, phone: "=1+2", latitude: 28.58, longitude: 121.37}) { phone } }"""
    response = await client.post(
        "/graphql", json={"query": mutation}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.json()["data"]["upsertHall"]["phone"] == "=1+2", response.text
    db = Database(settings.database_url)
    try:
        exported = await export_document(db)
    finally:
        await db.dispose()
    write_document(exported, tmp_path / "out.xlsx")
    write_document(exported, tmp_path / "out.csv")

    book = load_workbook(tmp_path / "out.xlsx")  # not data_only: a formula would show as one
    phones = [row for row in book["halls"].iter_rows() if row[0].value == "probe-hall"]
    phone = phones[0][book["halls"][1].index(next(c for c in book["halls"][1] if c.value == "phone"))]
    assert phone.value == "=1+2" and phone.data_type == "s"
    with zipfile.ZipFile(tmp_path / "out.xlsx") as archive:
        sheets = [archive.read(name) for name in archive.namelist() if name.startswith("xl/worksheets/")]
    assert sheets and not any(b"<f>" in sheet or b"<f " in sheet for sheet in sheets)

    halls_csv = (tmp_path / "out.halls.csv").read_text(encoding="utf-8")
    assert ",'=1+2," in halls_csv and ",=1+2," not in halls_csv


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
async def test_export_import_export_keeps_every_hostile_value(
    suffix: str, demo_db: Database, empty_settings: Settings, tmp_path: Path
) -> None:
    await import_document(demo_db, await context(demo_db), hostile_document())
    first = await export_document(demo_db)
    assert {h["phone"] for h in first["halls"] if h["key"].startswith("hostile-")} == set(HOSTILE)
    write_document(first, tmp_path / "first" / f"out{suffix}")

    # into an empty database: every value arrives as it was
    empty = Database(empty_settings.database_url)
    try:
        await import_document(empty, await context(empty), read_document(tmp_path / "first" / f"out{suffix}"))
        second = await export_document(empty)
    finally:
        await empty.dispose()
    assert second == first
    write_document(second, tmp_path / "second" / f"out{suffix}")

    # and back into the first: nothing changes
    report = await import_document(
        demo_db, await context(demo_db), read_document(tmp_path / "second" / f"out{suffix}")
    )
    assert not report.changes, report.changes

    if suffix == ".csv":
        for path in sorted((tmp_path / "first").iterdir()):
            assert (tmp_path / "second" / path.name).read_bytes() == path.read_bytes(), path.name
        text = (tmp_path / "first" / "out.halls.csv").read_text(encoding="utf-8")
        for line in text.splitlines():
            assert not any(cell.startswith(("=", "+", "@")) for cell in line.split(","))
    else:
        cells = []
        for folder in ("first", "second"):
            book = load_workbook(tmp_path / folder / "out.xlsx")
            values = [
                [(c.value, c.data_type) for c in row]
                for sheet in book.worksheets
                for row in sheet.iter_rows()
            ]
            assert not any(kind == "f" for row in values for _v, kind in row)
            cells.append(values)
        assert cells[0] == cells[1]


async def test_staff_table_downloads_carry_no_formula(
    app: Any, settings: Settings, demo_db: Database
) -> None:
    await import_document(demo_db, await context(demo_db), hostile_document())
    async with signed_in(app, settings, "county", "331004") as luqiao:
        xlsx = await luqiao.get("/staff/table.xlsx")
        assert xlsx.status_code == 200
        book = load_workbook(io.BytesIO(xlsx.content))
        cells = [c for row in book.active.iter_rows() for c in row if c.value is not None]
        assert not any(c.data_type == "f" for c in cells)
        titles = {c.value for c in cells if isinstance(c.value, str)}
        assert "=1+2" in titles and "@SUM(A1)" in titles
        with zipfile.ZipFile(io.BytesIO(xlsx.content)) as archive:
            sheets = [archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/")]
        assert not any(b"<f>" in s or b"<f " in s for s in sheets)

        csv_response = await luqiao.get("/staff/table.csv")
        body = csv_response.content.decode("utf-8-sig")
        assert "'=1+2" in body and "'@SUM(A1)" in body and "''quoted" in body
        for line in body.splitlines():
            assert not any(cell.startswith(("=", "+", "-", "@")) for cell in line.split(","))
