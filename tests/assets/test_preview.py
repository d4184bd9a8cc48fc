"""The zone editor's view: PDF pages as images, and the warnings a marketer sees before
publishing when real partner values or logos will not fit."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from assets.cobrand.preview import preview_warnings, render_page
from assets.cobrand.text import SAMPLE_PARTNER
from assets.cobrand.zones import Zone
from tcma.errors import ValidationFailed
from tests.assets.conftest import is_ink, logo_png, share, vendor_pdf


def test_page_preview_is_a_png_of_the_page_as_displayed():
    pdf = vendor_pdf(2, rotate={1: 90})
    first = render_page(pdf, 0, max_side=842)
    image = Image.open(io.BytesIO(first.png))
    assert image.format == "PNG" and image.size == (first.width, first.height)
    assert first.scale == pytest.approx(842 / 841.8898)
    assert first.width in (595, 596) and first.height == 842
    # The vendor's heading is drawn where the PDF puts it (72 pt from the top-left).
    assert share(image.convert("RGB"), (72, 60, 300, 80), is_ink) > 0.02

    rotated = render_page(pdf, 1, max_side=792)
    assert (rotated.width, rotated.height) == (612, 792)  # landscape page turned upright


def test_preview_of_a_missing_page_or_a_bad_file_is_refused():
    with pytest.raises(ValidationFailed) as caught:
        render_page(vendor_pdf(2), 5)
    assert caught.value.for_field("page") == "Page 6 does not exist; the file has 2 pages."
    with pytest.raises(ValidationFailed) as caught:
        render_page(b"%PDF-1.4\nnonsense\n%%EOF\n", 0)
    assert "cannot be opened" in caught.value.for_field("file")


TEXT = Zone(page=0, x=72, y=700, width=220, height=20, kind="text",
            template="{{ partner.display_name }}", size=14, min_size=9)
PHONE = Zone(page=0, x=72, y=740, width=200, height=20, kind="text",
             template="Tel. {{ partner.phone }}", size=12, min_size=8)
LOGO = Zone(page=0, x=400, y=700, width=150, height=60, kind="logo")


def test_the_longest_real_value_that_does_not_fit_is_named():
    partners = [{"display_name": "Acme GmbH", "phone": "+1 555 0100"},
                {"display_name": "Beta Solutions Deutschland und Österreich Vertriebs GmbH "
                                 "& Co. KG Niederlassung Süd"},
                SAMPLE_PARTNER]
    warnings = preview_warnings([TEXT, PHONE], partners)

    assert [w.zone for w in warnings] == [0]
    assert warnings[0].message.startswith(
        "Zone 1: “Beta Solutions Deutschland und Österreich Vertriebs GmbH & Co. KG "
        "Niederlassung Süd” does not fit even at 9 and wrapped")


def test_values_that_fit_give_no_warning():
    assert preview_warnings([TEXT, PHONE], [{"display_name": "Acme", "phone": "+1 555"}]) == []


def test_characters_the_font_cannot_draw_are_warned_about():
    warnings = preview_warnings([PHONE], [{"phone": "☎ 030 1234 \U0001F4DE"}])
    assert [w.message for w in warnings] == [
        "Zone 1: the font has no characters for \U0001F4DE; they will print as empty boxes."]


def test_logo_warnings_for_missing_and_tiny_logos():
    warnings = preview_warnings([TEXT, LOGO], [{"display_name": "Acme"}] * 2,
                                logos=[None, logo_png(30, 12, padding=0), logo_png()])
    assert [(w.zone, w.message) for w in warnings] == [
        (1, "This partner has no logo yet; logo zones stay empty."),
        (1, "Zone 2: the logo is small (30×12 px) and was enlarged only 2×, so it does not "
            "fill the zone. Ask the partner for a larger logo."),
    ]
