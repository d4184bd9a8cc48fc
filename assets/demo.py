"""Demo assets for ``tcma demo``: a published brochure and a social tile, ready to co-brand.

The files are drawn here (ReportLab, Pillow and the bundled DejaVu font) rather than
committed, so the demo needs no binary fixtures. Idempotent: an asset whose title exists is
left as it is, so running the demo again never adds a second copy or undoes a marketer's
changes to the first.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from flask import current_app

from assets import library
from assets.models import AssetStatus
from tcma.auth import service as accounts

FONTS = Path(__file__).parent / "fonts"
BROCHURE_TITLE = "Acme Cloud Backup brochure"
TILE_TITLE = "Acme Cloud Backup social tile"
MARKETER = "marketer@vendor.example"  # made by the core demo; absent, the assets have no author

INK = (0.11, 0.14, 0.19)
BLUE = (0.12, 0.37, 0.75)

#: Page 4 of the brochure (A4, 595 x 842 pt): the partner's logo and contact details go in
#: the white panel at the foot of the page.
BROCHURE_ZONES = [
    {"page": 3, "x": 56, "y": 640, "width": 190, "height": 90, "kind": "logo",
     "align": "left", "valign": "middle"},
    {"page": 3, "x": 270, "y": 632, "width": 270, "height": 106, "kind": "text",
     "template": "{{ partner.display_name }}\n{{ partner.contact_name }}\n"
                 "{{ partner.phone }}\n{{ partner.email }}\n{{ partner.website }}",
     "font": "sans", "size": 12, "min_size": 7, "color": "#1d2330", "align": "left",
     "valign": "middle"},
]
#: The 1080 x 1080 px tile: the partner's logo on the white band at the bottom.
TILE_ZONES = [
    {"page": 0, "x": 60, "y": 880, "width": 380, "height": 150, "kind": "logo",
     "align": "left", "valign": "middle"},
]


def brochure_pdf() -> bytes:
    """A four-page product brochure with real, selectable text and an empty partner panel."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import Paragraph

    width, height = A4
    body = ParagraphStyle("body", fontName="Helvetica", fontSize=11, leading=16,
                          textColor=INK)
    out = io.BytesIO()
    c = Canvas(out, pagesize=A4)
    c.setTitle("Acme Cloud Backup")
    c.setAuthor("Acme")

    def paragraph(text: str, x: float, top: float, w: float, style=body) -> float:
        p = Paragraph(text, style)
        _, h = p.wrap(w, height)
        p.drawOn(c, x, top - h)
        return top - h

    def footer(number: int) -> None:
        c.setFont("Helvetica", 8)
        c.setFillColorRGB(0.4, 0.43, 0.5)
        c.drawString(56, 28, "Acme Cloud Backup · acme.example/backup")
        c.drawRightString(width - 56, 28, str(number))

    # 1. cover
    c.setFillColorRGB(*BLUE)
    c.rect(0, height - 420, width, 420, stroke=0, fill=1)
    c.setFillColorRGB(1, 1, 1)
    c.setFont("Helvetica-Bold", 40)
    c.drawString(56, height - 200, "Acme Cloud Backup")
    c.setFont("Helvetica", 20)
    c.drawString(56, height - 236, "Protect every workload. Restore in minutes.")
    paragraph("Servers, laptops, Microsoft 365 and cloud databases backed up to one place, "
              "encrypted end to end, with restores your team can run without a ticket.",
              56, height - 470, width - 112)
    c.setFont("Helvetica-Bold", 12)
    c.setFillColorRGB(*INK)
    c.drawString(56, 120, "Brought to you by your Acme partner")
    footer(1)
    c.showPage()

    # 2. why
    c.setFillColorRGB(*INK)
    c.setFont("Helvetica-Bold", 24)
    c.drawString(56, height - 90, "Why teams choose Acme Cloud Backup")
    top = height - 130
    for title, text in [
        ("Immutable copies", "Backups are written once and locked for the retention period "
         "you choose, so ransomware cannot encrypt or delete them."),
        ("Fast, granular restores", "Bring back a whole server, one mailbox or a single file "
         "from any point in the last 90 days, in minutes rather than hours."),
        ("One console", "Physical, virtual and SaaS workloads side by side, with policies, "
         "alerts and reports for every site and customer."),
        ("Predictable pricing", "Per protected workload, storage included. No egress fees "
         "when you restore."),
    ]:
        c.setFont("Helvetica-Bold", 14)
        c.setFillColorRGB(*BLUE)
        c.drawString(56, top, title)
        top = paragraph(text, 56, top - 8, width - 112) - 26
    footer(2)
    c.showPage()

    # 3. specifications
    c.setFillColorRGB(*INK)
    c.setFont("Helvetica-Bold", 24)
    c.drawString(56, height - 90, "Technical specifications")
    rows = [
        ("Workloads", "Windows, Linux, macOS, VMware, Hyper-V, Microsoft 365, PostgreSQL"),
        ("Encryption", "AES-256 at rest, TLS 1.3 in transit, customer-held keys"),
        ("Retention", "Daily, weekly, monthly and yearly points; immutability up to 10 years"),
        ("Recovery", "File, folder, mailbox, full system and instant VM recovery"),
        ("Regions", "EU (Frankfurt, Dublin), US (Virginia, Oregon), APAC (Sydney)"),
        ("Compliance", "ISO 27001, SOC 2 Type II, GDPR data processing agreement"),
    ]
    top = height - 130
    for label, value in rows:
        c.setFont("Helvetica-Bold", 11)
        c.setFillColorRGB(*INK)
        c.drawString(56, top - 14, label)
        bottom = paragraph(value, 190, top, width - 246)
        top = min(bottom, top - 18) - 12
        c.setStrokeColorRGB(0.87, 0.89, 0.92)
        c.line(56, top + 4, width - 56, top + 4)
    footer(3)
    c.showPage()

    # 4. call to action, with the partner panel at the foot
    c.setFillColorRGB(*INK)
    c.setFont("Helvetica-Bold", 24)
    c.drawString(56, height - 90, "Ready to protect your data?")
    paragraph("Start with a free 30-day trial for up to 10 workloads. Your Acme partner sets "
              "it up with you, moves your existing backups across and stays your first "
              "contact for support.", 56, height - 120, width - 112)
    c.setFillColorRGB(0.96, 0.97, 0.98)
    c.setStrokeColorRGB(0.87, 0.89, 0.92)
    panel_top = 612  # from the top of the page, as zones count
    c.roundRect(40, height - 758, width - 80, 758 - panel_top, 10, stroke=1, fill=1)
    c.setFillColorRGB(0.4, 0.43, 0.5)
    c.setFont("Helvetica", 9)
    c.drawString(56, height - panel_top - 16, "YOUR ACME PARTNER")
    footer(4)
    c.showPage()
    c.save()
    return out.getvalue()


def social_tile_png() -> bytes:
    """A 1080 x 1080 px LinkedIn/Instagram tile with a white band for the partner's logo."""
    from PIL import Image, ImageDraw, ImageFont

    size = 1080
    image = Image.new("RGB", (size, size), (31, 95, 191))
    draw = ImageDraw.Draw(image)
    for y in range(840):  # a gentle top-to-bottom gradient
        shade = int(30 * y / 840)
        draw.line([(0, y), (size, y)], fill=(31 - shade // 2, 95 - shade, 191 - shade))
    bold = ImageFont.truetype(str(FONTS / "DejaVuSans-Bold.ttf"), 84)
    regular = ImageFont.truetype(str(FONTS / "DejaVuSans.ttf"), 40)
    draw.text((60, 170), "Back up\neverything.\nRestore\nanything.", font=bold,
              fill="white", spacing=12)
    draw.text((60, 650), "Acme Cloud Backup: immutable,\nencrypted, restored in minutes.",
              font=regular, fill=(225, 233, 250), spacing=10)
    draw.rectangle((0, 840, size, size), fill="white")
    draw.text((size - 60, 955), "Ask us for a\nfree 30-day trial", font=regular,
              fill=(29, 35, 48), anchor="rd", align="right", spacing=8)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _ensure(title: str, filename: str, make: Callable[[], bytes], fields: dict,
            zones: list[dict]) -> str:
    existing = library.list_assets(search=title)
    if any(a.title == title for a in existing):
        return f"{title} (already there)"
    cfg = current_app.config
    author = accounts.find_user_by_email(MARKETER)
    asset = library.create_asset({"title": title, **fields}, make(), filename, by=author,
                                 tiers=list(cfg["PARTNER_TIERS"]),
                                 regions=list(cfg["PARTNER_REGIONS"]))
    library.set_zones(asset, zones, by=author)
    library.set_status(asset, AssetStatus.PUBLISHED, by=author)
    return f"{title} (published, {len(zones)} zone{'s' if len(zones) != 1 else ''})"


def load_demo() -> list[str]:
    """Create the demo assets that are missing; returns one line per asset for the CLI."""
    return [
        _ensure(BROCHURE_TITLE, "acme-cloud-backup-brochure.pdf", brochure_pdf, {
            "description": "Four-page product brochure. Your logo and contact details go on "
                           "the back page.",
            "tags": ["backup", "brochure"]}, BROCHURE_ZONES),
        _ensure(TILE_TITLE, "acme-cloud-backup-tile.png", social_tile_png, {
            "description": "Square tile for LinkedIn and Instagram, with your logo.",
            "tags": ["backup", "social"]}, TILE_ZONES),
    ]

