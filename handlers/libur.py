"""/libur: the days off the bot keeps quiet on; admins add and remove cuti bersama and local holidays.

A day that is already off (the weekly days off, a national holiday, the Pemda file) is not added, and says why; a day an
admin already added keeps its reason until `/libur ubah` changes it, which says what it was and what it is now."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlmodel import col, select

from handlers.base import Ctx
from models.app import UserError
from models.calendar import WEEKDAY_NAMES
from models.fmt import tanggal, tanggal_pendek
from models.messages import Button, Reply
from models.tables import Contact, DayOff

LOOKAHEAD_DAYS = 60
MAX_AHEAD_DAYS = 731
"""How far ahead a day off may be added: two years (a typo such as 9999-12-31 is refused)."""
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
DATE_FORMS = "2026-12-24, 24/12/2026, 24 Desember 2026, 24 Desember atau besok"
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_WORDS = re.compile(r"^(\d{1,2})\s+([a-z]+)\.?\s+(\d{4})$")
_DM = re.compile(r"^(\d{1,2})[/.-](\d{1,2})$")
_DAY_MONTH = re.compile(r"^(\d{1,2})\s+([a-z]+)\.?$")
RELATIVE = {"hari ini": 0, "hariini": 0, "besok": 1, "lusa": 2}
"""Days from today that these words name."""

USAGE = (
    "Cara pakai:\n"
    "/libur — daftar hari libur 60 hari ke depan\n"
    "/libur tambah 2026-12-31 Cuti bersama — menambah hari libur\n"
    "/libur ubah 2026-12-31 Cuti bersama Tahun Baru — mengganti alasan hari libur yang ditambahkan admin\n"
    "/libur hapus 2026-12-31 — menghapus hari libur yang ditambahkan admin"
)
PAYLOAD_LIMIT = 64
"""The longest button payload Telegram carries (bytes); a longer command is only written out."""


def parse_tanggal(text: str, today: date | None = None) -> date:
    """Read '2026-12-01', '1/12/2026' or '1 Desember 2026'; with `today` also 'besok', 'lusa', 'hari ini', and a day
    and month without the year ('5 Desember', '5/12': the next such day from today). A UserError names the forms."""
    raw = " ".join(text.strip().lower().split())
    parts: tuple[int, int, int] | None = None
    if today is not None and raw in RELATIVE:
        return today + timedelta(days=RELATIVE[raw])
    if match := _ISO.match(raw):
        parts = (int(match[1]), int(match[2]), int(match[3]))
    elif match := _DMY.match(raw):
        parts = (int(match[3]), int(match[2]), int(match[1]))
    elif (match := _WORDS.match(raw)) and match[2] in MONTHS:
        parts = (int(match[3]), MONTHS[match[2]], int(match[1]))
    elif today is not None and (match := _DM.match(raw) or _DAY_MONTH.match(raw)):
        month = int(match[2]) if match[2].isdigit() else MONTHS.get(match[2], 0)
        if month:
            parts = (today.year, month, int(match[1]))
            if (month, int(match[1])) < (today.month, today.day):
                parts = (today.year + 1, month, int(match[1]))
    if parts is None:
        raise UserError(f"Tanggal “{text.strip()}” tidak dikenali. Tulis misalnya {DATE_FORMS}.")
    try:
        return date(*parts)
    except ValueError:
        raise UserError(f"Tanggal “{text.strip()}” tidak ada di kalender. Tulis misalnya {DATE_FORMS}.") from None


def split_date(words: list[str], today: date | None = None) -> tuple[date, list[str]]:
    """The date at the start of `words` (one word, 'day month year', or with `today`: 'day month', 'hari ini'),
    and the words after it."""
    if not words:
        raise UserError(f"Tanggalnya belum diisi. Tulis misalnya {DATE_FORMS}.")
    if len(words) >= 2 and words[1].lower().rstrip(".") in MONTHS:
        if len(words) >= 3 and re.fullmatch(r"\d{4}", words[2]):
            return parse_tanggal(" ".join(words[:3]), today), words[3:]
        return parse_tanggal(" ".join(words[:2]), today), words[2:]
    if len(words) >= 2 and " ".join(words[:2]).lower() == "hari ini":
        return parse_tanggal("hari ini", today), words[2:]
    return parse_tanggal(words[0], today), words[1:]


async def libur(ctx: Ctx) -> list[Reply]:
    """/libur [tambah <tanggal> <alasan> | ubah <tanggal> <alasan> | hapus <tanggal>]: list, add, change or remove."""
    args = ctx.incoming.args
    if not args:
        return [_list(ctx)]
    action = args[0].lower()
    if action == "tambah":
        return [_add(ctx, args[1:])]
    if action in ("ubah", "ganti"):
        return [_change(ctx, args[1:])]
    if action == "hapus":
        return [_remove(ctx, args[1:])]
    raise UserError(f"Perintah “/libur {args[0]}” tidak dikenal.\n{USAGE}")


def _list(ctx: Ctx) -> Reply:
    calendar = ctx.deps.calendar
    end = ctx.today + timedelta(days=LOOKAHEAD_DAYS)
    admin_days = {
        d.day: d.reason
        for d in ctx.session.exec(select(DayOff).where(col(DayOff.day) >= ctx.today, col(DayOff.day) <= end)).all()
    }
    file_days = {h.date: h.reason for h in ctx.pemda.holidays}
    weekend = [WEEKDAY_NAMES[n] for n in range(7) if n not in calendar.workdays]
    always = f" ({_words(weekend)} selalu libur)" if weekend else ""
    lines = [f"Hari libur {LOOKAHEAD_DAYS} hari ke depan{always}:"]
    for offset in range(LOOKAHEAD_DAYS + 1):
        day = ctx.today + timedelta(days=offset)
        if day in admin_days:
            line = f"• {tanggal(day)} — {admin_days[day]} (ditambahkan admin)"
            if (already := _already_off(ctx, day)) is not None:  # added before such days were refused
                line += f" — tidak diperlukan: hari itu sudah {already[1]}; hapus dengan /libur hapus {day.isoformat()}"
        elif day in file_days:
            line = f"• {tanggal(day)} — {file_days[day]} (berkas Pemda)"
        elif (national := calendar.national_holiday(day)) is not None:
            line = f"• {tanggal(day)} — {national} (libur nasional)"
        else:
            continue
        lines.append(line)
    if len(lines) == 1:
        lines.append("Tidak ada.")
    lines.append("Pada hari libur dan di luar jam kerja Sigap tidak mengirim pengingat.")
    lines.append(
        "Menambah: /libur tambah 2026-12-31 Cuti bersama · Mengubah alasan: /libur ubah 2026-12-31 <alasan baru> · "
        "Menghapus: /libur hapus 2026-12-31"
    )
    return Reply("\n".join(lines))


def _words(names: list[str]) -> str:
    """'Minggu', 'Sabtu dan Minggu', 'Jumat, Sabtu dan Minggu'."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} dan {names[-1]}"


FROM_FILE, NATIONAL, WEEKLY = "berkas Pemda", "libur nasional", "libur mingguan"


def _already_off(ctx: Ctx, day: date) -> tuple[str, str] | None:
    """Why `day` is a day off without any admin entry: where from (`FROM_FILE`, `NATIONAL`, `WEEKLY`) and in words
    that follow "sudah": 'hari libur menurut berkas Pemda (…)', 'libur nasional (…)', 'hari libur (Sabtu)'."""
    file_reason = next((h.reason for h in ctx.pemda.holidays if h.date == day), None)
    if file_reason is not None:
        return FROM_FILE, f"hari libur menurut berkas Pemda ({file_reason})"
    national = ctx.deps.calendar.national_holiday(day)
    if national is not None:
        return NATIONAL, f"libur nasional ({national})"
    if day.weekday() not in ctx.deps.calendar.workdays:
        return WEEKLY, f"hari libur ({WEEKDAY_NAMES[day.weekday()]})"
    return None


def _reason(words: list[str], example: str) -> str:
    """The reason typed after the date, checked: at least 3 and at most 120 letters."""
    reason = " ".join(words).strip()
    if len(reason) < 3:
        raise UserError(f"Mohon tulis alasannya. Contoh: {example}")
    if len(reason) > 120:
        raise UserError("Alasan terlalu panjang (paling banyak 120 huruf).")
    return reason


def _same(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def _not_past(ctx: Ctx, day: date, what: str) -> None:
    if day < ctx.today:
        raise UserError(f"{tanggal(day)} sudah lewat. Hari libur hanya dapat {what} untuk hari ini atau sesudahnya.")


def _not_too_far(ctx: Ctx, day: date) -> None:
    last = ctx.today + timedelta(days=MAX_AHEAD_DAYS)
    if day > last:
        raise UserError(
            f"{tanggal(day)} terlalu jauh ke depan. Hari libur dapat ditambahkan paling jauh dua tahun dari hari ini, "
            f"sampai {tanggal(last)}. Mohon periksa tanggalnya."
        )


def _add(ctx: Ctx, words: list[str]) -> Reply:
    if not words:
        raise UserError(f"Tanggal dan alasannya belum diisi. Contoh: /libur tambah 2026-12-31 Cuti bersama\n{USAGE}")
    day, rest = split_date(words, ctx.today)
    _not_past(ctx, day, "ditambahkan")
    _not_too_far(ctx, day)
    row = ctx.session.get(DayOff, day)
    if row is not None:
        return _kept(ctx, row, " ".join(rest).strip())
    already = _already_off(ctx, day)
    if already is not None:
        where = " Bila ingin mengubahnya, ubah di berkas Pemda." if already[0] == FROM_FILE else ""
        raise UserError(f"{tanggal(day)} sudah {already[1]}; tidak perlu ditambahkan.{where}")
    reason = _reason(rest, "/libur tambah 2026-12-31 Cuti bersama Tahun Baru")
    ctx.session.add(DayOff(day=day, reason=reason, created_by_id=ctx.me.id, created_at=ctx.now))
    ctx.session.flush()
    ctx.audit("libur.tambah", day.isoformat(), reason=reason)
    ctx.deps.calendar.add_day_off(day, reason)
    return Reply(
        f"✅ {tanggal(day)} dicatat sebagai hari libur: {reason}. Sigap tidak mengirim pengingat pada hari itu."
    )


def _kept(ctx: Ctx, row: DayOff, wanted: str) -> Reply:
    """/libur tambah on a day an admin already added: nothing changes; say so, and how to change the reason."""
    adder = ctx.session.get(Contact, row.created_by_id) if row.created_by_id is not None else None
    when = tanggal_pendek(ctx.deps.calendar.local_date(row.created_at))
    head = f"{tanggal(row.day)} sudah tercatat sebagai hari libur: “{row.reason}” (ditambahkan "
    head += f"{adder.name}, {when})." if adder is not None else f"{when})."
    if not wanted or _same(wanted, row.reason):
        return Reply(f"{head} Tidak ada yang diubah.")
    usable = 3 <= len(wanted) <= 120
    command = f"/libur ubah {row.day.isoformat()} {wanted if usable else '<alasan baru>'}"
    if not usable or len(command.encode("utf-8")) > PAYLOAD_LIMIT:
        return Reply(f"{head} Alasannya tidak diubah. Untuk menggantinya, kirim:\n{command}")
    return Reply(
        f"{head} Alasannya tidak diubah. Untuk menggantinya menjadi “{wanted}”, ketuk tombol di bawah atau kirim:\n"
        f"{command}",
        (Button("Ubah alasannya", command),),
    )


def _change(ctx: Ctx, words: list[str]) -> Reply:
    """/libur ubah <tanggal> <alasan>: a new reason for a day an admin added; says what it was and what it is now."""
    example = "/libur ubah 2026-12-31 Cuti bersama Tahun Baru"
    if not words:
        raise UserError(f"Tanggal dan alasan barunya belum diisi. Contoh: {example}")
    day, rest = split_date(words, ctx.today)
    row = ctx.session.get(DayOff, day)
    if row is None:
        source, words_off = _already_off(ctx, day) or ("", "")
        if source == FROM_FILE:
            raise UserError(f"{tanggal(day)} adalah {words_off}; ubah di berkas tersebut, bukan lewat chat.")
        if source == NATIONAL:
            raise UserError(f"{tanggal(day)} adalah {words_off} dan tidak dapat diubah.")
        raise UserError(
            f"{tanggal(day)} tidak ada dalam daftar hari libur tambahan, jadi tidak ada yang diubah. "
            f"Untuk menambahkannya: /libur tambah {day.isoformat()} <alasan>"
        )
    _not_past(ctx, day, "diubah")
    reason = _reason(rest, example)
    if _same(reason, row.reason):
        return Reply(f"{tanggal(day)} sudah tercatat dengan alasan “{row.reason}”. Tidak ada yang diubah.")
    before = row.reason
    row.reason = reason
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit("libur.ubah", day.isoformat(), reason=reason, previous=before)
    ctx.deps.calendar.add_day_off(day, reason)
    return Reply(f"✅ Alasan hari libur {tanggal(day)} diubah dari “{before}” menjadi “{reason}”.")


def _remove(ctx: Ctx, words: list[str]) -> Reply:
    if not words:
        raise UserError("Tanggalnya belum diisi. Contoh: /libur hapus 2026-12-31")
    day, _ = split_date(words, ctx.today)
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
