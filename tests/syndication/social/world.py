"""What post tests start from: a partner with connected accounts and a kit of posts."""

from __future__ import annotations

from sqlalchemy import select

from campaigns import content, kits
from campaigns.posts import put_posts
from syndication.social.models import Network, SocialAccount
from tcma.extensions import db
from tcma.partners import service as partners
from tests.factories import csrf_from
from tests.syndication.email.world import BRAND, CHOICES, EMAILS
from tests.syndication.social.conftest import approve, start

POSTS = [{"key": "announce", "name": "Announcement",
          "texts": {"linkedin": "{{ partner.display_name }} now offers cloud backup. "
                                "Ask us: {{ partner.phone }}",
                    "x": "Cloud backup from {{ partner.display_name }}",
                    "facebook": "{{ partner.display_name }} has cloud backup for you."},
          "link": "https://vendor.example/backup?plan=pro",
          "hashtags": ["backup", "cloud"], "editable": True}]
POST_STEPS = [{"day": 0, "time": "09:00", "item": "announce"}]


def connect_accounts(client, user, networks=("linkedin", "x")) -> list[SocialAccount]:
    """Connect the partner admin's partner to each network's fake (LinkedIn: the member's
    profile; Facebook: the first Page), with a complete brand profile."""
    partners.update_brand_profile(user.partner, dict(BRAND), by=None)
    db.session.commit()
    for network in networks:
        response = client.get(approve(start(client, network)))
        if response.headers.get("Location") == "/social/pick":
            picker = client.get("/social/pick").get_data(as_text=True)
            pick = {"linkedin": "782bbtaQ", "facebook": "104858"}[network]
            done = client.post("/social/pick", data={"csrf_token": csrf_from(picker),
                                                     "accounts": [pick]})
            assert done.status_code == 302
    db.session.expire_all()
    return list(db.session.execute(select(SocialAccount).where(
        SocialAccount.partner_id == user.partner_id).order_by(SocialAccount.id)).scalars())


def account_on(accounts: list[SocialAccount], network: str) -> SocialAccount:
    return next(a for a in accounts if a.network is Network(network))


def post_kit(name: str = "Cloud backup posts", *, posts=None, steps=None, emails=None,
             **fields):
    """A published kit of posts (and emails, when given)."""
    kit = kits.create_kit({"name": name, **fields}, by=None, **CHOICES)
    if emails:
        content.put_emails(kit, EMAILS if emails is True else emails, by=None)
    put_posts(kit, posts or POSTS, by=None)
    content.put_steps(kit, steps or POST_STEPS, by=None)
    kits.publish(kit, by=None)
    db.session.commit()
    return kit


def image_asset():
    """A published image asset every partner may use (no zones: the copy is the picture)."""
    import io

    from PIL import Image

    from assets import library
    from assets.models import AssetStatus

    image = io.BytesIO()
    Image.new("RGB", (1200, 628), "#0a66c2").save(image, "PNG")
    asset = library.create_asset({"title": "Backup banner"}, image.getvalue(), "banner.png",
                                 by=None, tiers=["gold"], regions=["EMEA"])
    asset.status = AssetStatus.PUBLISHED
    db.session.commit()
    return asset
