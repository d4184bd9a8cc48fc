"""The application factory."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tcma import queue
from tcma.config import instance_path, load_config
from tcma.extensions import db

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app: configuration, extensions, broker, blueprints, error handlers."""
    instance = instance_path(overrides, str(ROOT / "instance"))
    app = Flask(
        "tcma",
        root_path=str(Path(__file__).parent),
        instance_path=instance,
        template_folder=str(ROOT / "templates"),
        static_folder=str(Path(__file__).parent / "static"),
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(load_config(app.instance_path, overrides))
    logging.basicConfig(level=app.config.get("LOG_LEVEL", "INFO"))

    _configure_database(app)
    db.init_app(app)
    queue.init_app(app)

    from tcma import mail, storage

    storage.init_app(app)
    mail.init_app(app)

    _register_blueprints(app)
    _import_tasks()

    from tcma import web

    web.init_app(app)
    return app


#: Domain packages' demo data, loaded by ``tcma demo`` after the core's ("module:function",
#: each idempotent, returning lines to print). Names, not imports, so the core never
#: imports a domain package outside the app factory's lists.
DEMO_LOADERS = ("assets.demo:load_demo", "syndication.pages.demo:load_demo",
                "syndication.links.demo:load_demo", "campaigns.demo:load_demo",
                "syndication.email.demo:load_demo", "mdf.demo:load_demo")


def _register_blueprints(app: Flask) -> None:
    # Domain packages: each brings its pages; its API routes join the API blueprint, so they
    # are imported before that blueprint is registered.
    from assets import api as _assets_api  # noqa: F401  (registers /api/v1 asset routes)
    from assets.views import blueprint as assets
    from campaigns import api as _kits_api  # noqa: F401  (registers /api/v1 kit routes)
    from campaigns import launch_views as _launch_views  # noqa: F401  (catalogue, launches)
    from campaigns.views import blueprint as kits
    from mdf import api as _mdf_api  # noqa: F401  (registers /api/v1/mdf routes)
    from mdf import request_views as _mdf_request_views  # noqa: F401  (request pages)
    from mdf.views import blueprint as mdf
    from syndication.email import api as _contacts_api  # noqa: F401
    from syndication.email.public_views import blueprint as email_public
    from syndication.email.views import blueprint as contacts
    from syndication.leads import api as _leads_api  # noqa: F401
    from syndication.leads import routing_api as _routing_api  # noqa: F401
    from syndication.leads.routing_views import blueprint as lead_routing
    from syndication.leads.views import blueprint as leads
    from syndication.links import api as _links_api  # noqa: F401
    from syndication.links.views import blueprint as links
    from syndication.pages import api as _pages_api  # noqa: F401
    from syndication.pages.public import blueprint as landing
    from syndication.pages.views import blueprint as landing_pages
    from syndication.social import api as _social_api  # noqa: F401  (registers /api/v1/social)
    from syndication.social import post_views as _social_posts  # noqa: F401  (its routes)
    from syndication.social.views import blueprint as social
    from syndication.widget import api as _widget_api  # noqa: F401  (/api/v1/widget routes)
    from syndication.widget.public_views import blueprint as widget_embed
    from syndication.widget.views import blueprint as widgets
    from tcma.admin import blueprint as admin
    from tcma.api import blueprint as api
    from tcma.auth.sso import blueprint as sso
    from tcma.auth.views import blueprint as auth
    from tcma.health import blueprint as health
    from tcma.mail import blueprint as outbox
    from tcma.partners.views import blueprint as partners
    from tcma.portal import blueprint as portal
    from tcma.program import blueprint as program
    from tcma.storage import blueprint as files
    from tcma.webhooks import api as _webhooks_api  # noqa: F401  (registers /api/v1/webhooks)
    from tcma.webhooks.views import blueprint as webhooks

    for bp in (health, auth, sso, portal, partners, admin, program, files, outbox, webhooks,
               assets, kits, links, landing, landing_pages, leads, lead_routing, contacts,
               email_public, mdf, social, widgets, widget_embed, api):
        app.register_blueprint(bp)
    # Kits reference landing pages, which live above campaigns (syndication -> campaigns):
    # syndication's lookup is handed to campaigns here, as assets.qr gets its link maker.
    from campaigns.references import register_landing_page_lookup

    register_landing_page_lookup(_landing_page_title)
    # Domain packages' receivers of core signals (``tcma.signals``).
    from assets.logos import init_app as init_logos

    init_logos(app)
    from syndication.links.views import init_app as init_links

    init_links(app)
    from syndication.widget.public_views import init_app as init_widget_embed

    init_widget_embed(app)
    # Launches send email steps through syndication's email channel (campaigns.channels).
    from syndication.email.launching import init_app as init_email_channel

    init_email_channel(app)
    from syndication.social.launching import init_app as init_post_channel

    init_post_channel(app)


def _landing_page_title(public_id: str) -> str | None:
    from syndication.pages.service import get_page
    from tcma.errors import NotFound

    try:
        return get_page(public_id).title
    except NotFound:
        return None


def _import_tasks() -> None:
    """Import every module that declares actors, so the worker knows them all."""
    import assets.tasks  # noqa: F401
    import campaigns.tasks  # noqa: F401
    import mdf.tasks  # noqa: F401
    import syndication.email.tasks  # noqa: F401
    import syndication.leads.tasks  # noqa: F401
    import syndication.links.tasks  # noqa: F401
    import syndication.social.tasks  # noqa: F401
    import tcma.tasks  # noqa: F401
    import tcma.webhooks.tasks  # noqa: F401


def _configure_database(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        # Several threads (web, embedded worker) share the file; WAL lets readers and one
        # writer work at once, and busy_timeout waits for the writer instead of failing.
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        app.config["SQLALCHEMY_ENGINE_OPTIONS"].setdefault(
            "connect_args", {"check_same_thread": False, "timeout": 30}
        )
    else:
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # WAL with NORMAL sync: no corruption on any crash; a power cut may lose the last
        # commits (production runs PostgreSQL). FULL fsyncs every commit, ~ms each.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
