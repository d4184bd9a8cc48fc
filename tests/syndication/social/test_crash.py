"""A worker killed with SIGKILL in the middle of publishing, with real Redis and a real
worker process: afterwards every post is on the network exactly once and the database says
published for each, with the network's id."""

from __future__ import annotations

import collections
import time

from sqlalchemy import func, select

from campaigns import launches
from syndication.social import service
from syndication.social.fakes import FakeX, Token
from syndication.social.models import AccountKind, Network, PostStatus, SocialAccount, SocialPost
from tcma import crypto
from tcma.extensions import db
from tcma.partners import service as partners
from tests import workers
from tests.factories import make_partner
from tests.syndication.social.world import post_kit
from tests.workers import kill

PARTNERS = 24


def start_worker(app, fake: FakeX):
    """A worker publishing to the X fake; a dead worker's posts are taken over after 3 s
    instead of 2 minutes."""
    return workers.start_worker(app, queues=("send", "social", "default"), env={
        "TCMA_SOCIAL_X_CLIENT_ID": fake.client_id,
        "TCMA_SOCIAL_X_CLIENT_SECRET": fake.client_secret,
        "TCMA_SOCIAL_X_AUTH": fake.url, "TCMA_SOCIAL_X_API": fake.url,
        "TCMA_SOCIAL_PUBLISH_LEASE_SECONDS": "3"})


def published() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(SocialPost).where(
        SocialPost.status == PostStatus.PUBLISHED))


def test_a_worker_killed_mid_publish_posts_nothing_twice_and_loses_nothing(app, ctx):
    fake = FakeX()
    fake.latency = 0.4  # calls in flight when the worker dies
    kit = post_kit(posts=[{"key": "announce", "name": "Announcement",
                           "texts": {"x": "{{ partner.display_name }} backs you up"},
                           "link": "https://vendor.example/backup"}])
    for n in range(PARTNERS):
        partner = make_partner(f"Crash Partner {n}")
        partners.update_brand_profile(partner, {"display_name": f"Crash Partner {n}"},
                                      by=None)
        token = f"crash-token-{n}"
        fake.tokens[token] = Token(value=token, grant=f"crash-{n}", expires=None)
        db.session.add(SocialAccount(
            partner_id=partner.id, network=Network.X, kind=AccountKind.PROFILE,
            external_id=fake.user["id"], display_name=f"Crash {n}", scopes="tweet.write",
            access_token_encrypted=crypto.encrypt(token, service.TOKEN_PURPOSE),
            grant_id=f"crash{n}"))
        db.session.commit()
        launches.launch_kit(partner, kit)
        db.session.commit()
    try:
        worker = start_worker(app, fake)
        try:
            deadline = time.monotonic() + 60
            while len(fake.posts) < 6 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert len(fake.posts) >= 6, "the worker published nothing"
        finally:
            kill(worker)  # mid-publish: posts claimed, calls in flight, answers unrecorded
        assert published() < PARTNERS

        worker = start_worker(app, fake)
        try:
            deadline = time.monotonic() + 90
            while published() < PARTNERS and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            kill(worker)
        rows = db.session.execute(select(SocialPost)).scalars().all()
        assert [r.status for r in rows] == [PostStatus.PUBLISHED] * PARTNERS
        texts = collections.Counter(p["text"] for p in fake.posts)
        assert len(texts) == PARTNERS and set(texts.values()) == {1}, "a post went out twice"
        assert {r.external_id for r in rows} == {p["id"] for p in fake.posts}
    finally:
        fake.close()
