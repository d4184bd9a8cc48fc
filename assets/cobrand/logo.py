"""Partner logos as stamped: transparent padding trimmed, placed inside the zone.

A logo is fitted inside its zone with its aspect ratio kept, aligned as the zone says, never
stretched and never past the zone's edges. Tiny logos are enlarged at most ``MAX_UPSCALE``
times (one logo pixel per page unit being 1x): beyond that they print as visible blocks, so
they stay smaller than the zone and the preview warns instead.

Trimming a logo (``prepare_logo``) and deflating its pixels for PDF (``encode_for_pdf``) are
also done once when the partner uploads it (``prepared``); both stampers read those prepared
artefacts when they are there and do the work here when they are not, with the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image

from assets.cobrand.zones import Zone
from tcma.errors import FieldError, ValidationFailed

if TYPE_CHECKING:
    from assets.cobrand.prepared import PreparedLogo

MAX_UPSCALE = 2.0
MAX_LOGO_PIXELS = 16_000_000  # logos arrive normalised (<= 2000 px a side); this is a backstop
ALPHA_FLOOR = 8  # alpha at or below this counts as padding (anti-aliasing haze around a crop)
LOGO_DPI = 300  # PDFs embed logos at no more than print resolution for their size
TRIMMED_CACHE = 8  # trimmed logos kept per process: one partner's files are stamped in a row


_SOLID = [255 if a > ALPHA_FLOOR else 0 for a in range(256)]  # alpha -> "part of the logo"


class NotPrepared(LookupError):
    """A prepared artefact of a logo is not there (not made yet, or unreadable): the caller
    prepares the logo itself."""


@dataclass(frozen=True)
class LogoPlacement:
    """Where the logo goes, in page units, origin top-left; ``limited`` when capped."""

    x: float
    y: float
    width: float
    height: float
    limited: bool


@dataclass(frozen=True)
class LogoImage:
    """A logo's pixels at one size as a PDF embeds them: colour, and alpha unless fully
    opaque, each deflated (the image XObject's and its soft mask's stream data)."""

    width: int
    height: int
    rgb: bytes
    alpha: bytes | None


_trimmed: OrderedDict[bytes, Image.Image | None] = OrderedDict()
_trimmed_lock = threading.Lock()
_ABSENT = object()


def prepare_logo(data: bytes, prepared: PreparedLogo | None = None) -> Image.Image | None:
    """The logo as RGBA with transparent padding trimmed; None if it is fully transparent.

    Read from the artefacts ``prepared`` at upload when they are there (decoding the PNG is
    the slow part), decoded here otherwise. Cached because one partner's logo is stamped onto
    many files in a row; callers must not modify the returned image.
    """
    key = hashlib.sha256(data).digest()
    with _trimmed_lock:
        image = _trimmed.get(key, _ABSENT)
        if image is not _ABSENT:
            _trimmed.move_to_end(key)
            return image  # type: ignore[return-value]
    image = _ABSENT
    if prepared is not None:
        try:
            image = prepared.pixels()
        except NotPrepared:
            pass
    if image is _ABSENT:
        image = trim_logo(data)
    with _trimmed_lock:
        _trimmed[key] = image  # type: ignore[assignment]
        while len(_trimmed) > TRIMMED_CACHE:
            _trimmed.popitem(last=False)
    return image  # type: ignore[return-value]


def forget_trimmed_logos() -> None:
    """Empty ``prepare_logo``'s cache (benchmarks of a partner's first copy, tests)."""
    with _trimmed_lock:
        _trimmed.clear()


def trim_logo(data: bytes) -> Image.Image | None:
    """Decode a logo and trim its transparent padding (``prepare_logo`` without caches)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_LOGO_PIXELS:
                raise ValidationFailed([FieldError("logo", "The logo is too large in pixels.")])
            image.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError, OSError,
            SyntaxError, ValueError) as exc:
        raise ValidationFailed([FieldError("logo", "The partner logo could not be read; "
                                                   "upload it again.")]) from exc
    if image.mode != "RGBA":
        image = image.convert("RGBA")
    solid = image.getchannel("A").point(_SOLID)
    bbox = solid.getbbox()
    if bbox is None:
        return None
    if bbox != (0, 0, image.width, image.height):
        image = image.crop(bbox)
    return image


def embed_size(logo: tuple[int, int], width_pt: float, height_pt: float) -> tuple[int, int]:
    """Pixels worth embedding in a PDF for a logo shown at ``width_pt`` x ``height_pt``: never
    more than ``LOGO_DPI`` needs (a 2000 px logo in a 2-inch box is 600 px), never more than
    it has."""
    scale = min(1.0, (width_pt / 72 * LOGO_DPI) / logo[0])
    return (max(1, round(logo[0] * scale)), max(1, round(logo[1] * scale)))


def encode_for_pdf(logo: Image.Image, size: tuple[int, int]) -> LogoImage:
    """A trimmed logo's pixels at ``size``, deflated as a PDF image and its soft mask."""
    if size != logo.size:
        logo = logo.resize(size, Image.Resampling.LANCZOS)
    alpha = logo.getchannel("A")
    # Level 1: logos are flat artwork, within a few kB of level 6 at a third of the time.
    rgb = zlib.compress(logo.convert("RGB").tobytes(), 1)
    if alpha.getextrema() == (255, 255):
        return LogoImage(size[0], size[1], rgb, None)
    return LogoImage(size[0], size[1], rgb, zlib.compress(alpha.tobytes(), 1))


def place_logo(logo_width: int, logo_height: int, zone: Zone) -> LogoPlacement:
    """Fit a ``logo_width`` x ``logo_height`` logo in the zone: aspect kept, aligned."""
    scale = min(zone.width / logo_width, zone.height / logo_height)
    limited = scale > MAX_UPSCALE
    scale = min(scale, MAX_UPSCALE)
    width, height = logo_width * scale, logo_height * scale
    x = {"left": zone.x, "center": zone.x + (zone.width - width) / 2,
         "right": zone.x + zone.width - width}[zone.align]
    y = {"top": zone.y, "middle": zone.y + (zone.height - height) / 2,
         "bottom": zone.y + zone.height - height}[zone.valign]
    return LogoPlacement(x, y, width, height, limited)


def logo_warnings(zones: Sequence[Zone], logo: bytes | None) -> list[tuple[int, str]]:
    """(zone index, message) for what the marketer should know about this logo here."""
    logo_zones = [(i, z) for i, z in enumerate(zones) if z.kind == "logo"]
    if not logo_zones:
        return []
    first = logo_zones[0][0]
    if logo is None:
        return [(first, "This partner has no logo yet; logo zones stay empty.")]
    image = prepare_logo(logo)
    if image is None:
        return [(first, "This partner's logo is fully transparent; logo zones stay empty.")]
    out = []
    for index, zone in logo_zones:
        placed = place_logo(image.width, image.height, zone)
        if placed.limited:
            out.append((index, f"Zone {index + 1}: the logo is small ({image.width}×"
                               f"{image.height} px) and was enlarged only {MAX_UPSCALE:g}×, so "
                               "it does not fill the zone. Ask the partner for a larger logo."))
    return out
