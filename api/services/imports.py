"""Import from the staff area: read an uploaded file, preview it, apply it all or nothing.

The same reader, parsers, service functions and messages as `tongban import` (api/services/transfer.py);
what this module adds:

- reading an upload (bytes) of any accepted kind, including a .zip of section CSVs;
- the template workbook's Chinese sheet names, column headings and drop-down labels, mapped back to
  the import format (`normalise_document`), so a sheet filled in from the template reads as the
  CLI's own export does;
- `run_import`: `check` reads the stored records in bulk and compares them in memory (a read
  transaction), applying the permission functions the services call, so the preview names every bad
  row; `apply` then writes through the CLI's bulk path (`transfer.write_parsed`: every row through
  its service function, one write transaction), where each row's refusal is collected instead of
  ending the run; the change log written inside the transaction gives created / changed (with the
  field diff) / unchanged per record. Whenever anything is wrong the transaction is rolled back: a
  bad sheet writes nothing. Progress goes to the one progress interface (`api.progress.Progress`);
  the staff area runs it as a job (`api.services.import_jobs`).
"""

from __future__ import annotations

import asyncio
import io
import re
import tempfile
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import Database
from api.enums import (
    AgreementStatus,
    HallLevel,
    HandlingMode,
    MatterScope,
    RelationKind,
    WindowService,
)
from api.models import Agreement, ChangeLog, Contact, Hall, LiaisonGroup, Matter, Region, RegionRelation
from api.progress import Progress
from api.records import SECTIONS as RECORD_SECTIONS
from api.services.base import Conflict, FieldError, Forbidden, ServiceContext, ServiceError
from api.services.permissions import require_admin, require_contact_edit, require_local
from api.services.snapshots import (
    agreement_snapshot,
    contact_snapshot,
    hall_snapshot,
    matter_snapshot,
    partner_snapshot,
    published_guide,
    relation_snapshot,
)
from api.services.transfer import (
    KEY_FIELD,
    MAX_IMPORT_BYTES,
    SECTIONS,
    ImportFileError,
    _csv_records,
    _section_of,
    load_by_key,
    read_document,
    row_key,
    validate_document,
    write_parsed,
)
from api.words import FORMER_LABELS, LABELS

ACCEPTED_SUFFIXES = (".xlsx", ".csv", ".zip", ".json")
MAX_ZIP_MEMBERS = len(SECTIONS)
INSTRUCTIONS_SHEET = "填写说明"
LISTS_SHEET = "选项"

SECTION_TITLES: dict[str, str] = {
    "matters": "事项",
    "halls": "服务大厅",
    "agreements": "通办协议",
    "partners": "合作地区指数",
    "relations": "结对关系",
    "contacts": "联络人",
}

# The template's column headings, from each record's field table (api/records.py). A sheet may also
# use a field's former heading (its `aliases`) or its CONTRACT §3 name.
HEADINGS: dict[str, dict[str, str]] = {
    section: record.headings() for section, record in RECORD_SECTIONS.items()
}

# Columns whose drop-downs show Chinese labels: the label is read back as the enum value.
ENUM_COLUMNS: dict[tuple[str, str], type[StrEnum]] = {
    ("matters", "scope"): MatterScope,
    ("matters", "modes"): HandlingMode,
    ("halls", "level"): HallLevel,
    ("halls", "windowServices"): WindowService,
    ("agreements", "status"): AgreementStatus,
    ("relations", "kind"): RelationKind,
}
# Columns whose drop-downs show "331004 路桥区": only the code is kept.
REGION_COLUMNS = {
    ("halls", "regionCode"),
    ("agreements", "localCode"),
    ("agreements", "partnerCode"),
    ("relations", "localCode"),
    ("relations", "partnerCode"),
    ("contacts", "regionCode"),
    ("partners", "regionCode"),
}
_LEADING_CODE = re.compile(r"^\s*(\d{6}(?:\d{3})?)(?:\s+\S.*)?$")
_LIST_SPLIT = re.compile(r"[、,，;；\s]+")


def _enum_value(cls: type[StrEnum], value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    for member in cls:
        if text == LABELS.get(member.value):
            return member.value
    former = FORMER_LABELS.get(text)  # a file written before the words were unified
    if former is not None and former in {m.value for m in cls}:
        return former
    return value


def _normalise_cell(section: str, name: str, value: Any) -> Any:
    if (section, name) in REGION_COLUMNS and isinstance(value, str | int) and not isinstance(value, bool):
        match = _LEADING_CODE.match(str(value))
        return match.group(1) if match else value
    cls = ENUM_COLUMNS.get((section, name))
    if cls is None or value is None:
        return value
    if isinstance(value, list):
        return [_enum_value(cls, v) for v in value]
    if name in ("modes", "windowServices") and isinstance(value, str):
        return [_enum_value(cls, v) for v in _LIST_SPLIT.split(value) if v]
    return _enum_value(cls, value)


def normalise_document(document: dict[str, Any]) -> dict[str, Any]:
    """Chinese sheet names and headings (the template's) → the import format's; the template's
    instructions and option-list sheets are skipped; label cells → enum values."""
    by_title = {title: section for section, title in SECTION_TITLES.items()}
    result: dict[str, Any] = {}
    for name, rows in document.items():
        if name in (INSTRUCTIONS_SHEET, LISTS_SHEET):
            continue
        section = by_title.get(str(name).strip(), name)
        if section not in SECTIONS or not isinstance(rows, list):
            result[section] = rows
            continue
        heading_map = RECORD_SECTIONS[section].heading_names()
        converted = []
        for row in rows:
            if not isinstance(row, dict):
                converted.append(row)
                continue
            record = {}
            for column, value in row.items():
                key = heading_map.get(str(column).strip()) or column  # an unknown heading stays as it is
                record[key] = _normalise_cell(section, key, value)
            converted.append(record)
        result[section] = converted
    return result


# ----------------------------------------------------------------------------- reading an upload


def _safe_name(name: str) -> str:
    """Only the last path part, without anything that is not a plain file-name character."""
    base = PurePosixPath(name.replace("\\", "/")).name
    return re.sub(r"[^\w.\-]", "_", base)[:120] or "upload"


def precheck_upload(filename: str, content: bytes) -> str:
    """What can be said of an upload before reading it (its kind, its size); returns its safe name."""
    name = _safe_name(filename or "")
    suffix = Path(name).suffix.lower()
    if suffix not in ACCEPTED_SUFFIXES:
        raise ImportFileError(
            f"不支持的文件类型 {suffix or '(无扩展名)'}: 请上传 .xlsx、.csv、.zip(多个 CSV)或 .json 文件"
        )
    if len(content) > MAX_IMPORT_BYTES:
        raise ImportFileError(f"{name} 过大(上限 {MAX_IMPORT_BYTES // (1024 * 1024)} MiB)")
    if not content:
        raise ImportFileError("上传的文件是空的")
    return name


def read_upload(filename: str, content: bytes) -> dict[str, Any]:
    """The document in an uploaded file: .json, .xlsx, a section .csv (named after its section, e.g.
    halls.csv or 台州.halls.csv) or a .zip of section CSVs. Written to a temporary folder only while
    it is read (openpyxl reads files), deleted at once."""
    name = precheck_upload(filename, content)
    suffix = Path(name).suffix.lower()
    with tempfile.TemporaryDirectory(prefix="tongban-import-") as folder:
        root = Path(folder)
        if suffix == ".zip":
            return normalise_document(_read_zip(root, name, content))
        if suffix == ".csv" and _section_of(Path(name)) is None:
            raise ImportFileError(
                f"无法判断 {name} 属于哪个部分: CSV 文件名应以部分名结尾(如 halls.csv、台州.matters.csv), 可选部分: "
                + ", ".join(SECTIONS)
            )
        path = root / name
        path.write_bytes(content)
        return normalise_document(read_document(path))


def _read_zip(root: Path, name: str, content: bytes) -> dict[str, Any]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile as exc:
        raise ImportFileError(f"{name} 不是有效的 ZIP 文件") from exc
    document: dict[str, Any] = {}
    with archive:
        members = [
            m
            for m in archive.infolist()
            if not m.is_dir() and not PurePosixPath(m.filename).name.startswith(".")
        ]
        csvs = [m for m in members if m.filename.lower().endswith(".csv") and "__MACOSX" not in m.filename]
        if not csvs:
            raise ImportFileError(
                f"{name} 中没有 CSV 文件: 每个部分一个 CSV, 文件名以部分名结尾(如 halls.csv)"
            )
        if len(csvs) > MAX_ZIP_MEMBERS:
            raise ImportFileError(f"{name} 中的 CSV 文件过多(最多 {MAX_ZIP_MEMBERS} 个, 每个部分一个)")
        total = 0
        for member in csvs:
            member_name = _safe_name(member.filename)
            section = _section_of(Path(member_name))
            if section is None:
                raise ImportFileError(
                    f"无法判断 {member.filename} 属于哪个部分: 文件名应以部分名结尾, 可选部分: "
                    + ", ".join(SECTIONS)
                )
            if section in document:
                raise ImportFileError(f"{name} 中有两个 {section} 部分的 CSV 文件")
            total += member.file_size
            if member.file_size > MAX_IMPORT_BYTES or total > MAX_IMPORT_BYTES:  # a zip bomb stops here
                raise ImportFileError(f"{name} 解压后过大(上限 {MAX_IMPORT_BYTES // (1024 * 1024)} MiB)")
            with archive.open(member) as source:
                data = source.read(MAX_IMPORT_BYTES + 1)
            if len(data) > MAX_IMPORT_BYTES:
                raise ImportFileError(f"{name} 解压后过大(上限 {MAX_IMPORT_BYTES // (1024 * 1024)} MiB)")
            path = root / member_name
            path.write_bytes(data)
            document[section] = _csv_records(path)
    return document


# ----------------------------------------------------------------------------- preview and apply


@dataclass
class RecordChange:
    """One record the file creates or changes; `fields` = [(field, before, after)] for a change."""

    section: str
    key: str
    action: str
    fields: list[tuple[str, Any, Any]] = field(default_factory=list)


@dataclass
class SectionSummary:
    rows: int = 0
    created: int = 0
    changed: int = 0
    unchanged: int = 0


@dataclass
class ImportOutcome:
    applied: bool
    sections: dict[str, SectionSummary] = field(default_factory=dict)
    changes: list[RecordChange] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def total_rows(self) -> int:
        return sum(s.rows for s in self.sections.values())


ENTITY_OF = {
    "matters": "matter",
    "halls": "hall",
    "agreements": "agreement",
    "partners": "partner",
    "relations": "relation",
    "contacts": "contact",
}
SECTION_OF = {entity: section for section, entity in ENTITY_OF.items()}


def field_diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[tuple[str, Any, Any]]:
    """The fields whose value differs, in the record's own field order."""
    before, after = before or {}, after or {}
    names = list(after) + [k for k in before if k not in after]
    return [
        (name, before.get(name), after.get(name)) for name in names if before.get(name) != after.get(name)
    ]


class _Rollback(Exception):
    pass


_row_key = row_key


async def _existing(session: AsyncSession, section: str, keys: list[str]) -> dict[str, Any]:
    return await load_by_key(session, section, keys)


def _before(section: str, record: Any, groups: dict[int, str]) -> dict[str, Any]:
    if section == "matters":
        return matter_snapshot(record, published_guide(record))
    if section == "halls":
        return hall_snapshot(record, [m.code for m in record.matters])
    if section == "agreements":
        return agreement_snapshot(
            record, None if record.covers_all_matters else [m.code for m in record.matters]
        )
    if section == "partners":
        return partner_snapshot(record)
    if section == "relations":
        return relation_snapshot(record)
    return contact_snapshot(record, groups.get(record.group_id) if record.group_id else None)


def _copy(model: Any, record: Any, **values: Any) -> Any:
    """A detached stand-in for `record` with `values` set, as the service's setattr loop leaves it."""
    stand_in = model()
    if record is not None:
        for attribute in sa_inspect(model).column_attrs:
            setattr(stand_in, attribute.key, getattr(record, attribute.key))
    for name, value in values.items():
        setattr(stand_in, name, value)
    return stand_in


def _after(section: str, key: str, data: Any, record: Any, before: dict[str, Any] | None) -> dict[str, Any]:
    """The record as its service would leave it (the same snapshot the service compares)."""
    if section == "matters":
        after = matter_snapshot(_copy(Matter, record, code=data.code, **data.values), None)
        after["guide"] = (
            data.guide if data.guide_given and data.guide is not None else (before or {}).get("guide")
        )
        return after
    if section == "halls":
        return hall_snapshot(_copy(Hall, record, key=key, **data.values), data.matter_codes)
    if section == "agreements":
        values = dict(data.values)
        if record is not None and not data.registered_given:
            values["registered_on"] = record.registered_on
        return agreement_snapshot(_copy(Agreement, record, key=key, **values), data.matter_codes)
    if section == "partners":
        return partner_snapshot(
            _copy(
                Region,
                record,
                code=data.region_code,
                population_index=data.population_index,
                cooperation_index=data.cooperation_index,
                indices_sample=data.sample,
            )
        )
    if section == "relations":
        return relation_snapshot(_copy(RegionRelation, record, key=key, **data.values))
    return contact_snapshot(_copy(Contact, record, key=key, **data.values), data.group_name)


def _refusal(ctx: ServiceContext, section: str, data: Any, record: Any) -> str | None:
    """Why the actor may not write this row (the permission functions the services call), or None."""
    try:
        if section in ("matters", "partners", "relations"):
            require_admin(
                ctx,
                {"matters": "事项清单和办事指南", "partners": "合作地区指数", "relations": "结对关系"}[
                    section
                ],
            )
        elif section == "halls":
            require_local(ctx, data.values["region_code"], "服务大厅")
            if record is not None:
                require_local(ctx, record.region_code, "服务大厅")
        elif section == "agreements":
            require_local(ctx, data.values["local_code"], "通办协议")
            if record is not None:
                require_local(ctx, record.local_code, "通办协议")
        elif section == "contacts":
            require_contact_edit(ctx, data.values["region_code"])
            if record is not None:
                require_contact_edit(ctx, record.region_code)
    except Forbidden as refused:
        return refused.message
    return None


async def _preview(
    session: AsyncSession,
    ctx: ServiceContext,
    parsed: dict[str, list[Any]],
    outcome: ImportOutcome,
    progress: Progress | None,
) -> set[tuple[str, int]]:
    """Permission, and created / changed / unchanged per row, read in bulk and compared in memory.
    Returns the rows that would change nothing, as (section, row number)."""
    same: set[tuple[str, int]] = set()
    groups = {g.id: g.name for g in (await session.execute(select(LiaisonGroup))).scalars()}
    total = sum(len(rows) for rows in parsed.values())
    done = 0
    for section in SECTIONS:
        rows = parsed[section]
        if not rows:
            continue
        keyed = [(index, data, _row_key(section, data)) for index, data in rows]
        existing = await _existing(session, section, sorted({k for _, _, k in keyed if k}))
        summary = outcome.sections.setdefault(section, SectionSummary())
        for index, data, key in keyed:
            record = existing.get(key)
            refused = _refusal(ctx, section, data, record)
            if refused:
                outcome.errors.append(FieldError(KEY_FIELD[section], refused, section, index, key or None))
            elif section == "partners" and record is None:
                outcome.errors.append(
                    FieldError("regionCode", f"未知行政区划代码 {key}", section, index, key)
                )
            else:
                before = _before(section, record, groups) if record is not None else None
                after = _after(section, key, data, record, before)
                if before is None:
                    summary.created += 1
                    outcome.changes.append(RecordChange(section, key, "create"))
                elif before != after:
                    summary.changed += 1
                    outcome.changes.append(RecordChange(section, key, "update", field_diff(before, after)))
                else:
                    summary.unchanged += 1
                    same.add((section, index))
            done += 1
            if progress is not None and done % 250 == 0:
                progress(f"comparing:{section}", done, total)
                await asyncio.sleep(0)  # a progress reporter waiting to write gets its turn
        if progress is not None:
            progress(f"comparing:{section}", done, total)
    return same


async def _report_from_log(
    session: AsyncSession, parsed: dict[str, list[Any]], outcome: ImportOutcome, first_log: int
) -> None:
    """Created / changed (with the field diff) / unchanged per section, read back from the change
    log the services wrote in this transaction."""
    await session.flush()
    logs = (
        await session.execute(
            select(
                ChangeLog.entity, ChangeLog.entity_key, ChangeLog.action, ChangeLog.before, ChangeLog.after
            )
            .where(ChangeLog.id > first_log)
            .order_by(ChangeLog.id)
        )
    ).all()
    for summary in outcome.sections.values():
        summary.created = summary.changed = 0
    outcome.changes = []
    for entity, key, action, before, after in logs:
        if entity not in SECTION_OF:
            continue
        section = SECTION_OF[entity]
        summary = outcome.sections.setdefault(section, SectionSummary())
        if action == "create":
            summary.created += 1
        else:
            summary.changed += 1
        outcome.changes.append(
            RecordChange(section, key, action, field_diff(before, after) if action != "create" else [])
        )
    for section, summary in outcome.sections.items():
        summary.unchanged = max(0, len(parsed[section]) - summary.created - summary.changed)


async def run_import(
    db: Database,
    ctx: ServiceContext,
    document: dict[str, Any],
    *,
    apply: bool,
    progress: Progress | None = None,
    on_written: Callable[[AsyncSession, ImportOutcome], Awaitable[None]] | None = None,
) -> ImportOutcome:
    """Check every row (`apply=False`), or write them all in one transaction when every row is good.

    The check runs in a read-only session (no write lock however long the sheet): it reads the
    file's records in bulk and compares snapshots in memory, applying the permission functions the
    services call, so every refused row is named. `apply` then writes every row through its service
    function, in bulk (`transfer.write_parsed`, the path `tongban import` takes), in one write
    transaction where everything is checked again; a row refused there is named too, and nothing is
    committed unless not one row is wrong. `progress(stage, done, total)` (api.progress) hears
    checking:<section>, comparing:<section>, writing:<section>. `on_written(session, outcome)` runs
    last inside the write transaction, so what it writes is committed with the rows or not at all.
    """
    outcome = ImportOutcome(applied=False)
    for section in SECTIONS:
        rows = document.get(section)
        if rows is not None:
            outcome.sections[section] = SectionSummary(rows=len(rows) if isinstance(rows, list) else 0)
    async with db.read() as session:
        parsed, errors = await validate_document(session, ctx, document, progress=progress)
        outcome.errors.extend(errors)
        await _preview(session, ctx, parsed, outcome, progress)
    if not apply or outcome.errors:
        return outcome

    def refused(section: str, index: int, data: Any, error: ServiceError) -> None:
        key = _row_key(section, data) or None
        fields = error.fields or [FieldError(KEY_FIELD[section], error.message)]
        outcome.errors.extend(FieldError(f.field, f.message, section, index, key) for f in fields)

    async def report(session: AsyncSession, first_log: int) -> None:
        if outcome.errors:
            raise _Rollback
        await _report_from_log(session, parsed, outcome, first_log)
        outcome.applied = True
        if on_written is not None:
            await on_written(session, outcome)

    try:
        await write_parsed(db, ctx, parsed, progress=progress, on_error=refused, before_commit=report)
    except _Rollback:
        outcome.applied = False
    except Conflict as conflict:  # somebody saved a matter of the file meanwhile: nothing written
        outcome.applied = False
        outcome.errors.append(FieldError("code", conflict.message))
    return outcome


# ----------------------------------------------------------------------------- the template workbook

BOOLEAN_COLUMNS = {
    "modesSample",
    "published",
    "sample",
    "coordinatesApproximate",
    "hasCrossRegionWindow",
    "citywideShared",
    "includesClause",
}
INSTRUCTIONS = [
    "本模板用于在工作台“数据导入”页面上传, 与命令行 tongban import 使用同一套规则和提示。",
    "每个工作表对应一个部分(事项、服务大厅、通办协议、合作地区指数、结对关系、联络人); 不需要的工作表可以删除或留空。",
    "第一行是列标题, 请勿修改; 从第二行起每行一条记录。已存在的记录按标识(事项编码、大厅标识、协议标识、合作地区等)更新, 不存在的新建。",
    "带下拉框的列请从下拉框中选择; 地区列可选“331004 路桥区”, 也可直接填写6位行政区划代码(乡镇填写9位代码)。",
    "办理方式、窗口服务、关键词、事项编码等多个值用顿号或逗号分隔, 例如“全程网办、异地代收代办”。事项的“办事指南”列填写 JSON 对象, 与导出文件中的相同。",
    "是/否 列填写“是”或“否”; 日期填写 YYYY-MM-DD, 例如 2024-05-10。“核实日期”是工作人员最近一次对照来源核实该记录的日期, 不是导入日期。",
    "通办协议的“通办事项”留空表示覆盖全部跨省通办事项; “一地签约、全市共享”选“是”即与本地签约后合作效力及于全市。",
    "先选择“检查”预览: 页面列出每个部分新建、修改、不变的记录数, 每处修改的字段, 以及每个有误的行和字段。检查无误后再选择“导入”。",
    "导入是全部成功或全部不写入: 只要有一行有误, 就不会写入任何数据。县(市、区)账号只能导入本县(市、区)的记录。",
]


def template_workbook(county_choices: list[tuple[str, str]]) -> bytes:
    """The blank import template: an instructions sheet, then one sheet per section with Chinese
    headings, drop-downs for enums, yes/no columns, counties and modes."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    guide = book.active
    guide.title = INSTRUCTIONS_SHEET
    guide["A1"] = "台州市跨区域通办服务目录 · 数据导入模板"
    guide["A1"].font = Font(size=14, bold=True)
    for row, text in enumerate(INSTRUCTIONS, start=3):
        guide.cell(row=row, column=1, value=f"{row - 2}. {text}").alignment = Alignment(
            wrap_text=True, vertical="top"
        )
    guide.column_dimensions["A"].width = 110

    counties = [f"{code} {name}" for code, name in county_choices]
    header_fill = PatternFill("solid", fgColor="DDE7F0")
    for section in SECTIONS:
        sheet = book.create_sheet(SECTION_TITLES[section])
        fields = list(HEADINGS[section])
        for column, name in enumerate(fields, start=1):
            cell = sheet.cell(row=1, column=column, value=HEADINGS[section][name])
            cell.font = Font(bold=True)
            cell.fill = header_fill
            sheet.column_dimensions[get_column_letter(column)].width = max(
                12, len(HEADINGS[section][name]) * 2 + 2
            )
            letter = get_column_letter(column)
            choices: list[str] | None = None
            strict = True
            cls = ENUM_COLUMNS.get((section, name))
            if cls is not None:
                choices = [LABELS[m.value] for m in cls]
                strict = name not in ("modes", "windowServices")  # several values may be typed
            elif name in BOOLEAN_COLUMNS:
                choices = ["是", "否"]
            elif (section, name) in {
                ("halls", "regionCode"),
                ("agreements", "localCode"),
                ("relations", "localCode"),
            }:
                choices, strict = counties, False  # a town's 9-digit code may be typed instead
            if choices:
                validation = DataValidation(
                    type="list",
                    formula1='"' + ",".join(choices) + '"',
                    allow_blank=True,
                    showErrorMessage=strict,
                    errorTitle="无效取值",
                    error="请从下拉框中选择",
                    promptTitle=HEADINGS[section][name],
                    prompt="从下拉框中选择" + ("" if strict else ", 或直接填写"),
                )
                validation.add(f"{letter}2:{letter}5001")
                sheet.add_data_validation(validation)
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
