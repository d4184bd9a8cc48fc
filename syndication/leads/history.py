"""A lead's history as each viewer may see it: vendor staff all of it; a partner what
happened while the lead was theirs and what no partner did, never another partner's offers,
answers, notes or name (a lead routed on keeps its history, partners only see their part)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syndication.leads.models import Lead, LeadEventKind
from tcma.auth.models import User

#: Events about who has the lead; partners see their own without the vendor's details.
ROUTING_KINDS = frozenset({LeadEventKind.OFFERED, LeadEventKind.OFFER_ACCEPTED,
                           LeadEventKind.OFFER_DECLINED, LeadEventKind.OFFER_EXPIRED,
                           LeadEventKind.ASSIGNED, LeadEventKind.UNROUTED})


@dataclass(frozen=True)
class EventView:
    """A history row as one viewer may see it (never written back)."""

    kind: LeadEventKind
    occurred_at: datetime
    actor_label: str
    from_status: str | None
    to_status: str | None
    text: str | None
    data: dict | None
    mine: bool  # about the viewer's own partner (routing events say "you")


def history(lead: Lead, viewer: User | None) -> list[EventView]:
    """The lead's history, oldest first. Vendor staff see everything. A partner sees what
    happened while the lead was theirs, and what no partner did; never another partner's
    offers, answers, notes, or names, nor the vendor's rule details."""
    partner_id = None if viewer is None or viewer.is_vendor else viewer.partner_id
    out = []
    for e in lead.events:
        if partner_id is not None and e.partner_id not in (None, partner_id):
            continue
        data = e.data
        if partner_id is not None and e.kind in ROUTING_KINDS:
            data = {k: v for k, v in (e.data or {}).items() if k == "expires_at"} or None
        out.append(EventView(e.kind, e.occurred_at, e.actor_label, e.from_status, e.to_status,
                             e.text, data, mine=partner_id is not None and
                             e.partner_id == partner_id))
    return out
