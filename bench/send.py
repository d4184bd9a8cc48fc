"""Campaign sending: a kit launched to 10,000 contacts through the real pipeline, against a
raw smtplib loop sending the same messages.

Pipeline: launch_kit() commits -> the step starts (ledger written) -> batches on the ``send``
queue -> 2 ``tcma worker`` processes (the Procfile's command) render, sign if configured,
and send over reused SMTP connections, one ledger commit per message -> a local SMTP server
(aiosmtpd, in its own process so it takes no CPU time from either side's process).

Baseline: the same 10,000 messages, MJML compiled once and Jinja filled per recipient, built
with the email package and sent over one smtplib connection in a single loop: no database,
no queue, no ledger.

Run: .venv/bin/python bench/send.py [--contacts 10000] [--threads 8]
Uses SQLite and an embedded Redis in a temporary folder, or DATABASE_URL / REDIS_URL when set
(e.g. PostgreSQL and Redis). Last line: RESULT {json}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = textwrap.dedent("""
    import sys, time, re
    from aiosmtpd.controller import Controller
    out = open(sys.argv[2], "a", buffering=1)
    MID = re.compile(rb"^Message-ID:\\s*(\\S+)", re.I | re.M)
    class Handler:
        async def handle_DATA(self, server, session, envelope):
            m = MID.search(envelope.original_content[:8192])
            out.write(f"{time.time():.6f} {envelope.rcpt_tos[0]} "
                      f"{m.group(1).decode() if m else '-'}\\n")
            return "250 OK"
    c = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1]))
    c.start()
    print("ready", flush=True)
    sys.stdin.read()
    c.stop()
""")

BODY = """<mjml>
  <mj-head><mj-title>Spring backup offer</mj-title></mj-head>
  <mj-body background-color="#f4f4f4">
    <mj-section background-color="#ffffff">
      <mj-column>
        <mj-text font-size="20px" font-weight="bold">Your data deserves a second home</mj-text>
        <mj-text css-class="tcma-editable" tcma-block="intro">Hi {{ contact.first_name }},</mj-text>
        <mj-text>Ransomware does not wait for a convenient moment. {{ partner.display_name }}
          sets up immutable backups for teams like yours at {{ contact.company }} in a day,
          with restore tests every month and a person who answers the phone.</mj-text>
        <mj-button href="https://vendor.example/backup?plan=pro">See the plan</mj-button>
        <mj-text>Questions? Call {{ partner.phone }} or
          <a href="{{ partner.website }}">visit our site</a>.</mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>
"""


def start_server(port: int, log: Path) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(log)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "ready"
    return server


def read_log(log: Path) -> list[tuple[float, str, str]]:
    rows = []
    for line in log.read_text().splitlines():
        parts = line.split(" ")
        if len(parts) == 3:
            rows.append((float(parts[0]), parts[1], parts[2]))
    return rows


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def own_database() -> tuple[str | None, object]:
    """With ``DATABASE_URL`` on PostgreSQL, a fresh database of this run on that server (and
    a function dropping it); otherwise None: SQLite in the temporary instance folder."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return None, lambda: None
    import sqlalchemy

    from tcma.config import _sqlalchemy_url

    name = f"tcma_bench_{os.getpid()}"
    admin = sqlalchemy.create_engine(_sqlalchemy_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    made = sqlalchemy.engine.make_url(_sqlalchemy_url(url)).set(database=name)
    return made.render_as_string(hide_password=False), drop


def build_app(instance: Path, port: int, database: str | None):
    from tcma.app import create_app

    overrides = {
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "bench-secret",
        "BASE_URL": "http://127.0.0.1:5000",
        "STORAGE_URL": f"file://{instance / 'storage'}",
        "MAIL_URL": f"smtp://127.0.0.1:{port}?tls=none",
        "REDIS_NAMESPACE": f"tcma-bench-{os.getpid()}",
    }
    if database:
        overrides["DATABASE_URL"] = database
    return create_app(overrides)


def worker_env(app) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "TCMA_INSTANCE_PATH": app.instance_path,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "BASE_URL": app.config["BASE_URL"],
        "STORAGE_URL": app.config["STORAGE_URL"],
        "MAIL_URL": app.config["MAIL_URL"],
        "TCMA_REDIS_NAMESPACE": app.config["REDIS_NAMESPACE"],
    })
    return env


def setup_data(contacts: int):
    from campaigns import content, kits
    from syndication.email.contacts import upsert_many
    from syndication.email.fields import ContactValues
    from tcma.extensions import db
    from tcma.partners import service as partners

    partner = partners.create_partner({"name": "Müller Systemhaus", "tier": "gold",
                                       "region": "EMEA", "type": "reseller",
                                       "language": "de"}, by=None)
    partners.update_brand_profile(partner, {
        "display_name": "Müller Systemhaus", "contact_name": "Anna Müller",
        "email": "anna@mueller.example", "phone": "+49 30 1234567",
        "website": "https://mueller.example/", "address_line1": "Hauptstraße 5",
        "city": "Berlin", "postal_code": "10115", "country": "DE",
        "timezone": "Europe/Berlin"}, by=None)
    db.session.commit()
    consent = datetime(2026, 1, 5, tzinfo=UTC)
    rows = [ContactValues(email=f"person{n}@example.com",
                          fields={"first_name": f"Person{n}", "last_name": "Tester",
                                  "company": f"Company {n % 97}"},
                          consent_source="trade show 2026", consent_at=consent)
            for n in range(contacts)]
    for start in range(0, contacts, 1000):
        upsert_many(partner.id, rows[start:start + 1000], via="import")
        db.session.commit()
    made = []
    for name in ("Warm-up kit", "Spring backup kit"):
        kit = kits.create_kit({"name": name}, by=None, tiers=["gold"], regions=["EMEA"],
                              types=["reseller"])
        content.put_emails(kit, [{"key": "welcome", "name": "Welcome",
                                  "subject": "{{ contact.first_name }}, back up now",
                                  "preheader": "From {{ partner.display_name }}",
                                  "from_name": "{{ partner.display_name }}", "mjml": BODY}],
                           by=None)
        content.put_steps(kit, [{"day": 0, "time": "09:00", "item": "welcome"}], by=None)
        kits.publish(kit, by=None)
        made.append(kit)
    db.session.commit()
    return partner.id, [kit.id for kit in made]


def warm_list(partner, size: int):
    from sqlalchemy import select

    from syndication.email import lists
    from syndication.email.models import Contact
    from tcma.extensions import db

    warm = lists.create_list(partner, "Warm-up")
    ids = db.session.execute(select(Contact.id).where(Contact.partner_id == partner.id)
                             .order_by(Contact.id).limit(size)).scalars().all()
    lists.add_members(warm, ids)
    db.session.commit()
    return warm


def wait_for(log: Path, count: int, timeout: float) -> list:
    deadline = time.monotonic() + timeout
    rows = read_log(log)
    while len(rows) < count and time.monotonic() < deadline:
        time.sleep(0.05)
        rows = read_log(log)
    return rows


def pipeline(app, partner_id: int, kit_ids: list[int], contacts: int, threads: int,
             log: Path) -> dict:
    from campaigns import launches
    from campaigns.models import Kit
    from tcma.extensions import db
    from tcma.partners.models import Partner

    with app.app_context():
        warm = warm_list(db.session.get(Partner, partner_id), 50).public_id
    worker = subprocess.Popen(
        [str(Path(sys.executable).with_name("tcma")), "worker", "--processes", "2",
         "--threads", str(threads), "--queues", "send", "default"],
        env=worker_env(app), start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        with app.app_context():
            launches.launch_kit(db.session.get(Partner, partner_id),
                                db.session.get(Kit, kit_ids[0]), options={"list_id": warm})
            db.session.commit()
        if len(wait_for(log, 50, 120)) < 50:
            raise SystemExit("the warm-up launch did not arrive: are the workers running?")
        time.sleep(1.0)
        log.write_text("")
        with app.app_context():
            partner, kit = db.session.get(Partner, partner_id), db.session.get(Kit, kit_ids[1])
            clicked = time.time()
            launches.launch_kit(partner, kit)
            db.session.commit()
        rows = wait_for(log, contacts, 600)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
    times = sorted(t for t, _, _ in rows)
    recipients = [r for _, r, _ in rows]
    return {"seconds": times[-1] - clicked, "first": times[0] - clicked,
            "received": len(set(recipients)), "duplicates": len(recipients) - len(set(recipients)),
            "message_ids": len({m for _, _, m in rows})}


def baseline(port: int, contacts: int, log: Path) -> dict:
    """What one loop with no platform around it does: compile once, Jinja per recipient."""
    from jinja2 import Environment
    from mjml import mjml2html

    from campaigns.mjml import html_to_text
    from tcma.mail import SEVEN_BIT

    partner = {"display_name": "Müller Systemhaus", "phone": "+49 30 1234567",
               "website": "https://mueller.example/"}
    env = Environment(autoescape=True)
    source = env.from_string(BODY).render(partner=partner, contact={
        k: f"{{{{ contact.{k} }}}}" for k in ("first_name", "company")})
    html_template = env.from_string(mjml2html(source))
    text_template = Environment(autoescape=False).from_string(html_to_text(mjml2html(source)))
    log.write_text("")
    started = time.time()
    with smtplib.SMTP("127.0.0.1", port) as client:
        for n in range(contacts):
            contact = {"first_name": f"Person{n}", "company": f"Company {n % 97}"}
            message = EmailMessage(policy=SEVEN_BIT)  # what any relay accepts
            message["From"] = formataddr(("Müller Systemhaus", "partners@vendor.example"))
            message["To"] = formataddr((f"Person{n} Tester", f"person{n}@example.com"))
            message["Reply-To"] = "anna@mueller.example"
            message["Subject"] = f"Person{n}, back up now"
            message["Date"] = format_datetime(datetime.now(UTC))
            message["Message-ID"] = make_msgid(domain="vendor.example")
            message.set_content(text_template.render(contact=contact))
            message.add_alternative(html_template.render(contact=contact), subtype="html")
            client.sendmail("partners@vendor.example", [f"person{n}@example.com"],
                            message.as_bytes())
    rows = wait_for(log, contacts, 60)
    return {"seconds": max(t for t, _, _ in rows) - started, "received": len(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=8, help="threads per worker process")
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="tcma-bench-send-"))
    port = free_port()
    log = instance / "received.log"
    log.write_text("")
    server = start_server(port, log)
    database, drop_database = own_database()
    try:
        app = build_app(instance, port, database)
        with app.app_context():
            from tcma import migrate

            migrate.upgrade()
            partner_id, kit_ids = setup_data(args.contacts)
        ours = pipeline(app, partner_id, kit_ids, args.contacts, args.threads, log)
        raw = baseline(port, args.contacts, log)
    finally:
        server.stdin.close()
        server.wait(timeout=30)
        if database:
            from tcma.extensions import db

            with app.app_context():
                db.engine.dispose()
        drop_database()
        shutil.rmtree(instance, ignore_errors=True)

    ours_rate = args.contacts / ours["seconds"]
    raw_rate = args.contacts / raw["seconds"]
    database = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") \
        else "sqlite"
    print(f"{args.contacts:,} messages, 2 worker processes x {args.threads} threads, "
          f"{database}, SMTP to aiosmtpd on loopback")
    print(f"{'':<34}{'seconds':>10}{'msgs/s':>10}")
    print(f"{'tcma pipeline (launch -> last)':<34}{ours['seconds']:>10.2f}{ours_rate:>10.0f}")
    print(f"{'raw smtplib loop':<34}{raw['seconds']:>10.2f}{raw_rate:>10.0f}")
    print(f"launch click -> first message accepted: {ours['first']:.2f} s")
    print(f"received {ours['received']:,} distinct recipients, {ours['duplicates']} duplicates, "
          f"{ours['message_ids']:,} distinct Message-IDs")
    result = {"msgs_per_s": round(ours_rate, 1), "baseline_msgs_per_s": round(raw_rate, 1),
              "ratio": round(ours_rate / raw_rate, 3), "first_message_s": round(ours["first"], 3),
              "received": ours["received"], "duplicates": ours["duplicates"]}
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
