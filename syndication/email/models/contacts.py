"""A partner's contacts (the people it may email), their tags and the partner's lists."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tcma.extensions import db
from tcma.models import PublicIdMixin, TimestampMixin, UTCDateTime, enum_type, utcnow
from tcma.partners.models import PartnerOwned


class ContactStatus(enum.Enum):
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"  # by the person (link, reply) or as imported
    BOUNCED = "bounced"  # a hard bounce: the address does not exist
    COMPLAINED = "complained"  # the person marked a message as spam


class Contact(PublicIdMixin, PartnerOwned, TimestampMixin, db.Model):
    """One person in a partner's audience. The address is unique per partner: a second
    record of the same person merges into the first."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("partner_id", "email"),
                      Index("ix_contacts_partner_status", "partner_id", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Normalised: trimmed and lower-case.
    email: Mapped[str] = mapped_column(String(254))
    #: The keyed digest the global suppression list is looked up by (``suppression.digest``).
    email_hash: Mapped[str] = mapped_column(String(64))
    #: sha256 of "<partner id>:<email>": one unique column to find a batch of addresses by.
    #: (PostgreSQL plans ``partner_id = x AND email = ANY(...)`` as a scan of the partner's
    #: whole range while a fresh table has no statistics; this cannot be planned badly.)
    partner_key: Mapped[str] = mapped_column(String(64), unique=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    company: Mapped[str] = mapped_column(String(200), default="")
    job_title: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    #: ISO 3166 two-letter code, or empty.
    country: Mapped[str] = mapped_column(String(2), default="")
    #: A language tag such as ``de`` or ``pt-BR``, or empty.
    language: Mapped[str] = mapped_column(String(16), default="")
    #: The partner's own extra columns: {name: text}, bounded in ``contacts.clean``.
    custom_fields: Mapped[dict] = mapped_column(JSON, default=dict)

    #: Where the permission to email this person came from ("trade show 2026"), when it was
    #: given, and the wording the person agreed to, if known.
    consent_source: Mapped[str] = mapped_column(String(200))
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consent_text: Mapped[str | None] = mapped_column(Text)

    status: Mapped[ContactStatus] = mapped_column(enum_type(ContactStatus),
                                                  default=ContactStatus.SUBSCRIBED)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: How the status changed: "unsubscribe link", "imported as unsubscribed", "by hand"...
    status_reason: Mapped[str | None] = mapped_column(String(200))
    #: How the contact first arrived: hand | import | api.
    created_via: Mapped[str] = mapped_column(String(16), default="hand")

    tags: Mapped[list[ContactTag]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin",
        order_by="ContactTag.name")
    memberships: Mapped[list[ListMembership]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", passive_deletes=True)

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @property
    def tag_names(self) -> list[str]:
        return [t.name for t in self.tags]


class ContactTag(db.Model):
    """A tag on a contact (lower-case, trimmed); a contact's partner scopes it."""

    __tablename__ = "contact_tags"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(50), primary_key=True, index=True)


class ContactList(PublicIdMixin, PartnerOwned, TimestampMixin, db.Model):
    """A named group of a partner's contacts. Each partner has one default list, "All
    contacts", that every contact joins when created and leaves only when deleted."""

    __tablename__ = "contact_lists"
    __table_args__ = (UniqueConstraint("partner_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(300), default="")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class ListMembership(db.Model):
    __tablename__ = "contact_list_members"

    list_id: Mapped[int] = mapped_column(
        ForeignKey("contact_lists.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    contact: Mapped[Contact] = relationship(back_populates="memberships")
    contact_list: Mapped[ContactList] = relationship()
