"""The automatic proof of performance: a PDF that opens anywhere, names the partner as they
write their name, and quotes the launch's figures exactly, from a real launch too."""

from __future__ import annotations

import io
import re
import subprocess
from datetime import UTC, date, datetime

import pikepdf

from mdf.performance import performance_pdf
from syndication.results import LaunchResults, StepResult, launch_results
from tcma.models import utcnow
from tests.syndication.test_results import run_launch

GENERATED = datetime(2026, 4, 20, 14, 5, tzinfo=UTC)
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
END = datetime(2026, 3, 5, 16, 30, tzinfo=UTC)
PARTNER = "Müller & Castañeda-Øster GmbH"


def pdftotext(pdf: bytes, *, page: int | None = None) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page else []
    done = subprocess.run(["pdftotext", "-layout", *pages, "-", "-"], input=pdf,
                          capture_output=True, check=True)
    return done.stdout.decode()


def row(text: str, *cells: str) -> bool:
    """Whether one line of the text holds ``cells`` in order, separated only by spaces."""
    pattern = r"\s+".join(re.escape(c) for c in cells)
    return any(re.search(pattern, line) for line in text.splitlines())


def results(**changes) -> LaunchResults:
    values = dict(
        launch_id="Lx7Qw2mZpR4tYv", kit_name="Backup spring kit", partner_name="ignored",
        started_at=START, finished_at=END,
        steps=[StepResult(1, "Welcome", 1204, 3, 17, 611, 245, 198, START,
                          datetime(2026, 3, 2, 9, 4, tzinfo=UTC)),
               StepResult(2, "Reminder für Nicht-Klicker", 803, 0, 2, 120, 40, 33,
                          datetime(2026, 3, 5, 9, 30, tzinfo=UTC),
                          datetime(2026, 3, 5, 9, 31, tzinfo=UTC))],
        emails_sent=2007, human_clicks=291, unique_clicks=236, landing_visits=97, leads=12,
        clicks_by_day=[(date(2026, 3, 2), 180), (date(2026, 3, 3), 61), (date(2026, 3, 4), 0),
                       (date(2026, 3, 5), 50)],
        leads_by_day=[(date(2026, 3, 2), 7), (date(2026, 3, 3), 3), (date(2026, 3, 4), 0),
                      (date(2026, 3, 5), 2)])
    return LaunchResults(**{**values, **changes})


def test_the_report_opens_and_quotes_every_figure_with_the_partners_own_name():
    pdf = performance_pdf(results(), activity_title="Spring <webinar> series",
                          partner_name=PARTNER, generated_at=GENERATED)
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert len(document.pages) == 1
        assert str(document.docinfo["/Title"]) == "Proof of performance: Spring <webinar> series"
        fonts = {str(f.BaseFont) for f in document.pages[0].Resources.Font.values()}
        assert fonts and all("DejaVuSans" in f for f in fonts)  # embedded, so names render

    text = pdftotext(pdf)
    assert row(text, "Partner", PARTNER)
    assert row(text, "Activity", "Spring <webinar> series")
    assert row(text, "Launch", "Lx7Qw2mZpR4tYv (kit “Backup spring kit”)")
    assert row(text, "Period", "2026-03-02 09:00 UTC to 2026-03-05 16:30 UTC")
    for label, figure in (("Emails sent", "2,007"), ("Human clicks", "291"),
                          ("Unique clicks (people)", "236"), ("Landing-page visits", "97"),
                          ("Leads", "12")):
        assert row(text, label, figure), label
    # step, email, sent, not sent (failed + suppressed), opened, human clicks, sent between
    assert row(text, "1", "Welcome", "1,204", "20", "611", "245",
               "2026-03-02 09:00 – 09:04 UTC")
    assert row(text, "2", "Reminder für", "803", "2", "120", "40",
               "2026-03-05 09:30 – 09:31 UTC")
    assert "Opened*" in text and "* Opens are approximate" in text
    for day in ("02 Mar", "03 Mar", "04 Mar", "05 Mar"):
        assert day in text  # the chart's days
    assert "Human clicks" in text and "Leads" in text
    footer = " ".join(text.split())
    assert ("Figures from tcma's delivery ledger and tracking links; bots, link previews and "
            "mail scanners are excluded. Generated at 2026-04-20 14:05 UTC.") in footer


def test_a_launch_still_running_or_without_results_says_so():
    running = performance_pdf(
        results(finished_at=None), activity_title="Webinar", partner_name=PARTNER,
        generated_at=GENERATED)
    assert row(pdftotext(running), "Period",
               "2026-03-02 09:00 UTC to still running at 2026-04-20 14:05 UTC")

    nothing = results(started_at=None, finished_at=None, steps=[
        StepResult(1, "Welcome", 0, 0, 0, 0, 0, 0, None, None)], emails_sent=0, human_clicks=0,
        unique_clicks=0, landing_visits=0, leads=0, clicks_by_day=[], leads_by_day=[])
    text = pdftotext(performance_pdf(nothing, activity_title="Webinar", partner_name=PARTNER,
                                     generated_at=GENERATED))
    assert row(text, "Period", "not started yet")
    assert row(text, "1", "Welcome", "0", "0", "0", "0", "not sent yet")
    assert "No clicks or leads in this period." in text


def test_a_long_schedule_runs_over_pages_each_with_the_header_row_and_the_footer():
    steps = [StepResult(n, f"Nurture email {n}", 100 + n, 0, 0, n, n % 7, n % 5, START, START)
             for n in range(1, 61)]
    pdf = performance_pdf(results(steps=steps), activity_title="Nurture programme",
                          partner_name=PARTNER, generated_at=GENERATED)
    with pikepdf.open(io.BytesIO(pdf)) as document:
        pages = len(document.pages)
    assert pages >= 2
    for page in range(1, pages + 1):
        text = " ".join(pdftotext(pdf, page=page).split())
        assert "Generated at 2026-04-20 14:05 UTC." in text and f"Page {page}" in text
    assert "Sent between" in pdftotext(pdf, page=2)  # the header row repeats
    assert row(pdftotext(pdf), "60", "Nurture email 60", "160", "0", "60", "4")


def test_a_real_launchs_results_become_its_report(ctx, client, jobs, outbox):
    story = run_launch(client, jobs, outbox)
    figures = launch_results(story.launch)
    pdf = performance_pdf(figures, activity_title="Backup webinar follow-up",
                          partner_name=story.launch.partner.name, generated_at=utcnow())
    text = pdftotext(pdf)
    assert row(text, "Partner", "Müller Systemhaus")
    assert row(text, "Launch", f"{story.launch.public_id} (kit “Backup spring kit”)")
    for label, figure in (("Emails sent", "4"), ("Human clicks", "4"),
                          ("Unique clicks (people)", "3"), ("Landing-page visits", "1"),
                          ("Leads", "1")):
        assert row(text, label, figure), label
    assert row(text, "1", "Welcome", "3", "0", "1", "3")
    assert row(text, "2", "Reminder", "1", "1", "0", "1")
    assert utcnow().strftime("%d %b") in text
