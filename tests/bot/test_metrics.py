"""GET /metrics and /healthz: what an operator sees, from a real dispatcher run over the outbox."""

from __future__ import annotations

from datetime import timedelta

import httpx
from prometheus_client import CollectorRegistry

from bot.http import build_app
from bot.metrics import OutboxCollector, PrometheusMeter, health_route, metrics_route
from jobs.dispatcher import Dispatcher
from models.app import Deps
from models.clock import FakeClock
from models.messages import Channel
from models.outbound import RateLimited
from models.outbox import OutMessage, enqueue
from tests.conftest import ADMIN, KEPALA_DINKES, contact_named
from tests.fakes.sender import FakeSender


def _queue(deps: Deps, clock: FakeClock, *names: str) -> None:
    with deps.db.uow() as uow:
        for name in names:
            enqueue(uow.session, f"m|{name}", contact_named(deps, name), OutMessage(text="Halo"), clock.now())
        uow.commit()


async def _get(app: object, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://sigap.test") as client:
        return await client.get(path, headers=headers or {})


async def test_metrics_count_sends_429s_and_show_the_outbox(deps: Deps, clock: FakeClock) -> None:
    registry = CollectorRegistry()
    meter = PrometheusMeter(registry)
    registry.register(OutboxCollector(deps.db, clock))
    _queue(deps, clock, KEPALA_DINKES, ADMIN)
    kepala = contact_named(deps, KEPALA_DINKES)
    throttled: set[str] = set()

    def script(message: object) -> Exception | None:
        address = getattr(message, "address", "")
        if address == kepala.wa_number and address not in throttled:
            throttled.add(address)
            return RateLimited(30.0, "recipient")
        return None

    dispatcher = Dispatcher(db=deps.db, senders={Channel.WHATSAPP: FakeSender(script=script)}, clock=clock, meter=meter)
    await dispatcher.drain()
    app = build_app([], operations=[metrics_route(registry, None)])
    text = (await _get(app, "/metrics")).text
    assert 'sigap_outbox_outcomes_total{channel="whatsapp",outcome="sent"} 1.0' in text
    assert 'sigap_outbox_outcomes_total{channel="whatsapp",outcome="retried"} 1.0' in text
    assert 'sigap_rate_limited_total{channel="whatsapp"} 1.0' in text
    assert 'sigap_outbox_rows{channel="whatsapp",status="sent"} 1.0' in text
    assert 'sigap_outbox_rows{channel="whatsapp",status="pending"} 1.0' in text
    # the throttled row is due again in 30 s: not yet "waiting"
    assert "sigap_outbox_oldest_pending_seconds{" not in text
    clock.advance(timedelta(seconds=90))
    text = (await _get(app, "/metrics")).text
    assert 'sigap_outbox_oldest_pending_seconds{channel="whatsapp"} 60.0' in text


async def test_metrics_can_require_a_token(sdeps: Deps) -> None:
    registry = CollectorRegistry()
    PrometheusMeter(registry).count("inbound_messages", channel="telegram")
    app = build_app([], operations=[metrics_route(registry, "rahasia-123")])
    assert (await _get(app, "/metrics")).status_code == 401
    assert (await _get(app, "/metrics", {"Authorization": "Bearer salah"})).status_code == 401
    ok = await _get(app, "/metrics", {"Authorization": "Bearer rahasia-123"})
    assert ok.status_code == 200 and 'sigap_inbound_messages_total{channel="telegram"} 1.0' in ok.text


async def test_healthz_says_when_the_dispatcher_is_dead_or_messages_wait_too_long(
    sdeps: Deps, clock: FakeClock
) -> None:
    alive = {"dispatcher": True}
    app = build_app([], operations=[health_route(sdeps.db, clock, lambda: alive["dispatcher"], 600)])
    healthy = await _get(app, "/healthz")
    assert healthy.status_code == 200 and healthy.json()["status"] == "ok"
    _queue(sdeps, clock, KEPALA_DINKES)
    clock.advance(timedelta(minutes=11))
    late = await _get(app, "/healthz")
    assert late.status_code == 503 and late.json()["oldest_pending_seconds"] == {"whatsapp": 660}
    alive["dispatcher"] = False
    assert "dispatcher is not running" in (await _get(app, "/healthz")).json()["problems"]


def _give_telegram(deps: Deps, name: str, user_id: str) -> None:
    with deps.db.uow() as uow:
        person = contact_named(deps, name)
        person.telegram_user_id, person.preferred_channel = user_id, Channel.TELEGRAM.value
        uow.session.add(person)
        uow.commit()


async def test_healthz_reports_rows_waiting_for_a_channel_not_set_up_without_failing(
    sdeps: Deps, clock: FakeClock
) -> None:
    """A Telegram-only process: a WhatsApp row (queued before WhatsApp was taken out of the settings) waits for
    WhatsApp, which waiting longer never cures; it is reported, not a 503. A late Telegram row still is one."""
    telegram_only = frozenset({Channel.TELEGRAM})
    app = build_app([], operations=[health_route(sdeps.db, clock, lambda: True, 600, telegram_only)])
    _queue(sdeps, clock, KEPALA_DINKES)  # WhatsApp only
    clock.advance(timedelta(minutes=11))
    waiting = await _get(app, "/healthz")
    assert waiting.status_code == 200
    assert waiting.json() == {
        "status": "ok",
        "oldest_pending_seconds": {},
        "waiting_for_channel_not_set_up": {"whatsapp": {"rows": 1, "oldest_pending_seconds": 660}},
    }
    registry = CollectorRegistry()
    registry.register(OutboxCollector(sdeps.db, clock, telegram_only))
    text = (await _get(build_app([], operations=[metrics_route(registry, None)]), "/metrics")).text
    assert 'sigap_outbox_waiting_for_channel_rows{channel="whatsapp"} 1.0' in text
    assert "sigap_outbox_oldest_pending_seconds{" not in text

    _give_telegram(sdeps, ADMIN, "5001")
    _queue(sdeps, clock, ADMIN)
    clock.advance(timedelta(minutes=11))
    late = await _get(app, "/healthz")
    assert late.status_code == 503 and late.json()["oldest_pending_seconds"] == {"telegram": 660}
    assert late.json()["waiting_for_channel_not_set_up"] == {"whatsapp": {"rows": 1, "oldest_pending_seconds": 1320}}
