"""Zones: the boxes a marketer draws on a page preview, and what goes in each.

Coordinates are page units (PDF points, image pixels) with the origin at the TOP-LEFT of the
page as the person sees it (after rotation and cropping), because that is how a box is drawn on
a preview; the PDF stamper converts to PDF space itself. Storing page units rather than preview
pixels keeps the output exact whatever size the preview was shown at.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tcma.errors import FieldError, ValidationFailed

if TYPE_CHECKING:
    from assets.cobrand.prepared import PreparedLogo

KINDS = ("logo", "text", "qr")
FONTS = ("sans", "sans-bold")
ALIGNS = ("left", "center", "right")
VALIGNS = ("top", "middle", "bottom")
MAX_ZONES = 50  # a page with more boxes than this is a mistake, not a design
MAX_SIZE = 500.0  # font size in page units; larger is a headline, not a partner detail
EDGE_SLACK = 0.5  # the editor rounds; half a unit past the edge is not "outside the page"
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_NUMBERS = ("x", "y", "width", "height", "size", "min_size")


@dataclass(frozen=True)
class Zone:
    """One box on one page: the partner logo, or a text template with partner tokens."""

    page: int
    x: float
    y: float
    width: float
    height: float
    kind: str
    #: text zones: e.g. "Call {{ partner.phone }}"; rendered in a sandbox (see ``text``).
    #: QR zones: the address the code leads to (each partner's copy carries the partner's
    #: tracking link to it when tracking links are set up, see ``assets.qr``).
    template: str = ""
    font: str = "sans"
    size: float = 12.0
    #: shrink-to-fit stops here; below it the text wraps, then the preview warns
    min_size: float = 6.0
    color: str = "#000000"
    align: str = "left"
    valign: str = "top"

    def __post_init__(self) -> None:
        errors = _problems(self)
        if errors:
            raise ValidationFailed(errors)

    @property
    def box(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) in page units, origin top-left."""
        return (self.x, self.y, self.x + self.width, self.y + self.height)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; fields a kind does not use are left out."""
        data = asdict(self)
        if self.kind == "logo":
            for name in ("template", "font", "size", "min_size", "color"):
                data.pop(name)
        elif self.kind == "qr":
            for name in ("font", "size", "min_size"):
                data.pop(name)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, prefix: str = "") -> Zone:
        """Build a zone from a JSON dict; errors name ``prefix`` + the field."""
        if not isinstance(data, Mapping):
            raise ValidationFailed([FieldError(prefix.rstrip(".") or "zone",
                                               "Each zone must be an object.")])
        errors: list[FieldError] = []
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(str(k) for k in data if k not in known)
        for name in unknown:
            errors.append(FieldError(prefix + name, "Unknown zone field."))
        values: dict[str, Any] = {}
        for name in known:
            if name not in data:
                continue
            value = data[name]
            if name == "page":
                if isinstance(value, bool) or not isinstance(value, int):
                    errors.append(FieldError(prefix + name, "Must be a whole page number."))
                    continue
            elif name in _NUMBERS:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    errors.append(FieldError(prefix + name, "Must be a number."))
                    continue
                value = float(value)
            elif not isinstance(value, str):
                errors.append(FieldError(prefix + name, "Must be text."))
                continue
            values[name] = value
        for name in ("page", "x", "y", "width", "height", "kind"):
            if name not in data:
                errors.append(FieldError(prefix + name, "Required."))
        if errors:
            raise ValidationFailed(errors)
        try:
            return cls(**values)
        except ValidationFailed as exc:
            raise ValidationFailed([FieldError(prefix + e.field, e.message)
                                    for e in exc.errors]) from None


@dataclass(frozen=True)
class Brand:
    """What one partner brings to the zones: token values and a logo (PNG bytes), with where
    that logo's artefacts prepared at upload can be read (``prepared``), if anywhere."""

    values: Mapping[str, str | None] = field(default_factory=dict)
    logo: bytes | None = None
    #: Only saves work: stamping gives the same bytes with or without it.
    prepared: PreparedLogo | None = field(default=None, compare=False)


def _problems(zone: Zone) -> list[FieldError]:
    errors: list[FieldError] = []
    if isinstance(zone.page, bool) or not isinstance(zone.page, int) or zone.page < 0:
        errors.append(FieldError("page", "Must be a page number from 0 up."))
    for name in _NUMBERS:
        value = getattr(zone, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            errors.append(FieldError(name, "Must be a finite number."))
    if errors:
        return errors
    if zone.x < 0:
        errors.append(FieldError("x", "The zone starts left of the page."))
    if zone.y < 0:
        errors.append(FieldError("y", "The zone starts above the page."))
    if zone.width <= 0:
        errors.append(FieldError("width", "The zone must be wider than zero."))
    if zone.height <= 0:
        errors.append(FieldError("height", "The zone must be taller than zero."))
    if zone.kind not in KINDS:
        errors.append(FieldError("kind", f"Unknown zone kind {zone.kind!r}; use "
                                         "'logo', 'text' or 'qr'."))
    if zone.align not in ALIGNS:
        errors.append(FieldError("align", "Use left, center or right."))
    if zone.valign not in VALIGNS:
        errors.append(FieldError("valign", "Use top, middle or bottom."))
    if zone.kind == "qr":
        return errors + _qr_problems(zone)
    if zone.kind != "text":
        return errors
    if zone.font not in FONTS:
        errors.append(FieldError("font", f"Unknown font {zone.font!r}; use "
                                         + " or ".join(FONTS) + "."))
    if not 0 < zone.size <= MAX_SIZE:
        errors.append(FieldError("size", f"Use a size between 1 and {MAX_SIZE:.0f}."))
    if zone.min_size < 1:
        errors.append(FieldError("min_size", "Use a minimum size of at least 1."))
    elif zone.min_size > zone.size:
        errors.append(FieldError("min_size", f"The minimum size ({zone.min_size:g}) is larger "
                                             f"than the size ({zone.size:g})."))
    if not isinstance(zone.color, str) or not _COLOR.match(zone.color):
        errors.append(FieldError("color", "Use a colour like #1a2b3c."))
    if not isinstance(zone.template, str) or not zone.template.strip():
        errors.append(FieldError("template", "Write the text to show, e.g. "
                                             "{{ partner.phone }}."))
    else:
        from assets.cobrand.text import template_problems

        problems = template_problems(zone.template)
        if problems:
            errors.append(FieldError("template", " ".join(problems)))
    return errors


#: A QR code smaller than this is not reliably scanned from paper (about 2 cm at 72 dpi).
MIN_QR_SIDE = 56.0
MAX_QR_TARGET = 500
_URL = re.compile(r"^https?://[^\s/?#@\\]+(?::\d+)?(?:[/?#][^\s\\]*)?$", re.IGNORECASE)


def _qr_problems(zone: Zone) -> list[FieldError]:
    errors = []
    if not isinstance(zone.color, str) or not _COLOR.match(zone.color):
        errors.append(FieldError("color", "Use a colour like #1a2b3c."))
    target = zone.template.strip() if isinstance(zone.template, str) else ""
    if not target:
        errors.append(FieldError("template", "Enter the address the QR code leads to."))
    elif len(target) > MAX_QR_TARGET or not _URL.match(target):
        errors.append(FieldError("template", "Use an https:// (or http://) address of at most "
                                             f"{MAX_QR_TARGET} characters."))
    if min(zone.width, zone.height) < MIN_QR_SIDE:
        errors.append(FieldError("width", f"A QR code needs a box of at least "
                                          f"{MIN_QR_SIDE:g} x {MIN_QR_SIDE:g} to scan."))
    return errors


def check_zones_fit(zones: Sequence[Zone], page_sizes: Sequence[tuple[float, float]],
                    *, unit: str = "pt") -> None:
    """Refuse zones on pages that do not exist or reaching outside their page."""
    errors = _fit_problems(list(enumerate(zones)), page_sizes, unit)
    if errors:
        raise ValidationFailed(errors)


def _fit_problems(zones: list[tuple[int, Zone]], page_sizes: Sequence[tuple[float, float]],
                  unit: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, zone in zones:
        name = f"zones[{index}]"
        if zone.page >= len(page_sizes):
            pages = len(page_sizes)
            errors.append(FieldError(f"{name}.page", f"Page {zone.page + 1} does not exist; "
                                     f"the file has {pages} page{'s' if pages != 1 else ''}."))
            continue
        width, height = page_sizes[zone.page]
        if zone.x + zone.width > width + EDGE_SLACK:
            errors.append(FieldError(f"{name}.x", f"The zone reaches {zone.x + zone.width:g} "
                                     f"{unit} across, outside the page ({width:g} {unit} "
                                     "wide)."))
        if zone.y + zone.height > height + EDGE_SLACK:
            errors.append(FieldError(f"{name}.y", f"The zone reaches {zone.y + zone.height:g} "
                                     f"{unit} down, outside the page ({height:g} {unit} "
                                     "tall)."))
    return errors


def parse_zones(data: Iterable[Mapping[str, Any]],
                page_sizes: Sequence[tuple[float, float]] | None = None,
                *, unit: str = "pt") -> list[Zone]:
    """Zones from JSON (as the editor posts them), every error named ``zones[i].field``."""
    items = list(data)
    if len(items) > MAX_ZONES:
        raise ValidationFailed([FieldError("zones", f"At most {MAX_ZONES} zones per asset.")])
    zones: list[tuple[int, Zone]] = []
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        try:
            zones.append((index, Zone.from_json(item, prefix=f"zones[{index}].")))
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if page_sizes is not None:
        errors.extend(_fit_problems(zones, page_sizes, unit))
    if errors:
        raise ValidationFailed(errors)
    return [zone for _, zone in zones]


def zones_to_json(zones: Iterable[Zone]) -> list[dict[str, Any]]:
    """The JSON list ``parse_zones`` reads back."""
    return [zone.to_json() for zone in zones]
