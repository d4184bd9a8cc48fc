"""The co-branding journey through the app: upload, zones, publish, a partner's copy."""

from __future__ import annotations

import io
import subprocess

from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from tcma.auth.models import Role
from tests.factories import login, make_partner, make_user


def vendor_pdf(pages: int = 3) -> bytes:
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    for n in range(pages):
        c.drawString(72, 760, f"Acme Cloud Suite brochure page {n + 1}")
        c.showPage()
    c.save()
    return out.getvalue()


def logo_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (300, 100), (200, 30, 30, 255)).save(out, "PNG")
    return out.getvalue()


ZONES = [
    {"page": 2, "x": 40, "y": 700, "width": 200, "height": 80, "kind": "logo"},
    {"page": 2, "x": 300, "y": 700, "width": 250, "height": 80, "kind": "text",
     "template": "{{ partner.display_name }}\nCall {{ partner.phone }}", "size": 14,
     "min_size": 7, "color": "#222222", "align": "left"},
]


def _published_brochure(client, tiers=("gold",)):
    """A marketer uploads the brochure, draws zones and publishes it, through the pages."""
    from tests.factories import csrf_from

    marketer = make_user(Role.MARKETER)
    login(client, marketer.email)
    token = csrf_from(client.get("/assets/new").get_data(as_text=True))
    response = client.post("/assets/new", data={
        "csrf_token": token, "title": "Cloud Suite brochure", "language": "en",
        "allowed_tiers": list(tiers), "file": (io.BytesIO(vendor_pdf()), "brochure.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    asset_url = response.headers["Location"]
    import json

    assert client.post(f"{asset_url}/zones", data={"csrf_token": token,
                                                   "zones": json.dumps(ZONES)}).status_code == 302
    assert client.post(f"{asset_url}/status", data={"csrf_token": token,
                                                    "status": "published"}).status_code == 302
    page = client.get(asset_url).get_data(as_text=True)
    assert "published" in page and "zones set 2" in page
    client.post("/logout", data={"csrf_token": token})
    return asset_url.rsplit("/", 1)[-1]


def test_partner_downloads_a_cobranded_copy(app, ctx, client, jobs, tmp_path):
    from tcma.extensions import db
    from tcma.partners import service as partners

    asset_id = _published_brochure(client)
    partner = make_partner("Northwind IT", tier="gold")
    partners.update_brand_profile(partner, {"display_name": "Northwind IT Solutions",
                                            "phone": "+44 20 7946 0000"}, by=None,
                                  logo=(logo_png(), "logo.png"))
    db.session.commit()
    admin = make_user(Role.PARTNER_ADMIN, partner=partner)

    login(client, admin.email)
    assert "Cloud Suite brochure" in client.get("/library").get_data(as_text=True)
    status = client.get(f"/library/{asset_id}/copy").get_json()
    assert status["status"] == "queued"
    jobs.run()
    status = client.get(f"/library/{asset_id}/copy").get_json()
    assert status["status"] == "done", status

    download = client.get(f"/library/{asset_id}/download")
    assert download.status_code == 302
    pdf = client.get(download.headers["Location"].replace("http://localhost", ""))
    assert pdf.status_code == 200
    path = tmp_path / "copy.pdf"
    path.write_bytes(pdf.data)
    assert subprocess.run(["qpdf", "--check", str(path)], capture_output=True).returncode == 0
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True,
                          text=True).stdout
    assert "Acme Cloud Suite brochure page 3" in text  # the vendor's text is still text
    assert "+44 20 7946 0000" in text and "Northwind IT Solutions" in text

    # Asking again is served from the cache: no new rendition, nothing queued.
    from assets.models import Rendition

    again = client.get(f"/library/{asset_id}/copy").get_json()
    assert again["status"] == "done"
    assert db.session.query(Rendition).count() == 1


def test_new_logo_means_a_new_copy_and_other_tiers_never_see_it(app, client, jobs):
    """Each request here runs in its own app context, as in production: the test's own
    setup happens in separate contexts rather than in one session the requests share."""
    from assets.models import Rendition
    from tcma.extensions import db
    from tcma.partners import service as partners

    with app.app_context():
        asset_id = _published_brochure(client, tiers=("gold",))
        gold = make_partner("Gold Co", tier="gold")
        silver = make_partner("Silver Co", tier="silver")
        gold_id = gold.public_id
        gold_email = make_user(Role.PARTNER_ADMIN, partner=gold).email
        silver_email = make_user(Role.PARTNER_ADMIN, partner=silver).email

    silver_client = app.test_client()
    login(silver_client, silver_email)
    assert "Cloud Suite brochure" not in silver_client.get("/library").get_data(as_text=True)
    assert silver_client.get(f"/library/{asset_id}").status_code == 404

    gold_client = app.test_client()
    login(gold_client, gold_email)
    gold_client.get(f"/library/{asset_id}/copy")
    jobs.run()
    assert gold_client.get(f"/library/{asset_id}/copy").get_json()["status"] == "done"
    with app.app_context():
        partners.update_brand_profile(partners.get_partner(gold_id),
                                      {"display_name": "Gold Co Rebranded"}, by=None)
        db.session.commit()
    assert gold_client.get(f"/library/{asset_id}/copy").get_json()["status"] == "queued"
    jobs.run()
    assert gold_client.get(f"/library/{asset_id}/copy").get_json()["status"] == "done"
    with app.app_context():
        assert db.session.query(Rendition).count() == 2  # one per brand-profile version


def test_stable_link_serves_the_partners_copy(app, ctx, client, jobs):
    from assets.models import AssetDownload, AssetLink
    from tcma.extensions import db

    asset_id = _published_brochure(client)
    partner = make_partner("Linky", tier="gold")
    admin = make_user(Role.PARTNER_ADMIN, partner=partner)
    login(client, admin.email)
    page = client.get(f"/library/{asset_id}").get_data(as_text=True)
    link = db.session.query(AssetLink).one()
    assert f"/a/{link.token}" in page

    anonymous = app.test_client()
    first = anonymous.get(f"/a/{link.token}")
    assert first.status_code == 202 and "Preparing" in first.get_data(as_text=True)
    jobs.run()
    second = anonymous.get(f"/a/{link.token}")
    assert second.status_code == 302
    assert db.session.query(AssetDownload).filter_by(via="link").count() == 1
    assert anonymous.get("/a/not-a-real-token").status_code == 404


def test_sample_preview_shows_a_placeholder_logo_and_warns_about_partners_without(
        app, client):
    """The marketer sees where logos land before any partner has one, and how many are
    still missing theirs."""
    with app.app_context():
        asset_id = _published_brochure(client)
        make_partner("No Logo Yet GmbH", tier="gold")
        marketer_email = make_user(Role.MARKETER).email
    login(client, marketer_email)
    png = client.get(f"/assets/{asset_id}/preview.png?page=3")
    assert png.status_code == 200 and png.mimetype == "image/png"
    image = Image.open(io.BytesIO(png.data)).convert("RGB")
    scale = image.width / A4[0]
    # the logo zone (x 40..240, y 700..780 pt from the top) holds the orange placeholder
    inside = image.getpixel((int(140 * scale), int(740 * scale)))
    outside = image.getpixel((int(140 * scale), int(650 * scale)))
    assert inside[0] > 200 and inside[2] < 100, inside
    assert outside == (255, 255, 255)
    page = client.get(f"/assets/{asset_id}").get_data(as_text=True)
    assert "1 of 1 active partners have no logo yet" in page
