"""Demo kits for ``tcma demo``: a published two-email campaign and a week of social posts every
demo partner can browse and launch.

Idempotent: a kit with a demo name is left as it is.
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


SOCIAL_NAME = "Cloud Backup social week"
POSTS = [
    {"key": "tile", "name": "Monday: the tile", "editable": True,
     "texts": {"linkedin": "Ransomware does not wait for a convenient moment. "
                           "{{ partner.display_name }} sets up immutable, encrypted backups "
                           "for teams like yours in a day, with a restore test every month.",
               "x": "Back up everything, restore anything: {{ partner.display_name }} sets up "
                    "Acme Cloud Backup in a day.",
               "facebook": "Your files, safe from ransomware and spilled coffee. Ask "
                           "{{ partner.display_name }} about a free 30-day trial."},
     "link": "https://www.example.com/acme-cloud-backup", "hashtags": ["backup", "security"]},
    {"key": "trial", "name": "Thursday: the trial", "editable": True,
     "texts": {"linkedin": "30 days, a real restore test, and a person who answers the "
                           "phone: try Acme Cloud Backup with {{ partner.display_name }}.",
               "x": "Free for 30 days, restore test included. Ask {{ partner.display_name }}.",
               "facebook": "Try Acme Cloud Backup free for 30 days with "
                           "{{ partner.display_name }}."},
     "link": "https://www.example.com/acme-cloud-backup/trial", "hashtags": ["backup"]},
]
POST_STEPS = [{"day": 0, "time": "10:00", "item": "tile"},
              {"day": 3, "time": "12:30", "item": "trial"}]


def load_demo() -> list[str]:
    return [_email_kit(), _social_kit()]


def _choices() -> dict[str, list[str]]:
    cfg = current_app.config
    return {"tiers": list(cfg["PARTNER_TIERS"]), "regions": list(cfg["PARTNER_REGIONS"]),
            "types": list(cfg["PARTNER_TYPES"])}


def _social_kit() -> str:
    from assets import library
    from assets.demo import TILE_TITLE

    if db.session.execute(select(Kit.id).where(Kit.name == SOCIAL_NAME)).first():
        return f"Campaign kit “{SOCIAL_NAME}” (already there)"
    author = accounts.find_user_by_email(MARKETER)
    kit = kits.create_kit({"name": SOCIAL_NAME, "goal": "Keep partners' feeds active",
                           "description": "Two posts for LinkedIn, X and Facebook: the "
                                          "co-branded tile, then the free trial.",
                           "tags": ["backup", "social"]}, by=author, **_choices())
    tile = next((a for a in library.list_assets(search=TILE_TITLE) if a.title == TILE_TITLE),
                None)
    posts = [{**POSTS[0], "image_asset_id": tile.public_id if tile else None}, POSTS[1]]
    content.put_posts(kit, posts, by=author)
    content.put_steps(kit, POST_STEPS, by=author)
    version = kits.publish(kit, by=author)
    return f"Campaign kit “{SOCIAL_NAME}” (published, version {version.number})"


def _email_kit() -> str:
    if db.session.execute(select(Kit.id).where(Kit.name == NAME)).first():
        return f"Campaign kit “{NAME}” (already there)"
    author = accounts.find_user_by_email(MARKETER)
    kit = kits.create_kit({"name": NAME, "goal": "Book backup trials",
                           "description": "Two emails: the offer, and a reminder to "
                                          "contacts who did not click.",
                           "tags": ["backup", "trial"]}, by=author, **_choices())
    content.put_emails(kit, [{**e, "from_name": "{{ partner.display_name }}"} for e in EMAILS],
                       by=author)
    content.put_steps(kit, STEPS, by=author)
    version = kits.publish(kit, by=author)
    return f"Campaign kit “{NAME}” (published, version {version.number})"
