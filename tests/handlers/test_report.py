"""/lapor in one line and guided; bad input changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import col, func, select

from handlers.core import handle
from models.app import Deps
from models.clock import FakeClock
from models.messages import Channel, Incoming
from models.tables import Report, Verification
from tests.conftest import ADMIN, KEPALA_DINKES, Person, console_person


def _reports(deps: Deps) -> int:
    with deps.db.uow() as uow:
        return int(uow.session.exec(select(func.count()).select_from(Report)).one())


async def test_one_line_report_then_status_shows_it_against_target(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    doubt = await kepala.say("/lapor katalog 120")  # more than ten times the target of 10: asked first
    assert "Yakin?" in doubt[0].text and _reports(deps) == 0
    reply = "\n".join(r.text for r in await kepala.say("x", payload=doubt[0].buttons[0].payload))
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
    assert "indikator 1.1: selesai" in reply and "0 dari 2 indikator" in reply  # MCP counts verified evidence only
    assert "kirim berkasnya dengan keterangan “mcp 1.1”" in reply
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
    assert "Yakin? Sekarang 1.250 produk" in replies[0].text  # above ten times the target: asked, also kept
    again = Deps(db=deps.db, pemda=deps.pemda, clock=deps.clock, calendar=deps.calendar)
    replies = await handle(again, Incoming(Channel.CONSOLE, contact_id, text="ya"))
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
        "/lapor katalog 1\ufe0f\u20e32\ufe0f\u20e3": "bukan angka",  # keycap emoji (Arabic-Indic digits are read)
    }
    for text, expected in cases.items():
        reply = await kepala.text(text)
        assert expected in reply, text
        assert "gangguan" not in reply, text
    assert _reports(deps) == 0
    assert "12 dari target 10 produk" in await kepala.text("/lapor katalog １２")  # full-width digits


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
    asked = await person.say(f"/start {moved}")
    if asked[0].buttons:  # a registered person is asked "Pindah …?" first: "Ya, pindah"
        asked = await person.say("x", payload=asked[0].buttons[0].payload)
    assert "Dinas Pendidikan" in asked[0].text
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


def _withdraw_or_reject(deps: Deps, title: str, *, withdraw: bool) -> None:
    with deps.db.uow() as uow:
        report = uow.session.exec(select(Report).where(Report.title == title)).one()
        if withdraw:
            report.withdrawn_at = deps.clock.now()
        else:
            report.verification = Verification.REJECTED.value
        uow.session.add(report)
        uow.commit()


async def test_the_same_innovation_twice_is_refused_naming_the_first(deps: Deps, clock: FakeClock) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    assert "Tercatat" in await kepala.text("/lapor inovasi Posyandu Digital Terpadu")
    clock.set(datetime(2026, 11, 24, 3, 30, tzinfo=UTC))
    for again in ("/lapor inovasi posyandu digital terpadu", "/lapor inovasi Posyandu-Digital  Terpadu!"):
        reply = await kepala.text(again)
        assert "Inovasi daerah “Posyandu Digital Terpadu” sudah tercatat untuk Dinas Kesehatan" in reply, again
        assert "Senin, 23 November 2026 09.00 WIB oleh Slamet Santoso" in reply and "tidak dicatat dua kali" in reply
        assert "judul yang berbeda" in reply
    assert _reports(deps) == 1
    assert "Tercatat" in await kepala.text("/lapor inovasi Posyandu Digital Terpadu Tahap Dua")
    # another unit may have an innovation of the same name
    assert "Tercatat" in await console_person(deps, "Yuni Pratama").text("/lapor inovasi Posyandu Digital Terpadu")
    assert _reports(deps) == 3


async def test_a_withdrawn_or_rejected_innovation_may_be_submitted_again(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    await kepala.text("/lapor inovasi Posyandu Digital Terpadu")
    _withdraw_or_reject(deps, "Posyandu Digital Terpadu", withdraw=True)
    assert "Tercatat" in await kepala.text("/lapor inovasi Posyandu digital terpadu")
    _withdraw_or_reject(deps, "Posyandu digital terpadu", withdraw=False)
    assert "Tercatat" in await kepala.text("/lapor inovasi POSYANDU DIGITAL TERPADU")
    assert "sudah tercatat" in await kepala.text("/lapor inovasi Posyandu Digital Terpadu")
    assert _reports(deps) == 3


async def test_an_innovation_of_last_year_does_not_block_this_years(deps: Deps, clock: FakeClock) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    await kepala.text("/lapor inovasi Posyandu Digital Terpadu")
    clock.set(datetime(2027, 1, 5, 2, 0, tzinfo=UTC))
    assert "Tercatat" in await kepala.text("/lapor inovasi Posyandu Digital Terpadu")


async def test_guided_report_accepts_a_typed_number_name_or_alias(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    menu = await kepala.say("/lapor")
    assert [b.label for b in menu[0].buttons] == ["Inovasi daerah", "e-Katalog lokal", "P3DN/UMKK"]
    assert "ketik nomor atau nama programnya" in menu[0].text
    assert "Berapa jumlah produk" in await kepala.text("2")
    assert "e-Katalog lokal: 8 produk" in await kepala.text("8")
    for typed in ("p3dn", "UMKK", "P3DN/UMKK", "3"):
        await kepala.text("/lapor")
        assert "Berapa persen" in await kepala.text(typed), typed
    assert "P3DN/UMKK: 42,5 %" in await kepala.text("42,5")
    await kepala.text("/lapor")
    assert "P3DN/UMKK: 41 %" in await kepala.text("p3dn 41")  # the program and the figure at once
    await kepala.text("/lapor")
    assert "Pilihan “7” tidak ada. Ketik nomor 1 sampai 3" in await kepala.text("7")
    assert "Berapa jumlah produk" in await kepala.text("e-Katalog lokal")  # the flow is still open after an error


async def test_guided_checklist_accepts_typed_numbers(deps: Deps) -> None:
    bappeda = console_person(deps, "Neneng Santoso")
    await bappeda.text("/lapor mcp")
    assert "Indikator 1.2 – Pokok pikiran DPRD" in await bappeda.text("2")
    assert "indikator 1.2: proses" in await bappeda.text("2")
    await bappeda.text("/lapor mcp")
    assert "Bagaimana statusnya" in await bappeda.text("1.1")
    assert "indikator 1.1: selesai" in await bappeda.text("selesai")


async def test_a_mistyped_program_gets_the_closest_match_as_a_button(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    replies = await kepala.say("/lapor katalgo 5")
    assert replies[0].text.startswith("Program “katalgo” tidak dikenal. Maksud Anda: katalog?")
    assert [(b.label, b.payload) for b in replies[0].buttons] == [("katalog", "/lapor katalog 5")]
    assert _reports(deps) == 0
    assert "e-Katalog lokal: 5 produk" in (await kepala.say("x", payload="/lapor katalog 5"))[0].text
    named = await kepala.say("/lapor dinkes katalgo 6")
    assert "Program “katalgo” tidak dikenal. Maksud Anda: katalog?" in named[0].text
    assert "dinkes" not in named[0].text.split("Pilihan")[0]
    assert [b.payload for b in named[0].buttons] == ["/lapor dinkes katalog 6"]
    unknown = await kepala.say("/lapor xyz 5")
    assert "Program “xyz” tidak dikenal. Pilihan: inovasi, katalog, p3dn, mcp" in unknown[0].text
    assert "Maksud Anda" not in unknown[0].text and unknown[0].buttons == ()


async def test_a_mistyped_unit_gets_the_closest_match_as_a_button(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    replies = await admin.say("/lapor dinkess katalog 7")
    assert "Unit “dinkess” tidak ditemukan. Maksud Anda: dinkes (Dinas Kesehatan)?" in replies[0].text
    assert [(b.label, b.payload) for b in replies[0].buttons] == [("dinkes", "/lapor dinkes katalog 7")]
    assert _reports(deps) == 0
    done = await admin.say("x", payload=replies[0].buttons[0].payload)
    assert "Tercatat untuk Dinas Kesehatan – e-Katalog lokal: 7 produk" in done[0].text
    assert "Unit “planet” tidak ditemukan. Ketik /unit" in await admin.text("/lapor planet katalog 7")


async def test_a_mistyped_program_inside_the_guided_flow(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    await kepala.text("/lapor")
    replies = await kepala.say("katalgo")
    assert "Program “katalgo” tidak dikenal. Maksud Anda: katalog?" in replies[0].text
    assert [b.payload for b in replies[0].buttons] == ["/lapor katalog"]
    assert "Berapa jumlah produk" in (await kepala.say("x", payload="/lapor katalog"))[0].text


async def test_batal_cancels_every_step_of_the_guided_flow(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    await kepala.text("/lapor")
    assert "Baik, dibatalkan." in await kepala.text("/batal")  # the program choice is a running flow too
    assert "tidak dikenali" in await kepala.text("katalog")
    for start in ("/lapor", "/lapor katalog", "/lapor inovasi"):
        await kepala.text(start)
        assert "Baik, laporan dibatalkan. Tidak ada yang dicatat." in await kepala.text("batal"), start
        assert "tidak dikenali" in await kepala.text("12")
    await kepala.text("/lapor p3dn 1.5")  # a question about a figure is a running flow too
    assert "dibatalkan" in await kepala.text("Batal")
    assert _reports(deps) == 0


async def test_admin_guided_report_for_a_unit_works_for_every_measure(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    menu = await admin.say("/lapor dinkes")
    assert menu[0].text.startswith("Laporan untuk Dinas Kesehatan.")
    assert [b.payload for b in menu[0].buttons] == [
        "/lapor DINKES inovasi",
        "/lapor DINKES katalog",
        "/lapor DINKES p3dn",
    ]
    assert "Berapa jumlah produk" in (await admin.say("x", payload="/lapor DINKES katalog"))[0].text
    assert "Tercatat untuk Dinas Kesehatan – e-Katalog lokal: 7 produk" in await admin.text("7")
    await admin.text("/lapor dinkes")
    assert "Berapa persen" in await admin.text("3")
    assert "Tercatat untuk Dinas Kesehatan – P3DN/UMKK: 42,5 %" in await admin.text("42,5")
    await admin.text("/lapor dinkes")
    assert "Mohon kirim judul" in await admin.text("inovasi")
    assert "Tercatat untuk Dinas Kesehatan – Inovasi daerah: “Posyandu Digital”" in await admin.text("Posyandu Digital")
    # the checklist (MCP) loops back no more: every button names the unit
    menu = await admin.say("/lapor bappeda")
    mcp = next(b for b in menu[0].buttons if b.label == "MCP KPK")
    items = await admin.say("x", payload=mcp.payload)
    assert [b.payload for b in items[0].buttons] == ["/lapor BAPPEDA mcp 1.1", "/lapor BAPPEDA mcp 1.2"]
    statuses = await admin.say("x", payload=items[0].buttons[1].payload)
    assert statuses[0].buttons[0].payload == "/lapor BAPPEDA mcp 1.2 selesai"
    done = await admin.say("x", payload=statuses[0].buttons[0].payload)
    assert "Tercatat untuk Badan Perencanaan Pembangunan, Riset dan Inovasi Daerah" in done[0].text
    assert "indikator 1.2: selesai" in done[0].text and "Admin melapor atas nama unit" not in done[0].text
    # and typed, step by step
    await admin.text("/lapor bappeda")
    assert "Pilih indikator" in await admin.text("mcp")
    assert "Bagaimana statusnya" in await admin.text("1")
    assert "indikator 1.1: selesai" in await admin.text("1")
    assert _reports(deps) == 5


async def test_a_person_cannot_start_a_guided_report_for_another_unit(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    assert "hanya dapat melapor untuk Dinas Kesehatan" in await kepala.text("/lapor disdik")
    assert "Laporan untuk Dinas Kesehatan" in await kepala.text("/lapor dinkes")


async def test_a_unit_named_in_words_and_a_slip_in_a_short_name(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    assert "Tercatat untuk Dinas Kesehatan – e-Katalog lokal: 4 produk" in await admin.text(
        "/lapor dinas kesehatan katalog 4"
    )
    near = await admin.say("/lapor dinas kesehtan katalog 4")
    assert "Unit “dinas kesehtan” tidak ditemukan. Maksud Anda: dinkes (Dinas Kesehatan)?" in near[0].text
    assert [b.payload for b in near[0].buttons] == ["/lapor dinkes katalog 4"]
    swapped = await admin.say("/lapor dinkes p3nd 45")
    assert "Program “p3nd” tidak dikenal. Maksud Anda: p3dn?" in swapped[0].text
    assert [b.payload for b in swapped[0].buttons] == ["/lapor dinkes p3dn 45"]
    kepala = console_person(deps, KEPALA_DINKES)
    assert "hanya dapat melapor untuk Dinas Kesehatan" in await kepala.text("/lapor dinas pendidikan katalog 5")
    assert _reports(deps) == 1


async def test_an_innovation_title_over_200_characters_is_refused_with_its_length(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    reply = await kepala.text("/lapor inovasi " + "Posyandu Digital " * 15)  # 254 characters, trailing space dropped
    assert reply == (
        "Judul terlalu panjang: 254 karakter, paling banyak 200. Mohon kirim judul yang lebih singkat; uraiannya "
        "dapat dilampirkan sebagai bukti dukung. Contoh: /lapor inovasi <judul inovasi>"
    )
    assert _reports(deps) == 0
    assert "Tercatat" in await kepala.text("/lapor inovasi " + "x" * 200)
    assert _reports(deps) == 1


async def test_lapor_pindah_without_a_usable_id_gets_its_usage(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    usage = (
        "Cara pakai: /lapor pindah <id laporan>, contoh /lapor pindah 12. Id laporan tertera di /riwayat (mis. #12), "
        "atau ketuk tombol “Pindahkan ke …” pada balasan laporan."
    )
    for wrong in ("99999999999999999999", "99999999999", "abc", ""):
        text = f"/lapor pindah {wrong}".strip()
        assert await kepala.text(text) == usage, text
    assert "Laporan #7 tidak ditemukan" in await kepala.text("/lapor pindah 7")
    assert await console_person(deps, ADMIN).text("/lapor pindah 1 2") == usage


async def test_a_command_typed_without_the_slash_is_suggested_with_a_button(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    [reply] = await kepala.say("lapor katalog 31")
    assert reply.text == "Maksud Anda /lapor katalog 31? Perintah diawali garis miring (/)."
    assert [(b.label, b.payload) for b in reply.buttons] == [("/lapor katalog 31", "/lapor katalog 31")]
    assert _reports(deps) == 0  # nothing recorded until the command itself is sent
    assert (await kepala.text("Status")) == "Maksud Anda /status? Perintah diawali garis miring (/)."
    assert "Maksud Anda /menu?" in await kepala.text("menu")  # an alias of /bantuan
    assert "tidak dikenali" in await kepala.text("rekap")  # not a command of a kepala: no suggestion
    assert "tidak dikenali" in await kepala.text("laporan katalog 31")
    assert "Tercatat" in await kepala.text(reply.buttons[0].payload)
