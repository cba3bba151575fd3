"""Tests for the working calendar (models/calendar.py) and the fake clock (models/clock.py)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from models.calendar import WEEKDAY_NAMES, WorkingCalendar
from models.clock import FakeClock, SystemClock, ensure_utc

WIB = "Asia/Jakarta"
WITA = "Asia/Makassar"
WIT = "Asia/Jayapura"

CUTI_NATAL = date(2026, 12, 24)  # Thursday before Natal, added by the admin


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    """Build an aware UTC datetime."""
    return datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)


@pytest.fixture
def cal() -> WorkingCalendar:
    """A WIB calendar with one admin-added cuti bersama day."""
    return WorkingCalendar(WIB, extra_days_off={CUTI_NATAL: "Cuti Bersama Natal"})


# -- days off -------------------------------------------------------------------------------


def test_weekends_are_days_off(cal: WorkingCalendar) -> None:
    assert cal.is_day_off(date(2026, 7, 11)) == "Sabtu"
    assert cal.is_day_off(date(2026, 7, 12)) == "Minggu"
    assert cal.is_day_off(date(2026, 7, 13)) is None  # Monday
    assert cal.is_day_off(date(2026, 7, 10)) is None  # Friday


def test_national_holidays(cal: WorkingCalendar) -> None:
    natal = cal.is_day_off(date(2026, 12, 25))
    merdeka = cal.is_day_off(date(2026, 8, 17))
    assert natal is not None and "Natal" in natal
    assert merdeka is not None and "Kemerdekaan" in merdeka
    assert cal.is_day_off(date(2026, 1, 1)) is not None
    assert not cal.is_working_day(date(2026, 8, 17))  # a Monday
    assert cal.is_working_day(date(2026, 8, 18))


def test_holiday_names_are_indonesian(cal: WorkingCalendar) -> None:
    names = cal.national_holidays(2026)
    assert names[date(2026, 12, 25)] == "Hari Raya Natal"
    assert all(d.year == 2026 for d in names)
    assert list(names) == sorted(names)


def test_extra_day_off_and_admin_edits(cal: WorkingCalendar) -> None:
    assert cal.is_day_off(CUTI_NATAL) == "Cuti Bersama Natal"
    assert cal.extra_days_off == {CUTI_NATAL: "Cuti Bersama Natal"}
    extra = date(2026, 6, 2)  # Tuesday
    assert cal.is_working_day(extra)
    cal.add_day_off(extra, "Hari Jadi Kabupaten")
    assert cal.is_day_off(extra) == "Hari Jadi Kabupaten"
    cal.remove_day_off(extra)
    assert cal.is_working_day(extra)


def test_admin_reason_wins_over_weekend(cal: WorkingCalendar) -> None:
    cal.add_day_off(date(2026, 7, 11), "Kerja bakti")
    assert cal.is_day_off(date(2026, 7, 11)) == "Kerja bakti"


def test_custom_workdays_include_saturday() -> None:
    six_days = WorkingCalendar(WIB, workdays=range(6))
    assert six_days.is_day_off(date(2026, 7, 11)) is None
    assert six_days.is_day_off(date(2026, 7, 12)) == WEEKDAY_NAMES[6]


def test_cuti_bersama_from_library_is_opt_in() -> None:
    plain = WorkingCalendar(WIB)
    with_lib = WorkingCalendar(WIB, cuti_bersama_from_library=True)
    assert plain.is_working_day(CUTI_NATAL)
    reason = with_lib.is_day_off(CUTI_NATAL)
    if reason is not None:  # only versions with the "government" category know cuti bersama
        assert "Cuti Bersama" in reason


def test_invalid_configuration() -> None:
    with pytest.raises(ValueError):
        WorkingCalendar(WIB, work_start=time(16), work_end=time(8))
    with pytest.raises(ValueError):
        WorkingCalendar(WIB, workdays=())
    with pytest.raises(ValueError):
        WorkingCalendar(WIB, workdays=(7,))
    with pytest.raises(KeyError):  # ZoneInfoNotFoundError is a KeyError
        WorkingCalendar("Asia/Nowhere")


# -- instants -------------------------------------------------------------------------------


def test_working_time_bounds(cal: WorkingCalendar) -> None:
    # Wednesday 2026-07-08 in WIB (UTC+7)
    assert not cal.is_working_time(utc(2026, 7, 8, 0, 59))  # 07:59 WIB
    assert cal.is_working_time(utc(2026, 7, 8, 1, 0))  # 08:00 WIB
    assert cal.is_working_time(utc(2026, 7, 8, 8, 59, 59))  # 15:59:59 WIB
    assert not cal.is_working_time(utc(2026, 7, 8, 9, 0))  # 16:00 WIB: end is exclusive
    assert not cal.is_working_time(utc(2026, 8, 17, 3, 0))  # holiday, 10:00 WIB


def test_before_office_hours_goes_to_eight_same_day(cal: WorkingCalendar) -> None:
    at = utc(2026, 7, 8, 0, 15)  # 07:15 WIB Wednesday
    assert cal.next_slot(at) == utc(2026, 7, 8, 1, 0)


def test_next_slot_inside_hours_is_identity(cal: WorkingCalendar) -> None:
    at = utc(2026, 7, 8, 3, 21, 5)
    assert cal.next_slot(at) == at
    # an aware non-UTC input comes back as the same instant in UTC
    jakarta = at.astimezone(cal.zone)
    assert cal.next_slot(jakarta) == at
    assert cal.next_slot(jakarta).tzinfo is UTC


def test_friday_after_hours_goes_to_monday(cal: WorkingCalendar) -> None:
    friday_17 = cal.at_local(date(2026, 7, 10), time(17))
    assert cal.next_slot(friday_17) == cal.at_local(date(2026, 7, 13), time(8))
    assert cal.next_slot(friday_17) == utc(2026, 7, 13, 1, 0)


def test_friday_after_hours_skips_monday_holiday(cal: WorkingCalendar) -> None:
    friday_17 = cal.at_local(date(2026, 8, 14), time(17))
    assert cal.next_slot(friday_17) == cal.at_local(date(2026, 8, 18), time(8))


def test_next_slot_skips_cuti_bersama_and_natal(cal: WorkingCalendar) -> None:
    wed_evening = cal.at_local(date(2026, 12, 23), time(16, 30))
    # Thu 24 cuti bersama, Fri 25 Natal, weekend -> Monday 28
    assert cal.next_slot(wed_evening) == cal.at_local(date(2026, 12, 28), time(8))


def test_next_slot_across_year_boundary(cal: WorkingCalendar) -> None:
    new_years_eve = cal.at_local(date(2026, 12, 31), time(16))  # Thursday, office just closed
    # Fri 2027-01-01 Tahun Baru, weekend -> Monday 2027-01-04
    assert cal.next_slot(new_years_eve) == cal.at_local(date(2027, 1, 4), time(8))
    cal.add_day_off(date(2027, 1, 4), "Cuti tahun baru")
    # Tue 2027-01-05 is Isra Mikraj (it falls twice in 2027) -> Wednesday
    assert cal.next_slot(new_years_eve) == cal.at_local(date(2027, 1, 6), time(8))


def test_same_instant_in_wib_wita_wit() -> None:
    wib, wita, wit = WorkingCalendar(WIB), WorkingCalendar(WITA), WorkingCalendar(WIT)
    morning = utc(2026, 7, 8, 0, 30)  # 07:30 WIB, 08:30 WITA, 09:30 WIT
    assert not wib.is_working_time(morning)
    assert wita.is_working_time(morning)
    assert wit.is_working_time(morning)
    assert wib.next_slot(morning) == utc(2026, 7, 8, 1, 0)
    assert wita.next_slot(morning) == morning

    afternoon = utc(2026, 7, 8, 7, 30)  # 14:30 WIB, 15:30 WITA, 16:30 WIT
    assert wib.is_working_time(afternoon)
    assert wita.is_working_time(afternoon)
    assert not wit.is_working_time(afternoon)
    assert wit.next_slot(afternoon) == utc(2026, 7, 8, 23, 0)  # Thursday 08:00 WIT

    night = utc(2026, 7, 8, 16, 30)  # 23:30 WIB Wed, 00:30 WITA Thu, 01:30 WIT Thu
    assert wib.local_date(night) == date(2026, 7, 8)
    assert wita.local_date(night) == date(2026, 7, 9)
    assert wit.local_date(night) == date(2026, 7, 9)
    assert wib.next_slot(night) == utc(2026, 7, 9, 1, 0)
    assert wita.next_slot(night) == utc(2026, 7, 9, 0, 0)
    assert wit.next_slot(night) == utc(2026, 7, 8, 23, 0)


def test_at_local_and_local_date_round_trip() -> None:
    for tz, offset in ((WIB, 7), (WITA, 8), (WIT, 9)):
        c = WorkingCalendar(tz)
        at = c.at_local(date(2026, 3, 2), time(8))
        assert at.tzinfo is UTC
        assert at == utc(2026, 3, 2, 8) - timedelta(hours=offset)
        assert c.local_date(at) == date(2026, 3, 2)
        assert c.zone.key == tz


def test_naive_datetimes_are_rejected(cal: WorkingCalendar) -> None:
    naive = datetime(2026, 7, 8, 9, 0)
    with pytest.raises(ValueError):
        cal.is_working_time(naive)
    with pytest.raises(ValueError):
        cal.next_slot(naive)
    with pytest.raises(ValueError):
        cal.local_date(naive)


# -- working-day arithmetic -----------------------------------------------------------------


def test_add_working_days_across_holiday(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(date(2026, 8, 14), 1) == date(2026, 8, 18)  # Fri + 1 skips 17-an
    assert cal.add_working_days(date(2026, 8, 18), -1) == date(2026, 8, 14)
    assert cal.add_working_days(date(2026, 12, 23), 1) == date(2026, 12, 28)
    assert cal.add_working_days(date(2026, 12, 28), -1) == date(2026, 12, 23)
    assert cal.add_working_days(date(2026, 12, 28), 0) == date(2026, 12, 28)
    assert cal.add_working_days(date(2026, 7, 11), 1) == date(2026, 7, 13)  # from a Saturday
    assert cal.add_working_days(date(2026, 12, 30), 2) == date(2027, 1, 4)  # 31 Dec, then 4 Jan


def test_working_days_between(cal: WorkingCalendar) -> None:
    assert cal.working_days_between(date(2026, 8, 14), date(2026, 8, 18)) == 1
    assert cal.working_days_between(date(2026, 8, 18), date(2026, 8, 14)) == -1
    assert cal.working_days_between(date(2026, 8, 10), date(2026, 8, 10)) == 0
    # Mon 21 Dec -> Mon 28 Dec: 22, 23 and 28 (24 cuti, 25 Natal, weekend)
    assert cal.working_days_between(date(2026, 12, 21), date(2026, 12, 28)) == 3
    # 29, 30, 31 Dec and 4, 6, 7, 8 Jan (1 Jan Tahun Baru, 5 Jan Isra Mikraj)
    assert cal.working_days_between(date(2026, 12, 28), date(2027, 1, 8)) == 7


def test_working_day_arithmetic_is_consistent(cal: WorkingCalendar) -> None:
    rng = random.Random(20260817)
    start = date(2026, 1, 1)
    for _ in range(200):
        a = cal.next_working_day(start + timedelta(days=rng.randrange(730)), include_today=True)
        n = rng.randrange(-40, 41)
        b = cal.add_working_days(a, n)
        assert cal.is_working_day(b)
        assert cal.working_days_between(a, b) == n
        assert cal.add_working_days(b, -n) == a


# -- clock ----------------------------------------------------------------------------------


async def test_fake_clock_sleep_advances_time() -> None:
    clock = FakeClock(utc(2026, 7, 8, 1, 0))
    await clock.sleep(2.5)
    await clock.sleep(-1)
    assert clock.monotonic() == 2.5
    assert clock.now() == utc(2026, 7, 8, 1, 0, 2, 500000)
    assert clock.sleeps == [2.5, -1]


def test_fake_clock_advance_and_set() -> None:
    clock = FakeClock(utc(2026, 7, 8, 1, 0))
    clock.advance(timedelta(minutes=1))
    clock.advance(1)
    assert clock.now() == utc(2026, 7, 8, 1, 1, 1)
    assert clock.monotonic() == 61
    clock.set(utc(2026, 7, 8, 2, 0))
    assert clock.monotonic() == 3600
    clock.set(utc(2026, 7, 8, 0, 0))  # wall clock may jump back, monotonic never does
    assert clock.now() == utc(2026, 7, 8, 0, 0)
    assert clock.monotonic() == 3600
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_clocks_reject_naive_and_return_utc() -> None:
    with pytest.raises(ValueError):
        FakeClock(datetime(2026, 7, 8))
    clock = FakeClock(datetime(2026, 7, 8, 8, tzinfo=timezone(timedelta(hours=7))))
    assert clock.now() == utc(2026, 7, 8, 1, 0)
    assert clock.now().tzinfo is UTC
    with pytest.raises(ValueError):
        clock.set(datetime(2026, 7, 9))
    with pytest.raises(ValueError):
        ensure_utc(datetime(2026, 7, 9))
    assert SystemClock().now().tzinfo is UTC


def test_next_working_day_follows_each_change_of_the_days_off(cal: WorkingCalendar) -> None:
    """The answer is remembered (every /status asks it per ladder rung), but never past a change of the days off."""
    tuesday = date(2026, 12, 8)
    assert cal.next_working_day(tuesday, include_today=True) == tuesday
    cal.add_day_off(tuesday, "Cuti bersama")
    assert cal.next_working_day(tuesday, include_today=True) == date(2026, 12, 9)
    cal.replace_days_off({tuesday: "Cuti bersama", date(2026, 12, 9): "Pilkada"})
    assert cal.next_working_day(tuesday, include_today=True) == date(2026, 12, 10)
    cal.remove_day_off(tuesday)
    assert cal.next_working_day(tuesday, include_today=True) == tuesday
    assert cal.next_working_day(tuesday) == date(2026, 12, 10)
