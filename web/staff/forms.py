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
from api.records import (
    AGREEMENT,
    CASE,
    CONTACT,
    FAQ_ENTRY,
    GUIDE,
    HALL,
    LIAISON_GROUP,
    MATTER,
    PARTNER,
    SYNONYM,
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
    partnerCode = StringField(AGREEMENT.form_label("partnerCode"))
    localCode = LooseSelect(AGREEMENT.form_label("localCode"))
    title = StringField(AGREEMENT.form_label("title"))
    signedOn = date_field(AGREEMENT.form_label("signedOn"))
    effectiveFrom = date_field(AGREEMENT.form_label("effectiveFrom"))
    expiresOn = date_field(AGREEMENT.form_label("expiresOn"))
    status = LooseSelect(
        AGREEMENT.form_label("status"),
        choices=_choices(
            s for s in AgreementStatus if s not in (AgreementStatus.PENDING, AgreementStatus.EXPIRED)
        ),
    )
    citywideShared = BooleanField(AGREEMENT.form_label("citywideShared"))
    includesClause = LooseSelect(
        AGREEMENT.form_label("includesClause"),
        choices=_pairs(
            [("", "尚未核对"), ("yes", "是, 签署文本含该条款"), ("no", "否, 签署文本不含该条款(需补充协议)")]
        ),
    )
    notSharedReason = TextAreaField(AGREEMENT.form_label("notSharedReason"))
    coverage = LooseSelect(
        "通办事项范围", choices=_pairs([("all", "全部跨省通办事项"), ("listed", "仅下列勾选的事项")])
    )
    matterCodes = CheckboxList(AGREEMENT.form_label("matterCodes"))
    itemsCount = StringField(AGREEMENT.form_label("itemsCount"), widget=NumberInput(min=0))
    documentRef = StringField(AGREEMENT.form_label("documentRef"))
    note = TextAreaField(AGREEMENT.form_label("note"))
    source = TextAreaField(AGREEMENT.form_label("source"))
    sourceUrl = StringField(AGREEMENT.form_label("sourceUrl"))
    verifiedOn = date_field(AGREEMENT.form_label("verifiedOn"))
    key = StringField(AGREEMENT.form_label("key"))


class MatterForm(StaffForm):
    version = HiddenField()
    code = StringField(MATTER.form_label("code"))
    name = StringField(MATTER.form_label("name"))
    department = StringField(MATTER.form_label("department"))
    scope = LooseSelect(MATTER.form_label("scope"), choices=_choices(MatterScope))
    modes = CheckboxList(MATTER.form_label("modes"), choices=_choices(HandlingMode))
    keywords = StringField(MATTER.form_label("keywords"))
    aliases = StringField(MATTER.form_label("aliases"))
    nationalList = StringField(MATTER.form_label("nationalList"))
    deadline = StringField(MATTER.form_label("deadline"))
    published = BooleanField(MATTER.form_label("published"))
    source = TextAreaField(MATTER.form_label("source"))
    sourceUrl = StringField(MATTER.form_label("sourceUrl"))
    verifiedOn = date_field(MATTER.form_label("verifiedOn"))
    sample = BooleanField(MATTER.form_label("sample"))


class GuideForm(StaffForm):
    draft_version = HiddenField()
    conditions = TextAreaField(GUIDE.form_label("conditions"))
    materials = TextAreaField(GUIDE.form_label("materials"))
    steps = TextAreaField(GUIDE.form_label("steps"))
    timeLimitDays = StringField(GUIDE.form_label("timeLimitDays"), widget=NumberInput(min=0))
    fee = StringField(GUIDE.form_label("fee"))
    legalBasis = TextAreaField(GUIDE.form_label("legalBasis"))
    walkthrough = TextAreaField(GUIDE.form_label("walkthrough"))
    publisher = StringField(GUIDE.form_label("publisher"))
    sourceUrl = StringField(GUIDE.form_label("sourceUrl"))
    publishedOn = date_field(GUIDE.form_label("publishedOn"))
    sample = BooleanField(GUIDE.form_label("sample"))


class GuideActionForm(StaffForm):
    draft_version = HiddenField()


class HallForm(StaffForm):
    version = HiddenField()
    name = StringField(HALL.form_label("name"))
    regionCode = LooseSelect(HALL.form_label("regionCode"))
    level = LooseSelect(HALL.form_label("level"), choices=_choices(HallLevel))
    address = StringField(HALL.form_label("address"))
    phone = StringField(HALL.form_label("phone"))
    openingHours = TextAreaField(HALL.form_label("openingHours"))
    coordinates = StringField(
        "从地图复制的坐标(可选, 如 28.66,121.42 或 28.66°N, 121.42°E; 填写后覆盖下面的经纬度, 并标记为精确位置)"
    )
    latitude = StringField(HALL.form_label("latitude"))
    longitude = StringField(HALL.form_label("longitude"))
    coordinatesApproximate = BooleanField(HALL.form_label("coordinatesApproximate"))
    hasCrossRegionWindow = BooleanField(HALL.form_label("hasCrossRegionWindow"))
    windowServices = CheckboxList(HALL.form_label("windowServices"), choices=_choices(WindowService))
    matterCodes = CheckboxList(HALL.form_label("matterCodes"))
    source = TextAreaField(HALL.form_label("source"))
    sourceUrl = StringField(HALL.form_label("sourceUrl"))
    verifiedOn = date_field(HALL.form_label("verifiedOn"))
    key = StringField(HALL.form_label("key"))


class ContactForm(StaffForm):
    version = HiddenField()
    name = StringField(CONTACT.form_label("name"))
    regionCode = StringField(CONTACT.form_label("regionCode"))
    organisation = StringField(CONTACT.form_label("organisation"))
    role = StringField(CONTACT.form_label("role"))
    phone = StringField(CONTACT.form_label("phone"))
    email = StringField(CONTACT.form_label("email"))
    liaisonGroup = StringField(CONTACT.form_label("liaisonGroup"))
    verifiedOn = date_field(CONTACT.form_label("verifiedOn"))
    sample = BooleanField(CONTACT.form_label("sample"))


class GroupForm(StaffForm):
    name = StringField(LIAISON_GROUP.form_label("name"))
    channel = StringField(LIAISON_GROUP.form_label("channel"))
    note = TextAreaField(LIAISON_GROUP.form_label("note"))


class PartnerForm(StaffForm):
    version = HiddenField()
    populationIndex = StringField(PARTNER.form_label("populationIndex"))
    cooperationIndex = StringField(PARTNER.form_label("cooperationIndex"))


class ThresholdForm(StaffForm):
    population = StringField("人口潜力指数阈值")
    cooperation = StringField("合作潜力指数阈值")


class SynonymForm(StaffForm):
    terms = StringField(SYNONYM.form_label("terms"))


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
    question = TextAreaField(FAQ_ENTRY.form_label("question"))
    answer = TextAreaField(FAQ_ENTRY.form_label("answer"))
    matterCode = StringField(FAQ_ENTRY.form_label("matterCode"))
    published = BooleanField(FAQ_ENTRY.form_label("published"))


class EditionForm(StaffForm):
    year = StringField("年份", widget=NumberInput(min=2020, max=2100))
    month = LooseSelect("月份", choices=_pairs([("5", "5月版"), ("11", "11月版")]))
    feedback = CheckboxList("编入的已办结反馈")


class CaseForm(StaffForm):
    version = HiddenField()
    title = StringField(CASE.form_label("title"))
    summary = TextAreaField(CASE.form_label("summary"))
    matterCode = StringField(CASE.form_label("matterCode"))
    countyCode = LooseSelect(CASE.form_label("countyCode"))
    partnerCode = StringField(CASE.form_label("partnerCode"))
    happenedOn = date_field(CASE.form_label("happenedOn"))
    published = BooleanField(CASE.form_label("published"))


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
