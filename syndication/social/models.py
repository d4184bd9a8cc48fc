"""A partner's connected social account and the (encrypted) tokens that act for it."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.models import Kit, Launch
from tcma.extensions import db
from tcma.models import PublicIdMixin, TimestampMixin, UTCDateTime, enum_type, utcnow
from tcma.partners.models import PartnerOwned


class Network(enum.Enum):
    LINKEDIN = "linkedin"
    X = "x"
    FACEBOOK = "facebook"

    @property
    def label(self) -> str:
        return {"linkedin": "LinkedIn", "x": "X", "facebook": "Facebook"}[self.value]


class AccountKind(enum.Enum):
    """What posts would appear as: the person, their company page, or a Facebook Page."""

    PROFILE = "profile"
    ORGANIZATION = "organization"
    PAGE = "page"


class AccountStatus(enum.Enum):
    CONNECTED = "connected"
    EXPIRING = "expiring"  # access ends soon and cannot be refreshed: reconnect
    BROKEN = "broken"  # the network refused the tokens: reconnect


class SocialAccount(PublicIdMixin, PartnerOwned, TimestampMixin, db.Model):
    """One account a partner connected. Tokens are stored only as ``tcma.crypto`` ciphertext
    (purpose ``TOKEN_PURPOSE``) and never leave the server: not on pages, not in the API."""

    __tablename__ = "social_accounts"
    __table_args__ = (UniqueConstraint("partner_id", "network", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network: Mapped[Network] = mapped_column(enum_type(Network))
    kind: Mapped[AccountKind] = mapped_column(enum_type(AccountKind))
    #: The network's id: LinkedIn person or organization id, X user id, Facebook Page id.
    external_id: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(String(200))
    #: "@handle" on X, the vanity name of a LinkedIn page; empty when the network has none.
    handle: Mapped[str] = mapped_column(String(100), default="")
    avatar_url: Mapped[str | None] = mapped_column(Text)
    #: Scopes the network granted, space-separated.
    scopes: Mapped[str] = mapped_column(String(500), default="")
    access_token_encrypted: Mapped[str] = mapped_column(Text)
    refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    #: None: the token does not expire (Facebook Page tokens from a long-lived user token).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Accounts connected through one consent share it (a LinkedIn profile and the company
    #: pages picked with it): their tokens are refreshed together, and revoked only when the
    #: last of them is disconnected.
    grant_id: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[AccountStatus] = mapped_column(enum_type(AccountStatus),
                                                  default=AccountStatus.CONNECTED)
    #: Why the account is broken or expiring, in words the partner can act on.
    status_reason: Mapped[str] = mapped_column(String(500), default="")
    #: When the partner was told the account is expiring (told once per connection).
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    connected_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))


class PostStatus(enum.Enum):
    SCHEDULED = "scheduled"  # waiting for its time (or for its next attempt)
    PUBLISHING = "publishing"  # claimed by a worker: the network may be being called
    PUBLISHED = "published"  # the network has it; ``external_id`` says where
    NEEDS_RECONNECT = "needs_reconnect"  # held: the account's tokens stopped working
    FAILED = "failed"  # the network refused it for good, or it could not go out in time
    SKIPPED = "skipped"  # the partner chose not to publish it
    CANCELLED = "cancelled"  # its launch was cancelled or its account disconnected


#: Posts in these states will never be published (or already were).
FINAL_POST_STATES = (PostStatus.PUBLISHED, PostStatus.FAILED, PostStatus.SKIPPED,
                     PostStatus.CANCELLED)


class SocialPost(PublicIdMixin, PartnerOwned, TimestampMixin, db.Model):
    """One kit post going to one of the partner's accounts: the unit that is published once.

    The row exists from the moment the launch is scheduled, holding the exact text that will
    go out (tokens filled, links tracked), so the partner previews, edits or skips the real
    thing. A worker claims it (``claim``, ``lease_until``) before calling the network and
    marks ``called_at`` just before the call: a row found claimed with ``called_at`` set
    after its worker died may already be on the network, so it is looked up there before any
    second attempt.
    """

    __tablename__ = "social_posts"
    __table_args__ = (UniqueConstraint("step_id", "account_id"),
                      Index("ix_social_posts_due", "status", "due_at"),
                      Index("ix_social_posts_partner_due", "partner_id", "due_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The launch step that schedules it (posts go with their launch).
    step_id: Mapped[int | None] = mapped_column(
        ForeignKey("launch_steps.id", ondelete="CASCADE"), index=True)
    launch_id: Mapped[int | None] = mapped_column(
        ForeignKey("launches.id", ondelete="CASCADE"), index=True)
    #: The kit item (post key) and the kit's name when scheduled, for the calendar.
    item: Mapped[str] = mapped_column(String(40))
    kit_name: Mapped[str] = mapped_column(String(200), default="")
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("social_accounts.id", ondelete="SET NULL"), index=True)
    network: Mapped[Network] = mapped_column(enum_type(Network))
    account_name: Mapped[str] = mapped_column(String(200), default="")
    #: What goes out: the final text, the link card (tracking link) and the image asset.
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    image_asset_id: Mapped[str | None] = mapped_column(String(40))
    #: The partner rewrote the kit's text (kept when the post is scheduled again).
    edited: Mapped[bool] = mapped_column(default=False)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[PostStatus] = mapped_column(enum_type(PostStatus),
                                               default=PostStatus.SCHEDULED)
    #: When the next attempt may start (a rate limit's reset, a back-off); None: at due_at.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Set just before the network is called; cleared once its answer is recorded.
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    external_id: Mapped[str | None] = mapped_column(String(200))
    external_url: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Why it failed or is held, in words the partner can act on; ``error_kind`` for filters
    #: ("duplicate", "media", "text", "forbidden", "token", "timeout", "image": the
    #: partner's co-branded copy could not be made, "unconfirmed": an unanswered call the
    #: network does not let us check).
    error: Mapped[str] = mapped_column(String(500), default="")
    error_kind: Mapped[str | None] = mapped_column(String(20))
    #: Autopilot: when the partner was emailed about this post before it goes out.
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AutopilotSetting(PartnerOwned, TimestampMixin, db.Model):
    """A partner's opt-in for one account: new kits in these categories (kit tags) are
    scheduled on it without a click; ``notice_hours`` before each post the partner is emailed
    with a one-click skip. ``paused_at`` stops new scheduling and holds nothing back."""

    __tablename__ = "social_autopilot"
    __table_args__ = (UniqueConstraint("account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("social_accounts.id", ondelete="CASCADE"))
    categories: Mapped[list] = mapped_column(JSON, default=list)
    notice_hours: Mapped[int] = mapped_column(Integer, default=24)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Kits published before this are not picked up: opting in is not a flood of old posts.
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class AutopilotLaunch(PartnerOwned, db.Model):
    """A kit autopilot launched for a partner: the unique key makes it once per kit, however
    many schedulers run at the same moment."""

    __tablename__ = "social_autopilot_launches"
    __table_args__ = (UniqueConstraint("partner_id", "kit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kit_id: Mapped[int] = mapped_column(ForeignKey("kits.id", ondelete="CASCADE"))
    launch_id: Mapped[int | None] = mapped_column(ForeignKey("launches.id", ondelete="SET NULL"))
    #: Why the kit could not be scheduled (launch_id None), for the autopilot page.
    problem: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    kit: Mapped[Kit] = relationship()
    launch: Mapped[Launch | None] = relationship()
