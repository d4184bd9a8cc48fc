"""Pages: a partner's connected accounts (connect, pick, disconnect) and the vendor's health."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from syndication.social import networks, service
from syndication.social.models import Network
from tcma.auth.permissions import requires
from tcma.extensions import db

blueprint = Blueprint("social", __name__)


@blueprint.get("/social/accounts")
@requires("social.connect")
def accounts():
    from syndication.social.autopilot import accounts_on

    rows = [(a, service.health(a)) for a in service.list_accounts()]
    return render_template("social/accounts.html", rows=rows, networks=[
        (n, networks.is_configured(n)) for n in Network],
        autopilot_on=accounts_on([a.id for a, _ in rows]))


@blueprint.post("/social/connect")
@requires("social.connect")
def connect():
    network = service.network_named(request.form.get("network", ""))
    try:
        url = service.start_connect(g.user, network)
    except service.ConnectRefused as exc:
        flash(exc.message, "error")
        return redirect(url_for("social.accounts"))
    return redirect(url)


def _callback(network: Network):
    """Where a network sends the partner back after consenting (or declining)."""
    try:
        connected = service.finish_connect(
            g.user, network, state=request.args.get("state", ""),
            code=request.args.get("code"), error=request.args.get("error"))
    except service.ConnectRefused as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("social.accounts")), 303
    db.session.commit()
    if connected is None:
        return redirect(url_for("social.pick"))
    flash(f"Connected {network.label}: {', '.join(a.display_name for a in connected)}.",
          "success")
    return redirect(url_for("social.accounts"))


# One callback per network, without URL arguments: it is the address registered with each
# network's OAuth app.
@blueprint.get("/social/linkedin/callback")
@requires("social.connect")
def callback_linkedin():
    return _callback(Network.LINKEDIN)


@blueprint.get("/social/x/callback")
@requires("social.connect")
def callback_x():
    return _callback(Network.X)


@blueprint.get("/social/facebook/callback")
@requires("social.connect")
def callback_facebook():
    return _callback(Network.FACEBOOK)


@blueprint.route("/social/pick", methods=["GET", "POST"])
@requires("social.connect")
def pick():
    """The Facebook Pages, or LinkedIn profile and company pages, to connect."""
    pending = service.pending_choices(g.user)
    if pending is None:
        flash("Nothing is waiting to be picked: connect an account first.", "error")
        return redirect(url_for("social.accounts"))
    network, choices = pending
    if request.method == "POST":
        try:
            connected = service.choose(g.user, request.form.getlist("accounts"))
        except service.ConnectRefused as exc:
            db.session.rollback()
            return render_template("social/pick.html", network=network, choices=choices,
                                   error=exc.message), 422
        db.session.commit()
        flash(f"Connected {network.label}: {', '.join(a.display_name for a in connected)}.",
              "success")
        return redirect(url_for("social.accounts"))
    return render_template("social/pick.html", network=network, choices=choices, error=None)


@blueprint.post("/social/accounts/<account_id>/disconnect")
@requires("social.connect")
def disconnect(account_id: str):
    account = service.get_account(account_id)
    name, label = account.display_name, account.network.label
    revoked = service.disconnect(account, by=g.user)
    db.session.commit()
    flash(f"Disconnected {name} ({label}): its tokens are deleted"
          f"{' and revoked at ' + label if revoked else ''}.", "success")
    return redirect(url_for("social.accounts"))


@blueprint.get("/social/health")
@requires("social.health")
def health():
    return render_template("social/health.html", rows=service.health_counts())
