"""API routes for the caller, vendor staff, users and API tokens."""

from __future__ import annotations

from flask import abort, g

from tcma.api import endpoint
from tcma.api.responses import json_body, require_vendor, token_out
from tcma.api.schemas import (
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserInvite,
    UserOut,
    UserStatusChange,
)
from tcma.auth import service as accounts
from tcma.auth.models import VENDOR_ROLES, User, UserStatus
from tcma.auth.permissions import can
from tcma.errors import FieldError, ValidationFailed
from tcma.extensions import db
from tcma.tenancy import get_or_404

# --- me ------------------------------------------------------------------------------------


@endpoint("/me", "GET", summary="The user this token belongs to", tag="users",
          permission="tokens.own", response=UserOut)
def me():
    return json_body(UserOut.of(g.user))


@endpoint("/users", "GET", summary="Vendor staff", tag="users", permission="staff.manage",
          response=list[UserOut])
def list_staff():
    return json_body([UserOut.of(u) for u in accounts.list_users(partner_id=None, vendor=True)])


@endpoint("/users", "POST", summary="Invite a vendor staff member", tag="users",
          permission="staff.manage", body=UserInvite, response=UserOut, status=201)
def invite_staff(body: UserInvite):
    if body.role not in VENDOR_ROLES:
        raise ValidationFailed([FieldError("role", "Use admin, marketer, channel_manager or "
                                                   "finance.")])
    user = accounts.invite_user(email=str(body.email), name=body.name, role=body.role,
                                invited_by=g.user)
    db.session.commit()
    return json_body(UserOut.of(user), 201)


def _manageable_user(user_id: str) -> User:
    user = get_or_404(User, user_id)
    if user.is_vendor and can(g.user, "staff.manage"):
        return user
    if not user.is_vendor and (can(g.user, "partners.manage") or can(g.user, "colleagues.manage")):
        return user
    abort(403 if g.user.is_vendor else 404)


@endpoint("/users/<user_id>", "GET", summary="One user", tag="users", permission="tokens.own",
          response=UserOut)
def get_user(user_id: str):
    user = get_or_404(User, user_id)
    if g.user.is_vendor and not user.is_vendor:
        require_vendor("partners.view")
    return json_body(UserOut.of(user))


@endpoint("/users/<user_id>/status", "POST", summary="Disable or re-enable a user",
          tag="users", permission="tokens.own", body=UserStatusChange, response=UserOut)
def change_user_status(user_id: str, body: UserStatusChange):
    user = _manageable_user(user_id)
    if body.status is UserStatus.INVITED:
        raise ValidationFailed([FieldError("status", "Use active or disabled.")])
    accounts.set_user_status(user, body.status, by=g.user)
    db.session.commit()
    return json_body(UserOut.of(user))


@endpoint("/users/<user_id>/invite", "POST", summary="Send a new invitation link",
          tag="users", permission="tokens.own", response=UserOut)
def resend_invite(user_id: str):
    user = _manageable_user(user_id)
    accounts.send_invite(user, invited_by=g.user)
    db.session.commit()
    return json_body(UserOut.of(user))


# --- tokens --------------------------------------------------------------------------------


@endpoint("/tokens", "GET", summary="Your API tokens", tag="tokens", permission="tokens.own",
          response=list[TokenOut])
def list_tokens():
    return json_body([token_out(t) for t in accounts.list_api_tokens(g.user)])


@endpoint("/tokens", "POST", summary="Create an API token (the secret is returned once)",
          tag="tokens", permission="tokens.own", body=TokenCreate, response=TokenCreated,
          status=201)
def create_token(body: TokenCreate):
    token, secret = accounts.create_api_token(g.user, body.name,
                                              expires_in_days=body.expires_in_days)
    db.session.commit()
    return json_body(token_out(token, TokenCreated, token=secret), 201)


@endpoint("/tokens/<token_id>", "DELETE", summary="Revoke one of your API tokens",
          tag="tokens", permission="tokens.own", status=204)
def revoke_token(token_id: str):
    accounts.revoke_api_token(g.user, token_id)
    db.session.commit()
    return "", 204


