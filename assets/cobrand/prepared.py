"""Partner logos prepared once, when uploaded, instead of at each partner's first copy.

A partner's first copy on a worker used to start with their logo: decoding the PNG (~1.2 ms
for a small logo, more for a 2000 px one), trimming it, and deflating its pixels for the PDF
(~0.5 ms; plus ~10 ms of LANCZOS resampling when the zone needs fewer pixels than the logo
has). All of it depends on the logo alone (and on the zone's box), so it is done once, when
the logo is uploaded (``assets.logos`` queues ``prepare_partner_logo``), and kept beside it as
two artefacts, named here and stored wherever the caller keeps files:

- ``pdf.bin``: everything PDF stamping needs, in one read: the logo's trimmed size (none:
  fully transparent) and its image XObject stream (RGB) and soft mask (alpha), deflated,
  exactly as ``overlay`` embeds them, at the logo's own size and at the sizes the logo zones
  of the partner's library show it at; copied into each output as they are. Written last;
- ``rgba.bin``: the trimmed pixels, RGBA, deflated (inflating them is ~8x faster than decoding
  the PNG; none: fully transparent): for images, and for PDF sizes nobody prepared (a zone
  drawn since).

Each starts with a JSON header line naming the logo (its sha256) and the CRC-32 of each part.
An artefact that is absent, unreadable, for another logo or failing its check counts as not
prepared (``NotPrepared``) and the stamper prepares the logo itself as before, from the same
code: a copy's bytes never depend on whether the preparing job has run.

``RECIPE`` numbers how artefacts are made; raise it when trimming, resampling or deflating
changes, and artefacts of the old recipe are no longer looked for.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from PIL import Image

from assets.cobrand.logo import (
    LogoImage,
    NotPrepared,
    embed_size,
    encode_for_pdf,
    place_logo,
    trim_logo,
)
from assets.cobrand.zones import Zone

__all__ = ["PDF", "PIXELS", "RECIPE", "NotPrepared", "PreparedLogo", "missing_artefacts",
           "pdf_sizes"]

log = logging.getLogger(__name__)

RECIPE = 1
#: PDF sizes prepared per logo at most: one per distinct logo box in the partner's library is
#: usually two or three; past this, rarer boxes are prepared on the fly.
MAX_PDF_SIZES = 12
PDF = "pdf.bin"
PIXELS = "rgba.bin"

#: Reads one artefact: (sha256 of the logo, hex; artefact name) -> its bytes, None if absent.
Reader = Callable[[str, str], "bytes | None"]


def pdf_sizes(trimmed: tuple[int, int], zones: Iterable[Zone]) -> set[tuple[int, int]]:
    """The pixel sizes PDF stamping embeds a logo of this trimmed size at: its own size
    (used by any zone wider than the logo's print size) and those these logo zones need."""
    sizes = {trimmed}
    for zone in zones:
        if zone.kind == "logo":
            placed = place_logo(*trimmed, zone)
            sizes.add(embed_size(trimmed, placed.width, placed.height))
    return sizes


def missing_artefacts(logo: bytes, zones: Iterable[Zone] = (),
                      existing: PreparedLogo | None = None) -> dict[str, bytes]:
    """The artefacts of ``logo`` to store for these logo zones, given what ``existing`` has,
    name -> bytes, in the order to store them (``pdf.bin`` last); empty when nothing lacks.

    Raises ValidationFailed if the logo cannot be decoded (it was checked at upload: that
    is a damaged file, and preparing it again will not help).
    """
    known, trimmed, have = False, None, {}
    if existing is not None:
        try:
            trimmed, have, known = existing.trimmed_size(), existing.pdf_images(), True
        except NotPrepared:
            pass
    pixels = existing is not None and existing.has_pixels()
    if known and pixels and (trimmed is None or pdf_sizes(trimmed, zones) <= have.keys()
                             or len(have) >= MAX_PDF_SIZES):
        return {}  # fully transparent (nothing is ever drawn), or nothing missing
    sha = hashlib.sha256(logo).hexdigest()
    image = trim_logo(logo)
    out: dict[str, bytes] = {}
    if image is None:  # fully transparent
        out[PIXELS] = _pack(sha, PIXELS, {"size": None}, [])
        out[PDF] = _pack(sha, PDF, {"trimmed": None}, [])
        return out
    if not pixels:
        out[PIXELS] = _pack(sha, PIXELS, {"size": list(image.size)},
                            [zlib.compress(image.tobytes(), 1)])
    if known and pdf_sizes(image.size, zones) <= have.keys():
        return out  # only the pixels were missing
    images = dict(have)
    # The logo's own size first (any wide zone), then the smaller ones, largest first.
    for size in sorted(pdf_sizes(image.size, zones) - have.keys(),
                       key=lambda s: (s != image.size, -s[0], -s[1])):
        if len(images) >= MAX_PDF_SIZES:
            break
        images[size] = encode_for_pdf(image, size)
    parts, index = [], []
    for size, encoded in images.items():
        index.append({"size": list(size), "alpha": encoded.alpha is not None})
        parts += [encoded.rgb] if encoded.alpha is None else [encoded.rgb, encoded.alpha]
    out[PDF] = _pack(sha, PDF, {"trimmed": list(image.size), "images": index}, parts)
    return out


def _pack(sha: str, name: str, fields: dict[str, Any], parts: list[bytes]) -> bytes:
    header = {"recipe": RECIPE, "logo": sha, "artefact": name, **fields,
              "parts": [[len(p), zlib.crc32(p)] for p in parts]}
    return json.dumps(header).encode() + b"\n" + b"".join(parts)


class PreparedLogo:
    """The artefacts prepared for one logo, read through ``read`` when first needed and kept
    for the life of this object (one copy, or one preview): a stamp reads each at most once.

    Every method raises ``NotPrepared`` when what it needs is not there or not trustworthy.
    """

    def __init__(self, logo: bytes, read: Reader):
        self.logo = logo
        self._read = read
        self._opened: dict[str, tuple[dict[str, Any], list[memoryview]] | None] = {}
        self._images: dict[tuple[int, int], LogoImage] | None = None

    @functools.cached_property
    def sha(self) -> str:
        return hashlib.sha256(self.logo).hexdigest()

    def trimmed_size(self) -> tuple[int, int] | None:
        """The logo's size once its transparent padding is trimmed; None: fully transparent."""
        trimmed = self._open(PDF)[0]["trimmed"]
        return None if trimmed is None else (trimmed[0], trimmed[1])

    def pdf_images(self) -> dict[tuple[int, int], LogoImage]:
        """The logo as a PDF embeds it, at every size prepared."""
        if self._images is None:
            header, parts = self._open(PDF)
            images, at = {}, 0
            for entry in header.get("images", ()):
                size = (entry["size"][0], entry["size"][1])
                alpha = bytes(parts[at + 1]) if entry["alpha"] else None
                images[size] = LogoImage(size[0], size[1], bytes(parts[at]), alpha)
                at += 2 if entry["alpha"] else 1
            self._images = images
        return self._images

    def pdf_image(self, size: tuple[int, int]) -> LogoImage:
        """The logo as a PDF embeds it at ``size`` pixels."""
        image = self.pdf_images().get(size)
        if image is None:
            raise NotPrepared(PDF)
        return image

    def has_pixels(self) -> bool:
        """Are the trimmed pixels there, intact (checked without inflating them)?"""
        try:
            self._open(PIXELS)
        except NotPrepared:
            return False
        return True

    def pixels(self) -> Image.Image | None:
        """The trimmed logo, RGBA (None: fully transparent)."""
        header, parts = self._open(PIXELS)
        if header["size"] is None:
            return None
        size = (header["size"][0], header["size"][1])
        try:
            raw = zlib.decompress(parts[0])
        except zlib.error as exc:
            raise self._damaged(PIXELS, str(exc)) from exc
        if len(raw) != size[0] * size[1] * 4:
            raise self._damaged(PIXELS, "wrong number of pixels")
        return Image.frombytes("RGBA", size, raw)

    def _open(self, name: str) -> tuple[dict[str, Any], list[memoryview]]:
        """The artefact's checked header and parts, read once."""
        if name not in self._opened:
            try:
                self._opened[name] = self._parse(name)
            except NotPrepared:
                self._opened[name] = None
                raise
        opened = self._opened[name]
        if opened is None:
            raise NotPrepared(name)
        return opened

    def _parse(self, name: str) -> tuple[dict[str, Any], list[memoryview]]:
        data = self._read(self.sha, name)
        if data is None:
            raise NotPrepared(name)
        end = data.find(b"\n", 0, 1 << 16)
        try:
            header = json.loads(data[:end]) if end > 0 else None
        except ValueError:
            header = None
        if not _valid_header(header, name, self.sha):
            raise self._damaged(name, "unexpected header")
        body, parts, at = memoryview(data)[end + 1:], [], 0
        for length, crc in header["parts"]:
            part = body[at:at + length]
            if len(part) != length or zlib.crc32(part) != crc:
                raise self._damaged(name, "content does not match its header")
            parts.append(part)
            at += length
        if at != len(body):
            raise self._damaged(name, "content does not match its header")
        return header, parts

    def _damaged(self, name: str, why: str) -> NotPrepared:
        log.warning("prepared logo %s/%s ignored: %s", self.sha[:12], name, why)
        return NotPrepared(name)


def _valid_header(header: Any, name: str, sha: str) -> bool:
    """Is this the header of artefact ``name`` of this logo, in this recipe, well formed?"""
    if not (isinstance(header, dict) and header.get("recipe") == RECIPE
            and header.get("logo") == sha and header.get("artefact") == name
            and isinstance(header.get("parts"), list)
            and all(isinstance(p, list) and len(p) == 2 and all(_count(v) for v in p)
                    for p in header["parts"])):
        return False
    if name == PIXELS:
        if header.get("size") is None:
            return header["parts"] == []
        return _size(header["size"]) and len(header["parts"]) == 1
    if header.get("trimmed") is None:
        return header["parts"] == []
    images = header.get("images")
    return (_size(header["trimmed"]) and isinstance(images, list)
            and all(isinstance(i, dict) and _size(i.get("size"))
                    and isinstance(i.get("alpha"), bool) for i in images)
            and sum(2 if i["alpha"] else 1 for i in images) == len(header["parts"]))


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _size(value: Any) -> bool:
    """[width, height] of positive ints."""
    return (isinstance(value, list) and len(value) == 2
            and all(_count(v) and v > 0 for v in value))
