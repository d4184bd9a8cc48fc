"""Publishing kit posts: once per account, tracked links, and every fault with a clear state:
rate limits, outages, unknown outcomes, revoked and expired tokens, rejected posts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from campaigns import launches
from campaigns.models import Launch, LaunchStatus, LaunchStep, StepStatus
from syndication.links.models import Channel, TrackingLink
from syndication.social import posts, publishing, scheduling
from syndication.social.models import AccountStatus, PostStatus, SocialAccount, SocialPost
from tcma.extensions import db
from tcma.models import utcnow
from tests.syndication.social.world import connect_accounts, image_asset, post_kit


def _posts() -> list[SocialPost]:
    db.session.expire_all()
    return list(db.session.execute(select(SocialPost).order_by(SocialPost.id)).scalars())


def _launch(partner, kit, **kw):
    """Launch, and start the steps already due as ``start_launch_step`` would (tests then
    publish rows by hand, in the order they choose)."""
    launch = launches.launch_kit(partner, kit, **kw)
    db.session.commit()
    for step in launch.steps:
        if launches.start_step(step.id):
            db.session.commit()
    return launch


@pytest.fixture
def world(app, fakes, partner_admin):
    client, user = partner_admin
    accounts = connect_accounts(client, user, ("linkedin", "x"))
    return user.partner, accounts


def test_a_launch_publishes_each_post_once_per_account_with_the_partners_tracking_link(
        app, ctx, fakes, world, jobs):
    partner, accounts = world
    kit = post_kit()
    launch = _launch(partner, kit)
    rows = _posts()
    assert {r.network.value for r in rows} == {"linkedin", "x"}
    assert all(r.status is PostStatus.SCHEDULED for r in rows)
    linkedin = next(r for r in rows if r.network.value == "linkedin")
    # The exact text that goes out, shown to the partner before it does.
    assert linkedin.text.startswith("Müller Systemhaus now offers cloud backup. Ask us: "
                                    "+49 30 1234567")
    assert linkedin.text.endswith("#backup #cloud")
    assert linkedin.link.startswith("http://localhost/r/")  # the link card: tracked

    jobs.run()

    rows = _posts()
    assert [r.status for r in rows] == [PostStatus.PUBLISHED, PostStatus.PUBLISHED]
    assert len(fakes.linkedin.posts) == 1 and len(fakes.x.posts) == 1
    x_row = next(r for r in rows if r.network.value == "x")
    assert x_row.external_id == fakes.x.posts[0]["id"]
    assert x_row.external_url.endswith(x_row.external_id)
    # X has no link card: the tracking link is in the text, and counts for the partner.
    code = x_row.text.split("http://localhost/r/")[1].split()[0]
    link = db.session.execute(select(TrackingLink).where(TrackingLink.code == code)).scalar_one()
    assert (link.partner_id, link.channel, link.content) == (partner.id, Channel.SOCIAL,
                                                             "announce-x")
    assert link.destination == "https://vendor.example/backup?plan=pro"
    assert fakes.x.posts[0]["text"] == x_row.text
    db.session.refresh(launch)
    assert launch.status is LaunchStatus.COMPLETED
    assert launches.progress(launch).steps[0].counts["sent"] == 2


def test_a_redelivered_or_repeated_message_publishes_nothing_twice(app, ctx, fakes, world):
    partner, _ = world
    _launch(partner, post_kit())
    for row in _posts():
        assert publishing.publish(row.id) is PostStatus.PUBLISHED
        assert publishing.publish(row.id) is None  # the same message again
    assert scheduling.queue_rows() == 0
    assert len(fakes.linkedin.posts) == 1 and len(fakes.x.posts) == 1


def test_an_unknown_outcome_is_looked_up_on_the_network_before_any_second_post(
        app, ctx, fakes, world, monkeypatch):
    partner, accounts = world
    monkeypatch.setitem(app.config, "SOCIAL_HTTP_TIMEOUT", 1)
    _launch(partner, post_kit())
    row = next(r for r in _posts() if r.network.value == "x")
    fakes.x.swallow_next()  # the network creates the post and never answers in time

    assert publishing.publish(row.id) is PostStatus.SCHEDULED
    row = next(r for r in _posts() if r.network.value == "x")
    assert row.called_at is not None and row.next_attempt_at is not None
    assert len(fakes.x.posts) == 1

    later = row.next_attempt_at + timedelta(seconds=1)
    assert publishing.publish(row.id, now=later) is PostStatus.PUBLISHED
    row = next(r for r in _posts() if r.network.value == "x")
    assert row.external_id == fakes.x.posts[0]["id"]
    assert len(fakes.x.posts) == 1  # found, not posted again


def test_a_worker_that_died_after_calling_the_network_is_taken_over_without_a_repost(
        app, ctx, fakes, world):
    partner, _ = world
    _launch(partner, post_kit())
    row = next(r for r in _posts() if r.network.value == "linkedin")
    # What a worker killed between the network's answer and its commit leaves behind.
    claim = publishing._claim(row.id, utcnow())
    assert claim is not None
    account = db.session.get(SocialAccount, row.account_id)
    from syndication.social import networks, service

    adapter = networks.adapter_for(account.network)
    target = networks.Target(account.kind, account.external_id, service.access_token(account))
    claim.write(called_at=utcnow())
    adapter.publish(target, networks.PostContent(text=row.text, link=row.link))
    assert len(fakes.linkedin.posts) == 1

    # Its lease still runs: nobody else may touch the row.
    assert publishing.publish(row.id) is None
    after_lease = utcnow() + scheduling.lease() + timedelta(seconds=1)
    # The scheduler queues it again (with the X post nobody has published yet).
    assert scheduling.queue_rows(now=after_lease) == 2
    assert publishing.publish(row.id, now=after_lease) is PostStatus.PUBLISHED
    assert len(fakes.linkedin.posts) == 1


def test_a_rate_limit_waits_for_the_networks_reset(app, ctx, fakes, world):
    partner, _ = world
    _launch(partner, post_kit())
    row = next(r for r in _posts() if r.network.value == "x")
    fakes.x.rate_limit(1, reset_in=120)
    now = utcnow()
    assert publishing.publish(row.id, now=now) is PostStatus.SCHEDULED
    row = next(r for r in _posts() if r.network.value == "x")
    assert timedelta(seconds=100) <= row.next_attempt_at - now <= timedelta(seconds=140)
    assert publishing.publish(row.id, now=now + timedelta(seconds=60)) is None  # not yet
    assert publishing.publish(row.id, now=row.next_attempt_at) is PostStatus.PUBLISHED
    assert len(fakes.x.posts) == 1


def test_a_rate_limit_holds_the_accounts_other_posts_without_calling_the_network(
        app, ctx, fakes, world):
    partner, _ = world
    two = [{"day": 0, "time": "09:00", "item": "announce"},
           {"day": 0, "time": "09:00", "item": "again"}]
    posts_ = [{"key": "announce", "name": "One", "texts": {"x": "First from us"}},
              {"key": "again", "name": "Two", "texts": {"x": "Second from us"}}]
    _launch(partner, post_kit(posts=posts_, steps=two))
    first, second = [r for r in _posts() if r.network.value == "x"]
    fakes.x.rate_limit(1, reset_in=300)
    now = utcnow()
    assert publishing.publish(first.id, now=now) is PostStatus.SCHEDULED
    calls = len(fakes.x.received)
    assert publishing.publish(second.id, now=now) is PostStatus.SCHEDULED
    assert len(fakes.x.received) == calls  # no call spent on a certain 429
    db.session.refresh(second)
    assert second.next_attempt_at >= now + timedelta(seconds=280)
    assert "slow down" in second.error
    assert publishing.publish(second.id, now=second.next_attempt_at) is PostStatus.PUBLISHED


def test_an_outage_backs_off_and_fails_only_once_the_post_is_no_longer_timely(
        app, ctx, fakes, world):
    partner, _ = world
    _launch(partner, post_kit())
    row = next(r for r in _posts() if r.network.value == "linkedin")
    fakes.linkedin.fail_next(503, 1000)
    now = utcnow()
    waits = []
    for _ in range(4):
        assert publishing.publish(row.id, now=now) is PostStatus.SCHEDULED
        db.session.refresh(row)
        waits.append((row.next_attempt_at - now).total_seconds())
        now = row.next_attempt_at
    assert waits == sorted(waits) and waits[0] == publishing.BACKOFF[0]
    assert "503" in row.error
    # The network is down for a day: the post fails saying so, instead of going out late.
    assert publishing.publish(row.id, now=row.due_at + timedelta(hours=23, minutes=59)) \
        is PostStatus.FAILED
    db.session.refresh(row)
    assert row.error_kind == "timeout" and "24 hours" in row.error
    assert fakes.linkedin.posts == []


def test_a_revoked_token_holds_the_post_until_the_partner_reconnects(
        app, ctx, fakes, world, partner_admin, outbox, jobs):
    from tests.syndication.social.world import connect_accounts

    partner, _ = world
    client, user = partner_admin
    launch = _launch(partner, post_kit())
    fakes.x.revoke_everything()
    row = next(r for r in _posts() if r.network.value == "x")
    assert publishing.publish(row.id) is PostStatus.NEEDS_RECONNECT
    row = next(r for r in _posts() if r.network.value == "x")
    assert "Reconnect X" in row.error
    account = db.session.get(SocialAccount, row.account_id)
    assert account.status is AccountStatus.BROKEN
    jobs.run()
    assert [m.subject for m in outbox.to(user.email)] == [
        f"Reconnect your X account {account.display_name}"]
    step = launch.steps[0]
    db.session.refresh(step)
    assert step.status is StepStatus.STARTED  # a held post keeps its step open

    connect_accounts(client, user, ("x",))  # reconnecting releases what was held
    row = next(r for r in _posts() if r.network.value == "x")
    assert row.status is PostStatus.SCHEDULED
    assert publishing.publish(row.id) is PostStatus.PUBLISHED
    assert len(fakes.x.posts) == 1


def test_an_expired_token_is_refreshed_once_before_publishing(app, ctx, fakes, world):
    partner, _ = world
    _launch(partner, post_kit())
    fakes.x.advance(3 * 3600)  # X access tokens last two hours; the refresh token lives on
    row = next(r for r in _posts() if r.network.value == "x")
    assert publishing.publish(row.id) is PostStatus.PUBLISHED
    assert ("POST", "/2/oauth2/token") in fakes.x.calls[-4:] or \
        fakes.x.calls.count(("POST", "/2/oauth2/token")) >= 2
    assert len(fakes.x.posts) == 1


def test_a_post_the_network_rejects_fails_with_a_reason_the_partner_can_act_on(
        app, ctx, fakes, world):
    partner, _ = world
    _launch(partner, post_kit())
    row = next(r for r in _posts() if r.network.value == "x")
    fakes.x.posts.append({"id": "1", "author": db.session.get(
        SocialAccount, row.account_id).external_id, "text": row.text,
        "created": fakes.x.now()})
    assert publishing.publish(row.id) is PostStatus.FAILED
    db.session.refresh(row)
    assert row.error_kind == "duplicate" and "duplicate" in row.error.lower()


def test_held_posts_fail_when_the_partner_does_not_reconnect_in_time(app, ctx, fakes, world):
    partner, _ = world
    launch = _launch(partner, post_kit())
    fakes.linkedin.revoke_everything()
    fakes.x.revoke_everything()
    assert {s.status for s in launch.steps} == {StepStatus.STARTED}
    for row in _posts():
        assert publishing.publish(row.id) is PostStatus.NEEDS_RECONNECT
    assert scheduling.expire_held(utcnow() + timedelta(hours=25)) == 2
    db.session.commit()
    assert {r.status for r in _posts()} == {PostStatus.FAILED}
    db.session.refresh(launch)
    assert launch.status is LaunchStatus.COMPLETED


def test_pausing_holds_posts_and_cancelling_drops_them(app, ctx, fakes, world):
    partner, _ = world
    later = utcnow() + timedelta(hours=2)
    launch = _launch(partner, post_kit(steps=[{"day": 0, "time": "00:00",
                                              "item": "announce"}]), start_at=later)
    launches.pause(launch)
    db.session.commit()
    assert scheduling.queue_rows(now=later + timedelta(minutes=1)) == 0
    launches.cancel(launch)
    db.session.commit()
    assert {r.status for r in _posts()} == {PostStatus.CANCELLED}
    assert fakes.linkedin.posts == [] and fakes.x.posts == []


def test_a_kit_of_posts_alone_cannot_launch_without_an_account(app, ctx, fakes):
    from tcma.partners import service as partners
    from tests.factories import make_partner
    from tests.syndication.email.world import BRAND

    partner = make_partner("Lonely GmbH")
    partners.update_brand_profile(partner, dict(BRAND), by=None)
    db.session.commit()
    kit = post_kit()
    assert launches.launch_problems(partner, kit) == [
        "Connect a Facebook, LinkedIn or X account to publish this kit's posts."]
    with pytest.raises(launches.LaunchBlocked):
        launches.launch_kit(partner, kit)


def test_the_partner_edits_and_skips_a_scheduled_post(app, ctx, fakes, world):
    partner, _ = world
    later = utcnow() + timedelta(days=1)
    _launch(partner, post_kit(), start_at=later)
    x_row, linkedin_row = sorted(_posts(), key=lambda r: r.network.value != "x")
    posts.edit(x_row, "Our own words: https://mueller.example/backup", by=None)
    db.session.commit()
    assert x_row.edited and x_row.text.startswith("Our own words: http://localhost/r/")
    with pytest.raises(Exception, match="280"):
        posts.edit(x_row, "x" * 281, by=None)
    db.session.rollback()
    posts.skip(linkedin_row, by=None)
    db.session.commit()
    assert linkedin_row.status is PostStatus.SKIPPED
    posts.unskip(linkedin_row, by=None)
    db.session.commit()
    assert linkedin_row.status is PostStatus.SCHEDULED


def test_a_lost_answer_the_network_will_not_let_us_check_fails_rather_than_risk_a_repost(
        app, ctx, fakes, world, monkeypatch):
    partner, _ = world
    monkeypatch.setitem(app.config, "SOCIAL_HTTP_TIMEOUT", 1)
    fakes.linkedin.lists_member_posts = False  # no r_member_social: no reading the feed
    _launch(partner, post_kit())
    row = next(r for r in _posts() if r.network.value == "linkedin")
    fakes.linkedin.swallow_next()
    assert publishing.publish(row.id) is PostStatus.SCHEDULED
    db.session.refresh(row)
    assert publishing.publish(row.id, now=row.next_attempt_at) is PostStatus.FAILED
    db.session.refresh(row)
    assert row.error_kind == "unconfirmed" and "not sent again" in row.error
    assert len(fakes.linkedin.posts) == 1


def test_an_image_post_waits_for_the_partners_copy_then_uploads_it(app, ctx, fakes, world,
                                                                    jobs):
    partner, _ = world
    asset = image_asset()
    kit = post_kit(posts=[{"key": "banner", "name": "Banner", "image_asset_id": asset.public_id,
                           "texts": {"linkedin": "Backups by {{ partner.display_name }}",
                                     "x": "Backups by {{ partner.display_name }}"},
                           "link": "https://vendor.example/backup"}],
                   steps=[{"day": 0, "time": "09:00", "item": "banner"}])
    _launch(partner, kit)
    rows = _posts()
    now = utcnow()
    # The co-branded copy was asked for at launch; until it is made, posts wait for it.
    assert {publishing.publish(r.id, now=now) for r in rows} == {PostStatus.SCHEDULED}
    jobs.run()  # renders the copy (and tries the posts again, too early: nothing happens)
    later = now + publishing.IMAGE_WAIT + timedelta(seconds=1)
    for row in rows:
        if db.session.get(SocialPost, row.id).status is not PostStatus.PUBLISHED:
            assert publishing.publish(row.id, now=later) is PostStatus.PUBLISHED
    [linkedin_post], [x_post] = fakes.linkedin.posts, fakes.x.posts
    assert len(linkedin_post["media"]) == 1 and len(x_post["media"]) == 1
    uploaded = fakes.x.media[x_post["media"][0]]
    assert uploaded["type"] == "image/png" and uploaded["data"][:8] == b"\x89PNG\r\n\x1a\n"
    # With an image, the tracking link goes in the text (no link card beside a photo).
    assert "http://localhost/r/" in linkedin_post["text"] and linkedin_post["link"] is None


def test_an_image_the_network_rejects_fails_the_post_with_the_networks_reason(
        app, ctx, fakes, world, jobs):
    partner, _ = world
    asset = image_asset()
    kit = post_kit(posts=[{"key": "banner", "name": "Banner", "image_asset_id": asset.public_id,
                           "texts": {"x": "Backups by {{ partner.display_name }}"}}],
                   steps=[{"day": 0, "time": "09:00", "item": "banner"}])
    fakes.x.max_image_bytes = 100  # smaller than any picture
    _launch(partner, kit)
    jobs.run()  # the co-branded copy is made; the post's try may come before or after it
    row = next(r for r in _posts() if r.network.value == "x")
    if row.status is PostStatus.SCHEDULED:  # it came first, and waits for the copy
        later = row.next_attempt_at + timedelta(seconds=1)
        assert publishing.publish(row.id, now=later) is PostStatus.FAILED
        db.session.refresh(row)
    assert row.status is PostStatus.FAILED
    assert row.error_kind == "media" and row.error
    assert fakes.x.posts == []


def test_a_step_left_started_with_everything_published_is_finished_by_the_scheduler(
        app, ctx, fakes, world):
    from sqlalchemy import update

    partner, _ = world
    launch = _launch(partner, post_kit())
    for row in _posts():
        assert publishing.publish(row.id) is PostStatus.PUBLISHED
    # What a worker killed between a step's last post and finishing the step leaves behind.
    db.session.execute(update(LaunchStep).values(status=StepStatus.STARTED, finished_at=None))
    db.session.execute(update(Launch).values(status=LaunchStatus.RUNNING, finished_at=None))
    db.session.commit()
    assert scheduling.finish_done_steps() == 1
    db.session.commit()
    db.session.refresh(launch)
    assert launch.status is LaunchStatus.COMPLETED
    assert scheduling.finish_done_steps() == 0


def test_posts_of_one_step_published_at_the_same_moment_finish_their_step(
        app, ctx, fakes, partner_admin):
    """Three workers finish the three posts of one step together: the last one to commit
    must see the others and complete the launch (on PostgreSQL each transaction sees only
    what was committed before it, so a naive count left the step started)."""
    import threading

    client, user = partner_admin
    connect_accounts(client, user, ("linkedin", "x", "facebook"))
    for fake in (fakes.linkedin, fakes.x, fakes.facebook):
        fake.latency = 0.2  # the three answers come back at the same moment
    made = [_launch(user.partner, post_kit(f"Kit {n}", posts=[{
        "key": "announce", "name": "Announcement",
        "texts": {network: f"News number {n} from {{{{ partner.display_name }}}}"
                  for network in ("linkedin", "x", "facebook")}}])) for n in range(3)]
    rows = _posts()
    assert len(rows) == 9

    def publish(post_id: int) -> None:
        with app.app_context():
            publishing.publish(post_id)

    for launch in made:
        ids = [r.id for r in rows if r.launch_id == launch.id]
        threads = [threading.Thread(target=publish, args=(post_id,)) for post_id in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    db.session.expire_all()
    assert {r.status for r in _posts()} == {PostStatus.PUBLISHED}
    assert [db.session.get(Launch, launch.id).status for launch in made] == [
        LaunchStatus.COMPLETED] * 3
