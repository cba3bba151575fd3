"""Reporting periods (year, quarter, month) and their keys, e.g. '2026', '2026-Q4', '2026-11'."""

from __future__ import annotations

import calendar
from datetime import date, timedelta


def period_key(kind: str, day: date) -> str:
    """The key of the period of `kind` that contains `day`."""
    if kind == "year":
        return f"{day.year}"
    if kind == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if kind == "month":
        return f"{day.year}-{day.month:02d}"
    raise ValueError(f"unknown period kind {kind!r}")


def period_bounds(key: str) -> tuple[date, date]:
    """First and last day of the period named by `key`."""
    if "-Q" in key:
        year_text, quarter_text = key.split("-Q")
        year, quarter = int(year_text), int(quarter_text)
        first_month = 3 * (quarter - 1) + 1
        last_month = first_month + 2
        return date(year, first_month, 1), date(year, last_month, calendar.monthrange(year, last_month)[1])
    if "-" in key:
        year_text, month_text = key.split("-")
        year, month = int(year_text), int(month_text)
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    year = int(key)
    return date(year, 1, 1), date(year, 12, 31)


def deadline_for(key: str, rule: str, overrides: dict[str, date] | None = None) -> date:
    """The deadline of period `key` by `rule`: 'MM-DD' within the period's year, or '+N' days after its end."""
    if overrides and key in overrides:
        return overrides[key]
    first, last = period_bounds(key)
    if rule.startswith("+"):
        return last + timedelta(days=int(rule[1:]))
    month, day = (int(part) for part in rule.split("-"))
    return date(first.year, month, day)


def previous_period(key: str) -> str:
    """The key of the period just before `key`, of the same kind: '2026-11' -> '2026-10', '2026-Q1' -> '2025-Q4'."""
    kind = "quarter" if "-Q" in key else "month" if "-" in key else "year"
    first, _last = period_bounds(key)
    return period_key(kind, first - timedelta(days=1))
