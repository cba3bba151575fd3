"""The roster by chat, through the core on the console channel: an admin sends the file, reads the preview,
taps Terapkan or Batal; everyone else is told politely who may change the roster."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from openpyxl import Workbook
from sqlmodel import col, select

from bot.settings import SAMPLE_ROSTER
from handlers.core import handle
from handlers.roster_upload import MAX_BYTES, ONLY_ADMINS, WRONG_TYPE
from models.app import Deps
from models.files import FileTooLarge, FileUnavailable
from models.messages import Button, Channel, Incoming, Reply
from models.roster import COLUMNS
from models.tables import AuditLog, ChatState, Contact, Unit
from tests.conftest import ADMIN, KEPALA_DINKES, console_person, contact_named, unit_coded

SLAMET_TO_DISDIK = SAMPLE_ROSTER.read_text(encoding="utf-8").replace(
    'DINKES,Dinas Kesehatan,dinas,,"dinkes,kesehatan",Slamet Santoso,kepala',
    'DISDIK,Dinas Pendidikan,dinas,,"disdik,pendidikan",Slamet Santoso,operator',
)


@dataclass
class FakeFiles:
    """A channel's file store: references to bytes; a missing reference is unavailable."""

    files: dict[str, bytes] = field(default_factory=dict)
    asked: list[tuple[str, int]] = field(default_factory=list)

    async def fetch(self, ref: str, *, max_bytes: int) -> tuple[bytes, str]:
        self.asked.append((ref, max_bytes))
        if ref not in self.files:
            raise FileUnavailable(ref)
        if len(self.files[ref]) > max_bytes:
            raise FileTooLarge(max_bytes, len(self.files[ref]))
        return self.files[ref], ""


async def send_file(deps: Deps, name: str, filename: str, content: bytes, caption: str = "") -> list[Reply]:
    """`name` sends a file (with `caption`) on the console, as a channel adapter hands it to the core."""
    store = deps.files.setdefault(Channel.CONSOLE, FakeFiles())
    assert isinstance(store, FakeFiles)
    ref = f"berkas-{len(store.files) + 1}"
    store.files[ref] = content
    incoming = Incoming(
        Channel.CONSOLE,
        str(contact_named(deps, name).id),
        text=caption,
        display_name=name,
        document_name=filename,
        document_ref=ref,
    )
    return await handle(deps, incoming)


async def tap(deps: Deps, name: str, button: Button) -> str:
    return await console_person(deps, name).text(button.payload)


def unit_of(deps: Deps, person: str) -> str:
    contact = contact_named(deps, person)
    with deps.db.uow() as uow:
        unit = uow.session.get(Unit, contact.unit_id)
    assert unit is not None
    return unit.code


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


async def test_admin_sees_the_moved_person_with_both_units_then_applies(deps: Deps) -> None:
    [preview] = await send_file(deps, ADMIN, "roster.csv", SLAMET_TO_DISDIK.encode())
    assert preview.text.startswith("Pratinjau roster roster.csv (belum ada yang disimpan):")
    assert "→ Slamet Santoso: kepala Dinas Kesehatan (DINKES) → operator Dinas Pendidikan (DISDIK)" in preview.text
    assert "! DINKES (Dinas Kesehatan) tidak lagi punya kepala." in preview.text
    assert preview.text.endswith("Ketuk Terapkan untuk menyimpan perubahan ini, atau Batal.")
    assert [b.label for b in preview.buttons] == ["Terapkan", "Batal"]
    assert unit_of(deps, KEPALA_DINKES) == "DINKES"

    done = await tap(deps, ADMIN, preview.buttons[0])
    assert (
        done
        == "Roster roster.csv sudah diterapkan. Unit: 0 baru, 0 diperbarui. Kontak: 0 baru, 0 diperbarui, 1 dipindah."
    )
    assert unit_of(deps, KEPALA_DINKES) == "DISDIK"
    with deps.db.uow() as uow:
        [audit] = uow.session.exec(select(AuditLog).where(AuditLog.action == "roster.terapkan")).all()
        assert uow.session.exec(select(ChatState)).first() is None
    assert audit.target == "roster.csv" and '"kontak_dipindah": 1' in audit.detail
    again = await tap(deps, ADMIN, preview.buttons[0])
    assert again.startswith("Tidak ada roster yang menunggu untuk diterapkan.")


async def test_batal_writes_nothing(deps: Deps) -> None:
    [preview] = await send_file(deps, ADMIN, "roster.csv", SLAMET_TO_DISDIK.encode())
    assert await tap(deps, ADMIN, preview.buttons[1]) == "Baik, roster tidak diterapkan. Tidak ada yang berubah."
    assert unit_of(deps, KEPALA_DINKES) == "DINKES"
    assert (await tap(deps, ADMIN, preview.buttons[0])).startswith("Tidak ada roster yang menunggu")
    assert unit_of(deps, KEPALA_DINKES) == "DINKES"


async def test_a_database_changed_since_the_preview_shows_the_new_preview_instead(deps: Deps) -> None:
    [preview] = await send_file(deps, ADMIN, "roster.csv", SLAMET_TO_DISDIK.encode())
    with deps.db.uow() as uow:  # meanwhile someone changes Eko's jabatan (the file still says the old one)
        eko = uow.session.exec(select(Contact).where(Contact.name == "Eko Hidayat")).one()
        eko.title = "Operator Sigap"
        uow.session.add(eko)
        uow.commit()
    [fresh] = await console_person(deps, ADMIN).say(preview.buttons[0].payload)
    assert fresh.text.startswith("Pratinjau itu sudah tidak berlaku (data atau berkasnya berubah), jadi belum ada")
    assert "~ Eko Hidayat (DINKES): jabatan “Operator Sigap” → “Operator Dinas Kesehatan”" in fresh.text
    assert fresh.buttons[0].payload != preview.buttons[0].payload
    assert unit_of(deps, KEPALA_DINKES) == "DINKES"
    assert (await tap(deps, ADMIN, fresh.buttons[0])).startswith("Roster roster.csv sudah diterapkan.")
    assert unit_of(deps, KEPALA_DINKES) == "DISDIK"
    assert contact_named(deps, "Eko Hidayat").title == "Operator Dinas Kesehatan"


async def test_alias_phone_and_nip_errors_name_line_and_column_and_nothing_is_kept(deps: Deps) -> None:
    header = ",".join(COLUMNS)
    bad = "\n".join(
        [
            header,
            "BARU,Badan Baru,badan,,pajak,Ani Baru,kepala,0812-7777-0001,,198001012005011,",
            "BARU,Badan Baru,badan,,pajak,Ina Baru,operator,0812-9000-1098,,,",
        ]
    )
    [reply] = await send_file(deps, ADMIN, "roster.csv", bad.encode())
    assert reply.text.splitlines() == [
        "Roster roster.csv belum dapat dipakai; tidak ada yang disimpan. Mohon perbaiki dulu:",
        "- baris 2, kolom aliases: alias “pajak” sudah dipakai unit BAPENDA (Badan Pendapatan Daerah) di basis data",
        "- baris 2, kolom nip: NIP harus 18 angka, tertulis “198001012005011”",
        "- baris 3, kolom phone: +6281290001098 sudah dipakai Slamet Santoso (DINKES); satu nomor hanya untuk satu "
        "orang. Jika ini orang yang sama dengan nama yang diperbaiki, isi kolom nip dengan NIP-nya",
        "Setelah diperbaiki, kirim lagi berkasnya.",
    ]
    assert reply.buttons == ()
    with deps.db.uow() as uow:
        assert uow.session.exec(select(ChatState)).first() is None
        assert uow.session.exec(select(Unit).where(Unit.code == "BARU")).first() is None


async def test_excel_number_cells_arrive_as_typed(deps: Deps) -> None:
    content = xlsx(
        ["BARU", "Badan Baru", "badan", None, "baru", "Ani Baru", "kepala", 81290003333, None, 1.98001012005011e17]
    )
    [preview] = await send_file(deps, ADMIN, "Roster Baru.xlsx", content)
    assert "+ Ani Baru, kepala Badan Baru (BARU), HP +6281290003333" in preview.text
    assert (
        "NIP di baris 2 (Ani Baru) tersimpan sebagai angka sehingga terpotong (terbaca “198001012005011000”); "
        "format kolom NIP sebagai Teks lalu isi ulang. NIP-nya dibiarkan kosong."
    ) in preview.text
    assert (await tap(deps, ADMIN, preview.buttons[0])).startswith("Roster Roster Baru.xlsx sudah diterapkan.")
    ani = contact_named(deps, "Ani Baru")
    assert (ani.wa_number, ani.nip, ani.unit_id) == ("+6281290003333", "", unit_coded(deps, "BARU").id)


async def test_a_nip_cut_short_by_excel_keeps_the_stored_nip(deps: Deps) -> None:
    stored = contact_named(deps, KEPALA_DINKES).nip
    assert len(stored) == 18
    cut = float(stored[:15] + "000")  # what Excel keeps of a NIP typed into a number cell: 15 digits
    row = ["DINKES", "Dinas Kesehatan", "dinas", None, "dinkes,kesehatan", KEPALA_DINKES, "kepala", "0812-9000-1098"]
    [preview] = await send_file(deps, ADMIN, "roster.xlsx", xlsx([*row, None, cut, "Kepala Dinas Kesehatan"]))
    assert f"tersimpan sebagai angka sehingga terpotong (terbaca “{stored[:15]}000”)" in preview.text
    assert f"NIP yang tersimpan ({stored}) tidak diubah." in preview.text
    assert "Kontak diperbarui" not in preview.text
    assert preview.buttons == ()
    assert contact_named(deps, KEPALA_DINKES).nip == stored


async def test_the_caption_nonaktifkan_prunes_what_the_file_leaves_out(deps: Deps) -> None:
    kept = "\n".join(line for line in SAMPLE_ROSTER.read_text(encoding="utf-8").splitlines() if "BAG-ADPEM" not in line)
    [plain] = await send_file(deps, ADMIN, "roster.csv", kept.encode())
    assert plain.text.startswith("Roster roster.csv: Tidak ada perubahan")
    assert "Tidak ada di berkas: 1 unit dan 1 kontak; tetap aktif (dengan keterangan “nonaktifkan”" in plain.text
    [preview] = await send_file(deps, ADMIN, "roster.csv", kept.encode(), caption="nonaktifkan")
    assert "Unit dinonaktifkan (1):\n  - BAG-ADPEM Bagian Administrasi Pembangunan" in preview.text
    assert (
        "Kontak dinonaktifkan (1):\n  - Rina Gunadi, kepala Bagian Administrasi Pembangunan (BAG-ADPEM)" in preview.text
    )
    assert "dinonaktifkan" in await tap(deps, ADMIN, preview.buttons[0])
    with deps.db.uow() as uow:
        gone = uow.session.exec(select(Unit).where(col(Unit.active).is_(False))).all()
    assert [u.code for u in gone] == ["BAG-ADPEM"]
    assert contact_named(deps, "Rina Gunadi").active is False


async def test_an_admin_cannot_deactivate_themselves(deps: Deps) -> None:
    without_me = "\n".join(line for line in SAMPLE_ROSTER.read_text(encoding="utf-8").splitlines() if ADMIN not in line)
    [reply] = await send_file(deps, ADMIN, "roster.csv", without_me.encode(), caption="nonaktifkan")
    assert reply.text == (
        "Roster roster.csv akan menonaktifkan akun Bapak/Ibu sendiri, jadi tidak diterapkan. "
        "Tambahkan baris Bapak/Ibu ke berkas, lalu kirim lagi."
    )
    assert reply.buttons == () and contact_named(deps, ADMIN).active


async def test_the_sample_roster_again_changes_nothing(deps: Deps) -> None:
    [reply] = await send_file(deps, ADMIN, "roster_sukamakmur.csv", SAMPLE_ROSTER.read_bytes())
    assert reply.text.startswith("Roster roster_sukamakmur.csv: Tidak ada perubahan: ")
    assert reply.text.endswith("Tidak ada yang perlu diterapkan.") and reply.buttons == ()


async def test_wrong_files_and_wrong_people_get_a_polite_answer(deps: Deps) -> None:
    assert [r.text for r in await send_file(deps, KEPALA_DINKES, "roster.xlsx", b"x")] == [ONLY_ADMINS]
    not_a_roster = await send_file(deps, ADMIN, "surat.pdf", b"%PDF")  # not a spreadsheet: taken as evidence
    assert [r.text for r in not_a_roster] != [WRONG_TYPE] and "Berkas surat.pdf tidak disimpan." in not_a_roster[0].text
    too_big = await send_file(deps, ADMIN, "roster.csv", b"x" * (MAX_BYTES + 1))
    assert [r.text for r in too_big] == [
        "Berkas roster terlalu besar (lebih dari 5 MB). Hapus lembar atau kolom yang tidak perlu, lalu kirim lagi."
    ]
    store = deps.files[Channel.CONSOLE]
    assert isinstance(store, FakeFiles)
    store.files.clear()
    incoming = Incoming(
        Channel.CONSOLE, str(contact_named(deps, ADMIN).id), document_name="roster.csv", document_ref="hilang"
    )
    assert [r.text for r in await handle(deps, incoming)] == [
        "Mohon maaf, berkas tidak dapat diunduh. Silakan kirim ulang berkasnya."
    ]
    assert await console_person(deps, KEPALA_DINKES).text("/roster") == (
        "Perintah /roster tidak tersedia untuk peran Bapak/Ibu. Ketik /bantuan."
    )
    assert (await console_person(deps, ADMIN).text("/roster")).startswith("Untuk memperbarui roster, kirim berkas")
