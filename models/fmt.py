"""Indonesian formatting of dates, numbers and standings (Babel)."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from models.standing import Standing

LOCALE = "id"


@lru_cache(maxsize=1024)
def tanggal(day: date) -> str:
    """'Senin, 23 November 2026'. Remembered (a few dates recur in every /status; Babel takes ~50 µs a date)."""
    return str(format_date(day, "EEEE, d MMMM y", locale=LOCALE))


@lru_cache(maxsize=1024)
def tanggal_pendek(day: date) -> str:
    """'23 Nov 2026'. Remembered, as `tanggal`."""
    return str(format_date(day, "d MMM y", locale=LOCALE))


def waktu(at: datetime, zone: ZoneInfo) -> str:
    """'Senin, 23 November 2026 08.00 WIB' in the Pemda's zone."""
    local = at.astimezone(zone)
    return f"{format_datetime(local, 'EEEE, d MMMM y HH.mm', locale=LOCALE)} {zone_abbr(zone)}"


def zone_abbr(zone: ZoneInfo) -> str:
    """WIB, WITA or WIT."""
    return {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}.get(
        zone.key, zone.key
    )


@lru_cache(maxsize=4096)
def angka(value: float) -> str:
    """'1.234' or '42,5' (at most two decimals). Remembered: a Pemda-wide list repeats a few figures thousands of
    times, and Babel takes about 50 µs a number."""
    return str(format_decimal(round(value, 2), format="#,##0.##", locale=LOCALE))


def persen(value: float) -> str:
    """'42,5 %'."""
    return f"{angka(value)} %"


def nilai(standing: Standing) -> str:
    """A standing's value against its target in words people read at a glance."""
    program = standing.program
    label = f" {program.unit_label}" if program.unit_label else ""
    if program.measure == "percent":
        shown = "belum ada laporan" if standing.value is None else persen(standing.value)
        return f"{shown} (minimal {persen(standing.target)}){_waiting(standing, label)}"
    if program.measure == "checklist":
        text = f"{angka(standing.value or 0)} dari {angka(standing.target)} indikator selesai"
        if standing.open_items:
            text += f" ({_open_items(standing)})"
        return text
    if standing.value is None:
        return f"belum ada laporan (target {angka(standing.target)}{label}){_waiting(standing, label)}"
    return f"{angka(standing.value)} dari target {angka(standing.target)}{label}{_waiting(standing, label)}"


def _open_items(standing: Standing) -> str:
    """'belum: 1.2; diunggah, menunggu verifikasi: 2.1; ditolak: 2.2' (only the parts that apply)."""
    waiting, rejected = set(standing.waiting_items), set(standing.rejected_items)
    parts = [
        ("belum", [c for c in standing.open_items if c not in waiting and c not in rejected]),
        ("diunggah, menunggu verifikasi", list(standing.waiting_items)),
        ("ditolak", list(standing.rejected_items)),
    ]
    return "; ".join(f"{words}: {', '.join(codes)}" for words, codes in parts if codes)


def _waiting(standing: Standing, label: str) -> str:
    """'; menunggu verifikasi: 12 produk' when evidence waits for the verifier (programs that require it)."""
    if standing.pending is None:
        return ""
    if standing.program.measure == "percent":
        return f"; menunggu verifikasi: {persen(standing.pending)}"
    if standing.program.measure == "submission":
        return f"; {angka(standing.pending - (standing.value or 0))} menunggu verifikasi"
    return f"; menunggu verifikasi: {angka(standing.pending)}{label}"


def nilai_singkat(standing: Standing) -> str:
    """'3/10', '35 %', '2/5' for tables ('2/5 menunggu verifikasi' while evidence waits for the verifier)."""
    waiting = " menunggu verifikasi" if standing.pending is not None else ""
    if standing.program.measure == "percent":
        return ("–" if standing.value is None else persen(standing.value)) + waiting
    return f"{angka(standing.value or 0)}/{angka(standing.target)}{waiting}"


def periode(period: str) -> str:
    """A period key in words: 'tahun 2026', 'triwulan IV tahun 2026', 'bulan November 2026'."""
    if "-Q" in period:
        year, quarter = period.split("-Q")
        return f"triwulan {('I', 'II', 'III', 'IV')[int(quarter) - 1]} tahun {year}"
    if "-" in period:
        year, month = period.split("-")
        return "bulan " + str(format_date(date(int(year), int(month), 1), "MMMM y", locale=LOCALE))
    return f"tahun {period}"


def sisa_hari(deadline: date, today: date) -> str:
    """'22 hari lagi', 'hari ini', 'terlambat 3 hari'."""
    days = (deadline - today).days
    if days > 0:
        return f"{days} hari lagi"
    if days == 0:
        return "hari ini"
    return f"terlambat {-days} hari"
