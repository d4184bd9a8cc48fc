"""Kit pages for the vendor: the kit editor, previews, publishing, and who launched a kit.
Thin: parse the form, call ``campaigns.kits`` / ``campaigns.content``, render or redirect.
The partner's catalogue and launch pages are in ``campaigns.launch_views``."""

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

from assets.previews import preview_partners
from campaigns import content, kits, launches, posts
from campaigns.content import AUDIENCES
from campaigns.models import Kit, KitStatus
from campaigns.references import image_assets
from tcma.auth.permissions import can, requires
from tcma.errors import DomainError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.partners import service as partners

blueprint = Blueprint("kits", __name__)

LIST_FIELDS = ("tags", "allowed_tiers", "allowed_regions", "allowed_languages", "allowed_types")
TEXT_FIELDS = ("name", "description", "goal", "language", "publish_at", "expires_at")
EMAIL_FIELDS = ("key", "name", "subject", "preheader", "from_name", "mjml")
STARTER_MJML = """<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text css-class="tcma-editable" tcma-block="intro">
          Hello {{ contact.first_name }},
        </mj-text>
        <mj-text>{{ partner.display_name }} · {{ partner.phone }}</mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>
"""


@blueprint.app_template_filter("post_length")
def post_length(text: str, network: str) -> int:
    """A post's length as ``network`` counts it (for previews, here and on partner pages)."""
    return posts.weighted_length(network, text)


@blueprint.app_template_filter("link_host")
def link_host(url: str) -> str:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "").removeprefix("www.")


def _choices() -> dict[str, list[str]]:
    cfg = current_app.config
    return {"tiers": list(cfg["PARTNER_TIERS"]), "regions": list(cfg["PARTNER_REGIONS"]),
            "types": list(cfg["PARTNER_TYPES"])}


def staff_kit(kit_id: str) -> Kit:
    try:
        return kits.get_kit(kit_id)
    except NotFound:
        abort(404)


def _fields_from_form() -> dict:
    data: dict = {}
    for name in LIST_FIELDS:
        values = [v.strip() for v in request.form.getlist(name) if v.strip()]
        data[name] = ",".join(values) if name in ("tags", "allowed_languages") else values
    for name in TEXT_FIELDS:
        value = request.form.get(name, "").strip()
        if value or name == "name":
            data[name] = value + (":00+00:00" if name.endswith("_at") and len(value) == 16
                                  else "")
    return data


# --- vendor ----------------------------------------------------------------------------------


@blueprint.get("/kits")
@requires("kits.view")
def index():
    status = request.args.get("status")
    found = kits.list_kits(
        search=request.args.get("q") or None,
        status=KitStatus(status) if status in {s.value for s in KitStatus} else None)
    return render_template("campaigns/index.html", kits=found, args=request.args,
                           statuses=[s.value for s in KitStatus], latest=kits.latest_published)


@blueprint.route("/kits/new", methods=["GET", "POST"])
@requires("kits.manage")
def new():
    errors = None
    if request.method == "POST":
        try:
            kit = kits.create_kit(_fields_from_form(), by=g.user, **_choices())
            db.session.commit()
            flash(f"“{kit.name}” created. Add its emails and schedule.", "success")
            return redirect(url_for("kits.show", kit_id=kit.public_id))
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc
    return render_template("campaigns/form.html", kit=None, form=request.form, errors=errors,
                           choices=_choices()), (422 if errors else 200)


@blueprint.route("/kits/<kit_id>/edit", methods=["GET", "POST"])
@requires("kits.manage")
def edit(kit_id: str):
    kit = staff_kit(kit_id)
    errors = None
    form: dict = {name: getattr(kit, name) for name in kits.KIT_FIELDS}
    form["tags"] = ", ".join(kit.tags)
    form["allowed_languages"] = ", ".join(kit.allowed_languages)
    if request.method == "POST":
        try:
            kits.update_kit(kit, _fields_from_form(), by=g.user, **_choices())
            db.session.commit()
            flash("Kit details saved.", "success")
            return redirect(url_for("kits.show", kit_id=kit.public_id))
        except ValidationFailed as exc:
            db.session.rollback()
            errors, form = exc, request.form
    return render_template("campaigns/form.html", kit=kit, form=form, errors=errors,
                           choices=_choices()), (422 if errors else 200)


@blueprint.get("/kits/<kit_id>")
@requires("kits.view")
def show(kit_id: str):
    from campaigns.launch_views import local_time, with_percent

    kit = staff_kit(kit_id)
    version = kits.editing_version(kit)
    db.session.commit()  # a first look at a kit may have opened its (empty) draft
    draft = kits.current_draft(kit)
    kit_posts = content.posts_of(version)
    longest = posts.longest_values() if kit_posts else {}
    return render_template(
        "campaigns/show.html", kit=kit, version=version, draft=draft,
        emails=content.emails_of(version), steps=version.content.get("steps", []),
        posts=[(p, posts.lengths(p, longest)) for p in kit_posts], limits=posts.LIMITS,
        labels=posts.NETWORK_LABELS,
        problems=content.content_problems(draft.content) if draft else [],
        versions=kits.published_versions(kit), audiences=AUDIENCES,
        kit_launches=with_percent(launches.list_launches(kit=kit)), local=local_time)


def _preview_partner():
    partner_id = request.args.get("partner") or ""
    if not partner_id:
        return None
    try:
        return partners.get_partner(partner_id)
    except NotFound:
        abort(404)


@blueprint.route("/kits/<kit_id>/emails/new", methods=["GET", "POST"], endpoint="new_email")
@blueprint.route("/kits/<kit_id>/emails/<email_key>", methods=["GET", "POST"])
@requires("kits.view")
def email(kit_id: str, email_key: str | None = None):
    kit = staff_kit(kit_id)
    version = kits.editing_version(kit)
    current = content.email_of(version, email_key) if email_key and _has(version, email_key) \
        else None
    if email_key and current is None:
        abort(404)
    errors = None
    form = current or {"from_name": "{{ partner.display_name }}", "mjml": STARTER_MJML}
    if request.method == "POST":
        if not _can_manage():
            abort(403)
        form = {name: request.form.get(name, "") for name in EMAIL_FIELDS}
        try:
            content.put_email(kit, form, by=g.user, replace=email_key)
            db.session.commit()
            flash("Email saved.", "success")
            return redirect(url_for("kits.email", kit_id=kit.public_id, email_key=form["key"]))
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc
    problems, rendered = [], None
    if current is not None and errors is None:
        problems = [p for p in content.content_problems({"items": [current], "steps": [
            {"item": current["key"], "audience": "all"}]}) if p.field.startswith("emails")]
        if not problems:
            rendered = content.preview(version, current["key"], _preview_partner())
    return render_template("campaigns/email.html", kit=kit, email=current, form=form,
                           errors=errors, problems=problems, preview=rendered,
                           partners=preview_partners(),
                           preview_partner=request.args.get("partner", "")), \
        (422 if errors else 200)


@blueprint.post("/kits/<kit_id>/emails/<email_key>/test")
@requires("kits.view")
def send_test(kit_id: str, email_key: str):
    """"Send me a test": the email as the chosen preview partner sends it, to the user."""
    kit = staff_kit(kit_id)
    version = kits.editing_version(kit)
    if not _has(version, email_key):
        abort(404)
    partner_id = request.form.get("partner") or ""
    partner = next((p for p in preview_partners() if p.public_id == partner_id), None)
    try:
        content.send_test(version, email_key, partner, to=g.user)
        db.session.commit()
        flash(f"Test sent to {g.user.email}.", "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("kits.email", kit_id=kit.public_id, email_key=email_key,
                            partner=partner_id or None))


def _has(version, key: str) -> bool:
    return any(e["key"] == key for e in content.emails_of(version))


def _can_manage() -> bool:
    return can(g.user, "kits.manage")


@blueprint.post("/kits/<kit_id>/emails/<email_key>/remove")
@requires("kits.manage")
def remove_email(kit_id: str, email_key: str):
    kit = staff_kit(kit_id)
    return _save(kit, lambda: content.remove_email(kit, email_key, by=g.user),
                 f"Email {email_key} removed from the draft.")


def _post_from_form() -> dict:
    """The post editor's fields as a post; an empty network text means "not on it"."""
    texts = {network: request.form.get(f"text_{network}", "") for network in posts.NETWORKS}
    return {"key": request.form.get("key", "").strip(),
            "name": request.form.get("name", "").strip(),
            "texts": {n: t for n, t in texts.items() if t.strip()},
            "link": request.form.get("link", "").strip(),
            "image_asset_id": request.form.get("image_asset_id") or None,
            "hashtags": request.form.get("hashtags", ""),
            "editable": bool(request.form.get("editable"))}


def _post_form(post: dict) -> dict:
    """A stored post as the editor's fields."""
    return {**post, **{f"text_{n}": t for n, t in post["texts"].items()},
            "hashtags": " ".join(f"#{t}" for t in post.get("hashtags", []))}


@blueprint.route("/kits/<kit_id>/posts/new", methods=["GET", "POST"], endpoint="new_post")
@blueprint.route("/kits/<kit_id>/posts/<post_key>", methods=["GET", "POST"])
@requires("kits.view")
def post(kit_id: str, post_key: str | None = None):
    kit = staff_kit(kit_id)
    version = kits.editing_version(kit)
    current = next((p for p in content.posts_of(version) if p["key"] == post_key), None)
    if post_key and current is None:
        abort(404)
    errors = None
    form = _post_form(current) if current else {"editable": True}
    if request.method == "POST":
        if not _can_manage():
            abort(403)
        data = _post_from_form()
        form = {**data, **{f"text_{n}": request.form.get(f"text_{n}", "")
                           for n in posts.NETWORKS}, "hashtags": data["hashtags"]}
        try:
            content.put_post(kit, data, by=g.user, replace=post_key)
            db.session.commit()
            flash("Post saved.", "success")
            return redirect(url_for("kits.post", kit_id=kit.public_id, post_key=data["key"]))
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc
    problems, shown, counted = [], None, {}
    partner = _preview_partner()
    if current is not None and errors is None:
        n = content.posts_of(version).index(current)
        problems = posts.post_problems(n, current)
        counted = posts.lengths(current, posts.longest_values())
        try:
            shown = content.preview_post(version, current["key"], partner)
        except ValidationFailed:
            shown = None  # the problems above say why
    return render_template(
        "campaigns/post.html", kit=kit, post=current, form=form, errors=errors,
        problems=problems, preview=shown, counted=counted, networks=posts.NETWORKS,
        labels=posts.NETWORK_LABELS, limits=posts.LIMITS, images=image_assets(),
        longest=posts.longest_values(), brand=content.partner_values(partner),
        partners=preview_partners(), preview_partner=request.args.get("partner", "")), \
        (422 if errors else 200)


@blueprint.post("/kits/<kit_id>/posts/<post_key>/remove")
@requires("kits.manage")
def remove_post(kit_id: str, post_key: str):
    kit = staff_kit(kit_id)
    return _save(kit, lambda: content.remove_post(kit, post_key, by=g.user),
                 f"Post {post_key} removed from the draft.")


@blueprint.post("/kits/<kit_id>/steps")
@requires("kits.manage")
def steps(kit_id: str):
    kit = staff_kit(kit_id)
    rows = []
    for day, time, item, audience, ref in zip(
            request.form.getlist("day"), request.form.getlist("time"),
            request.form.getlist("item"), request.form.getlist("audience"),
            request.form.getlist("audience_step"), strict=False):
        if not item.strip():
            continue  # an empty row of the table
        rows.append({"day": day.strip() or 0, "time": time.strip(), "item": item.strip(),
                     "audience": audience or "all", "audience_step": ref.strip() or None})
    return _save(kit, lambda: content.put_steps(kit, rows, by=g.user), "Schedule saved.")


@blueprint.post("/kits/<kit_id>/references")
@requires("kits.manage")
def references(kit_id: str):
    kit = staff_kit(kit_id)
    assets = [a.strip() for a in request.form.get("asset_ids", "").split(",") if a.strip()]
    return _save(kit, lambda: content.set_references(
        kit, landing_page_id=request.form.get("landing_page_id", "").strip() or None,
        asset_ids=assets, by=g.user), "References saved.")


@blueprint.post("/kits/<kit_id>/publish")
@requires("kits.manage")
def publish(kit_id: str):
    kit = staff_kit(kit_id)
    return _save(kit, lambda: kits.publish(kit, by=g.user), "Published.")


@blueprint.post("/kits/<kit_id>/retire")
@requires("kits.manage")
def retire(kit_id: str):
    kit = staff_kit(kit_id)
    return _save(kit, lambda: kits.retire(kit, by=g.user), "Retired: no new launches.")


def _save(kit: Kit, action, message: str):
    try:
        action()
        db.session.commit()
        flash(message, "success")
    except DomainError as exc:
        db.session.rollback()
        details = [f"{e.field}: {e.message}" for e in getattr(exc, "errors", [])]
        flash(exc.message if not details else "Not saved. " + " · ".join(details), "error")
    return redirect(url_for("kits.show", kit_id=kit.public_id))
