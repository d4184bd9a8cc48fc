"""What each role may do. Screens and API routes ask for a permission, never for a role."""

from __future__ import annotations

from functools import wraps

from flask import abort, g, redirect, request, url_for

from tcma.auth.models import Role

A, M, C, F = Role.ADMIN, Role.MARKETER, Role.CHANNEL_MANAGER, Role.FINANCE
PA, PU = Role.PARTNER_ADMIN, Role.PARTNER_USER

PERMISSIONS: dict[str, frozenset[Role]] = {
    # vendor side
    "partners.view": frozenset({A, M, C, F}),
    "partners.manage": frozenset({A, C}),
    "staff.manage": frozenset({A}),
    "audit.view": frozenset({A}),
    "outbox.view": frozenset({A}),
    "program.manage": frozenset({A}),
    # signed outgoing webhooks (endpoints hold secrets and receive personal data)
    "webhooks.manage": frozenset({A}),
    "assets.view": frozenset({A, M, C, F}),
    "assets.manage": frozenset({A, M}),
    # campaign kits: marketers author them, channel managers follow them, partners browse
    "kits.view": frozenset({A, M, C}),
    "kits.manage": frozenset({A, M}),
    "kits.browse": frozenset({PA, PU}),
    # launches: partners run their own kits' launches; staff who follow kits watch them all
    "launches.run": frozenset({PA, PU}),
    "launches.view": frozenset({A, M, C, PA, PU}),
    # landing pages: the vendor authors them; partners see theirs to share
    "pages.view": frozenset({A, M, C, PA, PU}),
    "pages.manage": frozenset({A, M}),
    # leads: partners see and work their own; vendor staff see all, with attribution
    "leads.view": frozenset({A, M, C, PA, PU}),
    "leads.manage": frozenset({A, C, PA, PU}),
    # routing vendor leads to partners: rules, hand assignment, importing the vendor's leads
    "leads.route": frozenset({A, C}),
    # contacts are the partner's own data: vendor staff never see them, only the global
    # suppression list's digests and counts
    "contacts.manage": frozenset({PA, PU}),
    "suppressions.view": frozenset({A}),
    # market development funds: finance and channel managers run funds and review; only
    # finance and admins pay; partners request and claim against their own allocations
    "mdf.view": frozenset({A, C, F, PA, PU}),
    "mdf.manage": frozenset({A, C, F}),
    "mdf.review": frozenset({A, C, F}),
    "mdf.pay": frozenset({A, F}),
    "mdf.request": frozenset({PA, PU}),
    # social accounts: partners connect their own; vendor staff see token health counts only
    "social.connect": frozenset({PA, PU}),
    "social.health": frozenset({A, M, C}),
    # social posts: partners edit, skip and plan their own (autopilot); staff follow them all
    "social.posts": frozenset({PA, PU}),
    "social.calendar": frozenset({A, M, C, PA, PU}),
    # web widget: the vendor authors syndicated content; partners build their own widgets
    "widget.content": frozenset({A, M}),
    "widget.build": frozenset({PA, PU}),
    # partner side
    # tracking links: partners see and make their own, the vendor all of them
    "links.view": frozenset({A, M, C, F, PA, PU}),
    "links.create": frozenset({A, M, C, PA, PU}),
    "links.settings": frozenset({A, M}),
    "portal.use": frozenset({PA, PU}),
    "brand.edit": frozenset({PA}),
    "colleagues.manage": frozenset({PA}),
    "library.use": frozenset({PA, PU}),
    # everyone signed in
    "tokens.own": frozenset({A, M, C, F, PA, PU}),
}


def can(user, permission: str) -> bool:
    if user is None or permission not in PERMISSIONS:
        return False
    return user.role in PERMISSIONS[permission]


def requires(permission: str):
    """Guard a page: sign-in first, then the permission.

    A partner user asking for a vendor screen gets 404, not 403, so partner users cannot map
    what exists on the vendor side; vendor staff lacking a permission get a plain 403.
    """
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            user = g.get("user")
            if user is None:
                return redirect(url_for("auth.login", next=request.full_path))
            if not can(user, permission):
                abort(403 if user.is_vendor else 404)
            return view(*args, **kwargs)

        guarded.permission = permission
        return guarded

    return decorate
