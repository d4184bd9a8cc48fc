"""What the marketer sees while placing zones: page images, previews as a partner, warnings.

Page images and previews are rendered on demand in a bounded subprocess (a single page, a
fraction of a second) and cached in storage, keyed so a changed input never shows a stale
picture: page images by file version, previews by file version, zone set, brand-profile
version and page.
"""

from __future__ import annotations

from sqlalchemy import select

from assets.cobrand import Brand, parse_zones
from assets.cobrand.preview import ZoneWarning, preview_warnings, render_page
from assets.cobrand.text import SAMPLE_PARTNER
from assets.library import current_version, current_zone_set, unit_of
from assets.models import Asset, AssetKind, AssetVersion
from assets.renditions import brand_for, stamp
from tcma.errors import FieldError, ValidationFailed
from tcma.extensions import db
from tcma.partners.models import Partner, PartnerStatus
from tcma.partners.service import current_brand_profile
from tcma.storage import StorageError, storage

PREVIEW_SIDE = 1400  # px; sharp on a laptop screen, small enough to send quickly


def _check_page(version: AssetVersion, page: int) -> None:
    if not 0 <= page < len(version.page_sizes):
        raise ValidationFailed([FieldError("page", f"Pages go from 1 to "
                                                   f"{len(version.page_sizes)}.")])


def _cached(key: str, build) -> bytes:
    backend = storage()
    try:
        return backend.get(key)
    except StorageError:
        png = build()
        backend.put(key, png, "image/png")
        return png


def _as_png(data: bytes, kind: AssetKind, page: int) -> bytes:
    if kind is AssetKind.PDF:
        return render_page(data, page, max_side=PREVIEW_SIDE).png
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
        out = io.BytesIO()
        image.convert("RGBA").save(out, "PNG")
        return out.getvalue()


def page_image(asset: Asset, page: int) -> bytes:
    """The newest file's page as PNG, for drawing zones on."""
    version = current_version(asset)
    _check_page(version, page)
    key = f"previews/{asset.public_id}/v{version.version}/page-{page}.png"
    return _cached(key, lambda: _as_png(storage().get(version.file_key), asset.kind, page))


SAMPLE_LOGO_KEY = "previews/sample-logo-v1.png"


def _sample_logo_key() -> str:
    """The sample partner's logo: a wide orange "YOUR LOGO" badge, so a preview shows where
    logos land before any real partner has uploaded one."""
    backend = storage()
    if not backend.exists(SAMPLE_LOGO_KEY):
        import io

        from PIL import Image, ImageDraw

        from assets.cobrand.text import FONT_FILES

        image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        draw.rounded_rectangle((4, 4, 596, 196), radius=24, fill=(230, 90, 30, 255))
        from PIL import ImageFont

        font = ImageFont.truetype(str(FONT_FILES["sans-bold"]), 72)
        draw.text((300, 100), "YOUR LOGO", fill="white", font=font, anchor="mm")
        out = io.BytesIO()
        image.save(out, "PNG")
        backend.put(SAMPLE_LOGO_KEY, out.getvalue(), "image/png")
    return SAMPLE_LOGO_KEY


class _SampleProfile:
    """The built-in sample partner: long, accented values and the "YOUR LOGO" badge."""

    id = "sample"

    def __init__(self):
        self.logo_key = _sample_logo_key()

    def __getattr__(self, name: str):
        return SAMPLE_PARTNER.get(name)


def partner_preview(asset: Asset, partner: Partner | None, page: int) -> bytes:
    """One page co-branded for ``partner`` (or the sample partner) as PNG."""
    version = current_version(asset)
    _check_page(version, page)
    zone_set = current_zone_set(asset)
    profile = current_brand_profile(partner) if partner is not None else _SampleProfile()
    key = (f"previews/{asset.public_id}/v{version.version}/z{zone_set.version}/"
           f"b{profile.id}/page-{page}.png")
    return _cached(key, lambda: _as_png(stamp(version, zone_set, profile), asset.kind, page))


def warnings(asset: Asset) -> list[ZoneWarning]:
    """Zones that the longest real partner values (and the sample) would overflow."""
    version = current_version(asset)
    zones = parse_zones(current_zone_set(asset).zones, [tuple(s) for s in version.page_sizes],
                        unit=unit_of(asset))
    if not zones:
        return []
    profiles = [current_brand_profile(p) for p in db.session.execute(
        select(Partner).where(Partner.status == PartnerStatus.ACTIVE)).scalars()]
    brands: list[Brand] = [brand_for(p) for p in profiles]
    values = [b.values for b in brands] + [SAMPLE_PARTNER]
    found = preview_warnings(zones, values, logos=[b.logo for b in brands if b.logo])
    without_logo = sum(1 for b in brands if not b.logo)
    logo_zones = [i for i, z in enumerate(zones) if z.kind == "logo"]
    if logo_zones and without_logo:
        found.append(ZoneWarning(logo_zones[0], (
            f"{without_logo} of {len(brands)} active partners have no logo yet; their logo "
            "zones stay empty until they upload one.")))
    return found


def preview_partners(limit: int = 500) -> list[Partner]:
    return list(db.session.execute(
        select(Partner).where(Partner.status == PartnerStatus.ACTIVE).order_by(Partner.name)
        .limit(limit)).scalars())

