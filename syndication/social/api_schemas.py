"""What the social accounts API answers (never a token)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from syndication.social.models import (
    AccountKind,
    AccountStatus,
    Network,
    PostStatus,
    SocialAccount,
    SocialPost,
)
from syndication.social.service import Health, NetworkHealth


class SocialAccountOut(BaseModel):
    id: str
    partner_id: str
    network: str = Field(json_schema_extra={"enum": [n.value for n in Network]})
    kind: str = Field(json_schema_extra={"enum": [k.value for k in AccountKind]})
    external_id: str = Field(description="The network's id of the profile, company or Page")
    display_name: str
    handle: str
    avatar_url: str | None
    scopes: list[str]
    status: str = Field(json_schema_extra={"enum": [s.value for s in AccountStatus]},
                        description="connected | expiring (within 7 days) | broken")
    status_reason: str = Field(description="Why it is expiring or broken; empty when healthy")
    expires_at: datetime | None = Field(description="When the access token expires "
                                                    "(null: it does not)")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, account: SocialAccount, partner_public_id: str, health: Health
           ) -> SocialAccountOut:
        return cls(id=account.public_id, partner_id=partner_public_id,
                   network=account.network.value, kind=account.kind.value,
                   external_id=account.external_id, display_name=account.display_name,
                   handle=account.handle, avatar_url=account.avatar_url,
                   scopes=account.scopes.split(), status=health.status.value,
                   status_reason=health.reason, expires_at=account.expires_at,
                   created_at=account.created_at, updated_at=account.updated_at)


class NetworkHealthOut(BaseModel):
    network: str = Field(json_schema_extra={"enum": [n.value for n in Network]})
    configured: bool = Field(description="Whether the program has an OAuth app for it")
    healthy: int
    expiring: int = Field(description="Accounts whose access ends within 7 days")
    broken: int

    @classmethod
    def of(cls, row: NetworkHealth) -> NetworkHealthOut:
        return cls(network=row.network.value, configured=row.configured, healthy=row.healthy,
                   expiring=row.expiring, broken=row.broken)


class SocialPostOut(BaseModel):
    id: str
    partner_id: str
    launch_id: str | None = Field(description="The kit launch that scheduled it")
    account_id: str | None = Field(description="Null once the account was disconnected")
    account_name: str
    network: str = Field(json_schema_extra={"enum": [n.value for n in Network]})
    kit_name: str
    item: str = Field(description="The post's key in the kit")
    text: str = Field(description="Exactly what goes out: tokens filled, links tracked")
    link: str | None = Field(description="The link card (the partner's tracking link)")
    image_asset_id: str | None = Field(description="The co-branded image's asset, if any")
    edited: bool = Field(description="The partner rewrote the kit's text")
    due_at: datetime
    status: str = Field(json_schema_extra={"enum": [s.value for s in PostStatus]})
    error: str = Field(description="Why it failed, is held or was skipped; the last problem "
                                   "of a post that will be tried again")
    error_kind: str | None = Field(description="duplicate | media | text | forbidden | token "
                                               "| timeout | image | unconfirmed")
    attempts: int
    next_attempt_at: datetime | None
    external_id: str | None = Field(description="The network's id of the published post")
    external_url: str | None
    published_at: datetime | None

    @classmethod
    def of(cls, post: SocialPost, partner_public_id: str, launch_public_id: str | None,
           account_public_id: str | None) -> SocialPostOut:
        return cls(
            id=post.public_id, partner_id=partner_public_id, launch_id=launch_public_id,
            account_id=account_public_id, account_name=post.account_name,
            network=post.network.value, kit_name=post.kit_name, item=post.item,
            text=post.text, link=post.link, image_asset_id=post.image_asset_id,
            edited=post.edited, due_at=post.due_at, status=post.status.value,
            error=post.error, error_kind=post.error_kind, attempts=post.attempts,
            next_attempt_at=post.next_attempt_at, external_id=post.external_id,
            external_url=post.external_url, published_at=post.published_at)


class PostTextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=63206,
                      description="The new text; links become the partner's tracking links")


class AutopilotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    categories: list[str] = Field(max_length=50, description="Kit categories (tags) to "
                                  "publish automatically; empty turns autopilot off")
    notice_hours: int | None = Field(default=None, ge=1, le=168,
                                     description="Hours before each post the partner is "
                                                 "emailed (default from the program)")
    paused: bool = False


class AutopilotOut(BaseModel):
    account_id: str
    enabled: bool
    categories: list[str]
    notice_hours: int | None
    paused: bool
    since: datetime | None = Field(description="Kits published from then on are picked up")
    available_categories: list[str]
