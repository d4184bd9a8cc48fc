"""Demo tracking links for ``tcma demo``: each demo partner's links to the vendor's offer
pages, with two weeks of clicks (people, repeats, previews, bots, scanners) so the link pages
show what honest counts look like. Idempotent: a partner's links are found again by their
inputs, and clicks are added only to links that have none.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import func, select

from syndication.links import service
from syndication.links.clicks import visitor_hashes
from syndication.links.models import Channel, Click, ClickKind
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner, PartnerStatus

LINKS = [
    ("https://www.example.com/cloud-backup?lang=en", Channel.EMAIL, "cloud-backup-kit",
     "email-1"),
    ("https://www.example.com/cloud-backup/webinar", Channel.SOCIAL, "cloud-backup-kit",
     "linkedin-post"),
    ("https://www.example.com/cloud-backup/brochure", Channel.QR, "cloud-backup-brochure",
     None),
]
AGENTS = {
    None: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0",
    ClickKind.PREVIEW: "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient)",
    ClickKind.BOT: "python-requests/2.32",
    ClickKind.SCANNER: "Mozilla/5.0 (compatible; Barracuda Sentinel)",
}


def load_demo() -> list[str]:
    partners = db.session.execute(select(Partner).where(
        Partner.status == PartnerStatus.ACTIVE).order_by(Partner.id)).scalars().all()
    made = 0
    for number, partner in enumerate(partners):
        rng = random.Random(partner.slug)  # the same demo every time
        for destination, channel, campaign, content in LINKS:
            link = service.link_for(partner, destination, channel, service.LinkSource(
                campaign=campaign, content=content, type="demo"))
            db.session.flush()
            has_clicks = db.session.execute(select(func.count()).select_from(Click).where(
                Click.link_id == link.id)).scalar_one()
            if not has_clicks:
                made += _clicks(link, partner, rng, people=max(4, 30 - number * 6))
    db.session.flush()
    return [f"tracking links for {len(partners)} partners, {made} demo clicks"]


def _clicks(link, partner, rng: random.Random, people: int) -> int:
    now = utcnow()
    rows = []
    for n in range(people):
        at = now - timedelta(days=rng.uniform(0, 14))
        ip = f"198.51.100.{n % 250}"
        kind = rng.choices([None, ClickKind.REPEAT, ClickKind.PREVIEW, ClickKind.BOT,
                            ClickKind.SCANNER], weights=[60, 15, 10, 8, 7])[0]
        agent = AGENTS.get(kind, AGENTS[None])
        ip_hash, visitor = visitor_hashes(ip, agent)
        rows.append(Click(click_id=service.new_click_id(link.code), link_id=link.id,
                          partner_id=partner.id, occurred_at=at, visitor=visitor,
                          ip_hash=ip_hash, user_agent=agent, referrer="", kind=kind,
                          reason="" if kind in (None, ClickKind.REPEAT) else "demo data",
                          is_human=kind in (None, ClickKind.REPEAT), is_unique=kind is None))
    db.session.add_all(rows)
    return len(rows)
