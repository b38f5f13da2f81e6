"""The closed vocabularies of the domain, shared by models, services and GraphQL.

Values are the CONTRACT.md §4 enum names; the Chinese labels are what people read.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from api.words import LABELS


class RegionLevel(StrEnum):
    PROVINCE = "PROVINCE"
    CITY = "CITY"
    COUNTY = "COUNTY"
    TOWN = "TOWN"


class PartnerTier(StrEnum):
    RED = "RED"
    GREEN = "GREEN"
    BLUE = "BLUE"
    YELLOW = "YELLOW"


class AgreementStatus(StrEnum):
    DRAFT = "DRAFT"
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    TERMINATED = "TERMINATED"
    EXPIRED = "EXPIRED"


class MatterScope(StrEnum):
    CROSS_PROVINCE = "CROSS_PROVINCE"
    PROVINCE_WIDE = "PROVINCE_WIDE"
    CITYWIDE = "CITYWIDE"


class HandlingMode(StrEnum):
    FULL_ONLINE = "FULL_ONLINE"
    REMOTE_PROXY = "REMOTE_PROXY"
    MULTI_SITE = "MULTI_SITE"


class HallLevel(StrEnum):
    CITY = "CITY"
    COUNTY = "COUNTY"
    TOWN = "TOWN"
    VILLAGE = "VILLAGE"


class WindowService(StrEnum):
    """Services of a cross-region window (跨区域通办窗口), seed §三.(二).3."""

    CONSULT = "CONSULT"
    ASSIST = "ASSIST"
    SEND_RECEIVE = "SEND_RECEIVE"


class RelationKind(StrEnum):
    """Pairing relations: real ties between regions that are not 通办 agreements."""

    AID_XINJIANG = "AID_XINJIANG"
    EAST_WEST = "EAST_WEST"
    COOPERATION = "COOPERATION"


class ActivityKind(StrEnum):
    """Cooperation work with partner regions (seed §二.(二)–(四), §三.(二).2): 会商 with RED partners,
    exchanges with the Yangtze Delta, guidance for the pairing regions, and the 通办后 review."""

    CONSULTATION = "CONSULTATION"
    SECONDMENT = "SECONDMENT"
    JOINT_TRAINING = "JOINT_TRAINING"
    SHADOWING = "SHADOWING"
    GUIDANCE = "GUIDANCE"
    REVIEW = "REVIEW"


class Role(StrEnum):
    ADMIN = "ADMIN"
    COUNTY = "COUNTY"
    PARTNER = "PARTNER"


class FeedbackStatus(StrEnum):
    OPEN = "OPEN"
    RESPONDING = "RESPONDING"
    RESOLVED = "RESOLVED"
    ESCALATED = "ESCALATED"


class FeedbackStage(StrEnum):
    """三步闭环沟通: 通办前 / 通办中 / 通办后 (seed §三.(二).2)."""

    BEFORE = "BEFORE"
    DURING = "DURING"
    AFTER = "AFTER"


class FeedbackChannel(StrEnum):
    PUBLIC = "PUBLIC"
    STAFF = "STAFF"
    PARTNER = "PARTNER"


class GuideStatus(StrEnum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    ARCHIVED = "ARCHIVED"


def value_of(member: Any) -> Any:
    """An enum member's stored value; anything else as it is (rows may hold either)."""
    return getattr(member, "value", member)


def label(value: object) -> str:
    """The Chinese label of an enum value (or the value itself when unknown)."""
    key = value_of(value)
    return LABELS.get(str(key), str(key))
