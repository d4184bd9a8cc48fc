"""The frame kept in-process: used while nothing changed, dropped the moment something did."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import text

from syndication.widget import content
from tcma.extensions import db
from tcma.models import utcnow
from tests.syndication.widget.conftest import AUDIENCE, live_item

SITE = "https://partner.example"


def _frame(client, widget, **headers):
    return client.get(f"/embed/w/{widget.token}?parent={SITE}", headers=headers)


def test_a_warm_frame_is_served_without_reading_the_database_until_content_changes(
        client, embed):
    partner, widget, item = embed
    first = _frame(client, widget)
    assert first.status_code == 200
    # Out of the ORM's sight (no content change is reported), the row changes under it:
    db.session.execute(text("UPDATE syndicated_items SET title = 'Renamed behind our back'"))
    db.session.commit()
    kept = _frame(client, widget)
    assert kept.get_data() == first.get_data() and kept.headers["ETag"] == first.headers["ETag"]
    assert _frame(client, widget, **{"If-None-Match": first.headers["ETag"]}).status_code == 304

    content.update_item(item, {"summary": "A new summary"}, by=None, **AUDIENCE)
    db.session.commit()
    changed = _frame(client, widget).get_data(as_text=True)
    assert "A new summary" in changed


def test_an_item_expiring_drops_the_kept_frame_without_any_change_being_made(client, embed):
    partner, widget, _ = embed
    live_item("Flash sale ends soon",
              expires_at=(utcnow() + timedelta(seconds=1.5)).isoformat())
    assert "Flash sale ends soon" in _frame(client, widget).get_data(as_text=True)
    time.sleep(1.6)
    assert "Flash sale ends soon" not in _frame(client, widget).get_data(as_text=True)


def test_a_change_committed_by_another_process_is_seen(app, client, embed, monkeypatch):
    from tcma.redis import current_redis

    partner, widget, item = embed
    monkeypatch.setitem(app.config, "WIDGET_VERSION_CHECK_SECONDS", 0)
    _frame(client, widget)
    db.session.execute(text("UPDATE syndicated_items SET title = 'Renamed elsewhere'"))
    db.session.commit()
    # what the other process's commit did to the shared version:
    current_redis().incr(f"{app.config['REDIS_NAMESPACE']}:widget-content-version")
    assert "Renamed elsewhere" in _frame(client, widget).get_data(as_text=True)
