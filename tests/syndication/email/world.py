"""What launch tests start from: a partner ready to send, contacts, a published kit."""

from __future__ import annotations

from datetime import UTC, datetime

from campaigns import content, kits
from syndication.email.contacts import upsert_many
from syndication.email.fields import ContactValues
from tcma.extensions import db
from tcma.partners import service as partners
from tests.factories import make_partner

CHOICES = {"tiers": ["platinum", "gold", "silver", "registered"],
           "regions": ["AMER", "EMEA", "APAC", "LATAM"],
           "types": ["reseller", "agency", "consultant", "distributor", "msp"]}

BODY = """<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text css-class="tcma-editable" tcma-block="intro">Hi {{ contact.first_name }},</mj-text>
        <mj-text>Call {{ partner.display_name }} on {{ partner.phone }}.</mj-text>
        <mj-button href="https://vendor.example/backup?plan=pro&amp;x=1#top">
          See the plan</mj-button>
        <mj-text><a href="{{ partner.website }}">Our site</a> or
          <a href="mailto:{{ partner.email }}">write to us</a>.</mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>
"""
EMAILS = [
    {"key": "welcome", "name": "Welcome", "subject": "Hi {{ contact.first_name }}, back up now",
     "preheader": "From {{ partner.display_name }}", "from_name": "{{ partner.display_name }}",
     "mjml": BODY},
    {"key": "reminder", "name": "Reminder", "subject": "Still thinking, {{ contact.first_name }}?",
     "from_name": "{{ partner.contact_name }} at {{ partner.display_name }}", "mjml": BODY},
]
STEPS = [{"day": 0, "time": "09:00", "item": "welcome"},
         {"day": 3, "time": "10:30", "item": "reminder", "audience": "non_clickers",
          "audience_step": 1}]
BRAND = {"display_name": "Müller Systemhaus", "contact_name": "Anna Müller",
         "email": "anna@mueller.example", "phone": "+49 30 1234567",
         "website": "https://mueller.example/", "address_line1": "Hauptstraße 5",
         "city": "Berlin", "postal_code": "10115", "country": "DE",
         "timezone": "Europe/Berlin"}


def ready_partner(name: str = "Müller Systemhaus", **brand):
    partner = make_partner(name)
    partners.update_brand_profile(partner, {**BRAND, **brand}, by=None)
    db.session.commit()
    return partner


def add_contacts(partner, count: int, *, domain: str = "example.com", start: int = 0) -> list[str]:
    """``count`` subscribed contacts (first names Person<n>); returns their addresses."""
    consent = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    emails = [f"person{n}@{domain}" for n in range(start, start + count)]
    for chunk in range(0, count, 1000):
        upsert_many(partner.id, [
            ContactValues(email=e, fields={"first_name": f"Person{start + chunk + i}",
                                           "last_name": "Tester"},
                          consent_source="trade show 2026", consent_at=consent)
            for i, e in enumerate(emails[chunk:chunk + 1000])], via="import")
    db.session.commit()
    return emails


def published_kit(name: str = "Backup spring kit", steps=None, emails=None, **fields):
    kit = kits.create_kit({"name": name, **fields}, by=None, **CHOICES)
    content.put_emails(kit, emails or EMAILS, by=None)
    content.put_steps(kit, steps or STEPS, by=None)
    kits.publish(kit, by=None)
    db.session.commit()
    return kit
