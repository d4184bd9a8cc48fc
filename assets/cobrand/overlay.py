"""A partner's overlay for PDF pages: built once as plain bytes, written into each output.

The overlay of a layout (a page size and its zones) for one brand is a content stream, the
font subsets its text needs and the logo's pixels. It is built here without ReportLab's
document machinery: drawing the same few lines with a ReportLab canvas cost ~3 ms per partner,
almost all of it spent serialising a whole PDF around them (fonts included) only for pikepdf
to parse it back, where subsetting the font itself takes ~0.1 ms. Text is laid out by the same
fitting code as before and drawn with the bundled DejaVu fonts, embedded as TrueType subsets
(ReportLab's subsetter, its widths and its ToUnicode map, so text stays selectable and
searchable).

Everything built here is immutable bytes, so it is cached across outputs in byte-bounded
in-process LRUs: a partner's logo pixels per (logo, size), font subsets per set of scripts
(shared by partners, see ``_Encoder``), and whole overlays per (layouts, brand), which a
partner's next asset with the same zones, or the next version of an asset, reuses. A logo
this worker has not seen yet is read from the artefacts prepared when it was uploaded
(``prepared``), and decoded and deflated here only when there are none.
``forget_partners`` and ``clear_caches`` empty them, for benchmarks of a partner's first
render.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pikepdf

from assets.cobrand import qrcode
from assets.cobrand.logo import (
    LOGO_DPI,
    LogoImage,
    NotPrepared,
    embed_size,
    encode_for_pdf,
    forget_trimmed_logos,
    place_logo,
    prepare_logo,
)
from assets.cobrand.prepared import PreparedLogo
from assets.cobrand.text import (
    _unit_width,
    fit_text,
    line_positions,
    measure_for,
    pdf_font,
    render_template,
)
from assets.cobrand.zones import Zone

__all__ = ["LOGO_DPI", "FontSubset", "Layout", "LogoImage", "Overlay", "PageOverlay",
           "build_overlay", "clear_caches", "forget_partners", "layout_key", "write_overlay"]

FONT_PREFIX = "TcmaF"
LOGO_PREFIX = "TcmaLogo"


@dataclass(frozen=True)
class Layout:
    """Zones of one page and the page's visible size: pages sharing it share one overlay."""

    width: float
    height: float
    zones: tuple[Zone, ...]

    @functools.cached_property
    def key(self) -> tuple:
        """What the overlay depends on: the size and the zones, whatever page they are on."""
        return layout_key(self.width, self.height, self.zones)


def layout_key(width: float, height: float, zones: Iterable[Zone]) -> tuple:
    """``Layout(width, height, zones).key``, without making the layout."""
    return (round(width, 3), round(height, 3), tuple(map(_without_page, zones)))


def _without_page(zone: Zone) -> tuple:
    return tuple(zone.__dict__.values())[1:]  # ``page`` is Zone's first field


@dataclass(frozen=True)
class FontSubset:
    """One embedded TrueType subset: character code i draws Unicode ``codes[i]``."""

    base_font: str
    codes: tuple[int, ...]
    file: bytes  # the font program, deflated
    length1: int
    font_dict: bytes  # PDF source of the font dictionary, without its references
    descriptor: bytes  # PDF source of its descriptor, without the font program
    to_unicode: bytes  # deflated


@dataclass(frozen=True)
class PageOverlay:
    """The overlay of one layout: display space, points, origin bottom-left."""

    width: float
    height: float
    content: bytes
    fonts: tuple[int, ...]  # indexes into ``Overlay.fonts``, named TcmaF<index>
    logos: tuple[LogoImage, ...]  # named TcmaLogo<index>


@dataclass(frozen=True)
class Overlay:
    pages: tuple[PageOverlay, ...]
    fonts: tuple[FontSubset, ...]

    def weight(self) -> int:
        """Bytes held, for the cache's bound (logos and subsets shared with their own caches
        are counted again: they stay alive as long as an overlay holds them)."""
        return (sum(len(p.content) + sum(len(i.rgb) + len(i.alpha or b"") for i in p.logos)
                    for p in self.pages)
                + sum(len(f.file) + len(f.to_unicode) for f in self.fonts) + 512)


class _Lru:
    """A thread-safe LRU bounded by the bytes its values hold (worker threads share it)."""

    def __init__(self, max_bytes: int, weigh: Callable[[Any], int]):
        self.max_bytes = max_bytes
        self.weigh = weigh
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit[0]
        value = make()  # outside the lock: two threads may build the same value, both right
        weight = self.weigh(value)
        if weight > self.max_bytes // 4:
            return value  # one huge logo must not flush everybody else's
        with self._lock:
            if key not in self._items:
                self._items[key] = (value, weight)
                self._bytes += weight
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


_logos = _Lru(64 << 20, lambda v: len(v.rgb) + len(v.alpha or b"") + 128)
_plans = _Lru(16 << 20, lambda v: v.weight())
_overlays = _Lru(32 << 20, Overlay.weight)
_logo_sizes = _Lru(1 << 20, lambda v: 64)


def forget_partners(*, logos: bool = True) -> None:
    """Forget every partner's overlays and text widths, and their logos unless ``logos`` is
    False: the next stamp for anyone is then that partner's first on this worker (or, with
    logos kept, their first of this asset). Font subsets shared by partners stay, as they do
    in a worker that has been running."""
    _overlays.clear()
    _unit_width.cache_clear()
    if logos:
        _logos.clear()
        _logo_sizes.clear()
        forget_trimmed_logos()


def clear_caches() -> None:
    """Forget everything cached, font subsets included, as a freshly started worker has."""
    forget_partners()
    _plans.clear()


def build_overlay(layouts: Sequence[Layout], values: Mapping[str, str | None],
                  logo: bytes | None, prepared: PreparedLogo | None = None) -> Overlay:
    """The overlays of ``layouts`` for one brand (token values and logo), from the cache when
    this brand was drawn on these layouts before. ``prepared``: the logo's artefacts prepared
    at upload, read instead of decoding the logo when this worker has not seen it yet."""
    # Keys stay small; logos need not. The prepared artefacts' reader hashes it too: once.
    if not logo:
        sha = None
    elif prepared is not None and prepared.logo is logo:
        sha = bytes.fromhex(prepared.sha)
    else:
        sha = hashlib.sha256(logo).digest()
    key = (tuple(layout.key for layout in layouts),
           tuple(sorted((k, v) for k, v in values.items())), sha)
    return _overlays.get(key, lambda: _build(layouts, values, logo, sha, prepared))


def _build(layouts: Sequence[Layout], values: Mapping[str, str | None],
           logo_data: bytes | None, sha: bytes | None,
           prepared: PreparedLogo | None) -> Overlay:
    wants_logo = any(z.kind == "logo" for layout in layouts for z in layout.zones)
    logo = (_Logo.of(logo_data, sha, prepared) if logo_data and sha and wants_logo
            else None)
    # First lay out every text zone, noting the characters drawn with each font, so each
    # font gets one subset for the whole document; then write the operators.
    # A zone repeated on several layouts (a footer on pages of two sizes) is laid out once.
    laid: list[list[tuple[Zone, float, list[tuple[str, float, float]]]]] = []
    chars: dict[str, set[str]] = {}
    rendered: dict[str, str] = {}
    fitted: dict[tuple, tuple[float, list[tuple[str, float, float]]]] = {}
    for layout in layouts:
        texts = []
        for zone in layout.zones:
            if zone.kind != "text":
                continue
            text = rendered.get(zone.template)
            if text is None:
                text = rendered[zone.template] = render_template(zone.template, values)
            if not text:
                continue
            key = _without_page(zone)
            if key not in fitted:
                measure = measure_for(zone.font)
                fit = fit_text(text, zone.width, zone.height, zone.size, zone.min_size,
                               measure)
                lines = line_positions(fit, zone.box, zone.align, zone.valign, measure)
                chars.setdefault(zone.font, set()).update(*(line for line, _, _ in lines))
                fitted[key] = (fit.size, lines)
            size, lines = fitted[key]
            texts.append((zone, size, lines))
        laid.append(texts)
    subsets: list[FontSubset] = []
    encoders = {}
    for font in sorted(chars):
        encoders[font] = _Encoder(font, chars[font], first=len(subsets))
        subsets.extend(encoders[font].subsets)

    pages = []
    drawn: dict[tuple, tuple[list[bytes], set[int]]] = {}  # (zone, page height) -> its ops
    for layout, texts in zip(layouts, laid, strict=True):
        ops: list[bytes] = []
        used: set[int] = set()
        logos: list[LogoImage] = []
        text_of = {id(zone): (size, lines) for zone, size, lines in texts}
        for zone in layout.zones:
            if zone.kind == "text" and id(zone) in text_of:
                key = (_without_page(zone), layout.height)
                if key not in drawn:
                    size, lines = text_of[id(zone)]
                    zone_used: set[int] = set()
                    drawn[key] = (_text_ops(zone, layout.height, size, lines,
                                            encoders[zone.font], zone_used), zone_used)
                zone_ops, zone_used = drawn[key]
                ops.extend(zone_ops)
                used |= zone_used
            elif zone.kind == "logo" and logo is not None and logo.size is not None:
                placed = place_logo(*logo.size, zone)
                image = logo.image(embed_size(logo.size, placed.width, placed.height))
                bottom = layout.height - placed.y - placed.height
                ops.append(b"q %s 0 0 %s %s %s cm /%s%d Do Q" % (
                    _num(placed.width), _num(placed.height), _num(placed.x), _num(bottom),
                    LOGO_PREFIX.encode(), len(logos)))
                logos.append(image)
            elif zone.kind == "qr":
                ops.append(qrcode.pdf_ops(zone, layout.height, values))
        pages.append(PageOverlay(layout.width, layout.height, b"\n".join(ops),
                                 tuple(sorted(used)), tuple(logos)))
    return Overlay(tuple(pages), tuple(subsets))


def write_overlay(pdf: pikepdf.Pdf, overlay: Overlay) -> list[pikepdf.Object]:
    """One form XObject in ``pdf`` per page overlay; fonts and images shared between them."""
    fonts: dict[int, pikepdf.Object] = {}
    images: dict[int, pikepdf.Object] = {}
    forms = []
    for page in overlay.pages:
        # The form's dictionary is written as PDF source and filled while it is still direct:
        # pikepdf checks every object joining the file, and a whole dictionary set once costs
        # less than its keys set one by one.
        form_dict = pikepdf.Object.parse(
            b"<< /Type /XObject /Subtype /Form /BBox [0 0 %s %s] "
            b"/Resources << /Font << >> /XObject << >> >> >>"
            % (_num(page.width), _num(page.height)))
        resources = form_dict.get("/Resources")
        font_dict = resources.get("/Font")
        for index in page.fonts:
            if index not in fonts:
                fonts[index] = _font_object(pdf, overlay.fonts[index])
            font_dict[f"/{FONT_PREFIX}{index}"] = fonts[index]
        xobjects = resources.get("/XObject")
        for number, image in enumerate(page.logos):
            if id(image) not in images:
                images[id(image)] = _image_object(pdf, image)
            xobjects[f"/{LOGO_PREFIX}{number}"] = images[id(image)]
        forms.append(_stream(pdf, page.content, form_dict))
    return forms


def _stream(pdf: pikepdf.Pdf, data: bytes, dictionary: pikepdf.Object | bytes
            ) -> pikepdf.Stream:
    """A new stream of ``pdf`` holding ``data`` as it is, with this dictionary (or its PDF
    source): ``pikepdf.Stream(pdf, data, dictionary)`` without the copy of the dictionary it
    makes first (a quarter of its time)."""
    stream = pikepdf.Stream(pdf, data)
    stream.stream_dict = (pikepdf.Object.parse(dictionary) if isinstance(dictionary, bytes)
                          else dictionary)
    return stream


def _attach(pdf: pikepdf.Pdf, obj: pikepdf.Object) -> pikepdf.Object:
    """``pdf.make_indirect(obj)`` for a direct object built here (so free of cycles and of
    other files' objects), without the check pikepdf makes of every object joining a file,
    element by element, which costs more than parsing them: 0.1 ms for a font's /Widths
    array, per copy. (Setting a key of an object of the file checks the value the same way:
    values set here are small.)"""
    replace = getattr(pdf, "_replace_object", None)
    if replace is None:  # a pikepdf without it: the checked way
        return pdf.make_indirect(obj)
    placeholder = pdf.make_indirect(pikepdf.Dictionary())
    replace(placeholder.objgen, obj)
    return placeholder


# --- text ------------------------------------------------------------------------------------

def _text_ops(zone: Zone, page_height: float, size: float,
              lines: Iterable[tuple[str, float, float]], encoder: _Encoder,
              used: set[int]) -> list[bytes]:
    """Operators drawing a fitted text zone, clipped to its box as the preview promises."""
    r, g, b = (int(zone.color[i:i + 2], 16) / 255 for i in (1, 3, 5))
    ops = [b"q %s %s %s %s re W n" % (_num(zone.x), _num(page_height - zone.y - zone.height),
                                      _num(zone.width), _num(zone.height)),
           b"%s %s %s rg" % (_num(r), _num(g), _num(b)), b"BT"]
    prefix, size_op = FONT_PREFIX.encode(), _num(size)
    for line, x, baseline in lines:
        ops.append(b"1 0 0 1 %s %s Tm" % (_num(x), _num(page_height - baseline)))
        for subset, codes in encoder.encode(line):
            used.add(subset)
            ops.append(b"/%s%d %s Tf <%s> Tj" % (prefix, subset, size_op, codes.hex().encode()))
    ops += [b"ET", b"Q"]
    return ops


class _Encoder:
    """Character codes of one font in one document.

    The font is embedded with all of ASCII and Latin-1 as soon as the text uses them (~190
    glyphs, ~28 kB deflated where exactly the characters used take ~15 kB) plus exactly the
    other characters drawn (a dash, the euro sign, Polish letters...), so partners writing
    in the same scripts share one subset, built once per worker instead of once per partner.
    Subsets hold up to 255 characters; code 0 is the font's "missing glyph".
    """

    def __init__(self, font: str, chars: set[str], *, first: int):
        glyphs = _face(font).charToGlyph
        drawn = {" " if c == "\u00a0" else c for c in chars
                 if ord(c) in glyphs or c == "\u00a0"}
        blocks = tuple(sorted({ord(c) >> 7 for c in drawn if ord(c) < 256}))
        others = tuple(sorted(ord(c) for c in drawn if ord(c) >= 256))
        plan = _plans.get((font, blocks, others), lambda: _plan(font, blocks, others))
        self.subsets = list(plan.subsets)
        self.first = first
        # The plan's codes are those of a font embedded first (the only one, usually).
        self.codes = plan.codes if first == 0 else {
            char: (first + index, code) for char, (index, code) in plan.codes.items()}
        # One subset (every partner writing in Latin scripts) encodes with one str.translate:
        # the plan's table, with the missing glyph for the characters the font cannot draw.
        self.table = plan.table
        if plan.table is not None:
            missing = {ord(c): "\x00" for c in chars if c not in plan.codes}
            if missing:
                self.table = {**plan.table, **missing}

    def encode(self, line: str) -> list[tuple[int, bytes]]:
        """(subset index, codes) runs drawing ``line``; undrawable characters show the
        missing glyph, as measuring assumed."""
        if self.table is not None:
            return [(self.first, line.translate(self.table).encode("latin-1"))]
        runs: list[tuple[int, bytearray]] = []
        for char in line:
            subset, code = self.codes.get(char, (self.first, 0))
            if not runs or runs[-1][0] != subset:
                runs.append((subset, bytearray()))
            runs[-1][1].append(code)
        return [(subset, bytes(codes)) for subset, codes in runs]


@dataclass(frozen=True)
class _Plan:
    """The subsets covering some characters of one font, and each character's code."""

    subsets: tuple[FontSubset, ...]
    codes: Mapping[str, tuple[int, int]]  # character -> (subset index, code)
    #: for ``str.translate`` when there is one subset: code point -> its code as a character
    table: Mapping[int, str] | None

    def weight(self) -> int:
        return sum(len(f.file) + len(f.to_unicode) + len(f.font_dict) for f in self.subsets)


def _plan(font: str, blocks: tuple[int, ...], others: tuple[int, ...]) -> _Plan:
    glyphs = _face(font).charToGlyph
    covered = [cp for block in blocks for cp in range(block << 7, (block + 1) << 7)
               if cp in glyphs and cp >= 32 and not 0x7F <= cp < 0xA0]
    covered += others
    codes: dict[str, tuple[int, int]] = {}
    subsets = []
    for start in range(0, max(len(covered), 1), 255):
        chunk = covered[start:start + 255]
        for code, cp in enumerate(chunk, start=1):
            codes[chr(cp)] = (len(subsets), code)
        subsets.append(_make_subset(font, (0, *chunk)))
    codes["\u00a0"] = codes.get(" ", (0, 0))  # drawn as a space: measured as one
    table = ({ord(char): chr(code) for char, (_, code) in codes.items()}
             if len(subsets) == 1 else None)
    return _Plan(tuple(subsets), codes, table)


@functools.cache
def _face(font: str):
    from reportlab.pdfbase import pdfmetrics

    return pdfmetrics.getFont(pdf_font(font)).face


#: ReportLab's font reader keeps a file position on the (shared) face: one subset at a time.
_SUBSETTING = threading.Lock()


def _make_subset(font: str, codes: tuple[int, ...]) -> FontSubset:
    """A TrueType subset of a bundled font where code i draws Unicode ``codes[i]``."""
    from reportlab.pdfbase.ttfonts import FF_NONSYMBOLIC, FF_SYMBOLIC, makeToUnicodeCMap

    face = _face(font)
    digest = hashlib.sha256(repr((font, codes)).encode()).digest()
    tag = "".join(chr(65 + b % 26) for b in digest[:6])  # the subset tag PDF asks for
    base_font = f"{tag}+{face.name.decode('latin-1')}"
    with _SUBSETTING:
        program = face.makeSubset(list(codes))
    flags = (face.flags & ~FF_NONSYMBOLIC) | FF_SYMBOLIC
    # The dictionaries are kept as PDF source: pikepdf parses that faster than it converts
    # Python floats, and each output needs its own copy.
    descriptor = (
        f"<< /Type /FontDescriptor /FontName /{base_font} /Flags {flags} "
        f"/FontBBox [{' '.join(_num(v).decode() for v in face.bbox)}] "
        f"/ItalicAngle {_num(face.italicAngle).decode()} /Ascent {_num(face.ascent).decode()} "
        f"/Descent {_num(face.descent).decode()} /CapHeight {_num(face.capHeight).decode()} "
        f"/StemV {_num(face.stemV).decode()} /MissingWidth {_num(face.defaultWidth).decode()} >>"
    ).encode()
    widths = " ".join(_num(face.getCharWidth(c)).decode() for c in codes)
    font_dict = (f"<< /Type /Font /Subtype /TrueType /BaseFont /{base_font} /FirstChar 0 "
                 f"/LastChar {len(codes) - 1} /Widths [{widths}] >>").encode()
    # Level 1: within 5% of level 6 on a font program, at a third of the time.
    return FontSubset(base_font=base_font, codes=codes, file=zlib.compress(program, 1),
                      length1=len(program), font_dict=font_dict, descriptor=descriptor,
                      to_unicode=zlib.compress(makeToUnicodeCMap(base_font, list(codes))
                                               .encode("latin-1"), 1))


def _font_object(pdf: pikepdf.Pdf, subset: FontSubset) -> pikepdf.Object:
    program = _stream(pdf, subset.file,
                      b"<< /Filter /FlateDecode /Length1 %d >>" % subset.length1)
    to_unicode = _stream(pdf, subset.to_unicode, b"<< /Filter /FlateDecode >>")
    descriptor = pikepdf.Object.parse(subset.descriptor)
    descriptor["/FontFile2"] = program
    font = pikepdf.Object.parse(subset.font_dict)
    font["/ToUnicode"] = to_unicode
    font["/FontDescriptor"] = _attach(pdf, descriptor)
    return _attach(pdf, font)


# --- numbers ---------------------------------------------------------------------------------

def _num(value: float) -> bytes:
    if type(value) is int:  # zones are mostly drawn in whole units
        return b"%d" % value
    return (b"%.4f" % value).rstrip(b"0").rstrip(b".") or b"0"


# --- logos ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Logo:
    """A partner logo as stamping sees it: its size once trimmed (None: fully transparent)
    and its pixels at the sizes zones ask for, both cached per logo, so a partner's logo is
    prepared once per worker and not once per asset: read from the artefacts prepared at
    upload when there are some (``prepared``), else decoded and deflated here."""

    data: bytes
    sha: bytes
    size: tuple[int, int] | None
    prepared: PreparedLogo | None

    @classmethod
    def of(cls, data: bytes, sha: bytes, prepared: PreparedLogo | None) -> _Logo:
        return cls(data, sha, _logo_sizes.get(sha, lambda: _trimmed_size(data, prepared)),
                   prepared)

    def image(self, size: tuple[int, int]) -> LogoImage:
        return _logos.get((self.sha, size), lambda: _encode_logo(self.data, size,
                                                                 self.prepared))


def _trimmed_size(data: bytes, prepared: PreparedLogo | None) -> tuple[int, int] | None:
    if prepared is not None:
        try:
            return prepared.trimmed_size()
        except NotPrepared:
            pass
    logo = prepare_logo(data, prepared)
    return None if logo is None else logo.size


def _encode_logo(data: bytes, size: tuple[int, int], prepared: PreparedLogo | None
                 ) -> LogoImage:
    if prepared is not None:
        try:
            return prepared.pdf_image(size)
        except NotPrepared:
            pass  # a size nobody prepared (a zone drawn since), or no artefacts at all
    logo = prepare_logo(data, prepared)
    assert logo is not None  # a fully transparent logo has no size to ask for
    return encode_for_pdf(logo, size)


def _image_object(pdf: pikepdf.Pdf, image: LogoImage) -> pikepdf.Object:
    # Stream data is handed over deflated, as stored: the dictionaries say so.
    stream = _stream(pdf, image.rgb, b"<< /Type /XObject /Subtype /Image /Width %d /Height %d "
                     b"/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /FlateDecode >>"
                     % (image.width, image.height))
    if image.alpha is not None:
        stream["/SMask"] = _stream(pdf, image.alpha, b"<< /Type /XObject /Subtype /Image "
                                   b"/Width %d /Height %d /ColorSpace /DeviceGray "
                                   b"/BitsPerComponent 8 /Filter /FlateDecode >>"
                                   % (image.width, image.height))
    return stream
