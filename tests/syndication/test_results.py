"""A launch's results: what its emails, links and landing page achieved, counted the way a
partner's proof of performance quotes them (bots left out, opens approximate, a lead counted
once and only when it came through the launch's links), on a real launch run by the jobs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import select, update

from campaigns import launches
from campaigns.models import Launch, LaunchStatus, LaunchStep
from syndication.email import contacts
from syndication.email.models import Contact, Delivery
from syndication.leads import inbox
from syndication.leads.models import Lead, LeadStatus
from syndication.links import clicks
from syndication.links.models import Click, ClickKind, TrackingLink
from syndication.results import StepResult, launch_results
from tcma.extensions import db
from tcma.models import utcnow
from tests.syndication.email.world import EMAILS, add_contacts, published_kit, ready_partner
from tests.syndication.test_leads import PERSON, submit
from tests.syndication.test_pages import published_page

BROWSER = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
           "(KHTML, like Gecko) Version/17.5 Safari/605.1.15")
GMAIL_PROXY = ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 "
               "(via ggpht.com GoogleImageProxy)")


def _with_landing_link(partner_slug: str) -> list[dict]:
    """The world's emails, each also linking to the partner's landing page."""
    landing = (f'<mj-text><a href="http://localhost/p/{partner_slug}/backup-trial">'
               "Start your trial</a></mj-text>")
    return [{**e, "mjml": e["mjml"].replace("</mj-column>", landing + "</mj-column>", 1)}
            for e in EMAILS]


def _links_in(mail) -> dict[str, str]:
    """{destination: the tracked link's path with its delivery ref} in one received email."""
    found = {}
    for url in re.findall(r"http://localhost(/r/\S+?\?d=[\w-]+)", mail.text):
        code = url.split("/")[2].split("?")[0]
        destination = db.session.execute(
            select(TrackingLink.destination).where(TrackingLink.code == code)).scalar_one()
        found[destination] = url
    return found


def _click(client, path: str, *, agent: str = BROWSER, ip: str = "198.51.100.7"):
    answer = client.get(path, headers={"User-Agent": agent}, environ_base={"REMOTE_ADDR": ip})
    assert answer.status_code == 302
    return answer


@dataclass
class Story:
    """A launch that ran, and the moments the checks need."""

    launch: Launch
    first_sent: datetime
    second_sent: datetime


def run_launch(client, jobs, outbox) -> Story:
    """Three contacts; the day-0 email goes to all, the day-3 follow-up to non-clickers.

    Person0 opens it in a browser and clicks the plan twice and the landing page once, then
    fills the form; a Gmail proxy fetches Person1's pixel and curl follows Person1's link;
    Person2 unsubscribes before the follow-up, which reaches Person1, who clicks it. Someone
    Person0 forwarded the page to submits as well and is rejected as spam; a visitor who came
    without any click id leaves a lead unrelated to the launch.
    """
    partner = ready_partner()
    add_contacts(partner, 3)
    published_page()
    kit = published_kit(emails=_with_landing_link(partner.slug))
    launch = launches.launch_kit(partner, kit)
    db.session.commit()
    jobs.run()
    first = {m.to.split("<")[1].rstrip(">"): m for m in outbox.messages()}
    assert len(first) == 3

    # Clicks seconds after delivery are a mail scanner's: the sends happened two hours ago.
    first_sent = (utcnow() - timedelta(hours=2)).replace(microsecond=0)
    db.session.execute(update(Delivery).values(sent_at=first_sent))
    db.session.commit()

    refs = dict(db.session.execute(select(Contact.email, Delivery.ref)
                                   .join(Contact, Contact.id == Delivery.contact_id)).all())
    assert client.get(f"/o/{refs['person0@example.com']}.gif",
                      headers={"User-Agent": BROWSER}).status_code == 200
    assert client.get(f"/o/{refs['person1@example.com']}.gif",
                      headers={"User-Agent": GMAIL_PROXY}).status_code == 200

    links = _links_in(first["person0@example.com"])
    plan = next(u for d, u in links.items() if d.startswith("https://vendor.example/backup"))
    landing = links["http://localhost/p/" + partner.slug + "/backup-trial"]
    _click(client, plan)
    _click(client, plan)  # the same person again: human, not unique
    came = _click(client, landing)
    bot_plan = next(u for d, u in _links_in(first["person1@example.com"]).items()
                    if d.startswith("https://vendor.example/backup"))
    _click(client, bot_plan, agent="curl/8.5.0", ip="203.0.113.9")
    clicks.drain()
    db.session.commit()

    visit = urlsplit(came.location)
    query = dict(parse_qsl(visit.query))
    assert query["tcma_cid"].startswith(landing.split("/")[2].split("?")[0] + ".")
    assert submit(client, visit.path, PERSON, query=query).status_code == 303
    spam = {**PERSON, "email": "forwarded@example.com", "first_name": "Spam"}
    assert submit(client, visit.path, spam, query=query, ip="192.0.2.50").status_code == 303
    unrelated = {**PERSON, "email": "walk-in@example.com", "first_name": "Walk"}
    client.delete_cookie("tcma_ft", domain="localhost")
    client.delete_cookie("tcma_lt", domain="localhost")
    assert submit(client, visit.path, unrelated, ip="192.0.2.60").status_code == 303
    db.session.expire_all()
    rejected = db.session.execute(
        select(Lead).where(Lead.email == "forwarded@example.com")).scalar_one()
    inbox.change_status(rejected, LeadStatus.REJECTED, by=None, reason="spam")
    db.session.commit()

    gone = db.session.execute(select(Contact).where(
        Contact.email == "person2@example.com")).scalar_one()
    contacts.unsubscribe(gone, how="reply")
    second = launch.steps[1]
    db.session.execute(update(LaunchStep).where(LaunchStep.id == second.id)
                       .values(due_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert launches.queue_due_steps() == 1
    db.session.commit()
    jobs.run()
    reminders = [m for m in outbox.messages() if m.subject.startswith("Still thinking")]
    assert [m.to for m in reminders] == ["Person1 Tester <person1@example.com>"]

    second_sent = (utcnow() - timedelta(hours=1)).replace(microsecond=0)
    db.session.execute(update(Delivery).where(Delivery.step_id == second.id)
                       .values(sent_at=second_sent))
    db.session.commit()
    follow_up = next(u for d, u in _links_in(reminders[0]).items()
                     if d.startswith("https://vendor.example/backup"))
    _click(client, follow_up, ip="198.51.100.8")
    clicks.drain()
    db.session.commit()
    db.session.expire_all()
    assert launch.status is LaunchStatus.COMPLETED
    return Story(launch, first_sent, second_sent)


def test_results_count_what_people_did_and_leave_machines_out(ctx, client, jobs, outbox):
    story = run_launch(client, jobs, outbox)
    launch = story.launch
    results = launch_results(launch)
    today = utcnow().date()

    assert results.launch_id == launch.public_id
    assert (results.kit_name, results.partner_name) == ("Backup spring kit", "Müller Systemhaus")
    assert results.started_at == launch.steps[0].started_at
    assert results.finished_at == launch.finished_at is not None
    assert results.steps == [
        StepResult(number=1, name="Welcome", sent=3, failed=0, suppressed=0,
                   opened=1,  # the Gmail proxy's fetch is not Person1 reading it
                   human_clicks=3, unique_clicks=2,  # curl's click is nobody's
                   first_sent_at=story.first_sent, last_sent_at=story.first_sent),
        StepResult(number=2, name="Reminder", sent=1, failed=0, suppressed=1, opened=0,
                   human_clicks=1, unique_clicks=1, first_sent_at=story.second_sent,
                   last_sent_at=story.second_sent),
    ]
    assert (results.emails_sent, results.human_clicks, results.unique_clicks) == (4, 4, 3)
    assert results.landing_visits == 1
    assert results.leads == 1  # the spam is rejected; the walk-in came from no launch link
    assert results.clicks_by_day == [(today, 4)]
    assert results.leads_by_day == [(today, 1)]

    # Days without clicks or leads are there, as zeros, so both series line up for a chart.
    repeat = db.session.execute(select(Click).where(Click.kind == ClickKind.REPEAT)).scalar_one()
    repeat.occurred_at = utcnow() - timedelta(days=2)
    db.session.commit()
    later = launch_results(launch)
    days = [today - timedelta(days=2), today - timedelta(days=1), today]
    assert later.clicks_by_day == list(zip(days, [1, 0, 3], strict=True))
    assert later.leads_by_day == list(zip(days, [0, 0, 1], strict=True))
    assert later.human_clicks == 4


def test_results_as_of_a_moment_leave_out_what_came_after(ctx, client, jobs, outbox):
    story = run_launch(client, jobs, outbox)
    until = story.first_sent + timedelta(minutes=1)
    results = launch_results(story.launch, until=until)
    assert [(s.sent, s.suppressed, s.opened, s.human_clicks) for s in results.steps] == [
        (3, 0, 0, 0), (0, 0, 0, 0)]
    assert results.finished_at is None  # it was still running then
    assert (results.emails_sent, results.human_clicks, results.unique_clicks,
            results.landing_visits, results.leads) == (3, 0, 0, 0, 0)
    assert results.clicks_by_day == [] and results.leads_by_day == []


def test_a_launch_that_has_not_started_has_nothing_to_show(ctx):
    partner = ready_partner()
    add_contacts(partner, 2)
    kit = published_kit()
    launch = launches.launch_kit(partner, kit, start_at=utcnow() + timedelta(days=2))
    db.session.commit()
    results = launch_results(launch)
    assert results.started_at is None and results.finished_at is None
    assert [(s.number, s.sent, s.first_sent_at) for s in results.steps] == [
        (1, 0, None), (2, 0, None)]
    assert (results.emails_sent, results.human_clicks, results.leads) == (0, 0, 0)
    assert results.clicks_by_day == results.leads_by_day == []
