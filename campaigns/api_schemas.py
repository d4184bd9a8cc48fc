"""What the kit API accepts and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from campaigns import content as kit_content
from campaigns import kits
from campaigns.content import EmailIn, StepIn
from campaigns.kits import KitFields
from campaigns.models import Kit, KitStatus, KitVersion


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class KitIn(KitFields):
    """A new draft kit: details and audience (empty audience lists mean everyone)."""


class KitPatch(KitFields):
    """PATCH semantics: only the fields sent change; the dates may be null (no date)."""

    name: str = Field(default=None, min_length=1, max_length=200, json_schema_extra=_no_default)
    description: str = Field(default=None, max_length=5000, json_schema_extra=_no_default)
    goal: str = Field(default=None, max_length=500, json_schema_extra=_no_default)
    tags: list[str] = Field(default=None, max_length=30, json_schema_extra=_no_default)
    language: str = Field(default=None, json_schema_extra=_no_default)
    allowed_tiers: list[str] = Field(default=None, json_schema_extra=_no_default)
    allowed_regions: list[str] = Field(default=None, json_schema_extra=_no_default)
    allowed_languages: list[str] = Field(default=None, json_schema_extra=_no_default)
    allowed_types: list[str] = Field(default=None, json_schema_extra=_no_default)

    @field_validator("name", "description", "goal", "tags", "language", "allowed_tiers",
                     "allowed_regions", "allowed_languages", "allowed_types", mode="before")
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("Leave the field out to keep it; it cannot be null")
        return v


class EmailsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    emails: list[EmailIn] = Field(description="Every email of the draft, in order")


class StepsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: list[StepIn] = Field(description="The whole schedule of the draft")


class ReferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    landing_page_id: str | None = Field(default=None, description="A landing page's id")
    asset_ids: list[str] = Field(default_factory=list, max_length=50)


# --- responses -------------------------------------------------------------------------------


class EmailOut(EmailIn):
    blocks: list[str] = Field(description="Editable blocks partners may change")


class ProblemOut(BaseModel):
    field: str
    line: int | None
    message: str


class KitVersionOut(BaseModel):
    number: int | None = Field(description="None for the draft")
    published_at: datetime | None
    created_at: datetime
    emails: list[EmailOut]
    steps: list[StepIn]
    landing_page_id: str | None
    asset_ids: list[str]

    @classmethod
    def of(cls, version: KitVersion) -> KitVersionOut:
        from campaigns.mjml import editable_blocks

        data = version.content
        return cls(number=version.number, published_at=version.published_at,
                   created_at=version.created_at,
                   emails=[EmailOut(blocks=editable_blocks(e["mjml"]),
                                    **{k: v for k, v in e.items() if k != "kind"})
                           for e in kit_content.emails_of(version)],
                   steps=[StepIn(**s) for s in data.get("steps", [])],
                   landing_page_id=data.get("landing_page_id"),
                   asset_ids=list(data.get("asset_ids", [])))


class KitVersionSummary(BaseModel):
    number: int
    published_at: datetime | None


class KitOut(BaseModel):
    id: str
    name: str
    description: str
    goal: str
    tags: list[str]
    language: str
    status: KitStatus
    allowed_tiers: list[str] = Field(description="Empty: every tier")
    allowed_regions: list[str] = Field(description="Empty: every region")
    allowed_languages: list[str] = Field(description="Empty: every language")
    allowed_types: list[str] = Field(description="Empty: every partner type")
    publish_at: datetime | None
    expires_at: datetime | None
    version: int | None = Field(description="The newest published version")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def fields_of(cls, kit: Kit) -> dict[str, Any]:
        latest = kits.latest_published(kit)
        return dict(id=kit.public_id, version=latest.number if latest else None,
                    created_at=kit.created_at, updated_at=kit.updated_at, status=kit.status,
                    **{name: getattr(kit, name) for name in kits.KIT_FIELDS})

    @classmethod
    def of(cls, kit: Kit) -> KitOut:
        return cls(**cls.fields_of(kit))


class KitDetail(KitOut):
    draft: KitVersionOut | None = Field(description="Unpublished changes, if any")
    problems: list[ProblemOut] = Field(description="What blocks publishing the draft")
    versions: list[KitVersionSummary]

    @classmethod
    def of(cls, kit: Kit) -> KitDetail:
        draft = kits.current_draft(kit)
        problems = kit_content.content_problems(draft.content) if draft else []
        return cls(**cls.fields_of(kit), draft=KitVersionOut.of(draft) if draft else None,
                   problems=[ProblemOut(field=p.field, line=p.line, message=p.message)
                             for p in problems],
                   versions=[KitVersionSummary(number=v.number or 0,
                                               published_at=v.published_at)
                             for v in kits.published_versions(kit)])


class CatalogueKitOut(BaseModel):
    id: str
    name: str
    description: str
    goal: str
    tags: list[str]
    language: str
    version: int
    emails: list[str] = Field(description="Email keys, for their previews")
    expires_at: datetime | None

    @classmethod
    def of(cls, kit: Kit) -> CatalogueKitOut:
        latest = kits.latest_published(kit)
        assert latest is not None  # catalogue kits are published
        return cls(id=kit.public_id, name=kit.name, description=kit.description, goal=kit.goal,
                   tags=kit.tags, language=kit.language, version=latest.number or 0,
                   emails=[e["key"] for e in kit_content.emails_of(latest)],
                   expires_at=kit.expires_at)
