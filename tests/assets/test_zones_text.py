"""Zones as the editor posts them, and partner text templates: what a marketer is told when a
zone or a template is wrong, and how text is fitted into a zone."""

from __future__ import annotations

import pytest

from assets.cobrand.text import SAMPLE_PARTNER, fit_text, measure_for, render_template
from assets.cobrand.zones import Zone, parse_zones, zones_to_json
from tcma.errors import ValidationFailed

A4 = [(595.0, 842.0), (842.0, 595.0)]


def errors_of(data: list[dict], pages=A4) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        parse_zones(data, pages)
    return {e.field: e.message for e in caught.value.errors}


def test_zones_round_trip_through_json():
    zones = [
        Zone(page=0, x=10, y=20, width=100, height=40, kind="logo", align="right"),
        Zone(page=1, x=72, y=500, width=300, height=30, kind="text",
             template="Call {{ partner.phone }}", font="sans-bold", size=14, min_size=8,
             color="#1a2b3c", align="center", valign="middle"),
    ]
    data = zones_to_json(zones)
    assert "template" not in data[0]  # logo zones carry no text settings
    assert parse_zones(data, A4) == zones


def test_each_wrong_field_is_named():
    errors = errors_of([
        {"page": 0, "x": 10, "y": 10, "width": 100, "height": 20, "kind": "text",
         "template": "{{ partner.phone }}", "size": 8, "min_size": 10, "color": "red",
         "align": "justify"},
        {"page": 0, "x": 10, "y": 10, "width": 0, "height": 20, "kind": "banner"},
        {"page": "1", "x": 10, "y": 10, "width": 10, "height": 20, "kind": "logo",
         "colour": "#000000"},
    ])
    assert errors == {
        "zones[0].min_size": "The minimum size (10) is larger than the size (8).",
        "zones[0].color": "Use a colour like #1a2b3c.",
        "zones[0].align": "Use left, center or right.",
        "zones[1].width": "The zone must be wider than zero.",
        "zones[1].kind": "Unknown zone kind 'banner'; use 'logo', 'text' or 'qr'.",
        "zones[2].colour": "Unknown zone field.",
        "zones[2].page": "Must be a whole page number.",
    }


def test_zone_outside_the_page_or_on_a_missing_page_is_refused():
    errors = errors_of([
        {"page": 0, "x": 500, "y": 10, "width": 200, "height": 20, "kind": "logo"},
        {"page": 1, "x": 10, "y": 580, "width": 10, "height": 20, "kind": "logo"},
        {"page": 2, "x": 10, "y": 10, "width": 10, "height": 20, "kind": "logo"},
        {"page": 0, "x": -5, "y": 10, "width": 10, "height": 20, "kind": "logo"},
    ])
    assert errors == {
        "zones[0].x": "The zone reaches 700 pt across, outside the page (595 pt wide).",
        "zones[1].y": "The zone reaches 600 pt down, outside the page (595 pt tall).",
        "zones[2].page": "Page 3 does not exist; the file has 2 pages.",
        "zones[3].x": "The zone starts left of the page.",
    }


def test_a_zone_touching_the_page_edge_is_fine():
    zones = parse_zones([{"page": 0, "x": 495, "y": 0, "width": 100.3, "height": 842,
                          "kind": "logo"}], A4)
    assert zones[0].box == (495, 0, 595.3, 842)


def test_unknown_tokens_and_unsafe_templates_are_refused_naming_the_token():
    def template_error(template: str) -> str:
        return errors_of([{"page": 0, "x": 0, "y": 0, "width": 10, "height": 10,
                           "kind": "text", "template": template}])["zones[0].template"]

    assert template_error("Call {{ partner.fax }}").startswith(
        "Unknown token {{ partner.fax }}; partner fields are display_name, contact_name")
    assert template_error("{{ user.email }}").startswith("Unknown token {{ user }}")
    assert "found call" in template_error("{{ partner.phone.__class__.__mro__() }}")
    assert "found for" in template_error("{% for c in partner %}{{ c }}{% endfor %}")
    assert "Unknown filter 'attr'" in template_error("{{ partner|attr('phone') }}")
    assert template_error("{{ partner.phone").startswith("Template error on line 1:")
    assert template_error("   ") == "Write the text to show, e.g. {{ partner.phone }}."


def test_templates_render_partner_values_and_drop_empty_lines():
    template = ("{{ partner.display_name|upper }}\n{{ partner.address_line1 }}\n"
                "{{ partner.address_line2 }}\n{{ partner.postal_code }} {{ partner.city }}\n"
                "{% if partner.phone %}Tel. {{ partner.phone }}{% endif %}")
    text = render_template(template, {"display_name": "Acme", "address_line1": "Ring 1",
                                      "postal_code": "50667", "city": "Köln",
                                      "phone": None})
    assert text == "ACME\nRing 1\n50667 Köln"


def test_partner_values_cannot_inject_template_code_or_lines():
    text = render_template("{{ partner.display_name }}",
                           {"display_name": "{{ 7*7 }}\nEvil\r\nline"})
    assert text == "{{ 7*7 }} Evil line"


MEASURE = measure_for("sans")


def test_text_that_fits_keeps_its_size():
    fit = fit_text("Acme GmbH", 200, 30, 14, 8, MEASURE)
    assert (fit.lines, fit.size, fit.overflow) == (("Acme GmbH",), 14, False)


def test_text_shrinks_before_it_wraps():
    fit = fit_text(SAMPLE_PARTNER["phone"], 150, 20, 16, 8, MEASURE)
    assert fit.lines == (SAMPLE_PARTNER["phone"],) and 8 <= fit.size < 16
    assert MEASURE(fit.lines[0], fit.size) <= 150
    assert MEASURE(fit.lines[0], fit.size + 0.5) > 150  # the largest size that fits


def test_text_wraps_at_the_largest_size_that_fits_once_shrinking_is_not_enough():
    fit = fit_text(SAMPLE_PARTNER["display_name"], 200, 60, 14, 11, MEASURE)
    assert len(fit.lines) > 1 and not fit.overflow
    assert " ".join(fit.lines) == SAMPLE_PARTNER["display_name"]
    assert all(MEASURE(line, fit.size) <= 200 for line in fit.lines)
    assert fit.block_height() <= 60


def test_text_that_cannot_fit_reports_overflow_and_breaks_long_words():
    fit = fit_text(SAMPLE_PARTNER["website"], 80, 40, 12, 10, MEASURE)
    assert fit.overflow and fit.size == 10
    assert all(MEASURE(line, fit.size) <= 80 for line in fit.lines)
    assert "".join(fit.lines) == SAMPLE_PARTNER["website"]
