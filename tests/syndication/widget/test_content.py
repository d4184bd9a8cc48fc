"""Syndicated items: who sees them, when, and what their rich text may hold."""

from __future__ import annotations

from datetime import timedelta

import pytest

from syndication.widget import content
from tcma.errors import ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tests.factories import make_partner
from tests.syndication.widget.conftest import AUDIENCE, live_item


def _titles(partner, categories=(), language="en"):
    return [i.title for i in content.live_items(partner, categories=list(categories),
                                                language=language)]


def test_live_items_follow_dates_audience_language_and_category(ctx):
    gold = make_partner("Gold EMEA", tier="gold", region="EMEA", type="reseller")
    silver = make_partner("Silver AMER", tier="silver", region="AMER", type="msp")
    now = utcnow()
    live_item("For everyone")
    live_item("Gold only", allowed_tiers=["gold"])
    live_item("AMER only", allowed_regions=["AMER"])
    live_item("MSPs only", allowed_types=["msp"])
    live_item("Tomorrow", publish_at=(now + timedelta(days=1)).isoformat())
    live_item("Expired", publish_at=(now - timedelta(days=2)).isoformat(),
              expires_at=(now - timedelta(minutes=1)).isoformat())
    live_item("Draft", publish_at=None)
    live_item("Auf Deutsch", language="de")
    live_item("Security news", category="security")
    content.retire_item(live_item("Retired"), by=None)
    db.session.commit()

    assert sorted(_titles(gold)) == ["For everyone", "Gold only", "Security news"]
    assert sorted(_titles(silver)) == ["AMER only", "For everyone", "MSPs only",
                                       "Security news"]
    assert _titles(gold, categories=["security"]) == ["Security news"]
    assert _titles(gold, language="de") == ["Auf Deutsch"]
    statuses = {i.title: content.status_of(i) for i in content.list_items(include_retired=True)}
    assert statuses["Tomorrow"] == "scheduled" and statuses["Expired"] == "expired"
    assert statuses["Draft"] == "draft" and statuses["Retired"] == "retired"
    assert statuses["For everyone"] == "live"


def test_an_item_disappears_once_it_expires(ctx):
    partner = make_partner()
    item = live_item("Short-lived", expires_at=(utcnow() + timedelta(hours=1)).isoformat())
    assert _titles(partner) == ["Short-lived"]
    later = utcnow() + timedelta(hours=2)
    assert content.live_items(partner, categories=[], language="en", now=later) == []
    assert not content.visible_to(partner, item, later)


def test_rich_text_keeps_structure_and_drops_anything_that_runs(ctx):
    item = live_item(body='<h2 onclick="steal()">Why</h2><p>Read <a href="javascript:alert(1)">'
                          'this</a> and <a href="https://vendor.example/x">that</a>.</p>'
                          '<script>alert("x")</script><img src=x onerror=alert(1)>'
                          '<style>body{display:none}</style><iframe src="https://evil"></iframe>')
    assert "<script" not in item.body and "alert(" not in item.body
    assert "onclick" not in item.body and "onerror" not in item.body
    assert "<style" not in item.body and "<iframe" not in item.body and "<img" not in item.body
    assert "javascript:" not in item.body
    assert "<h2>Why</h2>" in item.body
    assert '<a href="https://vendor.example/x" rel="noopener noreferrer nofollow">that</a>' in \
        item.body


def test_each_kind_needs_what_it_points_at(ctx):
    with pytest.raises(ValidationFailed) as caught:
        content.create_item({"kind": "video", "title": "Demo"}, by=None, **AUDIENCE)
    assert caught.value.for_field("video_url")
    with pytest.raises(ValidationFailed) as caught:
        content.create_item({"kind": "video", "title": "Demo",
                             "video_url": "javascript:alert(1)"}, by=None, **AUDIENCE)
    assert caught.value.for_field("video_url")
    with pytest.raises(ValidationFailed) as caught:
        content.create_item({"kind": "cta", "title": "Talk to us"}, by=None, **AUDIENCE)
    assert caught.value.for_field("landing_page_id")
    with pytest.raises(ValidationFailed) as caught:
        content.create_item({"kind": "asset", "title": "Datasheet", "asset_id": "nope"},
                            by=None, **AUDIENCE)
    assert caught.value.for_field("asset_id")
    with pytest.raises(ValidationFailed) as caught:
        content.create_item({"kind": "article", "title": "X", "body": "<p>x</p>",
                             "allowed_tiers": ["diamond"],
                             "publish_at": "2026-01-02T00:00:00+00:00",
                             "expires_at": "2026-01-01T00:00:00+00:00"}, by=None, **AUDIENCE)
    assert caught.value.for_field("allowed_tiers") and caught.value.for_field("expires_at")
