"""The partner's side of kits: the catalogue, launching, and launch pages (partners run and
control their launches; vendor staff watch them). Routes join the ``kits`` blueprint of
``campaigns.views``; thin like it: parse the form, call ``campaigns.launches``, render."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, g, jsonify, redirect, render_template, request, url_for

from campaigns import channels, content, kits, launches
from campaigns.launches import LaunchBlocked, Progress, StepProgress
from campaigns.mjml import EDITABLE, html_to_text
from campaigns.models import Kit, Launch, LaunchStatus, StepStatus
from campaigns.posts import LIMITS, NETWORK_LABELS, posts_of
from campaigns.views import blueprint, staff_kit
from tcma.auth.permissions import can, requires
from tcma.errors import Conflict, FieldError, NotFound, ValidationFailed
from tcma.extensions import db

# --- partner ---------------------------------------------------------------------------------


@blueprint.get("/catalogue")
@requires("kits.browse")
def catalogue():
    partner = g.user.partner
    entries = []
    for kit in kits.catalogue(partner):
        version = kits.latest_published(kit)
        emails = content.emails_of(version)
        first = content.preview(version, emails[0]["key"], partner) if emails else None
        entries.append((kit, version, first))
    return render_template("campaigns/catalogue.html", entries=entries)


@blueprint.get("/catalogue/<kit_id>")
@requires("kits.browse")
def catalogue_kit(kit_id: str):
    return _catalogue_page(_catalogue_kit(kit_id))


def _catalogue_kit(kit_id: str) -> Kit:
    try:
        return kits.catalogue_kit(g.user.partner, kit_id)
    except NotFound:
        abort(404)


def _catalogue_page(kit: Kit, *, errors: ValidationFailed | None = None,
                    blocked: LaunchBlocked | None = None, status: int = 200):
    """The kit as the partner would send it, with the Launch button and the advanced form;
    after a refused launch, what was refused (``errors`` by field, or ``blocked``)."""
    partner = g.user.partner
    version = kits.latest_published(kit)
    previews = [(e, content.preview(version, e["key"], partner))
                for e in content.emails_of(version)]
    post_previews = [(p, content.preview_post(version, p["key"], partner))
                     for p in posts_of(version)]
    problems = launches.launch_problems(partner, kit)
    contact_lists = _contact_lists(partner) if previews else []
    accounts = channels.audiences("post", partner) if post_previews else []
    db.session.commit()  # the default contact list, made on first look
    return render_template(
        "campaigns/catalogue_kit.html", kit=kit, version=version, previews=previews,
        post_previews=post_previews, accounts=accounts, labels=NETWORK_LABELS,
        limits=LIMITS, brand=content.partner_values(partner),
        item_names={i["key"]: i.get("name", i["key"]) for i in version.content.get("items", [])},
        steps=version.content.get("steps", []), ready=not problems,
        problems=[(p, _fix_for(p)) for p in (blocked.problems if blocked else problems)],
        contact_lists=contact_lists, zone=launches.zone_of(partner).key,
        editable=[(e, _block_texts(e["mjml"])) for e in content.emails_of(version)],
        form=request.form, errors=errors, advanced=bool(errors or blocked)), status


# --- launches --------------------------------------------------------------------------------


@blueprint.post("/catalogue/<kit_id>/launch")
@requires("launches.run")
def catalogue_launch(kit_id: str):
    """One click launches with the defaults; the advanced form sends a list, a start time and
    the partner's own text for editable blocks (an empty field keeps the kit's text)."""
    kit = _catalogue_kit(kit_id)
    partner = g.user.partner
    try:
        options: dict[str, Any] = (
            {"list_id": request.form["list_id"]} if request.form.get("list_id") else {})
        if request.form.get("accounts_shown"):  # the advanced form lists the accounts
            options["social_account_ids"] = request.form.getlist("social_account_ids")
            if not options["social_account_ids"]:
                raise ValidationFailed([FieldError("social_account_ids",
                                                   "Choose at least one account.")])
        only = {"post"} if request.form.get("only") == "post" else None
        made = launches.launch_kit(partner, kit, start_at=_start_at(partner), options=options,
                                   blocks=_blocks_from_form(), by=g.user, only_kinds=only)
        db.session.commit()
    except LaunchBlocked as exc:
        db.session.rollback()
        return _catalogue_page(kit, blocked=exc, status=409)
    except ValidationFailed as exc:
        db.session.rollback()
        return _catalogue_page(kit, errors=exc, status=422)
    flash(f"“{kit.name}” is launched: it starts {local_time(made.start_at, made.timezone)}.",
          "success")
    return redirect(url_for("kits.launch_page", launch_id=made.public_id))


def _start_at(partner) -> datetime | None:
    """The form's start time (a ``datetime-local``: wall time in the partner's zone)."""
    raw = request.form.get("start_at", "").strip()
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed([FieldError("start_at", "Give a date and a time, e.g. "
                                                       "2026-12-01 09:00.")]) from None
    return when if when.tzinfo else when.replace(tzinfo=launches.zone_of(partner))


def _blocks_from_form() -> dict[str, dict[str, str]]:
    """``blocks.<email>.<block>`` fields as {email: {block: text}}; empty ones are left out,
    so the kit's own text stays."""
    blocks: dict[str, dict[str, str]] = {}
    for name, text in request.form.items():
        parts = name.split(".")
        if len(parts) == 3 and parts[0] == "blocks" and text.strip():
            blocks.setdefault(parts[1], {})[parts[2]] = text
    return blocks


def _block_texts(mjml: str) -> list[tuple[str, str]]:
    """Each editable block of an email with the kit's own text (the form's placeholder)."""
    found = []
    for match in EDITABLE.finditer(mjml):
        end = mjml.lower().find("</mj-text>", match.end())
        inner = mjml[match.end():end if end >= 0 else None]
        found.append((match.group(1), html_to_text(inner).strip()))
    return found


def _fix_for(problem: str) -> tuple[str, str] | None:
    """Where the partner fixes a launch problem: (link text, URL), or None."""
    if "brand profile" in problem:
        return "Open your brand profile", url_for("partners.brand")
    if "import contacts" in problem:
        return "Import contacts", url_for("contacts.upload")
    if "contact lists" in problem:
        return "See your contact lists", url_for("contacts.list_index")
    return None


def _contact_lists(partner) -> list[dict[str, Any]]:
    """The partner's contact lists for the launch form, with who a launch would email (the
    email channel describes them: contact lists belong to syndication, above campaigns)."""
    return channels.audiences("email", partner)


def _launch(launch_id: str) -> Launch:
    try:
        return launches.get_launch(launch_id)  # tenancy: another partner's is not found
    except NotFound:
        abort(404)


def local_time(when: datetime | None, zone: str) -> str:
    """``when`` on the launch's local clock, e.g. ``2026-12-01 09:00 CET``."""
    if when is None:
        return ""
    return when.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def _step_percent(step: StepProgress) -> int:
    if step.step.status is StepStatus.DONE:
        return 100
    return int(100 * step.finished / step.total) if step.total else 0


def with_percent(found: list[Launch]) -> list[tuple[Launch, int]]:
    shown = launches.progress_many(found)
    return [(launch, shown[launch.id].percent) for launch in found]


#: Each control: the service that does it and what the partner is told afterwards.
CONTROLS = {"pause": (launches.pause, "Paused: nothing more goes out until you resume."),
            "resume": (launches.resume, "Resumed."),
            "cancel": (launches.cancel, "Cancelled: nothing more of this launch goes out.")}


def _allowed(status: LaunchStatus) -> list[str]:
    """The controls the launch state machine allows from ``status``."""
    def can_become(target: LaunchStatus) -> bool:
        try:
            launches.check_transition(status, target)
        except Conflict:
            return False
        return True

    return [name for name, ok in (("pause", can_become(LaunchStatus.PAUSED)),
                                  ("resume", status is LaunchStatus.PAUSED),
                                  ("cancel", can_become(LaunchStatus.CANCELLED))) if ok]


def _progress_json(progress: Progress) -> dict[str, Any]:
    body = progress.as_dict()
    body["finished_local"] = local_time(progress.launch.finished_at, progress.launch.timezone)
    for row, step in zip(body["steps"], progress.steps, strict=True):
        row["percent"] = _step_percent(step)
        row["due_local"] = local_time(step.step.due_at, progress.launch.timezone)
    return body


@blueprint.get("/launches")
@requires("launches.view")
def launch_list():
    """The partner's launches, newest first; vendor staff see every partner's (per kit with
    ``?kit=``)."""
    partner = g.user.partner
    kit = staff_kit(request.args["kit"]) if request.args.get("kit") and partner is None else None
    found = launches.list_launches(partner, kit=kit)
    return render_template("campaigns/launches.html", rows=with_percent(found), kit=kit,
                           local=local_time)


@blueprint.get("/launches/<launch_id>")
@requires("launches.view")
def launch_page(launch_id: str):
    launch = _launch(launch_id)
    progress = launches.progress(launch)
    list_name = None
    if g.user.partner is not None:  # contact lists are the partner's own business
        list_name = next((c["name"] for c in _contact_lists(g.user.partner)
                          if c["id"] == launch.options.get("list_id")), None)
        db.session.commit()
    return render_template(
        "campaigns/launch.html", launch=launch, progress=progress, list_name=list_name,
        messages=channels.messages(launch),
        step_percent=_step_percent, local=local_time, allowed=_allowed(launch.status),
        can_run=can(g.user, "launches.run"),
        controls_by_status=json.dumps({s.value: _allowed(s) for s in LaunchStatus}),
        live=[s.value for s in launches.ACTIVE])


@blueprint.get("/launches/<launch_id>/progress.json")
@requires("launches.view")
def launch_progress(launch_id: str):
    """What the launch page polls: the launch's status and each step's counts."""
    response = jsonify(_progress_json(launches.progress(_launch(launch_id))))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blueprint.post("/launches/<launch_id>/pause")
@requires("launches.run")
def launch_pause(launch_id: str):
    return _control(launch_id, "pause")


@blueprint.post("/launches/<launch_id>/resume")
@requires("launches.run")
def launch_resume(launch_id: str):
    return _control(launch_id, "resume")


@blueprint.post("/launches/<launch_id>/cancel")
@requires("launches.run")
def launch_cancel(launch_id: str):
    return _control(launch_id, "cancel")


def _control(launch_id: str, name: str):
    launch = _launch(launch_id)
    action, done = CONTROLS[name]
    try:
        action(launch, by=g.user)
        db.session.commit()
        flash(done, "success")
    except Conflict as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("kits.launch_page", launch_id=launch_id))

