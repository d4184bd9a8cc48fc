"""Partner text: token templates rendered in a sandbox, and fitting text into a zone.

Templates are written by vendor marketers but filled with values partners typed, so they are
rendered by Jinja's sandbox with a deliberately tiny language: ``{{ partner.<field> }}`` tokens,
a few string filters and ``{% if %}``. Anything else is refused when the zone is saved, not
when a partner's download is rendered.

Fitting is shared by the PDF and image outputs and measures with the bundled DejaVu fonts'
own advance widths, so the preview warning, the PDF and the image agree on what fits.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from tcma.errors import FieldError, ValidationFailed

FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"
FONT_FILES = {"sans": FONT_DIR / "DejaVuSans.ttf", "sans-bold": FONT_DIR / "DejaVuSans-Bold.ttf"}
#: ReportLab names for the bundled fonts (registered once per process)
PDF_FONT_NAMES = {"sans": "TcmaDejaVuSans", "sans-bold": "TcmaDejaVuSans-Bold"}

#: the brand-profile fields a template may use, as ``{{ partner.<field> }}``
PARTNER_TOKENS = (
    "display_name", "contact_name", "email", "phone", "website", "address_line1",
    "address_line2", "city", "postal_code", "state", "country", "linkedin_url", "x_handle",
    "facebook_url",
)
#: the built-in "preview as partner" sample: long, accented values that break lazy layouts
SAMPLE_PARTNER: dict[str, str] = {
    "display_name": "Müller-Lüdenscheidt Systemhaus für Informationstechnik GmbH & Co. KG",
    "contact_name": "Maximiliane Castañeda-Øster",
    "email": "maximiliane.castaneda-oster@mueller-luedenscheidt-systemhaus.example",
    "phone": "+49 (0) 7231 123 456-7890",
    "website": "https://www.mueller-luedenscheidt-systemhaus.example/partner/angebote",
    "address_line1": "Große Bahnhofstraße 123–125, Gebäude C",
    "address_line2": "3. Obergeschoss, Empfang Süd",
    "city": "Villingen-Schwenningen",
    "postal_code": "78048",
    "state": "Baden-Württemberg",
    "country": "DE",
    "linkedin_url": "https://www.linkedin.com/company/mueller-luedenscheidt-systemhaus",
    "x_handle": "@MuellerLuedenscheidtIT",
    "facebook_url": "https://www.facebook.com/MuellerLuedenscheidtSystemhaus",
}
SAFE_FILTERS = ("upper", "lower", "title", "capitalize", "trim", "default", "truncate")
MAX_TEMPLATE = 1000  # characters; a zone holds a line or an address, not an essay
MAX_RENDERED = 2000
LINE_SPACING = 1.2  # baseline to baseline, in font sizes
# Vertical metrics of DejaVu Sans (hhea, per em): accents and descenders stay inside the zone.
ASCENT = 1901 / 2048
DESCENT = 483 / 2048


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                               keep_trailing_newline=False)
    env.filters = {name: env.filters[name] for name in SAFE_FILTERS}
    env.tests = {}
    env.globals = {}
    return env


_ENV = _environment()
_ALLOWED_NODES = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Getattr, nodes.Name,
                  nodes.Filter, nodes.Const, nodes.If, nodes.Not, nodes.And, nodes.Or)


def template_problems(template: str) -> list[str]:
    """What is wrong with a zone template, as messages for the marketer (empty when fine)."""
    return list(_template_problems(template))


@functools.lru_cache(maxsize=512)
def _template_problems(template: str) -> tuple[str, ...]:
    if len(template) > MAX_TEMPLATE:
        return (f"Keep the text under {MAX_TEMPLATE} characters.",)
    try:
        tree = _ENV.parse(template)
    except TemplateSyntaxError as exc:
        return (f"Template error on line {exc.lineno}: {(exc.message or '').rstrip('.')}.",)
    problems: list[str] = []
    known = "partner fields are " + ", ".join(PARTNER_TOKENS)
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, _ALLOWED_NODES):
            problems.append(f"Only {{{{ partner.<field> }}}} tokens, the filters "
                            f"{', '.join(SAFE_FILTERS)} and {{% if %}} are allowed "
                            f"(found {type(node).__name__.lower()}).")
        elif isinstance(node, nodes.Getattr):
            if not isinstance(node.node, nodes.Name):
                problems.append("Tokens look like {{ partner.phone }}.")
            elif node.node.name != "partner":
                continue  # reported once, as an unknown name, below
            elif node.attr not in PARTNER_TOKENS:
                problems.append(f"Unknown token {{{{ partner.{node.attr} }}}}; {known}.")
        elif isinstance(node, nodes.Name) and node.name != "partner":
            problems.append(f"Unknown token {{{{ {node.name} }}}}; {known}.")
        elif isinstance(node, nodes.Filter):
            if node.name not in SAFE_FILTERS:
                problems.append(f"Unknown filter {node.name!r}; use one of "
                                f"{', '.join(SAFE_FILTERS)}.")
            if not all(isinstance(arg, nodes.Const) for arg in node.args) or node.kwargs:
                problems.append(f"Filter {node.name!r} takes only plain values.")
    used = {id(n.node) for n in tree.find_all(nodes.Getattr)}
    if any(n.name == "partner" and id(n) not in used for n in tree.find_all(nodes.Name)):
        problems.append("Name a field, e.g. {{ partner.phone }}, not {{ partner }}.")
    return tuple(dict.fromkeys(problems))


@functools.lru_cache(maxsize=256)
def _compiled(template: str):
    return _ENV.from_string(template)


_TOKEN = re.compile(r"\{\{\s*partner\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@functools.lru_cache(maxsize=256)
def _plain(template: str) -> tuple[str, ...] | None:
    """A template that is nothing but text and ``{{ partner.<field> }}`` tokens (most are), as
    text, field, text, field..., text; None for any other (Jinja renders those).

    Filling such a template is substitution: the same text as Jinja's sandbox renders, at a
    tenth of the cost, and nothing runs. Text with a brace (anything Jinja could read as a tag)
    or a carriage return (Jinja turns a lone one into a newline) is left to Jinja.
    """
    parts = tuple(_TOKEN.split(template))
    if any(c in text for text in parts[0::2] for c in "{}\r"):
        return None
    if any(name not in PARTNER_TOKENS for name in parts[1::2]):
        return None
    return parts


def render_template(template: str, values: Mapping[str, str | None], *,
                    field: str = "template") -> str:
    """The zone's text for one partner; empty fields give empty text, blank lines are dropped.

    Dropping blank lines lets one address template serve partners with and without a second
    address line.
    """
    problems = template_problems(template)
    if problems:
        raise ValidationFailed([FieldError(field, m) for m in problems])
    plain = _plain(template)
    if plain is not None:
        text = "".join(part if index % 2 == 0 else _clean(values.get(part))
                       for index, part in enumerate(plain))
    else:
        partner = {name: _clean(values.get(name)) for name in PARTNER_TOKENS}
        try:
            text = _compiled(template).render(partner=partner)
        except (UndefinedError, SecurityError, TypeError, ValueError) as exc:
            raise ValidationFailed([FieldError(field, f"The text could not be filled in: {exc}")]
                                   ) from exc
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(line for line in lines if line.strip())[:MAX_RENDERED]


def _clean(value: str | None) -> str:
    # Partner values are single-line fields; a stray newline would break the layout.
    return " ".join(str(value).split()) if value else ""


# --- fonts -----------------------------------------------------------------------------------

@functools.cache
def pdf_font(font: str) -> str:
    """Register the bundled TTF with ReportLab once per process; returns its ReportLab name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    name = PDF_FONT_NAMES[font]
    pdfmetrics.registerFont(TTFont(name, str(FONT_FILES[font])))
    return name


class Measure:
    """Text width in page units at a size, ``measure(text, size)``, from a bundled font's own
    advance widths (no hinting, no kerning)."""

    __slots__ = ("font", "additive", "_advances")

    def __init__(self, font: str):
        self.font = font
        advances = _advances(font)
        #: a width is then exactly the sum of its parts' (see ``advance``)
        self.additive = advances is not None
        self._advances = advances.__getitem__ if advances is not None else None

    def __call__(self, text: str, size: float) -> float:
        if self._advances is None:
            return _unit_width(self.font, text) * size
        # The same float as ReportLab's (sum * 0.001) * size, the sum being exact.
        return sum(map(self._advances, map(ord, text))) * 0.001 * size

    def advance(self, text: str) -> float:
        """The sum of ``text``'s character advances in thousandths of the size, as ReportLab
        adds them up: ``measure(text, size) == advance(text) * 0.001 * size``. When
        ``additive``, exact, so a line's advance is the sum of its words' and spaces', bit for
        bit."""
        if self._advances is None:
            return _unit_width(self.font, text) * 1000.0  # within a rounding, not exact
        return sum(map(self._advances, map(ord, text)))


class _Advances(dict):
    """Code point -> advance, as ReportLab's widths: the font's default for the others."""

    __slots__ = ("default",)

    def __missing__(self, code: int) -> float:
        return self.default


@functools.cache
def _advances(font: str) -> _Advances | None:
    """The font's advances (as ReportLab scales them, 1000 per em), if all are multiples of
    1/256 (2048 units per em, as the bundled fonts), so that every sum of them is exact in
    floating point whatever the order of adding, as ReportLab's (and none is negative, as
    TrueType has them); else None."""
    from reportlab.pdfbase import pdfmetrics

    face = pdfmetrics.getFont(pdf_font(font)).face
    advances = _Advances(face.charWidths)
    advances.default = face.defaultWidth
    if all((w * 256).is_integer() and 0 <= w < 1 << 20
           for w in (*advances.values(), advances.default)):
        return advances
    return None


def measure_for(font: str) -> Measure:
    """Text width in page units at a size, from the font's own advance widths (no hinting)."""
    return Measure(font)


@functools.lru_cache(maxsize=4096)
def _unit_width(font: str, text: str) -> float:
    # For a font whose widths do not add up exactly (none bundled now): widths scale linearly
    # with size, so fitting (which tries many sizes for the same words) measures each once.
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return stringWidth(text, pdf_font(font), 1.0)


def missing_glyphs(text: str, font: str) -> str:
    """Characters the bundled font cannot draw (they would print as empty boxes)."""
    from reportlab.pdfbase import pdfmetrics

    face = pdfmetrics.getFont(pdf_font(font)).face
    return "".join(sorted({c for c in text if not c.isspace() and ord(c) not in face.charToGlyph}))


# --- fitting ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class TextFit:
    """Where the text landed: its lines, the size used, and whether it still overflows."""

    lines: tuple[str, ...]
    size: float
    overflow: bool

    def block_height(self) -> float:
        return block_height(len(self.lines), self.size)


def block_height(lines: int, size: float) -> float:
    """Height of ``lines`` lines of text at ``size``, top of accents to bottom of descenders."""
    if lines == 0:
        return 0.0
    return (lines - 1) * LINE_SPACING * size + (ASCENT + DESCENT) * size


def _sizes(size: float, min_size: float) -> list[float]:
    """Candidate sizes from ``size`` down to ``min_size``, in half-unit steps."""
    steps = int((size - min_size) / 0.5)
    sizes = [size - i * 0.5 for i in range(steps + 1)]
    if sizes[-1] > min_size:
        sizes.append(min_size)
    return sizes


def _largest(sizes: list[float], fits: Callable[[float], bool]) -> float | None:
    """The largest size that fits, by bisection (fitting is monotonic in size)."""
    if fits(sizes[0]):
        return sizes[0]
    lo, hi = 0, len(sizes) - 1  # sizes[lo] does not fit; find the first that does
    if not fits(sizes[hi]):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(sizes[mid]):
            hi = mid
        else:
            lo = mid
    return sizes[hi]


def _wrap(paragraph: str, width: float, size: float, measure: Measure,
          *, break_words: bool) -> tuple[list[str], bool]:
    """Greedy word wrap; returns the lines and whether some word is wider than the zone."""
    lines: list[str] = []
    too_wide = False
    current = ""
    for word in paragraph.split():
        candidate = f"{current} {word}" if current else word
        if measure(candidate, size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        if measure(word, size) <= width:
            current = word
            continue
        too_wide = True
        if not break_words:
            current = word
            continue
        piece = ""
        for char in word:
            if piece and measure(piece + char, size) > width:
                lines.append(piece)
                piece = char
            else:
                piece += char
        current = piece
    if current:
        lines.append(current)
    return lines, too_wide


class _Words:
    """A paragraph's words with their advances, measured once and reused at every size tried:
    ``_wrap`` by sums instead of measuring each candidate line (``Measure.additive``)."""

    def __init__(self, paragraph: str, measure: Measure):
        self.measure = measure
        self.words = [(word, measure.advance(word)) for word in paragraph.split()]
        self.space = measure.advance(" ")

    def wrap(self, width: float, size: float, *, break_words: bool) -> tuple[list[str], bool]:
        """``_wrap(paragraph, width, size, measure, ...)``, the same lines to the bit: a line
        fits when ``advance * 0.001 * size <= width``, as ``measure`` computes it."""
        lines: list[str] = []
        too_wide = False
        current: list[str] = []
        current_advance = 0.0
        space = self.space
        for word, advance in self.words:
            candidate = current_advance + space + advance if current else advance
            if candidate * 0.001 * size <= width:
                current.append(word)
                current_advance = candidate
                continue
            if current:
                lines.append(" ".join(current))
            current, current_advance = [word], advance
            if advance * 0.001 * size <= width:
                continue
            too_wide = True
            if not break_words:
                continue
            piece, piece_advance = "", 0.0
            for char in word:
                char_advance = self.measure.advance(char)
                if piece and (piece_advance + char_advance) * 0.001 * size > width:
                    lines.append(piece)
                    piece, piece_advance = char, char_advance
                else:
                    piece += char
                    piece_advance += char_advance
            current, current_advance = [piece], piece_advance
        if current:
            lines.append(" ".join(current))
        return lines, too_wide


def fit_text(text: str, width: float, height: float, size: float, min_size: float,
             measure: Measure) -> TextFit:
    """Fit text in a box: shrink from ``size`` to ``min_size`` on one line per paragraph, then
    wrap at the largest size that fits; if nothing fits, wrap at ``min_size`` and report
    ``overflow`` (the output clips to the zone, the preview warns)."""
    paragraphs = [p.strip() for p in text.split("\n") if p.strip()]
    if not paragraphs:
        return TextFit((), size, False)
    sizes = _sizes(size, min_size)
    if measure.additive:
        advances = [measure.advance(p) for p in paragraphs]

        def fits_unwrapped(s: float) -> bool:
            return (block_height(len(paragraphs), s) <= height
                    and all(a * 0.001 * s <= width for a in advances))
    else:
        def fits_unwrapped(s: float) -> bool:
            return (block_height(len(paragraphs), s) <= height
                    and all(measure(p, s) <= width for p in paragraphs))

    best = _largest(sizes, fits_unwrapped)
    if best is not None:
        return TextFit(tuple(paragraphs), best, False)

    if measure.additive:
        words: dict[int, _Words] = {}
        # A paragraph spaced as wrapping joins words, that fits the width whole, wraps to
        # itself (advances are not negative: its every start fits too).
        single = [" ".join(p.split()) == p for p in paragraphs]

        def wrap(paragraph: int, s: float, break_words: bool) -> tuple[list[str], bool]:
            if single[paragraph] and advances[paragraph] * 0.001 * s <= width:
                return [paragraphs[paragraph]], False
            if paragraph not in words:
                words[paragraph] = _Words(paragraphs[paragraph], measure)
            return words[paragraph].wrap(width, s, break_words=break_words)
    else:
        def wrap(paragraph: int, s: float, break_words: bool) -> tuple[list[str], bool]:
            return _wrap(paragraphs[paragraph], width, s, measure, break_words=break_words)

    def wrapped(s: float, break_words: bool) -> tuple[list[str], bool]:
        lines: list[str] = []
        too_wide = False
        for paragraph in range(len(paragraphs)):
            more, wide = wrap(paragraph, s, break_words)
            lines.extend(more)
            too_wide = too_wide or wide
        return lines, too_wide

    tried: dict[float, tuple[list[str], bool]] = {}  # the bisection ends on a size it wrapped

    def fits_wrapped(s: float) -> bool:
        if s not in tried:
            tried[s] = wrapped(s, False)
        lines, too_wide = tried[s]
        return not too_wide and block_height(len(lines), s) <= height

    best = _largest(sizes, fits_wrapped)
    if best is not None:
        return TextFit(tuple(tried[best][0]), best, False)
    lines, _ = wrapped(min_size, True)
    return TextFit(tuple(lines), min_size, True)


def line_positions(fit: TextFit, box: tuple[float, float, float, float], align: str,
                   valign: str, measure: Measure) -> list[tuple[str, float, float]]:
    """(line, x, baseline y) for each line, origin top-left, in page units."""
    left, top, right, bottom = box
    block = fit.block_height()
    free = (bottom - top) - block
    offset = {"top": 0.0, "middle": free / 2, "bottom": free}[valign]
    if free < 0:
        offset = 0.0  # an overflowing block starts at the top; the rest is clipped
    out = []
    for index, line in enumerate(fit.lines):
        width = measure(line, fit.size)
        x = {"left": left, "center": left + (right - left - width) / 2,
             "right": right - width}[align]
        baseline = top + offset + ASCENT * fit.size + index * LINE_SPACING * fit.size
        out.append((line, x, baseline))
    return out
