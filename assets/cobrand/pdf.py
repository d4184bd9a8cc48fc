"""Vendor PDFs: inspected under a bound at upload, stamped untouched underneath for partners.

Stamping never rewrites the vendor's page content: each page keeps its content streams,
fonts, links and boxes, and gets one extra ``Do`` of a form XObject holding the partner's
overlay. The overlay is built once per distinct (page size, zones) layout (``overlay``), so a
footer zone repeated on 40 pages is one small object referenced 40 times.

Measured on one core (``bench/cobrand.py``, 20-page brochure, same pre-built overlay):
pikepdf applying it as a form XObject runs at about 10,000 pages/s with pass-through saving
(5,000 with its one-call ``add_overlay`` and default save), pypdf 7's ``merge_page`` at about
1,100-1,350: pikepdf it is. A partner's whole 20-page copy costs ~1.85 ms when their overlay
is cached (the floor: ~1.8 ms), ~2.2 ms for their next asset (text laid out anew) and ~2.3 ms
for their first copy on a worker, their logo read as prepared when they uploaded it
(``prepared``); ~4.2 ms if that job has not run yet, decoding and deflating the logo here.
Since then the first copy went from 0.78x to 0.9-1.0x the floor's pages/s (same bench, a
busy 2-core machine): page boxes read from the page dictionary, text fitted from word
advances, the overlay's objects made with fewer of pikepdf's per-object checks.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pikepdf

from assets.cobrand.overlay import Layout, build_overlay, layout_key, write_overlay
from assets.cobrand.zones import Brand, Zone, check_zones_fit
from tcma.bounded import (
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT,
    Refused,
    run_bounded,
)
from tcma.errors import FieldError, ValidationFailed

MAX_PAGES = 2000
MAX_PAGE_SIDE = 14_400.0  # points: the PDF limit (200 inches)
_MAGIC = (
    (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive or an Office document (export it as PDF first)"),
    (b"{\\rtf", "an RTF document"), (b"<!doctype html", "a web page"), (b"<html", "a web page"),
    (b"%!PS", "a PostScript file"), (b"\xd0\xcf\x11\xe0", "an old Office document"),
)


@dataclass(frozen=True)
class PageInfo:
    """One page as a person sees it: size in points after rotation and cropping."""

    width: float
    height: float
    rotate: int


@dataclass(frozen=True)
class PdfInfo:
    """What an accepted PDF looks like; ``warnings`` says what was repaired."""

    pages: tuple[PageInfo, ...]
    warnings: tuple[str, ...] = ()

    @property
    def page_count(self) -> int:
        return len(self.pages)

    @property
    def page_sizes(self) -> list[tuple[float, float]]:
        return [(p.width, p.height) for p in self.pages]


def _fail(message: str) -> ValidationFailed:
    return ValidationFailed([FieldError("file", message)])


def sniff_pdf(data: bytes) -> None:
    """Refuse, without parsing, content that is not a complete PDF file."""
    if not data:
        raise _fail("The file is empty.")
    head = data[:1024]
    if b"%PDF-" not in head:
        lowered = head.lstrip().lower()
        kind = next((name for magic, name in _MAGIC if lowered.startswith(magic.lower())), None)
        if kind is None and lowered[8:12] == b"webp":
            kind = "a WebP image"
        raise _fail(f"This file is not a PDF{f'; it looks like {kind}' if kind else ''}. "
                    "Upload a PDF.")
    if b"%%EOF" not in data[-4096:]:
        raise _fail("This PDF is incomplete: it stops before its end marker, as if the upload "
                    "or export was cut short. Upload the complete file.")


def inspect_pdf(data: bytes, *, timeout: float = DEFAULT_TIMEOUT,
                memory_mb: int = DEFAULT_MEMORY_MB) -> PdfInfo:
    """Check an uploaded PDF and return its page sizes; refuses what we cannot stamp.

    Parsing happens in a child process bounded in time and memory (see ``bounded``).
    """
    sniff_pdf(data)
    result, _ = run_bounded("assets.cobrand.pdf:_inspect_here", data, what="PDF", timeout=timeout,
                            memory_mb=memory_mb)
    return PdfInfo(pages=tuple(PageInfo(*page) for page in result["pages"]),
                   warnings=tuple(result["warnings"]))


def _inspect_here(data: bytes, args: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The child-side inspection: open, check every page's boxes and content streams."""
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError:
        raise Refused("This PDF is protected by a password. Export it again without a "
                      "password or restrictions, then upload it.") from None
    except (pikepdf.PdfError, RecursionError, ValueError) as exc:
        if _out_of_memory(exc):
            raise MemoryError from None
        raise Refused(f"This PDF is damaged and cannot be read ({_short(exc)}). Export it "
                      "again and upload the new copy.") from None
    with pdf:
        if pdf.is_encrypted:
            raise Refused("This PDF is encrypted (it carries permission restrictions). Export "
                          "it again without a password or restrictions, then upload it.")
        try:
            count = len(pdf.pages)
        except (pikepdf.PdfError, RecursionError) as exc:
            raise Refused(f"This PDF's page list is damaged ({_short(exc)}). Export it again "
                          "and upload the new copy.") from None
        if count == 0:
            raise Refused("This PDF has no pages.")
        if count > MAX_PAGES:
            raise Refused(f"This PDF has {count} pages; the limit is {MAX_PAGES}.")
        pages = []
        for number, page in enumerate(pdf.pages, start=1):
            try:
                frame = page_frame(page, pushed=True)  # opened as pikepdf does
                _decode_contents(page)
            except (pikepdf.PdfError, RecursionError, ValueError, TypeError) as exc:
                if _out_of_memory(exc):
                    raise MemoryError from None
                raise Refused(f"Page {number} of this PDF is damaged ({_short(exc)}). Export "
                              "it again and upload the new copy.") from None
            if not (1 <= frame.width <= MAX_PAGE_SIDE and 1 <= frame.height <= MAX_PAGE_SIDE):
                raise Refused(f"Page {number} has an impossible size "
                              f"({frame.width:g} × {frame.height:g} pt).")
            pages.append([frame.width, frame.height, frame.rotate])
        repaired = pdf.get_warnings()
    warnings = []
    if repaired:
        warnings.append("This PDF was slightly damaged and has been read with repairs; check "
                        "the preview of every page.")
    return {"pages": pages, "warnings": warnings}, b""


def _decode_contents(page: pikepdf.Page) -> None:
    # Inflating every content stream is what a viewer will do: a stream built to explode
    # hits the child's memory limit here, at upload, rather than in a partner's download.
    contents = page.obj.get("/Contents")
    streams = contents if isinstance(contents, pikepdf.Array) else [contents]
    for stream in streams:
        if isinstance(stream, pikepdf.Stream):
            stream.read_bytes()


def _out_of_memory(exc: BaseException) -> bool:
    # qpdf reports a failed allocation inside a PdfError rather than as MemoryError.
    return "bad_alloc" in str(exc)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


# --- page geometry ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PageFrame:
    """A page as displayed, and the matrix from display space (points, origin bottom-left of
    the visible page) to the page's own user space."""

    width: float
    height: float
    rotate: int
    matrix: tuple[float, float, float, float, float, float]


def page_frame(page: pikepdf.Page, *, pushed: bool = False) -> PageFrame:
    """Visible size and display-to-user matrix, honouring /CropBox and /Rotate as viewers do.

    ``pushed``: the file was opened with pikepdf's default ``inherit_page_attributes``, which
    copies the boxes and rotation a page inherits from the page tree onto the page itself,
    so only the page's own dictionary is read (less than half the time of climbing the tree,
    or of ``Page.mediabox`` and ``.cropbox``).
    """
    obj = page.obj
    if pushed:
        media_box, crop_box, rotate = _own_boxes(obj)
    else:
        media_box, crop_box, rotate = (_inherited(obj, key)
                                       for key in ("/MediaBox", "/CropBox", "/Rotate"))
    if media_box is None:
        media_box = page.mediabox  # none anywhere: pikepdf's default, as viewers do
    return _frame(media_box, crop_box, rotate)


def _own_boxes(obj: pikepdf.Object) -> tuple[Any, Any, Any]:
    """A page dictionary's own /MediaBox, /CropBox and /Rotate (None where absent)."""
    # ``in`` before ``get`` for keys that are often absent: a missing key costs pikepdf's
    # ``get`` five times as much. (qpdf gives a page without a /MediaBox a default one.)
    return (obj.get("/MediaBox"),
            obj.get("/CropBox") if "/CropBox" in obj else None,
            obj.get("/Rotate") if "/Rotate" in obj else None)


def _frame(media_box: Any, crop_box: Any, rotate: Any) -> PageFrame:
    media = _rect(media_box)
    crop = media if crop_box is None else _rect(crop_box)  # no /CropBox: the media box
    x0, y0 = max(media[0], crop[0]), max(media[1], crop[1])
    x1, y1 = min(media[2], crop[2]), min(media[3], crop[3])
    if x1 <= x0 or y1 <= y0:  # a crop box outside the media box: viewers fall back to media
        x0, y0, x1, y1 = media
    w, h = x1 - x0, y1 - y0
    rotate = 0 if rotate is None else int(round(float(rotate) / 90.0)) * 90 % 360
    if rotate == 90:
        return PageFrame(h, w, rotate, (0, 1, -1, 0, x0 + w, y0))
    if rotate == 180:
        return PageFrame(w, h, rotate, (-1, 0, 0, -1, x0 + w, y0 + h))
    if rotate == 270:
        return PageFrame(h, w, rotate, (0, -1, 1, 0, x0, y0 + h))
    return PageFrame(w, h, 0, (1, 0, 0, 1, x0, y0))


class _Frames:
    """``page_frame(page, pushed=True)`` for the pages of one file, each distinct set of boxes
    worked out once: a document's pages mostly share one size (the boxes' PDF source is the
    key, cheaper to get than their numbers)."""

    def __init__(self) -> None:
        self.known: dict[tuple, PageFrame] = {}

    def __call__(self, page: pikepdf.Page) -> PageFrame:
        media_box, crop_box, rotate = _own_boxes(page.obj)
        if media_box is None or not (rotate is None or type(rotate) is int):
            return page_frame(page, pushed=True)  # rare: not worth a key
        key = (media_box.unparse(), None if crop_box is None else crop_box.unparse(), rotate)
        frame = self.known.get(key)
        if frame is None:
            frame = self.known[key] = _frame(media_box, crop_box, rotate)
        return frame


_TREE_DEPTH = 64  # page trees deeper than this are broken or hostile: stop climbing


def _inherited(obj: pikepdf.Object, key: str) -> Any:
    """``key`` of a page, or of its nearest ancestor in the page tree that has it (/MediaBox,
    /CropBox, /Rotate and /Resources are inheritable); None when none has it."""
    for _ in range(_TREE_DEPTH):
        if key in obj:
            return obj.get(key)
        if "/Parent" not in obj:
            return None
        obj = obj.get("/Parent")
        if not isinstance(obj, pikepdf.Dictionary):
            return None
    return None


def _rect(box: Any) -> tuple[float, float, float, float]:
    r = pikepdf.Rectangle(box)  # a third of the time of converting four numbers one by one
    return min(r.llx, r.urx), min(r.lly, r.ury), max(r.llx, r.urx), max(r.lly, r.ury)


# --- stamping --------------------------------------------------------------------------------

def stamp_pdf(data: bytes, zones: Sequence[Zone], brand: Brand) -> bytes:
    """The vendor PDF with the partner's overlay on the zoned pages; everything else untouched.

    ``data`` must have passed ``inspect_pdf`` (this runs in-process, for speed): stamping never
    decodes the vendor's streams, so it does not inherit their risks.
    """
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except (pikepdf.PdfError, pikepdf.PasswordError) as exc:  # not inspected, or damaged
        raise _fail("This PDF cannot be opened for co-branding; upload it again.") from exc
    with pdf:
        zoned = {zone.page for zone in zones}
        pages: dict[int, pikepdf.Page] = {}
        frames: dict[int, PageFrame] = {}
        sizes: list[tuple[float, float]] = []
        frame_of = _Frames()  # opened as pikepdf does: boxes pushed down to the pages
        for index, page in enumerate(pdf.pages):
            if index in zoned:
                pages[index] = page
                frame = frames[index] = frame_of(page)
                sizes.append((frame.width, frame.height))
            else:
                sizes.append((0.0, 0.0))  # never checked: no zone points at it
        check_zones_fit(list(zones), sizes)
        # One overlay per distinct (size, zones) layout, shared by every page using it.
        on_page: dict[int, list[Zone]] = {}
        for zone in zones:
            on_page.setdefault(zone.page, []).append(zone)
        layouts: dict[tuple, tuple[Layout, list[int]]] = {}
        for index in sorted(zoned):
            frame = frames[index]
            key = layout_key(frame.width, frame.height, on_page[index])
            if key in layouts:
                layouts[key][1].append(index)
            else:
                layouts[key] = (Layout(frame.width, frame.height, tuple(on_page[index])),
                                [index])
        overlay = build_overlay([layout for layout, _ in layouts.values()], brand.values,
                                brand.logo, brand.prepared)
        forms = write_overlay(pdf, overlay)
        apply = _Applier(pdf)
        for number, (form, (_, page_indexes)) in enumerate(
                zip(forms, layouts.values(), strict=True)):
            name = f"/TcmaBrand{number}"
            for index in page_indexes:
                apply(pages[index], form, name, frames[index].matrix)
        return _save(pdf)


class _Applier:
    """Draws a form XObject over pages, sharing what pages can share.

    Each page gets ``q``, its own content untouched, ``Q``, then the overlay: the ``q`` stream
    is one object for all pages, and so is the closing stream of every page with the same
    resource name and matrix. This writes about a third of what pikepdf's ``add_resource`` and
    two ``contents_add`` per page would (a random name and two new streams per page).
    """

    def __init__(self, pdf: pikepdf.Pdf):
        self.pdf = pdf
        self.opening = pdf.make_stream(b"q\n")
        self.closings: dict[tuple, pikepdf.Stream] = {}

    def __call__(self, page: pikepdf.Page, form: pikepdf.Stream, name: str,
                 matrix: tuple[float, ...]) -> None:
        obj = page.obj
        resources = page.resources
        if "/XObject" not in resources:
            resources["/XObject"] = pikepdf.Dictionary()
        xobjects = resources.get("/XObject")
        # Pages may share one resources dictionary: the name is the layout's, so pages
        # sharing it also share the form. A vendor's own object of that name (a file that
        # was itself stamped) is never replaced: that page gets a fresh name.
        # (``in`` first: pikepdf's ``get`` of a missing key costs five times as much.)
        if name not in xobjects:
            xobjects[name] = form
        elif xobjects.get(name).objgen != form.objgen:
            name = str(pikepdf.Name.random(prefix="TcmaBrand"))
            xobjects[name] = form
        key = (name, matrix)
        closing = self.closings.get(key)
        if closing is None:
            cm = " ".join(_num(v) for v in matrix)
            closing = self.closings[key] = self.pdf.make_stream(
                f"\nQ\nq {cm} cm {name} Do Q\n".encode())
        # q ... Q around the vendor's content, so a graphics state it leaves behind (a
        # scale, a clip, a colour) cannot move or hide the overlay.
        contents = obj.get("/Contents")
        if contents is None:
            obj["/Contents"] = [self.opening, closing]
        elif isinstance(contents, pikepdf.Array):
            obj["/Contents"] = [self.opening, *contents, closing]
        else:
            obj["/Contents"] = [self.opening, contents, closing]


def _num(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".") or "0"


def _save(pdf: pikepdf.Pdf) -> bytes:
    """Write the stamped PDF with every existing stream passed through as it is."""
    out = io.BytesIO()
    # No decoding and no recompression: the vendor's streams are copied byte for byte (which
    # is also what makes saving fast), and our own new streams are a few bytes each.
    # 1.4 at least: the logo's soft mask (its transparency) does not exist in PDF 1.3.
    pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.preserve, min_version="1.4",
             compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    return out.getvalue()
