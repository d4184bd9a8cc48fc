"""Vendor images (PNG, JPEG, WebP): inspected at upload, co-branded with Pillow.

The output is the input's format with its colour profile, metadata and (for JPEG) its own
quantisation tables, so a partner's copy looks like the vendor's original plus the partner's
logo and details. EXIF orientation is applied to the pixels first (zones are drawn on the
image as a person sees it) and the tag removed, so every viewer shows the same thing.

Decoding happens in-process: Pillow refuses images above ``MAX_PIXELS`` before allocating
them, which bounds memory at about 4 bytes x 50 M pixels.
"""

from __future__ import annotations

import functools
import io
import math
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import (
    Image,
    ImageColor,
    ImageDraw,
    ImageFont,
    ImageOps,
    JpegImagePlugin,
    UnidentifiedImageError,
)

from assets.cobrand.logo import MAX_UPSCALE, prepare_logo
from assets.cobrand.text import (
    FONT_FILES,
    fit_text,
    line_positions,
    measure_for,
    render_template,
)
from assets.cobrand.zones import Brand, Zone, check_zones_fit
from tcma.errors import FieldError, ValidationFailed

MAX_PIXELS = 50_000_000  # a 8660 x 5773 banner; more is a print file or a bomb
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
_DECLARED = {
    "png": "PNG", "image/png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "jpe": "JPEG",
    "image/jpeg": "JPEG", "image/jpg": "JPEG", "image/pjpeg": "JPEG", "webp": "WEBP",
    "image/webp": "WEBP",
}
_NAMES = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP"}
_ORIENTATION = 0x0112


@dataclass(frozen=True)
class ImageInfo:
    """An accepted image: its format and size as displayed (after EXIF orientation)."""

    format: str
    width: int
    height: int
    mime: str
    has_alpha: bool
    has_icc: bool

    @property
    def page_sizes(self) -> list[tuple[float, float]]:
        """The image as the single "page" zones are drawn on, in pixels."""
        return [(float(self.width), float(self.height))]


def _fail(message: str) -> ValidationFailed:
    return ValidationFailed([FieldError("file", message)])


def declared_format(declared: str) -> str | None:
    """The format a filename, extension or MIME type claims (None if it claims nothing we
    accept)."""
    value = declared.strip().lower()
    if value in _DECLARED:
        return _DECLARED[value]
    if "/" not in value and "." in value:
        return _DECLARED.get(value.rsplit(".", 1)[1])
    return None


def _open(data: bytes, declared: str | None) -> Image.Image:
    """Open, check and fully decode an untrusted image; refuse with a message otherwise."""
    if not data:
        raise _fail("The file is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            kind = image.format
            if kind not in FORMATS:
                raise _fail(f"{kind} images are not accepted. Upload PNG, JPEG or WebP.")
            if declared is not None:
                claimed = declared_format(declared)
                if claimed is None:
                    raise _fail(f"“{declared}” is not an image type we accept. Upload PNG, "
                                "JPEG or WebP.")
                if claimed != kind:
                    raise _fail(f"This file is named as {_NAMES[claimed]} but contains a "
                                f"{_NAMES[kind]} image. Rename it or export it again as "
                                f"{_NAMES[claimed]}.")
            if image.width * image.height > MAX_PIXELS:
                raise _too_many_pixels(image.width, image.height)
            if getattr(image, "n_frames", 1) > 1:
                raise _fail("Animated images are not accepted; upload a still image.")
            if image.mode == "CMYK":
                raise _fail("This is a CMYK (print) image. Export it in RGB (sRGB) for screens "
                            "and upload that.")
            image.load()
    except Image.DecompressionBombError as exc:
        raise _fail("This image has far too many pixels to open safely. Upload a smaller "
                    "version.") from exc
    except Image.DecompressionBombWarning as exc:
        raise _fail("This image has far too many pixels to open safely. Upload a smaller "
                    "version.") from exc
    except UnidentifiedImageError as exc:
        raise _fail("This file is not an image we can read. Upload PNG, JPEG or WebP.") from exc
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
        if "truncated" in str(exc).lower() or isinstance(exc, EOFError):
            raise _fail("This image is incomplete: the file stops before the picture ends, as "
                        "if the upload or export was cut short. Upload the complete file."
                        ) from exc
        raise _fail(f"This image is damaged and cannot be read ({exc}). Export it again.") from exc
    return image


def _too_many_pixels(width: int, height: int) -> ValidationFailed:
    return _fail(f"This image is {width} × {height} pixels; the limit is "
                 f"{MAX_PIXELS // 1_000_000} million pixels. Upload a smaller version.")


def inspect_image(data: bytes, declared: str | None = None) -> ImageInfo:
    """Check an uploaded image (declared by filename, extension or MIME type) and describe
    it; refuses bombs, truncated files and content that is not what its name says."""
    image = _open(data, declared)
    width, height = image.size
    if image.getexif().get(_ORIENTATION, 1) in (5, 6, 7, 8):
        width, height = height, width
    alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    return ImageInfo(format=image.format, width=width, height=height,
                     mime=FORMATS[image.format], has_alpha=alpha,
                     has_icc=bool(image.info.get("icc_profile")))


@functools.lru_cache(maxsize=64)
def _font(font: str, size: float) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_FILES[font]), size, layout_engine=ImageFont.Layout.BASIC)


def stamp_image(data: bytes, zones: Sequence[Zone], brand: Brand) -> bytes:
    """The vendor image with the partner's logo and text in its zones, in the same format."""
    image = _open(data, None)
    kind = image.format
    save = _save_options(image, data)
    if image.getexif().get(_ORIENTATION, 1) != 1:
        ImageOps.exif_transpose(image, in_place=True)
    check_zones_fit(list(zones), [image.size], unit="px")
    image, keep_icc = _working_mode(image)
    if not keep_icc:
        save.pop("icc_profile", None)
    exif = image.getexif()
    if len(exif):
        save["exif"] = exif.tobytes()
    wants_logo = any(z.kind == "logo" for z in zones)
    logo = prepare_logo(brand.logo, brand.prepared) if brand.logo and wants_logo else None
    for zone in zones:
        if zone.kind == "logo":
            if logo is not None:
                _paste(image, _fit_logo(logo, zone), _logo_origin(logo, zone))
        elif zone.kind == "qr":
            _draw_qr(image, zone, brand)
        else:
            _draw_text(image, zone, brand)
    out = io.BytesIO()
    image.save(out, kind, **save)
    return out.getvalue()


def _draw_qr(image: Image.Image, zone: Zone, brand: Brand) -> None:
    """The zone's QR code on a light square (quiet zone included), whole pixels per module
    where the zone allows, so phones read it sharply."""
    from assets.cobrand import qrcode as qr

    modules, runs = qr.dark_runs(qr.target_of(zone, brand.values))
    left, top, module = qr.placement(zone, modules)
    if module >= 1:
        module = float(int(module))  # crisp edges: no module split across pixels
    side = module * (modules + 2 * qr.QUIET_MODULES)
    draw = ImageDraw.Draw(image)  # RGB or RGBA here (``_working_mode``)
    alpha = (255,) if image.mode == "RGBA" else ()
    draw.rectangle((left, top, left + side - 1, top + side - 1), fill=(255, 255, 255, *alpha))
    ink = (*ImageColor.getrgb(zone.color)[:3], *alpha)
    origin = qr.QUIET_MODULES * module
    for row, column, length in runs:
        x0 = left + origin + column * module
        y0 = top + origin + row * module
        draw.rectangle((x0, y0, x0 + length * module - 1, y0 + module - 1), fill=ink)


def _save_options(image: Image.Image, data: bytes) -> dict:
    """Encoder settings that reproduce the original's quality, profile and metadata."""
    options: dict = {}
    if image.info.get("icc_profile"):
        options["icc_profile"] = image.info["icc_profile"]
    if image.info.get("dpi"):
        options["dpi"] = image.info["dpi"]
    if image.format == "JPEG":
        options["qtables"] = image.quantization  # the vendor's own quality, not a guess
        options["subsampling"] = JpegImagePlugin.get_sampling(image)
        if image.info.get("progressive") or image.info.get("progression"):
            options["progressive"] = True
        if image.info.get("xmp"):
            options["xmp"] = image.info["xmp"]
    elif image.format == "WEBP":
        if _webp_lossless(data):
            options["lossless"] = True
        else:
            options["quality"] = 90
        if image.info.get("xmp"):
            options["xmp"] = image.info["xmp"]
    return options


def _webp_lossless(data: bytes) -> bool:
    """Whether a WebP's image chunk is VP8L (lossless), walking its RIFF chunks."""
    offset = 12
    while offset + 8 <= len(data):
        tag = data[offset:offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        if tag in (b"VP8 ", b"VP8L"):
            return tag == b"VP8L"
        offset += 8 + size + (size & 1)
    return False


def _working_mode(image: Image.Image) -> tuple[Image.Image, bool]:
    """An RGB or RGBA image to draw on; False when its colour profile no longer applies."""
    if image.mode in ("RGB", "RGBA"):
        return image, True
    if image.mode == "P":
        transparent = "transparency" in image.info
        return image.convert("RGBA" if transparent else "RGB"), True
    alpha = image.mode in ("LA", "PA") or "transparency" in image.info
    # A grey profile does not describe RGB pixels; dropping it beats wrong colours.
    return image.convert("RGBA" if alpha else "RGB"), False


def _pixel_box(zone: Zone) -> tuple[int, int, int, int]:
    left, top = round(zone.x), round(zone.y)
    return left, top, max(left + 1, round(zone.x + zone.width)), max(top + 1,
                                                                      round(zone.y + zone.height))


def _logo_size(logo: Image.Image, zone: Zone) -> tuple[int, int]:
    left, top, right, bottom = _pixel_box(zone)
    scale = min((right - left) / logo.width, (bottom - top) / logo.height, MAX_UPSCALE)
    return (max(1, min(right - left, math.floor(logo.width * scale + 1e-6))),
            max(1, min(bottom - top, math.floor(logo.height * scale + 1e-6))))


def _fit_logo(logo: Image.Image, zone: Zone) -> Image.Image:
    size = _logo_size(logo, zone)
    return logo if size == logo.size else logo.resize(size, Image.Resampling.LANCZOS)


def _logo_origin(logo: Image.Image, zone: Zone) -> tuple[int, int]:
    left, top, right, bottom = _pixel_box(zone)
    width, height = _logo_size(logo, zone)
    x = {"left": left, "center": left + (right - left - width) // 2,
         "right": right - width}[zone.align]
    y = {"top": top, "middle": top + (bottom - top - height) // 2,
         "bottom": bottom - height}[zone.valign]
    return x, y


def _paste(image: Image.Image, layer: Image.Image, origin: tuple[int, int]) -> None:
    """Composite an RGBA layer over the image, touching only the layer's rectangle."""
    if image.mode == "RGBA":
        image.alpha_composite(layer, origin)
    else:
        image.paste(layer, origin, layer)


def _draw_text(image: Image.Image, zone: Zone, brand: Brand) -> None:
    text = render_template(zone.template, brand.values)
    if not text:
        return
    measure = measure_for(zone.font)
    fit = fit_text(text, zone.width, zone.height, zone.size, zone.min_size, measure)
    left, top, right, bottom = _pixel_box(zone)
    # Drawn on a layer the size of the zone: whatever overflows is clipped to the zone.
    layer = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = _font(zone.font, fit.size)
    for line, x, baseline in line_positions(fit, zone.box, zone.align, zone.valign, measure):
        draw.text((x - left, baseline - top), line, font=font, fill=zone.color, anchor="ls")
    _paste(image, layer, (left, top))
