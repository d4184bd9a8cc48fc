"""Tracking links: made once per (partner, destination, channel, source), resolved fast.

Every channel (email, social, widget, QR codes on co-branded files) asks ``link_for`` for
the link it shares. The redirect asks ``resolve`` for where a code goes: an in-process cache
in front of the database, so the request path usually touches nothing but the click buffer.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote_plus, urlencode, urlsplit, urlunsplit

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.urls import iri_to_uri

from syndication.links.models import Channel, LinkSettings, TrackingLink
from tcma.errors import FieldError, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner, PartnerStatus

#: 9 random bytes: 72 bits, 12 URL-safe characters.
CODE_BYTES = 9
MAX_URL = 2000
#: How long a web process trusts what it cached about a code (disabling a link, or changing
#: the vendor's settings, reaches every process within this time).
CACHE_SECONDS = 10.0
_CACHE_LIMIT = 100_000


@dataclass(frozen=True)
class LinkSource:
    """What a link is shared for: ``campaign`` (kit or asset slug) and ``content`` (step or
    post) become UTM values; ``type``/``id`` say which object made it, for reports."""

    campaign: str | None = None
    content: str | None = None
    type: str = "manual"
    id: str | None = None


def kit_slug(name: str) -> str:
    """A kit's name as it appears in ``utm_campaign``: lower-case words joined by dashes."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:100] or "kit"


# --- destinations ------------------------------------------------------------------------------


def check_destination(url: str, *, field: str = "destination",
                      allowed_hosts: list[str] | None = None) -> str:
    """The destination as it will be stored, or ValidationFailed naming ``field``.

    Only absolute http(s) URLs to a real host: no ``javascript:``/``data:``, no
    protocol-relative ``//host``, no credentials (``https://bank@evil``), no backslashes or
    control characters that browsers read differently from us.
    """
    def refuse(message: str):
        return ValidationFailed([FieldError(field, message)])

    url = (url or "").strip()
    if not url:
        raise refuse("Enter the address the link goes to.")
    if len(url) > MAX_URL:
        raise refuse(f"Use an address of at most {MAX_URL} characters.")
    if any(ord(c) < 33 or c in "\\\x7f" for c in url):
        raise refuse("The address has spaces, backslashes or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a malformed port
    except ValueError:
        raise refuse("This is not a valid web address.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise refuse("Use an address starting with https:// or http://.")
    host = (parts.hostname or "").rstrip(".")
    if not host or parts.username is not None or parts.password is not None:
        raise refuse("Use an address with a host name and no user name or password.")
    try:
        host.encode("idna")
    except UnicodeError:
        raise refuse("The host name is not valid.") from None
    if allowed_hosts and not any(host == h or host.endswith("." + h) for h in allowed_hosts):
        raise refuse("Links may only go to: " + ", ".join(allowed_hosts) + ".")
    del port
    return url


# --- settings --------------------------------------------------------------------------------


def settings() -> LinkSettings:
    """The vendor's link settings (an unsaved row of defaults when never changed)."""
    row = db.session.execute(select(LinkSettings).limit(1)).scalar_one_or_none()
    if row is None:
        row = LinkSettings(utm_source="utm_source", utm_medium="utm_medium",
                           utm_campaign="utm_campaign", utm_content="utm_content",
                           click_param="tcma_cid", fallback_url=None, allowed_hosts=[])
    return row


# --- making links ----------------------------------------------------------------------------


def link_for(partner: Partner, destination: str, channel: Channel | str,
             source: LinkSource | None = None, *, by=None) -> TrackingLink:
    """The partner's tracking link to ``destination`` through ``channel``: the same link for
    the same inputs, created on first use. Flushes; the caller commits."""
    return ensure_link(partner, destination, channel, source, by=by)[0]


def ensure_link(partner: Partner, destination: str, channel: Channel | str,
                source: LinkSource | None = None, *, by=None) -> tuple[TrackingLink, bool]:
    """``link_for``, also saying whether the link was made by this call."""
    channel = Channel(channel)
    source = source or LinkSource()
    destination = check_destination(destination, allowed_hosts=settings().allowed_hosts)
    for field, value in (("campaign", source.campaign), ("content", source.content)):
        if value is not None and len(value) > 100:
            raise ValidationFailed([FieldError(field, "Use at most 100 characters.")])
    key = hashlib.sha256(json.dumps(
        [destination, channel.value, source.campaign, source.content, source.type, source.id]
    ).encode()).hexdigest()
    existing = _by_key(partner.id, key)
    if existing is not None:
        return existing, False
    link = TrackingLink(partner_id=partner.id, key=key, code=new_code(),
                        destination=destination, channel=channel, campaign=source.campaign,
                        content=source.content, source_type=source.type, source_id=source.id,
                        created_by_id=by.id if by is not None else None)
    try:
        with db.session.begin_nested():
            db.session.add(link)
    except IntegrityError:
        # Made meanwhile by a parallel request for the same inputs (or, once in 2^72, a code
        # drawn twice: then the lookup finds nothing and the caller's retry draws again).
        existing = _by_key(partner.id, key)
        if existing is None:
            raise
        return existing, False
    return link, True


def _by_key(partner_id: int, key: str) -> TrackingLink | None:
    return db.session.execute(select(TrackingLink).where(
        TrackingLink.partner_id == partner_id, TrackingLink.key == key)).scalar_one_or_none()


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def short_url(link: TrackingLink) -> str:
    return f"{current_app.config['BASE_URL'].rstrip('/')}/r/{link.code}"


def set_disabled(link: TrackingLink, disabled: bool) -> None:
    """Disable (the code answers 404, or the vendor's fallback) or enable again."""
    link.disabled_at = utcnow() if disabled else None
    forget(link.code)


def link_of_click(click_id: str | None) -> TrackingLink | None:
    """The link a click id (``<code>.<random>``) was handed out by, if it still exists.
    Works before the click itself is drained into the database."""
    if not click_id or "." not in click_id or len(click_id) > 40:
        return None
    code = click_id.split(".", 1)[0]
    return db.session.execute(
        select(TrackingLink).where(TrackingLink.code == code)).scalar_one_or_none()


def new_click_id(code: str) -> str:
    return f"{code}.{secrets.token_urlsafe(12)}"


# --- where a code goes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A live link as the redirect needs it: the destination with UTM values merged in,
    split around the fragment so the click id can go before it."""

    link_id: int
    partner_id: int
    head: str  # scheme://host/path?query (UTM values merged)
    fragment: str  # "" or "#..."
    click_param: str

    def location(self, click_id: str | None) -> str:
        if click_id is None:
            return self.head + self.fragment
        joiner = "&" if "?" in self.head else "?"
        return f"{self.head}{joiner}{self.click_param}={click_id}{self.fragment}"


_cache: dict[str, tuple[float, Target | None]] = {}
_cache_lock = threading.Lock()


def resolve(code: str) -> Target | None:
    """Where ``code`` goes now, or None (unknown, disabled, partner not active). Cached per
    process for ``CACHE_SECONDS``, misses included, so guessing codes costs the database
    little."""
    now = time.monotonic()
    hit = _cache.get(code)
    if hit is not None and hit[0] > now:
        return hit[1]
    target = _load_target(code) if 8 <= len(code) <= 16 else None
    with _cache_lock:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        _cache[code] = (now + CACHE_SECONDS, target)
    return target


def cached_target(code: str) -> Target | None:
    """The live target this process has cached for ``code``, or None (not cached, expired,
    or cached as unknown): the fast path answers only what it knows."""
    hit = _cache.get(code)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    return None


def forget(code: str | None = None) -> None:
    """Drop this process's cached target for ``code`` (every code when None)."""
    with _cache_lock:
        if code is None:
            _cache.clear()
        else:
            _cache.pop(code, None)


def _load_target(code: str) -> Target | None:
    row = db.session.execute(
        select(TrackingLink, Partner.slug, Partner.status)
        .join(Partner, Partner.id == TrackingLink.partner_id)
        .where(TrackingLink.code == code)).first()
    if row is None:
        return None
    link, slug, status = row
    if link.disabled_at is not None or status is not PartnerStatus.ACTIVE:
        return None
    chosen = settings()
    try:
        # Checked again on the way out: a destination stored before a rule tightened, or
        # written around the service, never becomes an open redirect.
        check_destination(link.destination)
    except ValidationFailed:
        return None
    head, fragment = merge_utm(link.destination, {
        chosen.utm_source: slug,
        chosen.utm_medium: link.channel.value,
        chosen.utm_campaign: link.campaign,
        chosen.utm_content: link.content,
    }, drop=(chosen.click_param,))
    # Header-safe once here (an internationalised host or path becomes ASCII), not per click.
    return Target(link.id, link.partner_id, iri_to_uri(head), iri_to_uri(fragment),
                  chosen.click_param)


def merge_utm(destination: str, values: dict[str, str | None],
              drop: tuple[str, ...] = ()) -> tuple[str, str]:
    """``destination`` with ``values`` set in its query, split into (everything before the
    fragment, the fragment). Ours replace parameters of the same name; every other parameter
    is kept byte for byte and in order (sites can be picky about their own encoding)."""
    parts = urlsplit(destination)
    ours = {k: v for k, v in values.items() if v}
    replaced = set(ours) | set(drop)
    kept = [segment for segment in parts.query.split("&") if segment
            and unquote_plus(segment.split("=", 1)[0]) not in replaced]
    query = "&".join(kept + ([urlencode(ours)] if ours else []))
    head = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return head, f"#{parts.fragment}" if parts.fragment else ""


PARAM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,39}$")


def update_settings(form) -> LinkSettings:
    """Save the vendor's link settings from a form or JSON mapping; every field checked, each
    error naming its field. Flushes; every process sees the change within CACHE_SECONDS."""
    row = db.session.execute(select(LinkSettings).limit(1)).scalar_one_or_none()
    if row is None:
        row = settings()
        db.session.add(row)
    errors: list[FieldError] = []
    names = {}
    for field in ("utm_source", "utm_medium", "utm_campaign", "utm_content", "click_param"):
        value = str(form.get(field) or getattr(row, field)).strip()
        if not PARAM_NAME.match(value):
            errors.append(FieldError(field, "Use letters, digits, _ . or -, starting with a "
                                            "letter (at most 40)."))
        names[field] = value
    if len(set(names.values())) < len(names):
        errors.append(FieldError("click_param", "Each parameter needs its own name."))
    fallback = str(form.get("fallback_url") or "").strip() or None
    if fallback:
        try:
            check_destination(fallback, field="fallback_url")
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    hosts_raw = form.get("allowed_hosts") or ""
    hosts = hosts_raw if isinstance(hosts_raw, list) else re.split(r"[\s,]+", hosts_raw)
    hosts = sorted({h.strip().lower().rstrip(".") for h in hosts if h.strip()})
    bad = [h for h in hosts if not HOST_NAME.match(h)]
    if bad:
        errors.append(FieldError("allowed_hosts", f"Not host names: {', '.join(bad)}."))
    if errors:
        raise ValidationFailed(errors)
    for field, value in names.items():
        setattr(row, field, value)
    row.fallback_url = fallback
    row.allowed_hosts = hosts
    db.session.flush()
    forget()
    return row


HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*"
                       r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
