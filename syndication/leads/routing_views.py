"""Routing screens: the channel manager's rules (list, edit, reorder, delete), the vendor's
lead import, assigning a lead by hand, and the partner's Accept / Decline on an offer."""

from __future__ import annotations

import re

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

from syndication.leads import importer, inbox, routing, rules
from syndication.leads.countries import COUNTRIES
from syndication.leads.routing_models import DEFAULT_WINDOW_HOURS, RoutingRule
from tcma.auth.permissions import requires
from tcma.errors import DomainError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.partners import service as partners

blueprint = Blueprint("lead_routing", __name__)

_LIST_SPLIT = re.compile(r"[\s,;]+")


def _rule(routing_rule_id: str) -> RoutingRule:
    try:
        return rules.get_rule(routing_rule_id)
    except NotFound:
        abort(404)


def _lead(lead_id: str):
    try:
        return inbox.get_lead(lead_id)
    except NotFound:
        abort(404)


@blueprint.get("/leads/routing")
@requires("leads.route")
def index():
    found = rules.list_rules()
    return render_template("leads/routing.html", rules=found,
                           counts=rules.eligible_counts(found), countries=COUNTRIES)


def _submitted() -> dict:
    form = request.form

    def words(name: str) -> list[str]:
        return [w for w in _LIST_SPLIT.split(form.get(name, "")) if w]

    return {
        "name": form.get("name", ""), "enabled": bool(form.get("enabled")),
        "countries": words("countries"), "regions": form.getlist("regions"),
        "languages": words("languages"), "partner_tiers": form.getlist("partner_tiers"),
        "partner_regions": form.getlist("partner_regions"),
        "partner_languages": words("partner_languages"),
        "partner_types": form.getlist("partner_types"),
        "same_region": bool(form.get("same_region")),
        "strategy": form.get("strategy", "round_robin"),
        "fixed_partner_id": form.get("fixed_partner_id") or None,
        "window_hours": form.get("window_hours") or DEFAULT_WINDOW_HOURS,
    }


def _editor(rule: RoutingRule | None, values: dict, errors: ValidationFailed | None = None):
    active, _ = partners.list_partners(status="active", limit=1000)
    cfg = current_app.config
    return render_template(
        "leads/routing_form.html", rule=rule, form=values, errors=errors, partners=active,
        choices={"tiers": cfg["PARTNER_TIERS"], "regions": cfg["PARTNER_REGIONS"],
                 "types": cfg["PARTNER_TYPES"]},
        eligible=rules.eligible_counts([rule])[rule.id] if rule else None,
    ), (422 if errors else 200)


@blueprint.route("/leads/routing/new", methods=["GET", "POST"])
@requires("leads.route")
def new():
    if request.method == "GET":
        return _editor(None, {"enabled": True, "strategy": "round_robin",
                              "window_hours": DEFAULT_WINDOW_HOURS})
    values = _submitted()
    try:
        rule = rules.create_rule(values, by=g.user)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _editor(None, values, exc)
    flash(f"Rule “{rule.name}” added.", "success")
    return redirect(url_for("lead_routing.index"))


@blueprint.route("/leads/routing/<routing_rule_id>", methods=["GET", "POST"])
@requires("leads.route")
def edit(routing_rule_id: str):
    rule = _rule(routing_rule_id)
    if request.method == "GET":
        return _editor(rule, rules.values_of(rule))
    values = _submitted()
    try:
        rules.update_rule(rule, dict(values), by=g.user)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _editor(_rule(routing_rule_id), values, exc)
    flash("Rule saved.", "success")
    return redirect(url_for("lead_routing.index"))


@blueprint.post("/leads/routing/<routing_rule_id>/move")
@requires("leads.route")
def move(routing_rule_id: str):
    rule = _rule(routing_rule_id)
    step = -1 if request.form.get("direction") == "up" else 1
    rules.move_rule(rule, max(1, rule.position + step))
    db.session.commit()
    return redirect(url_for("lead_routing.index"))


@blueprint.post("/leads/routing/<routing_rule_id>/delete")
@requires("leads.route")
def delete(routing_rule_id: str):
    rule = _rule(routing_rule_id)
    name = rule.name
    rules.delete_rule(rule, by=g.user)
    db.session.commit()
    flash(f"Rule “{name}” deleted.", "success")
    return redirect(url_for("lead_routing.index"))


@blueprint.route("/leads/import", methods=["GET", "POST"])
@requires("leads.route")
def import_csv():
    report, error = None, None
    if request.method == "POST":
        upload = request.files.get("file")
        limit = current_app.config["CSV_MAX_BYTES"]
        raw = upload.read(limit + 1) if upload else b""
        if not raw:
            error = "Choose a CSV file to import."
        elif len(raw) > limit:
            error = f"The file is larger than {limit // 1_048_576} MB; split it."
        else:
            try:
                report = importer.import_csv(raw, by=g.user,
                                             dry_run=request.form.get("dry_run") == "1")
            except DomainError as exc:
                report, error = None, exc.message
            if report is not None and report.outcome and report.outcome.imported:
                db.session.commit()
                flash(f"Imported {report.lines} leads.", "success")
            else:
                db.session.rollback()
    return render_template("leads/import.html", report=report, error=error,
                           columns=importer.CSV_COLUMNS), (422 if error or (
                               report and (report.errors or report.file_error)) else 200)


# --- one lead ------------------------------------------------------------------------------


def _done(lead_id: str, action, message: str, *, gone: bool = False):
    """Run a lead action; flash its outcome; back to the lead (or the inbox when it left)."""
    try:
        action()
        db.session.commit()
        flash(message, "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        gone = False
    if gone:
        return redirect(url_for("leads.index"))
    return redirect(url_for("leads.show", lead_id=lead_id))


@blueprint.post("/leads/<lead_id>/accept")
@requires("leads.manage")
def accept(lead_id: str):
    lead = _lead(lead_id)
    return _done(lead_id, lambda: routing.accept(lead, by=g.user),
                 "You accepted the lead: it is yours to work.")


@blueprint.post("/leads/<lead_id>/decline")
@requires("leads.manage")
def decline(lead_id: str):
    lead = _lead(lead_id)
    return _done(lead_id, lambda: routing.decline(lead, request.form.get("reason", ""),
                                                  by=g.user),
                 "You declined the lead; it goes to another partner.", gone=True)


@blueprint.post("/leads/<lead_id>/assign")
@requires("leads.route")
def assign(lead_id: str):
    lead = _lead(lead_id)

    def give():
        partner = routing.partner_named(request.form.get("partner_id"))
        routing.assign(lead, partner, by=g.user, note=request.form.get("note", ""))

    return _done(lead_id, give, "Lead assigned.")


@blueprint.post("/leads/<lead_id>/route")
@requires("leads.route")
def route(lead_id: str):
    lead = _lead(lead_id)
    return _done(lead_id, lambda: routing.route_again(lead, by=g.user),
                 "The routing rules ran; the history says what happened.")
