"""Kits and their versions.

A kit's content (emails, steps, landing page and asset references) lives in ``KitVersion``
rows as one JSON document. The draft is the version without ``published_at``; publishing
stamps it with the next number and it never changes again (``freeze_published`` below refuses
any later write), so launches can point at a version and know exactly what they send.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tcma.extensions import db
from tcma.models import PublicIdMixin, TimestampMixin, UTCDateTime, enum_type, utcnow
from tcma.partners.models import Partner, PartnerOwned


class KitStatus(enum.Enum):
    DRAFT = "draft"  # never published: only the vendor sees it
    PUBLISHED = "published"  # partners in its audience see its newest version, within dates
    RETIRED = "retired"  # no new launches; running launches keep their version


class Kit(PublicIdMixin, TimestampMixin, db.Model):
    __tablename__ = "kits"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    goal: Mapped[str] = mapped_column(String(500), default="")
    tags: Mapped[list] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(String(16), default="en")
    status: Mapped[KitStatus] = mapped_column(enum_type(KitStatus), default=KitStatus.DRAFT)
    #: Audience: an empty list means every tier / region / language / partner type.
    allowed_tiers: Mapped[list] = mapped_column(JSON, default=list)
    allowed_regions: Mapped[list] = mapped_column(JSON, default=list)
    allowed_languages: Mapped[list] = mapped_column(JSON, default=list)
    allowed_types: Mapped[list] = mapped_column(JSON, default=list)
    publish_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    versions: Mapped[list[KitVersion]] = relationship(
        back_populates="kit", order_by="KitVersion.id.desc()", lazy="selectin",
        cascade="all, delete-orphan")


class KitVersion(db.Model):
    """One state of a kit's content: the draft (``number`` None) or a published version."""

    __tablename__ = "kit_versions"
    __table_args__ = (UniqueConstraint("kit_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kit_id: Mapped[int] = mapped_column(ForeignKey("kits.id", ondelete="CASCADE"), index=True)
    #: 1, 2, ... once published; None for the draft.
    number: Mapped[int | None] = mapped_column(Integer)
    #: {"items": [{"kind": "email", "key", "name", "subject", "preheader", "from_name",
    #: "mjml"}, {"kind": "post", "key", "name", "texts": {network: text}, "link",
    #: "image_asset_id", "hashtags", "editable"}], "steps": [{"day", "time", "item",
    #: "audience", "audience_step"}], "landing_page_id": str | None, "asset_ids": [str]}.
    #: Emails and posts share the key space; steps name either.
    content: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))

    kit: Mapped[Kit] = relationship(back_populates="versions")


class ImmutableVersion(RuntimeError):
    """A published kit version was about to change: a programming error, never user input."""


@event.listens_for(KitVersion, "before_update")
def freeze_published(mapper, connection, target: KitVersion) -> None:
    """Refuse any write to a version that was already published before this flush."""
    state = db.inspect(target)
    published = state.attrs.published_at.history
    was_published = published.deleted[0] if published.deleted else (
        published.unchanged[0] if published.unchanged else target.published_at)
    if was_published is not None and any(
            state.attrs[name].history.has_changes()
            for name in ("content", "number", "published_at", "kit_id")):
        raise ImmutableVersion("A published kit version cannot be changed.")


class LaunchStatus(enum.Enum):
    SCHEDULED = "scheduled"  # waiting for its first step's time
    RUNNING = "running"  # at least one step started; more may be due
    PAUSED = "paused"  # no new messages until resumed; due steps wait
    COMPLETED = "completed"  # every step finished
    CANCELLED = "cancelled"  # stopped for good; unsent messages never go out


class StepStatus(enum.Enum):
    WAITING = "waiting"  # not yet due
    STARTED = "started"  # due: handed to its channel, which sends it
    DONE = "done"  # the channel finished every message of the step
    CANCELLED = "cancelled"


class Launch(PublicIdMixin, PartnerOwned, TimestampMixin, db.Model):
    """A partner's activation of one published kit version.

    Channel options are kept as the channel wrote them (``options``: e.g. the email channel's
    contact list), so this domain knows nothing of contacts or networks.
    """

    __tablename__ = "launches"
    __table_args__ = (Index("ix_launches_partner_created", "partner_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kit_id: Mapped[int] = mapped_column(ForeignKey("kits.id", ondelete="CASCADE"), index=True)
    kit_version_id: Mapped[int] = mapped_column(ForeignKey("kit_versions.id", ondelete="CASCADE"))
    status: Mapped[LaunchStatus] = mapped_column(enum_type(LaunchStatus),
                                                 default=LaunchStatus.SCHEDULED)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The IANA zone step times were computed in (the partner's, when launched).
    timezone: Mapped[str] = mapped_column(String(64))
    #: {"list_id": public id, ...}: what each channel needs, written by that channel.
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    #: The partner's text for the kit's editable blocks: {email key: {block: text}}.
    blocks: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    partner: Mapped[Partner] = relationship()
    kit: Mapped[Kit] = relationship()
    version: Mapped[KitVersion] = relationship()
    steps: Mapped[list[LaunchStep]] = relationship(
        back_populates="launch", order_by="LaunchStep.number", lazy="selectin",
        cascade="all, delete-orphan", passive_deletes=True)


class LaunchStep(PartnerOwned, db.Model):
    """One step of a launch's schedule, as a due row the scheduler picks up."""

    __tablename__ = "launch_steps"
    __table_args__ = (UniqueConstraint("launch_id", "number"),
                      Index("ix_launch_steps_due", "status", "due_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    launch_id: Mapped[int] = mapped_column(ForeignKey("launches.id", ondelete="CASCADE"))
    #: 1-based position in the kit's schedule.
    number: Mapped[int] = mapped_column(Integer)
    #: The content item's kind ("email"; "post" later) and key in the kit version.
    kind: Mapped[str] = mapped_column(String(16))
    item: Mapped[str] = mapped_column(String(40))
    #: "all" | "non_clickers" | "non_openers", and of which earlier step (``number``).
    audience: Mapped[str] = mapped_column(String(16), default="all")
    audience_step: Mapped[int | None] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[StepStatus] = mapped_column(enum_type(StepStatus), default=StepStatus.WAITING)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    launch: Mapped[Launch] = relationship(back_populates="steps")
