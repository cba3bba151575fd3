"""/lapor in one line and guided; bad input changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import col, func, select

from handlers.core import handle
from models.app import Deps
from models.clock import FakeClock
from models.messages import Channel, Incoming
from models.tables import Report
from tests.conftest import ADMIN, KEPALA_DINKES, Person, console_person


def _reports(deps: Deps) -> int:
    with deps.db.uow() as uow:
        return int(uow.session.exec(select(func.count()).select_from(Report)).one())


async def test_one_line_report_then_status_shows_it_against_target(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    reply = await kepala.text("/lapor katalog 120")
    assert "Tercatat untuk Dinas Kesehatan" in reply
    assert "120 dari target 10 produk" in reply
    status = await kepala.text("/status")
    assert "✅ e-Katalog lokal: 120 dari target 10 produk" in status
    assert "Selasa, 15 Desember 2026 (22 hari lagi)" in status


async def test_percent_with_decimal_comma(deps: Deps) -> None:
    reply = await console_person(deps, KEPALA_DINKES).text("/lapor p3dn 42,5")
    assert "42,5 %" in reply and "minimal 40 %" in reply and "✅" in reply


async def test_inovasi_submission_and_mcp_checklist(deps: Deps) -> None:
    assert "“Posyandu Digital Terpadu”" in await console_person(deps, KEPALA_DINKES).text(
        "/lapor inovasi Posyandu Digital Terpadu"
    )
    bappeda = console_person(deps, "Neneng Santoso")
    reply = await bappeda.text("/lapor mcp 1.1 selesai https://drive.example/bukti.pdf")
    assert "indikator 1.1: selesai" in reply and "1 dari 2 indikator" in reply
    assert "Indikator “9.9” bukan tanggung jawab" in await bappeda.text("/lapor mcp 9.9 selesai")


async def test_bad_inputs_get_clear_replies_and_change_nothing(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    cases = {
        "/lapor katalog 12a": "“12a” bukan angka. Contoh yang benar: /lapor katalog 120",
        "/lapor katalog -3": "tidak boleh negatif",
        "/lapor katalog 2,5": "harus bilangan bulat",
        "/lapor p3dn 142": "tidak boleh lebih dari 100 %",
        "/lapor xyz 5": "Program “xyz” tidak dikenal",
        "/lapor disdik katalog 5": "hanya dapat melapor untuk Dinas Kesehatan",
        "/lapor mcp": "tidak ditugaskan ke Dinas Kesehatan",
        "/lapor inovasi ab": "Judul terlalu pendek",
        "/laporan": "tidak dikenal. Ketik /bantuan",
    }
    for text, expected in cases.items():
        assert expected in await kepala.text(text), text
    assert _reports(deps) == 0


async def test_guided_report_survives_a_restart(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    replies = await kepala.say("/lapor")
    payloads = [b.payload for b in replies[0].buttons]
    assert "/lapor katalog" in payloads
    question = await kepala.say("ignored", payload="/lapor katalog")
    assert "Berapa jumlah produk" in question[0].text
    # a fresh set of dependencies stands for a restarted process: the state is in the database
    restarted = Deps(db=deps.db, pemda=deps.pemda, clock=deps.clock, calendar=deps.calendar)
    contact_id = kepala.address
    replies = await handle(restarted, Incoming(Channel.CONSOLE, contact_id, text="1.250"))
    assert "1.250 dari target 10 produk" in replies[0].text
    assert "tidak dikenali" in (await kepala.text("57"))  # the flow is closed after the answer


async def test_guided_checklist_with_buttons(deps: Deps) -> None:
    bappeda = console_person(deps, "Neneng Santoso")
    items = await bappeda.say("/lapor mcp")
    assert [b.payload for b in items[0].buttons] == ["/lapor mcp 1.1", "/lapor mcp 1.2"]
    statuses = await bappeda.say("x", payload="/lapor mcp 1.2")
    assert [b.label for b in statuses[0].buttons] == ["Selesai", "Proses", "Belum"]
    done = await bappeda.say("x", payload=statuses[0].buttons[0].payload)
    assert "indikator 1.2: selesai" in done[0].text


async def test_batal_closes_the_flow(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    await kepala.text("/lapor katalog")
    assert "dibatalkan" in await kepala.text("/batal")
    assert "tidak dikenali" in await kepala.text("120")
    assert _reports(deps) == 0


async def test_admin_reports_on_behalf_of_a_unit(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    assert "Tercatat untuk Dinas Pendidikan" in await admin.text("/lapor disdik katalog 7")
    assert "Admin melapor atas nama unit" in await admin.text("/lapor katalog 7")


async def test_a_monthly_figure_reported_after_the_month_counts_for_that_month(deps: Deps, clock: FakeClock) -> None:
    from tests.jobs.test_sweep import monthly_katalog

    monthly = Deps(db=deps.db, pemda=monthly_katalog(deps.pemda), clock=clock, calendar=deps.calendar)
    kepala = Person(monthly, Channel.CONSOLE, console_person(deps, KEPALA_DINKES).address)
    clock.set(datetime(2026, 12, 3, 2, 0, tzinfo=UTC))  # Thursday 3 December; November's deadline is 10 December
    assert "e-Katalog lokal bulan November 2026: 12 produk" in await kepala.text("/lapor katalog 12")
    # November is met now, so the next figure is December's
    december = await kepala.text("/lapor katalog 3")
    assert "e-Katalog lokal: 3 produk" in december and "Belum memenuhi" in december
    with deps.db.uow() as uow:
        periods = [r.period for r in uow.session.exec(select(Report).order_by(col(Report.id))).all()]
    assert periods == ["2026-11", "2026-12"]


async def test_odd_numbers_get_a_clear_reply_and_change_nothing(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    cases = {
        "/lapor katalog 99999999999999999999999999": "terlalu besar",
        "/lapor katalog " + "9" * 400: "terlalu besar",
        "/lapor katalog 1e309": "bukan angka",
        "/lapor katalog 1e5": "bukan angka",
        "/lapor katalog NaN": "bukan angka",
        "/lapor katalog inf": "bukan angka",
        "/lapor katalog 1_000": "bukan angka",
        "/lapor p3dn 1e-320": "bukan angka",
        "/lapor katalog ١٢٠": "bukan angka",
    }
    for text, expected in cases.items():
        reply = await kepala.text(text)
        assert expected in reply, text
        assert "gangguan" not in reply, text
    assert _reports(deps) == 0
    assert "120 dari target 10 produk" in await kepala.text("/lapor katalog １２０")  # full-width digits


async def test_a_lone_evidence_link_asks_for_the_indicator(deps: Deps) -> None:
    bappeda = console_person(deps, "Neneng Santoso")
    reply = await bappeda.text("/lapor mcp https://drive.example/bukti.pdf")
    assert "Kode indikatornya belum ada" in reply and "/lapor mcp <kode indikator> selesai" in reply
    assert _reports(deps) == 0


async def test_a_guided_report_left_open_never_counts_for_a_unit_no_longer_the_senders(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    person = Person(deps, Channel.TELEGRAM, "8080")
    first = (await admin.text("/undang dinkes operator")).split(": ", 1)[1].split()[0]
    await person.text(f"/start {first}")
    assert "Berapa jumlah produk" in await person.text("/lapor katalog")
    moved = (await admin.text("/undang disdik operator")).split(": ", 1)[1].split()[0]
    assert "Dinas Pendidikan" in await person.text(f"/start {moved}")
    reply = await person.text("120")
    assert "sudah tidak berlaku" in reply and "/lapor" in reply
    assert _reports(deps) == 0
    assert "tidak dikenali" in await person.text("120")  # the stale conversation is closed


async def test_a_guided_report_for_a_program_no_longer_assigned_is_closed(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    assert "Berapa persen" in await kepala.text("/lapor p3dn")
    programs = [
        p.model_copy(update={"applies_to": ["kecamatan"]}) if p.key == "p3dn" else p for p in deps.pemda.programs
    ]
    changed = Deps(
        db=deps.db, pemda=deps.pemda.model_copy(update={"programs": programs}), clock=deps.clock, calendar=deps.calendar
    )
    reply = await Person(changed, Channel.CONSOLE, kepala.address).text("45")
    assert "sudah tidak berlaku" in reply
    assert _reports(deps) == 0
