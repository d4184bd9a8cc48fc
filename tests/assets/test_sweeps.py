"""The scheduled sweeper of the asset library: copies and ZIPs whose message was lost are
made after all, with nobody looking at their page; old ZIPs are removed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from assets import bundles, library, renditions
from assets.models import BundleStatus, Rendition, RenditionStatus
from tcma import scheduler
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner
from tcma.redis import redis_for
from tcma.storage import storage
from tests.assets.test_renditions import ask, published, rendition


def _lose_messages(app) -> None:
    """As if the broker lost everything queued (a Redis without persistence restarted)."""
    redis = redis_for(app)
    keys = list(redis.scan_iter(match=f"{app.config['REDIS_NAMESPACE']}:*"))
    if keys:
        redis.delete(*keys)


def test_a_copy_whose_message_was_lost_is_made_by_the_sweeper(app, jobs):
    world = published(app)
    copy_id = ask(app, world)
    _lose_messages(app)
    jobs.run()
    with app.app_context():
        assert rendition(copy_id).status is RenditionStatus.QUEUED  # nothing will render it
        db.session.execute(update(Rendition).values(
            requested_at=utcnow() - renditions.STALE_RENDER - timedelta(seconds=1)))
        db.session.commit()
    assert "assets.sweep" in scheduler.run_due(app)
    jobs.run()
    with app.app_context():
        assert rendition(copy_id).status is RenditionStatus.DONE


def test_old_zips_are_removed_and_the_partner_is_told(app, jobs):
    world = published(app)
    with app.app_context():
        partner = db.session.get(Partner, world.partners[0])
        bundle = bundles.request_bundle(partner, [library.get_asset(world.asset)])
        db.session.commit()
        bundle_id = bundle.id
    jobs.run()
    with app.app_context():
        bundle = db.session.get(type(bundle), bundle_id)
        assert bundle.status is BundleStatus.DONE
        key = bundle.file_key
        assert bundles.sweep() == (0, 0)  # a fresh ZIP stays
        revived, expired = bundles.sweep(now=utcnow() + bundles.ZIP_KEPT + timedelta(hours=1))
        db.session.commit()
        assert (revived, expired) == (0, 1)
        assert not storage().exists(key)
        db.session.expire_all()
        bundle = db.session.get(type(bundle), bundle_id)
        assert bundle.status is BundleStatus.FAILED and "Ask for a new ZIP" in bundle.error
