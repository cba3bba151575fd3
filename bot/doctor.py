"""`sigap doctor`: is this deployment ready? Each check says in Indonesian what is fine, what is wrong and the exact
fix; the exit code is 0 only when no check found a problem (a warning or a skipped check does not block).

The checks of the settings, the Pemda file, the database schema and the disk are here; the channels' checks (they
talk to Telegram and the Graph API) are in `bot.doctor_channels`, the roster, programs and calendar in
`bot.doctor_data`. `first_run_notes` is what `sigap run` says once at start-up on a set-up that is not real yet.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from bot.doctor_findings import Finding, Status, fail, ok, ready, render, skip, warn
from bot.settings import EXAMPLE_PEMDA, Settings
from models.db import CONNECTIONS_PER_PROCESS, MIGRATIONS, Database
from models.pemda import PemdaConfig, PemdaFileError, load_pemda

log = logging.getLogger("sigap")

GIB = 1024**3
DISK_FAIL_BYTES = 1 * GIB
DISK_WARN_BYTES = 5 * GIB


# ------------------------------------------------------------------------------------------------ settings


def check_channels(settings: Settings) -> Finding:
    """At least one chat channel configured, and WhatsApp not half configured."""
    topic = "Kanal obrolan"
    token = settings.whatsapp_access_token.get_secret_value() if settings.whatsapp_access_token else ""
    number_id = settings.whatsapp_phone_number_id.strip()
    if bool(token) != bool(number_id):
        given, missing = (
            ("WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID")
            if token
            else ("WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_ACCESS_TOKEN")
        )
        return fail(
            topic, f"{given} diisi tetapi {missing} kosong.", f"Isi {missing} di .env, atau kosongkan keduanya."
        )
    names = [n for n, on in (("Telegram", settings.telegram_enabled), ("WhatsApp", settings.whatsapp_enabled)) if on]
    if not names:
        return fail(
            topic,
            "belum ada kanal yang diatur: Sigap hanya dapat dipakai di konsol, tidak ada yang menerima pesan.",
            "Isi TELEGRAM_BOT_TOKEN (dari @BotFather) dan/atau WHATSAPP_ACCESS_TOKEN dan WHATSAPP_PHONE_NUMBER_ID di "
            ".env (lihat README, bagian Telegram dan WhatsApp).",
        )
    return ok(topic, f"diatur: {', '.join(names)}.")


def check_telegram_settings(settings: Settings) -> Finding | None:
    """Webhook mode needs an https address and a secret."""
    if not settings.telegram_enabled:
        return None
    topic = "Pengaturan Telegram"
    url = settings.telegram_webhook_url.strip()
    if not url:
        return ok(topic, "mode long polling (TELEGRAM_WEBHOOK_URL kosong); tidak perlu alamat publik.")
    if not url.startswith("https://"):
        return fail(
            topic,
            f"TELEGRAM_WEBHOOK_URL ({url}) bukan alamat https; Telegram hanya mengirim ke https.",
            "Pasang reverse proxy dengan HTTPS lalu isi alamatnya, mis. https://sigap.example.go.id/telegram.",
        )
    secret = settings.telegram_webhook_secret.get_secret_value() if settings.telegram_webhook_secret else ""
    if not secret:
        return fail(
            topic,
            "Mode webhook tanpa TELEGRAM_WEBHOOK_SECRET: sigap run menolak berjalan.",
            "Isi TELEGRAM_WEBHOOK_SECRET dengan 1-256 karakter acak (A-Z, a-z, 0-9, _ atau -) di .env.",
        )
    return ok(topic, f"mode webhook ke {url}, dengan rahasia.")


def check_whatsapp_settings(settings: Settings) -> Finding | None:
    """WhatsApp's webhook needs the app secret and the verify token; wa.me links need the display number."""
    if not settings.whatsapp_enabled:
        return None
    topic = "Pengaturan WhatsApp"
    missing = [
        name
        for name, value in (
            ("WHATSAPP_APP_SECRET", settings.whatsapp_app_secret),
            ("WHATSAPP_VERIFY_TOKEN", settings.whatsapp_verify_token),
        )
        if value is None or not value.get_secret_value()
    ]
    if missing:
        return fail(
            topic,
            f"{' dan '.join(missing)} kosong: pesan WhatsApp yang masuk akan ditolak.",
            "Isi di .env: App secret dari Meta (App settings → Basic), dan verify token yang sama dengan di formulir "
            "webhook Meta.",
        )
    if not settings.whatsapp_display_number.strip():
        return warn(
            topic,
            "WHATSAPP_DISPLAY_NUMBER kosong: kode undangan tidak disertai tautan wa.me.",
            "Isi nomor bot dalam bentuk +62…, mis. WHATSAPP_DISPLAY_NUMBER=+6281100000000.",
        )
    return ok(topic, "rahasia aplikasi, verify token dan nomor tampilan terisi.")


def check_database_kind(settings: Settings) -> Finding:
    """SQLite is for a trial; a real deployment runs on PostgreSQL."""
    topic = "Jenis basis data"
    try:
        backend = make_url(settings.database_url).get_backend_name()
    except ArgumentError:
        return fail(
            topic,
            "SIGAP_DATABASE_URL bukan alamat basis data yang sah.",
            "Tulis seperti postgresql://sigap:sandi@127.0.0.1:5432/sigap di .env.",
        )
    if backend == "sqlite":
        return warn(
            topic,
            "SQLite: cukup untuk uji coba, tetapi hanya untuk satu proses dan tanpa failover.",
            "Untuk penggunaan nyata pakai PostgreSQL: SIGAP_DATABASE_URL=postgresql://sigap:sandi@127.0.0.1:5432/sigap",
        )
    return ok(topic, backend)


def check_workers(settings: Settings, db: Database | None, cores: int | None = None) -> Finding:
    """`SIGAP_WORKERS`: no more processes than CPU cores, and (PostgreSQL) connections enough for all of them."""
    topic = "Pekerja pesan (SIGAP_WORKERS)"
    workers, cores = settings.workers, cores or os.cpu_count() or 1
    if workers == 0:
        return ok(
            topic,
            "0: semua pesan ditangani sigap run sendiri (cukup untuk ratusan unit; untuk ribuan unit setel "
            f"SIGAP_WORKERS ke jumlah inti CPU, di sini {cores}).",
        )
    if workers > cores:
        return warn(
            topic,
            f"{workers} proses pekerja untuk {cores} inti CPU: pekerja melebihi inti hanya saling berebut CPU.",
            f"Setel SIGAP_WORKERS={cores} atau kurang di .env, lalu mulai ulang Sigap.",
        )
    found = f"{workers} proses pekerja untuk {cores} inti CPU"
    if db is None or not db.is_postgres:
        return ok(topic, found + ".")
    need = (workers + 1) * CONNECTIONS_PER_PROCESS
    try:
        with db.engine.connect() as connection:
            most = int(connection.exec_driver_sql("SHOW max_connections").scalar_one())
            kept = int(connection.exec_driver_sql("SHOW superuser_reserved_connections").scalar_one())
    except DBAPIError:
        return ok(topic, found + " (batas koneksi PostgreSQL tidak dapat dibaca: lihat Skema basis data).")
    if need > most - kept:
        return warn(
            topic,
            f"{found}: sigap run dan pekerjanya dapat membuka sampai {need} koneksi, PostgreSQL hanya menerima "
            f"{most - kept} (max_connections {most}, {kept} dicadangkan).",
            f"Naikkan max_connections di postgresql.conf ke paling sedikit {need + kept} lalu mulai ulang "
            "PostgreSQL, atau kurangi SIGAP_WORKERS.",
        )
    return ok(topic, f"{found}; koneksi basis data paling banyak {need} dari {most - kept} yang diterima PostgreSQL.")


# ------------------------------------------------------------------------------------------------ Pemda file

SAMPLE_NAME = "Pemerintah Kabupaten Sukamakmur"
"""The fictional Pemda of the bundled example file and sample roster."""


def check_pemda_file(settings: Settings) -> tuple[Finding, PemdaConfig | None]:
    """The Pemda file can be read, is not the bundled example, and its logo (if any) exists."""
    topic = "Berkas Pemda"
    path = settings.pemda_path()
    try:
        pemda = load_pemda(path)
    except PemdaFileError as exc:
        return fail(topic, str(exc), "Perbaiki berkas sesuai pesan di atas (contoh lengkap: sigap.example.toml)."), None
    if path.resolve() == EXAMPLE_PEMDA.resolve():
        return (
            fail(
                topic,
                f"yang dipakai masih contoh bawaan ({EXAMPLE_PEMDA.name}, {SAMPLE_NAME} fiktif).",
                "Salin sigap.example.toml menjadi sigap.toml, isi nama Pemda, kop surat, penanda tangan, target dan "
                "tenggat, lalu isi SIGAP_PEMDA_FILE=sigap.toml di .env.",
            ),
            pemda,
        )
    if pemda.pemda.name == SAMPLE_NAME:
        return (
            fail(
                topic,
                f"{path.name} masih berisi data contoh ({SAMPLE_NAME}).",
                f"Ganti [pemda], [letterhead] dan [signatory] di {path} dengan data Pemda Anda.",
            ),
            pemda,
        )
    logo = pemda.letterhead.logo.strip()
    if logo and not (path.parent / logo).exists() and not Path(logo).exists():
        return (
            fail(
                topic,
                f"logo kop surat {logo} tidak ditemukan.",
                f"Letakkan berkas PNG/JPG logo di {path.parent}, atau kosongkan logo di [letterhead].",
            ),
            pemda,
        )
    return ok(topic, f"{path.name}: {pemda.pemda.name}, {len(pemda.programs)} program."), pemda


# -------------------------------------------------------------------------------------------------- database


def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def schema_revisions(db: Database) -> tuple[set[str], set[str]]:
    """(the revisions the database is at, the newest revisions this version of Sigap knows)."""
    heads = set(_scripts().get_heads())
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current, heads


def check_schema(db: Database) -> Finding:
    """The database is reachable and its schema is the newest this version of Sigap knows."""
    topic = "Skema basis data"
    try:
        current, heads = schema_revisions(db)
    except (DBAPIError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc).strip() else ""
        return fail(
            "Basis data",
            f"tidak dapat dibuka: {reason or type(exc).__name__}",
            "Periksa bahwa server basis data berjalan dan SIGAP_DATABASE_URL (alamat, pengguna, sandi) benar.",
        )
    shown = ", ".join(sorted(current)) or "-"
    if not current:
        return fail(topic, "belum dibuat.", "Jalankan: sigap db upgrade")
    if current == heads:
        return ok(topic, f"versi terbaru ({shown}).")
    known = {rev.revision for rev in _scripts().walk_revisions()}
    if not current <= known:
        return fail(
            topic,
            f"versi {shown} dibuat oleh Sigap yang lebih baru daripada yang terpasang.",
            "Pasang versi Sigap yang sama dengan server lain: git pull && .venv/bin/pip install .",
        )
    return fail(
        topic,
        f"versi {shown}, terbaru {', '.join(sorted(heads))}.",
        "Jalankan: sigap db upgrade (sigap run juga melakukannya saat mulai bila dijalankan lewat systemd).",
    )


class DiskUsage(NamedTuple):
    """What `shutil.disk_usage` returns."""

    total: int
    used: int
    free: int


def check_disk(database_url: str, usage: Callable[[Path], DiskUsage] | None = None) -> Finding:
    """Free space where the SQLite file lives (letters and evidence files are stored in the database)."""
    topic = "Ruang disk"
    measure = usage or (lambda path: DiskUsage(*shutil.disk_usage(path)))
    try:
        url = make_url(database_url)
    except ArgumentError:
        return skip(topic, "alamat basis data tidak sah; lihat Jenis basis data.")
    if url.get_backend_name() != "sqlite":
        return skip(
            topic,
            "basis data ada di server PostgreSQL; Sigap tidak dapat melihat disknya dari sini.",
            "Periksa di server basis data: df -h (berkas surat dan bukti dukung tersimpan di basis data).",
        )
    if not url.database or url.database == ":memory:":
        return skip(topic, "basis data di memori.")
    folder = Path(url.database).expanduser().resolve().parent
    try:
        free = measure(folder).free
    except OSError as exc:
        return fail(topic, f"folder {folder} tidak dapat diperiksa: {exc.strerror or exc}.", "Buat foldernya dulu.")
    shown = f"{free / GIB:.1f} GB kosong di {folder}".replace(".", ",", 1)
    if free < DISK_FAIL_BYTES:
        return fail(topic, f"hanya {shown}.", "Kosongkan disk atau pindahkan basis data ke disk yang lebih besar.")
    if free < DISK_WARN_BYTES:
        return warn(topic, f"{shown}: surat dan bukti dukung tersimpan di basis data.", "Siapkan ruang minimal 5 GB.")
    return ok(topic, shown + ".")


# ---------------------------------------------------------------------------------------------------- running


async def diagnose(settings: Settings, *, usage: Callable[[Path], DiskUsage] | None = None) -> list[Finding]:
    """Every check, in the order an admin fixes things: settings, Pemda file, database, channels, data."""
    from bot import doctor_channels, doctor_data

    findings: list[Finding] = [check_channels(settings)]
    findings += [f for f in (check_telegram_settings(settings), check_whatsapp_settings(settings)) if f is not None]
    findings.append(check_database_kind(settings))
    pemda_finding, pemda = check_pemda_file(settings)
    findings.append(pemda_finding)
    db: Database | None = None
    schema_ok = False
    with contextlib.suppress(ArgumentError):  # already reported by check_database_kind
        db = Database(settings.database_url)
    if db is not None:
        schema = check_schema(db)
        findings.append(schema)
        schema_ok = schema.status is Status.OK
    findings.append(check_workers(settings, db if schema_ok else None))
    findings.append(check_disk(settings.database_url, usage))
    findings += await doctor_channels.check_all(settings, pemda)
    if pemda is None:
        findings.append(skip("Roster dan program", "berkas Pemda belum dapat dibaca.", "Perbaiki Berkas Pemda dulu."))
    elif db is None or not schema_ok:
        findings.append(skip("Roster dan program", "skema basis data belum siap.", "Perbaiki Skema basis data dulu."))
    else:
        findings += doctor_data.check_all(settings, pemda, db)
    if db is not None:
        db.dispose()
    return findings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`sigap doctor`."""
    sub.add_parser(
        "doctor", help="memeriksa kesiapan: pengaturan, berkas Pemda, basis data, kanal, templat, roster, program"
    )


def run(_args: argparse.Namespace, settings: Settings) -> int:
    """Print the report; 0 when ready, 1 otherwise."""
    for noisy in ("sqlalchemy", "bot.whatsapp.client", "telegram", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    findings = asyncio.run(diagnose(settings))
    print(render(findings))
    return 0 if ready(findings) else 1


# -------------------------------------------------------------------------------------------------- first run


def first_run_notes(settings: Settings) -> list[str]:
    """What `sigap run` says once at start-up when the set-up is still the sample or has no admin: the next step."""
    from bot.doctor_data import admin_finding, sample_roster_finding

    notes: list[str] = []
    finding, _pemda = check_pemda_file(settings)
    if finding.status is Status.FAIL:
        notes.append(f"Berkas Pemda: {finding.message} Langkah berikutnya: {finding.fix}")
    db = Database(settings.database_url)
    try:
        with db.uow() as uow:
            checks = [sample_roster_finding(uow.session)]
            if settings.telegram_enabled or settings.whatsapp_enabled:  # the console speaks as an admin anyway
                checks.append(admin_finding(uow.session, settings))
            for check in checks:
                if check.status is not Status.OK:
                    notes.append(f"{check.topic}: {check.message} Langkah berikutnya: {check.fix}")
    finally:
        db.dispose()
    if notes:
        notes.append("Periksa seluruh kesiapan dengan: sigap doctor")
    return notes


def announce_first_run(settings: Settings) -> None:
    """Log the first-run notes once (never stops `sigap run`: a problem here is only logged at debug level)."""
    try:
        notes = first_run_notes(settings)
    except Exception as exc:  # the guidance must never keep the bot from starting
        log.debug("first-run guidance skipped: %s", type(exc).__name__)
        return
    for note in notes:
        log.warning("%s", note)
