"""Demo contacts for ``tcma demo``: Northwind IT has a few dozen subscribed contacts, so a
person trying ``make run`` can launch the demo kit at once and open the emails in /outbox.

Idempotent: a partner that already has contacts is left as it is.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from syndication.email.contacts import upsert_many
from syndication.email.fields import ContactValues
from syndication.email.models import Contact
from tcma.extensions import db
from tcma.partners.models import Partner

FIRST = ["Ava", "Ben", "Chloé", "Dmitri", "Elif", "Finn", "Grace", "Hiro", "Ines", "Jonas",
         "Kofi", "Lena", "Mateo", "Nia", "Oskar", "Priya", "Quinn", "Rosa", "Sven", "Tara",
         "Umar", "Vera", "Wen", "Ximena", "Yusuf"]
COMPANIES = ["Harbour Dental", "Kestrel Logistics", "Oakline Law", "Riverside Clinic",
             "Tidewater Retail"]


def _address(name: str, company: str) -> str:
    return f"{name.lower().replace('é', 'e')}@{company.lower().replace(' ', '')}.example"


def load_demo() -> list[str]:
    partner = db.session.execute(select(Partner).where(Partner.name == "Northwind IT")
                                 ).scalar_one_or_none()
    if partner is None:
        return []
    if db.session.scalar(select(func.count()).select_from(Contact)
                         .where(Contact.partner_id == partner.id)):
        return ["Contacts of Northwind IT (already there)"]
    consent = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)
    rows = [ContactValues(email=_address(name, COMPANIES[n % 5]),
                          fields={"first_name": name, "last_name": "Demo",
                                  "company": COMPANIES[n % 5]},
                          consent_source="Northwind newsletter sign-up", consent_at=consent)
            for n, name in enumerate(FIRST)]
    upsert_many(partner.id, rows, via="import")
    return [f"{len(rows)} contacts of Northwind IT (ready to launch the demo kit)"]
