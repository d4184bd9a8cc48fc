"""Accounts: sign-in, invites, password resets and API tokens.

Services flush but never commit; the caller (view, CLI, actor) owns the transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from tcma import audit, mail, ratelimit
from tcma.auth.models import PARTNER_ROLES, VENDOR_ROLES, ApiToken, Role, User, UserStatus
from tcma.errors import Conflict, DomainError, FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow

MIN_PASSWORD_LENGTH = 10
INVALID_LOGIN = "Email or password is incorrect."
# Checked against when the email is unknown, so both paths cost one hash (no enumeration by time).
_DUMMY_HASH = generate_password_hash("not-a-real-password-" + secrets.token_hex(8))


class InvalidLink(DomainError):
    """An invite or reset link that is forged, used, or expired."""


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.execute(
        select(User).where(User.email == normalise_email(email))
    ).scalar_one_or_none()


def check_password_rules(password: str, field: str = "password") -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            [FieldError(field, f"Use at least {MIN_PASSWORD_LENGTH} characters.")]
        )


def set_password(user: User, password: str) -> None:
    check_password_rules(password)
    user.password_hash = generate_password_hash(password)
    user.rotate_security_stamp()


def authenticate(email: str, password: str, *, ip: str) -> User:
    """Return the user for these credentials or raise; rate-limited per email and per IP.

    The same message answers an unknown email, a wrong password and a disabled account, so
    the login form cannot be used to learn who has an account.
    """
    cfg = current_app.config
    window = cfg["LOGIN_WINDOW_SECONDS"]
    email = normalise_email(email)
    ratelimit.hit("login-ip", ip, limit=cfg["LOGIN_ATTEMPTS_PER_IP"], window=window)
    ratelimit.hit("login-email", email, limit=cfg["LOGIN_ATTEMPTS_PER_EMAIL"], window=window)
    user = find_user_by_email(email)
    ok = check_password_hash(user.password_hash if user and user.password_hash else _DUMMY_HASH,
                             password or "")
    if not ok or user is None or user.password_hash is None:
        raise DomainError(INVALID_LOGIN)
    refuse_if_locked_out(user)
    ratelimit.reset("login-email", email, window=window)
    # Only failures use up an address's budget: a whole office behind one NAT signs in.
    ratelimit.undo("login-ip", ip, window=window)
    mark_signed_in(user, method="password")
    return user


def refuse_if_locked_out(user: User) -> None:
    """Disabled users and users of suspended or offboarded partners cannot sign in."""
    from tcma.partners.models import PartnerStatus

    if user.status is not UserStatus.ACTIVE:
        raise DomainError(INVALID_LOGIN)
    if user.partner is not None and user.partner.status is not PartnerStatus.ACTIVE:
        raise DomainError(
            f"Access for {user.partner.name} is {user.partner.status.value}. "
            "Contact your channel manager."
        )


def mark_signed_in(user: User, *, method: str) -> None:
    user.last_login_at = utcnow()
    audit.record("user.login", target=user, actor=user, after={"method": method})


# --- invites and resets -------------------------------------------------------------------


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"tcma.{purpose}")


def make_link_token(user: User, purpose: str) -> str:
    """A signed token naming the user and their current security stamp.

    Setting a password rotates the stamp, so each link works once.
    """
    return _serializer(purpose).dumps({"u": user.public_id, "s": user.security_stamp})


def user_for_link(token: str, purpose: str) -> User:
    max_age = current_app.config[
        "INVITE_MAX_AGE_SECONDS" if purpose == "invite" else "RESET_MAX_AGE_SECONDS"
    ]
    what = "invitation" if purpose == "invite" else "password reset link"
    try:
        data = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise InvalidLink(
            f"This {what} has expired. "
            + ("Ask your administrator to send a new one." if purpose == "invite"
               else "Request a new one below.")
        ) from exc
    except BadSignature as exc:
        raise InvalidLink(
            f"This {what} is not valid. Check that you copied the whole link.") from exc
    user = db.session.execute(
        select(User).where(User.public_id == data.get("u"))
    ).scalar_one_or_none()
    if user is None or user.security_stamp != data.get("s"):
        raise InvalidLink(f"This {what} has already been used or was replaced by a newer one.")
    if purpose == "invite" and user.status is not UserStatus.INVITED:
        raise InvalidLink("This invitation has already been accepted. Sign in instead.")
    if user.status is UserStatus.DISABLED:
        raise InvalidLink(f"This {what} is not valid.")
    return user


def link_url(user: User, purpose: str) -> str:
    base = current_app.config["BASE_URL"].rstrip("/")
    path = "invite" if purpose == "invite" else "reset"
    return f"{base}/{path}/{make_link_token(user, purpose)}"


def invite_user(
    *, email: str, name: str, role: Role, partner=None, invited_by: User | None = None,
    notify: bool = True,
) -> User:
    """Create an invited user and email them a signed, expiring link to set a password.

    ``notify=False`` creates the account without the email (CLI and demo users who get a
    password at once)."""
    email = normalise_email(email)
    errors = []
    if "@" not in email or len(email) > 254:
        errors.append(FieldError("email", "Enter a valid email address."))
    if not (name or "").strip():
        errors.append(FieldError("name", "Enter the person's name."))
    if partner is None and role not in VENDOR_ROLES:
        errors.append(FieldError("role", "Vendor staff need a vendor role."))
    if partner is not None and role not in PARTNER_ROLES:
        errors.append(FieldError("role", "Partner users need a partner role."))
    if errors:
        raise ValidationFailed(errors)
    if partner is not None and partner.status.value == "offboarded":
        raise Conflict(f"{partner.name} has been offboarded; it cannot get new users.")
    if find_user_by_email(email) is not None:
        raise ValidationFailed([FieldError("email", "A user with this email already exists.")])
    user = User(
        email=email,
        name=name.strip(),
        role=role,
        partner_id=partner.id if partner is not None else None,
        status=UserStatus.INVITED,
        invited_by_id=invited_by.id if invited_by else None,
    )
    user.partner = partner
    db.session.add(user)
    db.session.flush()
    audit.record("user.invite", target=user, partner_id=user.partner_id,
                 after={"email": email, "role": role.value})
    if notify:
        send_invite(user, invited_by=invited_by)
    return user


def send_invite(user: User, *, invited_by: User | None = None) -> None:
    """(Re-)send the invite; a new invite makes earlier links stop working."""
    if user.status is not UserStatus.INVITED:
        raise Conflict("This user has already accepted their invitation.")
    user.rotate_security_stamp()
    db.session.flush()
    program = current_app.config["VENDOR_NAME"]
    mail.send_template(
        user.email,
        "invite",
        user_name=user.name,
        inviter=invited_by.name if invited_by else program,
        organisation=user.partner.name if user.partner else program,
        link=link_url(user, "invite"),
        days=current_app.config["INVITE_MAX_AGE_SECONDS"] // 86400,
    )


def accept_invite(token: str, password: str) -> User:
    user = user_for_link(token, "invite")
    set_password(user, password)
    user.status = UserStatus.ACTIVE
    audit.record("user.accept_invite", target=user, actor=user)
    mark_signed_in(user, method="invite")
    return user


def request_password_reset(email: str, *, ip: str) -> None:
    """Email a reset link if the account exists; say nothing either way."""
    ratelimit.hit("reset-ip", ip, limit=10, window=3600)
    ratelimit.hit("reset-email", normalise_email(email), limit=3, window=3600)
    user = find_user_by_email(email)
    if user is None or user.status is not UserStatus.ACTIVE:
        return
    mail.send_template(
        user.email,
        "password_reset",
        user_name=user.name,
        link=link_url(user, "reset"),
        minutes=current_app.config["RESET_MAX_AGE_SECONDS"] // 60,
    )
    audit.record("user.request_reset", target=user, actor=user)


def reset_password(token: str, password: str) -> User:
    user = user_for_link(token, "reset")
    set_password(user, password)
    audit.record("user.reset_password", target=user, actor=user)
    mark_signed_in(user, method="reset")
    return user


def set_user_status(user: User, status: UserStatus, *, by: User) -> None:
    if user.id == by.id and status is UserStatus.DISABLED:
        raise Conflict("You cannot disable your own account.")
    before = {"status": user.status.value}
    if status is UserStatus.ACTIVE and user.password_hash is None:
        status = UserStatus.INVITED  # re-enabled before they ever set a password
    user.status = status
    user.rotate_security_stamp()  # ends their open sessions
    audit.record("user.status", target=user, partner_id=user.partner_id,
                 before=before, after={"status": status.value})


def count_users(partner_id: int | None) -> int:
    return db.session.execute(
        select(func.count()).select_from(User).where(User.partner_id == partner_id)
    ).scalar_one()


def list_users(*, partner_id: int | None, vendor: bool = False) -> list[User]:
    """Users of one partner, or vendor staff with ``vendor=True``."""
    query = select(User).order_by(User.name)
    if vendor:
        query = query.where(User.partner_id.is_(None))
    else:
        query = query.where(User.partner_id == partner_id)
    return list(db.session.execute(query).scalars())


# --- API tokens ---------------------------------------------------------------------------

TOKEN_PREFIX = "tcma_"


def _hash_token(secret: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough; nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_token(user: User, name: str, *, expires_in_days: int | None = None
                     ) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret, which is shown once and never stored."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed([FieldError("name", "Name the token so you can recognise it.")])
    if expires_in_days is not None and not (1 <= expires_in_days <= 3650):
        raise ValidationFailed([FieldError("expires_in_days", "Use 1 to 3650 days.")])
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name[:100],
        prefix=secret[:12],
        token_hash=_hash_token(secret),
        expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    db.session.add(token)
    db.session.flush()
    audit.record("api_token.create", target=token, actor=user, partner_id=user.partner_id,
                 after={"name": token.name, "prefix": token.prefix})
    return token, secret


def user_for_api_token(secret: str) -> User | None:
    """The active user behind a bearer token, or None for unknown/revoked/expired tokens."""
    if not secret or not secret.startswith(TOKEN_PREFIX):
        return None
    token = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == _hash_token(secret))
    ).scalar_one_or_none()
    now = utcnow()
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    user = token.user
    try:
        refuse_if_locked_out(user)
    except DomainError:
        return None
    # Recording use costs a write per call; once a minute is enough to show "last used".
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return user


def list_api_tokens(user: User) -> list[ApiToken]:
    return list(db.session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    ).scalars())


def revoke_api_token(user: User, public_id: str) -> ApiToken:
    token = db.session.execute(
        select(ApiToken).where(ApiToken.public_id == public_id, ApiToken.user_id == user.id)
    ).scalar_one_or_none()
    if token is None:
        raise NotFound("No such token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record("api_token.revoke", target=token, actor=user, partner_id=user.partner_id)
    return token


def revoked_or_expired(token: ApiToken, now: datetime | None = None) -> bool:
    now = now or utcnow()
    expired = token.expires_at is not None and token.expires_at <= now
    return token.revoked_at is not None or expired
