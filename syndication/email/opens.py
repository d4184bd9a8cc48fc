"""Opens: a one-pixel image in each campaign email, fetched when the email is displayed.

Opens are approximate and shown as such. Apple Mail Privacy Protection and Gmail's image
proxy fetch every image on delivery or on their own schedule, and security scanners render
messages seconds after delivery, so such opens are recorded but flagged ``machine_open``;
a later open that looks like a person clears the flag. Follow-up steps "to non-openers"
count machine opens as not opened.
"""

from __future__ import annotations

import base64
import re
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from syndication.email.models import Delivery
from syndication.links.classify import BOT_AGENTS, SCANNER_AGENTS
from tcma.extensions import db
from tcma.models import utcnow

#: A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
#: Image proxies that fetch for the reader's mail provider, not when the reader looks.
PROXY_AGENTS = re.compile(r"googleimageproxy|yahoomailproxy|ymailproxy|"
                          r"^mozilla/5\.0$|outlook.*proxy", re.IGNORECASE)
#: An open this soon after sending is a scanner or a provider's prefetch.
MACHINE_SECONDS = 10
_REF = re.compile(r"^[A-Za-z0-9_-]{16,32}$")


def pixel_url(ref: str) -> str:
    return f"{current_app.config['BASE_URL'].rstrip('/')}/o/{ref}.gif"


def is_machine(user_agent: str, seconds_since_sent: float | None) -> bool:
    agent = (user_agent or "").strip()
    return (not agent or bool(PROXY_AGENTS.search(agent)) or bool(BOT_AGENTS.search(agent))
            or bool(SCANNER_AGENTS.search(agent))
            or (seconds_since_sent is not None and seconds_since_sent < MACHINE_SECONDS))


def record(ref: str, user_agent: str) -> bool:
    """Note an open of the delivery ``ref``; True when something changed. At most two writes
    per delivery ever (the first open, and the first human one after machine opens)."""
    if not _REF.match(ref or ""):
        return False
    found = db.session.execute(
        select(Delivery.id, Delivery.sent_at, Delivery.opened_at, Delivery.machine_open)
        .where(Delivery.ref == ref)).first()
    if found is None or found.sent_at is None:
        return False
    now = utcnow()
    machine = is_machine(user_agent, (now - found.sent_at) / timedelta(seconds=1))
    if found.opened_at is not None and (machine or found.machine_open is False):
        return False
    values = {"machine_open": machine}
    if found.opened_at is None:
        values["opened_at"] = now
    db.session.execute(update(Delivery).where(Delivery.id == found.id).values(**values)
                       .execution_options(synchronize_session=False))
    return True
