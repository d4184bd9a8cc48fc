"""What the API accepts and answers: request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from tcma.auth.models import Role, User, UserStatus
from tcma.partners import service as partners
from tcma.partners.models import Partner, PartnerStatus
from tcma.partners.schemas import BrandProfileFields, PartnerUpdate

# --- response models -----------------------------------------------------------------------


class PartnerOut(BaseModel):
    id: str
    slug: str
    name: str
    tier: str
    region: str
    language: str
    type: str
    status: str
    created_at: datetime

    @classmethod
    def of(cls, p: Partner) -> PartnerOut:
        return cls(id=p.public_id, slug=p.slug, name=p.name, tier=p.tier, region=p.region,
                   language=p.language, type=p.type, status=p.status.value,
                   created_at=p.created_at)


class PartnerPage(BaseModel):
    total: int
    items: list[PartnerOut]


class Completeness(BaseModel):
    percent: int
    missing: list[str]


class BrandProfileOut(BrandProfileFields):
    model_config = ConfigDict(extra="ignore")
    partner_id: str
    version: int
    created_at: datetime
    logo_url: str | None = None
    logo_width: int | None = None
    logo_height: int | None = None
    completeness: Completeness

    @classmethod
    def of(cls, partner: Partner, profile) -> BrandProfileOut:
        meter = partners.completeness(profile)
        fields = {k: getattr(profile, k) for k in partners.BRAND_TEXT_FIELDS}
        return cls.model_construct(
            partner_id=partner.public_id, version=profile.version,
            created_at=profile.created_at, logo_url=partners.logo_url(profile),
            logo_width=profile.logo_width, logo_height=profile.logo_height,
            completeness=Completeness(percent=meter.percent, missing=meter.missing), **fields)


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    role: str
    status: str
    partner_id: str | None
    last_login_at: datetime | None

    @classmethod
    def of(cls, u: User) -> UserOut:
        return cls(id=u.public_id, email=u.email, name=u.name, role=u.role.value,
                   status=u.status.value, partner_id=u.partner.public_id if u.partner else None,
                   last_login_at=u.last_login_at)


class TokenOut(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The secret. Shown once; store it now.")


class AuditEventOut(BaseModel):
    id: int
    occurred_at: datetime
    actor: str
    action: str
    target_type: str | None
    target_id: str | None
    before: dict | None
    after: dict | None


class ImportError_(BaseModel):
    line: int
    name: str
    errors: list[dict[str, str]]


class ImportResult(BaseModel):
    imported: bool
    rows: int
    created: int
    file_errors: list[str]
    errors: list[ImportError_]
    partners: list[str]


class ImportProblemError(BaseModel):
    field: str
    message: str
    line: int | None = Field(default=None, description="CSV line number; none for the file")
    name: str | None = Field(default=None, description="The partner name on that line")


class ImportProblem(BaseModel):
    """The 422 answer to an import: a problem document listing every error with its line."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[ImportProblemError]
    rows: int
    imported: bool


# --- request models ------------------------------------------------------------------------


class PartnerPatch(PartnerUpdate):
    """PATCH semantics: only the fields sent change; the rest keep their current value."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    tier: str | None = None
    region: str | None = None
    language: str | None = None
    type: str | None = None

    @field_validator("name", "tier", "region", "language", "type", mode="before")
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        # Leaving a field out keeps it; sending null would blank a required fact.
        if v is None:
            raise ValueError("Leave the field out to keep it; it cannot be null")
        return v


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: PartnerStatus
    reason: str = Field(default="", max_length=500)


class UserStatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: UserStatus


class UserInvite(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    role: Role


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=100)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)



# --- program -------------------------------------------------------------------------------


class ProgramOut(BaseModel):
    vendor_name: str
    primary_color: str
    logo_url: str | None
    support_email: str | None


class ProgramIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    vendor_name: str = Field(min_length=1, max_length=200)
    primary_color: str = ""
    logo_url: str = Field(default="", max_length=500)
    support_email: str = Field(default="", max_length=254)


