"""Fixtures for the co-branding engine, generated in the tests (no binary files committed).

Vendor PDFs come from ReportLab (real text, a link, two page sizes) and are checked the way a
person would: ``qpdf --check``, ``pdftotext``, and ``pdftoppm -r 72`` (one pixel per point, so a
zone's box in points is the same box in pixels).
"""

from __future__ import annotations

import io
import subprocess
import tempfile
from collections.abc import Callable

import pikepdf
import pytest
from PIL import Image, ImageDraw
from reportlab.lib.pagesizes import A4, landscape, letter
from reportlab.pdfgen.canvas import Canvas

from assets.cobrand.zones import Brand

VENDOR_TEXT = ("Vendor brochure: Cloud Backup 7", "Second page in landscape")
PHONE = "+49 7231 555 0199"
RED = (220, 20, 20)


def vendor_pdf(pages: int = 2, *, rotate: dict[int, int] | None = None,
               crop: dict[int, tuple[float, float, float, float]] | None = None) -> bytes:
    """A vendor brochure: A4 portrait then US Letter landscape pages alternating, with real
    text on each page and a link on the first; optional /Rotate and /CropBox per page."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4)
    for number in range(pages):
        size = A4 if number % 2 == 0 else landscape(letter)
        canvas.setPageSize(size)
        canvas.setFont("Helvetica", 14)
        canvas.drawString(72, size[1] - 72, VENDOR_TEXT[number % 2] + f" (page {number + 1})")
        if number == 0:
            canvas.linkURL("https://vendor.example/product", (72, size[1] - 80, 320, size[1] - 60))
        canvas.showPage()
    canvas.save()
    data = out.getvalue()
    if not rotate and not crop:
        return data
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for index, angle in (rotate or {}).items():
            pdf.pages[index].obj.Rotate = angle
        for index, box in (crop or {}).items():
            pdf.pages[index].obj.CropBox = pikepdf.Array(list(box))
        buf = io.BytesIO()
        pdf.save(buf)
        return buf.getvalue()


def logo_png(width: int = 300, height: int = 100, *, padding: int = 40,
             color: tuple[int, int, int] = RED) -> bytes:
    """A solid logo with transparent padding around it (which stamping must trim)."""
    image = Image.new("RGBA", (width + 2 * padding, height + 2 * padding), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((padding, padding, padding + width - 1,
                                     padding + height - 1), fill=(*color, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def render(pdf: bytes, page: int = 0) -> Image.Image:
    """Page ``page`` rendered by poppler at 72 dpi (1 px = 1 pt), crop box applied as viewers
    do, as RGB."""
    done = subprocess.run(["pdftoppm", "-r", "72", "-cropbox", "-png", "-f", str(page + 1), "-l",
                           str(page + 1), "-"], input=pdf, capture_output=True, check=True)
    return Image.open(io.BytesIO(done.stdout)).convert("RGB")


def pdftotext(pdf: bytes) -> str:
    done = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
    return done.stdout.decode()


def qpdf_check(pdf: bytes) -> subprocess.CompletedProcess:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:  # qpdf does not read stdin
        file.write(pdf)
        file.flush()
        return subprocess.run(["qpdf", "--check", file.name], capture_output=True, text=True)


def share(image: Image.Image, box: tuple[int, int, int, int],
          test: Callable[[tuple[int, ...]], bool]) -> float:
    """Fraction of pixels in ``box`` (left, top, right, bottom) for which ``test`` holds."""
    raw = image.crop(box).convert("RGB").tobytes()
    pixels = [tuple(raw[i:i + 3]) for i in range(0, len(raw), 3)]
    return sum(1 for p in pixels if test(p)) / len(pixels)


def is_red(pixel: tuple[int, ...]) -> bool:
    return pixel[0] > 170 and pixel[1] < 90 and pixel[2] < 90


def is_ink(pixel: tuple[int, ...]) -> bool:
    return min(pixel[:3]) < 160


@pytest.fixture
def brand() -> Brand:
    return Brand(values={"display_name": "Acme Systemhaus GmbH", "phone": PHONE,
                         "website": "acme.example", "city": "Köln"}, logo=logo_png())


# The JSON API tests' callers (a token-holding user per role, partners committed in their own
# session) serve the asset API tests too.
from tests.api.conftest import as_user, fresh, new_partner  # noqa: E402,F401
