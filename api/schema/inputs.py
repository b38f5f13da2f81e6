"""Mutation inputs: the import format's records (CONTRACT.md §3 + TEAM.md), field for field.

They are converted back into the import format's camelCase dict (`as_import_dict`) and handed to the
same service functions the CLI import and the staff forms call, so validation, permissions, audit
and outbox happen once, there. An omitted field is left out of the dict (the service applies the
import format's default, e.g. an omitted `matterCodes` means "every cross-province matter"); an
explicit null is passed as None.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from enum import Enum
from typing import Any

import strawberry
from strawberry.types.base import has_object_definition

from api.schema.types import AgreementStatus, HallLevel, HandlingMode, MatterScope, WindowService


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if has_object_definition(value):
        return as_import_dict(value)
    return value


def as_import_dict(obj: Any) -> dict[str, Any]:
    """A strawberry input as the import format's camelCase dict; UNSET fields are left out."""
    result: dict[str, Any] = {}
    for item in dataclasses.fields(obj):
        value = getattr(obj, item.name)
        if value is strawberry.UNSET:
            continue
        result[_camel(item.name)] = _plain(value)
    return result


@strawberry.input(description="An agreement in the import format (CONTRACT §3).")
class AgreementInput:
    title: str | None = strawberry.UNSET
    partner_code: str
    local_code: str
    signed_on: dt.date
    key: str | None = strawberry.UNSET
    effective_from: dt.date | None = strawberry.field(
        default=strawberry.UNSET, description="Defaults to signedOn."
    )
    expires_on: dt.date | None = strawberry.UNSET
    status: AgreementStatus | None = strawberry.field(
        default=strawberry.UNSET, description="Defaults to ACTIVE."
    )
    citywide_shared: bool | None = strawberry.field(
        default=strawberry.UNSET, description="一地签约、全市共享; defaults to true."
    )
    not_shared_reason: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Why an agreement with citywideShared false is an exception to 一地签约、全市共享 (shown to citizens).",
    )
    matter_codes: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Null or omitted: every CROSS_PROVINCE matter."
    )
    document_ref: str | None = strawberry.UNSET
    registered_on: dt.date | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "The server's date (today for a new agreement; the 3-day rule measures it). Only a city admin "
            "may give another date, with registeredOnReason; from anyone else a different date is FORBIDDEN."
        ),
    )
    registered_on_reason: str | None = strawberry.field(
        default=strawberry.UNSET, description="Why an admin corrects registeredOn; kept in the change log."
    )
    items_count: int | None = strawberry.UNSET
    note: str | None = strawberry.UNSET
    source: str | None = strawberry.UNSET
    source_url: str | None = strawberry.UNSET
    sample: bool | None = strawberry.UNSET


@strawberry.input(description="One material of a guide.")
class GuideMaterialInput:
    name: str
    required: bool | None = strawberry.UNSET
    copies: int | None = strawberry.UNSET
    note: str | None = strawberry.UNSET


@strawberry.input(description="A matter's unified guide; a changed guide is published as a new version.")
class GuideInput:
    conditions: str | None = strawberry.UNSET
    materials: list[GuideMaterialInput] | None = strawberry.UNSET
    steps: list[str] | None = strawberry.UNSET
    time_limit_days: int | None = strawberry.UNSET
    fee: str | None = strawberry.UNSET
    legal_basis: str | None = strawberry.UNSET
    walkthrough: str | None = strawberry.UNSET
    publisher: str | None = strawberry.UNSET
    source_url: str | None = strawberry.UNSET
    sample: bool | None = strawberry.UNSET


@strawberry.input(description="A matter in the import format, keyed by code.")
class MatterInput:
    code: str
    name: str
    scope: MatterScope
    department: str | None = strawberry.UNSET
    modes: list[HandlingMode] | None = strawberry.UNSET
    keywords: list[str] | None = strawberry.UNSET
    aliases: list[str] | None = strawberry.UNSET
    national_list: str | None = strawberry.UNSET
    deadline: str | None = strawberry.UNSET
    published: bool | None = strawberry.UNSET
    source: str | None = strawberry.UNSET
    source_url: str | None = strawberry.UNSET
    sample: bool | None = strawberry.UNSET
    guide: GuideInput | None = strawberry.UNSET


@strawberry.input(description="A hall in the import format, keyed by key.")
class HallInput:
    name: str
    region_code: str
    level: HallLevel
    key: str | None = strawberry.UNSET
    address: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    opening_hours: str | None = strawberry.UNSET
    latitude: float | None = strawberry.UNSET
    longitude: float | None = strawberry.UNSET
    coordinates_approximate: bool | None = strawberry.UNSET
    has_cross_region_window: bool | None = strawberry.UNSET
    window_services: list[WindowService] | None = strawberry.UNSET
    matter_codes: list[str] | None = strawberry.UNSET
    source: str | None = strawberry.UNSET
    source_url: str | None = strawberry.UNSET
    sample: bool | None = strawberry.UNSET
