"""What the zone editor shows: a PDF page as PNG, and warnings about values that do not fit.

Pages are rendered with pdfium (``pypdfium2``, a self-contained wheel: no system poppler
needed by the app) in the bounded child process, since previews parse the vendor's file far
more deeply than stamping does (fonts, images, shading).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assets.cobrand.logo import logo_warnings
from assets.cobrand.pdf import sniff_pdf
from assets.cobrand.text import fit_text, measure_for, missing_glyphs, render_template
from assets.cobrand.zones import Zone
from tcma.bounded import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT, Refused, run_bounded
from tcma.errors import FieldError, ValidationFailed

MAX_PREVIEW_SIDE = 4000  # pixels; a zone editor never needs more


@dataclass(frozen=True)
class PagePreview:
    """A rendered page and the scale from page units (points) to its pixels."""

    png: bytes
    width: int
    height: int
    scale: float


def render_page(data: bytes, page: int, *, max_side: int = 1600,
                timeout: float = DEFAULT_TIMEOUT, memory_mb: int = DEFAULT_MEMORY_MB
                ) -> PagePreview:
    """Page ``page`` (0-based) of a PDF as a PNG whose longer side is ``max_side`` pixels,
    as a viewer shows it (rotation and crop box applied)."""
    if not 16 <= max_side <= MAX_PREVIEW_SIDE:
        raise ValidationFailed([FieldError("max_side", f"Use 16 to {MAX_PREVIEW_SIDE} pixels.")])
    if page < 0:
        raise ValidationFailed([FieldError("page", "Pages are numbered from 0.")])
    sniff_pdf(data)
    result, png = run_bounded("assets.cobrand.preview:_render_here", data,
                              {"page": page, "max_side": max_side}, what="PDF",
                              timeout=timeout, memory_mb=memory_mb)
    return PagePreview(png=png, width=result["width"], height=result["height"],
                       scale=result["scale"])


def _render_here(data: bytes, args: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The child side of ``render_page``."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise Refused(f"This PDF cannot be opened ({exc}).") from None
    try:
        count = len(document)
        number = int(args["page"])
        if number >= count:
            raise Refused(f"Page {number + 1} does not exist; the file has {count} pages.",
                          field="page")
        page = document[number]
        width, height = page.get_size()
        scale = min(args["max_side"] / max(width, height, 1.0), 8.0)
        image = page.render(scale=scale, draw_annots=True).to_pil()
        out = io.BytesIO()
        image.save(out, "PNG")
        page.close()
    except pdfium.PdfiumError as exc:
        raise Refused(f"Page {args['page'] + 1} cannot be drawn ({exc}).") from None
    finally:
        document.close()
    return {"width": image.width, "height": image.height, "scale": scale}, out.getvalue()


@dataclass(frozen=True)
class ZoneWarning:
    """Something the marketer should fix or accept before publishing."""

    zone: int  # index in the zone list
    message: str


def preview_warnings(zones: Sequence[Zone], brand_values_list: Sequence[Mapping[str, Any]],
                     *, logos: Sequence[bytes | None] = ()) -> list[ZoneWarning]:
    """Check every text zone against real partners' values (pass all partners, or the
    built-in ``SAMPLE_PARTNER``): warn for the longest value that still overflows after
    shrinking and wrapping, and for characters the font cannot draw. ``logos`` (one per
    partner, None for a partner without one) adds the logo checks, each message once."""
    warnings: list[ZoneWarning] = []
    for index, zone in enumerate(zones):
        if zone.kind != "text":
            continue
        measure = measure_for(zone.font)
        worst: tuple[float, str] | None = None
        missing: set[str] = set()
        for values in brand_values_list:
            text = render_template(zone.template, values, field=f"zones[{index}].template")
            missing.update(missing_glyphs(text, zone.font))
            fit = fit_text(text, zone.width, zone.height, zone.size, zone.min_size, measure)
            if fit.overflow:
                longest = max(measure(line, zone.min_size) for line in text.split("\n"))
                if worst is None or longest > worst[0]:
                    worst = (longest, text)
        if worst is not None:
            sample = worst[1].replace("\n", " / ")
            sample = sample if len(sample) <= 120 else sample[:117] + "…"
            warnings.append(ZoneWarning(index, f"Zone {index + 1}: “{sample}” does not fit even "
                                               f"at {zone.min_size:g} and wrapped; make the zone "
                                               "larger or the minimum size smaller."))
        if missing:
            warnings.append(ZoneWarning(index, f"Zone {index + 1}: the font has no "
                                               f"characters for {' '.join(sorted(missing))}; "
                                               "they will print as empty boxes."))
    seen: set[str] = set()
    for logo in logos:
        for index, message in logo_warnings(zones, logo):
            if message not in seen:
                seen.add(message)
                warnings.append(ZoneWarning(index, message))
    return warnings
