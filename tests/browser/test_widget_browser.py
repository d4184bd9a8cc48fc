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
