"""Journey 3 of the design: a contact follows a partner's tracked link, lands on the partner's
co-branded page, fills the form, and the lead is in the partner's inbox, attributed to that
link; the click is counted as a person's.

Screenshots (desktop and phone) go to ``/tmp/tcma-shots`` (``TCMA_SHOTS_DIR``).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.browser.helpers import horizontal_overflow, nav, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.browser

PHONE_AGENT = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
               "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")


def test_a_tracked_click_becomes_an_attributed_lead_in_the_partners_inbox(
        app, new_page, live_server, jobs, outbox, shots_dir):
    from syndication.links import service
    from syndication.links.models import Channel
    from tcma.extensions import db
    from tests.syndication.test_pages import branded_partner, published_page

    with app.app_context():
        partner = branded_partner("Northwind IT")
        page = published_page()
        admin = make_user("partner_admin", partner=partner, email="nora@northwind.test")
        link = service.link_for(
            partner, f"{live_server}/p/{partner.slug}/{page.slug}?lang=en", Channel.EMAIL,
            service.LinkSource(campaign="backup-kit", content="email-1"))
        db.session.commit()
        code, slug, admin_email = link.code, partner.slug, admin.email

    # The contact, on a phone, follows the link in the partner's email.
    visitor = new_page(PHONE)
    # Headless Chromium says so in its user agent, and would be counted as a bot (rightly).
    visitor.set_extra_http_headers({"User-Agent": PHONE_AGENT})
    visitor.goto(f"{live_server}/r/{code}")
    assert visitor.url.startswith(f"{live_server}/p/{slug}/backup-trial?lang=en&")
    assert "utm_source=northwind-it" in visitor.url and "tcma_cid=" + code in visitor.url
    expect(visitor.get_by_role("heading", name="Back up everything")).to_be_visible()
    expect(visitor.get_by_text("Northwind IT Solutions").first).to_be_visible()
    assert horizontal_overflow(visitor) <= 0
    visitor.screenshot(path=str(shots_dir / "landing-page-phone.png"), full_page=True)
    visitor.get_by_label("First name").fill("Dana")
    visitor.get_by_label("Email").fill("dana@example.com")
    visitor.get_by_label("Company").fill("Dana <b>Corp</b>")
    visitor.get_by_label("I agree that").check()
    visitor.get_by_role("button", name="Start my trial").click()
    expect(visitor.get_by_text("Thanks, we will call you.")).to_be_visible()
    jobs.run()  # the click is drained; the partner's notification is sent
    assert outbox.to("nora@northwind.test"), "the partner was not told about the lead"

    # The partner finds the lead in the inbox, attributed to the email link.
    inbox = new_page()
    sign_in(inbox, admin_email)
    nav(inbox, "Leads").click()
    inbox.get_by_role("link", name="Dana", exact=True).first.click()
    expect(inbox.get_by_text("Dana <b>Corp</b>")).to_be_visible()  # shown, not run
    expect(inbox.get_by_text(f"link /r/{code} · email · backup-kit · email-1").first
           ).to_be_visible()
    inbox.screenshot(path=str(shots_dir / "lead-attributed.png"), full_page=True)

    # And the click is counted as one person's on the partner's link page.
    nav(inbox, "Links").click()
    expect(inbox.get_by_text(f"/r/{code}")).to_be_visible()
    inbox.goto(f"/links/{code}")
    expect(inbox.locator("#unique-clicks")).to_have_text("1")
