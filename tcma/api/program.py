"""API routes for the program's branding and the audit log."""

from __future__ import annotations

from flask import request

from tcma import audit
from tcma.api import endpoint
from tcma.api.responses import int_arg, json_body
from tcma.api.schemas import AuditEventOut, ProgramIn, ProgramOut
from tcma.errors import FieldError, ValidationFailed
from tcma.extensions import db

# --- audit ---------------------------------------------------------------------------------


@endpoint("/audit-events", "GET", summary="The audit log, newest first", tag="audit",
          permission="audit.view", response=list[AuditEventOut],
          query={"action": "Only actions starting with this, e.g. partner.",
                 "before": "Only events with a smaller id (for paging)",
                 "limit": "1-200 (default 50)"})
def list_audit_events():
    errors: list[FieldError] = []
    limit = int_arg("limit", 50, 1, 200, errors)
    before_id = int_arg("before", None, 1, None, errors)
    if errors:
        raise ValidationFailed(errors)
    events = audit.list_events(action=request.args.get("action") or None,
                               before_id=before_id, limit=limit)
    return json_body([AuditEventOut(id=e.id, occurred_at=e.occurred_at, actor=e.actor_label,
                                action=e.action, target_type=e.target_type,
                                target_id=e.target_id, before=e.before, after=e.after)
                  for e in events])




def _program_out() -> ProgramOut:
    from tcma.program import current_program

    p = current_program()
    return ProgramOut(vendor_name=p.name, primary_color=p.color, logo_url=p.logo_url,
                      support_email=p.support_email)


@endpoint("/program", "GET", summary="The program's name, colour and logo shown on every page",
          tag="program", permission="tokens.own", response=ProgramOut)
def get_program():
    return json_body(_program_out())


@endpoint("/program", "PUT", summary="Change the program's name, colour, logo and support email",
          tag="program", permission="program.manage", body=ProgramIn, response=ProgramOut)
def put_program(body: ProgramIn):
    from tcma.program import update_program

    update_program(vendor_name=body.vendor_name, primary_color=body.primary_color,
                   logo_url=body.logo_url, support_email=body.support_email)
    db.session.commit()
    return json_body(_program_out())

