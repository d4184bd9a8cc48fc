"""What the kit and launch API accepts and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from campaigns import content as kit_content
from campaigns import kits
from campaigns import posts as kit_posts
from campaigns.content import EmailIn, StepIn
from campaigns.kits import KitFields
from campaigns.launches import Progress
from campaigns.models import Kit, KitStatus, KitVersion, Launch, LaunchStatus, StepStatus
from campaigns.posts import PostIn


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


class PostsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    posts: list[PostIn] = Field(description="Every social post of the draft, in order")


class StepsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: list[StepIn] = Field(description="The whole schedule of the draft")


class LaunchIn(BaseModel):
    """Launch a kit of my catalogue; everything but the kit has a default."""

    model_config = ConfigDict(extra="forbid")
    kit_id: str = Field(description="A kit of my catalogue")
    list_id: str | None = Field(default=None, description="One of my contact lists; leave "
                                                          "out for “All contacts”")
    start_at: datetime | None = Field(default=None, description="With a time zone offset; "
                                                                "leave out to start now")
    blocks: dict[str, dict[str, str]] | None = Field(
        default=None, description="My text for editable blocks: {email key: {block: text}}, "
                                  "and for editable posts: {post key: {network: text}}; "
                                  "plain text, an empty text keeps the kit's")
    channels: list[Literal["email", "post"]] | None = Field(
        default=None, description="Launch only these channels' steps (e.g. [\"post\"]: the "
                                  "kit's social posts without its emails); leave out for all")
    social_account_ids: list[str] | None = Field(
        default=None, max_length=100, description="My social accounts the kit's posts go "
                                                  "to; leave out for every account on the "
                                                  "kit's networks")


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


class PostOut(PostIn):
    lengths: dict[str, int] = Field(
        description="Per network, the length the network counts once tokens are filled with "
                    "the longest partner values (left out for a text with token problems)")
    limits: dict[str, int] = Field(description="Per network, the most it allows")
    problems: list[ProblemOut] = Field(description="What blocks publishing this post")

    @classmethod
    def of(cls, post: dict[str, Any], n: int,
           longest: dict[str, tuple[str, str]]) -> PostOut:
        values = {token: value for token, (value, _) in longest.items()}
        return cls(**{k: v for k, v in post.items() if k != "kind"},
                   lengths=kit_posts.lengths(post, values),
                   limits={network: kit_posts.LIMITS[network] for network in post["texts"]},
                   problems=[ProblemOut(field=p.field, line=p.line, message=p.message)
                             for p in kit_posts.post_problems(n, post, longest)])


class PostPreviewNetwork(BaseModel):
    network: str = Field(description="linkedin | x | facebook")
    text: str = Field(description="The final text: tokens filled, link and hashtags added")
    link: str | None = Field(description="The link card's address; null when the link is in "
                                         "the text or there is none")
    image_asset_id: str | None
    length: int = Field(description="The length as the network counts it")
    limit: int


class PostPreviewOut(BaseModel):
    key: str
    networks: list[PostPreviewNetwork]


class KitVersionOut(BaseModel):
    number: int | None = Field(description="None for the draft")
    published_at: datetime | None
    created_at: datetime
    emails: list[EmailOut]
    posts: list[PostIn]
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
                   posts=[PostIn(**{k: v for k, v in p.items() if k != "kind"})
                          for p in kit_posts.posts_of(version)],
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
    posts: list[str] = Field(description="Social post keys")
    expires_at: datetime | None

    @classmethod
    def of(cls, kit: Kit) -> CatalogueKitOut:
        latest = kits.latest_published(kit)
        assert latest is not None  # catalogue kits are published
        return cls(id=kit.public_id, name=kit.name, description=kit.description, goal=kit.goal,
                   tags=kit.tags, language=kit.language, version=latest.number or 0,
                   emails=[e["key"] for e in kit_content.emails_of(latest)],
                   posts=[p["key"] for p in kit_posts.posts_of(latest)],
                   expires_at=kit.expires_at)


# --- launches --------------------------------------------------------------------------------


class LaunchStepOut(BaseModel):
    number: int
    item: str = Field(description="The kit item the step sends (an email or post key)")
    name: str
    kind: str = Field(description="email | post")
    status: StepStatus
    audience: str = Field(description="all | non_clickers | non_openers")
    due_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    counts: dict[str, int] = Field(description="Messages by state: queued, sending, sent, "
                                               "failed, suppressed, cancelled; and opened "
                                               "(approximate: opens by machines left out)")


class LaunchOut(BaseModel):
    id: str
    kit_id: str
    kit_version: int
    partner_id: str
    status: LaunchStatus
    percent: int = Field(description="Share of started steps' messages that reached an "
                                     "outcome; 100 once completed")
    start_at: datetime
    finished_at: datetime | None
    timezone: str = Field(description="The zone step times were computed in")
    options: dict[str, Any] = Field(description="Channel options, e.g. list_id")
    blocks: dict[str, dict[str, str]] = Field(description="The partner's editable-block texts")
    created_at: datetime
    steps: list[LaunchStepOut]

    @classmethod
    def of(cls, progress: Progress) -> LaunchOut:
        launch = progress.launch
        return cls(**progress.as_dict(), kit_id=launch.kit.public_id,
                   kit_version=launch.version.number or 0,
                   partner_id=launch.partner.public_id, timezone=launch.timezone,
                   options=launch.options, blocks=launch.blocks, created_at=launch.created_at)


class LaunchSummary(BaseModel):
    id: str
    kit_id: str
    kit_name: str
    partner_id: str
    status: LaunchStatus
    percent: int
    start_at: datetime
    finished_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, progress: Progress) -> LaunchSummary:
        launch: Launch = progress.launch
        return cls(id=launch.public_id, kit_id=launch.kit.public_id, kit_name=launch.kit.name,
                   partner_id=launch.partner.public_id, status=launch.status,
                   percent=progress.percent, start_at=launch.start_at,
                   finished_at=launch.finished_at, created_at=launch.created_at)


class LaunchProblemsOut(BaseModel):
    problems: list[str] = Field(description="What to fix before launching, in words; empty "
                                            "when a launch would go out")


class LaunchBlockedProblem(BaseModel):
    """The 409 answer to a launch that cannot go out yet: a problem document whose
    ``problems`` lists what to fix, in words."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    problems: list[str]
