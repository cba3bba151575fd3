"""WhatsApp end to end: signed webhooks into the ASGI app, the core, the outbox dispatcher, the fake Graph API."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import count
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from bot.http import HttpServer, build_app
from bot.settings import Settings
from bot.whatsapp.runtime import WhatsAppChannel, build_whatsapp, rate_rules
from bot.whatsapp.sender import template_param
from handlers.base import NOT_REGISTERED
from handlers.registration import create_invite
from jobs import templates
from jobs.alerts import auth_alert
from jobs.dispatcher import Dispatcher
from models.app import Deps
from models.clock import FakeClock
from models.messages import Channel
from models.outbound import Outbound, Sender, Sent, Unreachable
from models.outbox import OutMessage, enqueue
from models.tables import Contact, InboundSeen, Outbox, OutboxStatus, Report, Role, Unit
from tests.conftest import ADMIN, CAMAT_SUKAMAKMUR, KEPALA_DINKES, contact_named
from tests.fakes.graph_api import (
    FakeGraphApi,
    SentMessage,
    encode,
    make_button_reply,
    make_document,
    make_list_reply,
    make_status,
    make_template_button,
    make_text_message,
    sign,
)

TOKEN = "EAAG-e2e-secret-token-987654321"
PHONE_ID = "1055"
APP_SECRET = "app-secret-e2e"
VERIFY_TOKEN = "verify-me-please"

SLAMET = "+6281290001098"  # Kepala Dinas Kesehatan
SRI = "+6281290001350"  # Camat Sukamakmur
RINA = "+6281290000001"  # admin
STRANGER = "+6281399998888"


class FakeTelegram:
    """A Telegram sender that records what it sent, or says the person blocked the bot."""

    channel = Channel.TELEGRAM

    def __init__(self) -> None:
        self.sent: list[Outbound] = []
        self.blocked: set[str] = set()

    async def send(self, message: Outbound) -> Sent:
        if message.address in self.blocked:
            raise Unreachable("Forbidden: bot was blocked by the user")
        self.sent.append(message)
        return Sent(f"tg-{len(self.sent)}")

    def to(self, address: str) -> list[Outbound]:
        return [m for m in self.sent if m.address == address]


@dataclass
class Rig:
    """Everything a WhatsApp conversation needs, wired as `sigap run` wires it."""

    deps: Deps
    clock: FakeClock
    graph: FakeGraphApi
    channel: WhatsAppChannel
    http: httpx.AsyncClient
    telegram: FakeTelegram
    ids: count[int] = field(default_factory=lambda: count(1))

    def dispatcher(self) -> Dispatcher:
        senders: dict[Channel, Sender] = {Channel.WHATSAPP: self.channel.sender, Channel.TELEGRAM: self.telegram}
        return Dispatcher(
            db=self.deps.db,
            senders=senders,
            limiters={Channel.WHATSAPP: self.channel.limiter},
            clock=self.clock,
            on_auth_failed=auth_alert(self.deps),
        )

    async def post(self, payload: dict[str, Any], *, signature: str | None = "good") -> httpx.Response:
        """POST a webhook body as Meta would; wait until the runtime has processed it."""
        body = encode(payload)
        headers = {"Content-Type": "application/json"}
        if signature == "good":
            headers["X-Hub-Signature-256"] = sign(APP_SECRET, body)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        response = await self.http.post("/whatsapp", content=body, headers=headers)
        await self.channel.idle()
        return response

    def wamid(self) -> str:
        return f"wamid.in-{next(self.ids)}"

    async def tap(self, payload: dict[str, Any], number: str) -> list[SentMessage]:
        """Deliver an inbound webhook from `number` (opening its window); return what the bot sent back."""
        self.graph.set_clock(self.clock.now())
        self.graph.set_last_inbound(number, self.clock.now())
        before = len(self.graph.sent_to(number))
        response = await self.post(payload)
        assert response.status_code == 200
        return self.graph.sent_to(number)[before:]

    async def say(self, number: str, text: str, *, wamid: str | None = None) -> list[SentMessage]:
        return await self.tap(make_text_message(number, text, wamid or self.wamid(), at=self.clock.now()), number)

    async def dispatch(self, dispatcher: Dispatcher | None = None) -> Dispatcher:
        dispatcher = dispatcher or self.dispatcher()
        self.graph.set_clock(self.clock.now())
        await dispatcher.drain()
        return dispatcher


def shown(message: SentMessage) -> str:
    """What the person sees of one WhatsApp message."""
    if message.type == "text":
        return str(message.body["body"])
    if message.type == "interactive":
        return str(message.body["body"]["text"])
    if message.type == "template":
        return f"[{message.body['name']}]"
    return f"[{message.type}]"


def texts(messages: list[SentMessage]) -> str:
    return "\n".join(shown(m) for m in messages)


def choices(message: SentMessage) -> list[str]:
    """Reply-button or list-row ids (= the core's payloads) of an interactive message."""
    action = message.body["action"]
    if message.body["type"] == "button":
        return [b["reply"]["id"] for b in action["buttons"]]
    return [row["id"] for section in action["sections"] for row in section["rows"]]


def template_params(message: SentMessage) -> list[str]:
    components = message.body.get("components", [])
    return [p["text"] for c in components for p in c.get("parameters", [])]


@pytest.fixture
async def rig(deps: Deps, clock: FakeClock) -> AsyncIterator[Rig]:
    async with FakeGraphApi(TOKEN, PHONE_ID, enforce_window=True, now=clock.now()) as graph:
        settings = Settings(
            _env_file=None,
            WHATSAPP_ACCESS_TOKEN=TOKEN,
            WHATSAPP_PHONE_NUMBER_ID=PHONE_ID,
            WHATSAPP_APP_SECRET=APP_SECRET,
            WHATSAPP_VERIFY_TOKEN=VERIFY_TOKEN,
            WHATSAPP_API_BASE_URL=graph.base_url,
            WHATSAPP_API_VERSION="v21.0",
        )
        channel = build_whatsapp(settings, deps)
        runtime = channel.runtime()
        assert runtime.channel is Channel.WHATSAPP
        server = HttpServer(build_app(runtime.routes), "127.0.0.1", 0)
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
                yield Rig(deps, clock, graph, channel, http, FakeTelegram())
        finally:
            await server.stop()
            await runtime.stop()


def reports(deps: Deps, program: str = "katalog") -> list[Report]:
    with deps.db.uow() as uow:
        return list(uow.session.exec(select(Report).where(Report.program_key == program)).all())


def contact(deps: Deps, name: str) -> Contact:
    return contact_named(deps, name)


def outbox_rows(deps: Deps) -> list[Outbox]:
    with deps.db.uow() as uow:
        return list(uow.session.exec(select(Outbox).order_by(col(Outbox.id))).all())


def queue(deps: Deps, name: str, key: str, message: OutMessage) -> int:
    with deps.db.uow() as uow:
        person = uow.session.exec(select(Contact).where(Contact.name == name)).one()
        row = enqueue(uow.session, key, person, message, deps.clock.now())
        uow.commit()
        assert row is not None and row.id is not None
        return row.id


def reminder_for(deps: Deps, name: str = KEPALA_DINKES) -> OutMessage:
    template = templates.reminder(deps.pemda, name, "Pengingat batas waktu — Dinas Kesehatan: Produk e-Katalog lokal")
    return OutMessage(
        text="Pengingat: laporan e-Katalog Dinas Kesehatan jatuh tempo 15 Desember 2026. Ketik /lapor katalog 12.",
        template=template,
    )


def row(deps: Deps, row_id: int) -> Outbox:
    with deps.db.uow() as uow:
        found = uow.session.get(Outbox, row_id)
        assert found is not None
        return found


# ----------------------------------------------------------------------------------- verification


async def test_meta_verification_handshake(rig: Rig) -> None:
    ok = await rig.http.get(
        "/whatsapp", params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    )
    assert ok.status_code == 200
    assert ok.text == "1158201444"
    assert ok.headers["content-type"].startswith("text/plain")
    wrong = await rig.http.get(
        "/whatsapp", params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"}
    )
    assert wrong.status_code == 403
    assert (await rig.http.get("/whatsapp")).status_code == 403


# ------------------------------------------------------------------------------------ conversations


async def test_kepala_reports_katalog_by_typing(rig: Rig) -> None:
    before = contact(rig.deps, KEPALA_DINKES)
    assert before.wa_last_inbound_at is None
    wamid = rig.wamid()
    answer = await rig.say(SLAMET, "/lapor katalog 12", wamid=wamid)

    assert "Tercatat untuk Dinas Kesehatan" in texts(answer)
    assert "12" in texts(answer)
    assert [r.value for r in reports(rig.deps)] == [12]
    assert rig.graph.read_marks == [wamid]
    after = contact(rig.deps, KEPALA_DINKES)
    assert after.wa_last_inbound_at == rig.clock.now()  # bound on first contact: the window is open
    assert after.preferred_channel == before.preferred_channel
    assert all(m.opaque is None for m in answer)  # direct replies are no outbox rows


async def test_kepala_reports_katalog_by_buttons(rig: Rig) -> None:
    menu = await rig.say(SLAMET, "/lapor")
    assert len(menu) == 1 and menu[0].type == "interactive"
    assert "Program mana" in shown(menu[0])
    assert "/lapor katalog" in choices(menu[0])

    if menu[0].body["type"] == "list":
        reply = make_list_reply(SLAMET, "/lapor katalog", "Produk e-Katalog", rig.wamid(), context_wamid=menu[0].wamid)
    else:
        reply = make_button_reply(SLAMET, "/lapor katalog", "Katalog", rig.wamid(), context_wamid=menu[0].wamid)
    question = await rig.tap(reply, SLAMET)
    assert "Kirim angkanya saja" in texts(question)

    done = await rig.say(SLAMET, "12")
    assert "Tercatat untuk Dinas Kesehatan" in texts(done)
    assert [r.value for r in reports(rig.deps)] == [12]


async def test_template_quick_reply_opens_the_report(rig: Rig) -> None:
    answer = await rig.tap(make_template_button(SLAMET, "Lapor sekarang", "Lapor sekarang", rig.wamid()), SLAMET)
    assert "Program mana" in texts(answer)


async def test_camat_checks_status(rig: Rig) -> None:
    answer = texts(await rig.say(SRI, "/status"))
    assert "Kecamatan Sukamakmur" in answer
    assert "Mohon maaf" not in answer


async def test_document_from_a_person_is_answered(rig: Rig) -> None:
    answer = await rig.tap(make_document(SLAMET, "media-77", "bukti.pdf", rig.wamid(), at=rig.clock.now()), SLAMET)
    assert len(answer) == 1
    assert "/bantuan" in shown(answer[0])


async def test_unknown_number_is_only_asked_for_an_invite_code(rig: Rig) -> None:
    answer = await rig.say(STRANGER, "/status")
    assert texts(answer) == NOT_REGISTERED
    answer = await rig.say(STRANGER, "halo, saya kepala dinas")
    assert texts(answer) == NOT_REGISTERED
    assert reports(rig.deps) == []

    with rig.deps.db.uow() as uow:
        unit = (
            uow.session.exec(select(Unit).where(Unit.code == "DISKOMINFO")).first()
            or uow.session.exec(select(Unit).where(Unit.kind == "dinas")).first()
        )
        assert unit is not None
        code = create_invite(uow.session, unit, Role.OPERATOR, rig.clock.now()).code
        uow.commit()
    answer = await rig.say(STRANGER, code)  # a wa.me link types the code; the bare code is enough
    assert "kini terdaftar" in texts(answer)
    with rig.deps.db.uow() as uow:
        bound = uow.session.exec(select(Contact).where(Contact.wa_number == STRANGER)).one()
    assert bound.role == Role.OPERATOR.value
    assert bound.wa_last_inbound_at == rig.clock.now()


async def test_admin_broadcast_reaches_each_person_once(rig: Rig) -> None:
    await rig.say(RINA, "/bantuan")  # the admin's window is open, the others' are not
    names = [ADMIN, KEPALA_DINKES, CAMAT_SUKAMAKMUR]
    text = "Rapat koordinasi katalog Senin 30 November 2026 pukul 09.00 di Aula Setda.\nMohon hadir."
    for name in names:
        template = templates.broadcast(rig.deps.pemda, text)
        queue(rig.deps, name, f"broadcast:1:{name}", OutMessage(text=text, kind="broadcast", template=template))

    await rig.dispatch()

    admin_got = [m for m in rig.graph.sent_to(RINA) if m.opaque is not None]
    assert [shown(m) for m in admin_got] == [text]  # inside the window: the text itself
    for number in (SLAMET, SRI):
        got = rig.graph.sent_to(number)
        assert [m.type for m in got] == ["template"]
        assert got[0].body["name"] == "sigap_pengumuman"
        assert template_params(got[0]) == [template_param(text)]
        assert "\n" not in template_params(got[0])[0]
    assert {r.status for r in outbox_rows(rig.deps)} == {OutboxStatus.SENT.value}


async def test_admin_broadcasts_with_siaran(rig: Rig) -> None:
    from handlers.commands import lookup

    if lookup("siaran") is None:
        pytest.skip("/siaran is not in the command table")
    text = "Rapat koordinasi e-Katalog Senin 30 November 2026 pukul 09.00 WIB di Aula Setda. Mohon hadir."
    preview = await rig.say(RINA, f"/siaran dinkes,kecsukamakmur {text}")
    assert len(preview) >= 1 and preview[-1].type == "interactive"
    send = next(c for c in choices(preview[-1]) if c.startswith("/siaran kirim"))
    confirmed = await rig.tap(make_button_reply(RINA, send, "Kirim", rig.wamid()), RINA)
    assert "Siaran #" in texts(confirmed)

    await rig.dispatch()

    for number in (SLAMET, SRI):
        got = rig.graph.sent_to(number)
        assert [m.body["name"] for m in got if m.type == "template"] == ["sigap_pengumuman"]
        assert template_params(got[0]) == [text]
    assert rig.graph.sent_to(RINA)[: len(preview) + len(confirmed)] == [*preview, *confirmed]


# ---------------------------------------------------------------------------------- window, templates


async def test_reminder_to_a_contact_silent_for_two_days_goes_as_template(rig: Rig) -> None:
    await rig.say(SLAMET, "/status")
    rig.clock.advance(timedelta(days=2))
    row_id = queue(rig.deps, KEPALA_DINKES, "reminder:katalog:H-14", reminder_for(rig.deps))

    await rig.dispatch()

    got = [m for m in rig.graph.sent_to(SLAMET) if m.opaque == str(row_id)]
    assert [m.type for m in got] == ["template"]
    assert got[0].body["name"] == "sigap_pengingat"
    assert got[0].body["language"] == {"code": "id"}
    assert template_params(got[0]) == [KEPALA_DINKES, "Pengingat batas waktu — Dinas Kesehatan: Produk e-Katalog lokal"]
    assert row(rig.deps, row_id).status == OutboxStatus.SENT.value


async def test_reminder_inside_the_window_goes_as_text(rig: Rig) -> None:
    await rig.say(SLAMET, "/status")
    rig.clock.advance(timedelta(hours=3))
    row_id = queue(rig.deps, KEPALA_DINKES, "reminder:katalog:H-7", reminder_for(rig.deps))
    await rig.dispatch()
    got = [m for m in rig.graph.sent_to(SLAMET) if m.opaque == str(row_id)]
    assert [m.type for m in got] == ["text"]


async def test_131047_reengagement_is_retried_as_template(rig: Rig) -> None:
    # Our record says the window is open, Meta says it is not (e.g. the person wrote from another device).
    with rig.deps.db.uow() as uow:
        person = uow.session.exec(select(Contact).where(Contact.name == KEPALA_DINKES)).one()
        person.wa_last_inbound_at = rig.clock.now() - timedelta(hours=1)
        uow.session.add(person)
        uow.commit()
    rig.graph.set_last_inbound(SLAMET, rig.clock.now() - timedelta(days=3))
    row_id = queue(rig.deps, KEPALA_DINKES, "reminder:katalog:H-3", reminder_for(rig.deps))

    await rig.dispatch()

    got = rig.graph.sent_to(SLAMET)
    assert [m.type for m in got] == ["template"]
    assert row(rig.deps, row_id).use_template is True
    assert row(rig.deps, row_id).status == OutboxStatus.SENT.value


async def test_status_events_mark_rows_delivered_and_read(rig: Rig) -> None:
    row_id = queue(rig.deps, KEPALA_DINKES, "reminder:katalog:status", reminder_for(rig.deps))
    await rig.dispatch()
    sent = row(rig.deps, row_id)
    assert sent.status == OutboxStatus.SENT.value and sent.provider_id

    await rig.post(make_status(sent.provider_id, "delivered", str(row_id), recipient=SLAMET, at=rig.clock.now()))
    assert row(rig.deps, row_id).status == OutboxStatus.DELIVERED.value
    assert row(rig.deps, row_id).delivered_at is not None

    rig.clock.advance(60)
    await rig.post(make_status(sent.provider_id, "read", str(row_id), recipient=SLAMET, at=rig.clock.now()))
    done = row(rig.deps, row_id)
    assert done.status == OutboxStatus.READ.value
    assert done.read_at is not None and done.read_at > done.delivered_at  # type: ignore[operator]

    # a late "delivered" never moves a read row back
    await rig.post(make_status(sent.provider_id, "delivered", str(row_id), recipient=SLAMET, at=rig.clock.now()))
    assert row(rig.deps, row_id).status == OutboxStatus.READ.value


async def test_status_of_an_earlier_part_is_matched_by_outbox_id(rig: Rig) -> None:
    row_id = queue(rig.deps, KEPALA_DINKES, "reminder:katalog:parts", reminder_for(rig.deps))
    await rig.dispatch()
    await rig.post(make_status("wamid.first-part", "read", str(row_id), recipient=SLAMET, at=rig.clock.now()))
    assert row(rig.deps, row_id).status == OutboxStatus.READ.value
    # a failure must name the exact message
    await rig.post(make_status("wamid.other", "failed", str(row_id), recipient=SLAMET, error_code=131000))
    assert row(rig.deps, row_id).status == OutboxStatus.READ.value


async def test_async_reengagement_failure_resends_as_template(rig: Rig) -> None:
    await rig.say(SLAMET, "/status")
    row_id = queue(rig.deps, KEPALA_DINKES, "reminder:katalog:async", reminder_for(rig.deps))
    await rig.dispatch()
    first = row(rig.deps, row_id)
    assert first.provider_id
    await rig.post(make_status(first.provider_id, "failed", str(row_id), recipient=SLAMET, error_code=131047))
    assert row(rig.deps, row_id).status == OutboxStatus.PENDING.value

    rig.clock.advance(timedelta(days=2))
    await rig.dispatch()
    again = row(rig.deps, row_id)
    assert again.status == OutboxStatus.SENT.value and again.use_template is True
    assert [m.type for m in rig.graph.sent_to(SLAMET) if m.opaque == str(row_id)] == ["text", "template"]


# ----------------------------------------------------------------------------------- security, dedupe


async def test_bad_signature_is_refused_and_nothing_is_processed(rig: Rig) -> None:
    payload = make_text_message(SLAMET, "/lapor katalog 12", "wamid.forged", at=rig.clock.now())
    forged = await rig.post(payload, signature=sign("not-the-secret", encode(payload)))
    assert forged.status_code == 403
    missing = await rig.post(payload, signature=None)
    assert missing.status_code == 401
    garbage = await rig.post(payload, signature="sha256=deadbeef")
    assert garbage.status_code == 403

    assert rig.graph.sent == [] and rig.graph.read_marks == []
    assert reports(rig.deps) == []
    with rig.deps.db.uow() as uow:
        assert uow.session.exec(select(InboundSeen)).all() == []
    assert contact(rig.deps, KEPALA_DINKES).wa_last_inbound_at is None


async def test_redelivered_webhook_is_answered_once(rig: Rig) -> None:
    payload = make_text_message(SLAMET, "/lapor katalog 12", "wamid.same", at=rig.clock.now())
    first = await rig.tap(payload, SLAMET)
    again = await rig.tap(payload, SLAMET)
    assert len(first) == 1 and again == []
    assert len(reports(rig.deps)) == 1


# ------------------------------------------------------------------------------------------ error paths


async def test_130429_backs_off_every_send(rig: Rig) -> None:
    rig.graph.fail_next(130429, retry_after=30)
    row_id = queue(rig.deps, KEPALA_DINKES, "reminder:throughput", reminder_for(rig.deps))
    await rig.dispatch()
    assert row(rig.deps, row_id).status == OutboxStatus.PENDING.value
    assert rig.graph.sent == []
    # every recipient now waits out the penalty, not only this one
    assert rig.channel.limiter.reserve("+6281200000001") >= 29
    rig.clock.advance(31)
    await rig.dispatch()
    assert row(rig.deps, row_id).status == OutboxStatus.SENT.value


async def test_131056_backs_off_that_person_only(rig: Rig) -> None:
    rig.graph.fail_next(131056)
    row_id = queue(rig.deps, KEPALA_DINKES, "reminder:pair", reminder_for(rig.deps))
    await rig.dispatch()
    assert row(rig.deps, row_id).status == OutboxStatus.PENDING.value
    assert rig.channel.limiter.reserve("+6281200000001") < 1  # someone else: no wait
    assert rig.channel.limiter.reserve(SLAMET) >= 5  # this person: the pair interval
    rig.clock.advance(10)
    await rig.dispatch()
    assert row(rig.deps, row_id).status == OutboxStatus.SENT.value


async def test_131026_marks_the_contact_unreachable(rig: Rig) -> None:
    rig.graph.fail_for(SLAMET, 131026)
    row_id = queue(rig.deps, KEPALA_DINKES, "reminder:undeliverable", reminder_for(rig.deps))
    await rig.dispatch()
    assert row(rig.deps, row_id).status == OutboxStatus.FAILED.value  # no other channel to fall back to
    assert contact(rig.deps, KEPALA_DINKES).unreachable_whatsapp is True
    # writing again makes the person reachable again
    rig.graph.clear_failures()
    await rig.say(SLAMET, "/bantuan")
    assert contact(rig.deps, KEPALA_DINKES).unreachable_whatsapp is False


async def test_190_stops_whatsapp_and_alerts_admins_on_telegram(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    with rig.deps.db.uow() as uow:
        admin = uow.session.exec(select(Contact).where(Contact.name == ADMIN)).one()
        admin.telegram_user_id = "5550001"
        uow.session.add(admin)
        uow.commit()
    rig.graph.fail_next(190, 401, times=5)
    first = queue(rig.deps, KEPALA_DINKES, "reminder:token:1", reminder_for(rig.deps))
    second = queue(rig.deps, CAMAT_SUKAMAKMUR, "reminder:token:2", reminder_for(rig.deps, CAMAT_SUKAMAKMUR))

    with caplog.at_level(logging.INFO):
        dispatcher = await rig.dispatch()

    assert Channel.WHATSAPP in dispatcher.paused
    assert row(rig.deps, first).status == OutboxStatus.PENDING.value  # kept for when the token is fixed
    assert row(rig.deps, second).status == OutboxStatus.PENDING.value
    alerts = rig.telegram.to("5550001")
    assert len(alerts) == 1
    assert "token akses ditolak" in alerts[0].text and "WHATSAPP_ACCESS_TOKEN" in alerts[0].text
    assert any(r.levelno == logging.ERROR and "rejected the access token" in r.getMessage() for r in caplog.records)
    assert TOKEN not in caplog.text

    # another failure the same day does not alert again
    await auth_alert(rig.deps)(Channel.WHATSAPP, "error 190")
    await rig.dispatch(dispatcher)
    assert len(rig.telegram.to("5550001")) == 1


# ------------------------------------------------------------------------------------------ both channels


def give_telegram(deps: Deps, name: str, telegram_id: str, preferred: Channel) -> None:
    with deps.db.uow() as uow:
        person = uow.session.exec(select(Contact).where(Contact.name == name)).one()
        person.telegram_user_id = telegram_id
        person.preferred_channel = preferred.value
        uow.session.add(person)
        uow.commit()


async def test_both_channels_preferred_telegram(rig: Rig) -> None:
    give_telegram(rig.deps, KEPALA_DINKES, "777001", Channel.TELEGRAM)
    queue(rig.deps, KEPALA_DINKES, "reminder:both:tg", reminder_for(rig.deps))
    await rig.dispatch()
    assert len(rig.telegram.to("777001")) == 1
    assert rig.graph.sent_to(SLAMET) == []


async def test_both_channels_telegram_unreachable_falls_back_to_whatsapp(rig: Rig) -> None:
    give_telegram(rig.deps, KEPALA_DINKES, "777002", Channel.TELEGRAM)
    rig.telegram.blocked.add("777002")
    row_id = queue(rig.deps, KEPALA_DINKES, "reminder:both:fallback-wa", reminder_for(rig.deps))
    await rig.dispatch()
    assert rig.telegram.to("777002") == []
    got = rig.graph.sent_to(SLAMET)
    assert [m.type for m in got] == ["template"]  # silent on WhatsApp: outside the window
    assert row(rig.deps, row_id).channel == Channel.WHATSAPP.value
    assert contact(rig.deps, KEPALA_DINKES).unreachable_telegram is True


async def test_both_channels_whatsapp_undeliverable_falls_back_to_telegram(rig: Rig) -> None:
    give_telegram(rig.deps, KEPALA_DINKES, "777003", Channel.WHATSAPP)
    rig.graph.fail_for(SLAMET, 131026)
    row_id = queue(rig.deps, KEPALA_DINKES, "reminder:both:fallback-tg", reminder_for(rig.deps))
    await rig.dispatch()
    assert rig.graph.sent_to(SLAMET) == []
    assert len(rig.telegram.to("777003")) == 1
    assert row(rig.deps, row_id).channel == Channel.TELEGRAM.value
    assert row(rig.deps, row_id).status == OutboxStatus.SENT.value


async def test_async_undeliverable_status_moves_the_row_to_telegram(rig: Rig) -> None:
    give_telegram(rig.deps, KEPALA_DINKES, "777004", Channel.WHATSAPP)
    row_id = queue(rig.deps, KEPALA_DINKES, "reminder:both:async", reminder_for(rig.deps))
    await rig.dispatch()
    wamid = row(rig.deps, row_id).provider_id
    assert wamid
    await rig.post(make_status(wamid, "failed", str(row_id), recipient=SLAMET, error_code=131026))
    moved = row(rig.deps, row_id)
    assert moved.channel == Channel.TELEGRAM.value and moved.status == OutboxStatus.PENDING.value
    await rig.dispatch()
    assert len(rig.telegram.to("777004")) == 1


async def test_async_undeliverable_status_on_a_whatsapp_only_deployment_fails_the_row(rig: Rig) -> None:
    """The person has a Telegram id too, but this deployment does not send on Telegram: the row is not moved to a
    channel nothing sends on (it would wait forever); it stays failed."""
    give_telegram(rig.deps, KEPALA_DINKES, "777005", Channel.WHATSAPP)
    rig.deps.sends_on = frozenset({Channel.WHATSAPP})
    row_id = queue(rig.deps, KEPALA_DINKES, "reminder:both:wa-only", reminder_for(rig.deps))
    await rig.dispatch()
    wamid = row(rig.deps, row_id).provider_id
    assert wamid
    await rig.post(make_status(wamid, "failed", str(row_id), recipient=SLAMET, error_code=131026))
    failed = row(rig.deps, row_id)
    assert failed.channel == Channel.WHATSAPP.value and failed.status == OutboxStatus.FAILED.value
    assert contact(rig.deps, KEPALA_DINKES).unreachable_whatsapp is True


# ------------------------------------------------------------------------------------------------ pieces


def test_rate_rules_follow_the_settings() -> None:
    settings = Settings(_env_file=None, WHATSAPP_RATE_GLOBAL=20, WHATSAPP_PAIR_INTERVAL=0)
    rules = rate_rules(settings)
    assert rules.global_per_second == 20 and rules.recipient_interval is None
    default = rate_rules(Settings(_env_file=None))
    assert default.global_per_second == 80 and default.recipient_interval == 6


def test_template_params_are_flattened() -> None:
    assert template_param("Baris satu\nBaris dua\t\tdan     spasi") == "Baris satu Baris dua dan spasi"
    assert template_param("  \n ") == "-"
    assert len(template_param("x" * 5000)) == 1024


def test_template_builders_match_the_docs() -> None:
    from pathlib import Path

    from bot.settings import EXAMPLE_PEMDA
    from models.pemda import load_pemda

    pemda = load_pemda(EXAMPLE_PEMDA)
    doc = (Path(__file__).resolve().parents[2] / "docs" / "whatsapp-templates.md").read_text(encoding="utf-8")
    for kind, params in templates.PARAMS.items():
        name = getattr(pemda.whatsapp_templates, kind)
        section = doc.split(f"## `{name}`", 1)[1].split("\n## ", 1)[0]
        body = section.split("```text", 1)[1].split("```", 1)[0]
        assert [f"{{{{{i}}}}}" in body for i in range(1, len(params) + 1)] == [True] * len(params), name
        assert f"{{{{{len(params) + 1}}}}}" not in body, name
        assert "UTILITY" in section and "`id`" in section, name
    with pytest.raises(ValueError):
        templates._template(pemda, "reminder", "only one")
    assert json.dumps(templates.reminder(pemda, "Slamet", " a\n b ").params) == '["Slamet", "a b"]'
    assert json.dumps(templates.reminder(pemda, "Slamet", "").params) == '["Slamet", "-"]'
