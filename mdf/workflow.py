"""The one state machine of a fund request and its claim: who may do what, from which state.

Every action a person (or the scheduler) takes on a request is a row of ``ACTIONS``; the
services ask ``check`` before changing anything, so an illegal move is a 409 with a message
and a move by the wrong role a 403, never a silent change.
"""

from __future__ import annotations

from dataclasses import dataclass

from mdf.models import FundRequest, RequestStatus
from tcma.auth.models import Role, User
from tcma.errors import Conflict, Forbidden

S = RequestStatus
A, C, F = Role.ADMIN, Role.CHANNEL_MANAGER, Role.FINANCE
PA, PU = Role.PARTNER_ADMIN, Role.PARTNER_USER
PARTNER = frozenset({PA, PU})
REVIEWERS = frozenset({A, C, F})
#: Who gives the second approval of a request above the fund's threshold.
SECOND_APPROVERS = frozenset({A, F})
SYSTEM = frozenset()  # only the scheduler


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    sources: frozenset[RequestStatus]
    target: RequestStatus | None  # None: the state stays (edits)
    roles: frozenset[Role]


ACTIONS: dict[str, Action] = {a.name: a for a in (
    Action("edit", "edit the request", frozenset({S.DRAFT, S.NEEDS_INFO}), None, PARTNER),
    Action("submit", "submit", frozenset({S.DRAFT, S.NEEDS_INFO}), S.SUBMITTED, PARTNER),
    Action("ask_info", "ask for more information", frozenset({S.SUBMITTED}), S.NEEDS_INFO,
           REVIEWERS),
    Action("approve", "approve", frozenset({S.SUBMITTED}), S.APPROVED, REVIEWERS),
    Action("reject", "reject", frozenset({S.SUBMITTED, S.NEEDS_INFO}), S.REJECTED, REVIEWERS),
    Action("cancel", "cancel", frozenset({S.DRAFT, S.SUBMITTED, S.NEEDS_INFO, S.APPROVED}),
           S.CANCELLED, PARTNER | frozenset({A, C})),
    Action("edit_claim", "edit the claim", frozenset({S.APPROVED, S.CLAIM_NEEDS_INFO}), None,
           PARTNER),
    Action("submit_claim", "submit the claim", frozenset({S.APPROVED, S.CLAIM_NEEDS_INFO}),
           S.CLAIM_SUBMITTED, PARTNER),
    Action("claim_ask_info", "ask for more information on the claim",
           frozenset({S.CLAIM_SUBMITTED}), S.CLAIM_NEEDS_INFO, REVIEWERS),
    Action("approve_claim", "approve the claim", frozenset({S.CLAIM_SUBMITTED}),
           S.CLAIM_APPROVED, REVIEWERS),
    Action("reject_claim", "reject the claim", frozenset({S.CLAIM_SUBMITTED}),
           S.CLAIM_REJECTED, REVIEWERS),
    Action("pay", "mark paid", frozenset({S.CLAIM_APPROVED}), S.PAID, frozenset({A, F})),
    Action("expire", "expire", frozenset({S.APPROVED}), S.EXPIRED, SYSTEM),
)}

#: States a request never leaves.
FINAL = frozenset({S.REJECTED, S.CANCELLED, S.CLAIM_REJECTED, S.PAID, S.EXPIRED})

_ROLE_WORDS = {A: "an admin", C: "a channel manager", F: "finance", PA: "the partner",
               PU: "the partner"}


def _who(roles: frozenset[Role]) -> str:
    words = list(dict.fromkeys(_ROLE_WORDS[r] for r in sorted(roles, key=lambda r: r.value)))
    if not words:
        return "tcma itself"
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def check(action: str, request: FundRequest, user: User | None) -> Action:
    """The action, if ``user`` may take it on ``request`` now; else Conflict (wrong state)
    or Forbidden (wrong role, or someone else's partner)."""
    rule = ACTIONS[action]
    if request.status not in rule.sources:
        state = request.status.value.replace("_", " ")
        article = "An" if state[0] in "aeiou" else "A"
        raise Conflict(f"{article} {state} request cannot be {_past(rule)}.")
    if user is None:
        if rule.roles:
            raise Forbidden(f"Only {_who(rule.roles)} can {rule.label}.")
        return rule
    if user.role not in rule.roles:
        raise Forbidden(f"Only {_who(rule.roles)} can {rule.label}.")
    if user.role in PARTNER and user.partner_id != request.partner_id:
        raise Forbidden("This request belongs to another partner.")
    return rule


def _past(rule: Action) -> str:
    return {"edit": "edited", "submit": "submitted", "ask_info": "sent back for information",
            "approve": "approved", "reject": "rejected", "cancel": "cancelled",
            "edit_claim": "claimed against", "submit_claim": "claimed",
            "claim_ask_info": "sent back for claim information",
            "approve_claim": "approved as a claim", "reject_claim": "rejected as a claim",
            "pay": "paid", "expire": "expired"}[rule.name]


def allowed(request: FundRequest, user: User | None) -> list[str]:
    """The actions ``user`` may take on ``request`` now (for buttons)."""
    out = []
    for name in ACTIONS:
        try:
            check(name, request, user)
        except (Conflict, Forbidden):
            continue
        out.append(name)
    return out
