"""Readable differences between two states of a record (change log, stale saves, guide versions).

Records are compared as the import-format dicts the services snapshot (api.services.snapshots):
one row per field that differs, with the field's Chinese name and both values as a person reads
them (named by the record's field table, `api/records.py`). Text is compared character by character (difflib), which suits Chinese, where a changed word
is a few characters with no spaces around it; a guide is compared line by line.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from api.records import record_for
from api.words import LABELS

# Field names for records without a field table in api/records.py (feedback, settings, handbook
# editions, accounts), and for a change-log row whose record type is not known.
FIELD_LABELS: dict[str, str] = {
    "key": "标识",
    "code": "编码",
    "name": "名称",
    "title": "标题",
    "partnerCode": "合作地区",
    "localCode": "本地签约方",
    "signedOn": "签约日期",
    "effectiveFrom": "生效日期",
    "expiresOn": "到期日期",
    "status": "状态",
    "citywideShared": "一地签约、全市共享",
    "matterCodes": "事项",
    "documentRef": "文号",
    "registeredOn": "登记日期",
    "itemsCount": "事项数",
    "note": "备注",
    "source": "来源",
    "sourceUrl": "来源网址",
    "verifiedOn": "核实日期",
    "publishedOn": "来源发布日期",
    "includesClause": "协议文本含“一地签约、全市共享”条款",
    "sample": "示例数据",
    "department": "主管部门",
    "scope": "通办范围",
    "modes": "办理方式",
    "modesSample": "办理方式为示例",
    "keywords": "关键词",
    "aliases": "其他名称",
    "nationalList": "国家清单批次",
    "deadline": "完成时限",
    "published": "公开",
    "guide": "办事指南",
    "regionCode": "所在地区",
    "level": "层级",
    "address": "地址",
    "phone": "电话",
    "openingHours": "办公时间",
    "latitude": "纬度",
    "longitude": "经度",
    "coordinatesApproximate": "坐标为近似位置",
    "hasCrossRegionWindow": "设有跨区域通办窗口",
    "windowServices": "窗口服务",
    "organisation": "单位",
    "role": "职务",
    "email": "电子邮箱",
    "liaisonGroup": "联络群",
    "populationIndex": "人口潜力指数",
    "cooperationIndex": "合作潜力指数",
    "population": "人口潜力指数阈值",
    "cooperation": "合作潜力指数阈值",
    "terms": "同义词",
    "question": "问题",
    "answer": "解答",
    "matterCode": "事项编码",
    "feedbackId": "来源反馈单",
    "editionId": "手册版本",
    "summary": "经过与做法",
    "countyCode": "县(市、区)",
    "happenedOn": "发生日期",
    "heldOn": "开展日期",
    "participants": "参加人数",
    "outcome": "成效与后续安排",
    "conditions": "受理条件",
    "materials": "申请材料",
    "steps": "办理流程",
    "timeLimitDays": "办理时限(工作日)",
    "fee": "收费标准",
    "legalBasis": "设定依据",
    "walkthrough": "教你办",
    "publisher": "发布单位",
    "channel": "渠道",
    "kind": "关系类型",
    "since": "起始",
    "localCodeName": "本地签约方",
    "version": "版本",
    "entries": "条目数",
    "feedback": "反馈单",
}


def field_label(field: str, record: str | None = None) -> str:
    """A field's Chinese name: the record's own word (record = change-log entity or import section)."""
    spec = record_for(record)
    if spec is not None and field in spec:
        return spec.label(field)
    return FIELD_LABELS.get(field, field)


REGION_FIELDS = frozenset({"partnerCode", "localCode", "regionCode", "countyCode"})


@dataclass(frozen=True)
class Segment:
    op: str  # "same" | "del" | "ins"
    text: str


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    before: str
    after: str
    before_segments: tuple[Segment, ...]
    after_segments: tuple[Segment, ...]
    lines: tuple[tuple[str, str], ...] = ()  # (op, line) for multi-line values: " ", "-", "+"

    @property
    def multiline(self) -> bool:
        return bool(self.lines)


def display(value: Any, field: str = "", tree: Any = None, record: str | None = None) -> str:
    """A stored value as a person reads it."""
    if value is None or value == "" or value == []:
        return "(空)"
    if isinstance(value, bool):
        return "是" if value else "否"
    if field in REGION_FIELDS and isinstance(value, str) and tree is not None and value in tree:
        return f"{tree.full_name(value)}({value})"
    if field == "materials" and isinstance(value, list):
        return "\n".join(
            f"{m.get('name', '')}{'' if m.get('required', True) else '(非必需)'}"
            + (f" ×{m['copies']}" if m.get("copies") else "")
            for m in value
            if isinstance(m, dict)
        )
    if field == "steps" and isinstance(value, list):
        return "\n".join(f"{i}. {s}" for i, s in enumerate(value, start=1))
    if isinstance(value, list):
        return "、".join(LABELS.get(str(v), str(v)) for v in value)
    if isinstance(value, dict):
        from api.services.guides import guide_text_lines

        if "conditions" in value or "materials" in value:
            return "\n".join(guide_text_lines(value))
        return "; ".join(f"{field_label(k, record)}: {display(v, k, tree)}" for k, v in value.items())
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    if field in ("status", "scope", "level", "kind"):
        return LABELS.get(text, text)
    return text


def char_segments(before: str, after: str) -> tuple[tuple[Segment, ...], tuple[Segment, ...]]:
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    left: list[Segment] = []
    right: list[Segment] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            left.append(Segment("same", before[i1:i2]))
            right.append(Segment("same", after[j1:j2]))
        else:
            if i2 > i1:
                left.append(Segment("del", before[i1:i2]))
            if j2 > j1:
                right.append(Segment("ins", after[j1:j2]))
    return tuple(left), tuple(right)


def line_diff(before: str, after: str) -> tuple[tuple[str, str], ...]:
    lines: list[tuple[str, str]] = []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        op, text = line[:1], line[2:]
        if op in (" ", "-", "+"):
            lines.append((op, text))
    return tuple(lines)


def field_change(
    field: str, before: Any, after: Any, tree: Any = None, record: str | None = None
) -> FieldChange:
    left, right = display(before, field, tree, record), display(after, field, tree, record)
    multiline = "\n" in left or "\n" in right
    if multiline:
        segments: tuple[tuple[Segment, ...], tuple[Segment, ...]] = (
            (Segment("same", left),),
            (Segment("same", right),),
        )
        lines = line_diff("" if before in (None, "", []) else left, "" if after in (None, "", []) else right)
    else:
        lines = ()
        whole = (Segment("del", left),), (Segment("ins", right),)
        if before in (None, "", []):
            segments = (Segment("same", left),), (Segment("ins", right),)
        elif after in (None, "", []):
            segments = (Segment("del", left),), (Segment("same", right),)
        elif (
            len(left) + len(right) > 4000
            or difflib.SequenceMatcher(None, left, right, autojunk=False).ratio() < 0.5
        ):
            segments = whole  # unrelated texts: a character diff would only confuse
        else:
            segments = char_segments(left, right)
    return FieldChange(field, field_label(field, record), left, right, segments[0], segments[1], lines)


def record_diff(
    before: dict[str, Any] | None, after: dict[str, Any] | None, tree: Any = None, record: str | None = None
) -> list[FieldChange]:
    """The fields that differ between two snapshots (a created record: every filled field)."""
    before = before or {}
    after = after or {}
    keys = list(after.keys()) + [k for k in before if k not in after]
    changes = []
    for key in keys:
        old, new = before.get(key), after.get(key)
        if old == new or (old in (None, "", []) and new in (None, "", [])):
            continue
        changes.append(field_change(key, old, new, tree, record))
    return changes


def side_by_side(
    theirs: dict[str, Any], mine: dict[str, Any], tree: Any = None, record: str | None = None
) -> list[tuple[str, str, str, bool]]:
    """(label, their value, my value, differs) for every field either side has: for a stale save."""
    keys = list(theirs.keys()) + [k for k in mine if k not in theirs]
    rows = []
    for key in keys:
        if key in ("version",):
            continue
        left, right = display(theirs.get(key), key, tree), display(mine.get(key), key, tree)
        if key not in mine:
            right = "(表单未包含)"
        rows.append((field_label(key, record), left, right, key in mine and left != right))
    return rows


def guide_version_diff(before_lines: list[str], after_lines: list[str]) -> list[tuple[str, str]]:
    """A unified, line-by-line comparison of two guide versions: (op, line) with op " ", "-", "+"."""
    return list(line_diff("\n".join(before_lines), "\n".join(after_lines)))
