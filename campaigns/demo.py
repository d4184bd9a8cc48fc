"""Demo kit for ``tcma demo``: a published two-email campaign every demo partner can browse.

Idempotent: a kit with the demo name is left as it is.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from campaigns import content, kits
from campaigns.models import Kit
from tcma.auth import service as accounts
from tcma.extensions import db

NAME = "Cloud Backup spring campaign"
MARKETER = "marketer@vendor.example"


def _body(intro: str, text: str) -> str:
    return f"""<mjml>
  <mj-body background-color="#f4f5f7">
    <mj-section background-color="#ffffff">
      <mj-column>
        <mj-text font-size="20px" font-weight="bold">{{{{ partner.display_name }}}}</mj-text>
        <mj-text css-class="tcma-editable" tcma-block="intro">{intro}</mj-text>
        <mj-text>{text}</mj-text>
        <mj-button href="{{{{ partner.website }}}}">Start your free trial</mj-button>
        <mj-text>Questions? Call {{{{ partner.contact_name }}}} on
          {{{{ partner.phone }}}}.</mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>
"""


EMAILS = [
    {"key": "welcome", "name": "Day 0: the offer",
     "subject": "{{ contact.first_name }}, back up everything in minutes",
     "preheader": "A 30-day free trial, set up with {{ partner.display_name }}",
     "mjml": _body("Hello {{ contact.first_name }},",
                   "Ransomware, a deleted mailbox, a laptop left on a train: every business "
                   "loses data sooner or later. Acme Cloud Backup keeps an immutable copy.")},
    {"key": "reminder", "name": "Day 3: reminder to non-clickers",
     "subject": "Still thinking about backups, {{ contact.first_name }}?",
     "preheader": "Your trial is one click away",
     "mjml": _body("Hi {{ contact.first_name }},",
                   "We set up the trial with you, including a test restore.")},
]
STEPS = [{"day": 0, "time": "09:00", "item": "welcome"},
         {"day": 3, "time": "09:00", "item": "reminder", "audience": "non_clickers",
          "audience_step": 1}]


def load_demo() -> list[str]:
    if db.session.execute(select(Kit.id).where(Kit.name == NAME)).first():
        return [f"Campaign kit “{NAME}” (already there)"]
    author = accounts.find_user_by_email(MARKETER)
    cfg = current_app.config
    kit = kits.create_kit({"name": NAME, "goal": "Book backup trials",
                           "description": "Two emails: the offer, and a reminder to "
                                          "contacts who did not click.",
                           "tags": ["backup", "trial"]}, by=author,
                          tiers=list(cfg["PARTNER_TIERS"]), regions=list(cfg["PARTNER_REGIONS"]),
                          types=list(cfg["PARTNER_TYPES"]))
    content.put_emails(kit, [{**e, "from_name": "{{ partner.display_name }}"} for e in EMAILS],
                       by=author)
    content.put_steps(kit, STEPS, by=author)
    version = kits.publish(kit, by=author)
    return [f"Campaign kit “{NAME}” (published, version {version.number})"]
