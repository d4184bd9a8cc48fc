"""The landing page after sign-in: a vendor dashboard or a partner's home."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, url_for
from sqlalchemy import func, select

from tcma import audit
from tcma.auth.models import User, UserStatus
from tcma.auth.permissions import can
from tcma.extensions import db
from tcma.partners import service as partners
from tcma.partners.models import Partner, PartnerStatus

blueprint = Blueprint("portal", __name__)


@blueprint.get("/")
def home():
    if g.user is None:
        return redirect(url_for("auth.login"))
    if g.user.is_vendor:
        return _vendor_home()
    return _partner_home()


def _vendor_home():
    by_status = dict(
        db.session.execute(select(Partner.status, func.count()).group_by(Partner.status)).all()
    )
    by_tier = db.session.execute(
        select(Partner.tier, func.count()).where(Partner.status == PartnerStatus.ACTIVE)
        .group_by(Partner.tier).order_by(func.count().desc())
    ).all()
    pending_invites = db.session.execute(
        select(func.count()).select_from(User).where(User.status == UserStatus.INVITED,
                                                     User.partner_id.is_not(None))
    ).scalar_one()
    recent = audit.list_events(limit=10) if can(g.user, "audit.view") else []
    return render_template(
        "portal/vendor_home.html",
        counts={s.value: by_status.get(s, 0) for s in PartnerStatus},
        by_tier=by_tier,
        pending_invites=pending_invites,
        recent=recent,
    )


def _partner_home():
    partner = g.user.partner
    profile = partners.current_brand_profile(partner)
    return render_template(
        "portal/partner_home.html",
        partner=partner,
        profile=profile,
        meter=partners.completeness(profile),
        logo_url=partners.logo_url(profile),
    )
