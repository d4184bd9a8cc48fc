"""Partner onboarding through the vendor's pages, and the partner's own brand profile.

Forms are submitted the way a browser submits them (every field, CSRF token included); what
the tests check is what a channel manager or partner admin would see, plus the database rows
that must, or must not, have been written.
"""

from __future__ import annotations

import html
import io
import os
import re
import struct
import zlib
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from tcma.audit import AuditEvent
from tcma.auth.models import User
from tcma.extensions import db
from tcma.partners.models import BrandProfile, Partner
from tests.factories import Outbox, csrf_from, login, make_partner, make_user, post_form

# --- helpers ---------------------------------------------------------------------------------


def text(response: TestResponse) -> str:
    return html.unescape(response.get_data(as_text=True))


def field_error(response: TestResponse, field: str) -> str | None:
    """The message shown under one form field, if any."""
    match = re.search(rf'<p class="error-text" id="e-{field}">(.*?)</p>', text(response), re.S)
    return match.group(1).strip() if match else None


def flash_messages(page: str) -> list[str]:
    return [m.strip() for m in re.findall(r'<div class="flash [a-z]+" role="[a-z]+">(.*?)</div>',
                                          page, re.S)]


class _FormReader(HTMLParser):
    """Collects what a browser would submit from one form: inputs and selected options."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.select: str | None = None
        self.option_text_for: str | None = None  # <option selected>text</option>, no value
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        elif not self.inside:
            return
        elif tag == "input" and a.get("name") and a.get("type") not in ("file", "hidden"):
            self.values[a["name"]] = a.get("value") or ""
        elif tag == "select":
            self.select = a.get("name")
            self.values.setdefault(self.select, "")
        elif tag == "option" and self.select and "selected" in a:
            if "value" in a:
                self.values[self.select] = a["value"] or ""
            else:
                self.option_text_for = self.select

    def handle_data(self, data):
        if self.option_text_for:
            self.values[self.option_text_for] = data.strip()
            self.option_text_for = None

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def current_form(page: str, form_id: str) -> dict[str, str]:
    reader = _FormReader(form_id)
    reader.feed(page)
    return reader.values


def count(app: Flask, model, *where) -> int:
    with app.app_context():
        return db.session.execute(
            select(func.count()).select_from(model).where(*where)
        ).scalar_one()


def totals(app: Flask) -> tuple[int, int, int]:
    """Partners, users and audit events: what a refused form must leave untouched."""
    return count(app, Partner), count(app, User), count(app, AuditEvent)


def vendor(app: Flask, client, role: str = "channel_manager") -> None:
    with app.app_context():
        email = make_user(role, name="Chan Manager").email
    assert login(client, email).status_code == 302


VALID_PARTNER = {"name": "Contoso Ltd", "slug": "", "tier": "gold", "region": "EMEA",
                 "type": "reseller", "language": "en", "admin_email": "", "admin_name": ""}


def create_partner(client, **changes: str) -> TestResponse:
    return post_form(client, "/partners/new", {**VALID_PARTNER, **changes}, page="/partners/new")


def upload_csv(client, content: bytes, *, dry_run: bool = False) -> TestResponse:
    data: dict = {"file": (io.BytesIO(content), "partners.csv")}
    if dry_run:
        data["dry_run"] = "1"
    return post_form(client, "/partners/import", data, page="/partners/import",
                     content_type="multipart/form-data")


def report_rows(response: TestResponse) -> dict[int, tuple[str, str]]:
    """The import report as {line: (name, result)} with the result cell's text."""
    rows = re.findall(r"<tr><td>(\d+)</td><td>(.*?)</td>\s*<td>(.*?)</td></tr>",
                      text(response), re.S)
    return {int(line): (name, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", result)).strip())
            for line, name, result in rows}


# --- creating and editing a partner ----------------------------------------------------------


def test_channel_manager_creates_a_partner_without_an_admin(app, client, jobs, outbox: Outbox):
    vendor(app, client)
    created = create_partner(client, name="Contoso Ltd")
    assert created.status_code == 302
    page = text(client.get(urlsplit(created.headers["Location"]).path))
    assert "Contoso Ltd created." in page
    assert "contoso-ltd" in page  # slug made from the name
    assert "No users yet." in page
    jobs.run()
    assert outbox.messages() == []
    assert "Contoso Ltd" in text(client.get("/partners"))


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"name": "   "}, "name", "at least 1 character"),
    ({"tier": "diamond"}, "tier", "Tier must be one of: platinum, gold, silver, registered"),
    ({"tier": ""}, "tier", "Tier must be one of: platinum, gold, silver, registered"),
    ({"region": "Mars"}, "region", "Region must be one of: AMER, EMEA, APAC, LATAM"),
    ({"language": "english"}, "language", "Use a language code like en, de or pt-BR"),
    ({"slug": "northwind"}, "slug", "Another partner already uses this slug."),
    ({"slug": "Not a slug!"}, "slug", "Use lowercase letters, digits and hyphens"),
    ({"admin_email": "Taken@Vendor.example"}, "admin_email",
     "A user with this email already exists."),
    ({"admin_email": "not-an-email"}, "admin_email", "not a valid email address"),
], ids=["blank-name", "unknown-tier", "no-tier", "unknown-region", "bad-language",
        "duplicate-slug", "bad-slug", "existing-admin-email", "bad-admin-email"])
def test_create_partner_errors_name_the_field_and_write_nothing(app, client, jobs,
                                                                outbox: Outbox, changes,
                                                                field, message):
    with app.app_context():
        make_partner("Northwind", slug="northwind")
        make_user("marketer", email="taken@vendor.example")
    vendor(app, client)
    before = totals(app)
    response = create_partner(client, admin_name="Someone", **(
        changes if "admin_email" in changes else {"admin_email": "new@contoso.example",
                                                  **changes}))
    assert response.status_code == 200
    shown = field_error(response, field)
    assert shown is not None and message in shown, shown
    assert "Please fix the following" in text(response)
    assert totals(app) == before
    jobs.run()
    assert outbox.messages() == []
    # what the user typed is still there to correct
    if changes.get("tier") == "diamond":
        assert 'value="Someone"' in response.get_data(as_text=True)


def test_edit_partner(app, client):
    with app.app_context():
        partner_id = make_partner("Northwind", tier="gold", region="EMEA").public_id
    vendor(app, client)
    form = current_form(text(client.get(f"/partners/{partner_id}/edit")).replace(
        '<form method="post" class="card">', '<form id="edit" method="post" class="card">'),
        "edit")
    assert form == {"name": "Northwind", "tier": "gold", "region": "EMEA", "type": "reseller",
                    "language": "en"}

    refused = post_form(client, f"/partners/{partner_id}/edit",
                        {**form, "name": "Renamed", "tier": "tin"}, page="/partners")
    assert "Tier must be one of" in (field_error(refused, "tier") or "")
    assert "Northwind" in text(client.get(f"/partners/{partner_id}"))
    assert count(app, Partner, Partner.name == "Renamed") == 0

    saved = post_form(client, f"/partners/{partner_id}/edit",
                      {**form, "name": "Northwind Traders", "tier": "Platinum",
                       "language": "pt-BR"}, page="/partners")
    assert saved.status_code == 302
    page = text(client.get(f"/partners/{partner_id}"))
    assert "Partner saved." in page
    assert "Northwind Traders" in page
    assert "Tier <strong>platinum</strong>" in page
    assert "Language <strong>pt-BR</strong>" in page
    assert "<code>northwind</code>" in page  # the slug stays: tracking links depend on it


# --- CSV import ------------------------------------------------------------------------------

GOOD_CSV = (
    b"name,tier,region,type,language,admin_email,admin_name\n"
    b"Alpha Systems,gold,EMEA,reseller,de,anna@alpha.example,Anna Alpha\n"
    b"Beta Consulting,Silver,amer,consultant,,bert@beta.example,\n"
    b"Gamma MSP,platinum,APAC,msp,en,,\n"
)


def test_import_creates_every_partner_and_invites_their_admins(app, client, jobs,
                                                               outbox: Outbox):
    vendor(app, client)
    response = upload_csv(client, GOOD_CSV)
    assert response.status_code == 200
    assert "Imported 3 partners." in text(response)
    rows = report_rows(response)
    assert {line: name for line, (name, _) in rows.items()} == {
        2: "Alpha Systems", 3: "Beta Consulting", 4: "Gamma MSP"}
    assert all(result == "created" for _, result in rows.values())
    assert count(app, Partner) == 3
    with app.app_context():
        beta = db.session.execute(select(Partner).where(Partner.name == "Beta Consulting")
                                  ).scalar_one()
        assert (beta.tier, beta.region, beta.language) == ("silver", "AMER", "en")
        (bert,) = db.session.execute(select(User).where(User.partner_id == beta.id)).scalars()
        assert (bert.email, bert.name, bert.role.value, bert.status.value) == (
            "bert@beta.example", "bert", "partner_admin", "invited")
    jobs.run()
    assert sorted(m.to for m in outbox.messages()) == ["anna@alpha.example",
                                                       "bert@beta.example"]
    assert "Alpha Systems" in outbox.to("anna@alpha.example")[0].text


def test_import_with_any_bad_row_names_each_problem_and_imports_nothing(app, client, jobs,
                                                                         outbox: Outbox):
    with app.app_context():
        make_partner("Existing Partner")
        make_user("marketer", email="taken@vendor.example")
    vendor(app, client)
    before = totals(app)
    bad = (
        b"name,tier,region,type,admin_email\n"                    # line 1
        b"Alpha Systems,gold,EMEA,reseller,anna@alpha.example\n"  # 2: fine on its own
        b"Beta Consulting,,EMEA,reseller,\n"                      # 3: tier missing
        b"Gamma MSP,diamond,EMEA,msp,\n"                          # 4: unknown tier
        b"alpha systems,gold,EMEA,reseller,\n"                    # 5: same name as line 2
        b"Existing Partner,gold,EMEA,reseller,\n"                 # 6: already in the program
        b"Delta,gold,EMEA,reseller,taken@vendor.example\n"        # 7: admin already a user
        b"Epsilon,gold,Mars,reseller,\n"                          # 8: unknown region
    )
    response = upload_csv(client, bad)
    page = text(response)
    assert "6 of 7 rows have problems. Nothing was imported." in page
    rows = report_rows(response)
    assert rows[2] == ("Alpha Systems", "ok")
    assert rows[3] == ("Beta Consulting", "tier: Field required")
    assert rows[4][1] == "tier: Tier must be one of: platinum, gold, silver, registered"
    assert rows[5] == ("alpha systems", "name: Duplicate of line 2.")
    assert rows[6][1] == "name: A partner with this name already exists."
    assert rows[7][1] == "admin_email: A user with this email already exists."
    assert rows[8][1] == "region: Region must be one of: AMER, EMEA, APAC, LATAM"
    assert totals(app) == before
    jobs.run()
    assert outbox.messages() == []


@pytest.mark.parametrize(("content", "message"), [
    (b"name,region,type\nAlpha,EMEA,reseller\n",
     "Missing column: tier. Expected columns: name, tier, region, language, type, slug, "
     "admin_email, admin_name."),
    (b"company,level\nAlpha,gold\n", "Missing columns: name, tier, region, type."),
    (b"name,tier,region,type,colour\nAlpha,gold,EMEA,reseller,red\n", "Unknown column: colour."),
    (b"name,tier,region,type\n", "The file has no partner rows."),
    ("name,tier,region,type\nAlpha,gold,EMEA,reseller\n".encode("utf-16"),
     "The file is not UTF-8 text (it looks like UTF-16 or a binary file). Save it as CSV "
     "(UTF-8)."),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01", "Save it as CSV (UTF-8)."),
], ids=["missing-column", "wrong-columns", "unknown-column", "no-rows", "utf-16", "binary"])
def test_import_refuses_a_file_it_cannot_read(app, client, content, message):
    vendor(app, client)
    response = upload_csv(client, content)
    assert response.status_code == 200
    assert message in text(response)
    assert count(app, Partner) == 0


@pytest.mark.parametrize(("content", "name"), [
    ("\ufeffname;tier;region;type\nMüller GmbH;gold;EMEA;reseller\n".encode(), "Müller GmbH"),
    ("name,tier,region,type\nSão Paulo Soluções,gold,LATAM,agency\n".encode("cp1252"),
     "São Paulo Soluções"),
], ids=["excel-utf8-semicolons", "windows-1252"])
def test_import_reads_the_files_spreadsheets_save(app, client, content, name):
    vendor(app, client)
    response = upload_csv(client, content)
    assert "Imported 1 partners." in text(response)
    assert count(app, Partner, Partner.name == name) == 1


def test_import_dry_run_checks_without_importing(app, client, jobs, outbox: Outbox):
    vendor(app, client)
    checked = upload_csv(client, GOOD_CSV, dry_run=True)
    assert "All 3 rows are valid." in text(checked)
    assert {result for _, result in report_rows(checked).values()} == {"ok"}
    assert totals(app)[:2] == (0, 1)
    jobs.run()
    assert outbox.messages() == []
    assert "Imported 3 partners." in text(upload_csv(client, GOOD_CSV))
    assert count(app, Partner) == 3


def test_import_refuses_an_oversized_file(app, client):
    vendor(app, client)
    limit = app.config["CSV_MAX_BYTES"]
    row = b"Partner,gold,EMEA,reseller\n"
    content = b"name,tier,region,type\n" + row * (limit // len(row) + 1)
    assert len(content) > limit
    response = upload_csv(client, content)
    assert f"The file is larger than {limit // 1_048_576} MB; split it." in text(response)
    assert count(app, Partner) == 0


# --- partner status --------------------------------------------------------------------------


def test_suspend_reactivate_offboard_keeps_history_and_ends_access(app, client):
    with app.app_context():
        partner = make_partner("Northwind")
        partner_id = partner.public_id
        pat = make_user("partner_admin", partner=partner, name="Pat Partner").email
        make_user("partner_user", partner=partner)
    vendor(app, client)
    show = f"/partners/{partner_id}"

    def change(status: str) -> str:
        post_form(client, f"{show}/status", {"status": status}, page=show)
        return text(client.get(show))

    page = change("suspended")
    assert "Northwind is now suspended." in flash_messages(page)
    assert '<span class="badge suspended">suspended</span>' in page
    assert login(app.test_client(), pat).status_code == 401

    page = change("active")
    assert "Northwind is now active." in flash_messages(page)
    assert login(app.test_client(), pat).status_code == 302

    page = change("offboarded")
    assert "Northwind is now offboarded." in flash_messages(page)
    assert '<span class="badge offboarded">offboarded</span>' in page
    assert page.count('<span class="badge disabled">disabled</span>') == 2  # both users
    assert 'name="status" value=' not in page  # no more transitions offered
    assert login(app.test_client(), pat).status_code == 401

    page = change("active")
    assert "Northwind is offboarded; it cannot become active." in flash_messages(page)
    assert '<span class="badge offboarded">offboarded</span>' in page
    assert "Northwind" in text(client.get("/partners?status=offboarded"))

    # no new users for a partnership that has ended
    post_form(client, f"{show}/users", {"name": "Late", "email": "late@northwind.example",
                                         "role": "partner_user"}, page=show)
    assert "Northwind has been offboarded; it cannot get new users." in flash_messages(
        text(client.get(show)))
    assert count(app, User, User.email == "late@northwind.example") == 0


def test_offboarded_partner_history_stays_visible_to_the_vendor_admin(app, client):
    with app.app_context():
        partner_id = make_partner("Northwind").public_id
        admin = make_user("admin").email
    login(client, admin)
    post_form(client, f"/partners/{partner_id}/status", {"status": "suspended",
                                                         "reason": "Unpaid invoices"})
    post_form(client, f"/partners/{partner_id}/status", {"status": "offboarded",
                                                         "reason": "Contract ended"})
    assert client.get(f"/partners/{partner_id}").status_code == 200
    audit = text(client.get("/admin/audit?action=partner."))
    for action in ("partner.offboard", "partner.suspend", "partner.create"):
        assert f"<code>{action}</code>" in audit
    assert "Contract ended" in audit and "Unpaid invoices" in audit


# --- brand profile ---------------------------------------------------------------------------


def partner_admin(app: Flask, client, role: str = "partner_admin") -> tuple[int, str]:
    """Sign in a partner admin of a fresh partner; return (partner db id, public id)."""
    with app.app_context():
        partner = make_partner("Northwind")
        email = make_user(role, partner=partner).email
        ids = partner.id, partner.public_id
    assert login(client, email).status_code == 302
    return ids


def versions(app: Flask, partner_id: int) -> int:
    return count(app, BrandProfile, BrandProfile.partner_id == partner_id)


def save_brand(client, changes: dict[str, str] | None = None,
               logo: tuple[bytes, str] | None = None) -> TestResponse:
    """Submit the brand form as shown, with ``changes`` typed in and maybe a file chosen."""
    page = client.get("/brand").get_data(as_text=True)
    data: dict = {**current_form(page, "brand-form"), **(changes or {}),
                  "csrf_token": csrf_from(page)}
    if logo is not None:
        data["logo"] = (io.BytesIO(logo[0]), logo[1])
    return client.post("/brand", data=data, content_type="multipart/form-data")


def meter(page: str) -> tuple[str, str | None]:
    percent = re.search(r'data-testid="completeness">(\d+%)<', page)
    missing = re.search(r'data-testid="missing">(.*?)</span>', page)
    assert percent
    return percent.group(1), missing.group(1) if missing else None


COMPLETE = {
    "contact_name": "Pat Partner", "email": "pat@northwind.example",
    "phone": "+44 20 7946 0000", "website": "https://northwind.example",
    "address_line1": "1 High Street", "city": "London", "postal_code": "EC1A 1BB",
    "country": "gb", "primary_color": "#0A7C5A", "timezone": "Europe/London",
}


def test_brand_profile_saves_a_version_per_change_and_names_what_is_missing(app, client):
    partner_id, _ = partner_admin(app, client)
    page = text(client.get("/brand"))
    assert meter(page) == ("8%", "Logo, Contact name, Contact email, Phone, Website, "
                                 "Street address, City, Postal code, Country, Brand colour, "
                                 "Time zone")
    assert "(now v1)" in page

    assert save_brand(client).status_code == 302  # nothing changed
    assert versions(app, partner_id) == 1

    assert save_brand(client, {"phone": "+44 20 7946 0000"}).status_code == 302
    assert versions(app, partner_id) == 2
    page = text(client.get("/brand"))
    assert "Brand profile saved." in page and "(now v2)" in page
    assert "Phone" not in meter(page)[1]

    assert save_brand(client, COMPLETE).status_code == 302
    assert versions(app, partner_id) == 3
    page = text(client.get("/brand"))
    assert meter(page) == ("92%", "Logo")
    form = current_form(page, "brand-form")
    assert (form["country"], form["primary_color"], form["timezone"]) == (
        "GB", "#0a7c5a", "Europe/London")  # stored normalised

    assert save_brand(client).status_code == 302  # the same values again: no new version
    assert versions(app, partner_id) == 3

    refused = save_brand(client, {"phone": "call me", "website": "northwind"})
    assert refused.status_code == 422
    assert "Use digits, spaces" in field_error(refused, "phone")
    assert "https://" in field_error(refused, "website")
    assert versions(app, partner_id) == 3


def _png(width: int, height: int, *, mode: str = "RGBA", noise: bool = False) -> bytes:
    channels = len(mode)
    if noise:
        image = Image.frombytes(mode, (width, height), os.urandom(width * height * channels))
    else:
        image = Image.new(mode, (width, height), (10, 124, 90, 255)[:channels])
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _image(fmt: str, width: int = 200, height: int = 100) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, fmt)
    return out.getvalue()


def _png_header(width: int, height: int) -> bytes:
    """A tiny file claiming huge dimensions: decoding it would need gigabytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def _stored_logo(client) -> Image.Image:
    page = client.get("/brand").get_data(as_text=True)
    match = re.search(r'<img class="logo-preview" src="([^"]+)"', page)
    assert match, "no logo shown"
    response = client.get(urlsplit(html.unescape(match.group(1))).path)
    assert response.status_code == 200
    assert response.data.startswith(b"\x89PNG\r\n\x1a\n")  # always normalised to PNG
    return Image.open(io.BytesIO(response.data))


@pytest.mark.parametrize(("upload", "size"), [
    ((_png(300, 120), "logo.png"), (300, 120)),
    ((_image("JPEG", 400, 200), "photo.jpg"), (400, 200)),
    ((_image("WEBP", 128, 128), "logo.webp"), (128, 128)),
    ((_png(3000, 1000), "huge.png"), (2000, 667)),  # scaled down, proportions kept
], ids=["png", "jpeg", "webp", "large-png"])
def test_logo_upload_is_stored_as_png(app, client, upload, size):
    partner_id, _ = partner_admin(app, client)
    assert save_brand(client, logo=upload).status_code == 302
    assert versions(app, partner_id) == 2
    stored = _stored_logo(client)
    assert stored.format == "PNG" and stored.size == size
    assert "Logo" not in (meter(text(client.get("/brand")))[1] or "")


def test_text_and_logo_saved_together_make_one_version(app, client):
    partner_id, _ = partner_admin(app, client)
    assert save_brand(client, COMPLETE, logo=(_png(200, 200), "logo.png")).status_code == 302
    assert versions(app, partner_id) == 2
    page = text(client.get("/brand"))
    assert meter(page) == ("100%", None)
    assert "ready for co-branding" in page

    removed = post_form(client, "/brand", {"action": "remove_logo"}, page="/brand")
    assert removed.status_code == 302
    assert versions(app, partner_id) == 3
    assert meter(text(client.get("/brand"))) == ("92%", "Logo")


LOGO_REFUSALS = [
    ("too-big", lambda: (_png(700, 700, mode="RGB", noise=True), "big.png"),
     "The logo is 1.4 MB; the limit is 1 MB."),
    ("not-an-image", lambda: (b"%PDF-1.7 this is a brochure, not a logo", "logo.png"),
     "logo.png is not an image we can read."),
    ("svg", lambda: (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
                     b'width="200" height="200"><rect width="200" height="200"/></svg>',
                     "logo.svg"),
     "SVG logos are not accepted."),
    ("svg-script", lambda: (b'<svg xmlns="http://www.w3.org/2000/svg" width="200" '
                            b'height="200"><script>fetch("/account")</script></svg>',
                            "logo.png"),
     "This SVG contains script, which is never accepted."),
    ("svg-onload", lambda: (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
                            "logo.svg"),
     "This SVG contains script, which is never accepted."),
    ("too-small", lambda: (_png(48, 200), "icon.png"),
     "The logo is 48×200 px; use at least 64 px on each side"),
    ("bomb", lambda: (_png_header(100_000, 100_000), "bomb.png"),
     "That image is far too large in pixels."),
    ("bmp", lambda: (_image("BMP"), "logo.bmp"), "BMP files are not accepted."),
    ("empty", lambda: (b"", "empty.png"), "Choose an image file to upload."),
]


@pytest.mark.parametrize(("make", "message"), [(m, msg) for _, m, msg in LOGO_REFUSALS],
                         ids=[name for name, _, _ in LOGO_REFUSALS])
def test_logo_refusals_explain_themselves_and_keep_the_profile(app, client, monkeypatch,
                                                               make, message):
    monkeypatch.setitem(app.config, "LOGO_MAX_BYTES", 1_048_576)
    partner_id, _ = partner_admin(app, client)
    response = save_brand(client, {"city": "London"}, logo=make())
    assert response.status_code == 422
    shown = field_error(response, "logo")
    assert shown is not None and message in shown, shown
    assert versions(app, partner_id) == 1  # not even the city change was saved
    assert "No logo yet." in text(client.get("/brand"))


def test_partner_user_sees_the_brand_profile_but_cannot_change_it(app, client):
    partner_id, _ = partner_admin(app, client, role="partner_user")
    page = text(client.get("/brand"))
    assert "Only your partner admin can change the brand profile." in page
    assert re.search(r"<fieldset[^>]*\sdisabled[\s>]", page), "the form is not read-only"
    assert "Save brand profile" not in page
    refused = save_brand(client, {"phone": "+1 555 0100"})
    assert refused.status_code == 403
    refused = save_brand(client, logo=(_png(200, 200), "logo.png"))
    assert refused.status_code == 403
    assert versions(app, partner_id) == 1
