"""Partner tenancy: a partner user's session only ever sees its own partner's rows.

One mechanism, not a filter repeated in every query: when a request is made by a partner user,
the session is marked with that partner's id, and every ORM SELECT gets loader criteria that
limit ``Partner``, ``User`` and every ``PartnerOwned`` model to that partner (SQLAlchemy's
``with_loader_criteria``, applied in ``do_orm_execute``, reaches joins, relationships and
eager loads too). A flush check refuses to write a row into another partner.
"""

from __future__ import annotations

from typing import TypeVar

from flask import abort
from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from tcma.auth.models import User
from tcma.extensions import db
from tcma.partners.models import Partner, PartnerOwned

SESSION_KEY = "tcma.tenant_partner_id"

M = TypeVar("M")


def scope_session_to_partner(partner_id: int | None, *, keep: tuple = ()) -> None:
    """Limit the current session to one partner's rows (None: vendor staff, unscoped).

    Changing the scope expires what the session loaded under the old one, so an object
    (or a relationship left empty by the old scope's filter) is never reused across scopes.
    ``keep``: objects the caller knows belong to the new scope as loaded (the signed-in user
    and their own partner), spared a reload on every request.
    """
    previous = db.session.info.get(SESSION_KEY)
    if partner_id is None:
        db.session.info.pop(SESSION_KEY, None)
    else:
        db.session.info[SESSION_KEY] = partner_id
    if previous == partner_id:
        return
    if not keep:
        db.session.expire_all()
        return
    kept = {id(obj) for obj in keep if obj is not None}
    for obj in list(db.session.identity_map.values()):
        if id(obj) not in kept:
            db.session.expire(obj)


def current_tenant() -> int | None:
    return db.session.info.get(SESSION_KEY)


@event.listens_for(Session, "do_orm_execute")
def _apply_tenant_criteria(state: ORMExecuteState) -> None:
    partner_id = state.session.info.get(SESSION_KEY)
    if partner_id is None or not state.is_select:
        return
    state.statement = state.statement.options(
        with_loader_criteria(Partner, Partner.id == partner_id, include_aliases=True),
        with_loader_criteria(User, User.partner_id == partner_id, include_aliases=True),
        with_loader_criteria(
            PartnerOwned,
            lambda cls: cls.partner_id == partner_id,
            include_aliases=True,
        ),
    )


@event.listens_for(Session, "before_flush")
def _refuse_cross_tenant_writes(session: Session, flush_context, instances) -> None:
    partner_id = session.info.get(SESSION_KEY)
    if partner_id is None:
        return
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        owner = None
        if isinstance(obj, PartnerOwned) or isinstance(obj, User):
            owner = obj.partner_id
        elif isinstance(obj, Partner):
            owner = obj.id
        else:
            continue
        if owner is not None and owner != partner_id:
            raise PermissionError(
                f"refusing to write {type(obj).__name__} of another partner from a partner session"
            )


def get_or_404(model: type[M], public_id: str) -> M:
    """Load a row by public id as the current user may see it, or answer 404."""
    obj = db.session.execute(
        select(model).where(model.public_id == public_id)  # type: ignore[attr-defined]
    ).scalar_one_or_none()
    if obj is None:
        abort(404)
    return obj
