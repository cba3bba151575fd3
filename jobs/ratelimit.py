"""Client-side rate limiting for the outbox dispatcher: stay under platform limits, never hit them.

Rules (see `RateRules`): a global rate (Telegram ~30 messages/s), a minimum interval between two
messages to the same recipient (Telegram 1/s per chat, WhatsApp one per 6 s to one person) and a
per-minute cap for group chats (Telegram 20/min).

Design. Every rule is a sliding-window constraint on one key — "at most `limit` sends in any
window of `period` seconds" — and each key keeps a sorted list of booked send times. For planning,
the global rate is the window rule with limit 1 and period 1/rate, i.e. sends spaced exactly (GCRA
with burst 1), which can never put more than `rate` sends in any 1-second window (a fractional
rate counts as its floor). A reservation takes the earliest instant that satisfies every rule of
the send (global, recipient, group), so it may fill a gap *before* later bookings: a WhatsApp
recipient waiting 6 s does not hold up the global queue for other recipients. Planned periods are
stretched by `margin` (2 % by default, so ~98 % of the nominal rate is used) to leave room for
timer and network jitter before the server's own sliding window.

`acquire` sleeps through the injected clock, then checks again against the sends actually made:
the platform's real limit (30 in any second, 1 s per chat, 20 per minute per group), stretched by
half the margin, plus any penalty. A sleeper that woke a few milliseconds late still sends; one
that would break a limit only for a moment (an earlier send's answer was slow, and it counts until it
ended) waits that moment and keeps its turn (`KEEP_TURN`); one that would break it for longer (a long
event-loop stall) or that was hit by `penalize` (HTTP 429 `retry_after`) while asleep books a new slot.
Callers of the synchronous `reserve` are trusted to send at the booked time and are not re-checked.

A send taken with `permit` instead of `acquire` reports its end (`Permit.done()`): until then the
check counts it at every instant, afterwards at the instant it finished. The platform counts a
request somewhere between our release and its answer, so no window of the platform's can hold
more than the limit however late or bunched requests reach it (a busy event loop, a stalled
server); the price is the answer's latency, paid only when it exceeds the margin's slack. The
dispatcher sends under permits.

Bookings are kept per key only for one period and idle recipients are swept, so memory follows
the recipients active in the last minute. Booking costs O(live bookings) per call: fine for a
dispatcher with hundreds of reservations in flight (2,000 back-to-back reservations take ~0.3 s),
not for millions. Not thread-safe: use one limiter per event loop.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, bisect_right, insort
from collections.abc import Sequence
from dataclasses import dataclass, field

from models.clock import Clock, SystemClock

_SWEEP_EVERY = 1024
_EPS = 1e-6
"""Tolerance for float rounding of times; far below any margin, so limits still hold."""
KEEP_TURN = 0.5
"""Seconds a woken send may wait on for the check (a slow answer still counted) and keep its turn; beyond that,
or under a penalty, it books a new slot."""


@dataclass(frozen=True)
class RateRules:
    """Platform limits; None switches a rule off."""

    global_per_second: float | None = 30.0
    """Sends per second over all recipients."""
    recipient_interval: float | None = 1.0
    """Minimum seconds between two sends to the same recipient."""
    group_per_minute: int | None = 20
    """Sends per 60 s to one group chat (on top of `recipient_interval`)."""
    margin: float = 0.02
    """Fraction every period is stretched by, to stay strictly below the limits."""

    def __post_init__(self) -> None:
        """Validate the numbers."""
        for name in ("global_per_second", "recipient_interval", "group_per_minute"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive or None, got {value!r}")
        if not 0 <= self.margin < 1:
            raise ValueError(f"margin must be in [0, 1), got {self.margin!r}")

    @classmethod
    def telegram(cls) -> RateRules:
        """Telegram Bot API: 30 msg/s overall, 1 msg/s per chat, 20 msg/min per group."""
        return cls(global_per_second=30.0, recipient_interval=1.0, group_per_minute=20)

    @classmethod
    def whatsapp(cls, global_per_second: float = 80.0) -> RateRules:
        """WhatsApp Cloud API: account throughput (80 msg/s default tier), 1 msg/6 s per user."""
        return cls(global_per_second=global_per_second, recipient_interval=6.0, group_per_minute=None)


@dataclass(eq=False)
class _Track:
    """One key's constraints: a planning rule for booking and a looser rule checked at send time.

    Both rules read "at most `limit` sends in any window of `period` seconds". Planning uses the
    rule stretched by the full margin (for the global rate: exact spacing); the wake-up check uses
    the platform's real limit stretched by half the margin, so a send that wakes a few
    milliseconds late still goes out in its slot instead of being booked again.
    """

    limit: int
    period: float
    check_limit: int
    check_period: float
    planned: list[float] = field(default_factory=list)
    """Booked-but-unsent times plus actual send times, sorted (used for planning)."""
    released: list[float] = field(default_factory=list)
    """Actual send times only, sorted (used for the wake-up check); a held send's time is its completion."""
    held: int = 0
    """Sends under a `Permit` still in flight: the platform may count them at any instant until they complete."""
    blocked_until: float = -math.inf

    def prune(self, now: float) -> None:
        """Forget entries that can no longer constrain a send at or after `now`."""
        for times, period in ((self.planned, self.period), (self.released, self.check_period)):
            cut = bisect_right(times, now - period)
            if cut:
                del times[:cut]

    def idle(self, now: float) -> bool:
        """Return True if the track holds no state worth keeping."""
        return not self.planned and not self.released and not self.held and self.blocked_until <= now

    def check_times(self, now: float) -> list[float]:
        """Send times for the wake-up check: the released ones plus every held send counted at `now`."""
        if not self.held:
            return self.released
        return sorted([*self.released, *([now] * self.held)])


@dataclass(eq=False)
class _Booking:
    """A slot booked for one send on several tracks."""

    at: float
    tracks: tuple[_Track, ...]


def _violates(times: Sequence[float], limit: int, period: float, s: float) -> bool:
    """Return True if a send at `s` would make `limit + 1` sends fit in a window of `period`."""
    n = len(times)
    if n < limit or period <= 0:
        return False
    i = bisect_left(times, s)
    for j in range(max(0, i - limit), min(i, n - limit) + 1):
        lo = min(times[j], s)
        hi = max(times[j + limit - 1], s)
        if hi - lo < period - _EPS:
            return True
    return False


def _earliest(times: Sequence[float], limit: int, period: float, s: float) -> float:
    """Return the earliest instant >= `s` where one more send keeps the window rule."""
    if period <= 0 or len(times) < limit:
        return s
    if limit == 1:
        # Spacing rule: skip every booking closer than `period`, in one pass.
        i = bisect_left(times, s - period + _EPS)
        n = len(times)
        while i < n and times[i] < s + period - _EPS:
            s = max(s, times[i] + period)
            i += 1
        return s
    while _violates(times, limit, period, s):
        # Validity only ever returns at `b + period` for some booked b (a send leaving the window).
        k = bisect_right(times, s - period + _EPS / 2)
        candidate = times[min(k, len(times) - 1)] + period
        s = max(candidate, math.nextafter(s, math.inf))
    return s


def _plan(tracks: Sequence[_Track], s: float, *, released_only: bool = False) -> float:
    """Return the earliest instant >= `s` allowed by every track (`released_only`: by what was really sent)."""
    checked = {id(track): track.check_times(s) for track in tracks} if released_only else {}
    while True:
        start = s
        for track in tracks:
            s = max(s, track.blocked_until)
            if released_only:
                s = _earliest(checked[id(track)], track.check_limit, track.check_period, s)
            else:
                s = _earliest(track.planned, track.limit, track.period, s)
        if s == start:
            return s


def _discard(times: list[float], value: float) -> None:
    """Remove one occurrence of `value` from the sorted list, if present."""
    i = bisect_left(times, value)
    if i < len(times) and times[i] == value:
        del times[i]


class RateLimiter:
    """Books send slots so the configured `RateRules` are never exceeded."""

    def __init__(self, rules: RateRules | None = None, *, clock: Clock | None = None) -> None:
        """Use `rules` (Telegram limits by default) and `clock` (the system clock by default)."""
        self.rules = rules if rules is not None else RateRules.telegram()
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._global = self._new_global()
        self._recipients: dict[str, _Track] = {}
        self._groups: dict[str, _Track] = {}
        self._calls = 0

    # -- tracks -----------------------------------------------------------------------------

    def _new_global(self) -> _Track:
        """Build the global track: exact spacing for planning, N per second at send time."""
        rate = self.rules.global_per_second
        plan, check = 1.0 + self.rules.margin, 1.0 + self.rules.margin / 2
        if rate is None:
            return _Track(1, 0.0, 1, 0.0)
        if rate >= 1:
            per_second = math.floor(rate)  # "30.5/s" can only mean 30 in any one second
            return _Track(1, plan / per_second, per_second, check)
        return _Track(1, plan / rate, 1, check / rate)

    def _new_recipient(self) -> _Track:
        """Build a per-recipient track: minimum interval between two sends."""
        interval = self.rules.recipient_interval or 0.0
        return _Track(1, (1.0 + self.rules.margin) * interval, 1, (1.0 + self.rules.margin / 2) * interval)

    def _new_group(self) -> _Track:
        """Build a group-chat track: at most N sends per 60 s."""
        limit = self.rules.group_per_minute or 1
        period = 60.0 if self.rules.group_per_minute else 0.0
        return _Track(limit, (1.0 + self.rules.margin) * period, limit, (1.0 + self.rules.margin / 2) * period)

    def _recipient(self, recipient: str) -> _Track:
        """Return (creating) the per-recipient track."""
        track = self._recipients.get(recipient)
        if track is None:
            track = self._recipients[recipient] = self._new_recipient()
        return track

    def _tracks(self, recipient: str, is_group: bool, now: float) -> tuple[_Track, ...]:
        """Return the tracks a send to `recipient` must satisfy, pruned to `now`."""
        tracks = [self._global, self._recipient(recipient)]
        if is_group and self.rules.group_per_minute:
            group = self._groups.get(recipient)
            if group is None:
                group = self._groups[recipient] = self._new_group()
            tracks.append(group)
        for track in tracks:
            track.prune(now)
        return tuple(tracks)

    def _sweep(self, now: float) -> None:
        """Drop idle per-recipient tracks every so often to bound memory."""
        self._calls += 1
        if self._calls % _SWEEP_EVERY:
            return
        for table in (self._recipients, self._groups):
            stale = []
            for key, track in table.items():
                track.prune(now)
                if track.idle(now):
                    stale.append(key)
            for key in stale:
                del table[key]

    def _book(self, recipient: str, is_group: bool, now: float, not_before: float | None = None) -> _Booking:
        """Find and book the earliest allowed slot at or after `now` (and `not_before`)."""
        self._sweep(now)
        tracks = self._tracks(recipient, is_group, now)
        booking = _Booking(_plan(tracks, now if not_before is None else max(now, not_before)), tracks)
        for track in tracks:
            insort(track.planned, booking.at)
        return booking

    @staticmethod
    def _release(booking: _Booking, when: float, *, hold: bool = False) -> None:
        """Record that the booked send happens at `when` (`hold`: it counts as in flight until `_complete`)."""
        RateLimiter._move(booking, when)
        for track in booking.tracks:
            if hold:
                track.held += 1
            else:
                insort(track.released, when)

    @staticmethod
    def _complete(booking: _Booking, when: float) -> None:
        """Record that a held send finished at `when` (the last instant the platform can have counted it)."""
        for track in booking.tracks:
            track.held = max(0, track.held - 1)
            insort(track.released, when)

    @staticmethod
    def _move(booking: _Booking, at: float) -> None:
        """Move a booked slot to `at` (a woken send keeping its turn, or the instant it is sent)."""
        for track in booking.tracks:
            _discard(track.planned, booking.at)
            insort(track.planned, at)
        booking.at = at

    @staticmethod
    def _unbook(booking: _Booking) -> None:
        """Give a booked slot back."""
        for track in booking.tracks:
            _discard(track.planned, booking.at)

    # -- public API -------------------------------------------------------------------------

    def reserve(self, recipient: str, is_group: bool = False) -> float:
        """Book the next allowed slot for `recipient`; return seconds to wait before sending."""
        now = self._clock.monotonic()
        booking = self._book(recipient, is_group, now)
        self._release(booking, booking.at)
        return booking.at - now

    async def acquire(self, recipient: str, is_group: bool = False) -> float:
        """Wait (via the clock) until a send to `recipient` is allowed; return seconds waited.

        The send is assumed to reach the platform when this returns. When it may arrive later (a
        busy event loop, a slow network), use `permit` instead.
        """
        waited, _ = await self._acquire(recipient, is_group, hold=False)
        return waited

    async def permit(self, recipient: str, is_group: bool = False) -> Permit:
        """Wait like `acquire`, for a send that reports its end: call `Permit.done()` once it has finished.

        Until then the send counts as happening at every instant (the platform counts it somewhere
        between our request and its answer), and afterwards at the instant it finished. No window
        of the platform's can then hold more sends than the limits allow, however late or bunched
        the requests arrive there; the cost is the answer's latency on top of the window.
        """
        waited, booking = await self._acquire(recipient, is_group, hold=True)
        return Permit(waited, self, booking)

    async def _acquire(self, recipient: str, is_group: bool, *, hold: bool) -> tuple[float, _Booking]:
        start = self._clock.monotonic()
        now = start
        booking = self._book(recipient, is_group, now)
        while True:
            try:
                if booking.at > now:
                    await self._clock.sleep(booking.at - now)
            except BaseException:
                self._unbook(booking)
                raise
            now = self._clock.monotonic()
            # Re-check against what was really sent: late wake-ups, new penalties, sends still in flight.
            allowed = _plan(booking.tracks, now, released_only=True)
            if allowed <= now:
                self._release(booking, now, hold=hold)
                return now - start, booking
            if allowed - now <= KEEP_TURN and all(track.blocked_until <= now for track in booking.tracks):
                # Held up by a slow answer counted until it ended: wait the few ms and keep this turn, instead of
                # leaving the slot empty and queueing behind every booking (each such miss cost a slot).
                self._move(booking, allowed)
                continue
            self._unbook(booking)
            booking = self._book(recipient, is_group, now, not_before=allowed)

    def penalize(self, seconds: float, recipient: str | None = None) -> None:
        """Block all sends (recipient None) or one recipient's sends for `seconds` from now."""
        if seconds < 0:
            raise ValueError(f"penalty must not be negative, got {seconds!r}")
        until = self._clock.monotonic() + seconds
        track = self._global if recipient is None else self._recipient(recipient)
        track.blocked_until = max(track.blocked_until, until)


class Permit:
    """A send allowed by `RateLimiter.permit`; call `done()` when its request has finished (or failed)."""

    def __init__(self, waited: float, limiter: RateLimiter, booking: _Booking) -> None:
        self.waited = waited
        """Seconds the send waited for its slot."""
        self._limiter = limiter
        self._booking: _Booking | None = booking

    def done(self) -> None:
        """Record that the send has finished; calling it again does nothing."""
        booking, self._booking = self._booking, None
        if booking is not None:
            self._limiter._complete(booking, self._limiter._clock.monotonic())


def backoff_delay(attempt: int, base: float = 2.0, cap: float = 600.0, rng: random.Random | None = None) -> float:
    """Return a retry delay in [0, min(cap, base * 2**attempt)] (full jitter); attempt counts from 0."""
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt!r}")
    if base < 0 or cap < 0:
        raise ValueError("base and cap must not be negative")
    ceiling = cap if attempt >= 64 else min(cap, base * 2.0**attempt)
    uniform = rng.uniform if rng is not None else random.uniform
    return uniform(0.0, ceiling)
