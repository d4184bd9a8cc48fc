"""Contact pages: a partner's contacts, lists and CSV imports, and the vendor admin's view of
the global suppression list (digests and counts only).

Contacts are the partner's own data: vendor staff get 404 on these pages, as on any page
that is not theirs. Tenancy scopes every lookup to the signed-in partner besides.
"""

from __future__ import annotations

from functools import wraps

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from syndication.email import contacts, importer, lists, report, suppression
from syndication.email.contacts import ContactFilter
from syndication.email.fields import DATE_ORDERS, LABELS, TEXT_FIELDS
from syndication.email.mapping import CUSTOM, FIELDS
from syndication.email.models import ContactStatus, ImportStatus, SuppressionReason
from syndication.leads.countries import COUNTRIES
from tcma.auth.permissions import can, requires
from tcma.errors import DomainError, FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow

blueprint = Blueprint("contacts", __name__)

PER_PAGE = 50


def contacts_page(view):
    """Sign-in first; then partner users with ``contacts.manage`` only, everyone else 404."""

    @wraps(view)
    def guarded(*args, **kwargs):
        user = g.get("user")
        if user is None:
            return redirect(url_for("auth.login", next=request.full_path))
        if not can(user, "contacts.manage") or user.partner is None:
            abort(404)
        return view(*args, **kwargs)

    guarded.permission = "contacts.manage"
    return guarded


def _partner():
    return g.user.partner


def _or_404(fn, public_id):
    try:
        return fn(public_id)
    except NotFound:
        abort(404)


def _filter() -> ContactFilter:
    args = request.args
    return ContactFilter(search=(args.get("q") or "").strip() or None,
                         list_id=args.get("list") or None,
                         tag=(args.get("tag") or "").strip() or None,
                         status=args.get("status") if args.get("status")
                         in contacts.STATUS_FILTERS else None)


# --- contacts ------------------------------------------------------------------------------------


@blueprint.get("/contacts")
@contacts_page
def index():
    partner = _partner()
    page = max(1, request.args.get("p", 1, type=int))
    found, total = contacts.list_contacts(partner, _filter(), limit=PER_PAGE,
                                          offset=(page - 1) * PER_PAGE)
    all_lists = lists.all_lists(partner)
    db.session.commit()  # the default list, made on first visit
    return render_template(
        "contacts/index.html", contacts=found, total=total, page=page,
        pages=max(1, -(-total // PER_PAGE)), args=request.args, lists=all_lists,
        tags=contacts.tags_in_use(partner), statuses=contacts.STATUS_FILTERS,
        suppressed=contacts.suppression_states(found),
        base_args={k: v for k, v in request.args.items() if k != "p"})


def _contact_form() -> tuple[dict, dict[str, str]]:
    form = request.form
    data = {k: form.get(k, "") for k in ("email", *TEXT_FIELDS, "consent_source",
                                         "consent_date", "consent_text", "tags")}
    custom = {}
    for name, value in zip(form.getlist("custom_name"), form.getlist("custom_value"),
                           strict=False):
        if name.strip():
            custom[name.strip()] = value
    return data, custom


@blueprint.route("/contacts/new", methods=["GET", "POST"])
@contacts_page
def new():
    partner = _partner()
    errors = None
    if request.method == "POST":
        data, custom = _contact_form()
        try:
            target = [lists.get_list(request.form["list_id"]).id] \
                if request.form.get("list_id") else []
            done = contacts.add_contact(partner, data, custom=custom, list_ids=target,
                                        by=g.user)
            db.session.commit()
            flash("Contact added." if done.created else
                  "You had this contact already: the new values are merged in.", "success")
            return redirect(url_for("contacts.show", contact_id=done.contact.public_id))
        except NotFound:
            db.session.rollback()
            errors = ValidationFailed([FieldError("list_id", "Choose one of your lists.")])
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc
    form = request.form if request.method == "POST" else {
        "consent_date": utcnow().date().isoformat()}
    return render_template("contacts/new.html", form=form, errors=errors,
                           lists=lists.all_lists(partner), countries=COUNTRIES,
                           labels=LABELS), (422 if errors else 200)


@blueprint.route("/contacts/<contact_id>", methods=["GET", "POST"])
@contacts_page
def show(contact_id: str):
    contact = _or_404(contacts.get_contact, contact_id)
    errors = None
    if request.method == "POST":
        data, custom = _contact_form()
        try:
            contacts.update_contact(contact, data, custom=custom, by=g.user)
            db.session.commit()
            flash("Contact saved.", "success")
            return redirect(url_for("contacts.show", contact_id=contact_id))
        except DomainError as exc:
            db.session.rollback()
            errors = exc if isinstance(exc, ValidationFailed) else ValidationFailed(
                [_field_error(exc)])
            contact = _or_404(contacts.get_contact, contact_id)
    form = request.form if request.method == "POST" else {
        "email": contact.email, **{n: getattr(contact, n) for n in TEXT_FIELDS},
        "consent_source": contact.consent_source,
        "consent_date": contact.consent_at.date().isoformat(),
        "consent_text": contact.consent_text or "", "tags": ", ".join(contact.tag_names)}
    reason = suppression.global_reason(contact.email)
    member_of = lists.memberships(contact)
    return render_template(
        "contacts/show.html", contact=contact, form=form, errors=errors,
        global_reason=reason, reachable=reason is None
        and contact.status is ContactStatus.SUBSCRIBED, member_of=member_of,
        other_lists=[x for x in lists.all_lists(_partner()) if x not in member_of],
        countries=COUNTRIES, labels=LABELS), (422 if errors else 200)


def _field_error(exc: DomainError) -> FieldError:
    return FieldError(exc.field or "contact", exc.message)


@blueprint.post("/contacts/<contact_id>/unsubscribe")
@contacts_page
def unsubscribe(contact_id: str):
    contact = _or_404(contacts.get_contact, contact_id)
    contacts.unsubscribe(contact, how=f"by hand ({g.user.name})", by=g.user)
    db.session.commit()
    flash(f"{contact.email} is unsubscribed and will not be emailed.", "success")
    return redirect(url_for("contacts.show", contact_id=contact_id))


@blueprint.post("/contacts/<contact_id>/delete")
@contacts_page
def delete(contact_id: str):
    contact = _or_404(contacts.get_contact, contact_id)
    forget = request.form.get("forget") == "1"
    contacts.delete_contact(contact, forget=forget, by=g.user)
    db.session.commit()
    flash("Contact deleted." + (" Their address stays blocked for every partner (as a "
                                "fingerprint only)." if forget else ""), "success")
    return redirect(url_for("contacts.index"))


@blueprint.post("/contacts/members")
@contacts_page
def members():
    """Add the ticked contacts to a list, or take them off it."""
    partner = _partner()
    back = request.form.get("next") or url_for("contacts.index")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("contacts.index")
    try:
        target = lists.get_list(request.form.get("list_id", ""))
        chosen = lists.contacts_by_public_ids(partner, request.form.getlist("contact_ids"))
        if not chosen:
            raise ValidationFailed([], "Tick the contacts first.")
        ids = [c.id for c in chosen]
        if request.form.get("action") == "remove":
            n = lists.remove_members(target, ids)
            message = f"{n} contact{'s' if n != 1 else ''} taken off {target.name}."
        else:
            n = lists.add_members(target, ids)
            message = f"{n} contact{'s' if n != 1 else ''} added to {target.name}."
        db.session.commit()
        flash(message, "success")
    except NotFound:
        db.session.rollback()
        flash("Choose one of your lists.", "error")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(back)


# --- lists ---------------------------------------------------------------------------------------


@blueprint.route("/contacts/lists", methods=["GET", "POST"])
@contacts_page
def list_index():
    partner = _partner()
    errors = None
    if request.method == "POST":
        try:
            made = lists.create_list(partner, request.form.get("name", ""),
                                     request.form.get("description", ""), by=g.user)
            db.session.commit()
            flash(f"List {made.name} created.", "success")
            return redirect(url_for("contacts.list_index"))
        except DomainError as exc:
            db.session.rollback()
            errors = exc if isinstance(exc, ValidationFailed) else ValidationFailed(
                [_field_error(exc)])
    all_lists = lists.all_lists(partner)
    db.session.commit()
    return render_template("contacts/lists.html", lists=all_lists,
                           counts=lists.counts(all_lists), errors=errors,
                           form=request.form), (422 if errors else 200)


@blueprint.post("/contacts/lists/<list_id>/delete")
@contacts_page
def delete_list(list_id: str):
    target = _or_404(lists.get_list, list_id)
    try:
        lists.delete_list(target, by=g.user)
        db.session.commit()
        flash(f"List {target.name} deleted; its contacts are kept.", "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("contacts.list_index"))


# --- imports -------------------------------------------------------------------------------------


@blueprint.route("/contacts/import", methods=["GET", "POST"])
@contacts_page
def upload():
    partner = _partner()
    error = None
    if request.method == "POST":
        file = request.files.get("file")
        if file is None or not file.filename:
            error = "Choose a CSV file to import."
        else:
            try:
                imp = importer.upload(partner, file.stream, file.filename, by=g.user)
                db.session.commit()
                return redirect(url_for("contacts.import_page", import_id=imp.public_id))
            except DomainError as exc:
                db.session.rollback()
                error = exc.message.removeprefix("file: ")
    return render_template("contacts/upload.html", error=error,
                           recent=importer.recent_imports(partner),
                           max_mb=importer.max_bytes() // 1_048_576), (422 if error else 200)


def _import(import_id: str):
    imp = _or_404(importer.get_import, import_id)
    if importer.revive(imp):  # its message or worker was lost: send a new one
        db.session.commit()
    return imp


@blueprint.route("/contacts/imports/<import_id>", methods=["GET", "POST"])
@contacts_page
def import_page(import_id: str):
    imp = _import(import_id)
    errors = None
    if request.method == "POST":
        form = request.form
        mapping = {str(i): form.get(f"column-{i}", "") for i in range(len(imp.columns))}
        mapping = {k: (f"{CUSTOM}:{imp.columns[int(k)]}" if v == CUSTOM else v)
                   for k, v in mapping.items() if v}
        try:
            importer.start(imp, mapping=mapping, list_id=form.get("list_id") or None,
                           new_list=form.get("new_list", ""), tags=form.get("tags", ""),
                           consent_source=form.get("consent_source", ""),
                           consent_date=form.get("consent_date", ""),
                           consent_text=form.get("consent_text", ""),
                           date_order=form.get("date_order", "dmy"), by=g.user)
            db.session.commit()
            return redirect(url_for("contacts.import_page", import_id=import_id))
        except DomainError as exc:
            db.session.rollback()
            errors = exc if isinstance(exc, ValidationFailed) else ValidationFailed(
                [_field_error(exc)])
            imp = _import(import_id)
    if imp.status is ImportStatus.MAPPING:
        chosen = ({k.removeprefix("column-"): v for k, v in request.form.items()
                   if k.startswith("column-")} if errors else imp.mapping)
        return render_template(
            "contacts/mapping.html", imp=imp, errors=errors, form=request.form,
            chosen={k: (CUSTOM if v.startswith(f"{CUSTOM}:") else v) for k, v in chosen.items()},
            samples=importer.sample_rows(imp), fields=FIELDS, custom=CUSTOM,
            lists=lists.all_lists(_partner()), date_orders=DATE_ORDERS,
            today=utcnow().date().isoformat()), (422 if errors else 200)
    issues = report.issues(imp, limit=200)
    return render_template("contacts/import.html", imp=imp, progress=report.progress(imp),
                           issues=issues,
                           described={i.field: report.describe(imp, i.field) for i in issues})


@blueprint.get("/contacts/imports/<import_id>/progress")
@contacts_page
def import_progress(import_id: str):
    """The import's numbers (the progress page polls this)."""
    return jsonify(report.progress(_import(import_id)))


@blueprint.get("/contacts/imports/<import_id>/report.csv")
@contacts_page
def import_report(import_id: str):
    imp = _import(import_id)
    body = stream_with_context(report.report_csv(imp))
    response = Response(body, mimetype="text/csv; charset=utf-8")
    stem = imp.filename.rsplit(".", 1)[0] or "contacts"
    safe = "".join(c for c in stem if c.isalnum() or c in "-_")[:60] or "contacts"
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}-report.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/contacts/imports/<import_id>/cancel")
@contacts_page
def cancel_import(import_id: str):
    imp = _import(import_id)
    try:
        importer.cancel(imp)
        db.session.commit()
        flash("The upload is discarded.", "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("contacts.import_page", import_id=import_id))
    return redirect(url_for("contacts.upload"))


# --- vendor: the global suppression list ---------------------------------------------------------


@blueprint.route("/suppressions", methods=["GET", "POST"])
@requires("suppressions.view")
def suppressions():
    """Counts and recent digests; an admin can check an address or block it for everyone.
    Addresses typed here are hashed and never stored."""
    checked = None
    if request.method == "POST":
        email = suppression.normalise(request.form.get("email", ""))
        if "@" not in email:
            flash("Type an email address.", "error")
        elif request.form.get("action") == "suppress":
            suppression.suppress(email, SuppressionReason.UNSUBSCRIBED_ALL)
            db.session.commit()
            flash("The address is blocked for every partner.", "success")
            return redirect(url_for("contacts.suppressions"))
        else:
            reason = suppression.global_reason(email)
            checked = {"hash": suppression.digest(email)[:12],
                       "reason": reason.value if reason else None}
    return render_template("contacts/suppressions.html", summary=suppression.summary(),
                           checked=checked)
