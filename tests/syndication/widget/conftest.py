"""Builders shared by the widget tests: live items, a branded partner and their widget."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tcma.models import utcnow

AUDIENCE = {"tiers": ["platinum", "gold", "silver", "registered"],
            "regions": ["AMER", "EMEA", "APAC", "LATAM"],
            "types": ["reseller", "agency", "consultant", "distributor", "msp"]}


def live_item(title: str = "Backup in five minutes", **fields):
    """A published article (committed), live since an hour ago unless told otherwise."""
    from syndication.widget import content
    from tcma.extensions import db

    data = {"kind": "article", "title": title, "summary": f"{title}: the summary",
            "body": f"<p>{title} body</p>", "category": "backup",
            "publish_at": (utcnow() - timedelta(hours=1)).isoformat(), **fields}
    item = content.create_item(data, by=None, **AUDIENCE)
    db.session.commit()
    return item


def branded_partner(name: str = "Northwind Traders", color: str = "#0a7a3f", **kw):
    from tcma.extensions import db
    from tcma.partners import service as partners
    from tests.factories import make_partner

    partner = make_partner(name, **kw)
    partners.update_brand_profile(partner, {"display_name": f"{name} IT",
                                            "primary_color": color,
                                            "secondary_color": "#223344"}, by=None)
    db.session.commit()
    return partner


def widget_for(partner, **fields):
    from syndication.widget import service as widgets
    from tcma.extensions import db

    widget = widgets.create_widget(partner, {"name": "Blog sidebar",
                                             "domains": ["partner.example"], **fields}, by=None)
    db.session.commit()
    return widget


@pytest.fixture
def embed(ctx):
    """A branded partner, their widget on partner.example and one live article."""
    partner = branded_partner()
    item = live_item()
    widget = widget_for(partner)
    return partner, widget, item
