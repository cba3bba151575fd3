"""Every roster file problem gets one plain Indonesian message, never a traceback, and nothing is written: a file
that is missing, a folder, an odd or over-long name, empty, random bytes, a broken or password-protected workbook,
a CSV whose delimiter or columns cannot be found, a row or cell too long. CSV is read by the csv module in the
encoding Excel wrote (UTF-8 with or without BOM, UTF-16, Windows-1252: then the preview says so), quotes and all;
a long file is read row by row and the command line reports its progress."""

from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlmodel import func, select

from bot.cli import main
from models.app import Deps
from models.db import Database
from models.roster import COLUMNS, RosterError, plan_roster, read_bytes, stream_rows
from models.tables import Contact, Unit
from tests.conftest import ADMIN, contact_named
from tests.handlers.test_roster_chat import send_file, tap

HEADER = ",".join(COLUMNS)
NOT_READABLE = (
    "Berkas ini bukan berkas CSV atau XLSX yang dapat dibaca. "
    "Simpan roster dari Excel sebagai .xlsx atau CSV UTF-8, lalu coba lagi."
)
BROKEN_XLSX = (
    "Berkas XLSX rusak atau tidak lengkap (mungkin terpotong saat disalin atau dikirim). "
    "Buka di Excel, simpan ulang sebagai .xlsx, lalu coba lagi."
)
CP1252_NOTE = (
    "Berkas dibaca sebagai Windows-1252 (bukan UTF-8): periksa huruf seperti é atau ä di pratinjau. "
    "Lebih aman: di Excel pilih Simpan sebagai → “CSV UTF-8 (dipisah koma)”."
)
TOO_LONG = (
    'terlalu panjang (lebih dari 10.000 karakter). Periksa tanda kutip (") yang tidak ditutup, atau pendekkan isinya.'
)
KNOWN = (
    "Judul kolom yang dikenal: unit_code, unit_name, unit_kind, parent_code, aliases, contact_name, role, phone, "
    "telegram_id, nip, jabatan."
)
BUDI = "DINKES,Dinas Kesehatan,dinas,,dinkes,Budi Santoso,kepala,0812-1111-2222,,,Kepala Dinas"


def workbook(*rows: list[object]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [list(COLUMNS), *rows]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def problems(db: Database, content: bytes, name: str = "roster.csv") -> list[str]:
    with db.uow() as uow, pytest.raises(RosterError) as info:
        plan_roster(uow.session, read_bytes(name, content))
    return [str(p) for p in info.value.problems]


def preview(db: Database, content: bytes, name: str = "roster.csv") -> str:
    with db.uow() as uow:
        return plan_roster(uow.session, read_bytes(name, content)).describe()


def units(db: Database) -> int:
    with db.uow() as uow:
        return int(uow.session.exec(select(func.count()).select_from(Unit)).one())


@pytest.fixture
def cli(sqlite_db: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """`sigap` pointed at an empty, migrated SQLite database."""
    monkeypatch.setenv("SIGAP_DATABASE_URL", sqlite_db.url)
    monkeypatch.setenv("SIGAP_LOG_LEVEL", "WARNING")
    return sqlite_db


def refused(path: Path | str, capsys: pytest.CaptureFixture[str], shown: str | None = None) -> list[str]:
    """What `sigap import roster PATH` prints when it refuses the file (it must exit 1 and print nothing else)."""
    assert main(["import", "roster", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == f"Roster {shown or path} tidak diimpor; tidak ada yang ditulis. Perbaiki dulu:"
    return lines[1:]


# ------------------------------------------------------------------------------------------- the file itself


def test_a_missing_file_a_folder_and_odd_names_are_named_not_crashed_on(
    cli: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert refused(tmp_path / "hilang.csv", capsys) == ["  - Berkas tidak ditemukan. Periksa nama dan foldernya."]
    assert refused(tmp_path, capsys) == [
        "  - Ini sebuah folder, bukan berkas. Sebutkan berkas .csv atau .xlsx di dalamnya."
    ]
    long_name = tmp_path / ("a" * 300 + ".csv")
    text = str(long_name)
    assert refused(long_name, capsys, shown=f"{text[:100]}…{text[-99:]}") == [
        "  - Nama berkas (atau foldernya) terlalu panjang untuk dibuka. "
        "Ganti dengan nama yang lebih pendek (mis. roster.csv), lalu coba lagi."
    ]
    assert refused(tmp_path / "roster\x00.csv", capsys, shown=f"{tmp_path}/roster\ufffd.csv") == [
        "  - Nama berkas berisi karakter yang tidak sah. Ganti namanya (mis. roster.csv), lalu coba lagi."
    ]
    pdf = tmp_path / "roster.pdf"
    pdf.write_bytes(b"%PDF-1.7")
    assert refused(pdf, capsys) == ["  - Jenis berkas .pdf tidak didukung; pakai .xlsx atau .csv."]
    assert units(cli) == 0


def test_a_name_with_a_line_break_and_a_byte_that_is_not_utf8_is_shown_safely(
    cli: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = tmp_path / "roster\nbaru\udcff.csv"  # the bytes b"roster\nbaru\xff.csv" on disk
    odd.write_text(f"{HEADER}\n{BUDI}\n", encoding="utf-8")
    assert main(["import", "roster", str(odd)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Pratinjau roster roster\ufffdbaru\ufffd.csv (belum ada yang ditulis):\nUnit baru (1):\n")
    assert out.endswith(f"Untuk menerapkan: sigap import roster '{tmp_path}/roster\ufffdbaru\ufffd.csv' --apply\n")


def test_empty_files_and_random_bytes(cli: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = "  - Berkas roster kosong. Baris pertama harus berisi judul kolom (unit_code, unit_name, unit_kind, …)."
    for name, content in (("kosong.csv", b""), ("kosong.xlsx", b""), ("baris-kosong.csv", b"\r\n,,,,\n\n")):
        path = tmp_path / name
        path.write_bytes(content)
        assert refused(path, capsys) == [empty], name
    for name in ("acak.csv", "acak.xlsx", "acak.txt"):
        path = tmp_path / name
        path.write_bytes(os.urandom(4096))
        assert refused(path, capsys) == [f"  - {NOT_READABLE}"], name
    assert units(cli) == 0


def test_broken_truncated_and_password_protected_workbooks(sqlite_db: Database) -> None:
    whole = workbook(BUDI.split(","))
    for cut in (10, 200, len(whole) // 2, len(whole) - 22, len(whole) - 1):
        assert problems(sqlite_db, whole[:cut], "roster.xlsx") == [BROKEN_XLSX], cut
    damaged = bytearray(whole)  # the zip's directory intact, a sheet's compressed bytes not
    with zipfile.ZipFile(io.BytesIO(whole)) as archive:
        sheet = archive.getinfo("xl/worksheets/sheet1.xml")
    name_length, extra_length = struct.unpack("<HH", whole[sheet.header_offset + 26 : sheet.header_offset + 30])
    start = sheet.header_offset + 30 + name_length + extra_length + 8
    damaged[start : start + 40] = bytes(40)
    assert problems(sqlite_db, bytes(damaged), "roster.xlsx") == [BROKEN_XLSX]

    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)  # how Office stores an encrypted workbook or an old .xls
    assert problems(sqlite_db, ole2 + "EncryptionInfo".encode("utf-16-le") + bytes(64), "roster.xlsx") == [
        "Berkas XLSX ini dilindungi kata sandi, jadi tidak dapat dibaca. Simpan salinannya tanpa kata sandi, lalu "
        "coba lagi."
    ]
    assert problems(sqlite_db, ole2 + bytes(64), "lama.xlsx") == [
        "Berkas ini berformat Excel lama (.xls). Simpan sebagai .xlsx atau CSV UTF-8, lalu coba lagi."
    ]
    # what the content is decides, not the name: a workbook saved as .csv, a CSV renamed .xlsx
    assert "+ Budi Santoso, kepala Dinas Kesehatan (DINKES)" in preview(sqlite_db, whole, "roster.csv")
    assert "+ Budi Santoso, kepala Dinas Kesehatan (DINKES)" in preview(
        sqlite_db, f"{HEADER}\n{BUDI}\n".encode(), "roster.xlsx"
    )


def test_a_workbook_that_misstates_its_size_is_read_whole(sqlite_db: Database) -> None:
    whole = workbook(BUDI.split(","), ["DISDIK", "Dinas Pendidikan", "dinas"])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(whole)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<dimension ref="A1:K3"/>', b'<dimension ref="A1"/>')
                assert b'<dimension ref="A1"/>' in data
            target.writestr(item, data)
    assert "Unit baru (2):" in preview(sqlite_db, out.getvalue(), "roster.xlsx")


# ------------------------------------------------------------------------------------ delimiters and columns


def test_a_csv_with_one_column_says_which_delimiters_were_tried(
    cli: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    piped = tmp_path / "roster.csv"
    piped.write_text("unit_code|unit_name|unit_kind\nDINKES|Dinas Kesehatan|dinas\n", encoding="utf-8")
    assert refused(piped, capsys) == [
        "  - Pemisah kolom tidak ditemukan: sudah dicoba koma (,), titik koma (;) dan tab, tetapi baris judul tetap "
        "terbaca sebagai satu kolom: “unit_code|unit_name|unit_kind”. Pisahkan kolom dengan koma (di Excel: Simpan "
        "sebagai → “CSV UTF-8 (dipisah koma)”), lalu coba lagi."
    ]
    alone = tmp_path / "kode.csv"
    alone.write_text("unit_code\nDINKES\n", encoding="utf-8")
    assert refused(alone, capsys) == [
        f"  - Baris judul (baris 1) tidak memuat kolom wajib unit_name, unit_kind; terbaca: “unit_code”. {KNOWN}"
    ]


def test_missing_columns_are_named_and_unknown_ones_noted(sqlite_db: Database) -> None:
    assert problems(sqlite_db, b"Kode,Nama Unit,unit_kind\nDINKES,Dinas Kesehatan,dinas\n") == [
        f"Baris judul (baris 1) tidak memuat kolom wajib unit_code, unit_name; terbaca: “kode, nama unit, "
        f"unit_kind”. {KNOWN}"
    ]
    text = preview(sqlite_db, f"{HEADER},telepon\n{BUDI},0812\n".encode())
    assert "Perhatian:\n  ! Kolom telepon tidak dikenal, jadi isinya diabaikan." in text


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolons_and_tabs_are_found(sqlite_db: Database, delimiter: str) -> None:
    content = f"{HEADER}\n{BUDI}\n".replace(",", delimiter).encode()
    assert "+ Budi Santoso, kepala Dinas Kesehatan (DINKES), HP +6281211112222" in preview(sqlite_db, content)


# -------------------------------------------------------------------------------------------------- encodings


def test_windows_1252_is_read_and_the_preview_says_so(sqlite_db: Database) -> None:
    content = f"{HEADER}\nDINKES;Dinas Kesehatan;dinas;;;José Müller;kepala;0812-1111-2222;;;\n".replace(",", ";")
    text = preview(sqlite_db, content.encode("cp1252"))
    assert "+ José Müller, kepala Dinas Kesehatan (DINKES), HP +6281211112222" in text
    assert text.endswith(f"Perhatian:\n  ! {CP1252_NOTE}")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "utf-16", "utf-16-le-bom"])
def test_utf8_with_or_without_bom_and_utf16_are_read_as_they_are(sqlite_db: Database, encoding: str) -> None:
    text = f"{HEADER}\nDINKES,Dinas Kesehatan,dinas,,,José Müller,kepala,0812-1111-2222,,,\n"
    if encoding == "utf-16-le-bom":  # Excel's "Unicode Text": UTF-16 little-endian with BOM, tab-separated
        content = "\ufeff".encode("utf-16-le") + text.replace(",", "\t").encode("utf-16-le")
    else:
        content = text.encode(encoding)
    described = preview(sqlite_db, content)
    assert "+ José Müller, kepala Dinas Kesehatan (DINKES)" in described
    assert "Perhatian" not in described


def test_a_file_in_neither_utf8_nor_windows_1252_asks_for_csv_utf8(sqlite_db: Database) -> None:
    content = f"{HEADER}\nDINKES,Dinas Kesehatan,dinas,,,Jos".encode() + b"\xe9 \x81,kepala,,,,\n"
    assert problems(sqlite_db, content) == [
        "Huruf di berkas ini tidak terbaca sebagai UTF-8 maupun Windows-1252. Di Excel pilih Simpan sebagai → "
        "“CSV UTF-8 (dipisah koma)”, lalu coba lagi."
    ]


# ---------------------------------------------------------------------------------------------------- quoting


def test_doubled_quotes_and_line_breaks_inside_quotes_are_read_as_written(sqlite_db: Database) -> None:
    content = (
        f"{HEADER}\n"
        'BAPENDA,"Badan ""Pendapatan"" Daerah, Kabupaten",badan,,pajak,Ani,kepala,0812-1111-3333,,,"Kepala Badan\n'
        'Pendapatan"\n'
        "DISDIK,Dinas Pendidikan,dinaz,,,,,,,,\n"
    ).encode()
    rows = read_bytes("roster.csv", content)
    assert rows[0][1]["unit_name"] == 'Badan "Pendapatan" Daerah, Kabupaten'
    assert rows[0][1]["jabatan"] == "Kepala Badan\nPendapatan"
    assert problems(sqlite_db, content) == [  # rows are counted as Excel shows them, whatever the line breaks
        "baris 3, kolom unit_kind: “dinaz” tidak dikenal; pilihan: sekretariat, inspektorat, dinas, badan, bagian, "
        "satpol, rsud, kecamatan, kelurahan, desa"
    ]
    content = content.replace(b"dinaz", b"dinas")
    assert '+ BAPENDA Badan "Pendapatan" Daerah, Kabupaten (badan)' in preview(sqlite_db, content)
    assert "+ Ani, kepala Badan" in preview(sqlite_db, content)


def test_an_unclosed_quote_names_its_line(sqlite_db: Database) -> None:
    content = f'{HEADER}\n{BUDI}\nDISDIK,"Dinas Pendidikan,dinas,,,,,,,,\nDLH,Dinas LH,dinas\n'.encode()
    assert problems(sqlite_db, content) == [
        'baris 3: tidak dapat dibaca sebagai CSV; periksa tanda kutip (") di baris ini.'
    ]
    swallowed = content + b"DLH,Dinas Lingkungan Hidup,dinas,,,,,,,,\n" * 300
    assert problems(sqlite_db, swallowed) == [f"baris 3: {TOO_LONG}"]


# ------------------------------------------------------------------------------------------------ long input


def test_a_line_too_long_names_the_line_and_nothing_is_written(
    cli: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(f"{HEADER}\n{BUDI}\nDISDIK,{'x' * 10_000},dinas\n", encoding="utf-8")
    assert refused(path, capsys) == [f"  - baris 3: {TOO_LONG}"]
    assert main(["import", "roster", str(path), "--apply"]) == 1
    assert units(cli) == 0


def test_a_cell_too_long_for_its_column_names_line_column_and_limit(sqlite_db: Database) -> None:
    content = (
        f"{HEADER}\n{BUDI}\n"
        f"DISDIK,{'Dinas ' * 40},dinas,,,{'Ani ' * 40},operator,,{'1' * 40},,{'Staf ' * 50}\n"
        f"{BUDI.replace('Budi Santoso,kepala', 'Budi ' + 'B' * 120 + ',operator').replace('1111-2222', '1111-4444')}\n"
    ).encode()
    assert problems(sqlite_db, content) == [
        "baris 3, kolom unit_name: terlalu panjang: 239 karakter, paling banyak 200",
        "baris 3, kolom contact_name: terlalu panjang: 159 karakter, paling banyak 120",
        "baris 3, kolom telegram_id: terlalu panjang: 40 karakter, paling banyak 32",
        "baris 3, kolom jabatan: terlalu panjang: 249 karakter, paling banyak 200",
        "baris 4, kolom contact_name: terlalu panjang: 125 karakter, paling banyak 120",
    ]


def test_a_long_file_is_read_row_by_row_with_progress(
    cli: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "besar.csv"
    people = [
        f"U{i // 5:05d},Unit {i // 5},dinas,,,Orang {i},operator,+62812{10_000_000 + i},,," for i in range(10_500)
    ]
    path.write_text("\n".join([HEADER, *people]) + "\n", encoding="utf-8")
    heard: list[int] = []
    rows = stream_rows(path, heard.append)
    assert next(rows) == (2, dict(zip(COLUMNS, people[0].split(","), strict=True))) and heard == []
    assert sum(1 for _ in rows) == 10_499 and heard == [10_000]

    assert main(["import", "roster", str(path), "--apply"]) == 0
    out, err = capsys.readouterr()
    assert err == "dibaca 10.000 baris…\n"
    assert out.endswith(
        "Roster besar.csv diterapkan. Unit: 2100 baru, 0 diperbarui. Kontak: 10500 baru, 0 diperbarui.\n"
    )
    assert main(["import", "roster", str(path), "--apply"]) == 0
    assert capsys.readouterr().out.startswith("Roster besar.csv: Tidak ada perubahan: 12600 data unit dan kontak")
    with cli.uow() as uow:
        last = uow.session.exec(select(Contact).where(Contact.name == "Orang 10499")).one()
        unit = uow.session.get(Unit, last.unit_id)
    assert (last.wa_number, last.preferred_channel, last.active, unit and unit.code) == (
        "+6281210010499",
        "whatsapp",
        True,
        "U02099",
    )


# ------------------------------------------------------------------------------------------------ by chat


async def test_by_chat_random_bytes_get_the_same_message_and_windows_1252_applies(sdeps: Deps) -> None:
    [reply] = await send_file(sdeps, ADMIN, "roster.csv", os.urandom(2048))
    assert reply.text.splitlines() == [
        "Roster roster.csv belum dapat dipakai; tidak ada yang disimpan. Mohon perbaiki dulu:",
        f"- {NOT_READABLE}",
        "Setelah diperbaiki, kirim lagi berkasnya.",
    ]
    [reply] = await send_file(sdeps, ADMIN, "roster.xlsx", workbook(BUDI.split(","))[:300])
    assert reply.text.splitlines()[1] == f"- {BROKEN_XLSX}"

    windows = f"{HEADER}\nBARU;Badan Baru;badan;;baru;José Müller;kepala;0812-7777-0101;;;Kepala Badan Baru\n"
    [shown] = await send_file(sdeps, ADMIN, "Roster Excel.csv", windows.replace(",", ";").encode("cp1252"))
    assert "+ José Müller, kepala Badan Baru (BARU), HP +6281277770101" in shown.text
    assert f"Perhatian:\n  ! {CP1252_NOTE}" in shown.text
    assert (await tap(sdeps, ADMIN, shown.buttons[0])).startswith("Roster Roster Excel.csv sudah diterapkan.")
    assert contact_named(sdeps, "José Müller").title == "Kepala Badan Baru"


def _with_saved_value(content: bytes, cell: str, value: str) -> bytes:
    """`content` as Excel would have saved it: the formula in `cell` keeps its value beside it."""
    source, out = zipfile.ZipFile(io.BytesIO(content)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                start = text.index(f'<c r="{cell}"')
                end = text.index("</c>", start)
                text = (
                    text[:start]
                    + text[start:end].replace("<v></v>", f"<v>{value}</v>").replace("<v />", f"<v>{value}</v>")
                    + text[end:]
                )
                data = text.encode()
            target.writestr(item, data)
    return out.getvalue()


def test_formulas_saved_without_their_value_are_named_in_the_preview(sqlite_db: Database) -> None:
    budi = ["DINKES", "Dinas Kesehatan", "dinas", "", "", "Budi Santoso", "kepala", '="0812"&"11112222"']
    sari = ["DISDIK", "Dinas Pendidikan", "dinas", "", "", "Sari Dewi", "kepala", "0812-3333-4444"]
    content = workbook(budi, sari)  # written by a program: the formula has no value saved with it
    text = preview(sqlite_db, content, "roster.xlsx")
    assert "⚠️ 1 sel berisi rumus yang nilainya belum pernah dihitung (H2), jadi terbaca kosong." in text
    assert "buka berkasnya di Excel atau LibreOffice, simpan, lalu kirim lagi" in text
    assert "+ Sari Dewi, kepala Dinas Pendidikan (DISDIK), HP +6281233334444" in text
    saved = _with_saved_value(content, "H2", "081211112222")  # as Excel saves it: the value beside the formula
    text = preview(sqlite_db, saved, "roster.xlsx")
    assert "rumus" not in text and "+ Budi Santoso, kepala Dinas Kesehatan (DINKES), HP +6281211112222" in text


def test_many_formulas_without_value_are_counted_and_a_few_named(sqlite_db: Database) -> None:
    rows = [
        [f"U{i}", f"Unit {i}", "dinas", "", "", f'="Orang "&{i}', "operator", f'="0812000"&{1000 + i}']
        for i in range(4)
    ]
    found = problems(sqlite_db, workbook(*rows), "roster.xlsx")  # the names read empty: refused, and it says why
    assert found[0].startswith(
        "⚠️ 8 sel berisi rumus yang nilainya belum pernah dihitung (F2, H2, F3, H3, F4 dan lainnya)"
    )
    assert any(p.startswith("baris 2, kolom contact_name") for p in found[1:])
