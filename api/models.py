"""SQLAlchemy models: the one source of truth for every record tongban keeps.

Relationships are `lazy="raise"`: an async session cannot load lazily, so every
query states what it loads (`selectinload`) and a forgotten load fails loudly in
tests instead of silently issuing one query per row.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from api.enums import (
    ActivityKind,
    AgreementStatus,
    FeedbackChannel,
    FeedbackStage,
    FeedbackStatus,
    GuideStatus,
    HallLevel,
    MatterScope,
    RegionLevel,
    RelationKind,
    Role,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _enum(cls: type, name: str) -> Enum:
    """Enums stored as short strings with a CHECK constraint: portable across SQLite and PostgreSQL."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Provenance:
    """Where a record comes from, and whether it is illustrative (shown as 示例数据 on screen)."""

    source: Mapped[str | None] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(Text)
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # 核实日期: when a person last checked the record against its source (not when it was imported or edited)
    verified_on: Mapped[date | None] = mapped_column(Date)


class Region(Base):
    """An administrative division (行政区划, GB/T 2260 code) — a partner region, the home city or one of its
    counties and towns. Partner regions carry the two indices behind the four-colour grading
    (人口潜力指数, 合作潜力指数; seed §二.(四))."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    level: Mapped[RegionLevel] = mapped_column(_enum(RegionLevel, "region_level"))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    population_index: Mapped[float | None] = mapped_column(Float)
    cooperation_index: Mapped[float | None] = mapped_column(Float)
    indices_sample: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    indices_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class RegionRelation(Provenance, Base):
    """A pairing relation between a home-city body and a partner region — 对口援疆, 东西部协作, 对口合作.
    These are real ties that matter to window staff, but they are NOT 跨省通办 agreements and confer no
    coverage on their own."""

    __tablename__ = "region_relations"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[RelationKind] = mapped_column(_enum(RelationKind, "relation_kind"))
    local_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    partner_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    since: Mapped[str | None] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(Text)


agreement_matters = Table(
    "agreement_matters",
    Base.metadata,
    Column("agreement_id", ForeignKey("agreements.id", ondelete="CASCADE"), primary_key=True),
    Column("matter_id", ForeignKey("matters.id", ondelete="CASCADE"), primary_key=True, index=True),
)

agreement_contacts = Table(
    "agreement_contacts",
    Base.metadata,
    Column("agreement_id", ForeignKey("agreements.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, index=True),
)

hall_matters = Table(
    "hall_matters",
    Base.metadata,
    Column("hall_id", ForeignKey("halls.id", ondelete="CASCADE"), primary_key=True),
    Column("matter_id", ForeignKey("matters.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Matter(Provenance, Timestamped, Base):
    """A government service matter (政务服务事项) on one of the published lists: 跨省通办, 全省通办 or
    全市通办 (seed §三.(一).1). Its guide is the same in every county (统一业务办理标准)."""

    __tablename__ = "matters"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    department: Mapped[str] = mapped_column(String(120), default="", server_default="")
    scope: Mapped[MatterScope] = mapped_column(_enum(MatterScope, "matter_scope"), index=True)
    modes: Mapped[list[Any]] = mapped_column(default=list)
    # No source gives handling modes per matter; modes we assigned for the demo are flagged so the
    # pages can say so instead of presenting them as fact.
    modes_sample: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    aliases: Mapped[list[Any]] = mapped_column(default=list)
    national_list: Mapped[str | None] = mapped_column(String(20))
    deadline: Mapped[str | None] = mapped_column(String(80))
    published: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    guides: Mapped[list[Guide]] = relationship(
        back_populates="matter", lazy="raise", order_by="Guide.version", cascade="all, delete-orphan"
    )


class Guide(Base):
    """One version of the unified service guide (办事指南) of a matter: conditions, materials, steps, time
    limit, fee, legal basis and the 教你办 walk-through. Staff draft a new version and publish it; the
    latest published version is the one every county uses."""

    __tablename__ = "guides"
    __table_args__ = (UniqueConstraint("matter_id", "version", name="uq_guides_matter_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[GuideStatus] = mapped_column(_enum(GuideStatus, "guide_status"))
    conditions: Mapped[str | None] = mapped_column(Text)
    materials: Mapped[list[Any]] = mapped_column(default=list)
    steps: Mapped[list[Any]] = mapped_column(default=list)
    time_limit_days: Mapped[int | None] = mapped_column(Integer)
    fee: Mapped[str | None] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    walkthrough: Mapped[str | None] = mapped_column(Text)
    publisher: Mapped[str | None] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(Text)
    source_published_on: Mapped[date | None] = mapped_column(Date)  # the source's own publication date
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    matter: Mapped[Matter] = relationship(back_populates="guides", lazy="raise")


class Hall(Provenance, Timestamped, Base):
    """A service hall (政务服务中心 / 便民服务中心) in a county or town of the home city. A hall with a
    cross-region window (跨区域通办窗口) offers 异地咨询 / 异地帮办 / 异地收发件 and handles every
    cross-province matter; otherwise it handles the matters it lists."""

    __tablename__ = "halls"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str | None] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    level: Mapped[HallLevel] = mapped_column(_enum(HallLevel, "hall_level"))
    address: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(80))
    opening_hours: Mapped[str | None] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    coordinates_approximate: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    has_cross_region_window: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    window_services: Mapped[list[Any]] = mapped_column(default=list)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    matters: Mapped[list[Matter]] = relationship(secondary=hall_matters, lazy="raise", order_by="Matter.code")


class Agreement(Provenance, Timestamped, Base):
    """A cross-province service agreement (跨省通办协议) between a partner region and a home-city signatory.
    Under "一地签约、全市共享" (`citywide_shared`, on by default) it takes effect in every county of the
    home city. `registered_on` is when it was entered here: more than 3 days after signing breaks the
    3-day rule for updating the cooperation table (seed §三.(三).1)."""

    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str | None] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    partner_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    local_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    signed_on: Mapped[date] = mapped_column(Date)
    effective_from: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[AgreementStatus] = mapped_column(_enum(AgreementStatus, "agreement_status"))
    citywide_shared: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    # whether the signed text itself carries the "一地签约、全市共享" clause (None: not yet checked)
    includes_clause: Mapped[bool | None] = mapped_column(Boolean)
    # why an agreement recorded as not shared citywide is an exception to 一地签约、全市共享
    not_shared_reason: Mapped[str | None] = mapped_column(Text)
    covers_all_matters: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    document_ref: Mapped[str | None] = mapped_column(String(200))
    registered_on: Mapped[date | None] = mapped_column(Date)
    items_count: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    matters: Mapped[list[Matter]] = relationship(
        secondary=agreement_matters, lazy="raise", order_by="Matter.code"
    )
    liaisons: Mapped[list[Contact]] = relationship(
        secondary=agreement_contacts, lazy="raise", order_by="Contact.name"
    )


class LiaisonGroup(Base):
    """A liaison group (通办联络群, 一群): the chat group where the two sides of an agreement talk before,
    during and after handling (三步闭环沟通)."""

    __tablename__ = "liaison_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(Text)


class Contact(Provenance, Base):
    """An entry of the liaison directory (通办通讯录, 一录): a named liaison person of a region, with phone."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str | None] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    organisation: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(80))
    email: Mapped[str | None] = mapped_column(String(200))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("liaison_groups.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Feedback(Base):
    """A problem feedback form (问题反馈单): a problem met before, during or after handling a matter across
    regions. Quick response (快速响应) is measured from `created_at` to `first_response_at`; unresolved
    problems are escalated to the city (仍无法解决的及时上报)."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    channel: Mapped[FeedbackChannel] = mapped_column(_enum(FeedbackChannel, "feedback_channel"))
    stage: Mapped[FeedbackStage | None] = mapped_column(_enum(FeedbackStage, "feedback_stage"))
    category: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[FeedbackStatus] = mapped_column(_enum(FeedbackStatus, "feedback_status"), index=True)
    matter_code: Mapped[str | None] = mapped_column(String(40))
    home_region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    county_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    partner_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    page_url: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(200))
    resolution: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    events: Mapped[list[FeedbackEvent]] = relationship(
        back_populates="feedback", lazy="raise", order_by="FeedbackEvent.id", cascade="all, delete-orphan"
    )


class FeedbackEvent(Base):
    """One recorded step of a feedback form's workflow (who moved it, when, from which status to which)."""

    __tablename__ = "feedback_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_name: Mapped[str | None] = mapped_column(String(80))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)

    feedback: Mapped[Feedback] = relationship(back_populates="events", lazy="raise")


class FaqEdition(Base):
    """An edition of the FAQ handbook (通办常见问题解答知识手册, 一册), compiled each May and November."""

    __tablename__ = "faq_editions"
    __table_args__ = (UniqueConstraint("year", "month", name="uq_faq_editions_year_month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FaqEntry(Base):
    """A question and answer of the FAQ handbook, curated or drawn from a resolved feedback form."""

    __tablename__ = "faq_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int | None] = mapped_column(ForeignKey("faq_editions.id"), index=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    matter_code: Mapped[str | None] = mapped_column(String(40))
    feedback_id: Mapped[int | None] = mapped_column(ForeignKey("feedback.id"))
    published: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class Case(Base):
    """A case of the case collection (通办案例集, 一集): a typical cross-region handling, shared with
    partner regions."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    matter_code: Mapped[str | None] = mapped_column(String(40))
    county_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    partner_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    happened_on: Mapped[date | None] = mapped_column(Date)
    published: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class OutreachVisit(Base):
    """An outreach visit (上门服务) to a factory or community with many people from elsewhere."""

    __tablename__ = "outreach_visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    place: Mapped[str] = mapped_column(String(200))
    visited_on: Mapped[date] = mapped_column(Date)
    people_served: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(Text)


class Activity(Timestamped, Base):
    """A piece of cooperation work with a partner region (seed §二.(二)–(四), §三.(二).2): a 会商 with a
    RED partner, a 挂职交流 / 同步培训 / 跟班学习 exchange, 业务指导 for a pairing region, or the periodic
    通办后总结 review. `local_code` is the county that did it, or the home city itself."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ActivityKind] = mapped_column(_enum(ActivityKind, "activity_kind"), index=True)
    partner_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    local_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    held_on: Mapped[date] = mapped_column(Date, index=True)
    title: Mapped[str] = mapped_column(String(200))
    participants: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(Text)
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class SurveyResponse(Base):
    """One anonymous answer to the public needs survey (需求调研, seed §四.(二)): which matters the person
    needed to handle away from home, where they are from (a province, optionally a city) and what got in
    the way. Nothing identifies the person: no name, contact, address or IP address is stored."""

    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    respondent: Mapped[str] = mapped_column(String(20))
    home_province: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    home_region: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    matter_codes: Mapped[list[Any]] = mapped_column(default=list)
    other_matter: Mapped[str | None] = mapped_column(String(100))
    obstacles: Mapped[list[Any]] = mapped_column(default=list)
    comment: Mapped[str | None] = mapped_column(String(500))


class StaffUser(Base):
    """A staff account: the city's admins, a county's staff (only that county's records), or a partner
    region's staff (read its agreements and liaisons, file and follow feedback)."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role, "staff_role"))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApiToken(Base):
    """A bearer token for GraphQL mutations, stored as a SHA-256 hash (the token is shown once)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[StaffUser] = relationship(lazy="raise")


class StaffSession(Base):
    """A signed-in browser session; kept server-side so that signing out really ends it."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginAttempt(Base):
    """A failed sign-in, for throttling per account and per address."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_name_at", "name", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UsedFormToken(Base):
    """A public form's one-time token that has been spent: each feedback token files one form."""

    __tablename__ = "used_form_tokens"
    __table_args__ = (Index("ix_used_form_tokens_used_at", "used_at"),)

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SearchSynonym(Base):
    """A staff-added group of words that mean the same to citizens (e.g. 社保卡, 社会保障卡)."""

    __tablename__ = "search_synonyms"

    id: Mapped[int] = mapped_column(primary_key=True)
    terms: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SearchEvent(Base):
    """One public search as the search log keeps it (issue 16): the question (personal numbers
    masked), the matters shown on the first page, how many were found, and the first result
    clicked. Never who asked: no address, no session, no home region."""

    __tablename__ = "search_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    query: Mapped[str] = mapped_column(String(100))  # grouped over `at`'s range: no index (0010)
    shown: Mapped[list[Any]] = mapped_column(default=list)
    found: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    clicked_code: Mapped[str | None] = mapped_column(String(40))
    clicked_rank: Mapped[int | None] = mapped_column(Integer)


class AppSetting(Base):
    """An admin-set value, e.g. the tier thresholds of the four-colour grading."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class ChangeLog(Base):
    """The audit trail: who changed which record, when, through which door, and its state before and after."""

    __tablename__ = "change_log"
    __table_args__ = (Index("ix_change_log_entity_key", "entity", "entity_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_name: Mapped[str] = mapped_column(String(80))
    via: Mapped[str] = mapped_column(String(20))
    entity: Mapped[str] = mapped_column(String(40))
    entity_key: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(20))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: why, where a rule asks for it (an admin correcting an agreement's registration date)
    reason: Mapped[str | None] = mapped_column(String(500))


class OutboxEvent(Base):
    """A change that derived data must follow (search index, coverage cache), written in the same
    transaction as the change itself; each instance applies it idempotently, in id order."""

    __tablename__ = "index_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    entity: Mapped[str] = mapped_column(String(40))
    entity_key: Mapped[str] = mapped_column(String(80))
    op: Mapped[str] = mapped_column(String(10))


class Webhook(Base):
    """A partner's (or the city's) URL that receives every change it may see, POSTed as signed JSON.

    `region_code` is the partner region it belongs to (None: registered by the city for itself);
    `entities` limits which kinds of change it gets (empty: all it may see); `last_seq` is the
    outbox row up to which changes were queued as deliveries (changes before registration are not
    sent: the `changes` query has them)."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    entities: Mapped[list[Any]] = mapped_column(JSON, default=list)
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    owner_role: Mapped[Role] = mapped_column(_enum(Role, "webhook_owner_role"))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class WebhookDelivery(Base):
    """One change for one webhook: `pending` until a 2xx answer (`delivered`) or 24 hours of failed
    attempts (`failed`). An instance claims a due delivery by moving `next_attempt_at` past the
    attempt's timeout inside a `FOR UPDATE SKIP LOCKED` transaction, so one instance sends it."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "change_seq", name="uq_webhook_deliveries_webhook_change"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    change_seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)


class ImportJob(Base):
    """One staff import (数据导入) as it runs and after: where it is (`stage`, `done` of `total`
    rows), kept in the database so that whichever worker answers the progress page sees it. The
    request that started it updates `updated_at` at least every few seconds while it runs; a
    running job not updated for a minute died with its process. `result` is what the page shows
    when it is over (counts, the first changes and errors); the uploaded file itself is never
    kept. Old jobs are deleted when new ones start (`api.services.import_jobs.KEPT`)."""

    __tablename__ = "import_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random: not guessable
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    mode: Mapped[str] = mapped_column(String(10))  # check / apply
    filename: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(10))  # running / done / failed
    stage: Mapped[str] = mapped_column(String(40))
    done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    message: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    seconds: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
