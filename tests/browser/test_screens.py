"""Every main page, on a desktop and on a phone, as people see it.

Each page is checked for what a person would notice at once: its heading is there, nothing
the page asked for failed to load (stylesheet, logo), and nothing makes the page scroll
sideways (on a phone, wide tables become one card per row). Full-page screenshots go to
``/tmp/tcma-shots`` (``TCMA_SHOTS_DIR``), outside the repository, for people to look at.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.helpers import horizontal_overflow, sign_in
from tests.factories import make_partner, make_user

pytestmark = pytest.mark.browser

BAD_CSV = (
    "name,tier,region,type,language,admin_email\n"
    "Contoso Cloud Services,gold,EMEA,reseller,en,ops@contoso.example\n"
    "Fabrikam,diamond,EMEA,reseller,en,\n"
    ",silver,Mars,distributor,en,not-an-email\n"
    "Litware Consulting Group International,silver,APAC,msp,pt-BR,\n"
)


@dataclass
class Program:
    vendor_email: str
    partner_email: str
    partner_id: str
    problems: list[str] = field(default_factory=list)


def _logo_png() -> bytes:
    image = Image.new("RGBA", (240, 80), (0, 0, 0, 0))
    image.paste((10, 124, 90, 255), (10, 10, 230, 70))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def program(app, jobs) -> Program:
    """A program a few weeks in: partners in every state, a finished brand, sent invitations."""
    from tcma.auth import service as accounts
    from tcma.auth.models import Role
    from tcma.extensions import db
    from tcma.partners import service as partners
    from tcma.partners.models import PartnerStatus

    with app.app_context():
        vendor = make_user("admin", name="Vera Vendor", email="vera@vendor.example")
        northwind = make_partner("Northwind Traders International Holdings", tier="gold")
        partners.update_brand_profile(
            northwind,
            {
                "display_name": "Northwind",
                "contact_name": "Pat Partner",
                "email": "hello@northwind.example",
                "phone": "+44 20 7946 0000",
                "website": "https://northwind.example",
                "address_line1": "1 Harbour Road",
                "city": "Bristol",
                "postal_code": "BS1 4DJ",
                "country": "GB",
                "primary_color": "#0a7c5a",
                "timezone": "Europe/London",
            },
            by=vendor,
            logo=(_logo_png(), "northwind.png"),
        )
        pat = make_user(
            "partner_admin", partner=northwind, name="Pat Partner", email="pat@northwind.example"
        )
        for n, (tier, region) in enumerate(
            [("silver", "AMER"), ("registered", "APAC"), ("gold", "AMER"), ("silver", "EMEA")]
        ):
            make_partner(
                f"Partner {n + 1} with a fairly long company name", tier=tier, region=region
            )
        suspended = make_partner("Tailspin Toys", tier="silver", region="EMEA")
        partners.change_status(
            suspended, PartnerStatus.SUSPENDED, by=vendor, reason="Contract renewal pending"
        )
        accounts.invite_user(
            email="sam.longname-colleague@northwind.example",
            name="Sam Colleague",
            role=Role.PARTNER_USER,
            partner=northwind,
            invited_by=vendor,
        )
        db.session.commit()
        result = Program(vendor.email, pat.email, northwind.public_id)
    jobs.run()
    return result


def look(page, name: str, heading: str, viewport: dict[str, int], shots_dir, program) -> None:
    """Check the page a person sees now, then keep a full-page screenshot of it."""
    page.wait_for_load_state("load")  # images and frames too, not only the document
    try:
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    except AssertionError:
        program.problems.append(f"{name}: no heading {heading!r}")
    broken = page.evaluate(
        "() => Array.from(document.images).filter(i => !i.complete || !i.naturalWidth)"
        ".map(i => i.src)"
    )
    if broken:
        program.problems.append(f"{name}: images that did not load: {broken}")
    size = "phone" if viewport is PHONE else "desktop"
    if (overflow := horizontal_overflow(page)) > 0:
        program.problems.append(f"{name}: scrolls sideways by {overflow}px on a {size}")
    page.screenshot(path=str(shots_dir / f"{name}-{size}.png"), full_page=True)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_main_pages_render_cleanly(app, program, new_page, viewport, shots_dir):
    failed: list[str] = []

    def watch(page):
        page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
        return page

    guest = watch(new_page(viewport))
    guest.goto("/login")
    look(guest, "login", f"Sign in to {app.config['VENDOR_NAME']}", viewport, shots_dir, program)

    vendor = watch(new_page(viewport))
    sign_in(vendor, program.vendor_email)
    look(vendor, "vendor-home", "Welcome, Vera Vendor", viewport, shots_dir, program)
    vendor.goto("/partners")
    look(vendor, "partners", "Partners (6)", viewport, shots_dir, program)
    vendor.goto(f"/partners/{program.partner_id}")
    look(
        vendor,
        "partner-detail",
        "Northwind Traders International Holdings active",
        viewport,
        shots_dir,
        program,
    )
    vendor.goto("/partners/import")
    vendor.get_by_label("CSV file").set_input_files(
        files=[{"name": "partners.csv", "mimeType": "text/csv", "buffer": BAD_CSV.encode()}]
    )
    vendor.get_by_role("button", name="Import").click()
    expect(vendor.get_by_test_id("import-report")).to_contain_text("Nothing was imported")
    look(vendor, "import-errors", "Import partners from CSV", viewport, shots_dir, program)
    vendor.goto("/admin/staff")
    look(vendor, "staff", "Vendor staff", viewport, shots_dir, program)
    vendor.goto("/admin/audit")
    look(vendor, "audit-log", "Audit log", viewport, shots_dir, program)
    vendor.goto("/outbox")
    look(vendor, "outbox", "Outbox", viewport, shots_dir, program)
    vendor.get_by_role("link", name="invited you").first.click()
    look(
        vendor,
        "outbox-message",
        f"Vera Vendor invited you to {app.config['VENDOR_NAME']}",
        viewport,
        shots_dir,
        program,
    )
    vendor.goto("/account")
    vendor.get_by_label("Token name").fill("CRM sync")
    vendor.get_by_role("button", name="Create token").click()
    expect(vendor.get_by_test_id("new-token")).to_be_visible()
    look(vendor, "account-tokens", "Your account", viewport, shots_dir, program)

    partner = watch(new_page(viewport))
    sign_in(partner, program.partner_email)
    look(partner, "partner-home", "Welcome, Pat Partner", viewport, shots_dir, program)
    partner.goto("/brand")
    look(partner, "partner-brand", "Your brand profile", viewport, shots_dir, program)
    partner.goto("/team")
    look(
        partner,
        "partner-team",
        "Northwind Traders International Holdings team",
        viewport,
        shots_dir,
        program,
    )

    assert not failed, f"requests that failed: {failed}"
    assert not program.problems, "\n".join(program.problems)
