"""Landing pages as the vendor authors them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tcma.extensions import db
from tcma.models import PublicIdMixin, TimestampMixin, UTCDateTime, enum_type


class PageKind(enum.Enum):
    PARTNER = "partner"  # one co-branded copy per partner: /p/<partner-slug>/<page-slug>
    GENERIC = "generic"  # the vendor's own page: /p/<page-slug>; its leads are routed later


class PageStatus(enum.Enum):
    DRAFT = "draft"  # only the vendor sees it (and its previews)
    PUBLISHED = "published"  # live at its public URLs
    RETIRED = "retired"  # gone from the web (friendly 404); its leads stay


#: The form fields a page may ask for, in the order the form shows them.
FORM_FIELDS = ("first_name", "last_name", "email", "company", "job_title", "phone", "country",
               "message")


class LandingPage(PublicIdMixin, TimestampMixin, db.Model):
    __tablename__ = "landing_pages"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The page's part of its public URL; unique across pages of both kinds.
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[PageKind] = mapped_column(enum_type(PageKind))
    status: Mapped[PageStatus] = mapped_column(enum_type(PageStatus), default=PageStatus.DRAFT)
    #: The browser tab and share title; ``summary`` is the meta / Open Graph description.
    title: Mapped[str] = mapped_column(String(200))
    headline: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(300), default="")
    #: Paragraphs separated by blank lines; ``**bold**`` and ``[text](https://...)`` only.
    body: Mapped[str] = mapped_column(Text, default="")
    bullets: Mapped[list] = mapped_column(JSON, default=list)
    cta_label: Mapped[str] = mapped_column(String(60), default="Send")
    #: Storage key of the normalised hero image (content-addressed), and its pixel size.
    hero_key: Mapped[str | None] = mapped_column(String(300))
    hero_width: Mapped[int | None] = mapped_column(Integer)
    hero_height: Mapped[int | None] = mapped_column(Integer)
    hero_alt: Mapped[str] = mapped_column(String(200), default="")
    #: ``{field: {"enabled": bool, "required": bool, "label": str}}`` for ``FORM_FIELDS``;
    #: email is always asked for and required.
    form_fields: Mapped[dict] = mapped_column(JSON, default=dict)
    #: The consent checkbox wording ("{partner}" becomes the partner's name); empty: no box.
    consent_text: Mapped[str] = mapped_column(Text, default="")
    #: Goes up by one whenever the wording changes; stored with each lead beside the text.
    consent_version: Mapped[int] = mapped_column(Integer, default=0)
    consent_required: Mapped[bool] = mapped_column(Boolean, default=True)
    thank_you: Mapped[str] = mapped_column(Text, default="")
    #: Partner pages' audience: empty lists mean every tier / every region.
    allowed_tiers: Mapped[list] = mapped_column(JSON, default=list)
    allowed_regions: Mapped[list] = mapped_column(JSON, default=list)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
