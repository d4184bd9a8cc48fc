"""The partner program itself: the vendor's name, logo and colour shown on every page."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from tcma import audit
from tcma.auth.permissions import requires
from tcma.errors import FieldError, ValidationFailed
from tcma.extensions import db

blueprint = Blueprint("program", __name__)

COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


class ProgramSettings(db.Model):
    """One row: what the vendor admin changed from the configured defaults."""

    __tablename__ = "program_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_name: Mapped[str | None] = mapped_column(String(200))
    primary_color: Mapped[str | None] = mapped_column(String(7))
    #: Absolute URL or a ``/static/...`` path of the vendor logo shown in the header.
    logo_url: Mapped[str | None] = mapped_column(String(500))
    support_email: Mapped[str | None] = mapped_column(String(254))


@dataclass(frozen=True)
class Program:
    name: str
    color: str
    logo_url: str | None
    support_email: str | None


def _row() -> ProgramSettings | None:
    return db.session.execute(select(ProgramSettings).limit(1)).scalar_one_or_none()


def current_program() -> Program:
    cached = g.get("_program") if g else None
    if cached is not None:
        return cached
    row = _row()
    cfg = current_app.config
    program = Program(
        name=(row and row.vendor_name) or cfg["VENDOR_NAME"],
        color=(row and row.primary_color) or cfg["VENDOR_COLOR"],
        logo_url=(row and row.logo_url) or None,
        support_email=(row and row.support_email) or None,
    )
    g._program = program
    return program


def update_program(*, vendor_name: str, primary_color: str, logo_url: str, support_email: str
                   ) -> ProgramSettings:
    errors = []
    vendor_name = vendor_name.strip()
    if not vendor_name:
        errors.append(FieldError("vendor_name", "Enter the program's name."))
    if primary_color and not COLOR.match(primary_color):
        errors.append(FieldError("primary_color", "Use a colour like #1f5fbf."))
    if logo_url and not (logo_url.startswith("https://") or logo_url.startswith("/static/")):
        errors.append(FieldError("logo_url", "Use an https:// address or a /static/ path."))
    if support_email and "@" not in support_email:
        errors.append(FieldError("support_email", "Enter a valid email address."))
    if errors:
        raise ValidationFailed(errors)
    row = _row() or ProgramSettings()
    before = audit.snapshot(row, ("vendor_name", "primary_color", "logo_url", "support_email"))
    row.vendor_name = vendor_name
    row.primary_color = primary_color or None
    row.logo_url = logo_url or None
    row.support_email = support_email or None
    db.session.add(row)
    db.session.flush()
    audit.record("program.update", target=row, before=before,
                 after=audit.snapshot(row, tuple(before)))
    g.pop("_program", None)
    return row


@blueprint.route("/admin/program", methods=["GET", "POST"])
@requires("program.manage")
def settings():
    errors = None
    if request.method == "POST":
        try:
            update_program(
                vendor_name=request.form.get("vendor_name", ""),
                primary_color=request.form.get("primary_color", "").strip(),
                logo_url=request.form.get("logo_url", "").strip(),
                support_email=request.form.get("support_email", "").strip(),
            )
            db.session.commit()
            flash("Program settings saved.", "success")
            return redirect(url_for("program.settings"))
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc
    return render_template("admin/program.html", errors=errors, form=request.form)
