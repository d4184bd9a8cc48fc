"""QR code zones: each partner's copy carries a code that a phone reads as the partner's own
tracking link (scans then count for that partner); previews carry the plain address.

Codes are read back with zbarimg (zbar-tools), as a phone would read the printed page.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image
from sqlalchemy import select

from assets import library, renditions
from assets.cobrand.image import stamp_image
from assets.cobrand.pdf import stamp_pdf
from assets.cobrand.zones import Brand, Zone, parse_zones
from assets.models import AssetStatus, RenditionStatus
from syndication.links.models import Channel, TrackingLink
from tcma.errors import ValidationFailed
from tcma.extensions import db
from tcma.storage import storage
from tests.assets.conftest import render, vendor_pdf
from tests.factories import make_partner

OFFER = "https://vendor.example.com/offer?src=print"


def read_codes(image: Image.Image) -> list[str]:
    """What a phone reads from the picture: every QR code's text."""
    with tempfile.NamedTemporaryFile(suffix=".png") as file:
        image.convert("RGB").save(file.name)
        done = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable",
                               file.name], capture_output=True, text=True)
    return [line for line in done.stdout.splitlines() if line]


def qr_zone(**overrides) -> dict:
    return {"page": 0, "x": 380, "y": 560, "width": 160, "height": 160, "kind": "qr",
            "template": OFFER, "color": "#1d2330", "align": "center", "valign": "middle",
            **overrides}


def test_qr_zones_need_an_address_and_room_to_scan():
    with pytest.raises(ValidationFailed) as refused:
        parse_zones([qr_zone(template="javascript:alert(1)"), qr_zone(width=30, height=30),
                     qr_zone(template="")])
    messages = {(e.field, e.message.split(" ")[0]) for e in refused.value.errors}
    assert ("zones[0].template", "Use") in messages
    assert ("zones[1].width", "A") in messages
    assert ("zones[2].template", "Enter") in messages
    zone = Zone.from_json(qr_zone())
    assert zone.to_json().keys() == {"page", "x", "y", "width", "height", "kind", "template",
                                     "color", "align", "valign"}


def test_a_qr_code_on_an_image_reads_as_its_address():
    image = io.BytesIO()
    Image.new("RGB", (600, 800), (250, 240, 200)).save(image, "JPEG")
    out = stamp_image(image.getvalue(), [Zone.from_json(qr_zone())], Brand())
    assert read_codes(Image.open(io.BytesIO(out))) == [OFFER]


def test_a_qr_code_on_a_pdf_is_vector_and_reads_as_the_partners_link():
    pdf = vendor_pdf(1)
    brand = Brand(values={"qr:" + OFFER: "http://localhost/r/Partner12345"})
    out = stamp_pdf(pdf, [Zone.from_json(qr_zone())], brand)
    assert read_codes(render(out)) == ["http://localhost/r/Partner12345"]


def test_each_partners_copy_carries_their_own_tracking_link(app, ctx, client):
    asset = library.create_asset({"title": "Spring print flyer"}, vendor_pdf(1), "flyer.pdf",
                                 by=None, tiers=["gold"], regions=["EMEA"])
    library.set_zones(asset, [qr_zone()], by=None)
    asset.status = AssetStatus.PUBLISHED
    north, south = make_partner("Northwind", tier="gold"), make_partner("Southwind", tier="gold")
    db.session.commit()
    codes = {}
    for partner in (north, south):
        copy = renditions.request_rendition(partner, asset)
        db.session.commit()
        renditions.render(copy.id)  # what the render worker runs
        db.session.refresh(copy)
        assert copy.status is RenditionStatus.DONE, copy.error
        codes[partner.slug] = read_codes(render(storage().get(copy.file_key)))
    links = {link.partner_id: link for link in db.session.execute(
        select(TrackingLink)).scalars()}
    assert len(links) == 2
    for partner in (north, south):
        link = links[partner.id]
        assert codes[partner.slug] == [f"http://localhost/r/{link.code}"]
        assert (link.channel, link.campaign, link.source_type, link.source_id) == (
            Channel.QR, "spring-print-flyer", "asset", asset.public_id)
    # A phone following Northwind's code lands on the offer, attributed to Northwind.
    location = client.get(f"/r/{links[north.id].code}",
                          headers={"User-Agent": "Mozilla/5.0 (iPhone)"}).headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(OFFER + "&")
    assert query["utm_source"] == ["northwind"] and query["utm_medium"] == ["qr"]
    # The same partner's next copy (a new file version) keeps the same link.
    library.add_version(asset, vendor_pdf(1), "flyer-v2.pdf", by=None)
    copy = renditions.request_rendition(north, asset)
    db.session.commit()
    renditions.render(copy.id)
    db.session.refresh(copy)
    assert read_codes(render(storage().get(copy.file_key))) == codes["northwind"]
    assert db.session.execute(select(TrackingLink)).scalars().all().__len__() == 2


def test_the_sample_preview_shows_the_plain_address(app, ctx):
    from assets import previews

    asset = library.create_asset({"title": "Poster"}, vendor_pdf(1), "poster.pdf", by=None,
                                 tiers=["gold"], regions=["EMEA"])
    library.set_zones(asset, [qr_zone()], by=None)
    db.session.commit()
    png = previews.partner_preview(asset, None, 0)
    assert read_codes(Image.open(io.BytesIO(png))) == [OFFER]
    assert db.session.execute(select(TrackingLink)).first() is None  # previews make no links
