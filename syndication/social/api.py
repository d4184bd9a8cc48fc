"""API routes for partners' connected social accounts, and the vendor's token health."""

from __future__ import annotations

from flask import g

from syndication.social import service
from syndication.social.api_schemas import NetworkHealthOut, SocialAccountOut
from syndication.social.models import SocialAccount
from tcma.api import endpoint
from tcma.api.responses import json_body
from tcma.extensions import db
from tcma.partners.models import Partner


def _out(account: SocialAccount) -> SocialAccountOut:
    partner = db.session.get(Partner, account.partner_id)
    return SocialAccountOut.of(account, partner.public_id, service.health(account))


@endpoint("/social/accounts", "GET", summary="The partner's connected social accounts",
          tag="social", permission="social.connect", response=list[SocialAccountOut])
def list_social_accounts():
    """Each account with its health; tokens are never part of an answer."""
    return json_body([_out(a) for a in service.list_accounts()])


@endpoint("/social/accounts/<account_id>", "GET", summary="One connected social account",
          tag="social", permission="social.connect", response=SocialAccountOut)
def get_social_account(account_id: str):
    return json_body(_out(service.get_account(account_id)))


@endpoint("/social/accounts/<account_id>", "DELETE",
          summary="Disconnect a social account (revoked at the network where it allows)",
          tag="social", permission="social.connect", status=204)
def disconnect_social_account(account_id: str):
    service.disconnect(service.get_account(account_id), by=g.user)
    db.session.commit()
    return "", 204


@endpoint("/social/health", "GET", summary="Token health of all partners' accounts per network",
          tag="social", permission="social.health", response=list[NetworkHealthOut])
def social_health():
    """Counts only: how many accounts per network are healthy, expiring this week, broken."""
    return json_body([NetworkHealthOut.of(row) for row in service.health_counts()])
