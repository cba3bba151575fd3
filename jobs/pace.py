"""Each unit's own pace in its reminder ("laju Anda 2 produk/minggu; perlu 4 produk/minggu"), for count programs.

Loaded in bulk once per program and period of a sweep (one query for every unit's figure four weeks ago), and
worded once per distinct pace: a sweep of 30,000 units shares a handful of texts.
"""

from __future__ import annotations

import math
from datetime import date
from zoneinfo import ZoneInfo

from sqlmodel import Session

from models.history import end_of_day, values_before
from models.ladder import PlannedNotice
from models.leaders import pace_base_day, project, unit_pace_text
from models.pemda import PemdaConfig


class SweepPace:
    """The pace part of a unit's reminder line, computed lazily and in bulk within one sweep."""

    def __init__(self, session: Session, pemda: PemdaConfig, today: date) -> None:
        self.session = session
        self.today = today
        self.zone = ZoneInfo(pemda.pemda.timezone)
        self._base: dict[tuple[str, str], tuple[dict[int, float], float]] = {}
        self._texts: dict[tuple[object, ...], str] = {}

    def text(self, notice: PlannedNotice) -> str:
        """'laju Anda 2 produk/minggu; perlu 4 produk/minggu', or '' (not a count program, met, or past deadline)."""
        program, standing = notice.program, notice.standing
        if program.measure != "count" or standing.compliant or standing.deadline <= self.today:
            return ""
        key = (program.key, notice.period)
        found = self._base.get(key)
        if found is None:
            base_day = pace_base_day(self.today, notice.period)
            values = values_before(self.session, program, notice.period, end_of_day(base_day, self.zone))
            found = self._base[key] = (values, (self.today - base_day).days / 7)
        values, weeks = found
        base = values.get(standing.unit_id, 0.0)
        pace = project(standing.value or 0, base, weeks, self.today, standing.deadline, standing.target)
        needed = pace.needed_per_week if pace.days_left >= 7 else pace.goal - pace.now
        # the numbers as shown (one decimal, the need rounded up) decide the text
        cache = (program.key, round(pace.per_week * 10), math.ceil(round((needed or 0) * 10, 6)), pace.days_left >= 7)
        text = self._texts.get(cache)
        if text is None:
            text = self._texts[cache] = unit_pace_text(program, pace)
        return text
