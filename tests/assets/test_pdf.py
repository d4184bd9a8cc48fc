"""Stamping vendor PDFs: the vendor's pages stay intact, the partner's logo and details land in
their zones, and files we cannot stamp safely are refused with a message."""

from __future__ import annotations

import io
import struct
import zlib

import pikepdf
import pytest

from assets.cobrand.pdf import inspect_pdf, stamp_pdf
from assets.cobrand.zones import Brand, Zone
from tcma.errors import ValidationFailed
from tests.assets.conftest import (
    PHONE,
    VENDOR_TEXT,
    is_ink,
    is_red,
    logo_png,
    pdftotext,
    qpdf_check,
    render,
    share,
    vendor_pdf,
)

LOGO = Zone(page=0, x=100, y=500, width=150, height=50, kind="logo")
PHONE_ZONE = Zone(page=1, x=72, y=400, width=400, height=40, kind="text",
                  template="Call {{ partner.phone }}", size=18, min_size=8)


def test_stamped_pdf_is_valid_and_keeps_vendor_text_links_and_page_sizes(brand):
    original = vendor_pdf(2)
    stamped = stamp_pdf(original, [LOGO, PHONE_ZONE], brand)

    assert qpdf_check(stamped).returncode == 0, qpdf_check(stamped).stdout
    text = pdftotext(stamped)
    assert VENDOR_TEXT[0] in text and VENDOR_TEXT[1] in text
    assert f"Call {PHONE}" in text  # partner text is real, selectable text
    with pikepdf.open(io.BytesIO(stamped)) as out, pikepdf.open(io.BytesIO(original)) as src:
        assert [list(p.mediabox) for p in out.pages] == [list(p.mediabox) for p in src.pages]
        link = out.pages[0].obj.Annots[0]
        assert str(link.A.URI) == "https://vendor.example/product"
        # The vendor's own content streams are kept byte for byte, only wrapped.
        vendor = src.pages[0].obj.Contents.read_bytes()
        assert any(s.read_bytes() == vendor for s in out.pages[0].obj.Contents)


def test_logo_lands_exactly_in_its_zone(brand):
    stamped = stamp_pdf(vendor_pdf(1), [LOGO], brand)
    page = render(stamped)

    # The 300x100 logo (padding trimmed) fills the 150x50 zone at 100,500 from the top-left.
    assert share(page, (102, 502, 248, 548), is_red) > 0.98
    assert share(page, (90, 490, 100, 560), is_red) == 0  # left of the zone
    assert share(page, (100, 551, 250, 560), is_red) == 0  # below it
    assert share(page, (251, 500, 270, 550), is_red) == 0  # right of it


def test_logo_keeps_aspect_ratio_and_alignment_never_stretched(brand):
    wide = Zone(page=0, x=100, y=300, width=300, height=50, kind="logo", align="right")
    page = render(stamp_pdf(vendor_pdf(1), [wide], brand))

    # 3:1 logo in a 6:1 zone: 150 wide, pushed to the right, the left half stays empty.
    assert share(page, (252, 302, 398, 348), is_red) > 0.98
    assert share(page, (100, 300, 248, 350), is_red) == 0


def test_tiny_logo_is_enlarged_at_most_twice():
    tiny = Brand(values={}, logo=logo_png(40, 20, padding=5))
    zone = Zone(page=0, x=100, y=100, width=400, height=200, kind="logo")
    page = render(stamp_pdf(vendor_pdf(1), [zone], tiny))

    # 40x20 px at 2x is 80x40 pt in the top-left corner, not 400x200.
    assert share(page, (102, 102, 178, 138), is_red) > 0.95
    assert share(page, (182, 100, 500, 300), is_red) == 0
    assert share(page, (100, 142, 180, 300), is_red) == 0


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_zones_follow_the_page_as_displayed_on_rotated_pages(brand, rotate):
    stamped = stamp_pdf(vendor_pdf(1, rotate={0: rotate}), [LOGO], brand)
    page = render(stamped)

    assert page.size == ((842, 596) if rotate in (90, 270) else (596, 842))  # A4, rounded up
    assert share(page, (102, 502, 248, 548), is_red) > 0.98
    assert share(page, (90, 490, 100, 560), is_red) == 0
    assert share(page, (251, 500, 270, 550), is_red) == 0


def test_zones_are_relative_to_the_crop_box(brand):
    pdf = vendor_pdf(1, crop={0: (50, 100, 545, 800)})
    info = inspect_pdf(pdf)
    assert info.page_sizes == [(495.0, 700.0)]
    zone = Zone(page=0, x=0, y=0, width=150, height=50, kind="logo")
    page = render(stamp_pdf(pdf, [zone], brand))

    assert page.size == (495, 700)
    assert share(page, (2, 2, 148, 48), is_red) > 0.98
    assert share(page, (152, 0, 200, 50), is_red) == 0


def test_vendor_graphics_state_left_open_does_not_move_the_overlay(brand):
    pdf = pikepdf.open(io.BytesIO(vendor_pdf(1)))
    # A sloppy producer: a scale and a clip left in force at the end of the page.
    pdf.pages[0].contents_add(b"3 0 0 3 0 0 cm 0 0 10 10 re W n", prepend=False)
    buf = io.BytesIO()
    pdf.save(buf)
    page = render(stamp_pdf(buf.getvalue(), [LOGO], brand))

    assert share(page, (102, 502, 248, 548), is_red) > 0.98


def test_one_overlay_object_is_shared_by_pages_with_the_same_zones(brand):
    zones = [Zone(page=i, x=400, y=780, width=150, height=40, kind="text",
                  template="{{ partner.phone }}") for i in (0, 2, 4)]
    stamped = stamp_pdf(vendor_pdf(5), zones, brand)

    with pikepdf.open(io.BytesIO(stamped)) as out:
        forms = [
            next(v.objgen for k, v in out.pages[i].Resources.XObject.items()
                 if k.startswith("/TcmaBrand"))
            for i in (0, 2, 4)
        ]
        assert len(set(forms)) == 1
        assert "/XObject" not in out.pages[1].Resources  # unzoned pages are untouched
    assert pdftotext(stamped).count(PHONE) == 3


def test_text_shrinks_to_fit_then_wraps(brand):
    long_name = Brand(values={"display_name": "Müller-Lüdenscheidt Systemhaus für "
                                              "Informationstechnik GmbH & Co. KG"})
    one_line = Zone(page=0, x=72, y=200, width=300, height=30, kind="text",
                    template="{{ partner.display_name }}", size=24, min_size=6)
    wrapped = Zone(page=0, x=72, y=400, width=150, height=80, kind="text",
                   template="{{ partner.display_name }}", size=24, min_size=10)
    stamped = stamp_pdf(vendor_pdf(1), [one_line, wrapped], long_name)
    page = render(stamped)

    text = pdftotext(stamped)
    assert "Müller-Lüdenscheidt Systemhaus für Informationstechnik GmbH & Co. KG" in text
    # The shrunk line stays inside its zone; the wrapped one uses several lines of it.
    assert share(page, (72, 200, 372, 230), is_ink) > 0.02
    assert share(page, (372, 195, 595, 235), is_ink) == 0
    rows = [share(page, (72, y, 222, y + 10), is_ink) > 0 for y in range(400, 480, 10)]
    assert sum(rows) >= 4
    assert share(page, (223, 395, 595, 485), is_ink) == 0


def test_overflowing_text_is_clipped_to_its_zone(brand):
    zone = Zone(page=0, x=72, y=300, width=60, height=14, kind="text",
                template="{{ partner.display_name }} {{ partner.website }}", size=12,
                min_size=12)
    page = render(stamp_pdf(vendor_pdf(1), [zone], brand))

    assert share(page, (72, 300, 132, 314), is_ink) > 0.02
    assert share(page, (133, 295, 595, 330), is_ink) == 0
    assert share(page, (60, 315, 140, 340), is_ink) == 0


def test_euro_sign_and_accents_are_drawn_as_glyphs():
    def ink(value: str) -> tuple[float, float]:
        zone = Zone(page=0, x=100, y=100, width=100, height=60, kind="text",
                    template="{{ partner.city }}", size=40, min_size=40)
        page = render(stamp_pdf(vendor_pdf(1), [zone], Brand(values={"city": value})))
        top = share(page, (100, 100, 200, 118), is_ink)  # above the x-height: accents
        return top, share(page, (100, 100, 200, 160), is_ink)

    euro, missing = ink("€"), ink("\ue000")  # U+E000 is not in any font: a .notdef box
    assert euro[1] > 0.03 and euro != missing
    assert ink("é")[0] > ink("e")[0]  # the accent adds ink above the letter
    assert ink("Ü")[0] > ink("U")[0]


def test_partner_without_logo_gets_the_text_and_an_untouched_logo_zone():
    stamped = stamp_pdf(vendor_pdf(2), [LOGO, PHONE_ZONE], Brand(values={"phone": PHONE}))
    assert PHONE in pdftotext(stamped)
    assert share(render(stamped), (100, 500, 250, 550), is_red) == 0


def test_zone_outside_the_page_is_refused_when_stamping(brand):
    outside = Zone(page=0, x=500, y=800, width=200, height=100, kind="logo")
    missing_page = Zone(page=7, x=0, y=0, width=10, height=10, kind="logo")
    with pytest.raises(ValidationFailed) as caught:
        stamp_pdf(vendor_pdf(2), [outside, missing_page], brand)
    assert "outside the page (595.276 pt wide)" in caught.value.for_field("zones[0].x")
    assert "outside the page" in caught.value.for_field("zones[0].y")
    assert caught.value.for_field("zones[1].page") == ("Page 8 does not exist; the file has "
                                                       "2 pages.")


# --- inspection: what is refused at upload ---------------------------------------------------

def test_inspect_reports_page_sizes_as_displayed():
    info = inspect_pdf(vendor_pdf(3, rotate={1: 90}))
    assert info.page_count == 3
    assert info.page_sizes == [(595.2756, 841.8898), (612.0, 792.0), (595.2756, 841.8898)]
    assert info.pages[1].rotate == 90
    assert info.warnings == ()


def _encrypted(user: str, owner: str) -> bytes:
    buf = io.BytesIO()
    with pikepdf.open(io.BytesIO(vendor_pdf(1))) as pdf:
        pdf.save(buf, encryption=pikepdf.Encryption(
            user=user, owner=owner, allow=pikepdf.Permissions(modify_other=False)))
    return buf.getvalue()


def refusal(data: bytes, **kwargs) -> str:
    with pytest.raises(ValidationFailed) as caught:
        inspect_pdf(data, **kwargs)
    message = caught.value.for_field("file")
    assert message, caught.value.errors
    return message


def test_password_protected_pdf_is_refused():
    assert "protected by a password" in refusal(_encrypted("secret", "owner"))
    with pytest.raises(ValidationFailed) as caught:  # and never half-stamped
        stamp_pdf(_encrypted("secret", "owner"), [LOGO], Brand(logo=logo_png()))
    assert caught.value.for_field("file") == ("This PDF cannot be opened for co-branding; "
                                              "upload it again.")


def test_pdf_with_permission_restrictions_is_refused():
    assert "encrypted (it carries permission restrictions)" in refusal(_encrypted("", "owner"))


def test_zero_page_pdf_is_refused():
    buf = io.BytesIO()
    pikepdf.new().save(buf)
    assert refusal(buf.getvalue()) == "This PDF has no pages."


def test_content_that_is_not_a_pdf_is_refused_by_what_it_is():
    assert "not a PDF; it looks like a PNG image" in refusal(logo_png())
    assert "not a PDF; it looks like a ZIP archive or an Office document" in refusal(
        b"PK\x03\x04" + b"\0" * 100)
    assert refusal(b"") == "The file is empty."
    assert refusal(b"hello, this is just text") == "This file is not a PDF. Upload a PDF."


def test_truncated_pdf_is_refused():
    data = vendor_pdf(2)
    assert "This PDF is incomplete" in refusal(data[: len(data) // 2])


def test_garbage_with_a_pdf_header_is_refused():
    message = refusal(b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n")
    assert "damaged" in message or "no pages" in message


def _raw_pdf(objects: list[bytes], extra: bytes = b"") -> bytes:
    """A hand-built PDF with a correct xref table, for structures ReportLab never writes."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    out += extra
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def test_page_tree_that_loops_is_refused():
    looping = _raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                        b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"])
    message = refusal(looping)
    assert "no pages" in message or "damaged" in message


def _flate_bomb(megabytes: int) -> bytes:
    """A zlib stream of ``megabytes`` MB of zeros in ~1 kB per MB, built without inflating."""
    compressor = zlib.compressobj(9)
    chunk = b"\0" * (1 << 20)
    first = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    adler = ((megabytes * len(chunk)) % 65521) << 16 | 1
    return first + first[2:] * (megabytes - 1) + b"\x03\x00" + struct.pack(">I", adler)


def test_pdf_that_explodes_when_parsed_is_refused_within_the_memory_bound():
    bomb = _flate_bomb(400)
    data = _raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(bomb) + bomb
        + b"\nendstream",
    ])
    assert len(data) < 600_000
    message = refusal(data, memory_mb=256)
    assert "needs more than 256 MB of memory to read" in message


def test_pdf_that_takes_too_long_is_refused():
    assert "took more than 0.05 s to read" in refusal(vendor_pdf(1), timeout=0.05)
