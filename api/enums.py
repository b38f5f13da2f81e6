"""The closed vocabularies of the domain, shared by models, services and GraphQL.

Values are the CONTRACT.md §4 enum names; the Chinese labels are what people read.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


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


LABELS: dict[str, str] = {
    "PROVINCE": "省级",
    "CITY": "市级",
    "COUNTY": "县级",
    "TOWN": "乡镇(街道)",
    "VILLAGE": "村(社区)",
    "RED": "红色·重点",
    "GREEN": "绿色·人口",
    "BLUE": "蓝色·合作",
    "YELLOW": "黄色·潜力",
    "DRAFT": "草稿",
    "PENDING": "未生效",
    "ACTIVE": "生效中",
    "SUSPENDED": "暂停",
    "TERMINATED": "终止",
    "EXPIRED": "已到期",
    "CROSS_PROVINCE": "跨省通办",
    "PROVINCE_WIDE": "全省通办",
    "CITYWIDE": "全市通办",
    "FULL_ONLINE": "全程网办",
    "REMOTE_PROXY": "异地代收代办",
    "MULTI_SITE": "多地联办",
    "CONSULT": "异地咨询",
    "ASSIST": "异地帮办",
    "SEND_RECEIVE": "异地收发件",
    "AID_XINJIANG": "对口援疆",
    "EAST_WEST": "东西部协作",
    "COOPERATION": "对口合作",
    "OPEN": "待响应",
    "RESPONDING": "处理中",
    "RESOLVED": "已解决",
    "ESCALATED": "已上报市级",
    "BEFORE": "通办前",
    "DURING": "通办中",
    "AFTER": "通办后",
    "PUBLISHED": "已发布",
    "ARCHIVED": "已归档",
    "CONSULTATION": "会商",
    "SECONDMENT": "挂职交流",
    "JOINT_TRAINING": "同步培训",
    "SHADOWING": "跟班学习",
    "GUIDANCE": "业务指导",
    "REVIEW": "通办后总结",
}


ROLE_LABELS: dict[str, str] = {"ADMIN": "市级管理员", "COUNTY": "县(市、区)工作人员", "PARTNER": "合作地区工作人员"}
CHANNEL_LABELS: dict[str, str] = {"PUBLIC": "公众", "STAFF": "工作人员", "PARTNER": "合作地区"}


def value_of(member: Any) -> Any:
    """An enum member's stored value; anything else as it is (rows may hold either)."""
    return getattr(member, "value", member)


def label(value: object) -> str:
    """The Chinese label of an enum value (or the value itself when unknown)."""
    key = value_of(value)
    return LABELS.get(str(key), str(key))
