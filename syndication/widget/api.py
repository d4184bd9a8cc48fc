"""API routes for syndicated content (the vendor's) and widgets (each partner's own)."""

from __future__ import annotations

from flask import g

from syndication.widget import content
from syndication.widget import service as widgets
from syndication.widget.api_schemas import (
    AdoptionOut,
    PartnerAdoptionOut,
    SyndicatedItemOut,
    SyndicatedItemPatch,
    WidgetOut,
    WidgetPatch,
    WidgetSnippetOut,
    WidgetStatsOut,
)
from syndication.widget.content import ItemFields
from syndication.widget.models import SyndicatedItem, Widget
from syndication.widget.service import WidgetFields
from syndication.widget.stats import adoption, widget_stats
from tcma.api import endpoint
from tcma.api.responses import json_body
from tcma.extensions import db
from tcma.partners.models import Partner


def _item_out(item: SyndicatedItem) -> SyndicatedItemOut:
    return SyndicatedItemOut.of(item, content.status_of(item))


@endpoint("/widget/items", "GET", summary="Syndicated content items (retired ones left out)",
          tag="widget", permission="widget.content", response=list[SyndicatedItemOut])
def list_widget_items():
    return json_body([_item_out(i) for i in content.list_items()])


@endpoint("/widget/items", "POST", summary="Create a syndicated content item", tag="widget",
          permission="widget.content", body=ItemFields, response=SyndicatedItemOut,
          status=201)
def create_widget_item(body: ItemFields):
    """Live on matching partners' widgets from ``publish_at`` (null: a draft) until
    ``expires_at``. ``body`` is sanitised HTML."""
    item = content.create_item(body.model_dump(mode="json"), by=g.user,
                               **content.audience_choices())
    db.session.commit()
    return json_body(_item_out(item), 201)


@endpoint("/widget/items/<item_id>", "GET", summary="One syndicated content item",
          tag="widget", permission="widget.content", response=SyndicatedItemOut)
def get_widget_item(item_id: str):
    return json_body(_item_out(content.get_item(item_id)))


@endpoint("/widget/items/<item_id>", "PATCH", summary="Change a syndicated content item",
          tag="widget", permission="widget.content", body=SyndicatedItemPatch,
          response=SyndicatedItemOut)
def update_widget_item(item_id: str, body: SyndicatedItemPatch):
    """Only the fields sent change; widgets show the change within a minute."""
    item = content.get_item(item_id)
    content.update_item(item, body.model_dump(exclude_unset=True, mode="json"), by=g.user,
                        **content.audience_choices())
    db.session.commit()
    return json_body(_item_out(item))


@endpoint("/widget/items/<item_id>", "DELETE", summary="Retire a syndicated content item",
          tag="widget", permission="widget.content", status=204)
def retire_widget_item(item_id: str):
    """The item leaves every widget for good; its counts stay."""
    content.retire_item(content.get_item(item_id), by=g.user)
    db.session.commit()
    return "", 204


# --- widgets ---------------------------------------------------------------------------------


def _widget_out(widget: Widget) -> WidgetOut:
    partner = db.session.get(Partner, widget.partner_id)
    return WidgetOut.of(widget, partner.public_id, widget_stats(widget))


@endpoint("/widgets", "GET", summary="The partner's web widgets", tag="widget",
          permission="widget.build", response=list[WidgetOut])
def list_widgets():
    return json_body([_widget_out(w) for w in widgets.list_widgets()])


@endpoint("/widgets", "POST", summary="Create a web widget", tag="widget",
          permission="widget.build", body=WidgetFields, response=WidgetOut, status=201)
def create_widget(body: WidgetFields):
    """Colours and language left out come from the partner's brand profile."""
    widget = widgets.create_widget(g.user.partner, body.model_dump(mode="json"), by=g.user)
    db.session.commit()
    return json_body(_widget_out(widget), 201)


@endpoint("/widgets/<widget_id>", "GET", summary="One web widget", tag="widget",
          permission="widget.build", response=WidgetOut)
def get_widget(widget_id: str):
    return json_body(_widget_out(widgets.get_widget(widget_id)))


@endpoint("/widgets/<widget_id>", "PATCH", summary="Change a web widget", tag="widget",
          permission="widget.build", body=WidgetPatch, response=WidgetOut)
def update_widget(widget_id: str, body: WidgetPatch):
    widget = widgets.get_widget(widget_id)
    widgets.update_widget(widget, body.model_dump(exclude_unset=True, mode="json"), by=g.user)
    db.session.commit()
    return json_body(_widget_out(widget))


@endpoint("/widgets/<widget_id>", "DELETE", summary="Delete a web widget", tag="widget",
          permission="widget.build", status=204)
def delete_widget(widget_id: str):
    """Its snippet shows nothing from now on; its counts stay."""
    widgets.delete_widget(widgets.get_widget(widget_id), by=g.user)
    db.session.commit()
    return "", 204


@endpoint("/widgets/<widget_id>/snippet", "GET", summary="A web widget's snippet",
          tag="widget", permission="widget.build", response=WidgetSnippetOut)
def get_widget_snippet(widget_id: str):
    widget = widgets.get_widget(widget_id)
    return json_body(WidgetSnippetOut(
        widget_id=widget.public_id, html=widgets.snippet(widget, g.user.partner),
        loader_url=widgets.loader_url(), fallback_url=widgets.reader_url(widget)))


@endpoint("/widgets/<widget_id>/stats", "GET", summary="A web widget's impressions, clicks "
          "and leads", tag="widget", permission="widget.build", response=WidgetStatsOut)
def get_widget_stats(widget_id: str):
    """The last 30 days, for the widget and for each item it showed."""
    widget = widgets.get_widget(widget_id)
    return json_body(WidgetStatsOut.of(widget, widget_stats(widget)))


@endpoint("/widget/adoption", "GET", summary="Which partners have a live web widget",
          tag="widget", permission="widget.content", response=AdoptionOut)
def get_widget_adoption():
    """Per partner with a widget: how many are live (seen in the last 7 days), and where."""
    report = adoption()
    return json_body(AdoptionOut(
        partners_with_widgets=report.partners_with_widgets, partners_live=report.partners_live,
        partners=[PartnerAdoptionOut(**vars(row)) for row in report.rows]))
