"""Partners' co-branded copies under concurrency and failure, on a real worker and database.

Renders are counted by the worker's "rendered <id>" log line, written once per copy that
reached storage and was marked done, and by the row's ``attempts`` (one per claim).
"""

from __future__ import annotations

import io
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import pytest
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import event, select, update
from sqlalchemy.exc import IntegrityError

from assets import library, renditions
from assets.models import Asset, AssetStatus, Rendition, RenditionStatus
from tcma.auth.models import Role
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners import service as partners
from tcma.partners.models import Partner
from tcma.storage import StorageError, storage
from tests.assets.conftest import is_red, pdftotext, render, share
from tests.factories import csrf_from, login, make_partner, make_user

ZONES = [
    {"page": 1, "x": 40, "y": 40, "width": 200, "height": 80, "kind": "logo"},
    {"page": 1, "x": 300, "y": 40, "width": 250, "height": 80, "kind": "text",
     "template": "{{ partner.display_name }}\nCall {{ partner.phone }}", "size": 14,
     "min_size": 7},
]
LOGO_BOX = (45, 45, 235, 100)  # inside where a 3:1 logo lands in the logo zone, at 72 dpi
RED, BLUE = (220, 20, 20), (20, 40, 220)


def brochure(label: str) -> bytes:
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4)
    for number in range(2):
        canvas.drawString(72, 500, f"{label} page {number + 1}")
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def logo(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (300, 100), (*color, 255)).save(out, "PNG")
    return out.getvalue()


def is_blue(pixel: tuple[int, ...]) -> bool:
    return pixel[2] > 170 and pixel[0] < 90 and pixel[1] < 120


@dataclass
class Partnered:
    """A published, zoned brochure and partners who may use it (ids: usable in any context)."""

    asset: str
    partners: list[int]
    emails: list[str]


def published(app, *, partner_count: int = 1) -> Partnered:
    with app.app_context():
        asset = library.create_asset({"title": "Cloud Suite brochure"}, brochure("Version one"),
                                     "brochure.pdf", by=None, tiers=["gold"], regions=["EMEA"])
        library.set_zones(asset, ZONES, by=None)
        asset.status = AssetStatus.PUBLISHED
        db.session.commit()
        ids, emails = [], []
        for number in range(partner_count):
            partner = make_partner(f"Partner {number}", tier="gold")
            partners.update_brand_profile(
                partner, {"display_name": f"Partner {number} GmbH",
                          "phone": f"+49 30 555 010{number}"},
                by=None, logo=(logo(RED), "logo.png"))
            db.session.commit()
            ids.append(partner.id)
            emails.append(make_user(Role.PARTNER_ADMIN, partner=partner).email)
        return Partnered(asset.public_id, ids, emails)


def ask(app, world: Partnered, partner_index: int = 0, **kwargs) -> str:
    """One request for the partner's copy, in its own app context; the rendition's id."""
    with app.app_context():
        partner = db.session.get(Partner, world.partners[partner_index])
        rendition = renditions.request_rendition(partner, library.get_asset(world.asset),
                                                 **kwargs)
        db.session.commit()
        return rendition.public_id


def rendition(public_id: str) -> Rendition:
    """The row as stored now (call inside an app context)."""
    db.session.expire_all()
    return renditions.get_rendition(public_id)


def partner_client(app, email: str):
    client = app.test_client()
    login(client, email)
    return client


@pytest.fixture
def renders(caplog):
    """How many copies the worker rendered and stored so far."""
    caplog.set_level(logging.INFO, logger="assets.renditions")

    def count() -> int:
        return sum(1 for r in caplog.records
                   if r.name == "assets.renditions" and r.getMessage().startswith("rendered "))
    return count


def test_simultaneous_first_requests_make_one_rendition_and_one_render(app, jobs, renders):
    world = published(app)
    askers = 6
    # Every asker looks for the copy, finds none, and only then may anyone insert: all six
    # inserts race for the unique key, as first clicks arriving together do.
    all_looked = threading.Barrier(askers, timeout=20)
    refused = []

    def hold_inserts(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO RENDITIONS"):
            all_looked.wait()

    def note_refusal(context):
        if isinstance(context.sqlalchemy_exception, IntegrityError):
            refused.append(context.sqlalchemy_exception)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", hold_inserts)
    event.listen(engine, "handle_error", note_refusal)
    try:
        with ThreadPoolExecutor(askers) as pool:
            got = [f.result(timeout=60) for f in [pool.submit(ask, app, world)
                                                  for _ in range(askers)]]
    finally:
        event.remove(engine, "before_cursor_execute", hold_inserts)
        event.remove(engine, "handle_error", note_refusal)

    assert len(set(got)) == 1, "every asker must get the same copy"
    assert len(refused) == askers - 1  # the losers hit the unique key and took the winner's
    jobs.run()
    with app.app_context():
        assert db.session.query(Rendition).count() == 1
        copy = rendition(got[0])
        assert copy.status is RenditionStatus.DONE and copy.attempts == 1
        assert "Partner 0 GmbH" in pdftotext(storage().get(copy.file_key))
    assert renders() == 1


def test_a_redelivered_message_renders_once(app, jobs, renders):
    from assets.tasks import stamp_rendition

    world = published(app)
    public_id = ask(app, world)  # queues the first message after its commit
    with app.app_context():
        rendition_id = rendition(public_id).id
    stamp_rendition.send_now(rendition_id)  # the broker delivers it again, twice
    stamp_rendition.send_now(rendition_id)
    jobs.run()
    with app.app_context():
        copy = rendition(public_id)
        stored = storage().get(copy.file_key)
        finished = copy.finished_at
        assert copy.status is RenditionStatus.DONE and copy.attempts == 1
        stamp_rendition(rendition_id)  # and once more, straight into the actor
        copy = rendition(public_id)
        assert copy.attempts == 1 and copy.finished_at == finished
        assert storage().get(copy.file_key) == stored
    assert renders() == 1


def test_a_dead_workers_copy_is_taken_over_after_stale_render_not_before(app, jobs, renders):
    from assets.tasks import stamp_rendition

    world = published(app)
    client = partner_client(app, world.emails[0])
    public_id = ask(app, world)
    with app.app_context():
        rendition_id = rendition(public_id).id

    def died_mid_render(ago: timedelta) -> None:
        with app.app_context():
            db.session.execute(update(Rendition).where(Rendition.id == rendition_id).values(
                status=RenditionStatus.RENDERING, started_at=utcnow() - ago,
                requested_at=utcnow() - ago, attempts=1))
            db.session.commit()

    # A worker took the row two minutes ago and may still be working: nobody takes over,
    # neither a redelivered message nor the partner's page polling.
    jobs.run()
    died_mid_render(timedelta(minutes=2))
    stamp_rendition.send_now(rendition_id)
    assert client.get(f"/library/{world.asset}/copy").get_json()["status"] == "rendering"
    jobs.run()
    with app.app_context():
        copy = rendition(public_id)
        assert copy.status is RenditionStatus.RENDERING and copy.attempts == 1
    assert renders() == 1  # the first message's render only

    # Past STALE_RENDER the worker is dead: a redelivered message takes the row over...
    died_mid_render(renditions.STALE_RENDER + timedelta(minutes=1))
    stamp_rendition.send_now(rendition_id)
    jobs.run()
    with app.app_context():
        copy = rendition(public_id)
        assert copy.status is RenditionStatus.DONE and copy.attempts == 2
    # ...and so does the partner's page polling, when the message was lost with the worker.
    died_mid_render(renditions.STALE_RENDER + timedelta(minutes=1))
    assert client.get(f"/library/{world.asset}/copy").get_json()["status"] == "rendering"
    jobs.run()
    state = client.get(f"/library/{world.asset}/copy").get_json()
    assert state["status"] == "done" and state["download_url"]
    assert renders() == 3


def test_a_corrupted_original_fails_with_a_message_and_asking_again_renders_it(
        app, jobs, renders):
    world = published(app)
    client = partner_client(app, world.emails[0])
    with app.app_context():
        version = library.current_version(library.get_asset(world.asset))
        original_key, original = version.file_key, storage().get(version.file_key)
        storage().put(original_key, b"%PDF-1.7\n" + b"\x00garbage" * 200 + b"\n%%EOF\n")

    assert client.get(f"/library/{world.asset}/copy").get_json()["status"] == "queued"
    jobs.run()
    state = client.get(f"/library/{world.asset}/copy").get_json()
    assert state["status"] == "failed"
    assert "cannot be opened for co-branding" in state["error"]
    jobs.run()  # the page keeps polling: that shows the failure, it does not render again
    assert client.get(f"/library/{world.asset}/copy").get_json()["status"] == "failed"
    page = client.get(f"/library/{world.asset}").get_data(as_text=True)
    assert "cannot be opened for co-branding" in page and "Try again" in page
    with app.app_context():
        copy = renditions.get_rendition(ask(app, world, retry_failed=False))
        assert copy.status is RenditionStatus.FAILED and copy.attempts == 1
        assert copy.file_key is None and not storage().exists(f"renditions/{copy.public_id}.pdf")
        storage().put(original_key, original)  # the vendor's file is fine again
    assert renders() == 0

    token = csrf_from(page)
    again = client.post(f"/library/{world.asset}/copy", data={"csrf_token": token},
                        headers={"Accept": "application/json"})
    assert again.get_json()["status"] == "queued"
    jobs.run()
    assert client.get(f"/library/{world.asset}/copy").get_json()["status"] == "done"
    assert renders() == 1


def test_an_unexpected_error_leaves_the_copy_queued_for_dramatiqs_retry(app, jobs, renders):
    from assets.tasks import stamp_rendition

    world = published(app)
    public_id = ask(app, world)  # its message waits in Redis until the worker starts
    with app.app_context():
        copy = rendition(public_id)
        rendition_id, original_key = copy.id, copy.asset_version.file_key
        original = storage().get(original_key)
        storage().delete(original_key)  # storage fails under the worker: not the file's fault
        with pytest.raises(StorageError):
            stamp_rendition(rendition_id)
        copy = rendition(public_id)
        assert copy.status is RenditionStatus.QUEUED and copy.attempts == 1
        assert copy.error is None and not storage().exists(f"renditions/{public_id}.pdf")
        storage().put(original_key, original)
    jobs.run()  # the retry (here: the queued message) renders it
    with app.app_context():
        copy = rendition(public_id)
        assert copy.status is RenditionStatus.DONE and copy.attempts == 2
    assert renders() == 1

    # When Dramatiq's retries run out, the partner is told instead of waiting for ever. (The
    # request's own message is swapped for one retried once after 10 ms, not over 14 s.)
    jobs.stop()  # no worker may pick up the request's own message before it is flushed
    second = published(app)
    public_id = ask(app, second)
    jobs.broker.flush("render")
    with app.app_context():
        copy = rendition(public_id)
        storage().delete(copy.asset_version.file_key)
        stamp_rendition.actor.send_with_options(args=(copy.id,), max_retries=1,
                                                min_backoff=10, max_backoff=20)
    jobs.run()
    with app.app_context():
        copy = rendition(public_id)
        assert copy.status is RenditionStatus.FAILED and copy.error == renditions.GAVE_UP
        assert copy.attempts == 2 and copy.file_key is None  # the message and its retry
    assert renders() == 1
    client = partner_client(app, second.emails[0])
    assert renditions.GAVE_UP in client.get(f"/library/{second.asset}").get_data(as_text=True)


def test_storage_refusing_the_copy_leaves_it_queued_and_the_retry_stores_it(
        app, instance_dir, jobs, renders):
    from assets.tasks import stamp_rendition

    world = published(app)
    public_id = ask(app, world)
    target = instance_dir / "storage" / "renditions" / f"{public_id}.pdf"
    target.mkdir(parents=True)  # something in the way: the write fails after the stamping
    with app.app_context():
        rendition_id = rendition(public_id).id
        with pytest.raises(OSError):
            stamp_rendition(rendition_id)
        copy = rendition(public_id)
        assert copy.status is RenditionStatus.QUEUED and copy.file_key is None
    target.rmdir()
    jobs.run()  # Dramatiq's retry: here, the request's own message
    with app.app_context():
        copy = rendition(public_id)
        assert copy.status is RenditionStatus.DONE and copy.attempts == 2
        assert storage().get(copy.file_key)[:5] == b"%PDF-"
    assert renders() == 1


def test_a_new_file_version_is_used_next_and_old_copies_stay_for_audit(app, jobs):
    world = published(app)
    client = partner_client(app, world.emails[0])
    first = ask(app, world)
    jobs.run()
    with app.app_context():
        asset = library.get_asset(world.asset)
        library.add_version(asset, brochure("Version two"), "brochure-v2.pdf", by=None)
        db.session.commit()

    download = client.get(f"/library/{world.asset}/download")
    assert download.status_code == 302 and "/library/" in download.headers["Location"]
    jobs.run()
    download = client.get(f"/library/{world.asset}/download")
    assert download.status_code == 302
    copy = client.get(download.headers["Location"].replace("http://localhost", ""))
    text = pdftotext(copy.data)
    assert "Version two page 2" in text and "Version one" not in text
    assert "+49 30 555 0100" in text

    with app.app_context():
        old = rendition(first)
        assert old.status is RenditionStatus.DONE and old.asset_version.version == 1
        kept = storage().get(old.file_key)
        assert "Version one page 2" in pdftotext(kept) and "+49 30 555 0100" in pdftotext(kept)
        assert db.session.query(Rendition).count() == 2


def test_an_expired_asset_vanishes_for_partners_without_any_job(app, jobs):
    world = published(app)
    client = partner_client(app, world.emails[0])
    ask(app, world)
    jobs.run()
    with app.app_context():
        partner = db.session.get(Partner, world.partners[0])
        token = renditions.link_for(partner, library.get_asset(world.asset)).token
        db.session.commit()
    assert "Cloud Suite brochure" in client.get("/library").get_data(as_text=True)
    assert client.get(f"/a/{token}").status_code == 302

    with app.app_context():  # its expiry date passes; nothing runs
        db.session.execute(update(Asset).where(Asset.public_id == world.asset)
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        partner = db.session.get(Partner, world.partners[0])
        assert library.partner_library(partner) == []
    assert "Cloud Suite brochure" not in client.get("/library").get_data(as_text=True)
    assert client.get(f"/library/{world.asset}").status_code == 404
    assert client.get(f"/library/{world.asset}/download").status_code == 404
    assert client.get(f"/library/{world.asset}/copy").status_code == 404
    gone = app.test_client().get(f"/a/{token}")
    assert gone.status_code == 404 and "no longer available" in gone.get_data(as_text=True)


def test_a_logo_change_renders_anew_for_that_partner_only(app, jobs, renders):
    world = published(app, partner_count=2)
    a_first, b_first = ask(app, world, 0), ask(app, world, 1)
    jobs.run()
    with app.app_context():
        b_before = rendition(b_first)
        b_finished, b_bytes = b_before.finished_at, storage().get(b_before.file_key)
        partner_a = db.session.get(Partner, world.partners[0])
        partners.set_brand_logo(partner_a, logo(BLUE), "new-logo.png", by=None)
        db.session.commit()

    a_second = ask(app, world, 0)
    assert a_second != a_first
    assert ask(app, world, 1) == b_first  # B's brand did not change: B keeps its copy
    jobs.run()
    with app.app_context():
        new, old = rendition(a_second), rendition(a_first)
        assert new.status is RenditionStatus.DONE and old.status is RenditionStatus.DONE
        page = render(storage().get(new.file_key), page=1)
        assert share(page, LOGO_BOX, is_blue) > 0.95
        assert share(render(storage().get(old.file_key), page=1), LOGO_BOX, is_red) > 0.95
        b_after = rendition(b_first)
        assert b_after.attempts == 1 and b_after.finished_at == b_finished
        assert storage().get(b_after.file_key) == b_bytes
        rows = db.session.execute(select(Rendition.partner_id)).scalars().all()
        assert sorted(rows) == sorted([world.partners[0]] * 2 + [world.partners[1]])
    assert renders() == 3


# --- the overlay's shortcuts never mix partners, pages or characters up -----------------------

def test_pages_sharing_resources_each_get_their_own_overlay_and_restamping_keeps_both():
    """Overlays are named per layout and their streams shared between pages: pages sharing one
    resources dictionary must still each show their own zones, and a file that was itself
    stamped keeps its first overlay under the new one."""
    import pikepdf

    from assets.cobrand.pdf import stamp_pdf
    from assets.cobrand.zones import Brand, Zone

    with pikepdf.open(io.BytesIO(brochure("Shared"))) as pdf:
        shared = pdf.make_indirect(pdf.pages[0].obj.Resources)
        pdf.pages[0].obj.Resources = pdf.pages[1].obj.Resources = shared
        out = io.BytesIO()
        pdf.save(out)
    zones = [Zone(page=0, x=40, y=40, width=200, height=80, kind="logo"),
             Zone(page=1, x=40, y=600, width=300, height=40, kind="text",
                  template="Call {{ partner.phone }}", size=14, min_size=7)]
    first = stamp_pdf(out.getvalue(), zones, Brand({"phone": "+49 30 1111"}, logo(RED)))
    lower = [zones[0], Zone(page=1, x=40, y=700, width=300, height=40, kind="text",
                            template="Call {{ partner.phone }}", size=14, min_size=7)]
    again = stamp_pdf(first, lower, Brand({"phone": "+49 30 2222"}, logo(BLUE)))

    assert share(render(first, 0), LOGO_BOX, is_red) > 0.95
    assert share(render(first, 1), LOGO_BOX, is_red) == 0  # page 1 has no logo zone
    page_texts = [pdftotext_page(first, n) for n in (0, 1)]
    assert "+49 30 1111" not in page_texts[0] and "+49 30 1111" in page_texts[1]
    assert share(render(again, 0), LOGO_BOX, is_blue) > 0.95  # the new logo on top
    assert "+49 30 1111" in pdftotext_page(again, 1) and "+49 30 2222" in pdftotext_page(again, 1)
    from tests.assets.conftest import qpdf_check

    assert qpdf_check(again).returncode == 0


def test_text_beyond_one_font_subset_is_drawn_and_searchable():
    """More than 255 distinct characters need two font subsets; every word stays text."""
    from assets.cobrand.pdf import stamp_pdf
    from assets.cobrand.zones import Brand, Zone

    cyrillic = "".join(chr(c) for c in range(0x410, 0x450))
    greek = "".join(chr(c) for c in range(0x3B1, 0x3CA) if c != 0x3C2)
    words = [cyrillic[i:i + 8] for i in range(0, len(cyrillic), 8)] + [greek[:12], greek[12:]]
    latin = "Zürich ÀÉÎÕÜ àéîõü ß € – Łódź Ærø"
    name = " ".join([latin, *words])
    zone = Zone(page=0, x=30, y=30, width=530, height=300, kind="text",
                template="{{ partner.display_name }}", size=14, min_size=8)
    stamped = stamp_pdf(brochure("Many scripts"), [zone],
                        Brand({"display_name": name + " " + string_of_ascii()}))
    text = " ".join(pdftotext_page(stamped, 0).split())
    for word in [*words, "Zürich", "€", "Łódź", "Ærø", string_of_ascii()]:
        assert word in text, word


def string_of_ascii() -> str:
    return "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "{}%")


def pdftotext_page(pdf: bytes, page: int) -> str:
    import subprocess

    done = subprocess.run(["pdftotext", "-f", str(page + 1), "-l", str(page + 1), "-", "-"],
                          input=pdf, capture_output=True, check=True)
    return done.stdout.decode()
