"""Demo landing page for ``tcma demo``: a published, co-branded trial offer every demo partner
can share, and a few leads in Northwind's inbox.

Idempotent: a page whose address exists is left as it is (with its leads).
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw
from sqlalchemy import select

from syndication.leads import service as leads
from syndication.leads.form import Submission
from syndication.pages import service as pages
from syndication.pages.models import LandingPage, PageStatus
from syndication.pages.render import branding, consent_wording
from tcma.auth import service as accounts
from tcma.extensions import db
from tcma.partners.models import Partner

SLUG = "cloud-backup-trial"
MARKETER = "marketer@vendor.example"
DEMO_PARTNER = "Northwind IT"

PAGE = {
    "slug": SLUG, "kind": "partner",
    "title": "Acme Cloud Backup: 30-day free trial",
    "headline": "Back up everything. Restore anything, in minutes.",
    "summary": "Immutable, encrypted backups for Microsoft 365, servers and laptops. "
               "Try Acme Cloud Backup free for 30 days, set up with a local expert.",
    "body": "Ransomware, a deleted mailbox, a laptop left on a train: **every business "
            "loses data sooner or later**. Acme Cloud Backup keeps an immutable copy of "
            "everything, so a restore is a few clicks away.\n\n"
            "Tell us a little about your business and we will set up your trial with you, "
            "including a test restore. See the [product overview](https://acme.example/backup) "
            "for details.",
    "bullets": ["Immutable backups ransomware cannot touch",
                "Microsoft 365, Windows and Linux servers, laptops",
                "Restores in minutes, tested with you during the trial",
                "Data kept in the EU or US, encrypted end to end"],
    "cta_label": "Start my free trial",
    "hero_alt": "Acme Cloud Backup dashboard showing a completed restore",
    "form_fields": {"first_name": {"enabled": True, "required": True},
                    "last_name": {"enabled": True, "required": True},
                    "email": {"enabled": True, "required": True},
                    "company": {"enabled": True, "required": True},
                    "job_title": {"enabled": True},
                    "phone": {"enabled": True},
                    "country": {"enabled": True},
                    "message": {"enabled": True, "label": "Anything we should know?"}},
    "consent_text": "I agree that {partner} and Acme may contact me about this trial. "
                    "See the [privacy notice](https://acme.example/privacy).",
    "consent_required": True,
    "thank_you": "Thank you! A specialist will call you within one business day to set up "
                 "your trial.",
}

LEADS = [
    ({"first_name": "Hannah", "last_name": "Schmidt", "email": "hannah.schmidt@example.com",
      "company": "Schmidt Logistik GmbH", "job_title": "IT manager", "country": "DE",
      "message": "We have 40 Microsoft 365 mailboxes and two file servers."},
     {"source": "northwind-it", "medium": "email", "campaign": "cloud-backup-q4"}),
    ({"first_name": "Oliver", "last_name": "Grant", "email": "o.grant@example.com",
      "company": "Grant & Co Accountants", "phone": "+44 20 7946 0123", "country": "GB"},
     {"source": "northwind-it", "medium": "social", "campaign": "cloud-backup-q4"}),
]


def hero_png() -> bytes:
    """A 1600 x 840 px hero: a stylised backup dashboard on the vendor's blue."""
    w, h = 1600, 840
    image = Image.new("RGB", (w, h), (31, 95, 191))
    draw = ImageDraw.Draw(image)
    for y in range(h):  # a gentle top-to-bottom gradient
        shade = int(40 * y / h)
        draw.line([(0, y), (w, y)], fill=(31 - shade // 3, 95 - shade, 191 - shade))
    draw.rounded_rectangle((180, 120, 1420, 760), radius=28, fill="white")
    draw.rectangle((180, 120, 1420, 200), fill=(232, 238, 248))
    draw.text((230, 142), "Acme Cloud Backup", fill=(29, 35, 48), font_size=36)
    for row, (label, pct) in enumerate([("Microsoft 365", 1.0), ("File server", 0.86),
                                        ("Laptops", 0.64)]):
        top = 260 + row * 140
        draw.text((230, top), label, fill=(29, 35, 48), font_size=32)
        draw.rounded_rectangle((230, top + 56, 1370, top + 86), radius=15,
                               fill=(230, 233, 239))
        draw.rounded_rectangle((230, top + 56, 230 + int(1140 * pct), top + 86), radius=15,
                               fill=(10, 124, 90))
    draw.text((230, 690), "Last restore: 4 min 12 s · verified", fill=(91, 100, 117),
              font_size=28)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def load_demo() -> list[str]:
    if db.session.execute(select(LandingPage.id).where(LandingPage.slug == SLUG)).first():
        return [f"Landing page /p/<partner>/{SLUG} (already there)"]
    author = accounts.find_user_by_email(MARKETER)
    page = pages.create_page(PAGE, by=author)
    pages.set_hero(page, hero_png(), "hero.png", by=author)
    pages.set_status(page, PageStatus.PUBLISHED, by=author)
    lines = [f"Landing page {pages.base_url()}/p/<partner-slug>/{SLUG} (published)"]
    partner = db.session.execute(
        select(Partner).where(Partner.name == DEMO_PARTNER)).scalar_one_or_none()
    if partner is not None:
        consent = consent_wording(page, branding(partner))
        for values, utm in LEADS:
            leads.capture(page, partner, Submission(values=values, consent_given=True, utm=utm),
                          consent_text=consent, first_click_id=None, last_click_id=None,
                          ip="127.0.0.1", user_agent="tcma demo")
        lines.append(f"{pages.public_url(page, partner)} with {len(LEADS)} leads")
    return lines
