"""Demo data for ``tcma demo`` and ``make run``: a vendor team and a handful of partners.

Idempotent: running it again finds what exists and adds only what is missing.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw
from sqlalchemy import select

from tcma.auth import service as accounts
from tcma.auth.models import Role, UserStatus
from tcma.extensions import db
from tcma.partners import service as partners
from tcma.partners.models import Partner

PASSWORD = "demo-password"

STAFF = [
    ("admin@vendor.example", "Ada Admin", Role.ADMIN),
    ("marketer@vendor.example", "Mia Marketer", Role.MARKETER),
    ("channel@vendor.example", "Chris Channel", Role.CHANNEL_MANAGER),
    ("finance@vendor.example", "Fred Finance", Role.FINANCE),
]

PARTNERS = [
    # name, tier, region, type, language, admin email, brand (None: left for the partner)
    ("Northwind IT", "gold", "EMEA", "reseller", "en", "admin@northwind.example", {
        "display_name": "Northwind IT Solutions", "contact_name": "Nora West",
        "email": "hello@northwind.example", "phone": "+44 20 7946 0000",
        "website": "https://northwind.example", "address_line1": "1 Harbour Street",
        "city": "London", "postal_code": "E14 5AB", "country": "GB",
        "primary_color": "#0a7c5a", "timezone": "Europe/London",
        "linkedin_url": "https://www.linkedin.com/company/northwind-example",
        "x_handle": "@northwind_it"}),
    ("Blue Harbor Consulting", "gold", "EMEA", "consultant", "de", "admin@blueharbor.example",
     None),
    ("Summit Reseller Group", "platinum", "AMER", "reseller", "en", "admin@summit.example", None),
    ("Pacifica Digital", "silver", "APAC", "agency", "en", "admin@pacifica.example", None),
    ("Andes Tech", "registered", "LATAM", "msp", "es", "admin@andes.example", None),
]


def _logo(color: str, text: str) -> bytes:
    image = Image.new("RGBA", (480, 160), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, 159, 159), radius=28, fill=color)
    draw.text((60, 62), text[0], fill="white", font_size=48)
    draw.text((180, 58), text, fill=color, font_size=40)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _ensure_user(email: str, name: str, role: Role, partner: Partner | None = None):
    user = accounts.find_user_by_email(email)
    if user is None:
        user = accounts.invite_user(email=email, name=name, role=role, partner=partner,
                                    notify=False)
    if user.status is not UserStatus.ACTIVE:
        accounts.set_password(user, PASSWORD)
        user.status = UserStatus.ACTIVE
    return user


def load_demo() -> dict:
    logins = []
    for email, name, role in STAFF:
        _ensure_user(email, name, role)
        logins.append((email, f"vendor {role.label.lower()}"))
    for name, tier, region, type_, language, admin_email, brand in PARTNERS:
        partner = db.session.execute(
            select(Partner).where(Partner.name == name)
        ).scalar_one_or_none()
        if partner is None:
            partner = partners.create_partner(
                {"name": name, "tier": tier, "region": region, "type": type_,
                 "language": language}, by=None)
        _ensure_user(admin_email, f"{name.split()[0]} Admin", Role.PARTNER_ADMIN, partner)
        logins.append((admin_email, f"partner admin, {name} ({tier} {region})"))
        if brand and partners.current_brand_profile(partner).version == 1:
            partners.update_brand_profile(partner, brand, by=None)
            partners.set_brand_logo(partner, _logo(brand["primary_color"], name.split()[0]),
                                    "logo.png", by=None)
    db.session.flush()
    return {"password": PASSWORD, "users": logins}
