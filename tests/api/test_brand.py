"""Brand profiles over the API: versions, completeness, and logo uploads."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

from PIL import Image

from tests.api.conftest import Api, assert_problem, field_errors

FULL_PROFILE = {
    "display_name": "Northwind IT", "contact_name": "Nora North",
    "email": "hello@northwind.example", "phone": "+49 30 1234 5678",
    "website": "https://northwind.example", "address_line1": "Hauptstr. 1", "city": "Berlin",
    "postal_code": "10115", "country": "de", "primary_color": "#1F5FBF",
    "timezone": "Europe/Berlin", "x_handle": "northwind",
}


def _image(fmt: str, size: tuple[int, int], mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 30, 128) if mode == "RGBA" else (200, 30, 30)).save(out, fmt)
    return out.getvalue()


def _logo(data: bytes, name: str) -> dict:
    return {"logo": (io.BytesIO(data), name)}


def _partner_admin(as_user, new_partner) -> tuple[Api, str]:
    partner = new_partner("Northwind")
    return as_user("partner_admin", partner=partner), partner


def test_new_partner_has_a_first_version_with_what_is_missing(as_user, new_partner):
    partner = new_partner("Northwind")
    profile = as_user("marketer").ok("GET", f"/partners/{partner}/brand-profile")

    assert profile["partner_id"] == partner and profile["version"] == 1
    assert profile["display_name"] == "Northwind"
    assert profile["logo_url"] is None
    assert profile["completeness"]["percent"] < 20
    assert profile["completeness"]["missing"][:3] == ["Logo", "Contact name", "Contact email"]


def test_each_change_makes_a_version_and_no_change_makes_none(as_user, new_partner):
    api, partner = _partner_admin(as_user, new_partner)
    url = f"/partners/{partner}/brand-profile"

    saved = api.ok("PUT", url, json=FULL_PROFILE)
    assert saved["version"] == 2
    assert (saved["country"], saved["primary_color"], saved["x_handle"]) == (
        "DE", "#1f5fbf", "@northwind")
    assert saved["completeness"] == {"percent": 92, "missing": ["Logo"]}

    again = api.ok("PUT", url, json=FULL_PROFILE)
    assert again["version"] == 2  # nothing changed, nothing new for co-branding to render

    changed = api.ok("PUT", url, json={**FULL_PROFILE, "phone": "+49 30 9999 0000"})
    assert changed["version"] == 3
    assert api.ok("GET", url) == changed

    versions = api.ok("GET", f"{url}/versions")
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert [v["phone"] for v in versions] == ["+49 30 9999 0000", "+49 30 1234 5678", None]

    # PUT replaces: what is left out is cleared, and that is a change too.
    cleared = api.ok("PUT", url, json={"display_name": "Northwind IT"})
    assert cleared["version"] == 4 and cleared["phone"] is None

    events = as_user("admin").ok("GET", "/audit-events?action=brand_profile.update")
    assert len(events) == 3
    assert events[1]["before"] == {"version": 2, "phone": "+49 30 1234 5678"}
    assert events[1]["after"] == {"version": 3, "phone": "+49 30 9999 0000"}


def test_who_may_change_a_brand_profile(as_user, new_partner):
    partner = new_partner("Northwind")
    other = new_partner("Other")
    url = f"/partners/{partner}/brand-profile"

    assert_problem(as_user("admin").put(url, json=FULL_PROFILE), 403)
    assert_problem(as_user("partner_user", partner=partner).put(url, json=FULL_PROFILE), 404)
    assert_problem(as_user("partner_admin", partner=other).put(url, json=FULL_PROFILE), 404)
    own = as_user("partner_user", partner=partner).ok("GET", url)
    assert own["version"] == 1


def test_invalid_fields_are_named_and_make_no_version(as_user, new_partner):
    api, partner = _partner_admin(as_user, new_partner)
    url = f"/partners/{partner}/brand-profile"
    body = assert_problem(api.put(url, json={
        **FULL_PROFILE, "primary_color": "red", "website": "northwind", "timezone": "Mars/Base",
        "email": "nope", "logo_key": "partners/x.png"}), 422)
    assert set(field_errors(body)) == {"primary_color", "website", "timezone", "email",
                                       "logo_key"}
    assert api.ok("GET", url)["version"] == 1


def test_png_logo_is_accepted_normalised_and_served(as_user, new_partner, client):
    api, partner = _partner_admin(as_user, new_partner)
    api.ok("PUT", f"/partners/{partner}/brand-profile", json=FULL_PROFILE)

    profile = api.ok("PUT", f"/partners/{partner}/brand-profile/logo",
                     data=_logo(_image("PNG", (300, 120)), "logo.png"))

    assert profile["version"] == 3
    assert (profile["logo_width"], profile["logo_height"]) == (300, 120)
    assert profile["completeness"] == {"percent": 100, "missing": []}
    assert profile["display_name"] == "Northwind IT"  # the text fields carry over
    served = client.get(urlsplit(profile["logo_url"]).path)
    assert served.status_code == 200 and served.mimetype == "image/png"
    image = Image.open(io.BytesIO(served.data))
    assert (image.format, image.size, image.mode) == ("PNG", (300, 120), "RGBA")


def test_large_jpeg_logo_is_scaled_down_to_png(as_user, new_partner, client):
    api, partner = _partner_admin(as_user, new_partner)

    profile = api.ok("PUT", f"/partners/{partner}/brand-profile/logo",
                     data=_logo(_image("JPEG", (2400, 1200), mode="RGB"), "logo.jpg"))

    assert (profile["logo_width"], profile["logo_height"]) == (2000, 1000)
    image = Image.open(io.BytesIO(client.get(urlsplit(profile["logo_url"]).path).data))
    assert (image.format, image.size) == ("PNG", (2000, 1000))


def test_svg_with_script_is_refused_naming_logo(as_user, new_partner):
    api, partner = _partner_admin(as_user, new_partner)
    svg = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="200" '
           b'height="200"><script>alert(document.cookie)</script><rect width="200" '
           b'height="200"/></svg>')

    body = assert_problem(api.put(f"/partners/{partner}/brand-profile/logo",
                                  data=_logo(svg, "logo.png")), 422)

    assert set(field_errors(body)) == {"logo"}
    assert "script" in field_errors(body)["logo"]
    assert api.ok("GET", f"/partners/{partner}/brand-profile")["version"] == 1


def test_unusable_logos_are_refused_naming_logo(as_user, new_partner):
    api, partner = _partner_admin(as_user, new_partner)
    url = f"/partners/{partner}/brand-profile/logo"
    oversized = _image("PNG", (100, 100)) + b"\0" * (5 * 1024 * 1024)
    cases = {
        "5.0 MB": _logo(oversized, "huge.png"),
        "not an image": _logo(b"%PDF-1.7 not a logo", "logo.png"),
        "at least 64": _logo(_image("PNG", (40, 40)), "tiny.png"),
    }
    for expected, upload in cases.items():
        errors = field_errors(assert_problem(api.put(url, data=upload), 422))
        assert set(errors) == {"logo"}
        assert expected in errors["logo"], errors["logo"]
    assert "logo" in field_errors(assert_problem(api.put(url, data={}), 422))
    assert api.ok("GET", f"/partners/{partner}/brand-profile")["version"] == 1
