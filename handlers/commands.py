"""The one visible command table: every chat command, who may use it, and how it is written."""

from __future__ import annotations

import handlers.bukti as bukti
import handlers.verifikasi as verifikasi
from handlers import broadcast, contacts, libur, pause, registration, report, riwayat, roster_upload, status, teguran
from handlers.base import ALL_ROLES, NO_LONGER_ACTIVE, REPORTERS, Command, Ctx, deactivated
from handlers.dasbor import DASBOR
from handlers.figures_upload import ANGKA
from handlers.jejak import JEJAK
from handlers.pimpinan import COMMANDS as LEADER_COMMANDS
from handlers.undangan import UNDANGAN
from jobs.letters import flow
from models.messages import Reply
from models.onboarding import role_label
from models.pemda import PemdaConfig
from models.tables import Role, Unit

TEGURAN_FOR_APPROVERS = (
    "/teguran [id | setujui <id>|semua | batal <id> [alasan] | diantar <id> | ulang <id>]",
    "register surat teguran: daftar, kirim ulang PDF, setujui, batalkan, catat diantar langsung, mulai ulang tangga",
)
TEGURAN_FOR_READERS = ("/teguran [id]", "register surat teguran: daftar dan PDF")


def teguran_help(role: Role, pemda: PemdaConfig) -> tuple[str, str]:
    """/teguran as `role` may use it: the whole register for approvers, the list and the PDFs for the others."""
    return TEGURAN_FOR_APPROVERS if flow.role_may_approve(pemda, role) else TEGURAN_FOR_READERS


async def bantuan(ctx: Ctx) -> list[Reply]:
    """/bantuan: the commands this person may use, as far as they may use them."""
    if ctx.contact is None:
        if deactivated(ctx.session, ctx.incoming):
            return [Reply(NO_LONGER_ACTIVE)]
        return [Reply("Untuk mendaftar, kirim kode undangan dari admin: /start KODE")]
    role = ctx.role
    unit = ctx.session.get(Unit, ctx.me.unit_id) if ctx.me.unit_id is not None else None
    lines = [f"Perintah untuk {role_label(role, unit)}:"]
    for command in COMMANDS:
        if command.name != "start" and command.offered_for(ctx):
            usage, summary = command.describe(role, ctx.pemda)
            lines.append(f"{usage} — {summary}")
    return [Reply("\n".join(lines))]


async def batal(ctx: Ctx) -> list[Reply]:
    """/batal: close the open guided conversation."""
    had = ctx.get_state() is not None
    ctx.clear_state()
    return [Reply("Baik, dibatalkan." if had else "Tidak ada yang sedang berjalan.")]


COMMANDS: list[Command] = [
    Command("start", registration.start, "mendaftar dengan kode undangan", "/start KODE", public=True),
    Command("bantuan", bantuan, "daftar perintah", "/bantuan", aliases=("help", "menu"), public=True),
    Command("lapor", report.lapor, "melaporkan capaian program", "/lapor [program] [nilai]", REPORTERS),
    Command("bukti", bukti.bukti, "mengirim bukti dukung (berkas)", "/bukti <program> [indikator]", REPORTERS),
    Command(
        "verifikasi",
        verifikasi.verifikasi,
        "verifikator: bukti sah atau tolak",
        "/verifikasi",
        verifikasi.ROLES,
        offered_to=verifikasi.offered_to,
        offered_to_person=verifikasi.offered_to_person,
    ),
    Command("status", status.status, "status unit pada setiap program", "/status [unit]", ALL_ROLES),
    Command(
        "rekap",
        status.rekap,
        "rekap semua unit, yang tertinggal di atas",
        "/rekap",
        frozenset({Role.ADMIN, Role.PIMPINAN, Role.CAMAT}),
    ),
    *LEADER_COMMANDS,  # /grafik, /peringkat, /ekspor
    DASBOR,  # /dasbor: a one-time sign-in link to the web dashboard
    Command(
        "riwayat",
        riwayat.riwayat,
        "riwayat laporan unit: siapa, kapan, lewat apa",
        "/riwayat [unit] [program]",
        ALL_ROLES,
    ),
    Command(
        "tarik",
        riwayat.tarik,
        "menarik laporan yang keliru (milik sendiri dalam sehari; admin: semua)",
        "/tarik <id> [alasan]",
        REPORTERS,
    ),
    Command("inovasi", riwayat.inovasi, "daftar inovasi unit yang sudah diajukan", "/inovasi [unit]", ALL_ROLES),
    Command("unit", status.unit_list, "daftar unit dan nama pendeknya; cari: /unit <kata>", "/unit [kata]", ALL_ROLES),
    Command("undang", registration.undang, "membuat kode undangan", "/undang <unit> <peran>", frozenset({Role.ADMIN})),
    UNDANGAN,  # /undangan: onboarding progress, renew expired codes
    Command(
        "siaran",
        broadcast.siaran,
        "siaran ke semua, satu jenis unit, unit tertinggal, atau daftar unit",
        "/siaran <sasaran> <pesan>",
        frozenset({Role.ADMIN}),
    ),
    roster_upload.ROSTER,
    ANGKA,  # /angka: figures from LKPP exports
    Command(
        "takterjangkau",
        contacts.takterjangkau,
        "kontak yang memblokir bot / tidak terjangkau",
        "/takterjangkau",
        frozenset({Role.ADMIN}),
    ),
    Command(
        "proses",
        pause.proses,
        "sedang diproses: menunda pengingat sampai suatu tanggal",
        "/proses <program> <tanggal>",
        frozenset({Role.KEPALA, Role.OPERATOR, Role.CAMAT}),
    ),
    Command(
        "libur",
        libur.libur,
        "hari libur; tambah, ubah alasan, atau hapus cuti bersama",
        "/libur [tambah <tanggal> <alasan> | ubah <tanggal> <alasan> | hapus <tanggal>]",
        frozenset({Role.ADMIN}),
    ),
    Command(
        "dispensasi",
        pause.dispensasi,
        "membebaskan unit dari pengingat, peringatan dan surat teguran suatu program periode ini",
        "/dispensasi <unit> <program> <alasan> | cabut <unit> <program>",
        frozenset({Role.ADMIN}),
    ),
    Command("batal", batal, "membatalkan isian yang sedang berjalan", "/batal", ALL_ROLES),
    Command(
        "teguran",
        teguran.teguran,
        TEGURAN_FOR_APPROVERS[1],
        TEGURAN_FOR_APPROVERS[0],
        frozenset({Role.ADMIN, Role.PIMPINAN}),
        help_for=teguran_help,
    ),
    Command(
        "terima",
        teguran.terima,
        "tanda terima surat teguran",
        "/terima <id>",
        frozenset({Role.KEPALA, Role.OPERATOR, Role.CAMAT}),
    ),
    JEJAK,  # /jejak: the audit log read back
]

FLOWS = {report.FLOW: report.continue_flow, bukti.FLOW: bukti.continue_flow, verifikasi.FLOW: verifikasi.continue_flow}


def lookup(name: str) -> Command | None:
    """The command called `name` or one of its aliases."""
    for command in COMMANDS:
        if name == command.name or name in command.aliases:
            return command
    return None


def menu_for(role: Role | None, pemda: PemdaConfig | None = None) -> list[tuple[str, str]]:
    """(command, summary) pairs for a channel's command menu. With the Pemda file, summaries fit the role's rights and
    a command nobody of the role can use there (/verifikasi when no program names that role as verifier) is left out;
    the menu is one per role, so a command some of the role can use stays (/bantuan is exact per person)."""
    return [(c.name, c.describe(role, pemda)[1]) for c in COMMANDS if c.offered(role, pemda)]
