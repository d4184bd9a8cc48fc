"""A partner's connected social account and the (encrypted) tokens that act for it."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tcma.extensions import db
from tcma.models import PublicIdMixin, TimestampMixin, UTCDateTime, enum_type
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
