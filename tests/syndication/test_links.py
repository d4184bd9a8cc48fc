"""Tracking links: made once per input, redirect semantics, honest counts, and a drainer that
loses nothing, on the real Redis stream and database."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from syndication.links import clicks, service
from syndication.links.models import Channel, Click, ClickKind, TrackingLink
from syndication.links.service import LinkSource
from tcma.errors import ValidationFailed
from tcma.extensions import db
from tcma.redis import current_redis
from tests.factories import make_partner

BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/126.0 Safari/537.36")
PHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
         "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")


@pytest.fixture
def shared(app, ctx):
    """A partner's link to a page with its own query and fragment."""
    partner = make_partner("Northwind Resellers")
    link = service.link_for(partner, "https://vendor.example.com/offer?ref=a%2Fb&lang=de#form",
                            Channel.EMAIL, LinkSource(campaign="spring-kit", content="email-1",
                                                      type="launch", id="7"))
    db.session.commit()
    return link


def visit(client, code: str, agent: str = BROWSER, ip: str = "203.0.113.7", **headers):
    return client.get(f"/r/{code}", headers={"User-Agent": agent, **headers},
                      environ_base={"REMOTE_ADDR": ip})


def stored() -> list[Click]:
    db.session.expire_all()
    return list(db.session.execute(select(Click).order_by(Click.occurred_at, Click.id)).scalars())


# --- making links ----------------------------------------------------------------------------


def test_the_same_inputs_give_the_same_link_and_others_a_new_one(shared):
    owner = _owner(shared)
    again = service.link_for(owner, "https://vendor.example.com/offer?ref=a%2Fb&lang=de#form",
                             "email", LinkSource(campaign="spring-kit", content="email-1",
                                                 type="launch", id="7"))
    assert again.id == shared.id
    social = service.link_for(owner, shared.destination, Channel.SOCIAL,
                              LinkSource(campaign="spring-kit", content="email-1",
                                         type="launch", id="7"))
    other = service.link_for(make_partner("Contoso"), shared.destination, Channel.EMAIL,
                             LinkSource(campaign="spring-kit", content="email-1",
                                        type="launch", id="7"))
    assert len({shared.code, social.code, other.code}) == 3
    # 72 random bits, URL-safe, in a short link on the configured base URL
    assert len(shared.code) == 12 and shared.code.replace("-", "").replace("_", "").isalnum()
    assert service.short_url(shared) == f"http://localhost/r/{shared.code}"


@pytest.mark.parametrize("destination", [
    "javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "//evil.example/x",
    "https://bank.example@evil.example/", "https:\\\\evil.example", "ftp://files.example/a",
    "https://", "", "https://exa mple.com/", "vendor.example.com/page",
    "https://example.com/" + "a" * 2001, "https://example.com:99999/",
])
def test_destinations_that_could_redirect_anywhere_are_refused(app, ctx, destination):
    partner = make_partner()
    with pytest.raises(ValidationFailed) as refused:
        service.link_for(partner, destination, Channel.WEB)
    assert refused.value.errors[0].field == "destination"


def test_allowed_hosts_limit_where_links_may_go(app, ctx):
    partner = make_partner()
    service.update_settings({"allowed_hosts": "vendor.example.com, events.example.org"})
    service.link_for(partner, "https://www.vendor.example.com/a", Channel.WEB)
    with pytest.raises(ValidationFailed, match="may only go to"):
        service.link_for(partner, "https://vendor.example.com.evil.example/a", Channel.WEB)


# --- the redirect ----------------------------------------------------------------------------


def test_a_click_redirects_with_utm_values_and_a_click_id_and_sets_touch_cookies(shared, client):
    response = visit(client, shared.code)
    assert response.status_code == 302
    assert response.headers["Cache-Control"] == "no-store"
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert location.startswith("https://vendor.example.com/offer?ref=a%2Fb&lang=de&")
    assert parts.fragment == "form"  # after the query, as the destination had it
    query = parse_qs(parts.query)
    assert query["utm_source"] == ["northwind-resellers"]
    assert query["utm_medium"] == ["email"]
    assert query["utm_campaign"] == ["spring-kit"] and query["utm_content"] == ["email-1"]
    click_id = query["tcma_cid"][0]
    assert click_id.startswith(shared.code + ".")
    assert service.link_of_click(click_id).id == shared.id
    cookies = {c.key: c.value for c in client._cookies.values()}
    assert cookies["tcma_ft"] == click_id and cookies["tcma_lt"] == click_id

    second = visit(client, shared.code)
    next_id = parse_qs(urlsplit(second.headers["Location"]).query)["tcma_cid"][0]
    cookies = {c.key: c.value for c in client._cookies.values()}
    assert next_id != click_id
    assert cookies["tcma_ft"] == click_id and cookies["tcma_lt"] == next_id  # first touch kept


def test_head_redirects_without_counting(shared, client):
    response = client.head(f"/r/{shared.code}", headers={"User-Agent": BROWSER})
    assert response.status_code == 302 and "tcma_cid" not in response.headers["Location"]
    assert clicks.pending_count() == 0
    assert "tcma_ft" not in {c.key for c in client._cookies.values()}


def test_unknown_and_disabled_codes_get_a_friendly_404_or_the_fallback(shared, client):
    response = visit(client, "NoSuchCode12")
    assert response.status_code == 404
    assert "This link does not work any more" in response.get_data(as_text=True)
    service.set_disabled(db.session.get(TrackingLink, shared.id), True)
    db.session.commit()
    assert visit(client, shared.code).status_code == 404
    assert clicks.pending_count() == 0

    service.update_settings({"fallback_url": "https://vendor.example.com/partners"})
    db.session.commit()
    response = visit(client, shared.code)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://vendor.example.com/partners"


def test_guessing_codes_is_rate_limited(shared, client):
    for n in range(60):
        assert visit(client, f"guess{n:07d}", ip="198.51.100.9").status_code == 404
    refused = visit(client, "guess9999999", ip="198.51.100.9")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    # Someone else, and real links, are unaffected.
    assert visit(client, "guess9999999", ip="198.51.100.10").status_code == 404
    assert visit(client, shared.code, ip="198.51.100.9").status_code == 302


def test_renamed_parameters_are_used(shared, client):
    service.update_settings({"utm_source": "partner", "utm_medium": "medium",
                             "utm_campaign": "campaign", "utm_content": "content",
                             "click_param": "cid"})
    db.session.commit()
    query = parse_qs(urlsplit(visit(client, shared.code).headers["Location"]).query)
    assert query["partner"] == ["northwind-resellers"] and query["cid"][0].startswith(shared.code)
    assert "utm_source" not in query


def test_settings_errors_name_their_fields(app, ctx):
    with pytest.raises(ValidationFailed) as refused:
        service.update_settings({"utm_source": "has space", "click_param": "utm_medium",
                                 "fallback_url": "javascript:x", "allowed_hosts": "ok.com, -bad-"})
    fields = {e.field for e in refused.value.errors}
    assert fields == {"utm_source", "click_param", "fallback_url", "allowed_hosts"}


# --- counting honestly -----------------------------------------------------------------------


def test_people_repeats_bots_previews_scanners_and_prefetches_are_told_apart(shared, client):
    other = service.link_for(_owner(shared), "https://vendor.example.com/other", Channel.EMAIL)
    third = service.link_for(_owner(shared), "https://vendor.example.com/third", Channel.EMAIL)
    db.session.commit()
    visit(client, shared.code)  # a person
    visit(client, shared.code)  # the same person again
    visit(client, shared.code, agent=PHONE, ip="203.0.113.8")  # another person
    visit(client, shared.code, agent="Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)")
    visit(client, shared.code, agent="LinkedInBot/1.0 (compatible; Mozilla/5.0)")
    visit(client, shared.code, agent="curl/8.5.0")
    visit(client, shared.code, agent="")
    visit(client, shared.code, agent=PHONE, ip="203.0.113.20", **{"Sec-Purpose": "prefetch"})
    visit(client, shared.code, agent="Mozilla/5.0 (compatible; Barracuda Sentinel)")
    # A scanner with a browser's user agent opening every link of the email at once.
    for code in (shared.code, other.code, third.code):
        visit(client, code, agent=BROWSER, ip="192.0.2.55")
    assert clicks.drain() == 12
    kinds = [(c.kind, c.is_human, c.is_unique) for c in stored()]
    by_kind = {}
    for kind, _, _ in kinds:
        by_kind[kind] = by_kind.get(kind, 0) + 1
    assert by_kind == {None: 2, ClickKind.REPEAT: 1, ClickKind.PREVIEW: 2, ClickKind.BOT: 2,
                       ClickKind.PREFETCH: 1, ClickKind.SCANNER: 4}
    assert sum(1 for _, human, _ in kinds if human) == 3
    assert sum(1 for _, _, unique in kinds if unique) == 2
    burst = [c for c in stored() if c.ip_hash == stored_ip_hash("192.0.2.55")]
    assert {c.reason for c in burst} == {"3 different links within 5 s"}
    # No raw address or visitor details kept beyond keyed hashes.
    assert all("203.0.113" not in (c.ip_hash + c.visitor) for c in stored())


def _owner(link):
    from tcma.partners.models import Partner

    return db.session.get(Partner, db.session.get(TrackingLink, link.id).partner_id)


def stored_ip_hash(ip: str) -> str:
    return clicks.visitor_hashes(ip, "")[0]


def test_a_click_seconds_after_its_email_was_delivered_is_a_scanner(shared, client):
    from datetime import timedelta

    from tcma.models import utcnow

    delivered = {"dlv-fast": utcnow() - timedelta(seconds=2),
                 "dlv-slow": utcnow() - timedelta(hours=3)}
    def lookup(refs):
        return {r: delivered[r] for r in refs if r in delivered}

    clicks.delivery_lookups.append(lookup)
    try:
        client.get(f"/r/{shared.code}?d=dlv-fast", headers={"User-Agent": BROWSER},
                   environ_base={"REMOTE_ADDR": "203.0.113.30"})
        client.get(f"/r/{shared.code}?d=dlv-slow", headers={"User-Agent": PHONE},
                   environ_base={"REMOTE_ADDR": "203.0.113.31"})
        clicks.drain()
    finally:
        clicks.delivery_lookups.remove(lookup)
    fast, slow = sorted(stored(), key=lambda c: c.delivery_ref)
    assert fast.kind is ClickKind.SCANNER and fast.reason.endswith("s after delivery")
    assert slow.kind is None and slow.is_unique


def test_a_repeat_is_recognised_across_drains(shared, client):
    visit(client, shared.code)
    clicks.drain()
    visit(client, shared.code)
    clicks.drain()
    assert [c.kind for c in stored()] == [None, ClickKind.REPEAT]


# --- the drainer -----------------------------------------------------------------------------


def test_a_click_asks_for_a_drain_and_the_worker_stores_it(shared, client, jobs):
    clicks._last_due.clear()  # a web process that has not asked for a drain yet
    visit(client, shared.code)
    visit(client, shared.code, agent=PHONE, ip="203.0.113.8")
    jobs.run()  # the drain message was sent with a short delay
    assert len(stored()) == 2 and clicks.pending_count() == 0


def test_clicks_held_by_a_drainer_that_died_are_taken_over(shared, client):
    for n in range(5):
        visit(client, shared.code, ip=f"203.0.113.{n}")
    redis = current_redis()
    stream = clicks._stream()
    clicks._ensure_group(redis, stream)
    # A drainer read the batch and was killed before storing it.
    held = redis.xreadgroup(clicks.GROUP, "dead-drainer", {stream: ">"}, count=100)
    assert len(held[0][1]) == 5
    assert clicks.drain(claim_idle_ms=60_000) == 0  # too fresh to take over: it may be alive
    assert clicks.drain(claim_idle_ms=0) == 5
    assert len(stored()) == 5 and clicks.pending_count() == 0


def test_a_batch_stored_but_not_acknowledged_is_not_stored_twice(shared, client):
    for n in range(4):
        visit(client, shared.code, ip=f"203.0.113.{n}")
    redis = current_redis()
    stream = clicks._stream()
    clicks._ensure_group(redis, stream)
    held = redis.xreadgroup(clicks.GROUP, "killed-after-commit", {stream: ">"}, count=100)
    clicks._store(held[0][1])  # committed; the process dies before XACK
    assert len(stored()) == 4
    assert clicks.drain(claim_idle_ms=0) == 4  # taken over and written again...
    rows = stored()
    assert len(rows) == 4 and all(c.kind is None for c in rows)  # ...stored once, unchanged


def test_clicks_wait_in_redis_while_the_database_is_down(shared, client):
    for n in range(3):
        visit(client, shared.code, ip=f"203.0.113.{n}")
    # The clicks table unreachable: as good as the database refusing writes.
    db.session.execute(text("ALTER TABLE clicks RENAME TO clicks_away"))
    db.session.commit()
    try:
        with pytest.raises(OperationalError if db.engine.dialect.name == "sqlite"
                           else ProgrammingError):
            clicks.drain()
        db.session.rollback()
        visit(client, shared.code, ip="203.0.113.50")  # the redirect keeps working
        assert clicks.pending_count() == 4
    finally:
        db.session.rollback()
        db.session.execute(text("ALTER TABLE clicks_away RENAME TO clicks"))
        db.session.commit()
    assert clicks.drain() == 4  # its own unacknowledged batch first, then the new click
    assert len(stored()) == 4 and clicks.pending_count() == 0
