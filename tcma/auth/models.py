"""Users, their roles, and their API tokens."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tcma.extensions import db
from tcma.models import PublicIdMixin, TimestampMixin, UTCDateTime, enum_type


class Role(enum.Enum):
    ADMIN = "admin"
    MARKETER = "marketer"
    CHANNEL_MANAGER = "channel_manager"
    FINANCE = "finance"
    PARTNER_ADMIN = "partner_admin"
    PARTNER_USER = "partner_user"

    @property
    def is_vendor(self) -> bool:
        return self in VENDOR_ROLES

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


VENDOR_ROLES = frozenset({Role.ADMIN, Role.MARKETER, Role.CHANNEL_MANAGER, Role.FINANCE})
PARTNER_ROLES = frozenset({Role.PARTNER_ADMIN, Role.PARTNER_USER})


class UserStatus(enum.Enum):
    INVITED = "invited"
    ACTIVE = "active"
    DISABLED = "disabled"


class User(PublicIdMixin, TimestampMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(enum_type(Role))
    #: Set for partner users; the tenancy boundary. NULL for vendor staff.
    partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("partners.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[UserStatus] = mapped_column(enum_type(UserStatus), default=UserStatus.INVITED)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    #: Bumped on password change, disable and invite re-send: it invalidates open sessions,
    #: outstanding invite links and reset links that carry the old value.
    security_stamp: Mapped[str] = mapped_column(
        String(32), default=lambda: secrets.token_hex(8)
    )
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    partner = relationship("Partner", foreign_keys=[partner_id], lazy="joined")

    @property
    def is_vendor(self) -> bool:
        return self.role.is_vendor

    @property
    def is_active(self) -> bool:
        return self.status is UserStatus.ACTIVE

    def rotate_security_stamp(self) -> None:
        self.security_stamp = secrets.token_hex(8)


class ApiToken(PublicIdMixin, TimestampMixin, db.Model):
    """A bearer token for the JSON API. Only a SHA-256 of the secret is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    #: First characters of the token, shown in lists so a user can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")
