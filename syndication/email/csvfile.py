"""Uploaded CSV files: stored in parts, recognised (encoding, delimiter, header), streamed.

A contact file can hold 200,000 rows. It is never held in memory whole: the upload is copied
to storage in 1 MiB parts as it is read, and the worker reads it back part by part through a
text stream, one row at a time.

What people really upload is recognised: UTF-8 with or without a byte-order mark, UTF-16
("Unicode text" from Excel), Windows-1252 or Latin-1 (Excel's "CSV" on Windows); commas,
semicolons (European Excel) or tabs; Excel's ``sep=;`` first line. Spreadsheets, PDFs and
other binary files are refused with a message saying what to do instead.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from tcma.errors import FieldError, ValidationFailed
from tcma.storage import storage

PART_SIZE = 1 << 20
MAX_COLUMNS = 200
DELIMITERS = (",", ";", "\t")
#: A row longer than this many lines is a quote left open, swallowing the rows after it.
MAX_LINES_PER_ROW = 50
_SEP_LINE = re.compile(r"^\s*sep=(.)\s*$", re.IGNORECASE)
_MAGIC = (
    (b"PK\x03\x04", "This is an Excel workbook (or another ZIP file). In Excel, choose "
                    "File > Save As > CSV UTF-8 and upload that file."),
    (b"\xd0\xcf\x11\xe0", "This is an old Excel (.xls) file. In Excel, choose File > Save As "
                          "> CSV UTF-8 and upload that file."),
    (b"%PDF", "This is a PDF. Upload the contacts as a CSV file."),
    (b"\x89PNG", "This is an image. Upload the contacts as a CSV file."),
    (b"\xff\xd8\xff", "This is an image. Upload the contacts as a CSV file."),
)
NOT_TEXT = "The file is not a text CSV file. Save it as CSV UTF-8 and upload it again."


def refuse(message: str) -> ValidationFailed:
    return ValidationFailed([FieldError("file", message)])


@dataclass(frozen=True)
class StoredFile:
    key: str  # storage prefix of the parts
    parts: int
    size: int
    encoding: str
    delimiter: str
    columns: list[str]
    line_estimate: int


class _Detector:
    """Learns a file's encoding from its bytes as they stream past."""

    def __init__(self):
        self.utf8 = codecs.getincrementaldecoder("utf-8")()
        self.utf8_ok = True
        self.cp1252_ok = True
        self.bom: str | None = None
        self.newlines = 0
        self.returns = 0
        self.first = True

    def feed(self, chunk: bytes) -> None:
        if self.first:
            self.first = False
            for magic, message in _MAGIC:
                if chunk.startswith(magic):
                    raise refuse(message)
            if chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                self.bom = "utf-16"
            elif chunk.startswith(codecs.BOM_UTF8):
                self.bom = "utf-8-sig"
        self.newlines += chunk.count(b"\n")
        self.returns += chunk.count(b"\r")
        if self.bom == "utf-16":
            return
        if b"\x00" in chunk:
            raise refuse(NOT_TEXT)
        if self.utf8_ok:
            try:
                self.utf8.decode(chunk)
            except UnicodeDecodeError:
                self.utf8_ok = False
        if self.cp1252_ok and any(b in chunk for b in (b"\x81", b"\x8d", b"\x8f", b"\x90",
                                                         b"\x9d")):
            self.cp1252_ok = False  # bytes Windows-1252 leaves undefined: Latin-1 then

    def encoding(self) -> str:
        if self.bom == "utf-16":
            return "utf-16"
        if self.utf8_ok:
            try:
                self.utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                self.utf8_ok = False
        if self.utf8_ok:
            return self.bom or "utf-8"
        return "cp1252" if self.cp1252_ok else "latin-1"


def store_upload(stream: BinaryIO, key: str, *, max_bytes: int) -> StoredFile:
    """Copy an upload to storage in parts while learning its encoding; then read its header.
    Refuses (ValidationFailed on ``file``) files too large, empty, binary or headless; nothing
    stays stored then."""
    detector = _Detector()
    parts = size = 0
    try:
        while True:
            chunk = stream.read(PART_SIZE)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise refuse(f"The file is larger than {max_bytes / 1_048_576:.0f} MB; split "
                             "it into smaller files.")
            detector.feed(chunk)
            storage().put(f"{key}/part-{parts:05d}", chunk, "text/csv")
            parts += 1
        if size == 0:
            raise refuse("The file is empty.")
        encoding = detector.encoding()
        delimiter, columns = read_header(key, parts, encoding)
    except Exception:
        delete_parts(key, parts)
        raise
    lines = max(detector.newlines, detector.returns)
    return StoredFile(key, parts, size, encoding, delimiter, columns, lines)


def delete_parts(key: str, parts: int) -> None:
    for n in range(parts):
        storage().delete(f"{key}/part-{n:05d}")


class _Parts(io.RawIOBase):
    """The stored parts as one readable byte stream, one part in memory at a time."""

    def __init__(self, key: str, parts: int):
        self.key, self.parts, self.index = key, parts, 0
        self.buffer, self.offset = b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while self.offset >= len(self.buffer):
            if self.index >= self.parts:
                return 0
            self.buffer = storage().get(f"{self.key}/part-{self.index:05d}")
            self.index += 1
            self.offset = 0
        n = min(len(target), len(self.buffer) - self.offset)
        target[:n] = self.buffer[self.offset:self.offset + n]
        self.offset += n
        return n


def open_text(key: str, parts: int, encoding: str) -> io.TextIOWrapper:
    """The stored file as text, decoded as it is read; line endings kept for csv."""
    return io.TextIOWrapper(io.BufferedReader(_Parts(key, parts), PART_SIZE // 4),
                            encoding=encoding, errors="strict", newline="")


def _count_outside_quotes(line: str, char: str) -> int:
    count, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            count += 1
    return count


def _first_line(text: io.TextIOWrapper) -> tuple[str, str | None, int]:
    """(header line, delimiter named by an Excel ``sep=`` line or None, lines before it)."""
    first = text.readline()
    match = _SEP_LINE.match(first)
    if match and match.group(1) in DELIMITERS:
        return text.readline(), match.group(1), 1
    return first, None, 0


def read_header(key: str, parts: int, encoding: str) -> tuple[str, list[str]]:
    """The delimiter and the column names; refuses files without a usable header row."""
    with open_text(key, parts, encoding) as text:
        try:
            line, delimiter, _ = _first_line(text)
        except UnicodeDecodeError:
            raise refuse(NOT_TEXT) from None
    if sum(1 for c in line if c < " " and c not in "\t\r\n") > 0:
        raise refuse(NOT_TEXT)
    if delimiter is None:
        counts = {d: _count_outside_quotes(line, d) for d in DELIMITERS}
        delimiter = max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))
    cells = next(csv.reader([line], delimiter=delimiter), [])
    columns = [" ".join(c.replace("\ufeff", "").split()) for c in cells]
    while columns and not columns[-1]:
        columns.pop()  # spreadsheets' trailing separators
    if not columns:
        raise refuse("The first line of the file must name the columns (e.g. Email, First "
                     "name); it is empty.")
    if any("@" in c for c in columns):
        raise refuse("The first line of the file must name the columns (e.g. Email, First "
                     "name); it holds an email address. Add a header line and upload again.")
    if len(columns) > MAX_COLUMNS:
        raise refuse(f"The file has more than {MAX_COLUMNS} columns.")
    return delimiter, [c or f"Column {i + 1}" for i, c in enumerate(columns)]


class CsvBroken(Exception):
    """The file cannot be read on from here (e.g. a quote never closed)."""

    def __init__(self, line: int, reason: str):
        super().__init__(f"Line {line}: {reason}")
        self.line = line


def records(key: str, parts: int, encoding: str,
            delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line number where the row starts, cells) for every data row, streamed."""
    with open_text(key, parts, encoding) as text:
        header, _, skipped = _first_line(text)
        reader = csv.reader(itertools.chain([header], text), delimiter=delimiter)
        try:
            next(reader, None)
            previous = reader.line_num + skipped
            for cells in reader:
                line = reader.line_num + skipped
                if line - previous > MAX_LINES_PER_ROW:
                    raise CsvBroken(previous + 1, "a quoted value runs on for more than "
                                                  f"{MAX_LINES_PER_ROW} lines (is a quote "
                                                  "never closed?)")
                yield previous + 1, cells
                previous = line
        except csv.Error as exc:
            raise CsvBroken(previous + 1, f"{exc} (is a quote never closed?)") from None
        except UnicodeDecodeError:
            raise CsvBroken(previous + 1, "the text cannot be read in the file's "
                                          "encoding") from None


def sample(key: str, parts: int, encoding: str, delimiter: str, rows: int = 3) -> list[list[str]]:
    """The first few data rows, for the mapping page."""
    try:
        return [cells for _, cells in itertools.islice(records(key, parts, encoding, delimiter),
                                                        rows)]
    except CsvBroken:
        return []
