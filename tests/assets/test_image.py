"""Co-branding vendor images: same format, colours and metadata out as in, the partner's logo and
details in their zones, and bad uploads refused with a message."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, ImageCms, ImageDraw

from assets.cobrand.image import inspect_image, stamp_image
from assets.cobrand.zones import Brand, Zone
from tcma.errors import ValidationFailed
from tests.assets.conftest import is_ink, is_red, logo_png, share

BLUE = (30, 60, 200)
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
LOGO = Zone(page=0, x=40, y=60, width=150, height=50, kind="logo")
PHONE_ZONE = Zone(page=0, x=40, y=200, width=300, height=40, kind="text",
                  template="{{ partner.phone }}", size=24, min_size=10, color="#000000")


def vendor_image(fmt: str, size: tuple[int, int] = (400, 300), *, mode: str = "RGB",
                 **save) -> bytes:
    """A vendor banner: light background, a blue marker square in the stored top-left."""
    background = (240, 240, 230, 255)[: len(mode)] if mode != "L" else 235
    image = Image.new(mode, size, background)
    ImageDraw.Draw(image).rectangle((0, 0, 29, 29), fill=BLUE if mode != "L" else 40)
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_output_keeps_the_input_format_and_colour_profile(brand, fmt):
    data = vendor_image(fmt, icc_profile=SRGB)
    out = opened(stamp_image(data, [LOGO, PHONE_ZONE], brand))

    assert out.format == fmt
    assert out.size == (400, 300)
    assert out.info.get("icc_profile") == SRGB


def test_jpeg_keeps_its_quality_tables():
    data = vendor_image("JPEG", quality=55)
    out = opened(stamp_image(data, [LOGO], Brand(logo=logo_png())))
    assert out.quantization == opened(data).quantization


def test_lossless_webp_stays_lossless():
    data = vendor_image("WEBP", lossless=True)
    out = stamp_image(data, [LOGO], Brand(logo=logo_png()))
    assert b"VP8L" in out[:64]
    assert opened(out).getpixel((200, 280)) == (240, 240, 230)  # untouched pixels, exactly


def test_exif_orientation_is_applied_and_other_metadata_kept(brand):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90 degrees clockwise
    exif[0x013B] = "Vendor Design Team"  # Artist
    data = vendor_image("JPEG", (400, 300), exif=exif.tobytes(), quality=95)
    assert inspect_image(data).width == 300  # zones are drawn on the image as shown

    zone = Zone(page=0, x=20, y=300, width=150, height=50, kind="logo")
    out = opened(stamp_image(data, [zone], brand))

    assert out.size == (300, 400)
    assert out.getexif().get(0x0112, 1) == 1
    assert out.getexif()[0x013B] == "Vendor Design Team"
    # The stored top-left marker is now at the top-right, as every viewer showed it.
    r, g, b = out.getpixel((285, 15))
    assert b > 150 and r < 90
    assert share(out, (22, 302, 168, 348), is_red) > 0.95


def test_logo_fills_its_box_aligned_and_nothing_outside(brand):
    zone = Zone(page=0, x=40, y=60, width=300, height=50, kind="logo", align="center")
    out = opened(stamp_image(vendor_image("PNG"), [zone], brand)).convert("RGB")

    # 3:1 logo, 6:1 box: 150 px wide, centred (115..265), full height.
    assert share(out, (117, 62, 263, 108), is_red) > 0.99
    assert share(out, (40, 60, 113, 110), is_red) == 0
    assert share(out, (267, 60, 340, 110), is_red) == 0
    assert share(out, (40, 111, 340, 130), is_red) == 0


def test_logo_alpha_blends_with_the_vendor_image():
    logo = Image.new("RGBA", (100, 100), (255, 0, 0, 128))  # half-transparent red
    buf = io.BytesIO()
    logo.save(buf, "PNG")
    zone = Zone(page=0, x=0, y=0, width=100, height=100, kind="logo")
    out = opened(stamp_image(vendor_image("PNG"), [zone], Brand(logo=buf.getvalue())))

    r, g, b = out.getpixel((10, 10))[:3]  # over the blue marker: a purple mix
    assert 100 < r < 160 and 70 < b < 130
    r, g, b = out.getpixel((60, 60))[:3]  # over the light background: pink
    assert r > 240 and 100 < g < 140


def test_transparent_png_stays_transparent_outside_the_zones(brand):
    data = vendor_image("PNG", mode="RGBA")
    transparent = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    buf = io.BytesIO()
    transparent.save(buf, "PNG")
    out = opened(stamp_image(buf.getvalue(), [LOGO], brand))

    assert out.mode == "RGBA"
    assert out.getpixel((300, 250)) == (0, 0, 0, 0)
    assert out.getpixel((100, 80)) == (*(220, 20, 20), 255)
    assert opened(stamp_image(data, [LOGO], brand)).mode == "RGBA"


def test_text_is_drawn_in_its_zone_in_its_colour(brand):
    zone = Zone(page=0, x=40, y=200, width=300, height=40, kind="text",
                template="Tel. {{ partner.phone }}", size=24, min_size=10, color="#c81414",
                align="right", valign="middle")
    out = opened(stamp_image(vendor_image("PNG"), [zone], brand)).convert("RGB")

    assert share(out, (40, 200, 340, 240), is_red) > 0.05
    assert share(out, (0, 150, 400, 199), is_ink) == 0
    assert share(out, (0, 241, 400, 300), is_ink) == 0
    assert share(out, (341, 190, 400, 250), is_ink) == 0


def test_long_text_shrinks_and_wraps_inside_the_zone():
    brand = Brand(values={"display_name": "Müller-Lüdenscheidt Systemhaus für "
                                          "Informationstechnik GmbH & Co. KG"})
    zone = Zone(page=0, x=40, y=100, width=160, height=120, kind="text",
                template="{{ partner.display_name }}", size=40, min_size=14)
    out = opened(stamp_image(vendor_image("PNG"), [zone], brand)).convert("RGB")

    inked_rows = [y for y in range(100, 220, 4) if share(out, (40, y, 200, y + 4), is_ink) > 0]
    assert inked_rows[-1] - inked_rows[0] > 60  # several lines
    assert share(out, (201, 90, 400, 230), is_ink) == 0


def test_euro_sign_and_accents_are_drawn_as_glyphs():
    def ink(value: str) -> tuple[float, float]:
        zone = Zone(page=0, x=100, y=100, width=100, height=60, kind="text",
                    template="{{ partner.city }}", size=40, min_size=40)
        out = opened(stamp_image(vendor_image("PNG"), [zone], Brand(values={"city": value})))
        return share(out, (100, 100, 200, 118), is_ink), share(out, (100, 100, 200, 160), is_ink)

    euro, missing = ink("€"), ink("\ue000")
    assert euro[1] > 0.03 and euro != missing
    assert ink("é")[0] > ink("e")[0]
    assert ink("Ü")[0] > ink("U")[0]


def test_grey_image_becomes_colour_for_a_colour_logo(brand):
    data = vendor_image("JPEG", mode="L")
    out = opened(stamp_image(data, [LOGO], brand))
    assert out.mode == "RGB"
    assert is_red(out.getpixel((100, 80)))


def test_zone_outside_the_image_is_refused(brand):
    zone = Zone(page=0, x=300, y=10, width=200, height=50, kind="logo")
    with pytest.raises(ValidationFailed) as caught:
        stamp_image(vendor_image("PNG"), [zone], brand)
    assert caught.value.for_field("zones[0].x") == ("The zone reaches 500 px across, outside "
                                                    "the page (400 px wide).")


# --- inspection: what is refused at upload ---------------------------------------------------

def test_inspect_describes_an_accepted_image():
    info = inspect_image(vendor_image("PNG", icc_profile=SRGB), "banner.png")
    assert (info.format, info.width, info.height, info.mime) == ("PNG", 400, 300, "image/png")
    assert info.has_icc and not info.has_alpha
    assert inspect_image(vendor_image("WEBP"), "image/webp").format == "WEBP"


def refusal(data: bytes, declared: str | None = None) -> str:
    with pytest.raises(ValidationFailed) as caught:
        inspect_image(data, declared)
    return caught.value.for_field("file")


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims ``width`` x ``height``: a decompression bomb's calling card."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))


def test_decompression_bombs_are_refused_before_decoding():
    assert refusal(_png_header_only(8000, 8000)) == (
        "This image is 8000 × 8000 pixels; the limit is 50 million pixels. Upload a smaller "
        "version.")
    assert "far too many pixels" in refusal(_png_header_only(30000, 30000))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_images_are_refused(fmt):
    data = vendor_image(fmt, (600, 400), **({"quality": 95} if fmt == "JPEG" else {}))
    assert "This image is incomplete" in refusal(data[: len(data) // 2])


def test_content_not_matching_its_declared_type_is_refused():
    jpeg = vendor_image("JPEG")
    assert refusal(jpeg, "banner.png") == ("This file is named as PNG but contains a JPEG "
                                           "image. Rename it or export it again as PNG.")
    assert "named as WebP but contains a PNG" in refusal(vendor_image("PNG"), "image/webp")
    assert "not an image type we accept" in refusal(jpeg, "banner.bmp")


def test_unsupported_and_unreadable_images_are_refused():
    assert refusal(b"") == "The file is empty."
    gif = io.BytesIO()
    Image.new("RGB", (50, 50)).save(gif, "GIF")
    assert refusal(gif.getvalue()) == "GIF images are not accepted. Upload PNG, JPEG or WebP."
    assert refusal(b"not an image at all" * 10) == ("This file is not an image we can read. "
                                                    "Upload PNG, JPEG or WebP.")
    cmyk = io.BytesIO()
    Image.new("CMYK", (50, 50)).save(cmyk, "JPEG")
    assert "CMYK (print) image" in refusal(cmyk.getvalue())
    frames = [Image.new("RGB", (50, 50), c) for c in ((255, 0, 0), (0, 255, 0))]
    animated = io.BytesIO()
    frames[0].save(animated, "WEBP", save_all=True, append_images=frames[1:])
    assert refusal(animated.getvalue()) == ("Animated images are not accepted; upload a still "
                                            "image.")


def test_stamping_refuses_what_inspection_refuses(brand):
    with pytest.raises(ValidationFailed) as caught:
        stamp_image(_png_header_only(8000, 8000), [LOGO], brand)
    assert "50 million pixels" in caught.value.for_field("file")


def test_phone_in_a_tiny_zone_is_clipped_not_spilled(brand):
    zone = Zone(page=0, x=40, y=100, width=50, height=14, kind="text",
                template="{{ partner.phone }}", size=12, min_size=12)
    out = opened(stamp_image(vendor_image("PNG"), [zone], brand)).convert("RGB")
    assert share(out, (40, 100, 90, 114), is_ink) > 0.02
    assert share(out, (91, 95, 400, 130), is_ink) == 0
