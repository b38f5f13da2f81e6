"""The staff forms (WTForms). Fields keep exactly what was typed (text, not converted values):
validation belongs to the service layer, whose FieldErrors come back onto the matching field, so a
form and the GraphQL API never disagree about what is valid. Field names are the import format's
camelCase keys, which is what the services' FieldErrors name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wtforms import (
    BooleanField,
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, DateInput, ListWidget, NumberInput

from api.enums import (
    AgreementStatus,
    FeedbackStage,
    HallLevel,
    HandlingMode,
    MatterScope,
    WindowService,
    label,
)
from api.services.base import FieldError
from api.services.feedback import CATEGORIES
from web.staff.session import StaffForm


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form: Any) -> None:
        """Unknown values are reported by the service (as unknown codes), not as a WTForms choice error."""


class LooseSelect(SelectField):
    """A select whose value is checked by the service (so a stale option is an error on the field)."""

    def pre_validate(self, form: Any) -> None:
        pass


def _choices(values: Iterable[Any]) -> list[SelectChoice]:
    return [SelectChoice(getattr(v, "value", v), label(v)) for v in values]


def _pairs(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    return [SelectChoice(value, text) for value, text in pairs]


def date_field(text: str, **kwargs: Any) -> StringField:
    return StringField(text, widget=DateInput(), **kwargs)


class LoginForm(StaffForm):
    name = StringField("账号")
    password = PasswordField("密码")
    next = HiddenField()


class AgreementForm(StaffForm):
    version = HiddenField()
    partnerCode = StringField("合作地区(行政区划代码或名称)")
    localCode = LooseSelect("本地签约方")
    title = StringField("协议名称(留空自动生成)")
    signedOn = date_field("签约日期")
    effectiveFrom = date_field("生效日期(留空同签约日)")
    expiresOn = date_field("到期日期(长期有效留空)")
    status = LooseSelect(
        "状态",
        choices=_choices(
            s for s in AgreementStatus if s not in (AgreementStatus.PENDING, AgreementStatus.EXPIRED)
        ),
    )
    citywideShared = BooleanField("一地签约、全市共享: 与本地签约后, 合作效力及于台州市各县(市、区)")
    includesClause = LooseSelect(
        "签署文本是否写明“一地签约、全市共享”条款",
        choices=_pairs(
            [("", "尚未核对"), ("yes", "是, 签署文本含该条款"), ("no", "否, 签署文本不含该条款(需补充协议)")]
        ),
    )
    notSharedReason = TextAreaField("未实行全市共享的原因(取消上一项勾选时必填, 公众查询时可见)")
    coverage = LooseSelect(
        "通办事项范围", choices=_pairs([("all", "全部跨省通办事项"), ("listed", "仅下列勾选的事项")])
    )
    matterCodes = CheckboxList("约定事项")
    itemsCount = StringField("协议载明的事项数", widget=NumberInput(min=0))
    documentRef = StringField("文号")
    note = TextAreaField("备注")
    source = TextAreaField("来源")
    sourceUrl = StringField("来源网址")
    verifiedOn = date_field("核实日期(最近一次对照来源核实的日期)")
    key = StringField("标识(可选, 供导入导出对应)")


class MatterForm(StaffForm):
    version = HiddenField()
    code = StringField("事项编码")
    name = StringField("事项名称")
    department = StringField("主管部门")
    scope = LooseSelect("通办范围", choices=_choices(MatterScope))
    modes = CheckboxList("办理方式", choices=_choices(HandlingMode))
    keywords = StringField("关键词(逗号或顿号分隔)")
    aliases = StringField("其他名称(逗号分隔)")
    nationalList = StringField("国家清单批次(如 2020-35)")
    deadline = StringField("完成时限")
    published = BooleanField("公开(在公众页面显示)")
    source = TextAreaField("来源")
    sourceUrl = StringField("来源网址")
    verifiedOn = date_field("核实日期(最近一次对照来源核实的日期)")
    sample = BooleanField("示例数据")


class GuideForm(StaffForm):
    draft_version = HiddenField()
    conditions = TextAreaField("受理条件")
    materials = TextAreaField("申请材料(每行一项: 名称 | 必需/非必需 | 份数 | 备注)")
    steps = TextAreaField("办理流程(每行一步)")
    timeLimitDays = StringField("办理时限(工作日)", widget=NumberInput(min=0))
    fee = StringField("收费标准")
    legalBasis = TextAreaField("设定依据")
    walkthrough = TextAreaField("教你办(分步说明)")
    publisher = StringField("发布单位")
    sourceUrl = StringField("来源网址")
    publishedOn = date_field("来源发布日期(发布单位公布该指南的日期)")
    sample = BooleanField("示例数据")


class GuideActionForm(StaffForm):
    draft_version = HiddenField()


class HallForm(StaffForm):
    version = HiddenField()
    name = StringField("大厅名称")
    regionCode = LooseSelect("所在地")
    level = LooseSelect("层级", choices=_choices(HallLevel))
    address = StringField("地址")
    phone = StringField("电话")
    openingHours = TextAreaField("办公时间")
    coordinates = StringField(
        "从地图复制的坐标(可选, 如 28.66,121.42 或 28.66°N, 121.42°E; 填写后覆盖下面的经纬度, 并标记为精确位置)"
    )
    latitude = StringField("纬度")
    longitude = StringField("经度")
    coordinatesApproximate = BooleanField("坐标为近似位置")
    hasCrossRegionWindow = BooleanField("设有跨区域通办窗口")
    windowServices = CheckboxList("窗口服务", choices=_choices(WindowService))
    matterCodes = CheckboxList("本大厅受理的其他事项")
    source = TextAreaField("来源")
    sourceUrl = StringField("来源网址")
    verifiedOn = date_field("核实日期(最近一次对照来源核实的日期)")
    key = StringField("标识(可选)")


class ContactForm(StaffForm):
    version = HiddenField()
    name = StringField("姓名")
    regionCode = StringField("所属地区(行政区划代码或名称)")
    organisation = StringField("单位")
    role = StringField("职务/岗位")
    phone = StringField("电话")
    email = StringField("电子邮箱")
    liaisonGroup = StringField("所在通办联络群")
    verifiedOn = date_field("核实日期(最近一次对照来源核实的日期)")
    sample = BooleanField("示例数据")


class GroupForm(StaffForm):
    name = StringField("联络群名称")
    channel = StringField("渠道(如 浙政钉群号)")
    note = TextAreaField("说明")


class PartnerForm(StaffForm):
    version = HiddenField()
    populationIndex = StringField("人口潜力指数(0–100)")
    cooperationIndex = StringField("合作潜力指数(0–100)")


class ThresholdForm(StaffForm):
    population = StringField("人口潜力指数阈值")
    cooperation = StringField("合作潜力指数阈值")


class SynonymForm(StaffForm):
    terms = StringField("同义词(逗号或顿号分隔, 如: 社保卡、社会保障卡)")


class DeleteForm(StaffForm):
    pass


class FeedbackForm(StaffForm):
    description = TextAreaField("遇到的问题")
    stage = LooseSelect("环节", choices=_pairs([("", "—")]) + _choices(FeedbackStage))
    category = LooseSelect("问题类别", choices=_pairs([("", "—"), *CATEGORIES.items()]))
    matterCode = StringField("事项编码")
    homeRegionCode = StringField("办事人户籍(参保)地代码")
    countyCode = LooseSelect("受理县(市、区)")
    partnerCode = StringField("合作地区代码")
    contact = StringField("联系方式(可选)")


class MoveForm(StaffForm):
    version = HiddenField()
    to_status = HiddenField()
    note = TextAreaField("处理说明")


class FaqEntryForm(StaffForm):
    version = HiddenField()
    feedbackId = HiddenField()
    question = TextAreaField("问题")
    answer = TextAreaField("解答")
    matterCode = StringField("相关事项编码")
    published = BooleanField("编入下一版手册")


class EditionForm(StaffForm):
    year = StringField("年份", widget=NumberInput(min=2020, max=2100))
    month = LooseSelect("月份", choices=_pairs([("5", "5月版"), ("11", "11月版")]))
    feedback = CheckboxList("编入的已办结反馈")


class CaseForm(StaffForm):
    version = HiddenField()
    title = StringField("案例标题")
    summary = TextAreaField("经过与做法")
    matterCode = StringField("相关事项编码")
    countyCode = LooseSelect("县(市、区)")
    partnerCode = StringField("合作地区(代码或名称)")
    happenedOn = date_field("发生日期")
    published = BooleanField("在公众页面发布")


class OutreachForm(StaffForm):
    countyCode = LooseSelect("县(市、区)")
    place = StringField("地点(工厂、社区)")
    visitedOn = date_field("日期")
    peopleServed = StringField("服务人数", widget=NumberInput(min=0))
    note = TextAreaField("情况")


# ------------------------------------------------------------------ errors back onto fields


def field_name(error: FieldError) -> str:
    """`guide.materials[2].name` → `materials`; `partnerCode` → `partnerCode`."""
    name = error.field.removeprefix("guide.")
    for separator in ("[", "."):
        name = name.split(separator, 1)[0]
    return name


def apply_errors(form: Any, errors: Iterable[FieldError], aliases: dict[str, str] | None = None) -> list[str]:
    """Put each service error next to its field; return the ones no field shows."""
    general: list[str] = []
    for error in errors:
        name = field_name(error)
        name = (aliases or {}).get(name, name)
        field = getattr(form, name, None) if name and not name.startswith("_") else None
        if field is not None and hasattr(field, "errors") and name != "csrf_token":
            if not isinstance(field.errors, list):
                field.errors = list(field.errors)
            message = error.message if error.field == name else f"{error.field}: {error.message}"
            field.errors.append(message)
        else:
            general.append(error.describe())
    return general


def split_list(text: str | None) -> list[str]:
    """Comma-, 、- or semicolon-separated text as a list of trimmed items."""
    if not text:
        return []
    for separator in ("，", "、", ";", "；", "\n"):
        text = text.replace(separator, ",")
    return [item.strip() for item in text.split(",") if item.strip()]


def materials_from_text(text: str | None) -> list[dict[str, Any]]:
    """One material per line: `名称 | 必需/非必需 | 份数 | 备注` (only the name is needed)."""
    materials: list[dict[str, Any]] = []
    for line in (text or "").splitlines():
        parts = [p.strip() for p in line.replace("｜", "|").split("|")]
        if not parts or not parts[0]:
            continue
        item: dict[str, Any] = {"name": parts[0], "required": True}
        if len(parts) > 1 and parts[1]:
            item["required"] = parts[1] not in ("非必需", "否", "可选", "no", "false")
        if len(parts) > 2 and parts[2]:
            item["copies"] = parts[2]
        if len(parts) > 3 and parts[3]:
            item["note"] = parts[3]
        materials.append(item)
    return materials


def materials_to_text(materials: Iterable[dict[str, Any]] | None) -> str:
    lines = []
    for material in materials or []:
        parts = [
            str(material.get("name", "")),
            "必需" if material.get("required", True) else "非必需",
            str(material.get("copies") or ""),
            str(material.get("note") or ""),
        ]
        while parts and not parts[-1]:
            parts.pop()
        lines.append(" | ".join(parts))
    return "\n".join(lines)
