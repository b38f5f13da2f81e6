"""The field tables (api/records.py) are the one place a field is named: every place a person reads a
field's name says the same word, old import headings still import, every GraphQL input field is a
table field with the same meaning, and each record's parser reads each field the way its row says.

No database: the parsers are pure; the region tree comes from the bundled divisions.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    build_schema,
)
from wtforms.fields.core import UnboundField

from api.bundled import iter_regions
from api.records import (
    ACTIVITY,
    AGREEMENT,
    CASE,
    CONTACT,
    FAQ_ENTRY,
    GUIDE,
    HALL,
    LIAISON_GROUP,
    MATTER,
    PARTNER,
    RECORDS,
    SECTIONS,
    SYNONYM,
    Field,
    Record,
)
from api.rules import Place, RegionTree
from api.services.activities import parse_activity
from api.services.agreements import parse_agreement
from api.services.base import SYSTEM, FieldError, ServiceContext
from api.services.cases import parse_case
from api.services.dashboard import TABLE_COLUMNS, TABLE_FIELDS
from api.services.directory import parse_contact, parse_relation
from api.services.faq import parse_entry
from api.services.halls import parse_hall
from api.services.imports import (
    BOOLEAN_COLUMNS,
    ENUM_COLUMNS,
    HEADINGS,
    SECTION_TITLES,
    normalise_document,
)
from api.services.matters import parse_matter
from api.services.partners import parse_partner
from api.services.transfer import COLUMNS
from web.staff import forms
from web.staff.activities import ActivityForm
from web.staff.diff import field_change, field_label, record_diff, side_by_side

ROOT = Path(__file__).resolve().parent.parent
HOME = "331000"

FORMS: dict[str, type] = {
    "agreement": forms.AgreementForm,
    "matter": forms.MatterForm,
    "guide": forms.GuideForm,
    "hall": forms.HallForm,
    "contact": forms.ContactForm,
    "partner": forms.PartnerForm,
    "activity": ActivityForm,
    "faq": forms.FaqEntryForm,
    "case": forms.CaseForm,
    "liaison-group": forms.GroupForm,
    "synonym": forms.SynonymForm,
}

EVERY_FIELD = [pytest.param(r, f, id=f"{r.entity}.{f.name}") for r in RECORDS.values() for f in r]


def form_label(record: Record, name: str) -> str | None:
    form = FORMS.get(record.entity)
    unbound = getattr(form, name, None) if form is not None else None
    if not isinstance(unbound, UnboundField) or unbound.field_class.__name__ == "HiddenField":
        return None
    return unbound.args[0] if unbound.args else unbound.kwargs.get("label")


@pytest.mark.parametrize(("record", "spec"), EVERY_FIELD)
def test_a_field_has_one_label_wherever_it_is_shown(record: Record, spec: Field) -> None:
    """Form label (without its hint) = import heading = diff label = export heading."""
    words: dict[str, str] = {
        "diff": field_label(spec.name, record.entity),
        "change log": field_change(spec.name, "甲", "乙", None, record.entity).label,
        "stale save": side_by_side({spec.name: "甲"}, {spec.name: "乙"}, None, record.entity)[0][0],
    }
    shown = form_label(record, spec.name)
    if shown is not None:
        assert shown == spec.form_label, f"{record.entity}.{spec.name}: the form says {shown!r}"
        words["form"] = shown.split("(", 1)[0] if spec.hint else shown
    if record.section is not None and spec.template:
        words["import heading"] = HEADINGS[record.section][spec.name]
    if record is AGREEMENT and spec.name in TABLE_FIELDS.values():
        column = next(a for a, f in TABLE_FIELDS.items() if f == spec.name)
        words["cooperation table"] = dict(TABLE_COLUMNS)[column]
    assert words == dict.fromkeys(words, spec.label)


def test_every_form_field_of_a_record_is_in_its_table() -> None:
    helpers = {("hall", "coordinates"), ("agreement", "coverage")}  # form-only inputs, not record fields
    for entity, form in FORMS.items():
        names = [n for n in dir(form) if isinstance(getattr(form, n), UnboundField)]
        for name in names:
            if form_label(RECORDS[entity], name) is None or (entity, name) in helpers:
                continue
            assert name in RECORDS[entity], f"{form.__name__}.{name} is not in the {entity} table"


def test_the_change_log_names_fields_in_the_words_of_their_record() -> None:
    changes = record_diff({"name": "旧"}, {"name": "新"}, None, "hall")
    assert [c.label for c in changes] == ["大厅名称"]
    assert [c.label for c in record_diff({"name": "旧"}, {"name": "新"}, None, "contact")] == ["姓名"]
    assert [c.label for c in record_diff({"name": "旧"}, {"name": "新"}, None, "feedback")] == ["名称"]


@pytest.mark.parametrize("record", list(SECTIONS.values()), ids=lambda r: r.section)
def test_import_template_and_export_follow_the_table(record: Record) -> None:
    section = record.section
    assert section is not None
    assert SECTION_TITLES[section] == record.title  # the template's sheet is named as the record type
    assert list(HEADINGS[section]) == [f.name for f in record if f.template]
    assert COLUMNS[section] == [f.name for f in record if f.exported]
    for (enum_section, name), cls in ENUM_COLUMNS.items():
        if enum_section == section:
            assert record[name].choices is cls
    for spec in record:
        if spec.choices is not None and spec.template:
            assert ENUM_COLUMNS.get((section, spec.name)) is spec.choices
        if spec.template:
            assert (spec.name in BOOLEAN_COLUMNS) == (spec.reader == "boolean"), spec.name


@pytest.mark.parametrize("record", list(SECTIONS.values()), ids=lambda r: r.section)
def test_old_headings_and_field_names_still_import(record: Record) -> None:
    section = record.section
    assert section is not None
    title = SECTION_TITLES[section]
    for spec in record:
        for heading in (spec.label, spec.name, *spec.aliases):
            document = normalise_document({title: [{heading: "甲"}]})
            assert list(document) == [section]
            assert list(document[section][0]) == [spec.name], f"{heading!r} should read as {spec.name}"


def test_no_heading_means_two_fields() -> None:
    for record in RECORDS.values():
        seen: dict[str, str] = {}
        for spec in record:
            for heading in (spec.label, *spec.aliases):
                assert seen.setdefault(heading, spec.name) == spec.name, (record.entity, heading)


# ----------------------------------------------------------------------------- GraphQL inputs

GRAPHQL_INPUTS = {
    "AgreementInput": AGREEMENT,
    "MatterInput": MATTER,
    "GuideInput": GUIDE,
    "HallInput": HALL,
    "ContactInput": CONTACT,
    "ActivityInput": ACTIVITY,
}
SCALARS = {"String": "text", "Date": "date", "Boolean": "boolean", "Int": "integer", "Float": "number"}


def meaning(graphql_type: Any) -> tuple[str, Any]:
    """What a GraphQL input type says a field is, in the field tables' words."""
    if isinstance(graphql_type, GraphQLNonNull):
        graphql_type = graphql_type.of_type
    if isinstance(graphql_type, GraphQLList):
        item = graphql_type.of_type
        item = item.of_type if isinstance(item, GraphQLNonNull) else item
        if isinstance(item, GraphQLEnumType):
            return "enum_list", set(item.values)
        if isinstance(item, GraphQLScalarType) and item.name == "String":
            return "string_list", None
        if isinstance(item, GraphQLInputObjectType):
            return "nested", None
        raise AssertionError(f"a list of {item}")
    if isinstance(graphql_type, GraphQLEnumType):
        return "enum", set(graphql_type.values)
    if isinstance(graphql_type, GraphQLInputObjectType):
        return "nested", None
    return SCALARS[graphql_type.name], None


@pytest.mark.parametrize(("type_name", "record"), GRAPHQL_INPUTS.items(), ids=list(GRAPHQL_INPUTS))
def test_every_graphql_input_field_is_a_table_field_with_the_same_meaning(
    type_name: str, record: Record
) -> None:
    schema = build_schema((ROOT / "schema.graphql").read_text(encoding="utf-8"))
    input_type = schema.get_type(type_name)
    assert isinstance(input_type, GraphQLInputObjectType)
    for name, input_field in input_type.fields.items():
        assert name in record, f"{type_name}.{name} is not a field of the {record.entity} table"
        spec = record[name]
        reader, values = meaning(input_field.type)
        assert reader == spec.reader, f"{type_name}.{name}: {reader} in GraphQL, {spec.reader} in the table"
        if spec.choices is not None:
            assert values == {m.value for m in spec.choices}, f"{type_name}.{name}"
        if spec.required:
            assert isinstance(input_field.type, GraphQLNonNull), f"{type_name}.{name} is required"


# ----------------------------------------------------------------------------- parsers read as the table says


@cache
def context() -> ServiceContext:
    tree = RegionTree(Place(r["code"], r["name"], r["level"], r["parent_code"]) for r in iter_regions())
    return ServiceContext(SYSTEM, tree, HOME)


Parser = Callable[[dict[str, Any]], list[FieldError]]


def _guide(raw: dict[str, Any]) -> list[FieldError]:
    _, errors = parse_matter({"code": "T001", "name": "测试事项", "guide": raw})
    return [FieldError(e.field.removeprefix("guide."), e.message) for e in errors]


PARSERS: dict[str, tuple[Parser, dict[str, Any]]] = {
    "matter": (lambda raw: parse_matter(raw)[1], {"code": "T001", "name": "测试事项"}),
    "guide": (_guide, {}),
    "hall": (lambda raw: parse_hall(raw, context())[1], {"name": "测试大厅", "regionCode": "331004"}),
    "agreement": (
        lambda raw: parse_agreement(raw, context())[1],
        {"partnerCode": "511300", "localCode": "331004", "signedOn": "2024-01-01"},
    ),
    "partner": (lambda raw: parse_partner(raw, context())[1], {"regionCode": "511300"}),
    "relation": (
        lambda raw: parse_relation(raw, context())[1],
        {"key": "r1", "kind": "COOPERATION", "localCode": "331004", "partnerCode": "511300"},
    ),
    "contact": (lambda raw: parse_contact(raw, context())[1], {"name": "张三", "regionCode": "331004"}),
    "activity": (
        lambda raw: parse_activity(raw, context())[1],
        {
            "kind": "CONSULTATION",
            "partnerCode": "511300",
            "localCode": "331004",
            "heldOn": "2024-01-01",
            "title": "会商",
        },
    ),
    "case": (
        lambda raw: parse_case(raw, context())[1],
        {"title": "案例", "summary": "两地窗口协同办结了这件事"},
    ),
    "faq": (lambda raw: parse_entry(raw)[1], {"question": "社保卡怎么办?", "answer": "到窗口办理"}),
}
BAD_VALUE: dict[str, tuple[Any, str]] = {
    "text": ({"a": 1}, "应为文字"),
    "date": ("2024-13-45", "不是有效日期"),
    "boolean": ("也许", "应为 true 或 false"),
    "integer": ("三", "应为整数"),
    "number": ("三", "应为数字"),
    "enum": ("NOPE", "无效取值"),
    "enum_list": (["NOPE"], "无效取值"),
    "string_list": (12.5, "应为列表"),
}
PARSED_FIELDS = [
    pytest.param(RECORDS[entity], spec, id=f"{entity}.{spec.name}")
    for entity in PARSERS
    for spec in RECORDS[entity]
    if spec.reader in BAD_VALUE
]


def test_every_record_with_a_parser_is_checked() -> None:
    assert set(PARSERS) | {LIAISON_GROUP.entity, SYNONYM.entity} == set(RECORDS)
    assert ACTIVITY.entity in PARSERS and CASE.entity in PARSERS and FAQ_ENTRY.entity in PARSERS
    assert PARTNER.entity in PARSERS


@pytest.mark.parametrize("entity", list(PARSERS))
def test_the_required_fields_are_enough(entity: str) -> None:
    parse, base = PARSERS[entity]
    assert parse(dict(base)) == []
    assert {n for n in base} >= {f.name for f in RECORDS[entity] if f.required}
    for spec in RECORDS[entity]:
        if spec.required:
            errors = parse({k: v for k, v in base.items() if k != spec.name})
            assert any(e.field == spec.name and "必填" in e.message for e in errors), (spec.name, errors)


@pytest.mark.parametrize(("record", "spec"), PARSED_FIELDS)
def test_the_parser_reads_a_field_as_its_row_says(record: Record, spec: Field) -> None:
    parse, base = PARSERS[record.entity]
    value, message = BAD_VALUE[spec.reader]
    errors = parse({**base, spec.name: value})
    assert any(e.field == spec.name and message in e.message for e in errors), (
        f"{record.entity}.{spec.name} is not read as {spec.reader}: {errors}"
    )


@pytest.mark.parametrize(
    ("section", "name"), [(s, f.name) for s, record in SECTIONS.items() for f in record], ids=lambda v: str(v)
)
def test_the_import_preview_names_every_field_in_chinese(section: str, name: str) -> None:
    """A field the template has no column for (notSharedReason …) still shows its label in a diff."""
    from web.staff.imports import field_label

    assert field_label(section, name) == f"{SECTIONS[section].label(name)}({name})"
