"""Contact imports: what real spreadsheets look like (encodings, delimiters, headers), the
mapping and its consent rule, the background job with its progress and report, a killed
import resumed without duplicates, and memory that does not grow with the file."""

from __future__ import annotations

import csv
import io
import itertools
import threading
import tracemalloc
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from syndication.email import csvfile, import_run, importer, lists, report, suppression
from syndication.email.mapping import guess
from syndication.email.models import Contact, ContactImport, ContactStatus, ImportStatus
from tcma.errors import ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.storage import storage
from tests.factories import login, make_partner, make_user

CONSENT = {"consent_source": "trade show 2026", "consent_date": "2026-03-02"}


def uploaded(partner, data: bytes, name: str = "contacts.csv") -> ContactImport:
    imp = importer.upload(partner, io.BytesIO(data), name)
    db.session.commit()
    return imp


def import_now(partner, data: bytes, jobs, *, mapping=None, **options) -> ContactImport:
    """Upload, map (guessed unless given), start, and run the job on a real worker."""
    imp = uploaded(partner, data)
    importer.start(imp, mapping=imp.mapping if mapping is None else mapping,
                   **{**CONSENT, **options})
    db.session.commit()
    jobs.run(timeout_ms=120_000)
    db.session.expire_all()
    return db.session.get(ContactImport, imp.id)


def contacts_of(partner) -> dict[str, Contact]:
    db.session.expire_all()
    return {c.email: c for c in db.session.execute(
        select(Contact).where(Contact.partner_id == partner.id)).scalars()}


def generated_csv(rows: int, *, start: int = 0) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Email", "First Name", "Last Name", "Company", "Job Title", "Country"])
    for n in range(start, start + rows):
        writer.writerow([f"person{n:06d}@example.com", f"First{n}", f"Last{n}",
                         f"Company number {n % 500}", "Head of Procurement", "DE"])
    return out.getvalue().encode()


# --- recognising files --------------------------------------------------------------------------


def test_headers_are_mapped_from_their_names_in_several_languages():
    columns = ["E-Mail-Adresse", "Vorname", "Nachname", "Firma", "Position", "Teléfono",
               "Land", "Sprache", "Opt-in date", "Quelle", "Notes", "Email"]
    assert guess(columns) == {"0": "email", "1": "first_name", "2": "last_name",
                              "3": "company", "4": "job_title", "5": "phone", "6": "country",
                              "7": "language", "8": "consent_date", "9": "consent_source"}
    assert guess(["E-mail", "First Name", "Prénom", "Name"]) == {
        "0": "email", "1": "first_name", "3": "full_name"}


@pytest.mark.parametrize("data, encoding, delimiter", [
    ("\ufeffE-mail,First Name,Firma\nzoe@example.com,Zoé,Café € GmbH\n".encode(),
     "utf-8-sig", ","),
    ("E-mail;First Name;Firma\r\nzoe@example.com;Zoé;Café € GmbH\r\n".encode("cp1252"),
     "cp1252", ";"),
    ("E-mail\tFirst Name\tFirma\r\nzoe@example.com\tZoé\tCafé € GmbH\r\n".encode("utf-16"),
     "utf-16", "\t"),
    ("sep=;\nE-mail;First Name;Firma\nzoe@example.com;Zoé;\"Café € GmbH\"\n".encode(),
     "utf-8", ";"),
    # Latin-1 bytes Windows-1252 leaves undefined (0x81) still read, as Latin-1.
    ("E-mail,First Name,Firma\nzoe@example.com,Zoé\x81,Café GmbH\n".encode("latin-1"),
     "latin-1", ","),
], ids=["utf8-bom", "cp1252-semicolon", "utf16-tab", "excel-sep-line", "latin1"])
def test_encodings_and_delimiters_people_really_upload(ctx, jobs, data, encoding, delimiter):
    partner = make_partner()
    imp = import_now(partner, data, jobs)
    assert (imp.encoding, imp.delimiter, imp.columns) == (
        encoding, delimiter, ["E-mail", "First Name", "Firma"])
    assert imp.status is ImportStatus.DONE and (imp.created, imp.skipped) == (1, 0)
    zoe = contacts_of(partner)["zoe@example.com"]
    assert zoe.first_name.startswith("Zoé")
    assert zoe.company == ("Café GmbH" if encoding == "latin-1" else "Café € GmbH")


@pytest.mark.parametrize("data, message", [
    (b"PK\x03\x04\x14\x00\x06\x00binary workbook", "Excel workbook"),
    (b"%PDF-1.7\n", "PDF"),
    (b"Email,Name\nx@example.com,\x00\x01\x02\n", "not a text CSV"),
    (b"zoe@example.com,Zoe\nkim@example.com,Kim\n", "holds an email address"),
    (b"", "empty"),
    (b"\n\n", "must name the columns"),
])
def test_files_that_are_not_contact_csvs_are_refused_and_not_kept(ctx, data, message):
    partner = make_partner()
    with pytest.raises(ValidationFailed) as refused:
        importer.upload(partner, io.BytesIO(data), "contacts.csv")
    assert message in refused.value.for_field("file")
    db.session.rollback()
    assert not storage().exists(f"contact-imports/{partner.public_id}")


def test_uploads_over_the_configured_size_are_refused(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "CONTACTS_CSV_MAX_BYTES", 2 * 1024 * 1024)
    with pytest.raises(ValidationFailed) as refused:
        importer.upload(make_partner(), io.BytesIO(generated_csv(40_000)), "big.csv")
    assert "larger than 2 MB" in refused.value.for_field("file")


# --- mapping and consent -------------------------------------------------------------------------


def test_an_import_without_consent_for_every_contact_is_refused(ctx):
    imp = uploaded(make_partner(), b"Email,Name\nzoe@example.com,Zoe\n")
    with pytest.raises(ValidationFailed) as refused:
        importer.start(imp, mapping=imp.mapping)
    assert "Every contact needs a consent source and date" in refused.value.message
    with pytest.raises(ValidationFailed) as half:
        importer.start(imp, mapping=imp.mapping, consent_source="trade show")
    assert half.value.for_field("consent_date")
    with pytest.raises(ValidationFailed) as no_email:
        importer.start(imp, mapping={"1": "full_name"}, **CONSENT)
    assert "email address" in no_email.value.for_field("mapping")
    db.session.rollback()
    assert db.session.get(ContactImport, imp.id).status is ImportStatus.MAPPING


def test_bad_rows_are_reported_by_line_and_the_good_ones_imported(app, ctx, jobs):
    partner = make_partner()
    suppression.suppress("blocked@example.com", "hard_bounce")
    data = ("=E-mail,Name,Source,Consent date,Country,Tags\n"        # line 1
            "ok@example.com,Ann Able,fair,2026-01-05,DE,a\n"         # 2
            "not-an-email,Bob,fair,2026-01-05,DE,\n"                 # 3
            "nosource@example.com,Cy,,2026-01-05,,\n"                # 4
            "\n"                                                     # 5: blank, ignored
            f"long@example.com,{'x' * 150},fair,2026-01-05,,\n"      # 6
            '"multi@example.com","Dee\nDoe",fair,05.01.2026,Atlantis,b\n'  # 7-8
            "blocked@example.com,Eve,fair,2026-01-05,FR,\n"          # 9
            "late@example.com,Fay,fair,2999-01-01,,\n")               # 10
    imp = import_now(partner, data.encode(), jobs, consent_source="", consent_date="",
                     mapping={"0": "email", "1": "full_name", "2": "consent_source",
                              "3": "consent_date", "4": "country", "5": "tags"})
    assert imp.status is ImportStatus.DONE, imp.error
    assert (imp.rows_read, imp.created, imp.updated, imp.skipped, imp.suppressed) == (
        7, 3, 0, 4, 1)
    found = contacts_of(partner)
    assert set(found) == {"ok@example.com", "multi@example.com", "blocked@example.com"}
    assert (found["multi@example.com"].country, found["multi@example.com"].last_name) == (
        "", "Doe")
    problems = [(i.line, i.field, i.skipped) for i in report.issues(imp)]
    assert problems == [(3, "email", True), (4, "consent_source", True),
                        (6, "first_name", True), (7, "country", False), (9, "email", False),
                        (10, "consent_date", True)]
    assert "will not be emailed" in report.issues(imp)[4].message

    # The report, downloaded from the page: every problem, spreadsheet-safe.
    client = app.test_client()
    user = make_user("partner_user", partner=partner)
    login(client, user.email)
    response = client.get(f"/contacts/imports/{imp.public_id}/report.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["line", "column", "field", "problem", "outcome"]
    assert rows[1][:3] == ["3", "'=E-mail", "Email"]  # the header's "=" cannot run
    assert [r[0] for r in rows[1:]] == ["3", "4", "6", "7", "9", "10"]
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)
    page = client.get(f"/contacts/imports/{imp.public_id}").get_data(as_text=True)
    assert "Problems found (6)" in page and "Country (column Country)" in page


def test_a_quote_left_open_stops_the_import_at_its_line_keeping_the_rows_before(ctx, jobs):
    partner = make_partner()
    rows = "".join(f"p{n}@example.com,Person {n}\n" for n in range(80))
    imp = import_now(partner, ('Email,Name\nfirst@example.com,"Acme 5"" screens"\n'
                               f'broken@example.com,"Unclosed\n{rows}').encode(), jobs)
    assert imp.status is ImportStatus.FAILED
    assert imp.error.startswith("Line 3: a quoted value runs on for more than 50 lines")
    assert set(contacts_of(partner)) == {"first@example.com"}
    assert contacts_of(partner)["first@example.com"].name == 'Acme 5" screens'
    assert imp.file_key == ""  # the file is deleted either way


def test_importing_never_resubscribes_and_suppressed_addresses_stay_suppressed(ctx, jobs):
    partner = make_partner()
    first = import_now(partner, b"Email,Unsubscribed\nleft@example.com,yes\nstay@example.com,no\n",
                       jobs)
    assert (first.created, first.suppressed) == (2, 1)
    suppression.record_complaint(partner, "stay@example.com")
    db.session.commit()
    again = import_now(partner, b"Email,Name\nleft@example.com,Lou\nstay@example.com,Sam\n",
                       jobs, tags="re-import")
    assert (again.created, again.updated, again.suppressed) == (0, 2, 2)
    found = contacts_of(partner)
    assert found["left@example.com"].status is ContactStatus.UNSUBSCRIBED
    assert found["stay@example.com"].status is ContactStatus.COMPLAINED
    assert found["stay@example.com"].tag_names == ["re-import"]


# --- large files, progress, crashes -------------------------------------------------------------


def test_20000_rows_import_in_batches_with_progress_into_the_chosen_list(app, ctx, jobs):
    partner = make_partner()
    imp = uploaded(partner, generated_csv(20_000))
    assert imp.line_estimate == 20_001 and imp.parts == 2  # stored as 1 MiB parts
    importer.start(imp, mapping=imp.mapping, new_list="Fair leads", tags="fair", **CONSENT)
    db.session.commit()
    client = app.test_client()
    login(client, make_user("partner_admin", partner=partner).email)
    queued = client.get(f"/contacts/imports/{imp.public_id}/progress").get_json()
    assert (queued["status"], queued["percent"], queued["finished"]) == ("queued", 0, False)

    jobs.run(timeout_ms=180_000)
    done = client.get(f"/contacts/imports/{imp.public_id}/progress").get_json()
    assert done == {"status": "done", "percent": 100, "rows_read": 20_000, "created": 20_000,
                    "updated": 0, "skipped": 0, "suppressed": 0, "issues": 0,
                    "finished": True, "error": None}
    db.session.expire_all()
    assert db.session.execute(select(func.count()).select_from(Contact)).scalar_one() == 20_000
    [fair] = [x for x in lists.all_lists(partner) if x.name == "Fair leads"]
    assert lists.counts([fair])[fair.id] == lists.ListCounts(20_000, 20_000)
    imp = db.session.get(ContactImport, imp.id)
    assert imp.file_key == "" and not storage().exists(
        f"contact-imports/{partner.public_id}/{imp.public_id}/part-00000")  # file gone


def test_a_killed_import_resumes_after_its_last_batch_and_never_duplicates(app, ctx):
    partner = make_partner()
    imp = uploaded(partner, generated_csv(20_000))
    importer.start(imp, mapping=imp.mapping, **CONSENT)
    db.session.commit()
    import_id = imp.id

    # A worker imports five batches and dies mid-way through the sixth.
    token = import_run.claim(import_id)
    running = import_run.batches(import_id, token)
    assert list(itertools.islice(running, 5)) == [1000, 2000, 3000, 4000, 5000]
    del running
    with app.app_context():  # what another process sees: five committed batches
        seen = db.session.get(ContactImport, import_id)
        assert (seen.status, seen.rows_read, seen.last_line) == (ImportStatus.RUNNING, 5000,
                                                                  5001)
        assert db.session.execute(select(func.count()).select_from(Contact)).scalar_one() == 5000
        # Its claim is still fresh: a redelivered message must not start a second run.
        assert import_run.run(import_id) is None

    # Once the claim is stale, the next message takes over and finishes the rest.
    later = utcnow() + importer.STALE_RUN + timedelta(seconds=1)
    assert import_run.run(import_id, now=later, max_batches=100) is ImportStatus.DONE
    db.session.expire_all()
    imp = db.session.get(ContactImport, import_id)
    assert (imp.rows_read, imp.created, imp.updated) == (20_000, 20_000, 0)
    emails = db.session.execute(select(Contact.email)).scalars().all()
    assert len(emails) == len(set(emails)) == 20_000
    # Even run again from scratch (progress lost), upserts keep it at exactly 20,000.
    again = uploaded(partner, generated_csv(20_000))
    importer.start(again, mapping=again.mapping, **CONSENT)
    db.session.commit()
    assert import_run.run(again.id, max_batches=100) is ImportStatus.DONE
    db.session.expire_all()
    assert (db.session.get(ContactImport, again.id).created,
            db.session.get(ContactImport, again.id).updated) == (0, 20_000)
    assert db.session.execute(select(func.count()).select_from(Contact)).scalar_one() == 20_000


def test_the_same_file_imported_twice_at_once_makes_each_contact_once(app, ctx):
    partner = make_partner()
    first, second = uploaded(partner, generated_csv(3000)), uploaded(partner, generated_csv(3000))
    for imp in (first, second):
        importer.start(imp, mapping=imp.mapping, **CONSENT)
    db.session.commit()
    ids = [first.id, second.id]
    barrier, outcomes = threading.Barrier(2), {}

    def work(import_id: int) -> None:
        with app.app_context():  # a worker process of its own, as far as the database sees
            barrier.wait()
            outcomes[import_id] = import_run.run(import_id, max_batches=100)

    workers = [threading.Thread(target=work, args=(i,)) for i in ids]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert outcomes == {i: ImportStatus.DONE for i in ids}
    db.session.expire_all()
    done = [db.session.get(ContactImport, i) for i in ids]
    # Both insert the same addresses at the same moment; the one that loses the race on the
    # unique key merges into the winner's rows instead of failing.
    assert sum(d.created for d in done) == 3000 and sum(d.updated for d in done) == 3000
    emails = db.session.execute(select(Contact.email)).scalars().all()
    assert len(emails) == len(set(emails)) == 3000


def test_one_message_hands_over_after_its_batches_and_lost_messages_are_revived(ctx, jobs):
    partner = make_partner()
    imp = uploaded(partner, generated_csv(2_500))
    importer.start(imp, mapping=imp.mapping, **CONSENT)
    db.session.commit()
    assert import_run.run(imp.id, max_batches=2) is ImportStatus.QUEUED  # 2,000 rows, then over
    db.session.expire_all()
    assert db.session.get(ContactImport, imp.id).rows_read == 2000
    jobs.run()  # the continuation message finishes it
    db.session.expire_all()
    assert db.session.get(ContactImport, imp.id).status is ImportStatus.DONE

    lost = uploaded(partner, generated_csv(10, start=5000))
    importer.start(lost, mapping=lost.mapping, **CONSENT)
    lost.queued_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    jobs.broker.flush_all()  # the broker lost the message
    stale_upload = uploaded(partner, generated_csv(5, start=9000))
    stale_upload.created_at = utcnow() - timedelta(days=2)
    db.session.commit()
    assert importer.sweep() == 2
    db.session.commit()
    jobs.run()
    db.session.expire_all()
    assert db.session.get(ContactImport, lost.id).status is ImportStatus.DONE
    stale = db.session.get(ContactImport, stale_upload.id)
    assert stale.status is ImportStatus.CANCELLED and stale.file_key == ""


def test_reading_a_file_holds_one_part_in_memory_not_the_file(ctx):
    partner = make_partner()
    data = generated_csv(120_000)
    imp = uploaded(partner, data)
    assert len(data) > 9_000_000 and imp.parts >= 9
    tracemalloc.start()
    try:
        rows = sum(1 for _ in csvfile.records(imp.file_key, imp.parts, imp.encoding,
                                              imp.delimiter))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == 120_000
    assert peak < 4 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while streaming a " \
                                   f"{len(data) / 1e6:.1f} MB file"
