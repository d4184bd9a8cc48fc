"""Signed outgoing webhooks: the vendor's systems (a CRM, usually) hear about events as they
happen.

Domain packages use two names from here and nothing else::

    from tcma.webhooks import emit, register_event

    register_event("lead.created", "A lead was captured and routed to a partner")  # at import
    ...
    emit("lead.created", {"lead_id": lead.public_id, ...})  # inside the transaction

``emit`` adds the deliveries to the caller's transaction; they are sent once it commits.
"""

from __future__ import annotations

from tcma.webhooks.deliveries import emit
from tcma.webhooks.events import register_event

__all__ = ["emit", "register_event"]
