"""Working days and office hours of an Indonesian regional government (Pemda).

A `WorkingCalendar` knows the region's time zone (WIB ``Asia/Jakarta``, WITA ``Asia/Makassar``,
WIT ``Asia/Jayapura``), office hours, the working weekdays, national holidays from the
`holidays` package and extra days off added by an admin (cuti bersama, local holidays).
Instants are aware UTC datetimes; dates and times of day are local to the region.

Notes on the `holidays` package (checked against 0.108; pyproject requires >= 0.50):

* Always pass ``language`` explicitly: with ``language=None`` the package guesses the language
  from the process locale (LANG/LC_ALL...), so the same code gives English names on one host and
  Indonesian on another. An unsupported language silently falls back to the original names.
  We ask for ``"id"`` only if ``supported_languages`` lists it, else pin ``default_language``
  (the native names), and pass no language at all only to versions that predate both.
* Islamic and Chinese holidays beyond the government's published table are computed and get an
  estimate suffix, e.g. ``"Hari Raya Idul Fitri (perkiraan)"``. The decree (SKB) may differ by a
  day; an admin corrects that with `extra_days_off` (removing a wrong date is not supported here).
* Islamic holidays move ~11 days a year, so one can occur twice in a Gregorian year
  (Isra Mikraj in January and December 2027). Two holidays on one date come back as one name
  joined with ``"; "``.
* Cuti bersama are in the ``"government"`` category only in recent versions (not in old ones,
  and only for years already decreed). They are off by default — admins add them — and
  ``cuti_bersama_from_library=True`` opts in when the installed version supports the category.
* Objects built with ``years=`` hold only dates of those years, yet a holiday rule may put a date
  in a neighbouring year (observed/shifted days). We therefore load years into one merged
  date map and always make sure the year before and after the looked-up date are loaded too.
* Years outside the package's range for Indonesia (0.108: 1946..2100) silently return no
  holidays at all, so far-future dates only know weekends and admin days off.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from models.clock import ensure_utc

WEEKDAY_NAMES: tuple[str, ...] = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
"""Indonesian weekday names, Monday first (index = `date.weekday()`)."""

_MAX_SCAN_DAYS = 3700  # ~10 years: no real calendar has a longer run of days off


@functools.cache
def _holiday_options() -> tuple[tuple[str, ...], tuple[str, ...], str | None]:
    """Return the supported languages, categories and default language of the Indonesian calendar."""
    probe: Any = holidays.country_holidays("ID")
    languages = tuple(getattr(probe, "supported_languages", ()) or ())
    categories = tuple(getattr(probe, "supported_categories", ()) or ())
    default = getattr(probe, "default_language", None)
    return languages, categories, default if isinstance(default, str) else None


class WorkingCalendar:
    """Office days and hours in one time zone, with national holidays and admin-added days off."""

    def __init__(
        self,
        tz: str = "Asia/Jakarta",
        work_start: time = time(8, 0),
        work_end: time = time(16, 0),
        extra_days_off: Mapping[date, str] | None = None,
        workdays: Iterable[int] = (0, 1, 2, 3, 4),
        *,
        language: str = "id",
        cuti_bersama_from_library: bool = False,
    ) -> None:
        """Build a calendar; `workdays` are `date.weekday()` numbers (Monday = 0)."""
        if work_start.tzinfo is not None or work_end.tzinfo is not None:
            raise ValueError("work_start and work_end are local wall times and must be naive")
        if not work_start < work_end:
            raise ValueError(f"work_start {work_start} must be before work_end {work_end}")
        days = frozenset(workdays)
        if not days or not days <= set(range(7)):
            raise ValueError(f"workdays must be a non-empty subset of 0..6, got {sorted(days)}")
        self._zone = ZoneInfo(tz)
        self.tz = tz
        self.work_start = work_start
        self.work_end = work_end
        self.workdays = days
        self._extra: dict[date, str] = dict(extra_days_off or {})
        self._language = language
        self._with_government = cuti_bersama_from_library
        self._national: dict[date, str] = {}
        self._loaded_years: set[int] = set()
        self._next_working: dict[tuple[date, bool], date] = {}
        """`next_working_day`'s answers; a new, empty one whenever the days off change."""

    def __repr__(self) -> str:
        """Show the zone and office hours."""
        return f"WorkingCalendar(tz={self.tz!r}, work_start={self.work_start}, work_end={self.work_end})"

    @property
    def zone(self) -> ZoneInfo:
        """Return the region's time zone."""
        return self._zone

    @property
    def extra_days_off(self) -> Mapping[date, str]:
        """Return the admin-added days off (read-only view)."""
        return MappingProxyType(self._extra)

    def add_day_off(self, d: date, reason: str) -> None:
        """Add (or rename) an admin day off such as a cuti bersama date."""
        self._extra[d] = reason
        self._next_working = {}

    def replace_days_off(self, days: Mapping[date, str]) -> None:
        """Take `days` as the whole set of extra days off (what the database says now, seen by every instance)."""
        self._extra = dict(days)
        self._next_working = {}

    def remove_day_off(self, d: date) -> None:
        """Remove an admin day off; national holidays are not affected."""
        self._extra.pop(d, None)
        self._next_working = {}

    # -- holidays ---------------------------------------------------------------------------

    def _load_year(self, year: int) -> None:
        """Fetch one year of national holidays into the merged cache (once per year)."""
        if year in self._loaded_years:
            return
        if not 1 <= year <= 9999:
            self._loaded_years.add(year)
            return
        languages, categories, default = _holiday_options()
        kwargs: dict[str, Any] = {"years": year}
        if self._language in languages:
            kwargs["language"] = self._language
        elif default in languages:  # pin the native names rather than let the locale decide
            kwargs["language"] = default
        if self._with_government and "government" in categories:
            kwargs["categories"] = ("public", "government")
        for day, name in holidays.country_holidays("ID", **kwargs).items():
            if day in self._national and name not in self._national[day].split("; "):
                self._national[day] = f"{self._national[day]}; {name}"
            else:
                self._national.setdefault(day, str(name))
        self._loaded_years.add(year)

    def national_holiday(self, d: date) -> str | None:
        """Return the national holiday name on `d`, if any."""
        for year in (d.year - 1, d.year, d.year + 1):
            self._load_year(year)
        return self._national.get(d)

    def national_holidays(self, year: int) -> dict[date, str]:
        """Return the national holidays dated in `year`, sorted by date."""
        for y in (year - 1, year, year + 1):
            self._load_year(y)
        return {d: n for d, n in sorted(self._national.items()) if d.year == year}

    # -- days -------------------------------------------------------------------------------

    def is_day_off(self, d: date) -> str | None:
        """Return why `d` is not a working day (admin reason, holiday, weekday name), else None."""
        if d in self._extra:
            return self._extra[d]
        holiday = self.national_holiday(d)
        if holiday is not None:
            return holiday
        if d.weekday() not in self.workdays:
            return WEEKDAY_NAMES[d.weekday()]
        return None

    def is_working_day(self, d: date) -> bool:
        """Return True if `d` is a working day."""
        return self.is_day_off(d) is None

    def next_working_day(self, d: date, include_today: bool = False) -> date:
        """Return the first working day after `d` (or `d` itself if allowed and working).

        Remembered until the days off change: every /status asks it for each rung of each program's ladder."""
        key = (d, include_today)
        remembered = self._next_working  # a change of the days off replaces it: an answer found before goes there
        found = remembered.get(key)
        if found is None:
            found = self._scan_working_day(d if include_today else d + timedelta(days=1), d)
            if len(remembered) > 10_000:
                remembered.clear()
            remembered[key] = found
        return found

    def _scan_working_day(self, day: date, d: date) -> date:
        for _ in range(_MAX_SCAN_DAYS):
            if self.is_working_day(day):
                return day
            day += timedelta(days=1)
        raise ValueError(f"no working day within {_MAX_SCAN_DAYS} days after {d}")

    def add_working_days(self, d: date, n: int) -> date:
        """Return the date `n` working days after `d` (before it if `n` < 0); `n` = 0 gives `d`."""
        step = timedelta(days=1 if n >= 0 else -1)
        remaining = abs(n)
        day = d
        idle = 0
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
                idle = 0
            else:
                idle += 1
                if idle > _MAX_SCAN_DAYS:
                    raise ValueError(f"no working day within {_MAX_SCAN_DAYS} days of {day}")
        return day

    def working_days_between(self, a: date, b: date) -> int:
        """Count working days in (a, b]; negative count of (b, a] when b < a.

        For a working day `a`, `add_working_days(a, working_days_between(a, b)) == b`
        whenever `b` is a working day too.
        """
        if b < a:
            return -self.working_days_between(b, a)
        count = 0
        day = a + timedelta(days=1)
        while day <= b:
            if self.is_working_day(day):
                count += 1
            day += timedelta(days=1)
        return count

    # -- instants ---------------------------------------------------------------------------

    def local_date(self, at: datetime) -> date:
        """Return the local calendar date of the aware instant `at`."""
        return ensure_utc(at).astimezone(self._zone).date()

    def at_local(self, d: date, t: time) -> datetime:
        """Return local date `d` at local wall time `t` as an aware UTC datetime."""
        return datetime.combine(d, t.replace(tzinfo=None), tzinfo=self._zone).astimezone(UTC)

    def is_working_time(self, at: datetime) -> bool:
        """Return True if the aware instant `at` falls in office hours on a working day."""
        local = ensure_utc(at).astimezone(self._zone)
        if not self.work_start <= local.time().replace(tzinfo=None) < self.work_end:
            return False
        return self.is_working_day(local.date())

    def next_slot(self, at: datetime) -> datetime:
        """Return `at` (in UTC) if it is working time, else the start of the next office period."""
        utc = ensure_utc(at)
        local = utc.astimezone(self._zone)
        today = local.date()
        wall = local.time().replace(tzinfo=None)
        if self.is_working_day(today):
            if wall < self.work_start:
                return self.at_local(today, self.work_start)
            if wall < self.work_end:
                return utc
        return self.at_local(self.next_working_day(today), self.work_start)
