"""oEmbed: what a CMS gets for a widget's or an article's URL, per https://oembed.com."""

from __future__ import annotations

import re
from urllib.parse import unquote

from syndication.widget import service as widgets
from tcma.extensions import db
from tcma.partners import service as partners
from tcma.partners.models import PartnerStatus

#: The spec's section 2.3.4: fields every response has, and those type "rich" adds.
REQUIRED = {"type", "version"}
RICH_REQUIRED = {"html", "width", "height"}


def _oembed(client, url, **params):
    return client.get("/embed/oembed", query_string={"url": url, "format": "json", **params})


def _assert_valid_rich(answer: dict) -> None:
    assert REQUIRED | RICH_REQUIRED <= answer.keys()
    assert answer["type"] == "rich" and answer["version"] == "1.0"
    assert isinstance(answer["width"], int) and answer["width"] > 0
    assert isinstance(answer["height"], int) and answer["height"] > 0
    for optional in ("title", "author_name", "provider_name", "provider_url"):
        assert isinstance(answer[optional], str) and answer[optional]
    assert isinstance(answer["cache_age"], int)


def test_a_widget_url_gives_a_rich_answer_whose_html_frames_the_widget(client, embed):
    partner, widget, item = embed
    response = _oembed(client, widgets.embed_url(widget))
    assert response.status_code == 200 and response.mimetype == "application/json"
    answer = response.get_json()
    _assert_valid_rich(answer)
    assert answer["provider_url"] == "http://localhost"
    assert answer["title"] == "News and resources from Northwind Traders IT"
    src = re.fullmatch(r'<iframe src="([^"]+)" title="[^"]+" width="600" height="520" '
                       r'loading="lazy" style="[^"]+"></iframe>', answer["html"]).group(1)
    assert src == f"http://localhost/embed/w/{widget.token}"
    assert (answer["width"], answer["height"]) == (600, 520)
    # The iframe the CMS writes, on a registered site: the browser's Referer names the page.
    framed = client.get(src.removeprefix("http://localhost"),
                        headers={"Referer": "https://partner.example/blog/post"})
    assert item.title in framed.get_data(as_text=True)
    elsewhere = client.get(src.removeprefix("http://localhost"),
                           headers={"Referer": "https://evil.example/"})
    assert item.title not in elsewhere.get_data(as_text=True)


def test_an_article_url_is_titled_by_the_article_and_sizes_respect_the_maxima(client, embed):
    _, widget, item = embed
    answer = _oembed(client, widgets.reader_url(widget, item), maxwidth="320",
                     maxheight="200").get_json()
    _assert_valid_rich(answer)
    assert answer["title"] == item.title
    assert answer["width"] <= 320 and answer["height"] <= 200
    assert 'width="320" height="200"' in answer["html"]
    assert _oembed(client, widgets.reader_url(widget)).status_code == 200


def test_unknown_urls_are_404_and_xml_is_501(client, embed):
    _, widget, _ = embed
    for url in ("http://localhost/embed/w/AAAAAAAAAAAAAAAAAAAAAA",
                f"https://elsewhere.example/embed/w/{widget.token}",
                f"http://localhost/embed/w/{widget.token}/items/nosuchitem",
                "http://localhost/dashboard", "not a url"):
        assert _oembed(client, url).status_code == 404, url
    xml = _oembed(client, widgets.embed_url(widget), format="xml")
    assert xml.status_code == 501


def test_reader_pages_carry_the_discovery_link(client, embed):
    _, widget, item = embed
    page = client.get(f"/embed/w/{widget.token}/items/{item.public_id}").get_data(as_text=True)
    href = re.search(r'<link rel="alternate" type="application/json\+oembed" href="([^"]+)"',
                     page).group(1).replace("&amp;", "&")
    assert href.startswith("http://localhost/embed/oembed?url=")
    assert unquote(href.split("url=", 1)[1].split("&")[0]) == widgets.reader_url(widget, item)
    answer = client.get(href.removeprefix("http://localhost")).get_json()
    assert answer["type"] == "rich" and answer["title"] == item.title
    index = client.get(f"/embed/w/{widget.token}/items").get_data(as_text=True)
    assert 'type="application/json+oembed"' in index


def test_a_suspended_partners_widget_still_answers_but_frames_blank(client, embed):
    partner, widget, item = embed
    partners.change_status(partner, PartnerStatus.SUSPENDED, by=None)
    db.session.commit()
    answer = _oembed(client, widgets.embed_url(widget)).get_json()
    _assert_valid_rich(answer)
    framed = client.get(f"/embed/w/{widget.token}",
                        headers={"Referer": "https://partner.example/"})
    assert item.title not in framed.get_data(as_text=True)
