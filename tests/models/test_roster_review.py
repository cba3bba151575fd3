"""A roster import is a reviewed change: the plan says what would change, person by person; nothing is written
until it is applied; bad cells are named by line and column; spreadsheet numbers are read as typed."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import pytest
from openpyxl import Workbook
from sqlmodel import col, func, select

from bot.settings import SAMPLE_ROSTER
from models.db import Database
from models.roster import COLUMNS, RosterError, apply_plan, import_roster, plan_roster, read_bytes, read_rows
from models.tables import Contact, Report, Unit

HEADER = ",".join(COLUMNS)
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def csv_rows(*lines: str) -> bytes:
    return "\n".join([HEADER, *lines]).encode()


def xlsx(*rows: list[object]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def count(db: Database, table: type[Unit] | type[Contact]) -> int:
    with db.uow() as uow:
        return int(uow.session.exec(select(func.count()).select_from(table)).one())


def load_sample(db: Database) -> None:
    with db.uow() as uow:
        import_roster(uow.session, SAMPLE_ROSTER)
        uow.commit()


def sample_text() -> str:
    return SAMPLE_ROSTER.read_text(encoding="utf-8")


def plan_text(db: Database, content: bytes, name: str = "roster.csv", *, prune: bool = False) -> str:
    with db.uow() as uow:
        return plan_roster(uow.session, read_bytes(name, content), prune=prune).describe()


def problems(db: Database, content: bytes, name: str = "roster.csv") -> list[str]:
    with db.uow() as uow, pytest.raises(RosterError) as info:
        plan_roster(uow.session, read_bytes(name, content))
    return [str(p) for p in info.value.problems]


def test_a_plan_writes_nothing_and_applying_it_writes_exactly_it(db: Database) -> None:
    with db.uow() as uow:
        plan = plan_roster(uow.session, read_rows(SAMPLE_ROSTER))
        uow.commit()
    assert count(db, Unit) == 0 and count(db, Contact) == 0
    text = plan.describe()
    assert "Unit baru (72):" in text and "+ DINKES Dinas Kesehatan (dinas)" in text
    assert "+ Slamet Santoso, kepala Dinas Kesehatan (DINKES), HP +6281290001098" in text
    with db.uow() as uow:
        result = apply_plan(uow.session, plan_roster(uow.session, read_rows(SAMPLE_ROSTER)))
        uow.commit()
    assert (result.units_created, result.contacts_created) == (72, count(db, Contact))
    with db.uow() as uow:
        again = plan_roster(uow.session, read_rows(SAMPLE_ROSTER))
    assert not again.changed
    assert again.describe().startswith("Tidak ada perubahan")


def test_a_moved_person_is_named_with_both_units_and_a_unit_left_without_its_head_is_flagged(db: Database) -> None:
    load_sample(db)
    moved = sample_text().replace(
        'DINKES,Dinas Kesehatan,dinas,,"dinkes,kesehatan",Slamet Santoso,kepala',
        'DISDIK,Dinas Pendidikan,dinas,,"disdik,pendidikan",Slamet Santoso,operator',
    )
    text = plan_text(db, moved.encode())
    assert (
        "Kontak dipindah (1):\n  → Slamet Santoso: kepala Dinas Kesehatan (DINKES) → operator Dinas Pendidikan (DISDIK)"
        in text
    )
    assert "! DINKES (Dinas Kesehatan) tidak lagi punya kepala." in text
    assert "Kontak baru" not in text and "Kontak diperbarui" not in text
    with db.uow() as uow:
        slamet = uow.session.exec(select(Contact).where(Contact.name == "Slamet Santoso")).one()
        dinkes = uow.session.exec(select(Unit).where(Unit.code == "DINKES")).one()
    assert slamet.unit_id == dinkes.id  # only a preview


def test_a_camat_leaving_a_kecamatan_is_flagged_and_a_typo_fix_is_an_update(db: Database) -> None:
    load_sample(db)
    text = sample_text()
    text = text.replace("Sri Firmansyah,camat", "Sri Firmansyah,operator").replace("Eko Hidayat", "Eko Hidayatt")
    plan = plan_text(db, text.encode())
    assert "→ Sri Firmansyah: camat Kecamatan Sukamakmur (KEC-SUKAMAKM) → operator Kecamatan Sukamakmur" in plan
    assert "! KEC-SUKAMAKM (Kecamatan Sukamakmur) tidak lagi punya camat." in plan
    assert "~ Eko Hidayatt (DINKES): nama “Eko Hidayat” → “Eko Hidayatt”" in plan


def test_numbers_and_aliases_of_another_person_or_unit_are_refused_by_line_and_column(db: Database) -> None:
    load_sample(db)
    content = csv_rows(
        'DINKES,Dinas Kesehatan,dinas,,"dinkes,kesehatan",Budi Baru,operator,0812-9000-1007,,,',
        'DISHUB,Dinas Perhubungan,dinas,,"dishub,perhubungan",Ahmad Santoso,kepala,0812-9000-1182,,19720904200310107,',
        'BARU,Badan Baru,badan,,"pajak,baru",Ani,kepala,0812-7777-0001,,,',
        "BARU2,Badan Baru Dua,badan,,baru,Ana,kepala,0812-7777-0001,,,",
        "BARU3,Badan Baru Tiga,badan,,,Ina,kepala,021-555-1234,,,",
        "BARU4,Badan Baru Empat,badan,,,Uni,kepala,8.129E+10,,,",
    )
    assert problems(db, content) == [
        "baris 2, kolom phone: +6281290001007 sudah dipakai Wahyu Pratama (SETDA); satu nomor hanya untuk satu orang. "
        "Jika ini orang yang sama dengan nama yang diperbaiki, isi kolom nip dengan NIP-nya",
        "baris 3, kolom nip: NIP harus 18 angka, tertulis “19720904200310107”",
        "baris 4, kolom aliases: alias “pajak” sudah dipakai unit BAPENDA (Badan Pendapatan Daerah) di basis data",
        "baris 5, kolom aliases: alias “baru” sudah dipakai sebagai kode unit BARU (baris 4)",
        "baris 5, kolom phone: nomor sama dengan baris 4",
        "baris 6, kolom phone: “021-555-1234”: bukan nomor HP Indonesia (diawali 08 atau +628; contoh yang benar: "
        "0812-3456-7890)",
        "baris 7, kolom phone: “8.129E+10” tertulis sebagai angka ilmiah, angka-angka di belakangnya sudah hilang. "
        "Format kolom phone sebagai Teks, ketik ulang isinya, lalu simpan lagi",
    ]
    assert count(db, Unit) == 72


def test_a_telegram_id_of_another_person_is_refused(db: Database) -> None:
    load_sample(db)
    with db.uow() as uow:
        rina = uow.session.exec(select(Contact).where(Contact.name == "Rina Marlina")).one()
        rina.telegram_user_id = "9001"
        uow.session.add(rina)
        uow.commit()
    content = csv_rows(
        'DINKES,Dinas Kesehatan,dinas,,"dinkes,kesehatan",Slamet Santoso,kepala,0812-9000-1098,9001,,',
        "DISDIK,Dinas Pendidikan,dinas,,,Guru Baru,operator,,9001,,",
    )
    assert problems(db, content) == [
        "baris 2, kolom telegram_id: id Telegram ini milik Rina Marlina (BAG-ORG), nomor HP-nya milik "
        "Slamet Santoso (DINKES)",
        "baris 3, kolom telegram_id: sama dengan baris 2",
        "baris 3, kolom telegram_id: 9001 sudah dipakai Rina Marlina (BAG-ORG); satu nomor hanya untuk satu orang. "
        "Jika ini orang yang sama dengan nama yang diperbaiki, isi kolom nip dengan NIP-nya",
    ]


def exact_integer(content: bytes, written: str, number: str) -> bytes:
    """The workbook with the number cell openpyxl `written` (a big int becomes a 16-digit float) holding the exact
    integer `number` instead, as some tools write it."""
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(f"<v>{written}</v>".encode(), f"<v>{number}</v>".encode())
                assert number.encode() in data
            target.writestr(item, data)
    return out.getvalue()


def test_excel_number_cells_are_read_as_typed_but_a_nip_in_one_is_not_used(db: Database) -> None:
    content = xlsx(
        [
            "DINKES",
            "Dinas Kesehatan",
            "dinas",
            None,
            "dinkes",
            "Budi",
            "kepala",
            81290003333,
            None,
            1.98001012005011e17,
        ],
        [
            "DISDIK",
            "Dinas Pendidikan",
            "dinas",
            None,
            None,
            "Ani",
            "kepala",
            6281290004444.0,
            123456789,
            198001012005011234,
        ],
    )
    with db.uow() as uow:
        plan = plan_roster(
            uow.session,
            read_bytes("roster.xlsx", exact_integer(content, "1.980010120050112e+17", "198001012005011234")),
        )
        apply_plan(uow.session, plan)
        uow.commit()
    text = plan.describe()
    assert "+ Budi, kepala Dinas Kesehatan (DINKES), HP +6281290003333" in text
    assert (
        "! NIP di baris 2 (Budi) tersimpan sebagai angka sehingga terpotong (terbaca “198001012005011000”); format "
        "kolom NIP sebagai Teks lalu isi ulang. NIP-nya dibiarkan kosong."
    ) in text
    assert "! NIP di baris 3 (Ani) tersimpan sebagai angka sehingga terpotong" in text
    with db.uow() as uow:
        people = {c.name: c for c in uow.session.exec(select(Contact)).all()}
    assert (people["Budi"].wa_number, people["Budi"].nip) == ("+6281290003333", "")
    assert (people["Ani"].wa_number, people["Ani"].nip) == ("+6281290004444", "")
    assert people["Ani"].telegram_user_id == "123456789"


def test_a_nip_cut_short_in_a_number_cell_never_overwrites_the_stored_one(db: Database) -> None:
    good = "197001011995031001"
    with db.uow() as uow:
        apply_plan(
            uow.session,
            plan_roster(
                uow.session,
                read_bytes(
                    "r.csv", csv_rows(f"DINKES,Dinas Kesehatan,dinas,,,Budi,kepala,0812-9000-3333,,{good},Kepala Dinas")
                ),
            ),
        )
        uow.commit()
    again = xlsx(
        [
            "DINKES",
            "Dinas Kesehatan",
            "dinas",
            None,
            None,
            "Budi",
            "kepala",
            "0812-9000-3333",
            None,
            1.97001011995031e17,
            "Kepala Dinas Kesehatan",
        ]
    )
    with db.uow() as uow:
        plan = plan_roster(uow.session, read_bytes("roster.xlsx", again))
        apply_plan(uow.session, plan)
        uow.commit()
    text = plan.describe()
    assert [c.key for c in plan.contacts_updated[0].changes] == ["title"]
    assert "197001011995031000" not in text.split("Perhatian:")[0]
    assert text.splitlines()[-1] == (
        "  ! NIP di baris 2 (Budi) tersimpan sebagai angka sehingga terpotong (terbaca “197001011995031000”); "
        f"format kolom NIP sebagai Teks lalu isi ulang. NIP yang tersimpan ({good}) tidak diubah."
    )
    with db.uow() as uow:
        budi = uow.session.exec(select(Contact).where(Contact.name == "Budi")).one()
    assert (budi.nip, budi.title) == (good, "Kepala Dinas Kesehatan")


def test_an_excel_number_that_cannot_be_a_nip_asks_for_a_text_column(db: Database) -> None:
    content = xlsx(
        ["DINKES", "Dinas Kesehatan", "dinas", None, None, "Budi", "kepala", "0812-9000-3333", None, 198001012005011],
    )
    assert problems(db, content, "roster.xlsx") == [
        "baris 2, kolom nip: NIP harus 18 angka, tertulis “198001012005011” (sel ini berisi angka, bukan teks: "
        "format kolom nip sebagai Teks lalu ketik ulang)",
    ]


def test_a_number_cell_nip_of_more_than_15_digits_is_never_an_error_but_a_note(db: Database) -> None:
    content = xlsx(
        ["DINKES", "Dinas Kesehatan", "dinas", None, None, "Budi", "kepala", "0812-9000-3333", None, 1.98e16],
        [
            "DISDIK",
            "Dinas Pendidikan",
            "dinas",
            None,
            None,
            "Ani",
            "kepala",
            "0812-9000-4444",
            None,
            198001012005011234,
        ],
    )
    with db.uow() as uow:
        notes = plan_roster(uow.session, read_bytes("roster.xlsx", content)).notes
    assert [note.split(" tersimpan")[0] for note in notes] == ["NIP di baris 2 (Budi)", "NIP di baris 3 (Ani)"]
    assert "(terbaca “1.980010120050112e+17”)" in notes[1]


def test_prune_deactivates_what_the_file_leaves_out_and_deletes_nothing(db: Database) -> None:
    load_sample(db)
    with db.uow() as uow:
        adpem = uow.session.exec(select(Unit).where(Unit.code == "BAG-ADPEM")).one()
        assert adpem.id is not None
        uow.session.add(
            Report(unit_id=adpem.id, program_key="katalog", period="2026", value=3, channel="console", created_at=NOW)
        )
        uow.commit()
    kept = "\n".join(line for line in sample_text().splitlines() if "BAG-ADPEM" not in line)
    without = plan_text(db, kept.encode())
    assert "dinonaktifkan (" not in without
    assert "Tidak ada di berkas: 1 unit dan 1 kontak; tetap aktif (dengan --prune mereka dinonaktifkan" in without
    with db.uow() as uow:
        plan = plan_roster(uow.session, read_bytes("roster.csv", kept.encode()), prune=True)
        apply_plan(uow.session, plan)
        uow.commit()
    text = plan.describe()
    assert "Unit dinonaktifkan (1):\n  - BAG-ADPEM Bagian Administrasi Pembangunan" in text
    assert "Kontak dinonaktifkan (1):\n  - Rina Gunadi, kepala Bagian Administrasi Pembangunan (BAG-ADPEM)" in text
    with db.uow() as uow:
        unit = uow.session.exec(select(Unit).where(Unit.code == "BAG-ADPEM")).one()
        rina = uow.session.exec(select(Contact).where(Contact.name == "Rina Gunadi")).one()
        reports = uow.session.exec(select(Report).where(Report.unit_id == unit.id)).all()
        active = uow.session.exec(select(func.count()).select_from(Unit).where(col(Unit.active).is_(True))).one()
    assert (unit.active, rina.active, len(reports), active) == (False, False, 1, 71)
    with db.uow() as uow:  # listed again: active again
        plan = plan_roster(uow.session, read_rows(SAMPLE_ROSTER), prune=True)
    assert "~ BAG-ADPEM Bagian Administrasi Pembangunan: status “nonaktif” → “aktif”" in plan.describe()


def test_the_same_file_applied_twice_changes_nothing_the_second_time(db: Database) -> None:
    content = sample_text().encode()
    for _ in range(2):
        with db.uow() as uow:
            result = apply_plan(uow.session, plan_roster(uow.session, read_bytes("r.csv", content), prune=True))
            uow.commit()
    assert not result.changed and result.summary().startswith("Tidak ada perubahan")


def test_damaged_files_are_refused_politely(db: Database) -> None:
    assert problems(db, b"PK\x03\x04 not really a workbook", "roster.xlsx") == [
        "Berkas XLSX rusak atau tidak lengkap (mungkin terpotong saat disalin atau dikirim). "
        "Buka di Excel, simpan ulang sebagai .xlsx, lalu coba lagi."
    ]
    assert problems(db, b"unit_code,unit_name\x00", "roster.csv") == [
        "Berkas ini bukan berkas CSV atau XLSX yang dapat dibaca. "
        "Simpan roster dari Excel sebagai .xlsx atau CSV UTF-8, lalu coba lagi."
    ]
    windows = "unit_code;unit_name;unit_kind\nDINKES;Dinas Kesehatan Kabupatén;dinas\n".encode("cp1252")
    [(line, row)] = read_bytes("roster.csv", windows)
    assert (line, row["unit_name"]) == (2, "Dinas Kesehatan Kabupatén")
    assert row["_catatan"].startswith("Berkas dibaca sebagai Windows-1252 (bukan UTF-8)")


def test_the_same_name_twice_in_a_unit_needs_numbers_to_tell_them_apart(db: Database) -> None:
    content = csv_rows(
        "DINKES,Dinas Kesehatan,dinas,,,Agus,operator,,,,",
        "DINKES,Dinas Kesehatan,dinas,,,Agus,operator,0812-7777-0002,,,",
        "DISDIK,Dinas Pendidikan,dinas,,,Agus,operator,0812-7777-0003,,,",
        "DISDIK,Dinas Pendidikan,dinas,,,Agus,operator,0812-7777-0004,,,",
    )
    assert problems(db, content) == [
        "baris 3, kolom contact_name: nama dan unit sama dengan baris 2; bila memang dua orang, isi nomor HP "
        "masing-masing"
    ]


def test_a_role_that_does_not_fit_its_unit_is_refused_as_invites_are(db: Database) -> None:
    content = csv_rows(
        "KEC-A,Distrik Momi Waren,kecamatan,,,Budi,kepala,0812-9000-3333,,,",
        "KEC-B,Distrik Ransiki,kecamatan,,,Ani,pimpinan,0812-9000-4444,,,",
        "KEL-A,Kelurahan Satu,kelurahan,KEC-A,,Ina,camat,0812-9000-5555,,,",
        "KEL-B,Kelurahan Dua,kelurahan,KEC-A,,Tono,kepala,0812-9000-6666,,,",
        "SETDA,Sekretariat Daerah,sekretariat,,,Rudi,pimpinan,0812-9000-7777,,,",
    )
    assert problems(db, content) == [  # (line 2's 'kepala' of a kecamatan is read as its camat, with a note)
        "baris 3, kolom role: Peran pimpinan hanya untuk kantor Pemda (sekretariat, bagian, dinas, badan, dan "
        "sejenisnya), bukan kecamatan. Untuk Distrik Ransiki, pilih camat atau operator.",
        "baris 4, kolom role: Peran camat hanya untuk unit kecamatan; Kelurahan Satu bukan kecamatan. Kepalanya "
        "berperan kepala.",
    ]


def test_a_camat_written_as_the_kecamatan_s_kepala_is_read_as_camat_and_said(db: Database) -> None:
    """Many rosters call the camat the kecamatan's 'kepala': the row is read as camat (the role the unit's head has)
    and the preview says so, rather than refusing the whole file."""
    content = csv_rows("KEC-MOMI,Distrik Momi Waren,kecamatan,,momi,Yakob Mansim,kepala,0812-1111-2222,,,Kepala")
    with db.uow() as uow:
        plan = plan_roster(uow.session, read_bytes("roster.csv", content))
        assert any("“kepala” Distrik Momi Waren dibaca sebagai camat (kepala distrik)" in n for n in plan.notes)
        assert "dibaca sebagai camat" in plan.describe()
        apply_plan(uow.session, plan)
        uow.commit()
    with db.uow() as uow:
        assert uow.session.exec(select(Contact.role).where(Contact.name == "Yakob Mansim")).one() == "camat"
    refused = problems(db, csv_rows("KEL-A,Kelurahan A,kelurahan,,,Ani,camat,0812-3333-4444,,,Lurah"))
    assert any("camat" in p for p in refused)


def test_the_nip_says_who_a_row_is_whatever_the_spelling_of_the_name(db: Database) -> None:
    load_sample(db)
    renamed = sample_text().replace("Wahyu Pratama,kepala", "Wahyu Pratomo Adi,kepala")
    text = plan_text(db, renamed.encode())
    assert "~ Wahyu Pratomo Adi (SETDA): nama “Wahyu Pratama” → “Wahyu Pratomo Adi”" in text
    assert "Kontak baru" not in text and "sudah dipakai" not in text
    # a new number and another unit: the NIP still finds her, a move and not a second person
    moved = sample_text().replace(
        'DINKES,Dinas Kesehatan,dinas,,"dinkes,kesehatan",Slamet Santoso,kepala,0812-9000-1098',
        'DISDIK,Dinas Pendidikan,dinas,,"disdik,pendidikan",Slamet Santoso,operator,0812-7777-0099',
    )
    text = plan_text(db, moved.encode())
    assert "→ Slamet Santoso: kepala Dinas Kesehatan (DINKES) → operator Dinas Pendidikan (DISDIK)" in text
    assert "HP “+6281290001098” → “+6281277770099”" in text and "Kontak baru" not in text
    before = count(db, Contact)
    with db.uow() as uow:
        apply_plan(uow.session, plan_roster(uow.session, read_bytes("roster.csv", renamed.encode())))
        uow.commit()
    assert count(db, Contact) == before
    with db.uow() as uow:
        wahyu = uow.session.exec(select(Contact).where(Contact.nip == "198011021994091375")).one()
    assert (wahyu.name, wahyu.wa_number) == ("Wahyu Pratomo Adi", "+6281290001007")


def test_a_number_under_another_name_in_the_same_seat_is_a_correction_shown_with_a_note(db: Database) -> None:
    load_sample(db)
    fixed = sample_text().replace("Eko Hidayat,operator", "Ekko Prasetyo,operator")  # no NIP on record
    text = plan_text(db, fixed.encode())
    assert "~ Ekko Prasetyo (DINKES): nama “Eko Hidayat” → “Ekko Prasetyo”" in text
    assert (
        "! baris 16, kolom contact_name: +6281290001105 tercatat atas nama Eko Hidayat; berkas menulis Ekko Prasetyo "
        "(unit dan peran sama): diperlakukan sebagai perbaikan nama. Jika ini orang lain, pilih Batal dan ganti "
        "nomornya"
    ) in text


def test_a_number_under_another_name_elsewhere_is_refused_with_how_to_correct_a_name(db: Database) -> None:
    load_sample(db)
    content = csv_rows(
        'DISDIK,Dinas Pendidikan,dinas,,"disdik,pendidikan",Ekko Prasetyo,operator,0812-9000-1105,,,',
        'DISDIK,Dinas Pendidikan,dinas,,"disdik,pendidikan",Wahyu Pratama,kepala,0812-9000-1098,,198011021994091375,',
    )
    assert problems(db, content) == [
        "baris 2, kolom phone: +6281290001105 sudah dipakai Eko Hidayat (DINKES); satu nomor hanya untuk satu orang. "
        "Jika ini orang yang sama dengan nama yang diperbaiki, tulis dulu di unit dan peran yang tercatat (DINKES, "
        "operator), lalu pindahkan pada impor berikutnya; jika orang lain, ganti nomornya",
        "baris 3, kolom phone: +6281290001098 milik Slamet Santoso (DINKES), NIP-nya milik Wahyu Pratama (SETDA)",
    ]


def test_a_unit_has_one_head_a_second_in_the_file_is_refused(db: Database) -> None:
    content = csv_rows(
        "BARU,Badan Baru,badan,,,Ani Lasut,kepala,0812-7777-0001,,,",
        "BARU,Badan Baru,badan,,,Novita Rumondor,kepala,0812-7777-0002,,,",
        "KEC-A,Kecamatan A,kecamatan,,,Budi,camat,0812-7777-0003,,,",
        "KEC-A,Kecamatan A,kecamatan,,,Badu,camat,0812-7777-0004,,,",
    )
    assert problems(db, content) == [
        "baris 3, kolom role: BARU sudah punya kepala di baris 2 (Ani Lasut); satu unit hanya satu kepala. "
        "Jadikan salah satunya operator, atau hapus barisnya",
        "baris 5, kolom role: KEC-A sudah punya camat di baris 4 (Budi); satu unit hanya satu camat. "
        "Jadikan salah satunya operator, atau hapus barisnya",
    ]


def test_a_new_head_in_the_file_replaces_the_head_on_record_in_the_same_plan(db: Database) -> None:
    load_sample(db)
    new_head = sample_text().replace(
        "Slamet Santoso,kepala,0812-9000-1098,,198202271994052714", "Dewi Anggraini,kepala,0812-7777-0101,,"
    )
    text = plan_text(db, new_head.encode())
    assert "+ Dewi Anggraini, kepala Dinas Kesehatan (DINKES), HP +6281277770101" in text
    assert "Kontak dinonaktifkan (1):\n  - Slamet Santoso, kepala Dinas Kesehatan (DINKES)" in text
    assert (
        "! Slamet Santoso (kepala DINKES) digantikan oleh Dewi Anggraini dan dinonaktifkan: satu unit hanya satu "
        "kepala; riwayatnya tetap tersimpan."
    ) in text
    assert "Tidak ada di berkas" not in text and "tidak lagi punya kepala" not in text
    with db.uow() as uow:
        apply_plan(uow.session, plan_roster(uow.session, read_bytes("roster.csv", new_head.encode())))
        uow.commit()
    with db.uow() as uow:
        dinkes = uow.session.exec(select(Unit).where(Unit.code == "DINKES")).one()
        heads = uow.session.exec(
            select(Contact).where(Contact.unit_id == dinkes.id, Contact.role == "kepala", col(Contact.active))
        ).all()
    assert [c.name for c in heads] == ["Dewi Anggraini"]


def test_the_unit_tree_kelurahan_under_a_kecamatan_and_one_name_a_unit(db: Database) -> None:
    load_sample(db)
    content = csv_rows(
        "KEL-SALAH,Kelurahan Salah,kelurahan,DINKES,,,,,,,",
        "KEC-X,Kecamatan X,kecamatan,KEC-SUKAMAKM,,,,,,,",
        "DESA-Y,Desa Y,desa,KEL-SUKAMA1,,,,,,,",
        "DINAS-Z,Dinas Z,dinas,KEC-SUKAMAKM,,,,,,,",
        "DISDIK2,Dinas Pendidikan,dinas,,,,,,,,",
        "KEL-OK,Kelurahan Baik,kelurahan,KEC-SUKAMAKM,,,,,,,",
    )
    assert problems(db, content) == [
        "baris 2, kolom parent_code: kelurahan harus di bawah kecamatan; DINKES adalah dinas. Tulis kode kecamatannya",
        "baris 3, kolom parent_code: kecamatan tidak dapat berada di bawah kecamatan KEC-SUKAMAKM; kosongkan "
        "parent_code atau tulis unit induk yang benar",
        "baris 4, kolom parent_code: desa harus di bawah kecamatan; KEL-SUKAMA1 adalah kelurahan. Tulis kode "
        "kecamatannya",
        "baris 5, kolom parent_code: dinas tidak dapat berada di bawah kecamatan KEC-SUKAMAKM; kosongkan parent_code "
        "atau tulis unit induk yang benar",
        "baris 6, kolom unit_name: nama “Dinas Pendidikan” sudah dipakai unit DISDIK di basis data; satu nama satu "
        "unit",
    ]


def test_people_without_numbers_are_found_by_name_and_the_preview_says_so(db: Database) -> None:
    load_sample(db)
    text = sample_text()
    # Eko (no NIP) written with another spelling and no phone; Rina Gunadi moved to DINKES as operator, no phone
    text = text.replace("Eko Hidayat,operator,0812-9000-1105", "Ekoh Hidayat,operator,")
    text = text.replace(
        "BAG-ADPEM,Bagian Administrasi Pembangunan,bagian,,adpem,Rina Gunadi,kepala,0812-9000-1329,,197109022002112804",
        "BAG-ADPEM,Bagian Administrasi Pembangunan,bagian,,adpem,,,,,",
    )
    text += 'DINKES,Dinas Kesehatan,dinas,,"dinkes,kesehatan",Rina Gunadi,operator,,,,Operator\n'
    plan = plan_text(db, text.encode())
    assert "~ Ekoh Hidayat (DINKES): nama “Eko Hidayat” → “Ekoh Hidayat”" in plan
    assert "→ Rina Gunadi: kepala Bagian Administrasi Pembangunan (BAG-ADPEM) → operator Dinas Kesehatan" in plan
    assert "Kontak baru" not in plan
    assert (
        "! baris 16, kolom contact_name: Ekoh Hidayat dikenali dari namanya saja: dianggap Eko Hidayat (DINKES, "
        "operator) dengan ejaan nama diperbaiki. Jika ini orang lain, pilih Batal dan isi nomor HP atau NIP-nya"
    ) in plan
    assert "Rina Gunadi dikenali dari namanya saja: dianggap Rina Gunadi yang tercatat di BAG-ADPEM, dipindah" in plan


def test_the_preview_names_the_people_the_file_leaves_out(db: Database) -> None:
    load_sample(db)
    kept = "\n".join(line for line in sample_text().splitlines() if "Eko Hidayat" not in line)
    text = plan_text(db, kept.encode())
    assert "Tidak ada di berkas: 0 unit dan 1 kontak; tetap aktif" in text
    assert "  Kontak itu: Eko Hidayat (DINKES)." in text
