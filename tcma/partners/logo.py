"""Logo uploads: bounded, sniffed by content (never by name), normalised to PNG.

Only raster images are accepted. SVG is refused outright: it can carry script, and a logo
must stamp identically onto PDFs and images, which a raster does.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from tcma.errors import FieldError, ValidationFailed

ACCEPTED = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP", "GIF": "GIF"}
MIN_SIDE = 64  # smaller logos turn to mush when stamped at brochure size
MAX_SIDE = 2000  # larger ones are scaled down; nothing we stamp needs more
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding
_SVG_SCRIPT = re.compile(rb"<script|javascript:|\son[a-z]+\s*=", re.IGNORECASE)


@dataclass(frozen=True)
class Logo:
    png: bytes
    width: int
    height: int
    sha256: str


def _fail(message: str) -> ValidationFailed:
    return ValidationFailed([FieldError("logo", message)])


def normalise_logo(data: bytes, filename: str, *, max_bytes: int) -> Logo:
    if not data:
        raise _fail("Choose an image file to upload.")
    if len(data) > max_bytes:
        raise _fail(f"The logo is {len(data) / 1_048_576:.1f} MB; the limit is "
                    f"{max_bytes / 1_048_576:.0f} MB.")
    head = data[:1024].lstrip().lower()
    if head.startswith(b"<?xml") or head.startswith(b"<svg") or b"<svg" in head:
        if _SVG_SCRIPT.search(data):
            raise _fail("This SVG contains script, which is never accepted. "
                        "Upload the logo as PNG, JPEG or WebP.")
        raise _fail("SVG logos are not accepted. Upload the logo as PNG, JPEG or WebP.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            fmt = image.format
            if fmt not in ACCEPTED:
                raise _fail(f"{fmt or 'This'} files are not accepted. "
                            "Upload the logo as PNG, JPEG or WebP.")
            if image.width * image.height > MAX_PIXELS:
                raise _fail("That image is far too large in pixels. Upload a smaller version.")
            image.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        # Pillow refuses the biggest ones while reading the header; same answer as above.
        raise _fail("That image is far too large in pixels. Upload a smaller version.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _fail(f"{filename or 'This file'} is not an image we can read. "
                    "Upload the logo as PNG, JPEG or WebP.") from exc
    if min(image.size) < MIN_SIDE:
        raise _fail(f"The logo is {image.width}×{image.height} px; use at least "
                    f"{MIN_SIDE} px on each side so it stays sharp in print.")
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    image = image.convert("RGBA")
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.LANCZOS)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)  # re-encoding drops metadata and any trailing payload
    png = out.getvalue()
    return Logo(png=png, width=image.width, height=image.height,
                sha256=hashlib.sha256(png).hexdigest())
