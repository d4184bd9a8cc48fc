"""The event types webhooks can carry: a registry the domain packages add to at import.

The core knows only its own events (``webhook.test``); a domain package announces its events
where it defines them, e.g. in ``syndication/leads/__init__.py``::

    from tcma.webhooks import register_event

    register_event("lead.created", "A lead was captured and routed to a partner")

Endpoints subscribe to names from this registry, and ``emit`` refuses a name that is not in
it, so a typo in a domain's ``emit("lead.creatd", ...)`` fails its tests instead of silently
reaching no one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: ``noun.verb`` in lower case, e.g. ``lead.created``, ``person.erased``.
EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$")

#: Sent by the "Send test event" button and API call only; nobody subscribes to it.
TEST_EVENT = "webhook.test"


@dataclass(frozen=True)
class EventType:
    name: str
    description: str


_registry: dict[str, EventType] = {}


def register_event(name: str, description: str) -> EventType:
    """Make ``name`` an event endpoints can subscribe to and domains can ``emit``.

    Registering the same name twice with the same description is harmless (modules may be
    imported again in tests); a different description is a clash between two packages.
    """
    if not EVENT_NAME.match(name):
        raise ValueError(f"event name {name!r} must look like 'lead.created'")
    existing = _registry.get(name)
    if existing is not None and existing.description != description:
        raise ValueError(f"event {name!r} is registered already as {existing.description!r}")
    _registry[name] = EventType(name, description)
    return _registry[name]


def is_registered(name: str) -> bool:
    return name in _registry


def subscribable_events() -> list[EventType]:
    """The events an endpoint may subscribe to, by name (the test event is sent on demand)."""
    return sorted((e for e in _registry.values() if e.name != TEST_EVENT), key=lambda e: e.name)


def describe(name: str) -> str:
    event = _registry.get(name)
    return event.description if event else ""


register_event(TEST_EVENT, "A test event sent on purpose from the webhook page or the API")
