"""Phone numbers normalise to one form; periods and deadlines."""

from __future__ import annotations

from datetime import date

import pytest

from models.periods import deadline_for, period_bounds, period_key, previous_period
from models.phone import PhoneError, mask_phone, normalize_phone


@pytest.mark.parametrize(
    "raw", ["0812-3456-7890", "6281234567890", "+62 812-3456-7890", "+62 (0)812 3456 7890", "0062812.3456.7890"]
)
def test_indonesian_numbers_normalise_to_e164(raw: str) -> None:
    assert normalize_phone(raw) == "+6281234567890"


@pytest.mark.parametrize("raw", ["", "abc", "0812", "08123456789012345678"])
def test_bad_numbers_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(PhoneError):
        normalize_phone(raw)


def test_masked_number_hides_the_middle() -> None:
    assert mask_phone("+6281234567890") == "+62812****7890"


def test_period_keys_and_deadlines() -> None:
    day = date(2026, 11, 23)
    assert period_key("year", day) == "2026"
    assert period_key("quarter", day) == "2026-Q4"
    assert period_key("month", day) == "2026-11"
    assert period_bounds("2026-Q4") == (date(2026, 10, 1), date(2026, 12, 31))
    assert deadline_for("2026", "12-15") == date(2026, 12, 15)
    assert deadline_for("2026-11", "+10") == date(2026, 12, 10)
    assert deadline_for("2026", "12-15", {"2026": date(2026, 9, 15)}) == date(2026, 9, 15)


def test_previous_period_of_each_kind() -> None:
    assert previous_period("2026-11") == "2026-10"
    assert previous_period("2026-01") == "2025-12"
    assert previous_period("2026-Q1") == "2025-Q4"
    assert previous_period("2026-Q3") == "2026-Q2"
    assert previous_period("2026") == "2025"
