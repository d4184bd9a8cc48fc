"""A partner admin connects a LinkedIn account through the network's consent flow, launches a
kit of posts with one click, and finds the post on the calendar marked published with the
network's id, linking to it.

Screenshots go to ``/tmp/tcma-shots`` (``TCMA_SHOTS_DIR``).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from syndication.social.fakes import FakeLinkedIn
from tcma.extensions import db
from tcma.partners import service as partners
from tests.browser.helpers import nav, sign_in
from tests.factories import make_user
from tests.syndication.email.world import BRAND
from tests.syndication.social.world import post_kit

pytestmark = pytest.mark.browser


@pytest.fixture
def linkedin(app, monkeypatch, live_server):
    # The network sends the browser back to the callback at the program's address.
    monkeypatch.setitem(app.config, "BASE_URL", live_server)
    fake = FakeLinkedIn()
    for name, value in {"CLIENT_ID": fake.client_id, "CLIENT_SECRET": fake.client_secret,
                        "AUTH": fake.url, "API": fake.url}.items():
        monkeypatch.setitem(app.config, f"SOCIAL_LINKEDIN_{name}", value)
    yield fake
    fake.close()


def test_a_partner_connects_linkedin_launches_a_kit_and_sees_the_post_published(
        app, new_page, jobs, linkedin, shots_dir):
    with app.app_context():
        email = make_user("partner_admin", name="Pat Partner").email
        from tcma.auth.models import User

        user = db.session.query(User).filter_by(email=email).one()
        partners.update_brand_profile(user.partner, dict(BRAND), by=None)
        db.session.commit()
        post_kit("Cloud backup posts")

    page = new_page()
    sign_in(page, email)
    nav(page, "Social").click()
    page.get_by_role("button", name="Connect LinkedIn").click()
    # The network sends the partner back to pick the profile and the company pages.
    expect(page.get_by_text("Lina Member")).to_be_visible()
    page.get_by_label("Lina Member").check()
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_text("Connected LinkedIn: Lina Member")).to_be_visible()
    page.screenshot(path=str(shots_dir / "social-connected.png"), full_page=True)

    nav(page, "Campaigns").click()
    page.get_by_role("link", name="Cloud backup posts").first.click()
    expect(page.locator("#post-previews .social-post.linkedin")).to_contain_text(
        "Müller Systemhaus now offers cloud backup")
    expect(page.get_by_text("Before you can launch")).to_have_count(0)
    expect(page.locator("#post-accounts")).to_contain_text(
        "Goes to LinkedIn: Lina Member. Not connected: X, Facebook")
    page.screenshot(path=str(shots_dir / "social-kit.png"), full_page=True)
    page.get_by_role("button", name="Launch", exact=True).click()
    expect(page.locator("#launch-posts")).to_contain_text("LinkedIn: Lina Member")
    jobs.run(timeout_ms=60_000)

    nav(page, "Posts").click()
    post = page.locator("#post-calendar .calendar-post").first
    expect(post).to_have_attribute("data-status", "published")
    network_id = linkedin.posts[0]["id"]
    expect(post.get_by_role("link", name=f"on LinkedIn: {network_id}")).to_have_attribute(
        "href", f"https://www.linkedin.com/feed/update/{network_id}/")
    page.screenshot(path=str(shots_dir / "social-calendar.png"), full_page=True)
    post.get_by_role("link").first.click()
    expect(page.locator("#post-status")).to_have_text("published")
    expect(page.locator("#network-link")).to_contain_text(network_id)
