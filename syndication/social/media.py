"""Images made to fit what each network accepts, before they are uploaded.

A partner's co-branded image can be any size the vendor uploaded; each network refuses
images over its limits (X: 5 MB; Facebook Page photos: 4 MB; LinkedIn: 36,152,320 pixels).
``fit`` decodes the image (refusing decompression bombs and broken files with a message the
partner can act on), turns it upright as its EXIF orientation says, drops the metadata
(camera, place, time: nothing a partner meant to publish), and encodes it as PNG when it
has transparency or came as a PNG that fits, otherwise as JPEG, shrinking it and lowering
the JPEG quality until it fits.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from syndication.social.models import Network
from syndication.social.publishers import PostRejected

#: More pixels than this is a print file or a decompression bomb, not a social image.
MAX_SOURCE_PIXELS = 50_000_000
#: Below this the image would be useless on any network: refuse instead of shrinking more.
MIN_SIDE = 200
#: JPEG qualities tried in turn before the image is made smaller.
QUALITIES = (90, 82, 74, 66, 58)

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one network accepts: bytes, the longest side, pixels in all."""

    max_bytes: int
    max_side: int
    max_pixels: int


#: The networks' documented limits, with sides chosen so photos stay sharp where they are
#: shown (X shows up to 4096 px, Facebook 2048 px) without wasting bytes.
LIMITS = {
    Network.X: Limits(5 * MB, 4096, 4096 * 4096),
    Network.LINKEDIN: Limits(8 * MB, 7680, 36_152_320),
    Network.FACEBOOK: Limits(4 * MB, 2048, 2048 * 2048),
}


def fit(image: bytes, network: Network) -> tuple[bytes, str]:
    """``image`` re-encoded within ``network``'s limits: (bytes, MIME type). Raises
    ``PostRejected(reason="media")`` for an image that cannot be read or is far too large."""
    limits = LIMITS[network]
    picture, source_format = _open(image, network)
    picture = _upright_without_metadata(picture)
    transparent = _has_transparency(picture)
    picture = picture.convert("RGBA" if transparent else
                              "L" if picture.mode in ("L", "1") else "RGB")
    picture = _within(picture, limits.max_side, limits.max_pixels)
    if transparent or source_format == "PNG":
        while True:
            data = _encode(picture, "PNG")
            if len(data) <= limits.max_bytes:
                return data, "image/png"
            if not transparent:
                break  # a photo saved as PNG: JPEG is the way to make it fit
            picture = _smaller(picture, network)
    while True:
        for quality in QUALITIES:
            data = _encode(picture, "JPEG", quality=quality)
            if len(data) <= limits.max_bytes:
                return data, "image/jpeg"
        picture = _smaller(picture, network)


def _refuse(message: str) -> PostRejected:
    return PostRejected(message, reason="media")


def _open(data: bytes, network: Network) -> tuple[Image.Image, str | None]:
    """The decoded image and its format, or ``PostRejected`` saying why not."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice that: refuse both, from the
            # header, before decoding a single pixel.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data))
            if picture.width * picture.height > MAX_SOURCE_PIXELS:
                raise Image.DecompressionBombError("too many pixels")
            picture.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise _refuse("The image has far too many pixels to publish; use a smaller version "
                      "of it.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error,
            EOFError, IndexError) as exc:
        what = "is incomplete" if "truncated" in str(exc).lower() or isinstance(
            exc, EOFError) else "cannot be read as an image"
        raise _refuse(f"The post's image {what}, so it cannot go to {network.label}; replace "
                      "it with a JPEG or PNG file.") from None
    return picture, picture.format


def _upright_without_metadata(picture: Image.Image) -> Image.Image:
    """The pixels as a person sees them (EXIF orientation applied), with no EXIF, XMP or
    comments left to publish; the colour profile stays so colours do not shift."""
    # A CMYK profile would be wrong once the pixels are RGB.
    icc = picture.info.get("icc_profile") if picture.mode != "CMYK" else None
    transparency = picture.info.get("transparency")
    upright = ImageOps.exif_transpose(picture) or picture
    clean = upright.copy()
    clean.info = {}
    if icc:
        clean.info["icc_profile"] = icc
    if transparency is not None and clean.mode in ("P", "L", "RGB"):
        clean.info["transparency"] = transparency
    return clean


def _has_transparency(picture: Image.Image) -> bool:
    """Whether any pixel is see-through (an alpha channel that is all opaque is not)."""
    if picture.mode in ("P", "L", "RGB") and "transparency" in picture.info:
        picture = picture.convert("RGBA")
    if picture.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        low, _ = picture.getchannel("A").getextrema()
        return low < 255
    return False


def _within(picture: Image.Image, max_side: int, max_pixels: int) -> Image.Image:
    """Scaled down (never up) so its longest side and pixel count are within the limits."""
    width, height = picture.size
    scale = min(1.0, max_side / max(width, height), (max_pixels / (width * height)) ** 0.5)
    if scale >= 1.0:
        return picture
    size = (max(1, int(width * scale)), max(1, int(height * scale)))
    return picture.resize(size, Image.Resampling.LANCZOS)


def _smaller(picture: Image.Image, network: Network) -> Image.Image:
    """Three quarters of the size, unless that would leave too little to see."""
    if min(picture.size) * 3 // 4 < MIN_SIDE:
        raise _refuse(f"The post's image cannot be made small enough for {network.label}; "
                      "replace it with a simpler or smaller image.")
    size = (picture.width * 3 // 4, picture.height * 3 // 4)
    return picture.resize(size, Image.Resampling.LANCZOS)


def _encode(picture: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    icc = picture.info.get("icc_profile")
    if icc:
        options["icc_profile"] = icc
    if fmt == "JPEG":
        options.update(optimize=True, progressive=True)
    else:
        options.update(optimize=True)
    picture.save(out, fmt, **options)
    return out.getvalue()
