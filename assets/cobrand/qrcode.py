"""QR codes as the engine draws them: the modules of a code, and where it sits in a zone.

Pure functions over strings and zones; which address a partner's code carries is decided
before stamping (``assets.qr``) and arrives in the brand's values under ``qr:<destination>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assets.cobrand.zones import Zone

#: The token a QR zone's target is looked up under in a brand's values.
PREFIX = "qr:"


def target_of(zone: Zone, values: Mapping[str, str | None]) -> str:
    """The address a QR zone encodes for a brand: its partner's link, else the destination."""
    destination = zone.template.strip()
    return values.get(PREFIX + destination) or destination


def dark_runs(data: str) -> tuple[int, list[tuple[int, int, int]]]:
    """The code for ``data`` as (modules per side, runs of dark modules as (row, first
    column, length)), without the quiet zone: drawing runs instead of single modules keeps a
    PDF's content stream a few hundred rectangles long, and leaves no hairline gaps."""
    import segno

    # Level M (15% damage) is the usual choice for print: robust to a fold or a smudge
    # without making the code much denser.
    code = segno.make(data, error="m", micro=False, boost_error=False)
    rows = list(code.matrix_iter(border=0))
    runs = []
    for r, row in enumerate(rows):
        start = None
        for c, dark in enumerate([*row, 0]):
            if dark and start is None:
                start = c
            elif not dark and start is not None:
                runs.append((r, start, c - start))
                start = None
    return len(rows), runs


#: Light modules around the code (ISO/IEC 18004 asks for 4; 2 scans reliably with phones and
#: leaves more of a small zone to the code itself).
QUIET_MODULES = 2


def placement(zone: Zone, modules: int) -> tuple[float, float, float]:
    """(left, top, module size) of the code, quiet zone included, as large as the zone allows
    and aligned in it as the zone says; page units, origin top-left."""
    side = min(zone.width, zone.height)
    module = side / (modules + 2 * QUIET_MODULES)
    side = module * (modules + 2 * QUIET_MODULES)
    left = {"left": zone.x, "center": zone.x + (zone.width - side) / 2,
            "right": zone.x + zone.width - side}[zone.align]
    top = {"top": zone.y, "middle": zone.y + (zone.height - side) / 2,
           "bottom": zone.y + zone.height - side}[zone.valign]
    return left, top, module


def pdf_ops(zone: Zone, page_height: float, values: Mapping[str, str | None]) -> bytes:
    """Content-stream operators drawing the zone's code in PDF space (origin bottom-left):
    a white square, then one filled path of the dark runs, vector-sharp at any zoom."""
    modules, runs = dark_runs(target_of(zone, values))
    left, top, module = placement(zone, modules)
    side = module * (modules + 2 * QUIET_MODULES)
    bottom = page_height - top - side
    r, g, b = (int(zone.color[i:i + 2], 16) / 255 for i in (1, 3, 5))
    ops = [f"q 1 1 1 rg {_n(left)} {_n(bottom)} {_n(side)} {_n(side)} re f",
           f"{_n(r)} {_n(g)} {_n(b)} rg"]
    origin = QUIET_MODULES * module
    for row, column, length in runs:
        x = left + origin + column * module
        y = page_height - (top + origin + (row + 1) * module)
        ops.append(f"{_n(x)} {_n(y)} {_n(length * module)} {_n(module)} re")
    ops.append("f Q")
    return "\n".join(ops).encode()


def _n(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"
