"""Leads: what landing-page forms capture, deduplicated, attributed to a partner, announced,
and worked through their statuses in the partner's inbox."""

from tcma.webhooks import register_event

register_event("lead.created", "A lead was captured from a landing-page form")
register_event("lead.updated", "A lead changed: sent again, given a new status, a note "
                               "added, or offered, accepted, pulled back or assigned to a "
                               "partner")
