"""Who hears about each step of a request, by email.

Partner actions go to the vendor's reviewers (channel managers and admins; finance too once
money is claimed or a second approval is needed); vendor actions and reminders go to the
partner's admins and the person who made the request.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from mdf import money
from mdf.models import FundRequest
from tcma import mail
from tcma.auth.models import Role, User, UserStatus
from tcma.extensions import db

#: action -> (who is told, what the email says happened)
MESSAGES = {
    "submit": ("vendor", "was submitted for review"),
    "submit_claim": ("vendor+finance", "has a claim to review"),
    "cancel": ("both", "was cancelled"),
    "approve_first": ("finance", "needs a second approval"),
    "ask_info": ("partner", "needs more information"),
    "approve": ("partner", "was approved"),
    "reject": ("partner", "was rejected"),
    "claim_ask_info": ("partner", "needs more information for its claim"),
    "approve_claim": ("partner+finance", "has an approved claim"),
    "reject_claim": ("partner", "has a rejected claim"),
    "pay": ("partner", "was paid"),
    "expire": ("partner", "expired unclaimed"),
    "remind": ("partner", "is due to be claimed soon"),
}


def _vendor(roles: tuple[Role, ...]) -> list[str]:
    # A partner's action runs in a session scoped to that partner, where vendor staff do not
    # exist as User rows; reading the table's columns (not the entity) is not scoped, and
    # only the addresses to notify leave this function.
    users = User.__table__.c
    return list(db.session.execute(select(users.email).where(
        users.role.in_([r.value for r in roles]),
        users.status == UserStatus.ACTIVE.value)).scalars())


def _partner(request: FundRequest) -> list[str]:
    admins = db.session.execute(select(User.email).where(
        User.partner_id == request.partner_id, User.role == Role.PARTNER_ADMIN,
        User.status == UserStatus.ACTIVE)).scalars().all()
    creator = db.session.get(User, request.created_by_id) if request.created_by_id else None
    extra = [creator.email] if creator and creator.status is UserStatus.ACTIVE else []
    return list(dict.fromkeys([*extra, *admins]))


def recipients(request: FundRequest, action: str) -> list[str]:
    audience = MESSAGES[action][0]
    found: list[str] = []
    if audience in ("vendor", "vendor+finance", "both"):
        found += _vendor((Role.CHANNEL_MANAGER, Role.ADMIN))
    if audience in ("finance", "vendor+finance", "partner+finance"):
        found += _vendor((Role.FINANCE,))
    if audience in ("partner", "partner+finance", "both"):
        found += _partner(request)
    return list(dict.fromkeys(found))


def queue(request: FundRequest, action: str, *, by: User | None, comment: str = "") -> None:
    """Queue the step's emails (sent after commit)."""
    if action not in MESSAGES:
        return
    link = f"{current_app.config['BASE_URL'].rstrip('/')}/mdf/requests/{request.public_id}"
    amount = next((a for a in (request.claim_approved_amount if action in (
        "approve_claim", "pay") else None, request.claim_in_review if action in (
        "submit_claim", "reject_claim") else None, request.approved_amount if action in (
        "approve", "expire", "remind") else None, request.requested) if a is not None), None)
    shown = money.display(amount, request.fund.currency) if amount is not None else ""
    for address in recipients(request, action):
        mail.send_template(address, "mdf_update", request=request, partner=request.partner,
                           happened=MESSAGES[action][1], action=action, by=by,
                           comment=comment, amount=shown, link=link)
