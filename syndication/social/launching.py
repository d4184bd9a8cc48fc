"""The post channel of launches: what ``campaigns.channels`` calls for a kit's post steps.

Registered when the app is built (``init_app``), since campaigns may not import syndication.
A launch's option ``social_account_ids`` names the partner's accounts its posts go to; left
out, every account on a network the kit writes for.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from campaigns import channels
from campaigns.models import KitVersion, Launch, LaunchStep
from syndication.social import scheduling
from tcma.partners.models import Partner


class PostChannel:
    def prepare(self, partner: Partner, version: KitVersion,
                options: dict[str, Any]) -> dict[str, Any]:
        return {"social_account_ids": scheduling.choose_accounts(
            partner, version, options.get("social_account_ids"))}

    def problems(self, partner: Partner, version: KitVersion,
                 options: dict[str, Any]) -> list[str]:
        # A kit that also emails still launches without accounts: its posts just have
        # nowhere to go. A kit of posts alone would do nothing, so it says so.
        if any(i.get("kind") == "email" for i in version.content.get("items", [])):
            return []
        chosen = options.get("social_account_ids")
        if chosen is None:
            chosen = [a.public_id for a in scheduling.usable_accounts(partner, version)]
        if not chosen:
            from syndication.social.models import Network

            labels = sorted(Network(n).label for n in scheduling.post_networks(version))
            names = (", ".join(labels[:-1]) + " or " + labels[-1]) if len(labels) > 1 \
                else "".join(labels)
            return [f"Connect a {names or 'social'} account to publish this kit's posts."]
        return []

    def audiences(self, partner: Partner) -> list[dict[str, Any]]:
        from syndication.social.models import SocialAccount
        from tcma.extensions import db

        rows = db.session.execute(db.select(SocialAccount).where(
            SocialAccount.partner_id == partner.id)
            .order_by(SocialAccount.network, SocialAccount.display_name)).scalars()
        return [{"id": a.public_id, "name": f"{a.network.label}: {a.display_name}",
                 "network": a.network.value, "default": True,
                 "reachable": a.status.value != "broken"} for a in rows]

    def scheduled(self, launch: Launch) -> None:
        scheduling.schedule(launch)

    def start_step(self, step: LaunchStep) -> None:
        scheduling.start_step(step)

    def resume(self, launch: Launch) -> None:
        scheduling.resume(launch)

    def cancel(self, launch: Launch) -> None:
        scheduling.cancel(launch)

    def progress(self, launches: list[Launch]) -> dict[int, dict[str, int]]:
        return scheduling.counts(launches)

    def messages(self, launch: Launch) -> list[dict[str, Any]]:
        from flask import url_for
        from sqlalchemy import select

        from syndication.social.models import SocialPost
        from tcma.extensions import db

        numbers = {s.id: s.number for s in launch.steps}
        posts = db.session.execute(select(SocialPost).where(
            SocialPost.launch_id == launch.id).order_by(SocialPost.due_at, SocialPost.id)
        ).scalars()
        return [{"step": numbers.get(p.step_id), "title": f"{p.network.label}: {p.account_name}",
                 "status": p.status.value, "due_at": p.due_at, "detail": p.error,
                 "url": url_for("social.post_page", post_id=p.public_id),
                 "external_url": p.external_url, "external_id": p.external_id}
                for p in posts]


def init_app(app: Flask) -> None:
    channels.register("post", PostChannel())
