"""The ``tcma`` command: a Flask CLI group with the operator's commands."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from tcma.app import create_app
from tcma.extensions import db


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_version_option=False)
def main() -> None:
    """tcma: through-channel marketing automation."""


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _commit_or_report(fn):
    from tcma.errors import DomainError

    try:
        result = fn()
        db.session.commit()
        return result
    except DomainError as exc:
        db.session.rollback()
        details = "".join(f"\n  {e.field}: {e.message}" for e in exc.errors)
        _fail(f"{exc.message}{details if details and details.strip() not in exc.message else ''}")


# --- database ------------------------------------------------------------------------------


@main.group("db")
def db_group() -> None:
    """Schema migrations."""


@db_group.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    from tcma import migrate

    migrate.upgrade(revision)
    click.echo("Database is up to date.")


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message: str) -> None:
    """Write a migration for model changes (autogenerate; review it before committing)."""
    from tcma import migrate

    migrate.revision(message)


# --- users and tokens ----------------------------------------------------------------------


@main.group("user")
def user_group() -> None:
    """Users."""


@user_group.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True,
              type=click.Choice(["admin", "marketer", "channel_manager", "finance",
                                 "partner_admin", "partner_user"]))
@click.option("--partner", "partner_slug", help="Partner slug, for partner roles.")
@click.option("--password", help="Set a password now instead of emailing an invitation.")
@with_appcontext
def user_create(email, name, role, partner_slug, password) -> None:
    """Create a user: with --password they can sign in at once, otherwise they get an invite."""
    from sqlalchemy import select

    from tcma.auth import service
    from tcma.auth.models import Role, UserStatus
    from tcma.partners.models import Partner

    partner = None
    if partner_slug:
        partner = db.session.execute(
            select(Partner).where(Partner.slug == partner_slug)
        ).scalar_one_or_none()
        if partner is None:
            _fail(f"No partner with slug {partner_slug!r}.")

    def create():
        user = service.invite_user(email=email, name=name, role=Role(role), partner=partner,
                                   notify=not password)
        if password:
            service.set_password(user, password)
            user.status = UserStatus.ACTIVE
        return user

    user = _commit_or_report(create)
    click.echo(f"Created {user.role.value} {user.email} ({user.public_id})"
               + ("" if password else "; invitation sent."))


@main.group("token")
def token_group() -> None:
    """API tokens."""


@token_group.command("create")
@click.option("--email", required=True, help="The user the token acts as.")
@click.option("--name", required=True, help="What the token is for.")
@click.option("--expires-in-days", type=int)
@with_appcontext
def token_create(email, name, expires_in_days) -> None:
    """Create an API token and print its secret (shown once)."""
    from tcma.auth import service

    user = service.find_user_by_email(email)
    if user is None:
        _fail(f"No user {email}.")
    _, secret = _commit_or_report(
        lambda: service.create_api_token(user, name, expires_in_days=expires_in_days))
    click.echo(secret)


# --- partners ------------------------------------------------------------------------------


@main.group("partner")
def partner_group() -> None:
    """Partners."""


@partner_group.command("create")
@click.option("--name", required=True)
@click.option("--tier", required=True)
@click.option("--region", required=True)
@click.option("--type", "type_", required=True)
@click.option("--language", default="en", show_default=True)
@click.option("--slug")
@click.option("--admin-email")
@click.option("--admin-name")
@with_appcontext
def partner_create(name, tier, region, type_, language, slug, admin_email, admin_name) -> None:
    """Create a partner (and invite its admin)."""
    from tcma.partners import service

    data = {"name": name, "tier": tier, "region": region, "type": type_, "language": language,
            "slug": slug, "admin_email": admin_email, "admin_name": admin_name}
    partner = _commit_or_report(
        lambda: service.create_partner({k: v for k, v in data.items() if v}, by=None))
    click.echo(f"Created partner {partner.name} ({partner.slug}, {partner.public_id})")


@partner_group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file; import nothing.")
@with_appcontext
def partner_import(csv_file: Path, dry_run: bool) -> None:
    """Import partners from CSV: every row is checked; one bad row imports nothing."""
    from tcma.partners.importer import import_partners

    report = _commit_or_report(lambda: import_partners(csv_file.read_bytes(), by=None,
                                                       dry_run=dry_run))
    for error in report.file_errors:
        click.echo(f"error: {error}", err=True)
    for row in report.rows:
        for e in row.errors:
            click.echo(f"line {row.line} ({row.name}): {e.field}: {e.message}", err=True)
    if report.error_count:
        db.session.rollback()
        _fail(f"{report.error_count} problem(s); nothing imported.")
    click.echo(f"{'Checked' if dry_run else 'Imported'} {len(report.rows)} partners.")


# --- demo, worker, serve -------------------------------------------------------------------


@main.command("demo")
@with_appcontext
def demo() -> None:
    """Load demo data (safe to run again) and print the demo logins."""
    import importlib

    from tcma.app import DEMO_LOADERS
    from tcma.demo import load_demo

    logins = load_demo()
    db.session.commit()
    # Domain packages' demo data, named in tcma.app.DEMO_LOADERS: each builds on the core's
    # users and partners, and commits (or reports its error) on its own.
    content: list[str] = []
    for spec in DEMO_LOADERS:
        module, _, name = spec.partition(":")
        content.extend(_commit_or_report(getattr(importlib.import_module(module), name)) or [])
    click.echo(f"Demo logins (password for all: {logins['password']}):")
    for email, what in logins["users"]:
        click.echo(f"  {email:<34} {what}")
    if content:
        click.echo("Demo content:")
        for line in content:
            click.echo(f"  {line}")


@main.command("worker", context_settings={"ignore_unknown_options": True})
@click.argument("dramatiq_args", nargs=-1, type=click.UNPROCESSED)
def worker(dramatiq_args) -> None:
    """Run Dramatiq worker processes (extra arguments go to dramatiq)."""
    args = ["dramatiq", "worker:broker", *dramatiq_args]
    os.execvp(sys.executable, [sys.executable, "-m", *args])


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=lambda: int(os.environ.get("PORT", 5000)), type=int,
              show_default="5000 or $PORT")
@click.option("--threads", default=2, show_default=True, help="Embedded worker threads.")
@click.option("--demo-networks", is_flag=True,
              help="Connect social accounts to local stand-ins of the networks that have no "
                   "client id configured (a demo; never for production).")
@with_appcontext
def serve(host: str, port: int, threads: int, demo_networks: bool) -> None:
    """Serve the app for one machine, with an embedded worker beside it."""
    import importlib

    from werkzeug.serving import run_simple

    from tcma.queue import start_embedded_worker

    app = current_app._get_current_object()
    demos = []
    if demo_networks:
        # Imported by name, not at the top: the core never imports a domain package.
        fakes = importlib.import_module("syndication.social.fakes")
        demos = fakes.start_demo_networks(app)
        for demo in demos:
            click.echo(str(demo))
    worker = start_embedded_worker(app, threads=threads)
    click.echo(f"Serving on http://{host}:{port} (embedded worker, {threads} threads). "
               "Ctrl-C stops.")
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        worker.stop()
        for demo in demos:
            if demo.fake is not None:
                demo.fake.close()
