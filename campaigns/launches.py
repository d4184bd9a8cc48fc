"""Launches: a partner runs a published kit version; its steps become due rows.

A launch's schedule is fixed when it is created: each step's due time is computed once, in
the partner's time zone, and stored (``LaunchStep.due_at``). The scheduler job finds waiting
steps whose time has come and queues ``start_launch_step``; starting is a compare-and-set on
the step's status, so however many processes queue the same step, one starts it. Sending is
the channel's business (``campaigns.channels``); it reports back with ``finish_step``.

Services flush but never commit; the caller owns the transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from campaigns import channels, kits
from campaigns.content import emails_of
from campaigns.mjml import editable_blocks
from campaigns.models import Kit, KitVersion, Launch, LaunchStatus, LaunchStep, StepStatus
from campaigns.posts import check_edits, posts_of
from tcma import audit, queue
from tcma.auth.models import User
from tcma.errors import Conflict, DomainError, FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner

MAX_BLOCK = 5000  # characters of partner text in one editable block
#: How far ahead a launch may be scheduled, and how late a "start at" may be (clock skew).
MAX_AHEAD = timedelta(days=365)
PAST_GRACE = timedelta(minutes=5)
#: Brand fields every commercial email needs, whatever the kit's tokens: who sends it, where
#: replies go, and the postal address the law (CAN-SPAM, the EU's ePrivacy rules) requires.
REQUIRED_BRAND = {
    "display_name": "your company name",
    "email": "a reply-to email address",
    "address_line1": "your postal address (street)",
    "city": "your postal address (city)",
    "postal_code": "your postal address (postal code)",
    "country": "your postal address (country)",
}
_PARTNER_TOKEN = re.compile(r"partner\.([a-z_0-9]+)")

_TRANSITIONS = {
    LaunchStatus.SCHEDULED: {LaunchStatus.RUNNING, LaunchStatus.PAUSED, LaunchStatus.CANCELLED,
                             LaunchStatus.COMPLETED},
    LaunchStatus.RUNNING: {LaunchStatus.PAUSED, LaunchStatus.COMPLETED, LaunchStatus.CANCELLED},
    LaunchStatus.PAUSED: {LaunchStatus.RUNNING, LaunchStatus.SCHEDULED, LaunchStatus.CANCELLED},
    LaunchStatus.COMPLETED: set(),
    LaunchStatus.CANCELLED: set(),
}
#: Counts a channel may report beside its messages' states (not messages themselves).
ENGAGEMENT = ("opened",)
#: Launches whose due steps may start.
ACTIVE = (LaunchStatus.SCHEDULED, LaunchStatus.RUNNING)


class LaunchBlocked(DomainError):
    """The partner must fix things (listed) before this kit can be launched."""

    status = 409
    title = "Launch blocked"

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Fix these before launching: " + "; ".join(problems))


def check_transition(old: LaunchStatus, new: LaunchStatus) -> None:
    """The launch state machine: raise Conflict for a move it does not allow."""
    if new not in _TRANSITIONS[old]:
        raise Conflict(f"A {old.value} launch cannot become {new.value}.")


# --- checks before launching -----------------------------------------------------------------


def brand_problems(partner: Partner, version: KitVersion,
                   kinds: list[str] | None = None) -> list[str]:
    """Brand profile values the kit's emails and posts (of ``kinds``, default all) need but
    the partner has not filled in."""
    from campaigns.content import partner_values

    kinds = _kinds(version) if kinds is None else kinds
    values = partner_values(partner)
    # The sender's identity and postal address are the law for email, not for a post.
    needed = dict(REQUIRED_BRAND) if "email" in kinds else {}
    texts = [text for email in (emails_of(version) if "email" in kinds else [])
             for text in (email.get("mjml", ""), email.get("subject", ""),
                          email.get("preheader", ""), email.get("from_name", ""))]
    texts += [text for post in (posts_of(version) if "post" in kinds else [])
              for text in post.get("texts", {}).values()]
    for text in texts:
        for name in _PARTNER_TOKEN.findall(text or ""):
            needed.setdefault(name, name.replace("_", " "))
    missing = [label for name, label in needed.items() if not (values.get(name) or "").strip()]
    return [f"Add {label} to your brand profile." for label in dict.fromkeys(missing)]


def launch_problems(partner: Partner, kit: Kit, options: dict[str, Any] | None = None
                    ) -> list[str]:
    """Everything standing between ``partner`` and launching ``kit`` now, in words; empty
    when the Launch button will work."""
    version = kits.latest_published(kit)
    if version is None or not kits.visible_to(partner, kit):
        return ["This kit is not available to launch."]
    problems = brand_problems(partner, version)
    for kind in _kinds(version):
        problems += channels.channel(kind).problems(partner, version, options or {})
    return problems


def _kinds(version: KitVersion) -> list[str]:
    items = {i["key"]: i.get("kind", "email") for i in version.content.get("items", [])}
    return list(dict.fromkeys(items[s["item"]] for s in version.content.get("steps", [])
                              if s["item"] in items))


def check_blocks(version: KitVersion, blocks: dict[str, Any] | None) -> dict[str, dict[str, str]]:
    """The partner's editable-block texts, checked against the blocks the kit marks editable.
    Empty texts are dropped (the kit's own text stays)."""
    if not blocks:
        return {}
    if not isinstance(blocks, dict):
        raise ValidationFailed([FieldError("blocks", "Send {email key: {block: text}}.")])
    editable = {e["key"]: set(editable_blocks(e["mjml"])) for e in emails_of(version)}
    post_keys = {p["key"] for p in posts_of(version)}
    # A post's texts per network are the partner's to rewrite where the kit allows it.
    kept: dict[str, dict[str, str]] = check_edits(
        version, {k: v for k, v in blocks.items() if k in post_keys})
    errors = []
    for key, texts in blocks.items():
        if key in post_keys:
            continue
        if key not in editable:
            errors.append(FieldError(f"blocks.{key}", "This kit has no such email."))
            continue
        if not isinstance(texts, dict):
            errors.append(FieldError(f"blocks.{key}", "Send {block: text}."))
            continue
        for name, text in texts.items():
            where = f"blocks.{key}.{name}"
            if name not in editable[key]:
                errors.append(FieldError(where, "This block cannot be changed."))
            elif not isinstance(text, str):
                errors.append(FieldError(where, "Write the block's text."))
            elif len(text) > MAX_BLOCK:
                errors.append(FieldError(where, f"Keep it under {MAX_BLOCK:,} characters."))
            elif text.strip():
                kept.setdefault(key, {})[name] = text.strip()
    if errors:
        raise ValidationFailed(errors)
    return kept


# --- the schedule ----------------------------------------------------------------------------


def zone_of(partner: Partner) -> ZoneInfo:
    """The partner's time zone (brand profile), or UTC when unset or unknown."""
    from tcma.partners.service import current_brand_profile

    name = current_brand_profile(partner).timezone or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def due_times(steps: list[dict[str, Any]], start_at: datetime, zone: ZoneInfo) -> list[datetime]:
    """When each step is due, in UTC: ``day`` days after the start's local date, at ``time``
    on the local clock. A day-0 step whose hour has already passed on the start day goes at
    the start itself: "launch now" sends the first email now, not tomorrow."""
    local_start = start_at.astimezone(zone)
    out = []
    for step in steps:
        day: date = local_start.date() + timedelta(days=step["day"])
        hour, minute = (int(p) for p in step["time"].split(":"))
        # A wall time skipped by a DST change (02:30 in spring) resolves to the instant an
        # hour on, as zoneinfo does for fold=0; a repeated one takes its first occurrence.
        due = datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)
        out.append(max(due, start_at.astimezone(UTC)) if step["day"] == 0 else due)
    return out


# --- launching and controlling ---------------------------------------------------------------


def launch_kit(partner: Partner, kit: Kit, *, start_at: datetime | None = None,
               options: dict[str, Any] | None = None, blocks: dict[str, Any] | None = None,
               by: User | None = None, now: datetime | None = None,
               only_kinds: set[str] | None = None) -> Launch:
    """Launch the newest published version of ``kit`` for ``partner``: the one-click path
    when everything is left to its default (every subscribed contact of the default list,
    starting now). ``only_kinds`` keeps just the steps of those channels (autopilot
    schedules a kit's posts, never its emails)."""
    now = now or utcnow()
    version = kits.latest_published(kit)
    if version is None or not kits.visible_to(partner, kit, now):
        raise NotFound("No such kit.")
    if start_at is None:
        start_at = now
    elif start_at.tzinfo is None:
        raise ValidationFailed([FieldError("start_at", "Give a time zone, e.g. "
                                                       "2026-12-01T09:00:00+01:00.")])
    elif start_at < now - PAST_GRACE:
        raise ValidationFailed([FieldError("start_at", "Choose a time that has not passed.")])
    elif start_at > now + MAX_AHEAD:
        raise ValidationFailed([FieldError("start_at", "Start within a year.")])
    kept_blocks = check_blocks(version, blocks)
    kinds = [k for k in _kinds(version) if only_kinds is None or k in only_kinds]
    if not kinds:
        raise LaunchBlocked(["This kit has nothing to send through the chosen channels."])
    kept_options: dict[str, Any] = {}
    for kind in kinds:
        kept_options.update(channels.channel(kind).prepare(partner, version, options or {}))
    problems = brand_problems(partner, version, kinds)
    for kind in kinds:
        problems += channels.channel(kind).problems(partner, version, kept_options)
    twin = _running_twin(partner, kit, kept_options)
    if twin is not None:
        problems.append(f"This kit is already {twin.status.value} for the same audience "
                        f"(launched {twin.created_at:%Y-%m-%d %H:%M} UTC): cancel that launch, "
                        "or choose another list.")
    if problems:
        raise LaunchBlocked(problems)

    zone = zone_of(partner)
    launch = Launch(partner_id=partner.id, kit_id=kit.id, kit_version_id=version.id,
                    start_at=start_at, timezone=zone.key, options=kept_options,
                    blocks=kept_blocks, created_by_id=by.id if by else None,
                    status=LaunchStatus.SCHEDULED)
    db.session.add(launch)
    items = {i["key"]: i.get("kind", "email") for i in version.content.get("items", [])}
    steps = [s for s in version.content.get("steps", []) if items.get(s["item"]) in kinds]
    for number, (step, due) in enumerate(zip(steps, due_times(steps, start_at, zone),
                                             strict=True), start=1):
        launch.steps.append(LaunchStep(
            partner_id=partner.id, number=number, kind=items[step["item"]], item=step["item"],
            audience=step.get("audience", "all"), audience_step=step.get("audience_step"),
            due_at=due, status=StepStatus.WAITING))
    db.session.flush()
    for kind in kinds:
        channels.channel(kind).scheduled(launch)
    audit.record("launch.create", target=launch, actor=by,
                 after={"kit": kit.public_id, "version": version.number,
                        "start_at": start_at.isoformat(), "steps": len(steps)})
    _queue_due(launch, now)
    return launch


def _running_twin(partner: Partner, kit: Kit, options: dict[str, Any]) -> Launch | None:
    """A launch of the same kit to the same audience that has not finished: launching again
    would email the same people twice (a double click, two colleagues at once)."""
    active = db.session.execute(select(Launch).where(
        Launch.partner_id == partner.id, Launch.kit_id == kit.id,
        Launch.status.in_((LaunchStatus.SCHEDULED, LaunchStatus.RUNNING, LaunchStatus.PAUSED))
    ).order_by(Launch.id)).scalars()
    return next((launch for launch in active if launch.options == options), None)


def _queue_due(launch: Launch, now: datetime) -> None:
    from campaigns.tasks import start_launch_step

    for step in launch.steps:
        if step.status is StepStatus.WAITING and step.due_at <= now:
            queue.enqueue(start_launch_step, step.id)


def start_step(step_id: int, now: datetime | None = None) -> bool:
    """Start a due step if it is still waiting and its launch active; True if this call did.
    Safe to call many times, from many processes."""
    now = now or utcnow()
    step = db.session.get(LaunchStep, step_id)
    if step is None or step.status is not StepStatus.WAITING or step.due_at > now:
        return False
    # The launch's state as one column: loading the launch would load all its steps too.
    if db.session.scalar(select(Launch.status).where(Launch.id == step.launch_id)) \
            not in ACTIVE:
        return False
    claimed = db.session.execute(
        update(LaunchStep).where(LaunchStep.id == step_id,
                                 LaunchStep.status == StepStatus.WAITING)
        .values(status=StepStatus.STARTED, started_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        return False
    set_committed_value(step, "status", StepStatus.STARTED)
    set_committed_value(step, "started_at", now)
    db.session.execute(
        update(Launch).where(Launch.id == step.launch_id,
                             Launch.status == LaunchStatus.SCHEDULED)
        .values(status=LaunchStatus.RUNNING).execution_options(synchronize_session=False))
    loaded = db.session.identity_map.get(db.session.identity_key(Launch, step.launch_id))
    if loaded is not None:
        db.session.expire(loaded)
    channels.channel(step.kind).start_step(step)
    db.session.flush()
    return True


def queue_due_steps(now: datetime | None = None, limit: int = 500) -> int:
    """Queue ``start_launch_step`` for every waiting step whose time has come (the scheduler
    job); returns how many."""
    from campaigns.tasks import start_launch_step

    now = now or utcnow()
    ids = db.session.execute(
        select(LaunchStep.id).join(Launch, Launch.id == LaunchStep.launch_id)
        .where(LaunchStep.status == StepStatus.WAITING, LaunchStep.due_at <= now,
               Launch.status.in_(ACTIVE))
        .order_by(LaunchStep.due_at).limit(limit)).scalars().all()
    for step_id in ids:
        queue.enqueue(start_launch_step, step_id)
    return len(ids)


def finish_step(step: LaunchStep, now: datetime | None = None) -> bool:
    """A channel sent everything of ``step``: mark it done and, when it was the launch's last,
    the launch completed. True if this call finished it. Two conditional UPDATEs, so the
    last two steps finishing at the same moment in two processes still complete it once."""
    now = now or utcnow()
    launch_id = step.launch_id
    done = db.session.execute(
        update(LaunchStep).where(LaunchStep.id == step.id,
                                 LaunchStep.status == StepStatus.STARTED)
        .values(status=StepStatus.DONE, finished_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if done != 1:
        return False
    still_open = select(LaunchStep.id).where(
        LaunchStep.launch_id == launch_id,
        LaunchStep.status.in_((StepStatus.WAITING, StepStatus.STARTED))).exists()
    db.session.execute(
        update(Launch).where(Launch.id == launch_id,
                             Launch.status.in_((LaunchStatus.RUNNING, LaunchStatus.SCHEDULED)),
                             ~still_open)
        .values(status=LaunchStatus.COMPLETED, finished_at=now)
        .execution_options(synchronize_session=False))
    # The rows changed under the ORM: objects already loaded read them again when used.
    db.session.expire(step)
    loaded = db.session.identity_map.get(db.session.identity_key(Launch, launch_id))
    if loaded is not None:
        db.session.expire(loaded)
    return True


def pause(launch: Launch, *, by: User | None = None) -> Launch:
    """Stop sending: batches in flight finish their current message; nothing new goes out."""
    check_transition(launch.status, LaunchStatus.PAUSED)
    before = launch.status.value
    launch.status = LaunchStatus.PAUSED
    db.session.flush()
    audit.record("launch.pause", target=launch, actor=by, before={"status": before},
                 after={"status": "paused"})
    return launch


def resume(launch: Launch, *, by: User | None = None, now: datetime | None = None) -> Launch:
    """Carry on where the launch stopped; steps that came due while paused go out now."""
    now = now or utcnow()
    started = any(s.status is not StepStatus.WAITING for s in launch.steps)
    new = LaunchStatus.RUNNING if started else LaunchStatus.SCHEDULED
    check_transition(launch.status, new)
    launch.status = new
    db.session.flush()
    for kind in {s.kind for s in launch.steps if s.status is StepStatus.STARTED}:
        channels.channel(kind).resume(launch)
    _queue_due(launch, now)
    audit.record("launch.resume", target=launch, actor=by, before={"status": "paused"},
                 after={"status": new.value})
    return launch


def cancel(launch: Launch, *, by: User | None = None, now: datetime | None = None) -> Launch:
    """Stop for good: waiting steps never start, unsent messages never go out."""
    now = now or utcnow()
    before = launch.status.value
    check_transition(launch.status, LaunchStatus.CANCELLED)
    launch.status = LaunchStatus.CANCELLED
    launch.finished_at = now
    for step in launch.steps:
        if step.status is StepStatus.WAITING:
            step.status = StepStatus.CANCELLED
    db.session.flush()
    for kind in {s.kind for s in launch.steps}:
        channels.channel(kind).cancel(launch)
    for step in launch.steps:
        if step.status is StepStatus.STARTED:
            step.status, step.finished_at = StepStatus.CANCELLED, now
    db.session.flush()
    audit.record("launch.cancel", target=launch, actor=by, before={"status": before},
                 after={"status": "cancelled"})
    return launch


# --- reading ---------------------------------------------------------------------------------


def get_launch(public_id: str) -> Launch:
    """A launch by public id (tenancy limits partners to their own)."""
    launch = db.session.execute(
        select(Launch).where(Launch.public_id == public_id)).scalar_one_or_none()
    if launch is None:
        raise NotFound("No such launch.")
    return launch


def list_launches(partner: Partner | None = None, *, kit: Kit | None = None,
                  limit: int = 100) -> list[Launch]:
    query = select(Launch).order_by(Launch.created_at.desc(), Launch.id.desc()).limit(limit)
    if partner is not None:
        query = query.where(Launch.partner_id == partner.id)
    if kit is not None:
        query = query.where(Launch.kit_id == kit.id)
    return list(db.session.execute(query).scalars())


@dataclass
class StepProgress:
    step: LaunchStep
    name: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(n for key, n in self.counts.items() if key not in ENGAGEMENT)

    @property
    def finished(self) -> int:
        return (self.total - self.counts.get("queued", 0) - self.counts.get("sending", 0)
                - self.counts.get("held", 0))


@dataclass
class Progress:
    launch: Launch
    steps: list[StepProgress] = field(default_factory=list)

    @property
    def percent(self) -> int:
        """Share of started steps' messages that reached an outcome; 100 when all are done."""
        total = sum(s.total for s in self.steps if s.step.status is not StepStatus.WAITING)
        finished = sum(s.finished for s in self.steps
                       if s.step.status is not StepStatus.WAITING)
        if self.launch.status is LaunchStatus.COMPLETED:
            return 100
        return int(100 * finished / total) if total else 0

    def as_dict(self) -> dict[str, Any]:
        launch = self.launch
        return {
            "id": launch.public_id, "status": launch.status.value, "percent": self.percent,
            "start_at": launch.start_at.isoformat(),
            "finished_at": launch.finished_at.isoformat() if launch.finished_at else None,
            "steps": [{"number": s.step.number, "item": s.step.item, "name": s.name,
                       "kind": s.step.kind, "status": s.step.status.value,
                       "audience": s.step.audience, "due_at": s.step.due_at.isoformat(),
                       "started_at": _iso(s.step.started_at),
                       "finished_at": _iso(s.step.finished_at), "counts": s.counts}
                      for s in self.steps],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def progress(launch: Launch) -> Progress:
    """Per step: its state and the channel's counts (queued, sent, failed, suppressed...)."""
    return progress_many([launch])[launch.id]


def progress_many(found: list[Launch]) -> dict[int, Progress]:
    """``progress`` of many launches (a list page) in one query per channel."""
    counts: dict[int, dict[str, int]] = {}
    for kind in {s.kind for launch in found for s in launch.steps}:
        counts.update(channels.channel(kind).progress(
            [launch for launch in found if any(s.kind == kind for s in launch.steps)]))
    out = {}
    for launch in found:
        names = {i["key"]: i.get("name", i["key"])
                 for i in launch.version.content.get("items", [])}
        out[launch.id] = Progress(launch, [
            StepProgress(s, names.get(s.item, s.item), counts.get(s.id, {}))
            for s in launch.steps])
    return out
