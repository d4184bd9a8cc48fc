"""A partner's site on another origin embeds the widget snippet: Chromium draws the widget in
the partner's colour, resizes its frame to the content, counts the view, ignores forged
messages from the host page; the same snippet on an unregistered origin shows nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.syndication.widget.conftest import branded_partner, live_item, widget_for

pytestmark = pytest.mark.browser

BROWSER_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/131.0.0.0 Safari/537.36")
HOST_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Partner blog</title>
<script>window.keysBefore = Object.keys(window);</script>
<style>body { font-family: Impact; color: red; } iframe, div, a { background: yellow; }</style>
</head><body><h1>Our blog</h1>
{snippet}
<p id="after">After the widget.</p></body></html>"""


class HostSite:
    """A partner's web site: a second loopback server, on its own origin, serving one page."""

    def __init__(self) -> None:
        self.page = ""
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @Request.application
    def _app(self, request: Request) -> Response:
        return Response(self.page, mimetype="text/html")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def sites() -> Iterator[tuple[HostSite, HostSite]]:
    registered, elsewhere = HostSite(), HostSite()
    yield registered, elsewhere
    registered.close()
    elsewhere.close()


def _snippet(app, widget_id: int, live_server: str) -> str:
    from syndication.widget import service as widgets
    from syndication.widget.models import Widget
    from tcma.extensions import db

    with app.app_context():
        widget = db.session.get(Widget, widget_id)
        partner_snippet = widgets.snippet(widget, widget_partner(widget))
    # The portal's configured address is http://localhost; the browser reaches it here.
    return partner_snippet.replace(app.config["BASE_URL"], live_server)


def widget_partner(widget):
    from tcma.extensions import db
    from tcma.partners.models import Partner

    return db.session.get(Partner, widget.partner_id)


def _impressions(app, widget_id: int) -> int:
    from syndication.widget.impressions import impression_stats
    from syndication.widget.models import Widget
    from tcma.extensions import db

    with app.app_context():
        count = impression_stats(db.session.get(Widget, widget_id)).impressions
        db.session.remove()
        return count


def test_the_snippet_renders_the_widget_on_a_registered_site_and_nothing_elsewhere(
        app, browser, live_server, sites, shots_dir):
    registered, elsewhere = sites
    with app.app_context():
        partner = branded_partner("Northwind Traders", color="#0a7a3f")
        live_item("Backup in five minutes")
        live_item("Zero trust explained")
        widget = widget_for(partner, domains=[registered.origin.split("://")[1]])
        widget_id, token = widget.id, widget.token
    snippet = _snippet(app, widget_id, live_server)
    registered.page = elsewhere.page = HOST_PAGE.replace("{snippet}", snippet)

    context = browser.new_context(user_agent=BROWSER_UA, viewport={"width": 1000, "height": 800})
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.goto(registered.origin + "/")
        frame_element = page.locator(f'iframe[data-tcma-frame="{token}"]')
        expect(frame_element).to_have_count(1)
        frame = page.frame_locator(f'iframe[data-tcma-frame="{token}"]')
        expect(frame.get_by_role("heading", name="Zero trust explained")).to_be_visible()
        button = frame.get_by_role("link", name="Read: Backup in five minutes")
        expect(button).to_have_css("background-color", "rgb(10, 122, 63)")  # the partner's
        expect(button).not_to_have_css("font-family", "Impact")  # the host's CSS stays out
        expect(page.locator("a[data-tcma-fallback]")).to_be_hidden()

        def frame_height() -> float:
            return frame_element.bounding_box()["height"]

        def content_height() -> float:
            inner = page.frame_locator(f'iframe[data-tcma-frame="{token}"]')
            return inner.locator("html").evaluate(
                "el => Math.ceil(el.getBoundingClientRect().height)")

        page.wait_for_function(
            "() => document.querySelector('iframe[data-tcma-frame]').offsetHeight > 50")
        assert abs(frame_height() - content_height()) <= 1
        page.screenshot(path=str(shots_dir / "widget-on-partner-site.png"), full_page=True)

        # Content grows: the frame follows.
        before = frame_height()
        frame.locator("ul").evaluate(
            "ul => { const li = document.createElement('li'); li.style.height = '600px';"
            " li.textContent = 'more'; ul.appendChild(li); }")
        page.wait_for_function(
            f"() => document.querySelector('iframe[data-tcma-frame]').offsetHeight > "
            f"{before + 300}")
        grown = frame_height()

        # The host page forging the frame's message cannot resize it.
        page.evaluate("token => window.postMessage({type: 'tcma:height', token, height: 5},"
                      " '*')", token)
        time.sleep(0.3)
        assert frame_height() == grown

        # One namespaced global, nothing else.
        added = page.evaluate("() => Object.keys(window).filter(k => "
                              "!window.keysBefore.includes(k) && k !== 'keysBefore' && "
                              "!/^[0-9]+$/.test(k))")
        assert added == ["TCMA"]

        # The frame's beacon counted this visit (once).
        deadline = time.monotonic() + 5
        while _impressions(app, widget_id) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _impressions(app, widget_id) == 1

        # The same snippet on a site that is not registered: the browser refuses the frame.
        other = context.new_page()
        other.goto(elsewhere.origin + "/")
        expect(other.locator("#after")).to_be_visible()
        expect(other.locator(f'iframe[data-tcma-frame="{token}"]')).to_have_count(1)
        time.sleep(1.0)
        assert other.locator(f'iframe[data-tcma-frame="{token}"]').bounding_box()[
            "height"] == 0
        child = next(f for f in other.frames if f != other.main_frame)
        assert "Zero trust" not in (child.evaluate("() => document.body ? "
                                                   "document.body.innerText : ''")
                                    if child.url.startswith("http") else "")
        expect(other.locator("a[data-tcma-fallback]")).to_be_visible()
        assert _impressions(app, widget_id) == 1
    finally:
        context.close()


def test_a_click_and_a_lead_from_the_embedded_widget_are_the_partners(
        app, browser, live_server, sites, monkeypatch):
    from sqlalchemy import select

    from syndication.leads import inbox
    from syndication.links import clicks
    from syndication.links.models import Click, TrackingLink
    from syndication.pages import service as pages
    from tcma.extensions import db

    # The browser reaches the portal here: links and the form are made for this address.
    monkeypatch.setitem(app.config, "BASE_URL", live_server)
    registered, _ = sites
    with app.app_context():
        partner = branded_partner("Northwind Traders", color="#0a7a3f")
        other = branded_partner("Contoso", color="#aa0000")
        page = pages.create_page({"slug": "talk-to-us", "title": "Talk to us",
                                  "headline": "Talk to us", "cta_label": "Call me back",
                                  "consent_text": "I agree that {partner} may contact me.",
                                  "form_fields": pages.default_form_fields()}, by=None)
        pages.set_status(page, "published", by=None)
        db.session.commit()
        article = live_item("Backup in five minutes")
        offer = live_item("Book a call", kind="cta", landing_page_id=page.public_id)
        widget = widget_for(partner, domains=[registered.origin.split("://")[1]])
        widget_id, token, widget_public = widget.id, widget.token, widget.public_id
        partner_id, partner_public, other_public = partner.id, partner.public_id, \
            other.public_id
        article_id, offer_id = article.public_id, offer.public_id
    registered.page = HOST_PAGE.replace("{snippet}", _snippet(app, widget_id, live_server))

    context = browser.new_context(user_agent=BROWSER_UA, viewport={"width": 1000, "height": 800})
    context.set_default_timeout(10_000)
    try:
        page_ = context.new_page()
        page_.goto(registered.origin + "/")
        frame = page_.frame_locator(f'iframe[data-tcma-frame="{token}"]')

        # A visitor opens the article: through the partner's tracking link, medium web.
        with context.expect_page() as opened:
            frame.get_by_role("link", name="Read: Backup in five minutes").click()
        reader = opened.value
        reader.wait_for_load_state()
        assert reader.url.startswith(f"{live_server}/embed/w/{token}/items/{article_id}?")
        assert "utm_medium=web" in reader.url
        expect(reader.get_by_role("heading", name="Backup in five minutes")).to_be_visible()
        with app.app_context():
            clicks.drain()
            stored = db.session.execute(
                select(Click, TrackingLink).join(TrackingLink, Click.link_id == TrackingLink.id)
            ).all()
            assert len(stored) == 1
            click, link = stored[0]
            assert click.partner_id == partner_id and click.kind is None  # a person's
            assert link.channel.value == "web"
            assert (link.source_type, link.source_id) == ("widget", widget_public)
            db.session.remove()

        # The same visitor asks to be called back from the call-to-action card's form.
        frame.get_by_text("Get in touch").click()
        frame.get_by_label("First name").fill("Ada")
        frame.get_by_label("Last name").fill("Lovelace")
        frame.get_by_label("Work email").fill("not-an-email")
        frame.get_by_label("I agree that Northwind Traders IT may contact me.").check()
        frame.get_by_role("button", name="Call me back").click()
        # The browser's own check, or ours: either way the visitor is told what is wrong.
        frame.get_by_label("Work email").fill("ada@example.com")
        frame.get_by_role("button", name="Call me back").click()
        expect(frame.get_by_text("Thank you! We have your details")).to_be_visible()

        with app.app_context():
            (lead,) = inbox.list_leads(inbox.LeadFilter(partner=partner_public))[0]
            assert lead.email == "ada@example.com"
            assert lead.source == f"widget:{widget_public}:{offer_id}"
            assert lead.utm["medium"] == "web"
            assert inbox.list_leads(inbox.LeadFilter(partner=other_public))[0] == []
            db.session.remove()
    finally:
        context.close()
