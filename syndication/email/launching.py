"""The email channel of launches: what ``campaigns.channels`` calls for a kit's email steps.

Registered when the app is built (``init_app``), since campaigns may not import syndication.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from campaigns import channels
from campaigns.models import KitVersion, Launch, LaunchStep
from syndication.email import lists, sending
from syndication.email.models import ContactList
from tcma.errors import FieldError, ValidationFailed
from tcma.extensions import db
from tcma.partners.models import Partner


class EmailChannel:
    """Kit email steps go to the members of one of the partner's contact lists."""

    def prepare(self, partner: Partner, version: KitVersion,
                options: dict[str, Any]) -> dict[str, Any]:
        list_id = options.get("list_id")
        if not list_id:
            return {"list_id": lists.default_list(partner.id).public_id}
        found = db.session.execute(
            select(ContactList).where(ContactList.public_id == str(list_id),
                                      ContactList.partner_id == partner.id)
        ).scalar_one_or_none()
        if found is None:
            raise ValidationFailed([FieldError("list_id", "No such contact list.")])
        return {"list_id": found.public_id}

    def problems(self, partner: Partner, version: KitVersion,
                 options: dict[str, Any]) -> list[str]:
        list_id = options.get("list_id")
        contact_list = (db.session.execute(
            select(ContactList).where(ContactList.public_id == list_id,
                                      ContactList.partner_id == partner.id)
        ).scalar_one_or_none() if list_id else lists.default_list(partner.id))
        if contact_list is None:
            return ["Choose one of your contact lists."]
        reachable = lists.counts([contact_list])[contact_list.id].sendable
        if not reachable:
            return [f"Your list “{contact_list.name}” has no subscribed contacts: import "
                    "contacts first."]
        return []

    def audiences(self, partner: Partner) -> list[dict[str, Any]]:
        found = lists.all_lists(partner)
        counts = lists.counts(found)
        return [{"id": c.public_id, "name": c.name, "default": c.is_default,
                 "reachable": counts[c.id].sendable} for c in found]

    def scheduled(self, launch: Launch) -> None:
        pass  # the ledger is written when a step starts: the list may change until then

    def start_step(self, step: LaunchStep) -> None:
        sending.start_step(step)

    def resume(self, launch: Launch) -> None:
        sending.resume(launch)

    def cancel(self, launch: Launch) -> None:
        sending.cancel(launch)

    def progress(self, launches: list[Launch]) -> dict[int, dict[str, int]]:
        return sending.counts(launches)


def init_app(app: Flask) -> None:
    from syndication.links import clicks

    channels.register("email", EmailChannel())
    if sending.delivery_times not in clicks.delivery_lookups:
        clicks.delivery_lookups.append(sending.delivery_times)
