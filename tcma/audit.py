"""The audit log: who did what, when, with the state before and after. Append-only.

Every state-changing service calls ``record``. Rows are never updated or deleted: the
database itself refuses (triggers on PostgreSQL and SQLite, created by the migration), so a
bug or a hand-written UPDATE cannot rewrite history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import JSON, ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from tcma.extensions import db
from tcma.models import UTCDateTime, utcnow


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    #: The actor as a person would read it, kept even if the user is later removed.
    actor_label: Mapped[str] = mapped_column(String(300))
    #: Dotted verb, e.g. ``partner.create``, ``brand_profile.update``, ``user.login``.
    action: Mapped[str] = mapped_column(String(100), index=True)
    target_type: Mapped[str | None] = mapped_column(String(50))
    target_id: Mapped[str | None] = mapped_column(String(64))
    partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("partners.id", ondelete="SET NULL"), index=True
    )
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(64))


def record(
    action: str,
    *,
    target: Any = None,
    target_type: str | None = None,
    partner_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
    actor: Any = None,
) -> AuditEvent:
    """Add an audit event to the current transaction (it commits or rolls back with the change)."""
    if actor is None and has_request_context():
        actor = getattr(g, "user", None)
    if target is not None and target_type is None:
        target_type = type(target).__name__
    target_id = getattr(target, "public_id", None) or (
        str(getattr(target, "id", "")) if target is not None else None
    )
    if partner_id is None and target is not None:
        partner_id = getattr(target, "partner_id", None)
        if partner_id is None and type(target).__name__ == "Partner":
            partner_id = target.id
    event = AuditEvent(
        actor_id=getattr(actor, "id", None),
        actor_label=_label(actor),
        action=action,
        target_type=target_type,
        target_id=target_id,
        partner_id=partner_id,
        before=_jsonable(before),
        after=_jsonable(after),
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(event)
    return event


def snapshot(obj: Any, fields: tuple[str, ...] | list[str]) -> dict:
    """The named attributes of ``obj`` as JSON-ready values, for ``before``/``after``."""
    return {name: getattr(obj, name) for name in fields}


def _label(actor: Any) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    return f"{actor.name} <{actor.email}>"


def _jsonable(data: dict | None) -> dict | None:
    if data is None:
        return None
    out = {}
    for key, value in data.items():
        if hasattr(value, "value") and hasattr(type(value), "__members__"):
            value = value.value
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[key] = value
    return out


def list_events(
    *, action: str | None = None, partner_id: int | None = None, before_id: int | None = None,
    limit: int = 50,
) -> list[AuditEvent]:
    """Newest first, keyset-paginated by id."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if partner_id is not None:
        query = query.where(AuditEvent.partner_id == partner_id)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return list(db.session.execute(query).scalars())


#: DDL the migration runs so the database refuses to change history.
APPEND_ONLY_DDL = {
    "postgresql": [
        """
        CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'audit_events is append-only';
        END;
        $$ LANGUAGE plpgsql
        """,
        """
        CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()
        """,
    ],
    "sqlite": [
        """
        CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END
        """,
        """
        CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END
        """,
    ],
}
