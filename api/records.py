"""The fields of every record: one table per record type, the one place a field is named and labelled.

Each row says what a field is called in the import format (camelCase, CONTRACT §3), its ONE Chinese
label, how it is read (`reader`: the `api.services.fields.Reader` method the record's `parse_*`
function uses; "nested": a part with its own reader, such as a matter's guide), whether it is required, its choices (an enum) and a short hint. Everything a person
sees about a field derives from here:

- the import template's column headings (`api.services.imports.HEADINGS`) and the headings it still
  accepts from older sheets (`aliases`);
- the change log's and the stale-save table's field names (`web.staff.diff`);
- the staff forms' labels (`web.staff.forms`: "label(hint)");
- the export's columns (`api.services.transfer.COLUMNS`) and the cooperation table's headings
  (`api.services.dashboard.TABLE_COLUMNS`).

`tests/test_records.py` holds them together: every form label, import heading, diff label and export
heading of a field is its label here, every GraphQL input field is a field here with the same
meaning, and each `parse_*` reads a field the way its row says.

Why one module of tables rather than one module per record: the tables are data (like `api/words.py`),
a dozen short rows each, and seeing them side by side is what keeps a word the same for the same thing
across records (核实日期, 来源网址, 合作地区 …). A record's behaviour stays in its own modules
(`api/services/<record>.py`, `web/staff/<record>.py`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

from api.enums import (
    ActivityKind,
    AgreementStatus,
    HallLevel,
    HandlingMode,
    MatterScope,
    RelationKind,
    WindowService,
)
from api.words import ENTITY_LABELS

Reader = Literal["text", "date", "boolean", "integer", "number", "enum", "enum_list", "string_list", "nested"]


@dataclass(frozen=True)
class Field:
    name: str  # the import format's key (camelCase), also the form field's and GraphQL input's name
    label: str  # the one Chinese name shown everywhere
    reader: Reader = "text"
    required: bool = False
    choices: type[StrEnum] | None = None
    hint: str = ""  # shown after the label on the staff form: 标签(提示)
    aliases: tuple[str, ...] = ()  # former import headings, still read
    template: bool = True  # a column of the import template (False: exported and read, not offered)
    exported: bool = True  # a column of `tongban export`

    @property
    def form_label(self) -> str:
        return f"{self.label}({self.hint})" if self.hint else self.label


@dataclass(frozen=True)
class Record:
    entity: str  # the change log's entity name; its Chinese name is `api.words.ENTITY_LABELS`
    fields: tuple[Field, ...]
    section: str | None = None  # the import format's section, when the record can be imported
    _by_name: Mapping[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {f.name: f for f in self.fields}
        assert len(by_name) == len(self.fields), f"{self.entity}: a field is named twice"
        object.__setattr__(self, "_by_name", MappingProxyType(by_name))

    @property
    def title(self) -> str:
        return ENTITY_LABELS[self.entity]

    def __getitem__(self, name: str) -> Field:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def label(self, name: str) -> str:
        return self._by_name[name].label

    def form_label(self, name: str) -> str:
        return self._by_name[name].form_label

    def labels(self) -> dict[str, str]:
        return {f.name: f.label for f in self.fields}

    def headings(self) -> dict[str, str]:
        """The import template's columns, in order: field name → heading."""
        return {f.name: f.label for f in self.fields if f.template}

    def heading_names(self) -> dict[str, str]:
        """Every heading a sheet may use (the label, the former headings) → field name."""
        names: dict[str, str] = {}
        for f in self.fields:
            names[f.label] = f.name
        for f in self.fields:
            for alias in f.aliases:
                names.setdefault(alias, f.name)
        return names

    def export_columns(self) -> list[str]:
        return [f.name for f in self.fields if f.exported]


# Fields many records share: the same word for the same thing.
def _source() -> Field:
    return Field("source", "来源")


def _source_url() -> Field:
    return Field("sourceUrl", "来源网址")


def _sample() -> Field:
    return Field("sample", "示例数据", "boolean")


def _verified_on() -> Field:
    return Field("verifiedOn", "核实日期", "date", hint="最近一次对照来源核实的日期")


def _note() -> Field:
    return Field("note", "备注")


MATTER = Record(
    "matter",
    (
        Field("code", "事项编码", required=True),
        Field("name", "事项名称", required=True),
        Field("department", "主管部门"),
        Field("scope", "通办范围", "enum", choices=MatterScope),
        Field("modes", "办理方式", "enum_list", choices=HandlingMode),
        Field("modesSample", "办理方式为示例", "boolean"),
        Field("keywords", "关键词", "string_list", hint="逗号或顿号分隔"),
        Field("aliases", "其他名称", "string_list", hint="逗号分隔", aliases=("别名",)),
        Field("nationalList", "国家清单批次", hint="如 2020-35"),
        Field("deadline", "完成时限"),
        Field("published", "公开", "boolean", hint="在公众页面显示"),
        _source(),
        _source_url(),
        _sample(),
        _verified_on(),
        Field("guide", "办事指南", "nested", aliases=("办事指南(JSON)",)),
    ),
    section="matters",
)

GUIDE = Record(
    "guide",
    (
        Field("conditions", "受理条件"),
        Field("materials", "申请材料", "nested", hint="每行一项: 名称 | 必需/非必需 | 份数 | 备注"),
        Field("steps", "办理流程", "string_list", hint="每行一步"),
        Field("timeLimitDays", "办理时限(工作日)", "integer"),
        Field("fee", "收费标准"),
        Field("legalBasis", "设定依据"),
        Field("walkthrough", "教你办", hint="分步说明"),
        Field("publisher", "发布单位"),
        _source_url(),
        Field("publishedOn", "来源发布日期", "date", hint="发布单位公布该指南的日期"),
        _sample(),
    ),
)

HALL = Record(
    "hall",
    (
        Field("key", "大厅标识", hint="可选"),
        Field("name", "大厅名称", required=True),
        Field("regionCode", "所在地区", required=True),
        Field("level", "层级", "enum", choices=HallLevel),
        Field("address", "地址"),
        Field("phone", "电话"),
        Field("openingHours", "办公时间"),
        Field("latitude", "纬度", "number"),
        Field("longitude", "经度", "number"),
        Field("coordinatesApproximate", "坐标为近似位置", "boolean", aliases=("坐标为估算",)),
        Field("hasCrossRegionWindow", "设有跨区域通办窗口", "boolean", aliases=("设跨区域通办窗口",)),
        Field("windowServices", "窗口服务", "enum_list", choices=WindowService),
        Field("matterCodes", "本大厅受理的其他事项", "string_list", aliases=("可办事项编码",)),
        _source(),
        _source_url(),
        _sample(),
        _verified_on(),
    ),
    section="halls",
)

AGREEMENT = Record(
    "agreement",
    (
        Field("key", "协议标识", hint="可选, 供导入导出对应"),
        Field("title", "协议名称", hint="留空自动生成"),
        Field("partnerCode", "合作地区", required=True, hint="行政区划代码或名称", aliases=("合作地区代码",)),
        Field("localCode", "本地签约方", required=True, aliases=("本市签约地区",)),
        Field("signedOn", "签约日期", "date", required=True),
        Field("effectiveFrom", "生效日期", "date", hint="留空同签约日"),
        Field("expiresOn", "到期日期", "date", hint="长期有效留空"),
        Field("status", "状态", "enum", choices=AgreementStatus),
        Field("citywideShared", "一地签约、全市共享", "boolean", aliases=("全市共享",)),
        Field(
            "notSharedReason",
            "未实行全市共享的原因",
            hint="取消上一项勾选时必填, 公众查询时可见",
            template=False,
        ),
        Field("includesClause", "协议文本含“一地签约、全市共享”条款", "boolean"),
        Field(
            "matterCodes",
            "通办事项",
            "string_list",
            aliases=("适用事项编码(空=全部跨省事项)", "适用事项编码"),
        ),
        Field("documentRef", "文号"),
        Field("registeredOn", "登记日期", "date"),
        Field("registeredOnReason", "更正登记日期的原因", template=False, exported=False),
        Field("itemsCount", "事项数", "integer", hint="协议载明"),
        _note(),
        _source(),
        _source_url(),
        _sample(),
        _verified_on(),
    ),
    section="agreements",
)

PARTNER = Record(
    "partner",
    (
        Field("regionCode", "合作地区", required=True, aliases=("地区代码",)),
        Field("populationIndex", "人口潜力指数", "number", hint="0–100", aliases=("人口指数",)),
        Field("cooperationIndex", "合作潜力指数", "number", hint="0–100", aliases=("合作指数",)),
        _sample(),
    ),
    section="partners",
)

RELATION = Record(
    "relation",
    (
        Field("key", "关系标识", required=True),
        Field("kind", "关系类型", "enum", required=True, choices=RelationKind),
        Field("localCode", "本市地区", required=True),
        Field("partnerCode", "结对地区", required=True, aliases=("结对地区代码",)),
        Field("since", "起始"),
        _note(),
        _source(),
        _source_url(),
        _verified_on(),
    ),
    section="relations",
)

CONTACT = Record(
    "contact",
    (
        Field("key", "联络人标识"),
        Field("name", "姓名", required=True),
        Field("regionCode", "所属地区", required=True, hint="行政区划代码或名称"),
        Field("organisation", "单位"),
        Field("role", "职务"),
        Field("phone", "电话"),
        Field("email", "电子邮箱"),
        Field("liaisonGroup", "联络群"),
        _sample(),
        _verified_on(),
    ),
    section="contacts",
)

ACTIVITY = Record(
    "activity",
    (
        Field("kind", "活动类型", "enum", required=True, choices=ActivityKind),
        Field("partnerCode", "合作地区", required=True, hint="代码或名称"),
        Field("localCode", "本地开展单位", required=True),
        Field("heldOn", "开展日期", "date", required=True),
        Field("title", "活动名称", required=True),
        Field("participants", "参加人数", "integer", hint="可不填"),
        Field("outcome", "成效与后续安排", hint="可不填"),
        _sample(),
    ),
)

FAQ_ENTRY = Record(
    "faq",
    (
        Field("question", "问题", required=True),
        Field("answer", "解答", required=True),
        Field("matterCode", "相关事项编码"),
        Field("published", "编入下一版手册", "boolean"),
        Field("feedbackId", "来源反馈单", "integer"),
        _sample(),
    ),
)

CASE = Record(
    "case",
    (
        Field("title", "案例标题", required=True),
        Field("summary", "经过与做法", required=True),
        Field("matterCode", "相关事项编码"),
        Field("countyCode", "县(市、区)"),
        Field("partnerCode", "合作地区", hint="代码或名称"),
        Field("happenedOn", "发生日期", "date"),
        Field("published", "在公众页面发布", "boolean"),
        _sample(),
    ),
)

LIAISON_GROUP = Record(
    "liaison-group",
    (
        Field("name", "联络群名称", required=True),
        Field("channel", "渠道", hint="如 浙政钉群号"),
        Field("note", "说明"),
    ),
)

SYNONYM = Record(
    "synonym",
    (Field("terms", "同义词", "string_list", hint="逗号或顿号分隔, 如: 社保卡、社会保障卡"),),
)

RECORDS: Mapping[str, Record] = MappingProxyType(
    {
        r.entity: r
        for r in (MATTER, GUIDE, HALL, AGREEMENT, PARTNER, RELATION, CONTACT, ACTIVITY, FAQ_ENTRY, CASE)
        + (LIAISON_GROUP, SYNONYM)
    }
)
"""Every record with a field table, by change-log entity name."""

SECTIONS: Mapping[str, Record] = MappingProxyType({r.section: r for r in RECORDS.values() if r.section})
"""The importable records, by import section, in the import format's order."""


def record_for(entity_or_section: str | None) -> Record | None:
    if not entity_or_section:
        return None
    return RECORDS.get(entity_or_section) or SECTIONS.get(entity_or_section)
