"""Lead screens: the partner's inbox and the vendor's view of every lead (same pages; tenancy
decides what each sees), a lead's detail with status, notes and history, and CSV export."""

from __future__ import annotations

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

from syndication.leads import inbox, routing
from syndication.leads.countries import COUNTRIES
from syndication.leads.history import history
from syndication.leads.inbox import LeadFilter
from syndication.leads.models import LeadStatus
from syndication.pages.render import inline
from tcma.auth.permissions import can, requires
from tcma.errors import DomainError, NotFound
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners import service as partners

blueprint = Blueprint("leads", __name__)

PER_PAGE = 50


def _filter() -> LeadFilter:
    args = request.args
    status = args.get("status")
    return LeadFilter(
        status=LeadStatus(status) if status in {s.value for s in LeadStatus} else None,
        search=(args.get("q") or "").strip() or None,
        # Partners only ever see their own leads; the filter is the vendor's.
        partner=(args.get("partner") or None) if g.user.is_vendor else None,
        page_id=args.get("page") or None,
    )


@blueprint.get("/leads")
@requires("leads.view")
def index():
    page = max(1, request.args.get("p", 1, type=int))
    leads, total = inbox.list_leads(_filter(), limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    vendor = g.user.is_vendor
    partner_choices = partners.list_partners(limit=1000)[0] if vendor else []
    return render_template(
        "leads/index.html", leads=leads, total=total, page=page,
        pages=max(1, -(-total // PER_PAGE)), args=request.args, vendor=vendor,
        statuses=[s.value for s in LeadStatus], partner_choices=partner_choices,
        page_choices=inbox.pages_with_leads(), can_route=can(g.user, "leads.route"),
        base_args={k: v for k, v in request.args.items() if k != "p"})


@blueprint.get("/leads.csv")
@requires("leads.view")
def export():
    body = inbox.export_csv(_filter())
    response = current_app.response_class(body.encode("utf-8"),
                                          mimetype="text/csv; charset=utf-8")
    stamp = utcnow().strftime("%Y-%m-%d")
    response.headers["Content-Disposition"] = f'attachment; filename="leads-{stamp}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _lead(lead_id: str):
    try:
        return inbox.get_lead(lead_id)
    except NotFound:
        abort(404)


@blueprint.get("/leads/<lead_id>")
@requires("leads.view")
def show(lead_id: str):
    lead = _lead(lead_id)
    can_route = can(g.user, "leads.route")
    return render_template("leads/show.html", lead=lead, next_statuses=inbox.next_statuses(lead),
                           links=inbox.touch_links(lead), countries=COUNTRIES,
                           consent_html=inline(lead.consent_text),
                           vendor=g.user.is_vendor, can_manage=can(g.user, "leads.manage"),
                           history=history(lead, g.user), offer=routing.open_offer(lead),
                           can_route=can_route, assignable=partners.list_partners(
                               status="active", limit=1000)[0] if can_route else [])


@blueprint.post("/leads/<lead_id>/status")
@requires("leads.manage")
def change_status(lead_id: str):
    lead = _lead(lead_id)
    try:
        inbox.change_status(lead, request.form.get("status", ""), by=g.user,
                            reason=request.form.get("reason", ""),
                            note=request.form.get("note", ""))
        db.session.commit()
        flash(f"The lead is now {lead.status.value}.", "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("leads.show", lead_id=lead_id))


@blueprint.post("/leads/<lead_id>/notes")
@requires("leads.manage")
def add_note(lead_id: str):
    lead = _lead(lead_id)
    try:
        inbox.add_note(lead, request.form.get("note", ""), by=g.user)
        db.session.commit()
        flash("Note added.", "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("leads.show", lead_id=lead_id))
