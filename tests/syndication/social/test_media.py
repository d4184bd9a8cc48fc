"""Images made to fit each network: size, format, orientation, metadata, broken files."""

from __future__ import annotations

import io
import os
import struct
import zlib

import pytest
from PIL import Image

from syndication.social.media import LIMITS, MAX_SOURCE_PIXELS, fit
from syndication.social.models import Network
from syndication.social.networks import PostRejected

ORIENTATION, MAKE, DATETIME = 0x0112, 0x010F, 0x0132


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_a_phone_photo_is_turned_upright_and_loses_its_exif():
    # A phone stores a portrait photo as landscape pixels plus "rotate 90°" in EXIF.
    image = Image.new("RGB", (400, 200), (200, 50, 50))
    image.paste((20, 200, 20), (0, 0, 40, 200))  # a green band on the stored left edge
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[MAKE] = "Pocket Camera Co"
    exif[DATETIME] = "2026:11:20 08:15:00"
    data, mimetype = fit(encode(image, "JPEG", exif=exif.tobytes()), Network.LINKEDIN)

    assert mimetype == "image/jpeg"
    result = opened(data)
    assert result.size == (200, 400)  # upright, as the person saw it
    assert result.getpixel((100, 5))[1] > 150  # the band is now at the top
    assert dict(result.getexif()) == {}
    assert b"Pocket Camera Co" not in data and b"2026:11:20" not in data


def test_a_transparent_png_stays_a_png_with_its_transparency():
    logo = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    logo.paste((10, 80, 200, 255), (50, 50, 250, 250))
    data, mimetype = fit(encode(logo, "PNG"), Network.X)
    assert mimetype == "image/png"
    result = opened(data)
    assert result.mode == "RGBA" and result.getpixel((0, 0))[3] == 0
    assert result.getpixel((150, 150)) == (10, 80, 200, 255)


def test_an_opaque_png_that_fits_stays_sharp_as_png():
    chart = Image.new("RGB", (800, 600), "white")
    chart.paste((0, 0, 0), (100, 100, 700, 110))
    data, mimetype = fit(encode(chart, "PNG"), Network.FACEBOOK)
    assert mimetype == "image/png" and opened(data).size == (800, 600)


def test_a_photo_saved_as_a_huge_png_becomes_a_jpeg_within_facebooks_4_mb():
    side = 1300
    photo = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    source = encode(photo, "PNG")
    assert len(source) > 4 * 1024 * 1024
    data, mimetype = fit(source, Network.FACEBOOK)
    assert mimetype == "image/jpeg" and len(data) <= LIMITS[Network.FACEBOOK].max_bytes


@pytest.mark.parametrize(("network", "longest"), [(Network.FACEBOOK, 2048), (Network.X, 4096)])
def test_a_wide_banner_is_scaled_down_to_the_networks_longest_side(network, longest):
    banner = Image.new("RGB", (6000, 1500), (240, 200, 10))
    data, _ = fit(encode(banner, "JPEG"), network)
    assert opened(data).size == (longest, longest // 4)


def test_linkedin_images_are_kept_under_its_pixel_limit():
    limits = LIMITS[Network.LINKEDIN]
    assert limits.max_pixels == 36_152_320
    poster = Image.new("L", (7600, 5000), 128)  # 38 million pixels
    data, mimetype = fit(encode(poster, "PNG"), Network.LINKEDIN)
    width, height = opened(data).size
    assert width * height <= limits.max_pixels and abs(width / height - 7600 / 5000) < 0.01


def test_a_cmyk_jpeg_becomes_rgb():
    print_file = Image.new("CMYK", (300, 200), (0, 255, 255, 0))
    data, mimetype = fit(encode(print_file, "JPEG"), Network.X)
    assert mimetype == "image/jpeg" and opened(data).mode == "RGB"


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels: what a decompression bomb looks like
    before it is decoded."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [8_000, 20_000, 60_000])
def test_an_image_with_far_too_many_pixels_is_refused_before_decoding(side):
    assert side * side > MAX_SOURCE_PIXELS
    with pytest.raises(PostRejected) as refused:
        fit(_png_header_only(side, side), Network.X)
    assert refused.value.reason == "media" and "too many pixels" in refused.value.message


def test_a_cut_off_image_is_refused_as_incomplete():
    whole = encode(Image.new("RGB", (600, 400), (9, 9, 9)), "JPEG")
    with pytest.raises(PostRejected) as refused:
        fit(whole[: len(whole) // 2], Network.LINKEDIN)
    assert refused.value.reason == "media" and "incomplete" in refused.value.message


@pytest.mark.parametrize("data", [b"", b"%PDF-1.7 not an image", b"\x89PNG\r\n\x1a\nbroken"])
def test_a_file_that_is_not_an_image_is_refused_with_what_to_do(data):
    with pytest.raises(PostRejected) as refused:
        fit(data, Network.FACEBOOK)
    assert refused.value.reason == "media" and refused.value.permanent
    assert "cannot be read" in refused.value.message and "JPEG or PNG" in refused.value.message
