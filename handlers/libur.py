"""/libur: the days off the bot keeps quiet on; admins add and remove cuti bersama and local holidays."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlmodel import col, select

from handlers.base import Ctx
from models.app import UserError
from models.fmt import tanggal
from models.messages import Reply
from models.tables import DayOff

LOOKAHEAD_DAYS = 60
MONTHS = {
    "januari": 1,
    "jan": 1,
    "februari": 2,
    "feb": 2,
    "pebruari": 2,
    "maret": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "mei": 5,
    "juni": 6,
    "jun": 6,
    "juli": 7,
    "jul": 7,
    "agustus": 8,
    "agu": 8,
    "agt": 8,
    "ags": 8,
    "september": 9,
    "sep": 9,
    "sept": 9,
    "oktober": 10,
    "okt": 10,
    "november": 11,
    "nov": 11,
    "nopember": 11,
    "desember": 12,
    "des": 12,
}
DATE_FORMS = "2026-12-24, 24/12/2026 atau 24 Desember 2026"
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_WORDS = re.compile(r"^(\d{1,2})\s+([a-z]+)\.?\s+(\d{4})$")

USAGE = (
    "Cara pakai:\n"
    "/libur — daftar hari libur 60 hari ke depan\n"
    "/libur tambah 2026-12-24 Cuti bersama — menambah hari libur\n"
    "/libur hapus 2026-12-24 — menghapus hari libur yang ditambahkan admin"
)


def parse_tanggal(text: str) -> date:
    """Read '2026-12-01', '1/12/2026' or '1 Desember 2026'; a UserError names the accepted forms."""
    raw = " ".join(text.strip().lower().split())
    parts: tuple[int, int, int] | None = None
    if match := _ISO.match(raw):
        parts = (int(match[1]), int(match[2]), int(match[3]))
    elif match := _DMY.match(raw):
        parts = (int(match[3]), int(match[2]), int(match[1]))
    elif (match := _WORDS.match(raw)) and match[2] in MONTHS:
        parts = (int(match[3]), MONTHS[match[2]], int(match[1]))
    if parts is None:
        raise UserError(f"Tanggal “{text.strip()}” tidak dikenali. Tulis misalnya {DATE_FORMS}.")
    try:
        return date(*parts)
    except ValueError:
        raise UserError(f"Tanggal “{text.strip()}” tidak ada di kalender. Tulis misalnya {DATE_FORMS}.") from None


def split_date(words: list[str]) -> tuple[date, list[str]]:
    """The date at the start of `words` (one word, or 'day month year'), and the words after it."""
    if len(words) >= 3 and words[1].lower().rstrip(".") in MONTHS:
        return parse_tanggal(" ".join(words[:3])), words[3:]
    if not words:
        raise UserError(f"Tanggalnya belum diisi. Tulis misalnya {DATE_FORMS}.")
    return parse_tanggal(words[0]), words[1:]


async def libur(ctx: Ctx) -> list[Reply]:
    """/libur [tambah <tanggal> <alasan> | hapus <tanggal>]: list, add or remove days off."""
    args = ctx.incoming.args
    if not args:
        return [_list(ctx)]
    action = args[0].lower()
    if action == "tambah":
        return [_add(ctx, args[1:])]
    if action == "hapus":
        return [_remove(ctx, args[1:])]
    raise UserError(f"Perintah “/libur {args[0]}” tidak dikenal.\n{USAGE}")


def _list(ctx: Ctx) -> Reply:
    calendar = ctx.deps.calendar
    admin_days = {d.day for d in ctx.session.exec(select(DayOff).where(col(DayOff.day) >= ctx.today)).all()}
    lines = [f"Hari libur {LOOKAHEAD_DAYS} hari ke depan (selain Sabtu dan Minggu):"]
    for offset in range(LOOKAHEAD_DAYS + 1):
        day = ctx.today + timedelta(days=offset)
        reason = calendar.extra_days_off.get(day) or calendar.national_holiday(day)
        if reason is None:
            continue
        source = (
            "ditambahkan admin"
            if day in admin_days
            else ("berkas Pemda" if day in calendar.extra_days_off else "libur nasional")
        )
        lines.append(f"• {tanggal(day)} — {reason} ({source})")
    if len(lines) == 1:
        lines.append("Tidak ada.")
    lines.append("Pada hari libur dan di luar jam kerja Sigap tidak mengirim pengingat.")
    lines.append("Menambah: /libur tambah 2026-12-24 Cuti bersama · Menghapus: /libur hapus 2026-12-24")
    return Reply("\n".join(lines))


def _add(ctx: Ctx, words: list[str]) -> Reply:
    if not words:
        raise UserError(f"Tanggal dan alasannya belum diisi. Contoh: /libur tambah 2026-12-24 Cuti bersama\n{USAGE}")
    day, rest = split_date(words)
    reason = " ".join(rest).strip()
    if len(reason) < 3:
        raise UserError("Mohon tulis alasannya. Contoh: /libur tambah 2026-12-24 Cuti bersama Natal")
    if len(reason) > 120:
        raise UserError("Alasan terlalu panjang (paling banyak 120 huruf).")
    if day < ctx.today:
        raise UserError(
            f"{tanggal(day)} sudah lewat. Hari libur hanya dapat ditambahkan untuk hari ini atau sesudahnya."
        )
    row = ctx.session.get(DayOff, day)
    if row is None:
        row = DayOff(day=day, reason=reason, created_by_id=ctx.me.id, created_at=ctx.now)
    else:
        row.reason = reason
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit("libur.tambah", day.isoformat(), reason=reason)
    ctx.deps.calendar.add_day_off(day, reason)
    return Reply(
        f"✅ {tanggal(day)} dicatat sebagai hari libur: {reason}. Sigap tidak mengirim pengingat pada hari itu."
    )


def _remove(ctx: Ctx, words: list[str]) -> Reply:
    if not words:
        raise UserError("Tanggalnya belum diisi. Contoh: /libur hapus 2026-12-24")
    day, _ = split_date(words)
    row = ctx.session.get(DayOff, day)
    file_reason = next((h.reason for h in ctx.pemda.holidays if h.date == day), None)
    if row is None:
        if file_reason is not None:
            raise UserError(
                f"{tanggal(day)} ({file_reason}) berasal dari berkas Pemda; ubah di berkas tersebut, bukan lewat chat."
            )
        national = ctx.deps.calendar.national_holiday(day)
        if national is not None:
            raise UserError(f"{tanggal(day)} adalah libur nasional ({national}) dan tidak dapat dihapus.")
        raise UserError(f"{tanggal(day)} tidak ada dalam daftar hari libur tambahan. Lihat daftarnya dengan /libur.")
    ctx.session.delete(row)
    ctx.session.flush()
    ctx.audit("libur.hapus", day.isoformat(), reason=row.reason)
    ctx.deps.calendar.remove_day_off(day)
    if file_reason is not None:
        ctx.deps.calendar.add_day_off(day, file_reason)
        return Reply(f"Catatan admin untuk {tanggal(day)} dihapus; hari itu tetap libur menurut berkas Pemda.")
    still = ctx.deps.calendar.is_day_off(day)
    note = f" Hari itu tetap tidak bekerja ({still})." if still else " Hari itu kini hari kerja."
    return Reply(f"✅ {tanggal(day)} dihapus dari daftar hari libur.{note}")
