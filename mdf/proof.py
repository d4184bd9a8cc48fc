"""Proof files for claims: invoices, photos, attendee lists, screenshots, checked by content.

A file's name is only what the partner says it is; its bytes decide. Each upload is
identified by its magic bytes, must agree with its extension, and is then opened by a real
parser (pikepdf for PDF, Pillow for images, the csv module for CSV), so a renamed archive,
a cut-short download, a password-protected invoice or a spreadsheet saved in the wrong
format is refused with a message that says what the file really is and what to do.
"""

from __future__ import annotations

import csv
import io
import re
import struct
import warnings
from dataclasses import dataclass

import pikepdf
from PIL import Image, UnidentifiedImageError

from tcma.bounded import run_bounded
from tcma.errors import FieldError, ValidationFailed

#: The kinds of proof a claim accepts.
ALLOWED = ("pdf", "png", "jpeg", "webp", "csv")
MB = 1024 * 1024
MAX_PROOF_BYTES = 20 * MB
#: Bounds of the child process that opens a PDF or an image (``tcma.bounded``).
OPEN_SECONDS = 15.0
OPEN_MEMORY_MB = 512
#: A file's extension (lower case) and the kind it promises.
EXTENSIONS = {"pdf": "pdf", "png": "png", "jpg": "jpeg", "jpeg": "jpeg", "webp": "webp",
              "csv": "csv"}
MIMETYPES = {"pdf": "application/pdf", "png": "image/png", "jpeg": "image/jpeg",
             "webp": "image/webp", "csv": "text/csv"}
#: The extension a checked file is stored under.
STORED_EXTENSIONS = {"pdf": "pdf", "png": "png", "jpeg": "jpg", "webp": "webp", "csv": "csv"}
NAMES = {"pdf": "a PDF", "png": "a PNG image", "jpeg": "a JPEG image", "webp": "a WebP image",
         "csv": "a CSV file"}
_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
ACCEPTED_WORDS = "upload PDF, PNG, JPEG, WebP or CSV"
#: Rows a CSV's column count is checked on: enough to catch a wrong separator or a broken
#: export, without parsing a 20 MB list twice.
CSV_SAMPLE_ROWS = 200
CSV_SEPARATORS = (",", ";", "\t", "|")
#: Office formats: the partner has the document, just not saved as what we take.
_OFFICE = ("a Word document", "an Excel workbook", "a PowerPoint presentation",
           "an OpenDocument file", "an older Office document (.doc, .xls, .ppt)",
           "an RTF document", "a web page (HTML)")
UTF16 = "UTF-16 text"
UNKNOWN = "binary data of a kind we do not recognise"


@dataclass(frozen=True)
class ProofCheck:
    """What a proof file turned out to be, once opened."""

    kind: str  # one of ALLOWED
    mimetype: str
    extension: str  # what to store it under: pdf, png, jpg, webp, csv
    detail: str  # for the reviewer: "3 pages", "1200×800", "154 rows, 5 columns"


def check_proof_file(data: bytes, filename: str, *,
                     max_bytes: int = MAX_PROOF_BYTES) -> ProofCheck:
    """Identify and open an uploaded proof file; ValidationFailed on the ``files`` field,
    naming the file, when it is empty, too large, of a kind we do not take, not what its
    extension says, or damaged."""
    name = display_name(filename)

    def refuse(problem: str) -> ValidationFailed:
        return ValidationFailed([FieldError("files", f"{name}: {problem}")])

    if not data:
        raise refuse("empty file (0 bytes); choose the file again")
    if len(data) > max_bytes:
        raise refuse(f"too large: {_size(len(data))}, the limit is {_size(max_bytes)}")
    extension = name.rsplit(".", 1)[1].lower() if "." in name.strip(".") else ""
    promised = EXTENSIONS.get(extension)
    if promised is None:
        if not extension:
            raise refuse(f"the file name has no extension; {ACCEPTED_WORDS}")
        raise refuse(f"extension .{extension} is not accepted; {ACCEPTED_WORDS}")
    kind, looks = sniff(data)
    if promised == "csv":
        # UTF-16 text and unknown bytes go on to the CSV checks, which say more about them.
        if kind != "text" and looks not in (UTF16, UNKNOWN):
            verb = "is" if kind in ALLOWED else "looks like"
            raise refuse(f"not a CSV file (it {verb} {looks})"
                         f"{_advice(kind, looks, 'csv', name)}")
        rows, columns = _check_csv(data, refuse)
        detail = f"{_count(rows, 'row')}, {_count(columns, 'column')}"
    elif kind != promised:
        verb = "is" if kind in ALLOWED else "looks like"
        raise refuse(f"not {NAMES[promised]} (it {verb} {looks})"
                     f"{_advice(kind, looks, promised, name)}")
    else:
        # Parsers meet partners' uploads here: open them in a child process with a time and
        # memory bound, so a file built to explode costs a refusal, not a web process.
        result, _ = run_bounded("mdf.proof:_open_here", data, {"kind": kind},
                                what=NAMES[kind].split(" ", 1)[-1], timeout=OPEN_SECONDS,
                                memory_mb=OPEN_MEMORY_MB, field="files", prefix=f"{name}: ")
        detail = result["detail"]
    return ProofCheck(kind=promised, mimetype=MIMETYPES[promised],
                      extension=STORED_EXTENSIONS[promised], detail=detail)


def display_name(filename: str) -> str:
    """The file's own name as the partner knows it: no folders (browsers on Windows may
    send ``C:\\fakepath\\...``), no control characters, not endlessly long."""
    base = re.split(r"[\\/]", filename or "")[-1]
    base = "".join(c for c in base if c.isprintable()).strip()
    if len(base) > 120:
        stem, dot, ext = base.rpartition(".")
        base = (stem[:100] + "…" + dot + ext[:10]) if dot else base[:120]
    return base or "the file"


def _size(n: int) -> str:
    """Bytes as people read them: "31.2 MB", "20 MB" (a whole number only when exact)."""
    for unit, word in ((MB, "MB"), (1024, "KB")):
        if n >= unit:
            whole, rest = divmod(n, unit)
            return f"{whole} {word}" if not rest else f"{n / unit:.1f} {word}"
    return _count(n, "byte")


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


# --- what the bytes are ------------------------------------------------------------------------


def sniff(data: bytes) -> tuple[str | None, str]:
    """(kind, what it looks like in words) from the file's first bytes. ``kind`` is one of
    pdf, png, jpeg, webp, "text" (no binary signature, no NUL in the start), or None."""
    head = data[:4096]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png", "a PNG image"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg", "a JPEG image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp", "a WebP image"
    if b"%PDF-" in head[:1024]:  # the format lets a little junk come before the header
        return "pdf", "a PDF"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        for marker, words in ((b"word/", "a Word document"), (b"xl/", "an Excel workbook"),
                              (b"ppt/", "a PowerPoint presentation"),
                              (b"application/vnd.oasis.opendocument", "an OpenDocument file")):
            if marker in head:
                return None, words
        return None, "a ZIP archive"
    signatures = (
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an older Office document (.doc, .xls, .ppt)"),
        (b"GIF87a", "a GIF image"), (b"GIF89a", "a GIF image"),
        (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"),
        (b"MZ", "a Windows program"), (b"\x7fELF", "a program"),
        (b"Rar!\x1a\x07", "a RAR archive"), (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
        (b"\x1f\x8b", "a gzip archive"), (b"{\\rtf", "an RTF document"),
        (b"8BPS", "a Photoshop document"), (b"\x00\x00\x01\x00", "an icon"),
    )
    for magic, words in signatures:
        if head.startswith(magic):
            return None, words
    if head[:2] == b"BM" and head[6:10] == b"\x00\x00\x00\x00":
        return None, "a BMP image"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
            return None, "a HEIC photo (the iPhone's format)"
        if brand in (b"avif", b"avis"):
            return None, "an AVIF image"
        return None, "a video"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, UTF16
    if b"\x00" in head:
        return None, UNKNOWN
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith((b"<!doctype html", b"<html")):
        return None, "a web page (HTML)"
    return "text", "plain text"


def _advice(kind: str | None, looks: str, promised: str, name: str) -> str:
    """What the partner can do about a file that is not what its name says."""
    if kind in ALLOWED:
        stem = name.rsplit(".", 1)[0]
        return f"; rename it to {stem}.{STORED_EXTENSIONS[kind]} and upload it again"
    if promised == "csv" and looks in ("an Excel workbook", "an OpenDocument file",
                                       "an older Office document (.doc, .xls, .ppt)"):
        return "; save it from your spreadsheet as “CSV UTF-8” and upload that"
    if looks in _OFFICE:
        return "; save or print it as PDF and upload that"
    if looks.startswith("a HEIC"):
        return "; export it as JPEG (or set the camera to “Most compatible”) and upload that"
    return f"; {ACCEPTED_WORDS}"


# --- opening it ----------------------------------------------------------------------------


def _open_here(data: bytes, args: dict) -> tuple[dict, bytes]:
    """In the bounded child: open a PDF or an image and describe it."""
    from tcma.bounded import Refused

    def refuse(problem: str) -> Refused:
        return Refused(problem, field="files")

    kind = args["kind"]
    if kind == "pdf":
        return {"detail": _count(_check_pdf(data, refuse), "page")}, b""
    width, height = _check_image(data, kind, refuse)
    return {"detail": f"{width}×{height}"}, b""


def _check_pdf(data: bytes, refuse) -> int:
    """The page count of a PDF that opens without a password."""
    if b"%%EOF" not in data[-4096:]:
        raise refuse("the PDF is incomplete: it stops before its end, as if the download or "
                     "export was cut short; upload the complete file")
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            pages = len(pdf.pages)
    except pikepdf.PasswordError:
        raise refuse("the PDF is protected by a password; save or print it as a new PDF "
                      "without a password and upload that") from None
    except (pikepdf.PdfError, RecursionError, ValueError, KeyError, TypeError):
        raise refuse("the PDF is damaged and cannot be read; export it again and upload the "
                      "new copy") from None
    if pages == 0:
        raise refuse("the PDF has no pages")
    return pages


def _check_image(data: bytes, kind: str, refuse) -> tuple[int, int]:
    """(width, height) of an image that opens, verifies and decodes completely."""
    formats = [_PIL_FORMATS[kind]]
    try:
        with warnings.catch_warnings():
            # Pillow only warns above Image.MAX_IMAGE_PIXELS (it fails at twice that), from
            # the header alone, before any decoding: refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=formats) as image:
                size = image.size
                image.verify()  # checksums and structure, without decoding
            with Image.open(io.BytesIO(data), formats=formats) as image:
                image.load()  # decodes every pixel: finds a picture cut short
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise refuse("the image has far too many pixels to open safely; upload a smaller "
                     "version") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error,
            EOFError, IndexError) as exc:
        if isinstance(exc, EOFError) or "truncated" in str(exc).lower():
            raise refuse("the image is incomplete: the file stops before the picture ends, "
                         "as if the upload or export was cut short; upload the complete "
                         "file") from None
        raise refuse(f"the image is damaged and cannot be read ({str(exc)[:80]}); export it "
                     "again and upload the new copy") from None
    return size


def _check_csv(data: bytes, refuse) -> tuple[int, int]:
    """(rows, columns) of a CSV in UTF-8 (with or without BOM) or Windows-1252 whose rows
    have one column count throughout the sample."""
    if b"\x00" in data:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise refuse("the CSV is saved as UTF-16 (“Unicode text”); save it as “CSV "
                         "UTF-8” and upload that")
        raise refuse("the file contains NUL bytes, so it is not a text CSV file; export "
                     "the list again as CSV")
    text = _decode(data)
    if text is None:
        raise refuse("the text is neither UTF-8 nor Windows-1252; save it as “CSV UTF-8” "
                      "and upload that")
    separator, columns, problem = _layout(text)
    if problem:
        raise refuse(problem)
    rows = 0
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=separator):
            if any(cell.strip() for cell in row):
                rows += 1
    except csv.Error as exc:
        raise refuse(f"it cannot be read as CSV ({exc}); export the list again") from None
    if rows == 0:
        raise refuse("the CSV file has no rows")
    return rows, columns


def _decode(data: bytes) -> str | None:
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8")
        except UnicodeDecodeError:
            return None
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _layout(text: str) -> tuple[str, int, str | None]:
    """(separator, column count, problem): the separator whose sample rows all have the
    same number of columns (the most columns wins), or a problem naming two lines that
    disagree under the likeliest separator."""
    best: tuple[str, int] | None = None
    disagreement: dict[str, str] = {}
    for separator in CSV_SEPARATORS:
        counts: list[tuple[int, int]] = []  # (line, columns)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
        try:
            for row in reader:
                if any(cell.strip() for cell in row):
                    counts.append((reader.line_num, len(row)))
                if len(counts) >= CSV_SAMPLE_ROWS:
                    break
        except csv.Error as exc:
            disagreement[separator] = (f"it cannot be read as CSV (line {reader.line_num}: "
                                       f"{exc}); export the list again")
            continue
        if not counts:
            return ",", 0, "the CSV file has no rows"
        widths = {n for _, n in counts}
        if len(widths) == 1:
            if best is None or counts[0][1] > best[1]:
                best = (separator, counts[0][1])
        else:
            first_line, first = counts[0]
            line, other = next((ln, n) for ln, n in counts if n != first)
            disagreement[separator] = (
                f"its rows have different numbers of columns (line {first_line} has {first}, "
                f"line {line} has {other}); check the separators and quotes, or export it "
                "again")
    if best is not None and (best[1] > 1 or not disagreement):
        return best[0], best[1], None
    header = text.split("\n", 1)[0]
    likeliest = max(CSV_SEPARATORS, key=header.count)
    return likeliest, 0, disagreement.get(likeliest) or next(iter(disagreement.values()))
