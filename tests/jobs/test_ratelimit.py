"""Tests for the outbox rate limiter and retry backoff (jobs/ratelimit.py), on fake time only."""

from __future__ import annotations

import asyncio
import heapq
import random
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pytest

from jobs.ratelimit import RateLimiter, RateRules, backoff_delay
from models.clock import FakeClock

START = datetime(2026, 7, 8, 1, 0, tzinfo=UTC)


def max_in_window(times: Sequence[float], window: float = 1.0) -> int:
    """Return the most sends falling in any closed window of `window` seconds."""
    ordered = sorted(times)
    best = 0
    lo = 0
    for hi, t in enumerate(ordered):
        while t - ordered[lo] > window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at a fixed start."""
    return FakeClock(START)


@pytest.fixture
def telegram(clock: FakeClock) -> RateLimiter:
    """A limiter with Telegram's limits on fake time."""
    return RateLimiter(RateRules.telegram(), clock=clock)


# -- global rate ----------------------------------------------------------------------------


def test_300_distinct_recipients_at_30_per_second(telegram: RateLimiter, clock: FakeClock) -> None:
    now = clock.monotonic()
    times = [now + telegram.reserve(f"chat-{i}") for i in range(300)]
    assert times == sorted(times)
    assert times[0] == now  # the first send goes at once
    assert max_in_window(times) <= 30
    assert times[-1] - times[0] <= 10.5  # ~10 s of fake time
    assert 299 / (times[-1] - times[0]) >= 0.95 * 30


def test_global_rate_holds_while_time_moves(telegram: RateLimiter, clock: FakeClock) -> None:
    rng = random.Random(7)
    times = []
    for i in range(600):
        times.append(clock.monotonic() + telegram.reserve(f"chat-{i}"))
        clock.advance(rng.uniform(0, 0.05))
    assert max_in_window(times) <= 30


async def test_sequential_acquire_sustains_rate(telegram: RateLimiter, clock: FakeClock) -> None:
    stamps = []
    for i in range(120):
        await telegram.acquire(f"chat-{i}")
        stamps.append(clock.monotonic())
    assert max_in_window(stamps) <= 30
    assert 119 / (stamps[-1] - stamps[0]) >= 0.95 * 30
    assert all(b - a >= 1 / 30 for a, b in pairwise(stamps))


async def test_concurrent_acquire_never_exceeds(telegram: RateLimiter, clock: FakeClock) -> None:
    stamps: list[float] = []

    async def send(recipient: str) -> None:
        await telegram.acquire(recipient)
        stamps.append(clock.monotonic())  # no await in between: this is the release instant

    await asyncio.gather(*(send(f"chat-{i % 40}") for i in range(120)))
    assert len(stamps) == 120
    assert max_in_window(stamps) <= 30


class VirtualClock(FakeClock):
    """Fake time with a scheduler: sleepers wake in deadline order, optionally late by `lag`.

    Unlike plain FakeClock (where concurrent sleeps add up), time only advances when every
    task is asleep, so concurrent senders really compete for the same seconds.
    """

    def __init__(self, start: datetime, max_lag: float = 0.0, seed: int = 0) -> None:
        super().__init__(start)
        self.max_lag = max_lag
        self.rng = random.Random(seed)
        self.waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self.seq = 0

    async def sleep(self, seconds: float) -> None:
        """Park until the driver reaches the deadline (plus a random lag)."""
        self.sleeps.append(seconds)
        deadline = self.monotonic() + max(seconds, 0.0) + self.rng.uniform(0.0, self.max_lag)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.seq += 1
        heapq.heappush(self.waiters, (deadline, self.seq, future))
        await future

    async def run(self, coros: Sequence[Coroutine[Any, Any, None]]) -> None:
        """Run `coros` concurrently, advancing time whenever all of them are asleep."""
        tasks = [asyncio.create_task(c) for c in coros]
        while True:
            alive = sum(not t.done() for t in tasks)
            if not alive:
                break
            if len(self.waiters) < alive:
                await asyncio.sleep(0)
                continue
            deadline, _, future = heapq.heappop(self.waiters)
            self.advance(max(0.0, deadline - self.monotonic()))
            future.set_result(None)
            await asyncio.sleep(0)
        for t in tasks:
            t.result()


@pytest.mark.parametrize("max_lag", [0.0, 0.005, 0.1])
async def test_concurrent_senders_on_virtual_time(max_lag: float) -> None:
    clock = VirtualClock(START, max_lag=max_lag, seed=11)
    limiter = RateLimiter(RateRules.telegram(), clock=clock)
    stamps: list[tuple[str, float]] = []

    async def worker(jobs: list[str]) -> None:
        for recipient in jobs:
            await limiter.acquire(recipient)
            stamps.append((recipient, clock.monotonic()))  # no await in between: the send instant

    recipients = [f"chat-{i % 250}" for i in range(600)]
    await clock.run([worker(recipients[w::40]) for w in range(40)])  # 40 concurrent workers
    times = sorted(t for _, t in stamps)
    assert len(times) == 600
    assert max_in_window(times) <= 30
    if max_lag <= 0.005:
        assert 599 / (times[-1] - times[0]) >= 0.95 * 30
    for chat in {r for r, _ in stamps}:
        mine = sorted(t for r, t in stamps if r == chat)
        assert all(b - a >= 1.0 for a, b in pairwise(mine))


def most_countable_together(spans: Sequence[tuple[float, float]], window: float = 1.0) -> int:
    """The most sends a platform could count in one `window`, counting each anywhere between its start and end."""
    return max(sum(1 for s, e in spans if s <= t + window and e >= t) for _, t in spans)


@pytest.mark.parametrize("seed", [3, 4])
async def test_permits_keep_the_rate_when_some_answers_are_slow(seed: int) -> None:
    # The dispatcher's case: 64 sends wait for their slot at once; most answers take 3 ms, one in twenty 50-250 ms
    # (a busy server, a stalled loop). A slow answer must not cost the sends behind it their turn.
    clock = VirtualClock(START, seed=seed)
    limiter = RateLimiter(RateRules.telegram(), clock=clock)
    rng = random.Random(seed)
    spans: list[tuple[float, float]] = []

    async def worker(jobs: list[str]) -> None:
        for recipient in jobs:
            permit = await limiter.permit(recipient)
            start = clock.monotonic()
            await clock.sleep(rng.uniform(0.05, 0.25) if rng.random() < 0.05 else 0.003)
            permit.done()
            spans.append((start, clock.monotonic()))

    recipients = [f"chat-{i}" for i in range(900)]
    await clock.run([worker(recipients[w::64]) for w in range(64)])
    assert len(spans) == 900
    assert most_countable_together(spans) <= 30  # never over the limit, wherever the platform counts a send
    starts = sorted(s for s, _ in spans)
    assert 899 / (starts[-1] - starts[0]) >= 0.96 * 30


# -- per recipient and groups ---------------------------------------------------------------


def test_same_recipient_spaced_one_second(telegram: RateLimiter, clock: FakeClock) -> None:
    times = [clock.monotonic() + telegram.reserve("chat-1") for _ in range(5)]
    assert all(b - a >= 1.0 for a, b in pairwise(times))
    assert times[-1] - times[0] <= 4 * 1.05


def test_waiting_recipient_does_not_block_others(telegram: RateLimiter) -> None:
    assert telegram.reserve("a") == 0
    assert telegram.reserve("a") >= 1.0
    # "b" takes the next global slot, long before a's second message
    assert telegram.reserve("b") == pytest.approx(1.02 / 30)


async def test_same_recipient_acquire_spaced(telegram: RateLimiter, clock: FakeClock) -> None:
    stamps = []
    for _ in range(4):
        await telegram.acquire("chat-1")
        stamps.append(clock.monotonic())
    assert all(b - a >= 1.0 for a, b in pairwise(stamps))


def test_whatsapp_one_message_per_six_seconds(clock: FakeClock) -> None:
    limiter = RateLimiter(RateRules.whatsapp(), clock=clock)
    first = limiter.reserve("628111")
    second = limiter.reserve("628111")
    assert second - first >= 6.0
    assert limiter.reserve("628222") < 0.1


def test_group_twenty_per_minute(telegram: RateLimiter, clock: FakeClock) -> None:
    times = [clock.monotonic() + telegram.reserve("-100group", is_group=True) for _ in range(45)]
    assert max_in_window(times, 60.0) <= 20
    assert all(b - a >= 1.0 for a, b in pairwise(times))
    assert times[19] < 25  # the first twenty go out at the per-chat pace
    assert times[20] - times[0] >= 60.0
    # a private chat is not subject to the group cap
    private = [clock.monotonic() + telegram.reserve("private", is_group=False) for _ in range(30)]
    assert private[-1] - private[0] < 31


# -- penalties ------------------------------------------------------------------------------


def test_global_penalty_delays_everyone(telegram: RateLimiter, clock: FakeClock) -> None:
    telegram.penalize(5.0)
    assert telegram.reserve("a") >= 5.0
    assert telegram.reserve("b") >= 5.0 + 1 / 30
    clock.advance(6)
    assert telegram.reserve("c") < 0.1


def test_recipient_penalty_delays_only_that_recipient(telegram: RateLimiter) -> None:
    telegram.penalize(3.0, recipient="slow")
    assert telegram.reserve("slow") >= 3.0
    assert telegram.reserve("fast") < 0.1
    telegram.penalize(2.0, recipient="slow")  # a shorter penalty never shortens the block
    assert telegram.reserve("slow") >= 4.0


def test_recipient_penalty_applies_to_groups(telegram: RateLimiter) -> None:
    telegram.penalize(10.0, recipient="-100group")
    assert telegram.reserve("-100group", is_group=True) >= 10.0


async def test_penalty_reaches_a_sleeping_acquire(telegram: RateLimiter, clock: FakeClock) -> None:
    assert telegram.reserve("a") == 0
    task = asyncio.create_task(telegram.acquire("a"))  # booked ~1.02 s ahead
    await asyncio.sleep(0)  # task books and "sleeps" (the fake clock jumps)
    assert clock.monotonic() == pytest.approx(1.02)
    telegram.penalize(5.0)  # a 429 arrives before it wakes up
    waited = await task
    assert waited >= 1.02 + 5.0
    assert clock.monotonic() >= 6.02


def test_negative_penalty_rejected(telegram: RateLimiter) -> None:
    with pytest.raises(ValueError):
        telegram.penalize(-1.0)


class BlockingClock(FakeClock):
    """A fake clock whose sleep never returns (until cancelled)."""

    async def sleep(self, seconds: float) -> None:
        """Wait forever."""
        await asyncio.Event().wait()


async def test_cancelled_acquire_gives_its_slot_back() -> None:
    clock = BlockingClock(START)
    limiter = RateLimiter(RateRules.telegram(), clock=clock)
    assert limiter.reserve("a") == 0
    task = asyncio.create_task(limiter.acquire("b"))  # waits for the next global slot
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert limiter.reserve("c") == pytest.approx(1.02 / 30)  # the slot "b" held is free again


async def test_acquire_without_wait_does_not_sleep(telegram: RateLimiter, clock: FakeClock) -> None:
    assert await telegram.acquire("a") == 0
    assert clock.sleeps == []


def test_disabled_rules(clock: FakeClock) -> None:
    limiter = RateLimiter(
        RateRules(global_per_second=None, recipient_interval=None, group_per_minute=None), clock=clock
    )
    assert all(limiter.reserve("x", is_group=True) == 0 for _ in range(100))
    limiter.penalize(2.0, recipient="x")
    assert limiter.reserve("x") == 2.0


def test_many_recipients_memory_is_bounded(telegram: RateLimiter, clock: FakeClock) -> None:
    for i in range(5000):
        telegram.reserve(f"chat-{i}")
        clock.advance(0.05)
    assert len(telegram._recipients) < 2100


def test_rules_validation() -> None:
    with pytest.raises(ValueError):
        RateRules(global_per_second=0)
    with pytest.raises(ValueError):
        RateRules(recipient_interval=-1)
    with pytest.raises(ValueError):
        RateRules(margin=1.0)


# -- backoff --------------------------------------------------------------------------------


class MaxRandom(random.Random):
    """Always returns the top of the requested range."""

    def uniform(self, a: float, b: float) -> float:
        """Return `b`."""
        return b


def test_backoff_grows_and_is_capped() -> None:
    ceilings = [backoff_delay(n, rng=MaxRandom()) for n in range(12)]
    assert ceilings[:5] == [2.0, 4.0, 8.0, 16.0, 32.0]
    assert ceilings == sorted(ceilings)
    assert ceilings[-1] == 600.0
    assert backoff_delay(10_000, rng=MaxRandom()) == 600.0
    assert backoff_delay(3, base=1.0, cap=5.0, rng=MaxRandom()) == 5.0


def test_backoff_full_jitter_within_bounds() -> None:
    rng = random.Random(42)
    for attempt in range(15):
        ceiling = min(600.0, 2.0 * 2**attempt)
        samples = [backoff_delay(attempt, rng=rng) for _ in range(200)]
        assert all(0.0 <= s <= ceiling for s in samples)
        assert max(samples) > 0.5 * ceiling  # jitter spreads over the whole range
    assert 0.0 <= backoff_delay(2) <= 8.0  # default RNG


def test_backoff_rejects_negative_attempt() -> None:
    with pytest.raises(ValueError):
        backoff_delay(-1)
