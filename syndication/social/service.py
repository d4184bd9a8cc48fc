"""Connecting, checking and disconnecting partners' social accounts.

A connection starts with ``start_connect`` (an OAuth state and a PKCE verifier kept in Redis
for a few minutes, bound to the user), comes back through ``finish_connect`` (the state is
taken out of Redis as it is read, so a replayed callback finds nothing), and, when the grant
can act as several accounts (a LinkedIn member's company pages, a Facebook user's Pages),
ends with ``choose`` once the partner picked which ones to connect.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from flask import current_app, url_for
from sqlalchemy import func, select

from syndication.social import networks
from syndication.social.models import AccountKind, AccountStatus, Network, SocialAccount
from syndication.social.networks import Grant, Identity, NetworkError
from tcma import audit, crypto, mail
from tcma.auth.models import Role, User, UserStatus
from tcma.errors import DomainError, NotFound
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner
from tcma.redis import redis_for

#: ``tcma.crypto`` purpose of stored network tokens (and of pending picks in Redis).
TOKEN_PURPOSE = "social network tokens"


class ConnectRefused(DomainError):
    """A connection cannot be completed; the message tells the partner what to do."""


@dataclass(frozen=True)
class Health:
    status: AccountStatus
    reason: str


@dataclass(frozen=True)
class Choice:
    """An account the partner may pick after consenting (no token: those stay server-side)."""

    external_id: str
    kind: AccountKind
    display_name: str
    handle: str
    connected: bool


# --- connecting ---------------------------------------------------------------------------------


def network_named(value: str) -> Network:
    """The network for a form or URL value; an unknown one is a 404."""
    try:
        return Network(value)
    except ValueError:
        raise NotFound("No such network.") from None


def redirect_uri(network: Network) -> str:
    """The callback the network sends the partner back to (registered with each OAuth app)."""
    base = current_app.config["BASE_URL"].rstrip("/")
    return base + url_for(f"social.callback_{network.value}")


def _key(kind: str, value: str) -> str:
    return f"{current_app.config['REDIS_NAMESPACE']}:social:{kind}:{value}"


def start_connect(user: User, network: Network) -> str:
    """The network's authorisation URL for ``user``; remembers the state and PKCE verifier
    server-side, bound to the user, for ``SOCIAL_CONNECT_TTL_SECONDS``."""
    if not networks.is_configured(network):
        raise ConnectRefused(f"{network.label} is not configured for this program.")
    state = secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)  # 64 characters: within RFC 7636's 43-128
    ttl = int(current_app.config["SOCIAL_CONNECT_TTL_SECONDS"])
    redis_for(current_app).set(_key("connect", state), json.dumps({
        "user_id": user.id, "partner_id": user.partner_id, "network": network.value,
        "verifier": verifier}), ex=ttl)
    return networks.adapter_for(network).authorize_url(redirect_uri(network), state, verifier)


def _take_state(state: str) -> dict | None:
    """Read and delete a started connection in one step: a state works once."""
    pipe = redis_for(current_app).pipeline(transaction=True)
    pipe.get(_key("connect", state))
    pipe.delete(_key("connect", state))
    raw, _ = pipe.execute()
    return json.loads(raw) if raw else None


def finish_connect(user: User, network: Network, *, state: str, code: str | None,
                   error: str | None = None, now: datetime | None = None
                   ) -> list[SocialAccount] | None:
    """Complete the callback: check the state, exchange the code, learn the identities.

    Returns the accounts connected, or ``None`` when the partner must pick among several
    (``pending_choices`` / ``choose``)."""
    now = now or utcnow()
    started = _take_state(state) if state else None
    if (started is None or started["user_id"] != user.id
            or started["network"] != network.value):
        raise ConnectRefused("This connection attempt is unknown, expired or was already "
                             "used. Start connecting again.")
    if error or not code:
        raise ConnectRefused(f"{network.label} did not grant access"
                             f"{f' ({error})' if error else ''}. Nothing was connected.")
    adapter = networks.adapter_for(network)
    try:
        grant = adapter.exchange_code(code, redirect_uri(network), started["verifier"], now)
        identities = adapter.identities(grant)
    except NetworkError as exc:
        raise ConnectRefused(f"Connecting failed: {exc.message}") from None
    if not identities:
        raise ConnectRefused(f"Your {network.label} login has nothing you can post to "
                             "(no Page where you may create content).")
    grant_id = secrets.token_hex(16)
    if len(identities) == 1:
        return [_save(user, network, grant, identities[0], grant_id)]
    ttl = int(current_app.config["SOCIAL_CONNECT_TTL_SECONDS"])
    pending = {"network": network.value, "grant_id": grant_id, "grant": _grant_json(grant),
               "identities": [{**asdict(i), "kind": i.kind.value} for i in identities]}
    redis_for(current_app).set(_key("pick", str(user.id)),
                               crypto.encrypt(json.dumps(pending), TOKEN_PURPOSE), ex=ttl)
    return None


def _grant_json(grant: Grant) -> dict:
    return {**asdict(grant), **{k: v.isoformat() if v else None for k, v in (
        ("expires_at", grant.expires_at), ("refresh_expires_at", grant.refresh_expires_at))}}


def _pending(user: User) -> dict | None:
    raw = redis_for(current_app).get(_key("pick", str(user.id)))
    return json.loads(crypto.decrypt(raw.decode(), TOKEN_PURPOSE)) if raw else None


def pending_choices(user: User) -> tuple[Network, list[Choice]] | None:
    """What the user may pick from their last consent, or ``None`` when nothing waits."""
    pending = _pending(user)
    if pending is None:
        return None
    network = Network(pending["network"])
    connected = set(db.session.execute(select(SocialAccount.external_id).where(
        SocialAccount.partner_id == user.partner_id, SocialAccount.network == network
    )).scalars())
    return network, [Choice(i["external_id"], AccountKind(i["kind"]), i["display_name"],
                            i["handle"], i["external_id"] in connected)
                     for i in pending["identities"]]


def choose(user: User, external_ids: list[str]) -> list[SocialAccount]:
    """Connect the accounts the user picked from their pending consent (then forget it)."""
    pending = _pending(user)
    if pending is None:
        raise ConnectRefused("Nothing is waiting to be picked: start connecting again.")
    picked = [i for i in pending["identities"] if i["external_id"] in set(external_ids)]
    if not picked:
        raise ConnectRefused("Pick at least one account to connect.", field="accounts")
    g = pending["grant"]
    grant = Grant(g["access_token"], g["refresh_token"],
                  datetime.fromisoformat(g["expires_at"]) if g["expires_at"] else None,
                  datetime.fromisoformat(g["refresh_expires_at"])
                  if g["refresh_expires_at"] else None, g["scopes"])
    network = Network(pending["network"])
    accounts = [_save(user, network, grant, Identity(**{**i, "kind": AccountKind(i["kind"])}),
                      pending["grant_id"]) for i in picked]
    redis_for(current_app).delete(_key("pick", str(user.id)))
    return accounts


def _save(user: User, network: Network, grant: Grant, identity: Identity,
          grant_id: str) -> SocialAccount:
    """Store (or, connecting again, renew) one account with its encrypted tokens."""
    account = db.session.execute(select(SocialAccount).where(
        SocialAccount.partner_id == user.partner_id, SocialAccount.network == network,
        SocialAccount.external_id == identity.external_id)).scalar_one_or_none()
    if account is None:
        account = SocialAccount(partner_id=user.partner_id, network=network,
                                external_id=identity.external_id)
        db.session.add(account)
    own_token = identity.access_token is not None
    account.kind = identity.kind
    account.display_name = identity.display_name[:200]
    account.handle = identity.handle[:100]
    account.avatar_url = identity.avatar_url
    account.scopes = grant.scopes[:500]
    account.access_token_encrypted = crypto.encrypt(
        identity.access_token if own_token else grant.access_token, TOKEN_PURPOSE)
    account.refresh_token_encrypted = (crypto.encrypt(grant.refresh_token, TOKEN_PURPOSE)
                                       if grant.refresh_token and not own_token else None)
    # A Page token derived from a long-lived user token does not expire.
    account.expires_at = None if own_token else grant.expires_at
    account.refresh_expires_at = None if own_token else grant.refresh_expires_at
    account.grant_id = grant_id
    account.status, account.status_reason, account.warned_at = AccountStatus.CONNECTED, "", None
    account.connected_by_id = user.id
    db.session.flush()
    from syndication.social.scheduling import release_held

    release_held(account)  # posts held for a reconnect go out now, if still timely
    audit.record("social.connect", target=account, actor=user,
                 after={"network": network.value, "name": account.display_name})
    return account


# --- reading --------------------------------------------------------------------------------


def list_accounts() -> list[SocialAccount]:
    """The accounts the session may see (a partner's own, under tenancy), by network."""
    return list(db.session.execute(select(SocialAccount).order_by(
        SocialAccount.network, SocialAccount.display_name)).scalars())


def get_account(public_id: str) -> SocialAccount:
    account = db.session.execute(select(SocialAccount).where(
        SocialAccount.public_id == public_id)).scalar_one_or_none()
    if account is None:
        raise NotFound("No such social account.")
    return account


def access_token(account: SocialAccount) -> str:
    """The account's plain access token, for calling its network (never for display)."""
    return crypto.decrypt(account.access_token_encrypted, TOKEN_PURPOSE)


def _warning_window() -> timedelta:
    return timedelta(days=int(current_app.config["SOCIAL_EXPIRY_WARNING_DAYS"]))


def _access_ends(account: SocialAccount) -> datetime | None:
    """When the account stops working unless reconnected: the access token's expiry when it
    cannot be refreshed, else the refresh token's (``None``: not foreseeable)."""
    if account.refresh_token_encrypted and networks.ADAPTERS[account.network].can_refresh:
        return account.refresh_expires_at
    return account.expires_at


def health(account: SocialAccount, now: datetime | None = None) -> Health:
    """Connected, expiring soon (within the warning window) or broken, with the reason."""
    now = now or utcnow()
    if account.status is AccountStatus.BROKEN:
        return Health(AccountStatus.BROKEN, account.status_reason)
    ends = _access_ends(account)
    if ends is not None and ends <= now:
        return Health(AccountStatus.BROKEN, f"Access expired on {ends:%Y-%m-%d}: reconnect.")
    if ends is not None and ends <= now + _warning_window():
        return Health(AccountStatus.EXPIRING,
                      f"Access ends on {ends:%Y-%m-%d %H:%M} UTC: reconnect before then.")
    return Health(AccountStatus.CONNECTED, "")


@dataclass
class NetworkHealth:
    network: Network
    configured: bool
    healthy: int = 0
    expiring: int = 0
    broken: int = 0


def health_counts(now: datetime | None = None) -> list[NetworkHealth]:
    """Per network, how many accounts (all partners) are healthy, expiring within the
    warning window and broken: the vendor's view, without a single token in it."""
    now = now or utcnow()
    counts = {n: NetworkHealth(n, networks.is_configured(n)) for n in Network}
    for account in db.session.execute(select(SocialAccount)).scalars():
        status = health(account, now).status
        row = counts[account.network]
        if status is AccountStatus.BROKEN:
            row.broken += 1
        elif status is AccountStatus.EXPIRING:
            row.expiring += 1
        else:
            row.healthy += 1
    return list(counts.values())


# --- disconnecting ----------------------------------------------------------------------------


def disconnect(account: SocialAccount, *, by: User | None) -> bool:
    """Delete the account and its tokens, revoking them at the network first when it allows
    and no other account connected with the same consent still uses them. Returns whether
    the network confirmed the revocation (a network that is down does not block it)."""
    adapter_cls = networks.ADAPTERS[account.network]
    shared = db.session.execute(select(func.count()).select_from(SocialAccount).where(
        SocialAccount.grant_id == account.grant_id, SocialAccount.id != account.id)).scalar()
    revoked = False
    if adapter_cls.can_revoke and not shared and networks.is_configured(account.network):
        try:
            networks.adapter_for(account.network).revoke(access_token(account))
            revoked = True
        except NetworkError:
            revoked = False  # already revoked, or the network is down: delete all the same
    audit.record("social.disconnect", target=account, actor=by,
                 before={"network": account.network.value, "name": account.display_name},
                 after={"revoked": revoked})
    from syndication.social.scheduling import cancel_account_posts

    cancel_account_posts(account)
    db.session.delete(account)
    db.session.flush()
    return revoked


# --- keeping tokens alive (the scheduler's job) -----------------------------------------------


def refresh_due(now: datetime | None = None) -> list[int]:
    """Find accounts whose tokens need attention and act: queue a refresh for those that
    can be refreshed and expire within ``SOCIAL_REFRESH_MARGIN_SECONDS``; warn the partner
    (once) about accounts expiring within the warning window; mark expired ones broken.
    Returns the ids queued for refresh."""
    from syndication.social.tasks import refresh_social_account
    from tcma import queue

    now = now or utcnow()
    due_before = now + timedelta(seconds=int(current_app.config["SOCIAL_REFRESH_MARGIN_SECONDS"]))
    queued: list[int] = []
    grants: set[str] = set()
    for account in db.session.execute(select(SocialAccount).where(
            SocialAccount.status != AccountStatus.BROKEN).order_by(SocialAccount.id)).scalars():
        refreshable = (account.refresh_token_encrypted is not None
                       and networks.ADAPTERS[account.network].can_refresh)
        if (refreshable and account.expires_at is not None and account.expires_at <= due_before
                and (account.refresh_expires_at is None or account.refresh_expires_at > now)
                and account.grant_id not in grants):
            # One refresh per consent: it renews every account sharing the tokens.
            grants.add(account.grant_id)
            queue.enqueue(refresh_social_account, account.id, account.expires_at.isoformat())
            queued.append(account.id)
        state = health(account, now)
        if state.status is AccountStatus.BROKEN:
            mark_broken(account, state.reason)
        elif state.status is AccountStatus.EXPIRING and account.warned_at is None:
            account.status, account.status_reason = AccountStatus.EXPIRING, state.reason
            account.warned_at = now
            _tell_partner(account, "social_expiring")
    db.session.flush()
    return queued


def refresh_account(account_id: int, seen_expires_at: datetime,
                    now: datetime | None = None) -> bool:
    """Refresh one account's tokens if they are still the ones that expire at
    ``seen_expires_at`` (a repeated message finds them renewed and calls no network). A
    refusal marks the account broken and tells the partner; a network that is down is tried
    again on the next run."""
    now = now or utcnow()
    account = db.session.execute(select(SocialAccount).where(
        SocialAccount.id == account_id).with_for_update()).scalar_one_or_none()
    if (account is None or account.status is AccountStatus.BROKEN
            or account.refresh_token_encrypted is None or account.expires_at is None
            or account.expires_at != seen_expires_at):
        return False
    adapter = networks.adapter_for(account.network)
    try:
        grant = adapter.refresh(crypto.decrypt(account.refresh_token_encrypted, TOKEN_PURPOSE),
                                now)
    except NetworkError as exc:
        if exc.permanent:
            mark_broken(account, exc.message)
        return False
    # Accounts from the same consent hold the same tokens: renew them together.
    for sibling in db.session.execute(select(SocialAccount).where(
            SocialAccount.grant_id == account.grant_id)).scalars():
        sibling.access_token_encrypted = crypto.encrypt(grant.access_token, TOKEN_PURPOSE)
        if grant.refresh_token:
            sibling.refresh_token_encrypted = crypto.encrypt(grant.refresh_token, TOKEN_PURPOSE)
        sibling.expires_at = grant.expires_at
        sibling.refresh_expires_at = grant.refresh_expires_at or sibling.refresh_expires_at
        sibling.status, sibling.status_reason, sibling.warned_at = (
            AccountStatus.CONNECTED, "", None)
    db.session.flush()
    return True


def mark_broken(account: SocialAccount, reason: str) -> None:
    """The network refuses the account's tokens: say why on the account and email the
    partner's admins a reconnect link (once: an account already broken is left alone)."""
    if account.status is AccountStatus.BROKEN:
        return
    account.status, account.status_reason = AccountStatus.BROKEN, reason[:500]
    db.session.flush()
    _tell_partner(account, "social_broken")


def _tell_partner(account: SocialAccount, template: str) -> None:
    partner = db.session.get(Partner, account.partner_id)
    admins = db.session.execute(select(User.email).where(
        User.partner_id == account.partner_id, User.role == Role.PARTNER_ADMIN,
        User.status == UserStatus.ACTIVE).order_by(User.email)).scalars().all()
    # A path, not url_for: the scheduler runs without a request to build URLs from.
    link = current_app.config["BASE_URL"].rstrip("/") + "/social/accounts"
    for address in admins:
        mail.send_template(address, template, account=account, partner=partner, link=link)
