"""`sigap invite --all`: one code per unit without a registered head, one shared expiry, a printable PDF whose QR
codes scan back to the deep links, and an XLSX whose text never turns into a formula."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import time, timedelta
from pathlib import Path

import pytest
import zxingcpp
from openpyxl import load_workbook
from PIL import Image
from pypdf import PdfReader
from sqlmodel import col, select

from bot.cli import main
from handlers.invite_sheet import SheetEntry, entries_for, qr_payload_matrix, render_pdf, render_xlsx
from models.app import Deps
from models.tables import AuditLog, Invite, Unit
from tests.conftest import KEPALA_DINKES
from tests.handlers.test_undangan import set_contact

NUMBER = "+6281100000000"


@pytest.fixture
def cli(sdeps: Deps, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Deps:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SIGAP_DATABASE_URL", sdeps.db.url)
    monkeypatch.setenv("SIGAP_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("WHATSAPP_DISPLAY_NUMBER", NUMBER)
    return sdeps


def invites(deps: Deps, role: str) -> list[Invite]:
    with deps.db.uow() as uow:
        return list(uow.session.exec(select(Invite).where(Invite.role == role).order_by(col(Invite.id))).all())


def scan(png: bytes) -> set[str]:
    return {result.text for result in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))}


def test_one_code_per_unit_without_a_kepala_sharing_one_expiry(
    cli: Deps, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_contact(cli, KEPALA_DINKES, telegram_user_id="5001")  # registered: DINKES needs no code
    assert main(["invite", "--all", "--role", "kepala", "--days", "14", "--out", "lembar"]) == 0
    out = capsys.readouterr().out
    made = invites(cli, "kepala")
    assert len(made) == 41 and len({i.expires_at for i in made}) == 1
    local = made[0].expires_at.astimezone(cli.calendar.zone)
    assert local.time() == time(23, 59)
    stem = f"undangan-kepala-{made[0].created_at.astimezone(cli.calendar.zone).date().isoformat()}"
    assert out.startswith("Kode undangan Kepala OPD dibuat untuk 41 unit, berlaku sekali sampai ")
    assert f"Lembar siap cetak (kode QR): lembar/{stem}.pdf\nTabel yang sama: lembar/{stem}.xlsx\n" in out
    assert "1 unit sudah punya kepala terdaftar; tidak dibuatkan kode." in out
    assert (  # the kelurahan no program chases are said, not silently left out
        "Tidak dibuatkan kode karena tidak ada program yang berlaku bagi unitnya: 20 kelurahan. Bila perlu, buat "
        "satu per satu: sigap invite --unit KODE --role kepala"
    ) in out
    assert "tautan Telegram tidak dibuat" in out
    pdf = PdfReader(tmp_path / "lembar" / f"{stem}.pdf")
    assert len(pdf.pages) == 14
    first = pdf.pages[0].extract_text()
    assert "Sekretariat Daerah" in first and made[0].code in first and "Peran: Kepala OPD" in first
    with cli.db.uow() as uow:
        dinkes = uow.session.exec(select(Unit).where(Unit.code == "DINKES")).one()
    assert dinkes.id not in {i.unit_id for i in made}

    assert main(["invite", "--all", "--role", "kepala"]) == 0
    again = capsys.readouterr().out
    assert again.startswith("Tidak ada kode baru: tidak ada unit yang masih menunggu Kepala OPD.")
    assert "41 unit masih punya kode kepala yang berlaku (SETDA, SETWAN," in again and "--replace" in again
    assert len(invites(cli, "kepala")) == 41

    assert main(["invite", "--all", "--role", "kepala", "--replace", "--out", "lembar"]) == 0
    capsys.readouterr()
    after = invites(cli, "kepala")
    assert len(after) == 82
    old, new = after[:41], after[41:]
    assert all(o.expires_at <= n.created_at for o, n in zip(old, new, strict=True))  # the old codes stopped working


def test_camat_codes_only_for_kecamatan_and_no_batch_for_admins(cli: Deps, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invite", "--all", "--role", "camat"]) == 0
    assert "Kode undangan Camat dibuat untuk 10 unit" in capsys.readouterr().out
    with cli.db.uow() as uow:
        kinds = {uow.session.get(Unit, i.unit_id).kind for i in invites(cli, "camat")}  # type: ignore[union-attr]
    assert kinds == {"kecamatan"}
    assert main(["invite", "--all", "--role", "admin"]) == 2
    assert "sigap invite --unit KODE --role admin" in capsys.readouterr().err
    assert main(["invite", "--role", "kepala"]) == 2
    assert capsys.readouterr().err.startswith("Sebutkan unitnya dengan --unit KODE, atau buat untuk semua unit")


def test_nothing_is_created_when_the_files_cannot_be_written(
    cli: Deps, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "berkas").write_text("bukan folder", encoding="utf-8")
    assert main(["invite", "--all", "--role", "camat", "--out", "berkas"]) == 1
    assert "Tidak ada kode yang dibuat; pilih folder lain dengan --out FOLDER." in capsys.readouterr().err
    assert invites(cli, "camat") == []


def entry(name: str = "Dinas Kesehatan", code: str = "ABCD2345") -> SheetEntry:
    return SheetEntry(
        "DINKES",
        name,
        "dinas",
        "Kepala OPD",
        code,
        "Selasa, 15 Desember 2026 23.59 WIB",
        (
            ("Telegram", f"https://t.me/sigap_test_bot?start={code}"),
            ("WhatsApp", f"https://wa.me/6281100000000?text=%2Fstart%20{code}"),
        ),
    )


def test_the_qr_matrix_scans_back_to_the_link() -> None:
    url = "https://t.me/sigap_test_bot?start=ABCD2345"
    matrix = qr_payload_matrix(url)
    scale = 6
    image = Image.new("L", (len(matrix) * scale, len(matrix) * scale), 255)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                image.paste(0, (c * scale, r * scale, (c + 1) * scale, (r + 1) * scale))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    assert scan(buffer.getvalue()) == {url}


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is not installed")
def test_the_printed_sheet_scans_back_to_every_link(sdeps: Deps, tmp_path: Path) -> None:
    sdeps.whatsapp_number = NUMBER
    with sdeps.db.uow() as uow:
        units = uow.session.exec(select(Unit).where(Unit.code.in_(["DINKES", "DISDIK", "BAPPEDA"]))).all()  # type: ignore[attr-defined]
        pairs = [(u, Invite(code=f"KODE{n}AB{n}", unit_id=u.id or 0, role="kepala")) for n, u in enumerate(units, 2)]
    sdeps_now = sdeps.clock.now()
    entries = entries_for(pairs, sdeps, sdeps_now)
    pdf = tmp_path / "lembar.pdf"
    pdf.write_bytes(render_pdf(entries, "Pemerintah Kabupaten Sukamakmur"))
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(pdf), str(tmp_path / "hal")], check=True)
    found = scan((tmp_path / "hal-1.png").read_bytes())
    assert found == {url for e in entries for _label, url in e.links}
    assert len(found) == 6 and all("start=KODE" in url or "start%20KODE" in url for url in found)


def test_a_sheet_without_links_still_prints_the_code() -> None:
    bare = SheetEntry("DINKES", "Dinas Kesehatan", "dinas", "Kepala OPD", "ABCD2345", "Selasa")
    text = PdfReader(io.BytesIO(render_pdf([bare], "Pemkab"))).pages[0].extract_text()
    assert "ABCD2345" in text and "kirim: /start ABCD2345" in text


def test_the_xlsx_holds_the_same_rows_as_text(tmp_path: Path) -> None:
    hostile = entry(name='=HYPERLINK("http://x","klik")')
    path = tmp_path / "lembar.xlsx"
    path.write_bytes(render_xlsx([entry(), hostile]))
    sheet = load_workbook(path).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == (
        "Kode unit",
        "Unit",
        "Jenis unit",
        "Peran",
        "Kode undangan",
        "Berlaku sampai",
        "Perintah",
        "Tautan Telegram",
        "Tautan WhatsApp",
    )
    assert rows[1][4:7] == ("ABCD2345", "Selasa, 15 Desember 2026 23.59 WIB", "/start ABCD2345")
    assert rows[1][7] == "https://t.me/sigap_test_bot?start=ABCD2345"
    cell = sheet["B3"]
    assert cell.value == '=HYPERLINK("http://x","klik")' and cell.data_type == "s" and cell.quotePrefix


def test_one_unit_uses_days_and_checks_its_range_like_all(cli: Deps, capsys: pytest.CaptureFixture[str]) -> None:
    for days in ("100", "-1", "0"):
        assert main(["invite", "--unit", "DISDIK", "--role", "kepala", "--days", days]) == 2
        assert capsys.readouterr().err == "Masa berlaku kode harus 1 sampai 90 hari.\n"
        assert main(["invite", "--all", "--role", "kepala", "--days", days]) == 2
        assert capsys.readouterr().err == "Masa berlaku kode harus 1 sampai 90 hari.\n"
    assert invites(cli, "kepala") == []
    assert main(["invite", "--unit", "DISDIK", "--role", "kepala", "--days", "2"]) == 0
    assert "Berlaku sekali sampai " in capsys.readouterr().out
    [made] = invites(cli, "kepala")
    assert made.expires_at - made.created_at == timedelta(days=2)


def test_one_unit_refuses_a_role_that_does_not_fit_and_names_the_right_one(
    cli: Deps, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["invite", "--unit", "KEC-SUKAMAKM", "--role", "kepala"]) == 2
    assert capsys.readouterr().err == (
        "Kecamatan Sukamakmur adalah kecamatan; kepalanya berperan camat, bukan kepala.\n"
        "Buat kodenya dengan: sigap invite --unit KEC-SUKAMAKM --role camat\n"
    )
    assert main(["invite", "--unit", "KEC-SUKAMAKM", "--role", "pimpinan"]) == 2
    assert "Untuk Kecamatan Sukamakmur, pilih camat atau operator." in capsys.readouterr().err
    assert invites(cli, "kepala") == invites(cli, "pimpinan") == []


def test_one_unit_with_a_registered_head_needs_replace_person(cli: Deps, capsys: pytest.CaptureFixture[str]) -> None:
    set_contact(cli, KEPALA_DINKES, telegram_user_id="5001")
    assert main(["invite", "--unit", "DINKES", "--role", "kepala"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("⚠️ Dinas Kesehatan sudah punya kepala: Slamet Santoso (aktif).")
    assert err.endswith(
        "Tidak ada kode yang dibuat. Bila memang diganti: sigap invite --unit DINKES --role kepala --replace-person\n"
    )
    assert invites(cli, "kepala") == []
    assert main(["invite", "--unit", "DINKES", "--role", "kepala", "--replace-person"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Kode undangan kepala Dinas Kesehatan: ")
    assert out.endswith(
        "Bila kode ini dipakai orang lain, Slamet Santoso dinonaktifkan sebagai kepala; admin diberi tahu.\n"
    )
    [made] = invites(cli, "kepala")
    with cli.db.uow() as uow:
        audit = uow.session.exec(select(AuditLog).where(AuditLog.action == "invite.created")).one()
    assert (audit.channel, audit.target) == ("cli", "DINKES") and f'"invite": {made.id}' in audit.detail
    assert '"replaces": [' in audit.detail


def test_without_a_channel_the_sheet_is_not_announced_with_qr_codes(
    cli: Deps, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("WHATSAPP_DISPLAY_NUMBER")
    assert main(["invite", "--all", "--role", "camat", "--out", "lembar"]) == 0
    out = capsys.readouterr().out
    assert "Lembar siap cetak: lembar/undangan-camat-" in out and "(kode QR)" not in out
    assert "lembar hanya memuat kode tanpa tautan dan kode QR" in out
