"""`sigap doctor`: every check of the settings, the Pemda file, the database and the data, each seen failing and then
passing once the fix it names is applied; the whole report on the sample set-up."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import select

from bot import doctor
from bot.cli import main
from bot.doctor import (
    DiskUsage,
    check_channels,
    check_database_kind,
    check_disk,
    check_pemda_file,
    check_schema,
    check_telegram_settings,
    check_whatsapp_settings,
    check_workers,
    first_run_notes,
    schema_revisions,
)
from bot.doctor_data import (
    admin_finding,
    channels_finding,
    checklist_finding,
    coverage_finding,
    deadlines_finding,
    duplicates_finding,
    heads_finding,
    holidays_finding,
    ladder_finding,
    ladder_problems,
    sample_roster_finding,
)
from bot.doctor_findings import Finding, Status, ready, render
from bot.settings import EXAMPLE_PEMDA, Settings
from bot.wiring import build_calendar
from models.app import Deps
from models.calendar import WorkingCalendar
from models.db import Database
from models.pemda import PemdaConfig, Stage
from models.tables import Contact, Role, Unit
from tests.conftest import ADMIN, KEPALA_DINKES, set_contact

GIB = 1024**3
REAL_PEMDA = EXAMPLE_PEMDA.read_text(encoding="utf-8").replace(
    'name = "Pemerintah Kabupaten Sukamakmur"', 'name = "Pemerintah Kabupaten Tanah Datar"'
)


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def run_on(deps: Deps, check: Any, *args: Any) -> Finding:
    with deps.db.uow() as uow:
        result: Finding = check(uow.session, *args)
        return result


def with_programs(pemda: PemdaConfig, **changes: dict[str, Any]) -> PemdaConfig:
    """The Pemda file with some programs' fields changed, validated again like a file."""
    raw = pemda.model_dump()
    for program in raw["programs"]:
        program.update(changes.get(program["key"], {}))
    return PemdaConfig.model_validate(raw)


# ---------------------------------------------------------------------------------------------------- settings


def test_no_channel_or_half_whatsapp_fails_and_a_token_fixes_it() -> None:
    none = check_channels(settings())
    assert none.status is Status.FAIL and "belum ada kanal" in none.message and "TELEGRAM_BOT_TOKEN" in none.fix
    half = check_channels(settings(WHATSAPP_ACCESS_TOKEN="EAAG"))
    assert (
        half.status is Status.FAIL
        and half.message == "WHATSAPP_ACCESS_TOKEN diisi tetapi WHATSAPP_PHONE_NUMBER_ID kosong."
    )
    fixed = check_channels(
        settings(TELEGRAM_BOT_TOKEN="1:A", WHATSAPP_ACCESS_TOKEN="EAAG", WHATSAPP_PHONE_NUMBER_ID="9")
    )
    assert (fixed.status, fixed.message) == (Status.OK, "diatur: Telegram, WhatsApp.")


def test_a_webhook_needs_https_and_a_secret() -> None:
    plain = check_telegram_settings(settings(TELEGRAM_BOT_TOKEN="1:A", TELEGRAM_WEBHOOK_URL="http://x.go.id/telegram"))
    assert plain is not None and plain.status is Status.FAIL and "https" in plain.message
    bare = check_telegram_settings(settings(TELEGRAM_BOT_TOKEN="1:A", TELEGRAM_WEBHOOK_URL="https://x.go.id/telegram"))
    assert bare is not None and bare.status is Status.FAIL and "TELEGRAM_WEBHOOK_SECRET" in bare.fix
    good = check_telegram_settings(
        settings(
            TELEGRAM_BOT_TOKEN="1:A", TELEGRAM_WEBHOOK_URL="https://x.go.id/telegram", TELEGRAM_WEBHOOK_SECRET="s_1"
        )
    )
    assert good is not None and good.status is Status.OK
    assert check_telegram_settings(settings()) is None


def test_whatsapp_needs_its_webhook_secrets_and_should_have_its_display_number() -> None:
    base = {"WHATSAPP_ACCESS_TOKEN": "EAAG", "WHATSAPP_PHONE_NUMBER_ID": "9"}
    missing = check_whatsapp_settings(settings(**base))
    assert missing is not None and missing.status is Status.FAIL
    assert "WHATSAPP_APP_SECRET dan WHATSAPP_VERIFY_TOKEN kosong" in missing.message
    secrets = {**base, "WHATSAPP_APP_SECRET": "app", "WHATSAPP_VERIFY_TOKEN": "verify"}
    no_number = check_whatsapp_settings(settings(**secrets))
    assert no_number is not None and no_number.status is Status.WARN and "wa.me" in no_number.message
    complete = check_whatsapp_settings(settings(**secrets, WHATSAPP_DISPLAY_NUMBER="+6281100000000"))
    assert complete is not None and complete.status is Status.OK


def test_sqlite_is_a_trial_postgresql_is_real() -> None:
    sqlite = check_database_kind(settings(SIGAP_DATABASE_URL="sqlite:///sigap.db"))
    assert sqlite.status is Status.WARN and "postgresql://" in sqlite.fix
    assert check_database_kind(settings(SIGAP_DATABASE_URL="postgresql://s:p@127.0.0.1/s")).status is Status.OK
    assert check_database_kind(settings(SIGAP_DATABASE_URL="bukan alamat")).status is Status.FAIL


def test_workers_no_more_than_the_cores_and_postgresql_takes_their_connections(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    none = check_workers(settings(), db, cores=4)
    assert none.status is Status.OK and "SIGAP_WORKERS ke jumlah inti CPU, di sini 4" in none.message
    too_many = check_workers(settings(SIGAP_WORKERS=6), db, cores=4)
    assert too_many.status is Status.WARN and "6 proses pekerja untuk 4 inti CPU" in too_many.message
    assert "SIGAP_WORKERS=4" in too_many.fix
    fits = check_workers(settings(SIGAP_WORKERS=2), db, cores=4)
    assert fits.status is Status.OK
    if db.is_postgres:  # (2 + 1) x 15 connections: within any default max_connections (100)
        assert "paling banyak 45 dari" in fits.message
        monkeypatch.setattr(doctor, "CONNECTIONS_PER_PROCESS", 10_000)
        short = check_workers(settings(SIGAP_WORKERS=2), db, cores=4)
        assert short.status is Status.WARN and "sampai 30000 koneksi" in short.message
        assert "max_connections" in short.fix and "atau kurangi SIGAP_WORKERS" in short.fix


# -------------------------------------------------------------------------------------------------- Pemda file


def test_the_bundled_example_fails_and_a_real_pemda_file_passes(tmp_path: Path) -> None:
    finding, pemda = check_pemda_file(settings(SIGAP_PEMDA_FILE=str(EXAMPLE_PEMDA)))
    assert finding.status is Status.FAIL and "contoh bawaan" in finding.message and pemda is not None
    assert "sigap.toml" in finding.fix
    copied = tmp_path / "sigap.toml"
    copied.write_text(EXAMPLE_PEMDA.read_text(encoding="utf-8"), encoding="utf-8")
    finding, _pemda = check_pemda_file(settings(SIGAP_PEMDA_FILE=str(copied)))
    assert finding.status is Status.FAIL and "masih berisi data contoh" in finding.message
    copied.write_text(REAL_PEMDA, encoding="utf-8")
    finding, _pemda = check_pemda_file(settings(SIGAP_PEMDA_FILE=str(copied)))
    assert (finding.status, finding.message) == (Status.OK, "sigap.toml: Pemerintah Kabupaten Tanah Datar, 4 program.")


def test_a_broken_pemda_file_or_a_missing_logo_fails(tmp_path: Path) -> None:
    broken = tmp_path / "sigap.toml"
    broken.write_text(REAL_PEMDA.replace("target = 40", "target = 140"), encoding="utf-8")
    finding, pemda = check_pemda_file(settings(SIGAP_PEMDA_FILE=str(broken)))
    assert finding.status is Status.FAIL and pemda is None
    assert "target persentase tidak boleh di atas 100" in finding.message
    broken.write_text(REAL_PEMDA.replace('logo = ""', 'logo = "logo.png"'), encoding="utf-8")
    finding, _pemda = check_pemda_file(settings(SIGAP_PEMDA_FILE=str(broken)))
    assert finding.status is Status.FAIL and "logo.png tidak ditemukan" in finding.message
    (tmp_path / "logo.png").write_bytes(b"png")
    assert check_pemda_file(settings(SIGAP_PEMDA_FILE=str(broken)))[0].status is Status.OK


# ---------------------------------------------------------------------------------------------------- database


def test_schema_missing_old_or_newer_fails_and_upgrade_fixes_it(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'sigap.db'}")
    try:
        missing = check_schema(db)
        assert (missing.status, missing.message, missing.fix) == (
            Status.FAIL,
            "belum dibuat.",
            "Jalankan: sigap db upgrade",
        )
        db.upgrade()
        _current, heads = schema_revisions(db)
        assert check_schema(db) == Finding("Skema basis data", Status.OK, f"versi terbaru ({', '.join(heads)}).")
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0006'"))
        old = check_schema(db)
        assert (
            old.status is Status.FAIL
            and old.message.startswith("versi 0006, terbaru")
            and "sigap db upgrade" in old.fix
        )
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        newer = check_schema(db)
        assert newer.status is Status.FAIL and "lebih baru" in newer.message and "pip install" in newer.fix
    finally:
        db.dispose()


def test_an_unreachable_database_fails_with_what_to_check() -> None:
    finding = check_schema(Database("postgresql://sigap:rahasia@127.0.0.1:1/sigap"))
    assert finding.status is Status.FAIL and finding.topic == "Basis data" and "rahasia" not in finding.message
    assert "SIGAP_DATABASE_URL" in finding.fix


def test_disk_space_where_the_sqlite_file_lives(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sigap.db'}"
    seen: list[Path] = []

    def free(amount: float) -> Any:
        def usage(path: Path) -> DiskUsage:
            seen.append(path)
            return DiskUsage(100 * GIB, 0, int(amount * GIB))

        return usage

    low = check_disk(url, free(0.5))
    assert low.status is Status.FAIL and low.message == f"hanya 0,5 GB kosong di {tmp_path}." and seen == [tmp_path]
    assert check_disk(url, free(3)).status is Status.WARN
    assert check_disk(url, free(50)) == Finding("Ruang disk", Status.OK, f"50,0 GB kosong di {tmp_path}.")
    remote = check_disk("postgresql://s:p@db.example/s", free(50))
    assert remote.status is Status.SKIP and "df -h" in remote.fix


# ------------------------------------------------------------------------------------------------------ roster


def test_the_sample_roster_fails_until_the_real_one_replaces_it(sdeps: Deps) -> None:
    sample = run_on(sdeps, sample_roster_finding)
    assert sample.status is Status.FAIL and "72 orang dari roster contoh" in sample.message and "--prune" in sample.fix
    with sdeps.db.uow() as uow:
        for contact in uow.session.exec(select(Contact)).all():
            contact.wa_number = None
            uow.session.add(contact)
        uow.commit()
    assert run_on(sdeps, sample_roster_finding) == Finding("Roster", Status.OK, "72 unit dan 72 orang aktif.")


def test_an_empty_roster_fails(sqlite_db: Database) -> None:
    with sqlite_db.uow() as uow:
        finding = sample_roster_finding(uow.session)
    assert finding.status is Status.FAIL and "sigap import roster" in finding.fix


def test_no_admin_fails_an_unconnected_one_warns_a_connected_one_passes(sdeps: Deps) -> None:
    telegram = settings(TELEGRAM_BOT_TOKEN="1:x")
    unconnected = run_on(sdeps, admin_finding, telegram)
    assert unconnected.status is Status.WARN and "sigap invite --unit BAG-ORG --role admin" in unconnected.fix
    assert unconnected.message == "2 admin di roster, tetapi belum ada yang terhubung lewat Telegram."
    set_contact(sdeps, ADMIN, telegram_user_id="9001")
    assert run_on(sdeps, admin_finding, telegram) == Finding("Admin", Status.OK, "2 admin, sudah ada yang terhubung.")
    # connected on Telegram only, on a deployment with WhatsApp only: nobody can reach that admin
    whatsapp = settings(WHATSAPP_ACCESS_TOKEN="EAAG", WHATSAPP_PHONE_NUMBER_ID="9")
    assert run_on(sdeps, admin_finding, whatsapp).message.endswith("belum ada yang terhubung lewat WhatsApp.")
    with sdeps.db.uow() as uow:
        for admin in uow.session.exec(select(Contact).where(Contact.role == Role.ADMIN.value)).all():
            admin.active = False
            uow.session.add(admin)
        uow.commit()
    nobody = run_on(sdeps, admin_finding, settings())
    assert nobody.status is Status.FAIL and nobody.message.startswith("belum ada admin")
    # the unit named is one of this Pemda's offices (the first bagian), not the sample's
    assert "sigap invite --unit BAG-ADPEM --role admin" in nobody.fix


def test_on_the_console_the_admins_are_said_to_be_unreachable_until_a_channel_is_set_up(sdeps: Deps) -> None:
    """It said 'sudah ada yang terhubung' on a console-only set-up, where no message reaches anyone."""
    set_contact(sdeps, ADMIN, telegram_user_id="9001")
    console = run_on(sdeps, admin_finding, settings())
    assert console.status is Status.WARN
    assert console.message == (
        "2 admin di roster, tetapi belum ada kanal obrolan yang diatur (Sigap hanya berjalan di konsol), jadi belum "
        "ada admin yang dapat dihubungi."
    )
    assert console.fix.startswith("Atur Telegram atau WhatsApp di .env") and "--role admin" in console.fix


def test_a_unit_without_its_kepala_fails_until_one_is_in_the_roster(sdeps: Deps) -> None:
    assert run_on(sdeps, heads_finding, sdeps.pemda).status is Status.OK
    set_contact(sdeps, KEPALA_DINKES, active=False)
    missing = run_on(sdeps, heads_finding, sdeps.pemda)
    assert (
        missing.status is Status.FAIL
        and missing.message == "1 unit belum punya kepala/camat di roster: DINKES (kepala)."
    )
    assert "sigap invite --all --role kepala" in missing.fix
    set_contact(sdeps, KEPALA_DINKES, active=True)
    assert run_on(sdeps, heads_finding, sdeps.pemda).status is Status.OK


def test_people_no_channel_can_reach_are_named(sdeps: Deps) -> None:
    wa = settings(WHATSAPP_ACCESS_TOKEN="EAAG", WHATSAPP_PHONE_NUMBER_ID="9")
    only_wa = run_on(sdeps, channels_finding, settings())
    assert only_wa.status is Status.WARN and "72 orang hanya punya nomor WhatsApp" in only_wa.message
    assert only_wa.fix.startswith("Atur WhatsApp di .env")
    assert run_on(sdeps, channels_finding, wa).status is Status.OK
    set_contact(sdeps, KEPALA_DINKES, wa_number=None)
    nothing = run_on(sdeps, channels_finding, wa)
    assert (
        nothing.status is Status.WARN
        and nothing.message == f"1 orang tanpa nomor WhatsApp maupun Telegram: {KEPALA_DINKES}."
    )
    set_contact(sdeps, KEPALA_DINKES, telegram_user_id="5001")  # only Telegram, on a deployment with WhatsApp only
    only_telegram = run_on(sdeps, channels_finding, wa)
    assert only_telegram.status is Status.WARN
    assert only_telegram.message.startswith("1 orang hanya punya Telegram, tetapi Telegram belum diatur")
    both = settings(WHATSAPP_ACCESS_TOKEN="EAAG", WHATSAPP_PHONE_NUMBER_ID="9", TELEGRAM_BOT_TOKEN="1:x")
    assert run_on(sdeps, channels_finding, both).status is Status.OK


def test_people_count_as_unreachable_as_siaran_and_the_sweep_count_them(sdeps: Deps) -> None:
    """Blocked on every configured channel counts too, and several reasons get one total first."""
    wa = settings(WHATSAPP_ACCESS_TOKEN="EAAG", WHATSAPP_PHONE_NUMBER_ID="9")
    set_contact(sdeps, KEPALA_DINKES, unreachable_whatsapp=True)
    set_contact(sdeps, ADMIN, wa_number=None)
    found = run_on(sdeps, channels_finding, wa)
    assert found.status is Status.WARN
    assert found.message.splitlines() == [
        "2 dari 72 orang aktif tidak dapat dijangkau sekarang:",
        f"1 orang tanpa nomor WhatsApp maupun Telegram: {ADMIN}.",
        f"1 orang memblokir bot atau tidak dapat dikirimi: {KEPALA_DINKES}.",
    ]
    console = run_on(sdeps, channels_finding, settings())
    assert console.message.splitlines()[0] == "72 dari 72 orang aktif tidak dapat dijangkau sekarang:"


def test_duplicate_names_are_listed(sdeps: Deps) -> None:
    assert run_on(sdeps, duplicates_finding).status is Status.OK
    with sdeps.db.uow() as uow:
        disdik = uow.session.exec(select(Unit).where(Unit.code == "DISDIK")).one()
        uow.session.add(Contact(name="slamet  santoso", role="operator", unit_id=disdik.id))
        uow.commit()
    twice = run_on(sdeps, duplicates_finding)
    assert twice.status is Status.WARN
    assert twice.message == "1 nama dipakai lebih dari sekali: Slamet Santoso (DINKES kepala; DISDIK operator)."


def test_units_no_program_covers_and_unknown_kinds(sdeps: Deps) -> None:
    idle = run_on(sdeps, coverage_finding, sdeps.pemda)
    assert idle.status is Status.WARN and "tidak pernah diingatkan: 20 kelurahan" in idle.message
    kinds = [*sdeps.pemda.programs[0].applies_to, "kelurahan"]
    covered = with_programs(sdeps.pemda, inovasi={"applies_to": kinds})
    assert run_on(sdeps, coverage_finding, covered).status is Status.OK
    typo = with_programs(sdeps.pemda, p3dn={"applies_to": ["dinass"]})
    wrong = run_on(sdeps, coverage_finding, typo)
    assert wrong.status is Status.FAIL and "p3dn: dinass" in wrong.message


# ---------------------------------------------------------------------------------------------------- programs


def calendar_for(deps: Deps) -> WorkingCalendar:
    return build_calendar(deps.pemda, deps.db)


def test_deadlines_known_in_their_period_and_on_a_working_day(sdeps: Deps) -> None:
    calendar = calendar_for(sdeps)
    good = deadlines_finding(sdeps.pemda, calendar, date(2026, 11, 23))
    assert good.status is Status.OK and "inovasi Selasa, 15 Desember 2026" in good.message
    after = deadlines_finding(sdeps.pemda, calendar, date(2026, 12, 20))
    assert after.status is Status.OK and "katalog Rabu, 15 Desember 2027" in after.message
    dated = with_programs(sdeps.pemda, katalog={"deadlines": {"2026": date(2026, 12, 14)}})
    unknown = deadlines_finding(dated, calendar, date(2026, 12, 20))
    assert unknown.status is Status.WARN and "katalog: tenggat periode 2027 belum ada di deadlines" in unknown.message
    monthly = with_programs(sdeps.pemda, p3dn={"period": "month"})
    outside = deadlines_finding(monthly, calendar, date(2026, 3, 2))
    assert outside.status is Status.WARN and "p3dn: tenggat 12-15 jatuh di luar periode 2026-03" in outside.message
    assert (
        deadlines_finding(
            with_programs(sdeps.pemda, p3dn={"period": "month", "deadline": "+10"}), calendar, date(2026, 3, 2)
        ).status
        is Status.OK
    )
    sunday = with_programs(sdeps.pemda, mcp={"deadline": "12-13"})
    off = deadlines_finding(sunday, calendar, date(2026, 11, 23))
    assert (
        off.status is Status.WARN
        and "mcp: tenggat Minggu, 13 Desember 2026 jatuh pada hari libur (Minggu)" in off.message
    )


def test_ladders_in_a_sane_order(sdeps: Deps) -> None:
    assert ladder_finding(sdeps.pemda).status is Status.OK
    assert ladder_problems([]) == ["tangga kosong: tidak ada pengingat sama sekali"]
    backwards = [
        Stage(offset_days=-3, kind="pengingat"),
        Stage(offset_days=1, kind="teguran1"),
        Stage(offset_days=7, kind="peringatan"),
        Stage(offset_days=14, kind="teguran2"),
    ]
    assert ladder_problems(backwards) == ["peringatan (H+7) datang setelah teguran1 (H+1)"]
    early = [Stage(offset_days=-1, kind="pengingat"), Stage(offset_days=-1, kind="teguran2")]
    assert ladder_problems(early) == [
        "ada dua tahap pada hari yang sama",
        "ada teguran2 tanpa teguran1",
        "teguran2 (H-1) sebelum tenggat",
    ]
    assert ladder_problems([Stage(offset_days=1, kind="peringatan")]) == ["tidak ada pengingat sebelum tenggat"]
    own = with_programs(sdeps.pemda, katalog={"ladder": [s.model_dump() for s in backwards]})
    finding = ladder_finding(own)
    assert (
        finding.status is Status.FAIL and finding.message == "katalog: peringatan (H+7) datang setelah teguran1 (H+1)"
    )


def test_checklist_items_must_name_an_active_unit(sdeps: Deps) -> None:
    assert run_on(sdeps, checklist_finding, sdeps.pemda) == Finding(
        "Indikator checklist", Status.OK, "9 indikator, semuanya menunjuk unit aktif."
    )
    raw = sdeps.pemda.model_dump()
    raw["programs"][3]["checklist"][0]["unit"] = "BAG-XYZ"
    moved = PemdaConfig.model_validate(raw)
    with sdeps.db.uow() as uow:
        pbj = uow.session.exec(select(Unit).where(Unit.code == "BAG-PBJ")).one()
        pbj.active = False
        uow.session.add(pbj)
        uow.commit()
    finding = run_on(sdeps, checklist_finding, moved)
    assert finding.status is Status.FAIL
    assert finding.message == (
        "3 indikator menunjuk unit yang tidak ada: mcp 1.1: unit BAG-XYZ tidak ada di roster, "
        "mcp 2.1: unit BAG-PBJ sudah nonaktif, mcp 2.2: unit BAG-PBJ sudah nonaktif."
    )


# ---------------------------------------------------------------------------------------------------- calendar


def test_holidays_of_this_and_next_year_and_the_cuti_bersama() -> None:
    beyond = holidays_finding(WorkingCalendar(), date(2100, 6, 1))
    assert (
        beyond.status is Status.FAIL
        and "tahun 2101 tidak dikenal" in beyond.message
        and "pip install -U holidays" in beyond.fix
    )
    bare = holidays_finding(WorkingCalendar(), date(2026, 11, 23))
    assert bare.status is Status.WARN and "cuti bersama tahun 2026 dan 2027 belum dicatat" in bare.message
    entered = WorkingCalendar(extra_days_off={date(2026, 12, 24): "Cuti bersama", date(2027, 1, 2): "Cuti bersama"})
    good = holidays_finding(entered, date(2026, 11, 23))
    assert good.status is Status.OK and "cuti bersama/libur daerah 2026: 1, 2027: 1" in good.message
    spring = WorkingCalendar(extra_days_off={date(2026, 12, 24): "Cuti bersama"})
    assert holidays_finding(spring, date(2026, 3, 2)).status is Status.OK


# ----------------------------------------------------------------------------------------------------- report


def test_render_says_what_to_fix_and_ready_only_without_problems() -> None:
    findings = [Finding("A", Status.OK, "baik"), Finding("B", Status.WARN, "lihat\nbaris dua", "lakukan x")]
    assert ready(findings)
    assert render(findings).splitlines()[2:] == [
        "[BAIK]      A: baik",
        "[PERHATIAN] B: lihat",
        "            baris dua",
        "            Cara memperbaiki: lakukan x",
        "",
        "Hasil: 1 baik, 1 perlu perhatian, 0 masalah, 0 dilewati.",
        "Sigap siap dipakai. Periksa juga yang bertanda PERHATIAN.",
    ]
    failing = [*findings, Finding("C", Status.FAIL, "rusak", "perbaiki")]
    assert not ready(failing)
    assert render(failing).endswith("lalu jalankan lagi: sigap doctor")


def test_doctor_on_the_sample_set_up_lists_its_real_gaps(
    sdeps: Deps, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SIGAP_DATABASE_URL", sdeps.db.url)
    monkeypatch.setenv("SIGAP_LOG_LEVEL", "WARNING")
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("Pemeriksaan kesiapan Sigap\n")
    for line in (
        "[MASALAH]   Kanal obrolan: belum ada kanal yang diatur",
        "[MASALAH]   Berkas Pemda: yang dipakai masih contoh bawaan",
        "[BAIK]      Skema basis data: versi terbaru",
        "[MASALAH]   Roster: masih berisi 72 orang dari roster contoh",
        "[PERHATIAN] Admin: 2 admin di roster, tetapi belum ada kanal obrolan yang diatur",
        "[PERHATIAN] Kanal tiap orang: 72 orang hanya punya nomor WhatsApp",
        "[PERHATIAN] Cakupan program: unit yang tidak terkena program apa pun",
        "[BAIK]      Tangga eskalasi: urut dan wajar",
        "Sigap belum siap: perbaiki yang bertanda MASALAH",
    ):
        assert line in out


def test_first_run_notes_name_the_sample_and_the_next_step(sdeps: Deps, tmp_path: Path) -> None:
    sample = first_run_notes(settings(SIGAP_DATABASE_URL=sdeps.db.url, SIGAP_PEMDA_FILE=str(EXAMPLE_PEMDA)))
    assert [n.split(":")[0] for n in sample] == ["Berkas Pemda", "Roster", "Periksa seluruh kesiapan dengan"]
    assert "Langkah berikutnya: Salin sigap.example.toml menjadi sigap.toml" in sample[0]
    real = tmp_path / "sigap.toml"
    real.write_text(REAL_PEMDA, encoding="utf-8")
    with sdeps.db.uow() as uow:
        for contact in uow.session.exec(select(Contact)).all():
            contact.wa_number = None
            uow.session.add(contact)
        uow.commit()
    on_telegram = settings(SIGAP_DATABASE_URL=sdeps.db.url, SIGAP_PEMDA_FILE=str(real), TELEGRAM_BOT_TOKEN="1:A")
    notes = first_run_notes(on_telegram)
    assert len(notes) == 2 and notes[0].startswith("Admin: 2 admin di roster, tetapi belum ada yang terhubung")
    set_contact(sdeps, ADMIN, telegram_user_id="9001")
    assert first_run_notes(on_telegram) == []


async def test_a_set_up_with_its_gaps_fixed_is_ready(sdeps: Deps, tmp_path: Path) -> None:
    from bot.doctor import diagnose
    from tests.fakes.telegram_api import FakeBotApi

    year = date.today().year
    pemda_file = tmp_path / "sigap.toml"
    days_off = "".join(
        f'\n[[holidays]]\ndate = "{y}-12-24"\nreason = "Cuti bersama Hari Raya Natal"\n' for y in (year, year + 1)
    )
    pemda_file.write_text(
        REAL_PEMDA.replace("[whatsapp_templates]", days_off + "\n[whatsapp_templates]"), encoding="utf-8"
    )
    with sdeps.db.uow() as uow:
        for contact in uow.session.exec(select(Contact)).all():
            contact.wa_number = None
            uow.session.add(contact)
        uow.commit()
    set_contact(sdeps, ADMIN, telegram_user_id="9001")
    async with FakeBotApi(token="123:ABC") as api:
        findings = await diagnose(
            settings(
                SIGAP_DATABASE_URL=sdeps.db.url,
                SIGAP_PEMDA_FILE=str(pemda_file),
                TELEGRAM_BOT_TOKEN="123:ABC",
                TELEGRAM_API_BASE_URL=api.base_url,
            ),
            usage=lambda _path: DiskUsage(100 * GIB, 0, 50 * GIB),
        )
    assert [f.topic for f in findings if f.status is Status.FAIL] == []
    assert ready(findings) and render(findings).splitlines()[-1].startswith("Sigap siap dipakai.")
    assert Finding("Telegram", Status.OK, "bot @sigap_test_bot (Sigap Test) terhubung dengan token ini.") in findings


def test_sigap_run_announces_the_first_run_once(sdeps: Deps, caplog: pytest.LogCaptureFixture) -> None:
    from bot.doctor import announce_first_run

    caplog.set_level("WARNING", logger="sigap")
    announce_first_run(settings(SIGAP_DATABASE_URL=sdeps.db.url, SIGAP_PEMDA_FILE=str(EXAMPLE_PEMDA)))
    said = [r.getMessage() for r in caplog.records if r.name == "sigap"]
    assert len(said) == 3 and said[-1] == "Periksa seluruh kesiapan dengan: sigap doctor"
    caplog.clear()
    announce_first_run(settings(SIGAP_DATABASE_URL="sqlite:////nonexistent/dir/x.db"))  # never stops the start
    assert [r for r in caplog.records if r.levelname != "DEBUG"] == []
