"""What an evidence file (bukti dukung) really is, judged by its content, never by its name or the sender's MIME type.

Accepted: PDF (the `%PDF-` signature at byte 0, a `%%EOF` near the end, pypdf reads its page tree, not encrypted),
JPG and PNG (their signatures, Pillow verifies them; a JPG is decoded at 1/8 scale so a truncated one is caught
without holding the full picture), DOCX and XLSX (a zip whose `[Content_Types].xml` names the main part of a Word
document or an Excel workbook, without macros; every member is read back with a running cap, so a zip bomb, a lying
header, a bad CRC or an encrypted member is refused). A file that is two things at once (a PDF with a zip at its end,
a picture or a zip carrying a PDF header) is refused too. `check_file` raises `BadFile` with one Indonesian sentence
saying what is wrong and what to send instead; `safe_name` gives the name the file is kept and sent under.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from PIL import Image, UnidentifiedImageError

KINDS = {
    "pdf": ("application/pdf", "PDF"),
    "jpg": ("image/jpeg", "gambar JPG"),
    "png": ("image/png", "gambar PNG"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "dokumen Word (DOCX)"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "lembar kerja Excel (XLSX)"),
}
"""Accepted kinds: extension -> (MIME type, how the kind is named to people)."""
EXTENSIONS = {"pdf": "pdf", "jpg": "jpg", "jpeg": "jpg", "png": "png", "docx": "docx", "xlsx": "xlsx"}
"""Extensions people use -> the kind they stand for."""
ACCEPTED = "PDF, JPG, PNG, DOCX atau XLSX"
MAX_PIXELS = 80_000_000
"""The largest picture accepted (width x height); larger ones are refused before anything is decoded."""
MAX_MEMBERS = 5000
MAX_UNZIPPED = 200 * 1024 * 1024
"""The most a DOCX/XLSX may hold once unpacked, in bytes (declared, and counted while reading it back)."""
MAX_RATIO = 100
"""The most a DOCX/XLSX may grow when unpacked (uncompressed / compressed): beyond it is a zip bomb."""
MAX_CONTENT_TYPES = 1024 * 1024
_MAIN_PARTS = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
}
_MACROS = ("macroenabled", "vbaproject")
_PDF_HEAD = b"%PDF-"
_JPG_HEAD = b"\xff\xd8\xff"
_PNG_HEAD = b"\x89PNG\r\n\x1a\n"
_ZIP_HEAD = b"PK\x03\x04"
_OLE_HEAD = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SAFE = re.compile(r"[^A-Za-z0-9 ._()-]+")

logging.getLogger("pypdf").setLevel(logging.ERROR)  # a damaged upload is refused with a reply, not logged at length


class BadFile(Exception):
    """The file cannot be accepted as evidence; the message says why and what to send instead (Indonesian)."""


@dataclass(frozen=True)
class Checked:
    """A file that passed: its kind (an `EXTENSIONS` value), MIME type and a few words about it ('PDF, 3 halaman')."""

    kind: str
    mime: str
    summary: str


def kind_label(kind: str) -> str:
    """'PDF', 'gambar JPG', ... for a kind."""
    return KINDS[kind][1]


def size_text(size: int) -> str:
    """'850 KB', '2,4 MB'."""
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1024 * 1024):.1f} MB".replace(".", ",")


def check_file(name: str, content: bytes, max_bytes: int) -> Checked:
    """Check `content` (sent as `name`) by what it contains; `BadFile` when it is not an accepted, sound file."""
    if not content:
        raise BadFile("Berkas itu kosong (0 byte). Mohon kirim ulang berkas buktinya.")
    if len(content) > max_bytes:
        raise BadFile(too_large(max_bytes))
    kind = _sniff(content)
    declared = EXTENSIONS.get(_extension(name))
    if kind is None:
        raise BadFile(_unknown(name, content))
    if declared is not None and declared != kind:
        raise BadFile(
            f"Nama berkasnya berakhiran .{_extension(name)}, tetapi isinya {kind_label(kind)}. "
            "Mohon periksa berkasnya, lalu kirim ulang berkas yang benar."
        )
    if kind == "pdf":
        summary = _check_pdf(content)
    elif kind in ("jpg", "png"):
        summary = _check_image(kind, content)
    else:
        summary = _check_office(kind, content)
    return Checked(kind, KINDS[kind][0], f"{summary}, {size_text(len(content))}")


def too_large(max_bytes: int) -> str:
    """The refusal of a file over the limit."""
    return (
        f"Berkas terlalu besar (lebih dari {size_text(max_bytes)}). Mohon perkecil berkasnya, misalnya simpan ulang "
        "PDF dengan ukuran lebih kecil atau bagi menjadi beberapa berkas, lalu kirim lagi."
    )


def safe_name(name: str | None, kind: str, fallback: str = "bukti") -> str:
    """The name a file is kept and sent under: no folders, plain ASCII letters, digits and ' ._()-', at most 100
    characters, ending in the extension of what it really is."""
    base = PurePosixPath((name or "").replace("\\", "/")).name
    stem = base.rsplit(".", 1)[0] if "." in base.strip(".") else base
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    cleaned = " ".join(_SAFE.sub("_", ascii_stem).split()).strip(" ._-")[:90]
    return f"{cleaned or fallback}.{kind}"


def _extension(name: str) -> str:
    base = PurePosixPath(name.replace("\\", "/")).name
    return base.rsplit(".", 1)[1].lower() if "." in base.strip(".") else ""


def _sniff(content: bytes) -> str | None:
    head = content[:8]
    if head.startswith(_PDF_HEAD):
        return "pdf"
    if head.startswith(_JPG_HEAD):
        return "jpg"
    if head.startswith(_PNG_HEAD):
        return "png"
    if head.startswith(_ZIP_HEAD):
        return _office_kind(content)
    return None


def _office_kind(content: bytes) -> str:
    """'docx' or 'xlsx' from the zip's content types; `BadFile` for any other zip."""
    archive = _open_zip(content)
    try:
        info = archive.getinfo("[Content_Types].xml")
    except KeyError:
        raise BadFile(f"Berkas zip itu bukan dokumen Word atau Excel. Mohon kirim {ACCEPTED}.") from None
    if info.file_size > MAX_CONTENT_TYPES:
        raise BadFile(_BOMB)
    try:
        types = archive.read(info).decode("utf-8", "replace").lower()
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError):
        raise BadFile(_BROKEN_OFFICE) from None
    if any(word in types for word in _MACROS):
        raise BadFile(
            "Dokumen yang memuat makro tidak diterima. "
            "Mohon simpan sebagai .docx/.xlsx biasa atau PDF, lalu kirim lagi."
        )
    for kind, part in _MAIN_PARTS.items():
        if part in types:
            return kind
    raise BadFile(f"Berkas Office itu bukan dokumen Word (DOCX) atau Excel (XLSX). Mohon kirim {ACCEPTED}.")


_BOMB = (
    "Berkas itu membesar berlipat-lipat saat dibuka (ciri berkas berbahaya), jadi tidak diterima. "
    "Mohon simpan ulang dokumennya sebagai PDF, lalu kirim lagi."
)
_BROKEN_OFFICE = (
    "Dokumen Word/Excel itu rusak atau tidak lengkap sehingga tidak dapat dibuka. "
    "Mohon simpan ulang dokumennya (atau sebagai PDF), lalu kirim lagi."
)


def _unknown(name: str, content: bytes) -> str:
    ext = _extension(name)
    if content.startswith(_OLE_HEAD):
        return (
            "Berkas itu berformat Office lama (.doc/.xls) atau dikunci dengan kata sandi. Mohon buka kuncinya dan "
            "simpan sebagai .docx/.xlsx atau PDF, lalu kirim lagi."
        )
    if ext in EXTENSIONS:
        return (
            f"Isinya bukan {kind_label(EXTENSIONS[ext])} yang sah (rusak, atau jenisnya keliru). "
            "Mohon periksa berkasnya, lalu kirim ulang."
        )
    shown = f" .{ext}" if ext and len(ext) <= 10 and ext.isalnum() else ""
    return f"Jenis berkas{shown} itu tidak diterima sebagai bukti dukung. Mohon kirim {ACCEPTED}."


def _open_zip(content: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise BadFile(_BROKEN_OFFICE) from None


def _carries_pdf(content: bytes) -> bool:
    """Whether a PDF reader would take this file too (a PDF header within its first kilobyte)."""
    return _PDF_HEAD in content[:1024]


def _polyglot() -> BadFile:
    return BadFile(
        "Isi berkas itu janggal: sekaligus berupa dua jenis berkas, jadi tidak diterima demi keamanan. "
        "Mohon simpan ulang dokumennya sebagai PDF, lalu kirim lagi."
    )


def _check_pdf(content: bytes) -> str:
    from pypdf import PdfReader

    if b"%%EOF" not in content[-2048:]:
        raise BadFile(_BROKEN_PDF)
    if zipfile.is_zipfile(io.BytesIO(content)):
        raise _polyglot()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(content), strict=False)
            if reader.is_encrypted:
                raise BadFile(
                    "PDF itu dikunci dengan kata sandi sehingga tidak dapat diperiksa verifikator. "
                    "Mohon kirim PDF tanpa kata sandi."
                )
            pages = len(reader.pages)
    except BadFile:
        raise
    except Exception:  # pypdf raises many kinds on a damaged file (PdfReadError, ValueError, KeyError, ...)
        raise BadFile(_BROKEN_PDF) from None
    if pages < 1:
        raise BadFile(_BROKEN_PDF)
    return f"PDF, {pages} halaman"


_BROKEN_PDF = (
    "PDF itu rusak atau tidak lengkap (mungkin terpotong saat dikirim) sehingga tidak dapat dibuka. "
    "Mohon kirim ulang berkas PDF-nya."
)


def _check_image(kind: str, content: bytes) -> str:
    if _carries_pdf(content) or zipfile.is_zipfile(io.BytesIO(content)):
        raise _polyglot()
    broken = BadFile(f"{kind_label(kind).capitalize()} itu rusak atau terpotong. Mohon kirim ulang gambarnya.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                width, height = image.size
                if image.format != ("JPEG" if kind == "jpg" else "PNG"):
                    raise broken
                if width * height > MAX_PIXELS:
                    raise BadFile("Gambar itu terlalu besar ukurannya. Mohon perkecil gambarnya, lalu kirim lagi.")
                image.verify()
            if kind == "jpg":  # verify() barely looks at a JPG: decode it (at 1/8 scale) to find a truncated one
                with Image.open(io.BytesIO(content)) as image:
                    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                    image.load()
    except BadFile:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        EOFError,
    ):
        raise broken from None
    return f"{kind_label(kind)}, {width}×{height} piksel"


def _check_office(kind: str, content: bytes) -> str:
    if _carries_pdf(content):
        raise _polyglot()
    archive = _open_zip(content)
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise BadFile(_BOMB)
    declared = sum(m.file_size for m in members)
    packed = sum(m.compress_size for m in members)
    if declared > MAX_UNZIPPED or declared > MAX_RATIO * max(packed, 1):
        raise BadFile(_BOMB)
    total = 0
    try:
        for member in members:
            if member.flag_bits & 0x1:
                raise BadFile(
                    "Dokumen itu dikunci dengan kata sandi. "
                    "Mohon buka kuncinya atau simpan sebagai PDF, lalu kirim lagi."
                )
            with archive.open(member) as stream:
                while chunk := stream.read(1024 * 1024):
                    total += len(chunk)
                    if total > MAX_UNZIPPED:
                        raise BadFile(_BOMB)
    except BadFile:
        raise
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError, ValueError):
        raise BadFile(_BROKEN_OFFICE) from None
    return kind_label(kind)
