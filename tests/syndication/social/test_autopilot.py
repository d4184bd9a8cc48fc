"""Autopilot: opted-in categories schedule new kits' posts without a click, the partner hears
of each post before it goes out and can skip it in one click, pausing stops it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from campaigns.models import Launch
from syndication.social import autopilot, publishing
from syndication.social.models import AutopilotLaunch, PostStatus, SocialPost
from tcma.errors import ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tests.factories import csrf_from
from tests.syndication.social.world import account_on, connect_accounts, post_kit


@pytest.fixture
def world(app, fakes, partner_admin):
    client, user = partner_admin
    accounts = connect_accounts(client, user, ("linkedin", "x"))
    return client, user, accounts


def _launches() -> int:
    return db.session.scalar(select(func.count()).select_from(Launch))


def test_a_new_kit_in_an_opted_in_category_is_scheduled_once_after_the_notice(
        app, ctx, world):
    client, user, accounts = world
    x = account_on(accounts, "x")
    autopilot.save(x, {"categories": ["backup"], "notice_hours": 12}, by=user)
    db.session.commit()
    old = post_kit("Published before opting in", tags=["backup"])
    from campaigns.models import KitVersion

    # The kit was published before the partner opted in: not a flood of old posts.
    db.session.execute(db.update(KitVersion).where(KitVersion.kit_id == old.id).values(
        published_at=utcnow() - timedelta(days=1)))
    post_kit("Other category", tags=["security"])
    fresh = post_kit("Backup week", tags=["backup", "cloud"])

    now = utcnow()
    assert autopilot.run(now) == 1
    db.session.commit()
    assert autopilot.run(now) == 0  # once per kit, however often the job runs
    launch = db.session.execute(select(Launch)).scalar_one()
    assert launch.kit_id == fresh.id
    assert launch.start_at == now + timedelta(hours=12)
    assert [s.kind for s in launch.steps] == ["post"]
    rows = db.session.execute(select(SocialPost)).scalars().all()
    assert [(r.network.value, r.status) for r in rows] == [("x", PostStatus.SCHEDULED)]
    assert db.session.execute(select(AutopilotLaunch)).scalar_one().launch_id == launch.id


def test_the_partner_is_emailed_before_each_post_and_can_skip_it_in_one_click(
        app, ctx, world, outbox, jobs):
    client, user, accounts = world
    autopilot.save(account_on(accounts, "linkedin"), {"categories": ["backup"],
                                                      "notice_hours": 24}, by=user)
    db.session.commit()
    post_kit("Backup week", tags=["backup"])
    now = utcnow()
    autopilot.run(now)
    db.session.commit()
    post = db.session.execute(select(SocialPost)).scalar_one()
    assert autopilot.notify_due(now) == 1  # due in 24 h: inside the 24 h notice
    db.session.commit()
    assert autopilot.notify_due(now) == 0  # told once
    jobs.run()
    mails = outbox.to(user.email)
    notice = [m for m in mails if "Goes out" in m.subject]
    assert len(notice) == 1
    assert post.text.splitlines()[0] in notice[0].text
    skip_link = notice[0].link(r"http://localhost/social/skip/\S+")

    anonymous = app.test_client()  # the link works without signing in
    page = anonymous.get(skip_link.removeprefix("http://localhost"))
    assert page.status_code == 200 and "Skip this post" in page.get_data(as_text=True)
    db.session.refresh(post)
    assert post.status is PostStatus.SCHEDULED  # opening the link (a scanner) changes nothing
    done = anonymous.post(skip_link.removeprefix("http://localhost"),
                          data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert "will not go out" in done.get_data(as_text=True)
    db.session.refresh(post)
    assert post.status is PostStatus.SKIPPED
    assert publishing.publish(post.id, now=post.due_at) is None

    forged = anonymous.get("/social/skip/" + skip_link.rsplit("/", 1)[1][:-2] + "xx")
    assert forged.status_code == 404


def test_pausing_autopilot_schedules_nothing_new_and_resuming_does_not_catch_up(
        app, ctx, world):
    client, user, accounts = world
    x = account_on(accounts, "x")
    autopilot.save(x, {"categories": ["backup"], "paused": True}, by=user)
    db.session.commit()
    post_kit("Backup week", tags=["backup"])
    assert autopilot.run() == 0
    autopilot.save(x, {"categories": ["backup"], "paused": False}, by=user)
    db.session.commit()
    assert autopilot.run() == 0  # published while paused: not caught up on
    post_kit("Backup month", tags=["backup"])
    assert autopilot.run() == 1


def test_a_blocked_kit_is_recorded_with_its_reason(app, ctx, world):
    client, user, accounts = world
    from tcma.partners import service as partners

    autopilot.save(account_on(accounts, "x"), {"categories": ["backup"]}, by=user)
    partners.update_brand_profile(user.partner, {"phone": ""}, by=None)
    db.session.commit()
    post_kit("Call us", tags=["backup"], posts=[{
        "key": "call", "name": "Call", "texts": {"x": "Call {{ partner.phone }} today"}}],
        steps=[{"day": 0, "time": "09:00", "item": "call"}])
    assert autopilot.run() == 0
    marker = db.session.execute(select(AutopilotLaunch)).scalar_one()
    assert marker.launch_id is None and "phone" in marker.problem
    page = client.get(f"/social/accounts/{account_on(accounts, 'x').public_id}/autopilot")
    assert "Not scheduled" in page.get_data(as_text=True)


def test_settings_are_validated_by_field(app, ctx, world):
    client, user, accounts = world
    with pytest.raises(ValidationFailed) as caught:
        autopilot.save(account_on(accounts, "x"), {"categories": ["a"], "notice_hours": 0},
                       by=user)
    assert [e.field for e in caught.value.errors] == ["notice_hours"]
    assert autopilot.save(account_on(accounts, "x"), {"categories": []}, by=user) is None


def test_the_settings_page_opts_in_and_out(app, ctx, world):
    client, user, accounts = world
    post_kit("Backup week", tags=["backup"])
    x = account_on(accounts, "x")
    url = f"/social/accounts/{x.public_id}/autopilot"
    page = client.get(url).get_data(as_text=True)
    assert 'value="backup"' in page
    saved = client.post(url, data={"csrf_token": csrf_from(page), "categories": ["backup"],
                                   "notice_hours": "6"})
    assert saved.status_code == 302
    db.session.expire_all()
    assert autopilot.setting_for(x).notice_hours == 6
    bad = client.post(url, data={"csrf_token": csrf_from(page), "categories": ["backup"],
                                 "notice_hours": "999"})
    assert bad.status_code == 422 and "from 1 to 168" in bad.get_data(as_text=True)
    client.post(url, data={"csrf_token": csrf_from(page), "notice_hours": "6"})
    db.session.expire_all()
    assert autopilot.setting_for(x) is None
