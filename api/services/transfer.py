"""Import and export in the one file format of CONTRACT.md §3 (JSON, CSV, XLSX).

No formula leaves in a file: XLSX text is written as string cells, CSV text that a spreadsheet would
run gets a leading `'` that the CSV import removes again (`cells.py`), so export → import → export
is identical.

Import is all or nothing: the whole file is read and every row checked (fields, region codes,
dates, enums, references to matters in the database or in the same file) before one transaction
writes it through the same service functions the forms and the API use. One bad row and nothing
is written; the error names every bad row and field. Importing the same file twice changes nothing,
because every service compares before writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from api.db import Database
from api.models import Agreement, ChangeLog, Contact, Hall, LiaisonGroup, Matter, Region, RegionRelation
from api.progress import Progress
from api.records import SECTIONS as RECORD_SECTIONS
from api.services.agreements import natural_key as agreement_key
from api.services.agreements import parse_agreement, save_agreement
from api.services.base import (
    BULK,
    PRELOADED_ROWS,
    BadInput,
    Bulk,
    FieldError,
    ServiceContext,
    ServiceError,
    write_bulk,
)
from api.services.cells import csv_escape, csv_unescape, xlsx_cell
from api.services.directory import parse_contact, parse_relation, save_contact, save_relation
from api.services.halls import natural_key as hall_key
from api.services.halls import parse_hall, save_hall
from api.services.matters import parse_matter, preload_matters, save_matter, unchanged_since_planned
from api.services.partners import parse_partner, save_partner
from api.services.snapshots import (
    agreement_snapshot,
    contact_snapshot,
    hall_snapshot,
    matter_snapshot,
    partner_snapshot,
    published_guide,
    relation_snapshot,
)

SECTIONS = ("matters", "halls", "agreements", "partners", "relations", "contacts")
KEY_FIELD = {
    "matters": "code",
    "halls": "key",
    "agreements": "key",
    "partners": "regionCode",
    "relations": "key",
    "contacts": "key",
}
# The export's columns, in order: each record's field table (api/records.py).
COLUMNS = {section: record.export_columns() for section, record in RECORD_SECTIONS.items()}
MAX_IMPORT_BYTES = 50 * 1024 * 1024


class ImportFileError(BadInput):
    """The file cannot be read at all (format, encoding, structure)."""


@dataclass
class ImportReport:
    counts: dict[str, int] = field(default_factory=dict)
    changes: Counter[tuple[str, str]] = field(default_factory=Counter)
    dry_run: bool = False

    def summary(self) -> str:
        parts = [f"{section} {n} 条" for section, n in self.counts.items() if n]
        changed = ", ".join(f"{entity} {action} {n}" for (entity, action), n in sorted(self.changes.items()))
        verb = "检查通过(未写入, --dry-run)" if self.dry_run else "已导入"
        return f"{verb}: {', '.join(parts) or '空文件'}; 变更: {changed or '无'}"


# ----------------------------------------------------------------------------- reading files


def _cell(value: Any, csv: bool = False) -> Any:
    """CSV/XLSX cells: empty → null; JSON text for lists and objects; everything else as given. A CSV
    cell escaped against formulas (`cells.csv_escape`) is the text as written, one `'` removed."""
    if value is None:
        return None
    if isinstance(value, str):
        if csv:
            value, escaped = csv_unescape(value)
            if escaped:
                return value
        text = value.strip()
        if text == "":
            return None
        if text[0] in "[{":
            try:
                return json.loads(text)
            except (ValueError, RecursionError):  # not JSON after all: keep the text as typed
                return text
        return text
    return value


def _rows_from_table(header: list[Any], rows: list[list[Any]], csv: bool = False) -> list[dict[str, Any]]:
    names = [str(h).strip() if h is not None else "" for h in header]
    records = []
    for row in rows:
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
            continue
        records.append({name: _cell(value, csv) for name, value in zip(names, row, strict=False) if name})
    return records


def _section_of(path: Path) -> str | None:
    stem = path.stem.lower()
    for section in SECTIONS:
        if stem == section or stem.endswith(("." + section, "_" + section, "-" + section)):
            return section
    return None


def _check_size(path: Path) -> None:
    if path.stat().st_size > MAX_IMPORT_BYTES:
        raise ImportFileError(f"{path.name} 过大(上限 {MAX_IMPORT_BYTES // (1024 * 1024)} MiB)")


def _csv_records(path: Path) -> list[dict[str, Any]]:
    _check_size(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path.name} 不是 UTF-8 编码的 CSV 文件") from exc
    try:
        table = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise ImportFileError(f"{path.name} 不是有效的 CSV 文件: {exc}") from exc
    if not table:
        return []
    return _rows_from_table(table[0], table[1:], csv=True)


def read_document(path: Path) -> dict[str, Any]:
    """Read a .json, .csv (one section per file: `NAME.SECTION.csv` or `SECTION.csv`) or .xlsx file."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        section = _section_of(path)
        if section is not None and path.exists():
            return {section: _csv_records(path)}
        siblings = {s: path.with_name(f"{path.stem}.{s}.csv") for s in SECTIONS}
        found = {s: p for s, p in siblings.items() if p.exists()}
        if not found:
            raise ImportFileError(
                f"找不到 {path.name}: CSV 每个部分一个文件, 文件名以部分名结尾(如 data.matters.csv), 可选部分: "
                + ", ".join(SECTIONS)
            )
        return {s: _csv_records(p) for s, p in found.items()}
    if not path.exists():
        raise ImportFileError(f"找不到文件 {path}")
    _check_size(path)
    if suffix == ".json":
        try:
            document = json.loads(path.read_text(encoding="utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise ImportFileError(f"{path.name} 不是 UTF-8 编码") from exc
        except json.JSONDecodeError as exc:
            raise ImportFileError(
                f"{path.name} 不是有效的 JSON: 第{exc.lineno}行第{exc.colno}列 {exc.msg}"
            ) from exc
        except (ValueError, RecursionError) as exc:  # e.g. a number of thousands of digits, deep nesting
            raise ImportFileError(f"{path.name} 无法读取: {type(exc).__name__}") from exc
        if not isinstance(document, dict):
            raise ImportFileError("JSON 顶层应为对象, 包含 matters / halls / agreements / partners 等部分")
        return document
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for a broken file
            raise ImportFileError(f"{path.name} 不是有效的 XLSX 文件: {type(exc).__name__}") from exc
        sheets: dict[str, Any] = {}
        try:
            for sheet in workbook.worksheets:
                table = [list(r) for r in sheet.iter_rows(values_only=True)]
                if table:
                    sheets[sheet.title] = _rows_from_table(table[0], table[1:])
        finally:
            workbook.close()
        return sheets
    raise ImportFileError(f"不支持的文件类型 {suffix or '(无扩展名)'}: 请用 .json、.csv 或 .xlsx")


# ----------------------------------------------------------------------------- validating and writing


# Each section's parser and saver. What passes between them is that section's own record class
# (MatterData, HallData, …): one dict cannot type that per key, so the record is `Any` here only.
Parser = Callable[[Any, ServiceContext, str, int], tuple[Any, list[FieldError]]]
Saver = Callable[[AsyncSession, ServiceContext, Any], Awaitable[object]]

PARSERS: dict[str, Parser] = {
    "matters": lambda raw, ctx, s, r: parse_matter(raw, s, r),
    "halls": parse_hall,
    "agreements": parse_agreement,
    "partners": parse_partner,
    "relations": parse_relation,
    "contacts": parse_contact,
}


async def validate_document(
    session: AsyncSession, ctx: ServiceContext, document: dict[str, Any], progress: Progress | None = None
) -> tuple[dict[str, list[Any]], list[FieldError]]:
    """Check every row of every section; return the parsed rows and every problem found.
    `progress` hears checking:<section> (rows checked of all the file's rows)."""
    total = sum(len(rows) for rows in document.values() if isinstance(rows, list))
    done = 0
    errors: list[FieldError] = []
    parsed: dict[str, list[Any]] = {s: [] for s in SECTIONS}
    for name in document:
        if name not in SECTIONS:
            errors.append(FieldError(name, "未知的部分, 可选: " + ", ".join(SECTIONS)))
    for section in SECTIONS:
        rows = document.get(section)
        if rows is None:
            continue
        if not isinstance(rows, list):
            errors.append(FieldError(section, "应为列表"))
            continue
        seen: dict[str, int] = {}
        for index, raw in enumerate(rows, start=1):
            data, row_errors = PARSERS[section](raw, ctx, section, index)
            errors.extend(row_errors)
            key = raw.get(KEY_FIELD[section]) if isinstance(raw, dict) else None
            if key not in (None, ""):
                if str(key) in seen:
                    errors.append(
                        FieldError(
                            KEY_FIELD[section], f"与第{seen[str(key)]}条重复", section, index, str(key)
                        )
                    )
                seen.setdefault(str(key), index)
            if data is not None:
                parsed[section].append((index, data))
            done += 1
            if progress is not None and done % 250 == 0:
                progress(f"checking:{section}", done, total)
                await asyncio.sleep(0)  # a progress reporter waiting to write gets its turn
        if progress is not None:
            progress(f"checking:{section}", done, total)
    file_codes = {d.code for _, d in parsed["matters"]}
    referenced = {c for s in ("halls", "agreements") for _, d in parsed[s] for c in (d.matter_codes or [])}
    unknown = referenced - file_codes
    if unknown:
        existing = set((await session.execute(select(Matter.code).where(Matter.code.in_(unknown)))).scalars())
        unknown -= existing
    for section in ("halls", "agreements"):
        for index, data in parsed[section]:
            for code in data.matter_codes or []:
                if code in unknown:
                    errors.append(FieldError("matterCodes", f"未知事项编码 {code}", section, index, data.key))
    return parsed, errors


SAVERS: dict[str, Saver] = {
    "matters": lambda s, c, d: save_matter(s, c, d),
    "halls": lambda s, c, d: save_hall(s, c, d),
    "agreements": lambda s, c, d: save_agreement(s, c, d, register_today=False),
    "partners": save_partner,
    "relations": save_relation,
    "contacts": save_contact,
}


class _DryRun(Exception):
    pass


def row_key(section: str, data: Any) -> str:
    """The key the service will store the row under (a natural key for a keyless row)."""
    if section == "matters":
        return str(data.code)
    if section == "partners":
        return str(data.region_code)
    if data.key is not None:
        return str(data.key)
    if section == "halls":
        return hall_key(data.values["region_code"], data.values["name"])
    if section == "agreements":
        return agreement_key(data)
    if section == "contacts":
        return hall_key(data.values["region_code"], data.values["name"], "contact")
    return ""


LOADERS: dict[str, tuple[Any, Any, Any]] = {
    # section: (model, key column, eager options)
    "matters": (Matter, Matter.code, (selectinload(Matter.guides),)),
    "halls": (Hall, Hall.key, (selectinload(Hall.matters),)),
    "agreements": (Agreement, Agreement.key, (selectinload(Agreement.matters),)),
    "partners": (Region, Region.code, ()),
    "relations": (RegionRelation, RegionRelation.key, ()),
    "contacts": (Contact, Contact.key, ()),
}
_CHUNK = 500  # well under every driver's bound-parameter limit


async def load_by_key(
    session: AsyncSession, section: str, keys: list[str], *, lock: bool = False
) -> dict[str, Any]:
    """The section's stored records with these keys, in a few queries (`lock`: FOR UPDATE on
    PostgreSQL, as the services' own loaders lock the one row they save)."""
    model, column, options = LOADERS[section]
    found: dict[str, Any] = {}
    for start in range(0, len(keys), _CHUNK):
        query = select(model).options(*options).where(column.in_(keys[start : start + _CHUNK]))
        if lock:
            query = query.with_for_update(of=model)
        for record in (await session.execute(query)).scalars():
            found[str(getattr(record, column.key))] = record
    return found


async def _preload_section(session: AsyncSession, section: str, rows: list[tuple[int, Any]]) -> None:
    """What the section's service functions would load row by row, loaded for all rows at once
    (`base.preloaded`): the records by key, locked; the matters halls and agreements name; the
    liaison groups."""
    cache = session.info.setdefault(PRELOADED_ROWS, {})
    model = LOADERS[section][0]
    keys = sorted({row_key(section, data) for _index, data in rows})
    found = await load_by_key(session, section, keys, lock=True)
    cache.setdefault(model, {}).update({key: found.get(key) for key in keys})
    if section in ("halls", "agreements"):
        codes = sorted({c for _index, data in rows for c in (data.matter_codes or [])})
        matters = cache.setdefault(Matter, {})
        for start in range(0, len(codes), _CHUNK):
            query = select(Matter).where(Matter.code.in_(codes[start : start + _CHUNK]))
            matters.update({m.code: m for m in (await session.execute(query)).scalars()})
        matters.update({code: None for code in codes if code not in matters})
    if section == "contacts":
        groups = cache.setdefault(LiaisonGroup, {})
        groups.update({g.name: g for g in (await session.execute(select(LiaisonGroup))).scalars()})


async def save_section(
    session: AsyncSession,
    ctx: ServiceContext,
    section: str,
    rows: list[tuple[int, Any]],
    *,
    on_error: Callable[[str, int, Any, ServiceError], None] | None = None,
    progress: Progress | None = None,
    done: int = 0,
    total: int = 0,
) -> int:
    """Every row of one section (not matters: see `write_parsed`) through its service function, in
    bulk: the records loaded for all rows first, nothing flushed per row, the new rows, change-log
    and outbox entries written together at the end (`base.write_bulk`). The services decide each
    row exactly as for a single save (validate, permit, compare, version, audit, outbox). A refused
    row raises, or with `on_error` is reported and the rest go on (the caller rolls back). Returns
    `done` advanced by the rows saved."""
    bulk = session.info.get(BULK)
    if bulk is None:
        session.info[BULK] = bulk = Bulk()
    await _preload_section(session, section, rows)
    for index, data in rows:
        try:
            await SAVERS[section](session, ctx, data)
        except ServiceError as error:
            if on_error is None:
                raise
            on_error(section, index, data, error)
        done += 1
        if progress is not None and done % 250 == 0:
            progress(f"writing:{section}", done, total)
            await asyncio.sleep(0)
    if progress is not None:
        progress(f"writing:{section}", done, total)
    await write_bulk(session, bulk)
    return done


async def write_parsed(
    db: Database,
    ctx: ServiceContext,
    parsed: dict[str, list[Any]],
    *,
    progress: Progress | None = None,
    on_error: Callable[[str, int, Any, ServiceError], None] | None = None,
    before_commit: Callable[[AsyncSession, int], Awaitable[None]] | None = None,
) -> None:
    """Write checked rows in one short transaction, through the services, in bulk.

    On SQLite a write transaction holds the whole database's lock (staff sign-ins queue behind it),
    so as much as possible happens before it, in a read transaction: the matters (the big section:
    a city catalogue has thousands) are decided there by the same `save_matter` as always, in bulk
    mode (`base.Bulk`): existing ones loaded in a few queries and changed in memory, new ones
    built, change-log and outbox rows collected. The write transaction then checks that none of
    those matters changed meanwhile (else CONFLICT, nothing written), writes them with a few
    executemany statements, and saves every other section in bulk (`save_section`).
    `before_commit(session, last change-log id before the import)` runs last inside the
    transaction (a report; an exception there rolls everything back)."""
    total = sum(len(rows) for rows in parsed.values())
    done = 0
    plan = Bulk()
    codes = [data.code for _index, data in parsed["matters"]]
    changed: list[Matter] = []
    if codes:
        if progress is not None:
            progress("writing:matters", 0, total)
        async with db.read() as session:
            session.info[BULK] = plan
            loaded = await preload_matters(session, codes, lock=False)
            for index, data in parsed["matters"]:
                try:
                    await SAVERS["matters"](session, ctx, data)
                except ServiceError as error:
                    if on_error is None:
                        raise
                    on_error("matters", index, data, error)
                done += 1
                if progress is not None and done % 250 == 0:
                    progress("writing:matters", done, total)
                    await asyncio.sleep(0)
            if progress is not None:
                progress("writing:matters", done, total)
            changed = [m for m in loaded.values() if m.version != plan.versions[m.code]]
    async with db.write() as session:
        first_log = (await session.execute(select(func.max(ChangeLog.id)))).scalar_one() or 0
        if codes:
            await unchanged_since_planned(session, plan, [m.code for m in plan.new_matters])
            session.add_all(changed)  # detached, with their changes: the flush writes them
            await write_bulk(session, plan)  # matters, guides, change log, outbox: executemany
        session.info[BULK] = Bulk()
        for section in SECTIONS:
            if section == "matters" or not parsed[section]:
                continue
            done = await save_section(
                session,
                ctx,
                section,
                parsed[section],
                on_error=on_error,
                progress=progress,
                done=done,
                total=total,
            )
        if progress is not None:
            progress("writing", total, total)
        if before_commit is not None:
            await before_commit(session, first_log)


async def import_document(
    db: Database,
    ctx: ServiceContext,
    document: dict[str, Any],
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate everything, then write everything in one short transaction (or nothing): see
    `write_parsed`. 6,000 matters: 27 – 45 s of lock before bulk writing on the development machine
    (72 s in the probe), 1.1 – 1.4 s after."""
    report = ImportReport(dry_run=dry_run)
    async with db.read() as session:
        parsed, errors = await validate_document(session, ctx, document, progress=progress)
    if errors:
        raise BadInput(f"导入文件有 {len(errors)} 处错误, 未写入任何数据", errors)
    report.counts = {section: len(parsed[section]) for section in SECTIONS}

    async def count_changes(session: AsyncSession, first_log: int) -> None:
        rows = await session.execute(
            select(ChangeLog.entity, ChangeLog.action, func.count())
            .where(ChangeLog.id > first_log)
            .group_by(ChangeLog.entity, ChangeLog.action)
        )
        report.changes = Counter({(entity, action): n for entity, action, n in rows})
        if dry_run:
            raise _DryRun

    with contextlib.suppress(_DryRun):
        await write_parsed(db, ctx, parsed, progress=progress, before_commit=count_changes)
    return report


# ----------------------------------------------------------------------------- export


async def export_document(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every matter, hall, agreement, partner index, relation and contact, sorted by key."""
    async with db.read() as session:
        matters = (
            (await session.execute(select(Matter).options(selectinload(Matter.guides)).order_by(Matter.code)))
            .scalars()
            .all()
        )
        halls = (await session.execute(select(Hall).options(selectinload(Hall.matters)))).scalars().all()
        agreements = (
            (await session.execute(select(Agreement).options(selectinload(Agreement.matters))))
            .scalars()
            .all()
        )
        partners = (
            (
                await session.execute(
                    select(Region)
                    .where((Region.population_index.is_not(None)) | (Region.cooperation_index.is_not(None)))
                    .order_by(Region.code)
                )
            )
            .scalars()
            .all()
        )
        relations = (
            (await session.execute(select(RegionRelation).order_by(RegionRelation.key))).scalars().all()
        )
        contacts = (await session.execute(select(Contact))).scalars().all()
        groups = {g.id: g.name for g in (await session.execute(select(LiaisonGroup))).scalars()}
    hall_rows = [hall_snapshot(h, [m.code for m in h.matters]) for h in halls]
    agreement_rows = [
        agreement_snapshot(a, None if a.covers_all_matters else [m.code for m in a.matters])
        for a in agreements
    ]
    contact_rows = [contact_snapshot(c, groups.get(c.group_id) if c.group_id else None) for c in contacts]
    return {
        "matters": [matter_snapshot(m, published_guide(m)) for m in matters],
        "halls": sorted(
            hall_rows, key=lambda r: (r["key"] is None, r["key"] or "", r["name"], r["regionCode"])
        ),
        "agreements": sorted(
            agreement_rows, key=lambda r: (r["key"] is None, r["key"] or "", r["signedOn"], r["title"])
        ),
        "partners": [partner_snapshot(r) for r in partners],
        "relations": [relation_snapshot(r) for r in relations],
        "contacts": sorted(contact_rows, key=lambda r: (r["key"] is None, r["key"] or "", r["name"])),
    }


def _cell_out(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def write_document(document: dict[str, list[dict[str, Any]]], path: Path) -> list[Path]:
    """Write the export; returns the files written (CSV writes one file per section)."""
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".json":
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return [path]
    if suffix == ".csv":
        written = []
        for section in SECTIONS:
            target = path.with_name(f"{path.stem}.{section}.csv")
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(COLUMNS[section])
            for row in document.get(section, []):
                writer.writerow(
                    [
                        "" if row.get(c) is None else csv_escape(_cell_out(row.get(c)))
                        for c in COLUMNS[section]
                    ]
                )
            target.write_text(buffer.getvalue(), encoding="utf-8")
            written.append(target)
        return written
    if suffix == ".xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        for section in SECTIONS:
            sheet = workbook.create_sheet(section)
            sheet.append(COLUMNS[section])
            for row in document.get(section, []):
                sheet.append(
                    [
                        None if row.get(c) is None else xlsx_cell(sheet, _cell_out(row.get(c)))
                        for c in COLUMNS[section]
                    ]
                )
        workbook.save(path)
        return [path]
    raise ImportFileError(f"不支持的文件类型 {suffix or '(无扩展名)'}: 请用 .json、.csv 或 .xlsx")
