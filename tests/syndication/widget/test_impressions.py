"""Impressions: the frame's beacon, counted once per visitor per day, from registered sites
only, never for bots, and not at all under a flood."""

from __future__ import annotations

from datetime import timedelta

from syndication.widget import impressions
from tcma.extensions import db
from tcma.models import utcnow

BROWSER = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/131.0.0.0 Safari/537.36")
SITE = "https://partner.example"


def _beacon(client, widget, items, *, ua=BROWSER, ip="198.51.100.7", **headers):
    return client.post(f"/embed/w/{widget.token}/seen", json={"items": items},
                       headers={"User-Agent": ua, **headers}, environ_base={"REMOTE_ADDR": ip})


def _counts(widget):
    stats = impressions.impression_stats(widget)
    return stats.impressions, stats.by_item


def test_one_visitor_counts_once_a_day_bots_never(client, embed):
    _, widget, item = embed
    assert _beacon(client, widget, [item.public_id], Origin=SITE).status_code == 204
    assert _beacon(client, widget, [item.public_id], Origin=SITE).status_code == 204
    assert _counts(widget) == (1, {item.public_id: 1})
    # Another visitor (another browser on the same address), and items the widget does not
    # show are ignored.
    _beacon(client, widget, [item.public_id, "not-an-item"], Origin=SITE,
            ua=BROWSER.replace("131", "130"))
    assert _counts(widget) == (2, {item.public_id: 2})
    for bot in ("Mozilla/5.0 (compatible; Googlebot/2.1)", "curl/8.5.0", "",
                BROWSER.replace("Chrome/", "HeadlessChrome/")):
        assert _beacon(client, widget, [item.public_id], Origin=SITE, ua=bot,
                       ip="203.0.113.9").status_code == 204
    assert _counts(widget) == (2, {item.public_id: 2})


def test_the_same_visitor_counts_again_the_next_day(ctx, embed):
    _, widget, item = embed
    today = utcnow().date()
    seen = [impressions.record_impression(widget, [item.public_id], ip="198.51.100.7",
                                      user_agent=BROWSER, today=day)
            for day in (today, today, today + timedelta(days=1))]
    db.session.commit()
    assert seen == [True, False, True]
    stats = impressions.impression_stats(widget, today=today + timedelta(days=1))
    assert (stats.impressions, stats.by_item) == (2, {item.public_id: 2})


def test_beacons_from_unregistered_sites_count_nothing(client, embed):
    _, widget, item = embed
    assert _beacon(client, widget, [item.public_id],
                   Origin="https://evil.example").status_code == 403
    assert _beacon(client, widget, [item.public_id]).status_code == 403  # no origin at all
    frame_on_evil = f"http://localhost/embed/w/{widget.token}?parent=https://evil.example"
    assert _beacon(client, widget, [item.public_id], Referer=frame_on_evil).status_code == 403
    assert _counts(widget) == (0, {})
    # Our frame on a registered site: the browser sends the frame's own URL as Referer.
    frame_on_site = f"http://localhost/embed/w/{widget.token}?parent={SITE}"
    assert _beacon(client, widget, [item.public_id], Referer=frame_on_site).status_code == 204
    assert _counts(widget) == (1, {item.public_id: 1})


def test_a_flood_of_beacons_is_refused_and_not_counted(app, client, embed, monkeypatch):
    _, widget, item = embed
    monkeypatch.setitem(app.config, "WIDGET_SEEN_IP_LIMIT", 3)
    statuses = [_beacon(client, widget, [item.public_id], Origin=SITE,
                        ua=BROWSER.replace("131", str(n))).status_code for n in range(6)]
    assert statuses == [204, 204, 204, 429, 429, 429]
    assert _counts(widget) == (3, {item.public_id: 3})
    # Another address is not held back by the flood.
    assert _beacon(client, widget, [item.public_id], Origin=SITE,
                   ip="198.51.100.99").status_code == 204
