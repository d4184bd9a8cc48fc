"""What the social accounts API answers (never a token)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from syndication.social.models import AccountKind, AccountStatus, Network, SocialAccount
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
