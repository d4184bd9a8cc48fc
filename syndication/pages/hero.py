"""Hero images: bounded, sniffed by content (never by name), re-encoded for the web.

Re-encoding drops metadata and anything appended to the file, applies the EXIF orientation,
and scales the image to what a landing page shows, so visitors on phones download a few
hundred kilobytes, not a camera original.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from tcma.errors import FieldError, ValidationFailed

ACCEPTED = {"PNG", "JPEG", "WEBP"}
MIN_WIDTH = 400  # narrower heroes look blurred on a laptop
MAX_WIDTH = 1600  # wider ones are scaled down
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding


@dataclass(frozen=True)
class Hero:
    data: bytes
    mime: str
    extension: str
    width: int
    height: int
    sha256: str


def _fail(message: str) -> ValidationFailed:
    return ValidationFailed([FieldError("hero", message)])


def normalise_hero(data: bytes, filename: str, *, max_bytes: int) -> Hero:
    """An uploaded image as the page serves it: JPEG, or PNG when it has transparency."""
    if not data:
        raise _fail("Choose an image file to upload.")
    if len(data) > max_bytes:
        raise _fail(f"The image is {len(data) / 1_048_576:.1f} MB; the limit is "
                    f"{max_bytes / 1_048_576:.0f} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED:
                raise _fail(f"{image.format or 'This'} files are not accepted. Upload a PNG, "
                            "JPEG or WebP image.")
            if image.width * image.height > MAX_PIXELS:
                raise _fail("That image is far too large in pixels. Upload a smaller version.")
            image.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise _fail("That image is far too large in pixels. Upload a smaller version.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _fail(f"{filename or 'This file'} is not an image we can read. Upload a PNG, "
                    "JPEG or WebP image.") from exc
    image = ImageOps.exif_transpose(image)
    if image.width < MIN_WIDTH:
        raise _fail(f"The image is {image.width} px wide; use at least {MIN_WIDTH} px so it "
                    "stays sharp.")
    if image.width > MAX_WIDTH:
        image.thumbnail((MAX_WIDTH, MAX_WIDTH * 4), Image.LANCZOS)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info)
    out = io.BytesIO()
    if has_alpha:
        image.convert("RGBA").save(out, "PNG", optimize=True)
        mime, extension = "image/png", "png"
    else:
        image.convert("RGB").save(out, "JPEG", quality=85, optimize=True, progressive=True)
        mime, extension = "image/jpeg", "jpg"
    encoded = out.getvalue()
    return Hero(data=encoded, mime=mime, extension=extension, width=image.width,
                height=image.height, sha256=hashlib.sha256(encoded).hexdigest())
