"""Proof files: each accepted kind passes with what a reviewer needs to know, and each way a
file can be wrong (not what its name says, cut short, locked, empty, too large, not text) is
refused naming the file and saying what to do."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib

import pikepdf
import pytest
from PIL import Image

from mdf.proof import MAX_PROOF_BYTES, ProofCheck, check_proof_file
from tcma.errors import ValidationFailed


def refusal(data: bytes, filename: str, **kw) -> str:
    with pytest.raises(ValidationFailed) as refused:
        check_proof_file(data, filename, **kw)
    [error] = refused.value.errors
    assert error.field == "files"
    return error.message


def pdf_bytes(pages: int = 3, **save) -> bytes:
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out, **save)
    return out.getvalue()


def image_bytes(fmt: str, size=(1200, 800), noise: bool = False) -> bytes:
    # Noise keeps the compressed data long, so cutting it leaves a picture half drawn.
    image = (Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)) if noise
             else Image.new("RGB", size, (30, 110, 200)))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def zip_bytes(*names: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in names:
            archive.writestr(name, "<x/>")
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims to be ``width`` × ``height``: a decompression bomb's header."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0,
                                                             0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


# --- PDF -----------------------------------------------------------------------------------------


def test_a_pdf_invoice_passes_with_its_page_count():
    assert check_proof_file(pdf_bytes(3), "Invoice 2026-041.PDF") == ProofCheck(
        kind="pdf", mimetype="application/pdf", extension="pdf", detail="3 pages")
    assert check_proof_file(pdf_bytes(1), "receipt.pdf").detail == "1 page"
    # Permission restrictions alone (no password to open it) are common on invoices.
    restricted = pdf_bytes(2, encryption=pikepdf.Encryption(owner="vendor-secret", user=""))
    assert check_proof_file(restricted, "restricted.pdf").detail == "2 pages"


def test_pdfs_that_cannot_be_read_are_refused_with_what_to_do():
    locked = pdf_bytes(encryption=pikepdf.Encryption(owner="owner", user="open-sesame"))
    assert refusal(locked, "invoice.pdf") == (
        "invoice.pdf: the PDF is protected by a password; save or print it as a new PDF "
        "without a password and upload that")
    whole = pdf_bytes(3)
    assert "the PDF is incomplete" in refusal(whole[:len(whole) // 2], "invoice.pdf")
    assert "the PDF is damaged and cannot be read" in refusal(
        b"%PDF-1.7\nnot really a document\n%%EOF\n", "invoice.pdf")
    assert refusal(pdf_bytes(0), "invoice.pdf") == "invoice.pdf: the PDF has no pages"


def test_a_renamed_zip_is_not_a_pdf_and_office_files_are_named_for_what_they_are():
    assert refusal(zip_bytes("notes.txt"), "invoice.pdf") == (
        "invoice.pdf: not a PDF (it looks like a ZIP archive); upload PDF, PNG, JPEG, WebP "
        "or CSV")
    assert refusal(zip_bytes("word/document.xml"), "invoice.pdf") == (
        "invoice.pdf: not a PDF (it looks like a Word document); save or print it as PDF and "
        "upload that")
    assert refusal(zip_bytes("xl/workbook.xml"), "attendees.csv") == (
        "attendees.csv: not a CSV file (it looks like an Excel workbook); save it from your "
        "spreadsheet as “CSV UTF-8” and upload that")
    assert "not a PDF (it looks like plain text)" in refusal(b"just,some\ntext,here\n",
                                                             "invoice.pdf")


# --- images ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt, filename, kind, mimetype, extension", [
    ("PNG", "booth.png", "png", "image/png", "png"),
    ("JPEG", "booth photo.JPG", "jpeg", "image/jpeg", "jpg"),
    ("JPEG", "booth.jpeg", "jpeg", "image/jpeg", "jpg"),
    ("WEBP", "screenshot.webp", "webp", "image/webp", "webp"),
])
def test_photos_and_screenshots_pass_with_their_size(fmt, filename, kind, mimetype, extension):
    assert check_proof_file(image_bytes(fmt), filename) == ProofCheck(
        kind=kind, mimetype=mimetype, extension=extension, detail="1200×800")


def test_an_image_whose_extension_lies_is_refused_saying_what_it_really_is():
    assert refusal(image_bytes("JPEG"), "booth.png") == (
        "booth.png: not a PNG image (it is a JPEG image); rename it to booth.jpg and upload "
        "it again")
    assert refusal(image_bytes("PNG"), "scan.pdf").startswith(
        "scan.pdf: not a PDF (it is a PNG image); rename it to scan.png")
    assert "not a JPEG image (it looks like a GIF image)" in refusal(
        image_bytes("GIF"), "booth.jpg")


@pytest.mark.parametrize("fmt, filename", [("PNG", "booth.png"), ("JPEG", "booth.jpg")])
def test_a_truncated_image_is_refused(fmt, filename):
    whole = image_bytes(fmt, (600, 400), noise=True)
    assert refusal(whole[:len(whole) // 2], filename) == (
        f"{filename}: the image is incomplete: the file stops before the picture ends, as if "
        "the upload or export was cut short; upload the complete file")


def test_a_decompression_bomb_is_refused_from_its_header():
    assert Image.MAX_IMAGE_PIXELS < 10_000 * 10_000 < 2 * Image.MAX_IMAGE_PIXELS
    for width, height in ((10_000, 10_000), (60_000, 60_000)):  # Pillow's warning, its error
        assert refusal(png_header_only(width, height), "poster.png") == (
            "poster.png: the image has far too many pixels to open safely; upload a smaller "
            "version")


def test_a_damaged_image_is_refused():
    data = bytearray(image_bytes("PNG"))
    data[40:60] = b"\xff" * 20  # inside the first chunk: its checksum no longer matches
    assert "booth.png: the image is damaged and cannot be read" in refusal(bytes(data),
                                                                          "booth.png")


# --- CSV -------------------------------------------------------------------------------------


def test_attendee_lists_pass_in_the_encodings_and_separators_spreadsheets_write():
    rows = "name,email,company\nJürgen Müller,jm@example.com,Müller GmbH\n" \
           "Inés Castañeda-Øster,ico@example.com,\"Øster, Castañeda & Co\"\n"
    for data in (rows.encode("utf-8"), rows.encode("utf-8-sig"), rows.encode("cp1252")):
        assert check_proof_file(data, "attendees.csv") == ProofCheck(
            kind="csv", mimetype="text/csv", extension="csv", detail="3 rows, 3 columns")
    # Excel in much of Europe separates with semicolons and writes CRLF
    semicolons = "Name;E-Mail\r\nMüller;m@example.com\r\nBauer;b@example.com\r\n\r\n"
    assert check_proof_file(semicolons.encode("cp1252"), "Teilnehmer.CSV").detail == (
        "3 rows, 2 columns")
    assert check_proof_file(b"email\na@example.com\n", "list.csv").detail == "2 rows, 1 column"


def test_csvs_that_are_not_clean_text_are_refused():
    assert refusal(b"name,email\nMu\x00ller,m@example.com\n", "attendees.csv") == (
        "attendees.csv: the file contains NUL bytes, so it is not a text CSV file; export the "
        "list again as CSV")
    assert refusal("name,email\nMüller,m@example.com\n".encode("utf-16"), "attendees.csv") == (
        "attendees.csv: the CSV is saved as UTF-16 (“Unicode text”); save it as “CSV UTF-8” "
        "and upload that")
    assert refusal(b"name,email\n\x81\x8d,m@example.com\n", "attendees.csv") == (
        "attendees.csv: the text is neither UTF-8 nor Windows-1252; save it as “CSV UTF-8” "
        "and upload that")
    assert refusal(b"name,email\nMuller,m@example.com\nBauer,b@example.com,extra\n",
                   "attendees.csv") == (
        "attendees.csv: its rows have different numbers of columns (line 1 has 2, line 3 has "
        "3); check the separators and quotes, or export it again")
    assert refusal(b" \r\n\r\n", "attendees.csv") == "attendees.csv: the CSV file has no rows"


# --- any kind ----------------------------------------------------------------------------


def test_empty_unknown_and_nameless_files_are_refused():
    assert refusal(b"", "invoice.pdf") == "invoice.pdf: empty file (0 bytes); choose the file again"
    assert refusal(b"MZ\x90\x00", "setup.exe") == (
        "setup.exe: extension .exe is not accepted; upload PDF, PNG, JPEG, WebP or CSV")
    assert refusal(pdf_bytes(), "invoice") == (
        "invoice: the file name has no extension; upload PDF, PNG, JPEG, WebP or CSV")
    assert refusal(b"MZ\x90\x00rest", "invoice.pdf") == (
        "invoice.pdf: not a PDF (it looks like a Windows program); upload PDF, PNG, JPEG, "
        "WebP or CSV")
    # Browsers on Windows may send the folder too; the partner knows the file by its name.
    assert refusal(b"", "C:\\fakepath\\invoice.pdf").startswith("invoice.pdf: empty file")


def test_too_large_files_are_refused_before_they_are_opened():
    assert MAX_PROOF_BYTES == 20 * 1024 * 1024
    big = pikepdf.new()
    big.add_blank_page()
    big.Root.Padding = big.make_stream(os.urandom(MAX_PROOF_BYTES + 1024 * 1024))
    out = io.BytesIO()
    big.save(out, compress_streams=False)
    data = out.getvalue()
    assert refusal(data, "brochure scan.pdf") == (
        f"brochure scan.pdf: too large: {len(data) / 1024 / 1024:.1f} MB, the limit is 20 MB")
    assert len(pdf_bytes()) < 1024
    assert refusal(pdf_bytes(), "invoice.pdf", max_bytes=500) == (
        f"invoice.pdf: too large: {len(pdf_bytes())} bytes, the limit is 500 bytes")
    assert check_proof_file(pdf_bytes(), "invoice.pdf", max_bytes=len(pdf_bytes())).detail == (
        "3 pages")
