"""Partner logos prepared when they are uploaded, so a partner's first copy does not pay for it.

A logo saved on the brand page or through the API queues ``prepare_partner_logo``; the real
worker (``jobs.run()``) stores its artefacts under ``logos/<sha256>/v1/`` (``pdf.bin``: the
trimmed size and the PDF images at the sizes the partner's zones use; ``rgba.bin``: the
trimmed pixels). Stamping reads them
instead of decoding the logo, and makes the same bytes with them, without them, and with
damaged ones.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
from pathlib import Path

import pikepdf
import pytest
from PIL import Image, ImageDraw
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from assets.cobrand import Brand, Zone
from assets.cobrand.image import stamp_image
from assets.cobrand.overlay import forget_partners
from assets.cobrand.pdf import stamp_pdf
from assets.cobrand.prepared import PreparedLogo
from assets.logos import _read, artefact_key, prepared_logo, store_prepared
from tcma.auth.models import Role
from tcma.storage import LocalStorage
from tests.factories import csrf_from, login, make_partner, make_token, make_user

#: A logo zone 180 pt wide: at 300 dpi it shows 750 px, so a 1500 px logo is embedded at 750.
SMALL_LOGO_ZONE = dict(page=1, x=56, y=720, width=180, height=70, kind="logo")
TEXT_ZONE = dict(page=1, x=300, y=720, width=240, height=70, kind="text",
                 template="{{ partner.display_name }}\n{{ partner.phone }}", size=11)
VALUES = {"display_name": "Northwind IT Solutions", "phone": "+44 20 7946 0000"}


def unique_logo(width: int = 1500, height: int = 300, *, padding: int = 30,
                alpha: int = 255) -> bytes:
    """A PNG logo nobody uploaded before (its colour and a stripe are random), so no
    artefacts from another test exist for it: a solid band in transparent padding."""
    r, g, b, stripe = os.urandom(4)
    image = Image.new("RGBA", (width + 2 * padding, height + 2 * padding), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rectangle((padding, padding, padding + width - 1, padding + height - 1),
                   fill=(r, g, b, alpha))
    draw.rectangle((padding + stripe, padding, padding + stripe + 40, padding + height - 1),
                   fill=(255 - r, 255 - g, 255 - b, alpha))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def transparent_logo() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (200 + os.urandom(1)[0], 100), (9, 9, 9, 0)).save(out, "PNG")
    return out.getvalue()


def vendor_pdf(pages: int = 2) -> bytes:
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4)
    for number in range(pages):
        canvas.drawString(72, 760, f"Cloud Backup brochure page {number + 1}")
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def zones(*extra: dict) -> list[Zone]:
    return [Zone(**SMALL_LOGO_ZONE), Zone(**TEXT_ZONE), *(Zone(**z) for z in extra)]


def plain_stamp(data: bytes, zone_list: list[Zone], logo: bytes) -> bytes:
    """The copy made the way a worker without prepared artefacts makes it."""
    forget_partners()
    return same(stamp_pdf(data, zone_list, Brand(VALUES, logo)))


def same(pdf: bytes) -> bytes:
    """The PDF's bytes but for the second half of its trailer /ID, which qpdf seeds with the
    time of saving: two saves of the same content a second apart differ only there."""
    return re.sub(rb"(/ID \[<[0-9a-f]+>)<[0-9a-f]+>\]", rb"\1<>]", pdf)


class Recorded:
    """Reads a logo's artefacts from real storage, noting which were asked for."""

    def __init__(self, backend: LocalStorage):
        self.backend = backend
        self.names: list[str] = []

    def __call__(self, sha: str, name: str) -> bytes | None:
        self.names.append(name)
        return _read(self.backend, sha, name)


def logo_images(pdf: bytes) -> list[tuple[int, int, bool]]:
    """(width, height, has soft mask) of each logo image drawn by our overlays."""
    found = []
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        for page in doc.pages:
            for _, form in page.resources.get("/XObject", {}).items():
                for name, image in form.get("/Resources", {}).get("/XObject", {}).items():
                    if name.startswith("/TcmaLogo"):
                        found.append((int(image.Width), int(image.Height), "/SMask" in image))
    return found


# --- through the app: upload, the job, the partner's copy --------------------------------------


def _published_brochure_for_gold(extra_zones: tuple[dict, ...] = ()) -> tuple[str, bytes]:
    """A published two-page brochure with a small logo zone (and ``extra_zones``) on its last
    page; its public id and file."""
    from assets import library
    from assets.cobrand import zones_to_json
    from assets.models import AssetStatus
    from tcma.extensions import db

    data = vendor_pdf()
    asset = library.create_asset({"title": "Cloud Backup brochure"}, data, "brochure.pdf",
                                 by=None, tiers=["gold"], regions=[])
    library.set_zones(asset, zones_to_json(zones(*extra_zones)), by=None)
    asset.status = AssetStatus.PUBLISHED
    db.session.commit()
    return asset.public_id, data


def _saved_logo(app, partner_id: str) -> tuple[bytes, str]:
    """The partner's logo as stored after normalising, and its sha256."""
    import hashlib

    from tcma.partners import service as partners
    from tcma.storage import storage

    with app.app_context():
        profile = partners.current_brand_profile(partners.get_partner(partner_id))
        logo = storage().get(profile.logo_key)
    return logo, hashlib.sha256(logo).hexdigest()


def _stored(app, sha: str, name: str) -> bytes | None:
    from tcma.storage import storage

    with app.app_context():
        backend = storage()
        key = artefact_key(sha, name)
        return backend.get(key) if backend.exists(key) else None


def _prepared_sizes(app, logo: bytes) -> tuple[tuple[int, int] | None, list[tuple[int, int]]]:
    """(trimmed size, PDF sizes) as stored for this logo."""
    from tcma.storage import storage

    with app.app_context():
        prepared = prepared_logo(logo, storage())
        return prepared.trimmed_size(), sorted(prepared.pdf_images())


def test_logo_saved_on_the_brand_page_is_prepared_for_the_partners_library(app, client, jobs):
    with app.app_context():
        asset_id, original = _published_brochure_for_gold(
            extra_zones=(dict(page=0, x=40, y=40, width=500, height=200, kind="logo"),))
        partner = make_partner("Northwind IT", tier="gold")
        partner_id = partner.public_id
        email = make_user(Role.PARTNER_ADMIN, partner=partner).email

    login(client, email)
    token = csrf_from(client.get("/brand").get_data(as_text=True))
    saved = client.post("/brand", data={"csrf_token": token, **VALUES,
                                        "logo": (io.BytesIO(unique_logo()), "logo.png")},
                        content_type="multipart/form-data")
    assert saved.status_code == 302, saved.get_data(as_text=True)
    logo, sha = _saved_logo(app, partner_id)
    assert _stored(app, sha, "pdf.bin") is None  # queued after the commit, not run inline

    jobs.run()
    # Trimmed of its padding; embedded whole in the wide zone (500 pt shows 2083 px at
    # 300 dpi) and at 750 x 150 in the 180 pt one.
    assert _prepared_sizes(app, logo) == ((1500, 300), [(750, 150), (1500, 300)])
    assert _stored(app, sha, "rgba.bin")

    # The partner's copy, made by the worker from the prepared logo, is the very PDF a worker
    # that decodes the logo itself makes, with the logo at print resolution for each zone.
    forget_partners()
    assert client.get(f"/library/{asset_id}/copy").get_json()["status"] == "queued"
    jobs.run()
    assert client.get(f"/library/{asset_id}/copy").get_json()["status"] == "done"
    download = client.get(f"/library/{asset_id}/download")
    copy = client.get(download.headers["Location"].replace("http://localhost", "")).data
    with app.app_context():
        from assets.cobrand import parse_zones
        from assets.library import current_zone_set, get_asset

        drawn = parse_zones(current_zone_set(get_asset(asset_id)).zones, [A4, A4])
    assert same(copy) == plain_stamp(original, drawn, logo)
    assert sorted(logo_images(copy)) == [(750, 150, False), (1500, 300, False)]


def test_logo_uploaded_through_the_api_is_prepared(app, client, jobs, instance_dir):
    with app.app_context():
        partner = make_partner("API Partner", tier="gold")
        partner_id = partner.public_id
        secret = make_token(make_user(Role.PARTNER_ADMIN, partner=partner))
    response = client.put(f"/api/v1/partners/{partner_id}/brand-profile/logo",
                          headers={"Authorization": f"Bearer {secret}"},
                          data={"logo": (io.BytesIO(unique_logo(400, 120, padding=0)),
                                         "logo.png")},
                          content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    logo, sha = _saved_logo(app, partner_id)
    jobs.run()
    assert _prepared_sizes(app, logo) == ((400, 120), [(400, 120)])  # no library yet

    # A text-only change makes a new version, but no new logo to prepare: no job for it.
    (instance_dir / "storage" / artefact_key(sha, "pdf.bin")).unlink()
    response = client.put(f"/api/v1/partners/{partner_id}/brand-profile",
                          headers={"Authorization": f"Bearer {secret}"},
                          json={"display_name": "API Partner Ltd"})
    assert response.status_code == 200, response.get_data(as_text=True)
    jobs.run()
    assert _stored(app, sha, "pdf.bin") is None


# --- the engine with prepared artefacts --------------------------------------------------------


@pytest.fixture
def backend(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage")


def test_stamping_with_prepared_artefacts_reads_them_instead_of_the_logo(backend):
    logo, data, drawn = unique_logo(), vendor_pdf(), zones()
    written = store_prepared(backend, logo, drawn)
    assert [key.rsplit("/", 1)[1] for key in written] == ["rgba.bin", "pdf.bin"]

    reads = Recorded(backend)
    forget_partners()
    prepared = stamp_pdf(data, drawn, Brand(VALUES, logo, PreparedLogo(logo, reads)))
    assert reads.names == ["pdf.bin"]  # one read, no pixels: nothing decoded
    assert same(prepared) == plain_stamp(data, drawn, logo)

    # A zone drawn after the logo was prepared: its size is made from the prepared pixels.
    wider = zones(dict(page=0, x=56, y=100, width=120, height=120, kind="logo"))
    reads = Recorded(backend)
    forget_partners()
    prepared = stamp_pdf(data, wider, Brand(VALUES, logo, PreparedLogo(logo, reads)))
    assert reads.names == ["pdf.bin", "rgba.bin"]
    assert same(prepared) == plain_stamp(data, wider, logo)
    assert (500, 100, False) in logo_images(prepared)


def test_stamping_an_image_with_prepared_pixels_gives_the_same_file(backend):
    logo = unique_logo(600, 200, alpha=200)
    photo = io.BytesIO()
    Image.new("RGB", (800, 600), (30, 90, 160)).save(photo, "JPEG", quality=90)
    drawn = [Zone(page=0, x=500, y=450, width=280, height=120, kind="logo", align="right"),
             Zone(page=0, x=20, y=500, width=400, height=60, kind="text",
                  template="{{ partner.phone }}", size=30, color="#ffffff")]
    store_prepared(backend, logo)
    reads = Recorded(backend)
    forget_partners()
    prepared = stamp_image(photo.getvalue(), drawn,
                           Brand(VALUES, logo, PreparedLogo(logo, reads)))
    assert reads.names == ["rgba.bin"]
    forget_partners()
    assert prepared == stamp_image(photo.getvalue(), drawn, Brand(VALUES, logo))


def test_preparing_again_only_adds_what_is_missing(backend):
    logo = unique_logo()
    assert len(store_prepared(backend, logo, zones())) == 2
    assert store_prepared(backend, logo, zones()) == []  # a redelivered message: nothing
    more = zones(dict(page=0, x=56, y=100, width=120, height=120, kind="logo"))
    added = store_prepared(backend, logo, more)
    assert [key.rsplit("/", 1)[1] for key in added] == ["pdf.bin"]
    assert sorted(prepared_logo(logo, backend).pdf_images()) == [
        (500, 100), (750, 150), (1500, 300)]
    reads = Recorded(backend)
    forget_partners()
    data = vendor_pdf()
    stamped = stamp_pdf(data, more, Brand(VALUES, logo, PreparedLogo(logo, reads)))
    assert "rgba.bin" not in reads.names
    assert same(stamped) == plain_stamp(data, more, logo)


def test_a_fully_transparent_logo_is_prepared_as_nothing_to_draw(backend):
    logo, data, drawn = transparent_logo(), vendor_pdf(), zones()
    assert [key.rsplit("/", 1)[1] for key in store_prepared(backend, logo, drawn)] == [
        "rgba.bin", "pdf.bin"]
    reads = Recorded(backend)
    forget_partners()
    stamped = stamp_pdf(data, drawn, Brand(VALUES, logo, PreparedLogo(logo, reads)))
    assert reads.names == ["pdf.bin"]
    assert same(stamped) == plain_stamp(data, drawn, logo) and logo_images(stamped) == []
    photo = io.BytesIO()
    Image.new("RGB", (400, 300), (30, 90, 160)).save(photo, "PNG")
    reads = Recorded(backend)
    forget_partners()
    stamped = stamp_image(photo.getvalue(), [Zone(page=0, x=10, y=10, width=200, height=80,
                                                  kind="logo")],
                          Brand(VALUES, logo, PreparedLogo(logo, reads)))
    assert reads.names == ["rgba.bin"]
    assert Image.open(io.BytesIO(stamped)).getpixel((100, 50)) == (30, 90, 160)


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0xFF])


def _swap_header_logo(data: bytes) -> bytes:
    header, _, body = data.partition(b"\n")
    fields = json.loads(header)
    fields["logo"] = "0" * 64
    return json.dumps(fields).encode() + b"\n" + body


DAMAGE = {
    "images missing": ("pdf.bin", None),
    "images truncated": ("pdf.bin", lambda d: d[:-10]),
    "images bit rot": ("pdf.bin", _flip_last_byte),
    "images of another logo": ("pdf.bin", _swap_header_logo),
    "images header not JSON": ("pdf.bin", lambda d: b"\x00\xff" + d),
    "images with a bad size": ("pdf.bin", lambda d: d.replace(b'"trimmed": [', b'"trimmed": [-')),
    "images of another recipe": ("pdf.bin", lambda d: d.replace(b'"recipe": 1', b'"recipe": 0')),
    "pixels missing": ("rgba.bin", None),
    "pixels bit rot": ("rgba.bin", _flip_last_byte),
    "pixels empty": ("rgba.bin", lambda d: b""),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_or_missing_artefacts_fall_back_to_the_logo_itself(backend, damage, caplog):
    name, change = DAMAGE[damage]
    logo, data = unique_logo(), vendor_pdf()
    # The logo also in a zone nobody prepared, so the pixels are looked for too.
    drawn = zones(dict(page=0, x=56, y=100, width=120, height=120, kind="logo"))
    store_prepared(backend, logo, zones())
    sha = PreparedLogo(logo, Recorded(backend)).sha
    path = backend.root / artefact_key(sha, name)
    if change is None:
        path.unlink()
    else:
        path.write_bytes(change(path.read_bytes()))
    forget_partners()
    with caplog.at_level(logging.WARNING, logger="assets.cobrand.prepared"):
        stamped = stamp_pdf(data, drawn, Brand(VALUES, logo, prepared_logo(logo, backend)))
    assert same(stamped) == plain_stamp(data, drawn, logo)
    if change is not None:
        assert any("ignored" in r.getMessage() for r in caplog.records)

    # Preparing again (the next upload of this logo) repairs what was damaged.
    assert [key.rsplit("/", 1)[1] for key in store_prepared(backend, logo, zones())] == [name]
    if name == "pdf.bin":
        reads = Recorded(backend)
        forget_partners()
        again = stamp_pdf(data, zones(), Brand(VALUES, logo, PreparedLogo(logo, reads)))
        assert reads.names == ["pdf.bin"]
        assert same(again) == plain_stamp(data, zones(), logo)


def test_unreadable_storage_falls_back_to_the_logo_itself(tmp_path, caplog):
    root = tmp_path / "storage"
    root.mkdir()
    (root / "logos").write_text("a file where the folder should be")  # reads fail: ENOTDIR
    logo, data, drawn = unique_logo(), vendor_pdf(), zones()
    forget_partners()
    with caplog.at_level(logging.WARNING, logger="assets.logos"):
        stamped = stamp_pdf(data, drawn,
                            Brand(VALUES, logo, prepared_logo(logo, LocalStorage(root))))
    assert same(stamped) == plain_stamp(data, drawn, logo)
    assert any("could not read prepared logo" in r.getMessage() for r in caplog.records)
