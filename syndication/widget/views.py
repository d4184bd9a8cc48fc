"""Widget screens: the vendor authors syndicated items; partners build widgets, preview them
and copy their snippet."""

from __future__ import annotations

from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from syndication.widget import content, embed, impressions
from syndication.widget import service as widgets
from syndication.widget.models import ItemKind, SyndicatedItem, WidgetLayout
from syndication.widget.public_views import style_of
from syndication.widget.stats import LIVE_DAYS, widget_stats
from syndication.widget.stats import adoption as stats_adoption
from tcma.auth.permissions import requires
from tcma.errors import NotFound, ValidationFailed
from tcma.extensions import db

blueprint = Blueprint("widgets", __name__)

ITEM_TEXT_FIELDS = ("kind", "title", "summary", "body", "hero_asset_id", "asset_id",
                    "video_url", "landing_page_id", "category", "language", "allowed_tiers",
                    "allowed_regions", "allowed_types")
WIDGET_TEXT_FIELDS = ("name", "categories", "layout", "item_count", "color", "accent", "font",
                      "language", "domains")
#: The builder's fields the live preview follows.
PREVIEW_FIELDS = ("layout", "item_count", "color", "accent", "font", "language", "categories")


def _instant(raw: str) -> str | None:
    """A ``datetime-local`` input's value, read as UTC (the form says so)."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return raw  # the service names the field
    return raw if value.tzinfo else f"{raw}+00:00"


# --- vendor: syndicated items --------------------------------------------------------------------


def _item_submitted() -> dict:
    form = request.form
    data: dict = {name: form.get(name, "") for name in ITEM_TEXT_FIELDS}
    data["publish_at"] = _instant(form.get("publish_at", ""))
    data["expires_at"] = _instant(form.get("expires_at", ""))
    return data


def _item_values(item: SyndicatedItem | None) -> dict:
    if item is None:
        return {"kind": "article", "language": "en"}
    values = {name: getattr(item, name) for name in content.ITEM_FIELDS}
    values["kind"] = item.kind.value
    for name in ("allowed_tiers", "allowed_regions", "allowed_types"):
        values[name] = ", ".join(values[name])
    for name in ("publish_at", "expires_at"):
        values[name] = values[name].strftime("%Y-%m-%dT%H:%M") if values[name] else ""
    return {k: ("" if v is None else v) for k, v in values.items()}


def _item_editor(item: SyndicatedItem | None, values: dict,
                 errors: ValidationFailed | None = None):
    return render_template("widget/item_edit.html", item=item, form=values, errors=errors,
                           kinds=[k.value for k in ItemKind], audience=content.audience_choices(),
                           live=content.is_live(item) if item else False), (
        422 if errors else 200)


@blueprint.get("/widgets/content")
@requires("widget.content")
def items():
    found = content.list_items(include_retired=bool(request.args.get("retired")))
    return render_template("widget/items.html", items=found, status_of=content.status_of)


@blueprint.route("/widgets/content/new", methods=["GET", "POST"])
@requires("widget.content")
def new_item():
    if request.method == "GET":
        return _item_editor(None, _item_values(None))
    data = _item_submitted()
    try:
        item = content.create_item(data, by=g.user, **content.audience_choices())
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _item_editor(None, {**data, "publish_at": request.form.get("publish_at", ""),
                                   "expires_at": request.form.get("expires_at", "")}, exc)
    flash(f"“{item.title}” saved.", "success")
    return redirect(url_for("widgets.edit_item", item_id=item.public_id))


def _item_or_404(item_id: str) -> SyndicatedItem:
    try:
        return content.get_item(item_id)
    except NotFound:
        abort(404)


@blueprint.route("/widgets/content/<item_id>", methods=["GET", "POST"])
@requires("widget.content")
def edit_item(item_id: str):
    item = _item_or_404(item_id)
    if request.method == "GET":
        return _item_editor(item, _item_values(item))
    data = _item_submitted()
    try:
        content.update_item(item, data, by=g.user, **content.audience_choices())
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _item_editor(_item_or_404(item_id), {
            **data, "publish_at": request.form.get("publish_at", ""),
            "expires_at": request.form.get("expires_at", "")}, exc)
    flash("Item saved: partners' widgets show the change within a minute.", "success")
    return redirect(url_for("widgets.edit_item", item_id=item.public_id))


@blueprint.post("/widgets/content/<item_id>/retire")
@requires("widget.content")
def retire_item(item_id: str):
    item = _item_or_404(item_id)
    content.retire_item(item, by=g.user)
    db.session.commit()
    flash(f"“{item.title}” retired: it is gone from every widget.", "success")
    return redirect(url_for("widgets.items"))


# --- partner: widgets ----------------------------------------------------------------------------


def _widget_submitted() -> dict:
    form = request.form
    return {name: form.get(name, "") for name in WIDGET_TEXT_FIELDS}


def _widget_values(widget) -> dict:
    if widget is None:
        defaults = widgets.brand_defaults(g.user.partner)
        return {"name": "", "layout": "grid", "item_count": 6, **defaults,
                "categories": "", "domains": ""}
    values = {name: getattr(widget, name) for name in WIDGET_TEXT_FIELDS}
    values["layout"] = widget.layout.value
    values["categories"] = ", ".join(widget.categories)
    values["domains"] = "\n".join(widget.domains)
    return values


def _widget_editor(widget, values: dict, errors: ValidationFailed | None = None):
    partner = g.user.partner
    stats = widget_stats(widget) if widget else None
    return render_template(
        "widget/widget_edit.html", widget=widget, form=values, errors=errors,
        layouts=[layout.value for layout in WidgetLayout], fonts=list(widgets.FONTS),
        categories=content.categories(),
        snippet=widgets.snippet(widget, partner) if widget else None,
        stats=stats, item_stats=stats.by_item if stats else [],
        preview_url=url_for("widgets.preview", **{name: values.get(name) or "" for name in
                                                  PREVIEW_FIELDS}),
    ), (422 if errors else 200)


@blueprint.get("/widgets/adoption")
@requires("widget.content")
def adoption():
    """For the vendor: which partners have a live widget, and where it was last seen."""
    return render_template("widget/adoption.html", report=stats_adoption(),
                           live_days=LIVE_DAYS)


@blueprint.get("/widgets")
@requires("widget.build")
def index():
    found = widgets.list_widgets()
    partner = g.user.partner
    return render_template("widget/widgets.html", widgets=found,
                           snippets={w.id: widgets.snippet(w, partner) for w in found},
                           stats={w.id: impressions.impression_stats(w) for w in found})


@blueprint.route("/widgets/new", methods=["GET", "POST"])
@requires("widget.build")
def new_widget():
    if request.method == "GET":
        return _widget_editor(None, _widget_values(None))
    data = _widget_submitted()
    try:
        widget = widgets.create_widget(g.user.partner, data, by=g.user)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _widget_editor(None, data, exc)
    flash(f"“{widget.name}” is ready: copy its snippet into your site.", "success")
    return redirect(url_for("widgets.edit_widget", widget_id=widget.public_id))


@blueprint.route("/widgets/<widget_id>", methods=["GET", "POST"])
@requires("widget.build")
def edit_widget(widget_id: str):
    widget = widgets.get_widget(widget_id)
    if request.method == "GET":
        return _widget_editor(widget, _widget_values(widget))
    data = _widget_submitted()
    try:
        widgets.update_widget(widget, data, by=g.user)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _widget_editor(widgets.get_widget(widget_id), data, exc)
    flash("Widget saved: your site shows the change within a minute.", "success")
    return redirect(url_for("widgets.edit_widget", widget_id=widget.public_id))


@blueprint.post("/widgets/<widget_id>/delete")
@requires("widget.build")
def delete_widget(widget_id: str):
    widget = widgets.get_widget(widget_id)
    widgets.delete_widget(widget, by=g.user)
    db.session.commit()
    flash("Widget deleted: its snippet shows nothing any more.", "success")
    return redirect(url_for("widgets.index"))


@blueprint.get("/widgets/preview")
@requires("widget.build")
def preview():
    """The builder's live preview: the widget as the form stands (unsaved), with the
    partner's live items; links go nowhere and nothing is counted."""
    partner = g.user.partner
    values = {name: value for name in PREVIEW_FIELDS if (value := request.args.get(name))}
    values["name"] = "Preview"
    try:
        fields = widgets.WidgetFields.model_validate(values)
    except Exception:  # noqa: BLE001 (half-typed input: show the brand's defaults)
        fields = widgets.WidgetFields(name="Preview")
    defaults = widgets.brand_defaults(partner)
    draft = _Draft(layout=fields.layout, item_count=fields.item_count,
                   color=fields.color or defaults["color"],
                   accent=fields.accent or defaults["accent"], font=fields.font,
                   language=fields.language or defaults["language"],
                   categories=fields.categories, token="")
    found = content.live_items(partner, categories=draft.categories, language=draft.language)
    slots = 1 if draft.layout is WidgetLayout.BANNER else draft.item_count
    cards = [embed.Card(i.public_id, i.kind.value, i.title, i.summary, "#",
                          embed.ACTIONS[i.kind]) for i in found[:slots]]
    response = current_app.make_response(render_template(
        "widget/embed.html", widget=draft, cards=cards, style=style_of(draft, partner),
        parent=None, beacon=None, preview=True))
    response.headers["Cache-Control"] = "no-store"
    return response


class _Draft:
    """A widget's look before it is saved, as the embed template reads it."""

    def __init__(self, **values):
        self.__dict__.update(values)

