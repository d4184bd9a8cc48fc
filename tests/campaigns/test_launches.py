"""Launches: one click sends the kit's first email to every subscribed contact exactly once;
steps come due in the partner's time zone; follow-ups go to non-clickers; pause, resume and
cancel do what they say; a launch is blocked, with reasons, when the brand lacks what the
emails need."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from campaigns import launches
from campaigns.models import LaunchStatus, StepStatus
from syndication.email import contacts, sending
from syndication.email.models import Contact, Delivery, DeliveryStatus
from syndication.email.suppression import SuppressionReason, suppress
from syndication.links import clicks
from tcma.errors import ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tests.factories import make_partner
from tests.syndication.email.world import add_contacts, published_kit, ready_partner

BROWSER = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
           "(KHTML, like Gecko) Version/17.5 Safari/605.1.15")
BERLIN = ZoneInfo("Europe/Berlin")


def steps(*specs):
    return [{"day": d, "time": t, "item": "welcome"} for d, t in specs]


def test_steps_fall_due_on_the_partners_local_clock_across_a_dst_change():
    # Friday 27 March 2026, 16:00 in Berlin; clocks go forward on Sunday 29 March.
    start = datetime(2026, 3, 27, 15, 0, tzinfo=UTC)
    due = launches.due_times(steps((0, "09:00"), (0, "18:00"), (3, "10:30"), (2, "02:30")),
                             start, BERLIN)
    assert due[0] == start  # 09:00 had passed: "launch now" sends now, not tomorrow
    assert due[1] == datetime(2026, 3, 27, 17, 0, tzinfo=UTC)  # 18:00 CET
    assert due[2] == datetime(2026, 3, 30, 8, 30, tzinfo=UTC)  # 10:30 CEST, after the change
    # 02:30 on 29 March does not exist in Berlin: it is taken as 03:30 CEST
    assert due[3] == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    tokyo = launches.due_times(steps((1, "09:00")), start, ZoneInfo("Asia/Tokyo"))
    assert tokyo[0] == datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # Sunday 09:00 JST


def test_one_click_launch_sends_the_first_step_to_every_subscribed_contact_once(
        ctx, jobs, outbox):
    partner = ready_partner()
    addresses = add_contacts(partner, 12)
    gone = db.session.execute(select(Contact).where(Contact.email == addresses[0])).scalar_one()
    contacts.unsubscribe(gone, how="reply")
    suppress(addresses[1], SuppressionReason.HARD_BOUNCE)
    db.session.commit()
    kit = published_kit()

    launch = launches.launch_kit(partner, kit)
    db.session.commit()
    jobs.run()

    received = sorted(m.to for m in outbox.messages())
    assert received == sorted(f"Person{n} Tester <{a}>" for n, a in enumerate(addresses)
                              if n > 1)
    db.session.expire_all()
    progress = launches.progress(launch)
    first, second = progress.steps
    assert first.step.status is StepStatus.DONE and second.step.status is StepStatus.WAITING
    assert (first.counts["sent"], first.counts["suppressed"], first.counts["queued"]) == (10, 2, 0)
    assert launch.status is LaunchStatus.RUNNING and progress.percent == 100
    reasons = set(db.session.execute(select(Delivery.error).where(
        Delivery.status == DeliveryStatus.SUPPRESSED)).scalars())
    assert reasons == {"contact is unsubscribed", "address suppressed: hard_bounce"}

    # The same batch delivered again (Dramatiq is at-least-once) sends nothing more.
    ids = db.session.execute(select(Delivery.id).order_by(Delivery.id)).scalars().all()
    assert sending.send_batch(first.step.id, ids[0], ids[-1]) == 0
    assert len(outbox.messages()) == 10


def test_follow_up_goes_at_its_local_time_to_those_who_did_not_click(ctx, app, jobs, outbox):
    partner = ready_partner()
    add_contacts(partner, 3)
    kit = published_kit()
    start = utcnow()
    launch = launches.launch_kit(partner, kit, start_at=start)
    db.session.commit()
    jobs.run()
    first = {m.to: m for m in outbox.messages()}
    assert len(first) == 3

    # An hour later (a click seconds after delivery is a mail scanner's), Person0 clicks
    # the tracked link in their email, as a person in a browser would.
    db.session.execute(db.update(Delivery).values(sent_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    clicked = first["Person0 Tester <person0@example.com>"]
    link = clicked.link(r"http://localhost/r/\S+?\?d=[\w-]+")
    client = app.test_client()
    answer = client.get(link.removeprefix("http://localhost"), headers={"User-Agent": BROWSER},
                        environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert answer.status_code == 302
    assert answer.location.startswith("https://vendor.example/backup?plan=pro&x=1")
    assert "utm_medium=email" in answer.location and answer.location.endswith("#top")
    db.session.commit()
    clicks.drain()
    db.session.commit()

    second = launch.steps[1]
    local = second.due_at.astimezone(BERLIN)
    assert (local.hour, local.minute) == (10, 30)
    assert (local.date() - start.astimezone(BERLIN).date()).days == 3
    assert launches.queue_due_steps(now=second.due_at - timedelta(seconds=1)) == 0
    db.session.commit()
    jobs.run()
    assert len(outbox.messages()) == 3  # not yet due

    db.session.execute(db.update(type(second)).where(type(second).id == second.id)
                       .values(due_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert launches.queue_due_steps() == 1
    db.session.commit()
    jobs.run()
    reminders = [m for m in outbox.messages() if m.subject.startswith("Still thinking")]
    assert sorted(m.to for m in reminders) == ["Person1 Tester <person1@example.com>",
                                               "Person2 Tester <person2@example.com>"]
    db.session.expire_all()
    assert launch.status is LaunchStatus.COMPLETED and launch.finished_at is not None


def test_pause_holds_messages_resume_sends_them_and_cancel_stops_for_good(ctx, jobs, outbox):
    partner = ready_partner()
    add_contacts(partner, 5)
    kit = published_kit()
    launch = launches.launch_kit(partner, kit)
    launches.pause(launch)
    db.session.commit()
    jobs.run()
    assert outbox.messages() == []
    assert launch.status is LaunchStatus.PAUSED

    launches.resume(launch)
    db.session.commit()
    jobs.run()
    assert len(outbox.messages()) == 5
    db.session.expire_all()
    assert launch.status is LaunchStatus.RUNNING

    launches.cancel(launch)
    db.session.commit()
    assert [s.status for s in launch.steps] == [StepStatus.DONE, StepStatus.CANCELLED]
    assert launches.queue_due_steps(now=utcnow() + timedelta(days=30)) == 0
    with pytest.raises(launches.Conflict):
        launches.resume(launch)


def test_cancelling_mid_step_leaves_unsent_rows_cancelled(ctx, jobs, outbox):
    partner = ready_partner()
    add_contacts(partner, 4)
    launch = launches.launch_kit(partner, published_kit())
    db.session.commit()
    step = launch.steps[0]
    assert launches.start_step(step.id)  # what the queued message would do
    db.session.commit()
    launches.cancel(launch)
    db.session.commit()
    jobs.run()  # the start message and the batches find a cancelled launch
    assert outbox.messages() == []
    states = db.session.execute(select(Delivery.status, func.count())
                                .group_by(Delivery.status)).all()
    assert states == [(DeliveryStatus.CANCELLED, 4)]


def test_launch_is_blocked_with_everything_the_partner_must_fix(ctx):
    kit = published_kit()
    partner = make_partner("Bare Partner")  # no address, no phone, no contacts
    with pytest.raises(launches.LaunchBlocked) as blocked:
        launches.launch_kit(partner, kit)
    problems = " | ".join(blocked.value.problems)
    for words in ("postal address (street)", "postal address (city)", "reply-to email",
                  "phone", "has no subscribed contacts"):
        assert words in problems
    assert launches.launch_problems(partner, kit) == blocked.value.problems

    ready = ready_partner("Ready Partner")
    add_contacts(ready, 1)
    assert launches.launch_problems(ready, kit) == []
    with pytest.raises(ValidationFailed) as bad:
        launches.launch_kit(ready, kit, start_at=utcnow() - timedelta(hours=1),
                            blocks={"welcome": {"outro": "x"}})
    assert bad.value.for_field("start_at")
    with pytest.raises(ValidationFailed) as bad:
        launches.launch_kit(ready, kit, blocks={"welcome": {"outro": "x"}},
                            options={"list_id": "nope"})
    assert bad.value.for_field("blocks.welcome.outro") == "This block cannot be changed."


def test_the_partners_own_intro_replaces_the_editable_block_as_plain_text(ctx, jobs, outbox):
    partner = ready_partner()
    add_contacts(partner, 1)
    launches.launch_kit(partner, published_kit(), blocks={
        "welcome": {"intro": "Dear friends,\n\nour <b>spring</b> offer {{ partner.email }}"}})
    db.session.commit()
    jobs.run()
    (mail,) = outbox.messages()
    assert "our &lt;b&gt;spring&lt;/b&gt; offer" in mail.html
    assert "&#123;&#123; partner.email &#125;&#125;" in mail.html  # text, not a token
    assert "Hi Person0" not in mail.html  # the kit's own intro was replaced
    assert "Dear friends," in mail.text


def test_send_me_a_test_mails_the_user_the_partners_version_untracked(ctx, jobs, outbox):
    from campaigns import content, kits
    from tcma.auth.models import Role
    from tests.factories import make_user

    partner = ready_partner()
    kit = published_kit()
    marketer = make_user(Role.MARKETER, name="Jo Marketer", email="jo@vendor.example")
    content.send_test(kits.latest_published(kit), "welcome", partner, to=marketer)
    db.session.commit()
    jobs.run()
    (mail,) = outbox.messages()
    assert mail.to == "jo@vendor.example"
    assert mail.subject == "[Test] Hi Jo, back up now"
    assert mail.message["From"].addresses[0].display_name == "Müller Systemhaus"
    assert mail.message["Reply-To"] == "anna@mueller.example"
    assert "Hauptstraße 5" in mail.text and "https://vendor.example/backup" in mail.html
    assert "/r/" not in mail.html  # no tracking link was made for a test


def test_launching_the_same_kit_to_the_same_list_twice_is_refused(ctx):
    from syndication.email import lists

    partner = ready_partner()
    add_contacts(partner, 2)
    kit = published_kit()
    first = launches.launch_kit(partner, kit)
    db.session.commit()
    with pytest.raises(launches.LaunchBlocked) as twice:
        launches.launch_kit(partner, kit)  # a double click, or a colleague at the same time
    assert "already scheduled for the same audience" in twice.value.problems[0] or \
        "already running for the same audience" in twice.value.problems[0]
    other = lists.create_list(partner, "Trade show 2026")
    lists.add_members(other, [c.id for c in db.session.execute(select(Contact)).scalars()])
    db.session.commit()
    assert launches.launch_kit(partner, kit, options={"list_id": other.public_id})
    launches.cancel(first)
    db.session.commit()
    assert launches.launch_kit(partner, kit)  # the first is over: a new launch may go
