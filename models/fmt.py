"""Indonesian formatting of dates, numbers and standings (Babel)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from models.standing import Standing

LOCALE = "id"


def tanggal(day: date) -> str:
    """'Senin, 23 November 2026'."""
    return str(format_date(day, "EEEE, d MMMM y", locale=LOCALE))


def tanggal_pendek(day: date) -> str:
    """'23 Nov 2026'."""
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


def angka(value: float) -> str:
    """'1.234' or '42,5' (at most two decimals)."""
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
        return f"{shown} (minimal {persen(standing.target)})"
    if program.measure == "checklist":
        text = f"{angka(standing.value or 0)} dari {angka(standing.target)} indikator selesai"
        if standing.open_items:
            text += f" (belum: {', '.join(standing.open_items)})"
        return text
    if standing.value is None:
        return f"belum ada laporan (target {angka(standing.target)}{label})"
    return f"{angka(standing.value)} dari target {angka(standing.target)}{label}"


def nilai_singkat(standing: Standing) -> str:
    """'3/10', '35 %', '2/5' for tables."""
    if standing.program.measure == "percent":
        return "–" if standing.value is None else persen(standing.value)
    return f"{angka(standing.value or 0)}/{angka(standing.target)}"


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
