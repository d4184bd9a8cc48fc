"""The partner's post pages: calendar, one post (preview, edit, skip), and the vendor's view
across partners."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from campaigns import launches
from syndication.social.models import PostStatus, SocialPost
from tcma.extensions import db
from tcma.models import utcnow
from tcma.tenancy import scope_session_to_partner
from tests.factories import csrf_from, login, make_user
from tests.syndication.social.world import connect_accounts, image_asset, post_kit


@pytest.fixture
def scheduled(app, ctx, fakes, partner_admin):
    client, user = partner_admin
    connect_accounts(client, user, ("x",))
    start = utcnow() + timedelta(days=2)
    launches.launch_kit(user.partner, post_kit(), start_at=start)
    db.session.commit()
    post = db.session.execute(select(SocialPost)).scalar_one()
    return client, user, post


def test_the_calendar_shows_the_month_of_the_post_and_links_to_it(app, scheduled):
    client, _, post = scheduled
    month = post.due_at.strftime("%Y-%m")
    page = client.get(f"/social/calendar?month={month}").get_data(as_text=True)
    assert f'data-post="{post.public_id}"' in page and "scheduled" in page
    assert "1 post this month" in page
    other = client.get("/social/calendar?month=2020-01").get_data(as_text=True)
    assert post.public_id not in other
    assert client.get("/social/calendar?month=nonsense").status_code == 200


def test_the_partner_rewrites_skips_and_restores_a_post(app, scheduled):
    client, _, post = scheduled
    url = f"/social/posts/{post.public_id}"
    page = client.get(url).get_data(as_text=True)
    assert "Cloud backup from Müller Systemhaus" in page and "Skip this post" in page
    too_long = client.post(url + "/edit", data={"csrf_token": csrf_from(page),
                                               "text": "y" * 300})
    assert too_long.status_code == 422
    assert "X allows 280 characters; this is 300." in too_long.get_data(as_text=True)
    saved = client.post(url + "/edit", data={"csrf_token": csrf_from(page),
                                            "text": "Short and ours https://mueller.example"})
    assert saved.status_code == 302
    db.session.refresh(post)
    assert post.text.startswith("Short and ours http://localhost/r/") and post.edited
    client.post(url + "/skip", data={"csrf_token": csrf_from(page)})
    db.session.refresh(post)
    assert post.status is PostStatus.SKIPPED
    client.post(url + "/unskip", data={"csrf_token": csrf_from(page)})
    db.session.refresh(post)
    assert post.status is PostStatus.SCHEDULED


def test_vendor_staff_see_every_partners_posts_but_cannot_change_them(app, scheduled):
    _, user, post = scheduled
    marketer = make_user("marketer")
    staff = app.test_client()
    login(staff, marketer.email)
    month = post.due_at.strftime("%Y-%m")
    calendar = staff.get(f"/social/calendar?month={month}").get_data(as_text=True)
    assert post.public_id in calendar and user.partner.name in calendar
    page = staff.get(f"/social/posts/{post.public_id}").get_data(as_text=True)
    assert "Skip this post" not in page
    assert staff.post(f"/social/posts/{post.public_id}/skip",
                      data={"csrf_token": csrf_from(page)}).status_code == 403


def test_another_partner_cannot_see_or_touch_the_post(app, scheduled):
    _, _, post = scheduled
    scope_session_to_partner(None)  # the test's own session, not the last request's
    other = make_user("partner_admin")
    outsider = app.test_client()
    login(outsider, other.email)
    assert outsider.get(f"/social/posts/{post.public_id}").status_code == 404
    month = post.due_at.strftime("%Y-%m")
    assert post.public_id not in outsider.get(f"/social/calendar?month={month}").get_data(
        as_text=True)


def test_an_image_post_page_shows_the_partners_co_branded_picture(app, ctx, fakes,
                                                                  partner_admin):
    client, user = partner_admin
    connect_accounts(client, user, ("linkedin",))
    scope_session_to_partner(None)
    asset = image_asset()
    kit = post_kit(posts=[{"key": "banner", "name": "Banner", "image_asset_id": asset.public_id,
                           "texts": {"linkedin": "Backups by {{ partner.display_name }}"}}],
                   steps=[{"day": 0, "time": "09:00", "item": "banner"}])
    launches.launch_kit(user.partner, kit, start_at=utcnow() + timedelta(days=1))
    db.session.commit()
    post = db.session.execute(select(SocialPost)).scalar_one()
    page = client.get(f"/social/posts/{post.public_id}").get_data(as_text=True)
    image = f"/library/{asset.public_id}/preview.png"
    assert f'src="{image}"' in page
    picture = client.get(image)
    assert picture.status_code == 200 and picture.mimetype == "image/png"
