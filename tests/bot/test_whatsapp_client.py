"""WhatsAppClient and WhatsAppSender against the fake Graph API over real HTTP."""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.whatsapp.client import WhatsAppClient
from bot.whatsapp.sender import WhatsAppSender, numbered_choices
from models.messages import Attachment, Button, Channel
from models.outbound import (
    AuthFailed,
    Outbound,
    Permanent,
    RateLimited,
    Sender,
    SendError,
    Template,
    Transient,
    Unreachable,
    WindowClosed,
)
from models.outbox import split_text
from tests.fakes.graph_api import FakeGraphApi

TOKEN = "EAAG-very-secret-token-0123456789"
PHONE_ID = "1055"
BUDI = "+6281234567890"
SITI = "+6289876543210"


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphApi]:
    async with FakeGraphApi(token=TOKEN, phone_number_id=PHONE_ID) as g:
        yield g


@pytest.fixture
async def client(graph: FakeGraphApi) -> AsyncIterator[WhatsAppClient]:
    c = WhatsAppClient(TOKEN, PHONE_ID, base_url=graph.base_url, timeout=5)
    yield c
    await c.aclose()


@pytest.fixture
def sender(client: WhatsAppClient) -> WhatsAppSender:
    return WhatsAppSender(client)


def _assert_no_token(exc: BaseException) -> None:
    rendered = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)
    assert TOKEN not in rendered


# ------------------------------------------------------------------------------------------- client


async def test_send_text_returns_wamid_and_records_opaque(client: WhatsAppClient, graph: FakeGraphApi) -> None:
    wamid = await client.send_text(BUDI, "Halo Budi", opaque="17")

    assert wamid.startswith("wamid.")
    assert graph.texts_to(BUDI) == ["Halo Budi"]
    [sent] = graph.sent
    assert sent.to == "6281234567890"
    assert sent.opaque == "17"
    assert sent.wamid == wamid
    assert sent.raw["recipient_type"] == "individual"


async def test_send_text_without_opaque_omits_field(client: WhatsAppClient, graph: FakeGraphApi) -> None:
    await client.send_text(BUDI, "Halo")

    assert graph.sent[0].opaque is None
    assert "biz_opaque_callback_data" not in graph.sent[0].raw


async def test_three_buttons_become_reply_buttons(client: WhatsAppClient, graph: FakeGraphApi) -> None:
    buttons = [
        Button("Sudah", "/lapor sudah"),
        Button("Belum", "/lapor belum"),
        Button("Minta perpanjangan waktu", "/lapor tunda"),
    ]
    await client.send_buttons(BUDI, "Sudah kirim laporan?", buttons, opaque="5")

    [sent] = graph.sent
    assert sent.type == "interactive"
    assert sent.body["type"] == "button"
    assert sent.body["body"] == {"text": "Sudah kirim laporan?"}
    replies = [b["reply"] for b in sent.body["action"]["buttons"]]
    assert [r["id"] for r in replies] == ["/lapor sudah", "/lapor belum", "/lapor tunda"]
    assert replies[2]["title"] == "Minta perpanjangan …"
    assert all(len(r["title"]) <= 20 for r in replies)
    assert sent.opaque == "5"


async def test_more_than_three_reply_buttons_is_refused(client: WhatsAppClient, graph: FakeGraphApi) -> None:
    with pytest.raises(ValueError, match="1 to 3"):
        await client.send_buttons(BUDI, "?", [Button(str(i), str(i)) for i in range(4)])
    assert graph.sent == []


async def test_button_payload_over_256_chars_is_refused(client: WhatsAppClient) -> None:
    with pytest.raises(ValueError, match="256"):
        await client.send_buttons(BUDI, "?", [Button("ok", "x" * 257)])


async def test_five_buttons_as_list(client: WhatsAppClient, graph: FakeGraphApi) -> None:
    labels = [
        "Dinas Pendidikan",
        "Dinas Kesehatan",
        "Badan Pengelola Keuangan dan Aset Daerah",
        "Bappeda",
        "DPMPTSP",
    ]
    buttons = [Button(label, f"/opd {i}") for i, label in enumerate(labels)]
    await client.send_list(BUDI, "Pilih OPD:", buttons, opaque="9")

    [sent] = graph.sent
    assert sent.body["type"] == "list"
    action = sent.body["action"]
    assert action["button"] == "Pilih"
    rows = [row for section in action["sections"] for row in section["rows"]]
    assert [row["id"] for row in rows] == [f"/opd {i}" for i in range(5)]
    assert all(len(row["title"]) <= 24 for row in rows)
    assert rows[2]["description"].startswith("Badan Pengelola Keuangan")
    assert "description" not in rows[0]


async def test_list_with_eleven_rows_is_refused(client: WhatsAppClient) -> None:
    with pytest.raises(ValueError, match="1 to 10"):
        await client.send_list(BUDI, "?", [Button(str(i), str(i)) for i in range(11)])


async def test_template_with_params(client: WhatsAppClient, graph: FakeGraphApi) -> None:
    template = Template("pengingat_laporan", ("Budi", "LKPJ 2024", "31 Maret"), language="id")
    wamid = await client.send_template(BUDI, template, opaque="77")

    [sent] = graph.sent
    assert sent.wamid == wamid
    assert sent.type == "template"
    assert sent.body == {
        "name": "pengingat_laporan",
        "language": {"code": "id"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Budi"},
                    {"type": "text", "text": "LKPJ 2024"},
                    {"type": "text", "text": "31 Maret"},
                ],
            }
        ],
    }
    assert sent.opaque == "77"


async def test_template_without_params_has_no_components(client: WhatsAppClient, graph: FakeGraphApi) -> None:
    await client.send_template(BUDI, Template("halo", language="en_US"))

    assert graph.sent[0].body == {"name": "halo", "language": {"code": "en_US"}}


async def test_document_upload_and_send_round_trip(client: WhatsAppClient, graph: FakeGraphApi) -> None:
    content = b"%PDF-1.7\r\n--boundary-lookalike\r\n\x00\xff\xfe binary \r\n\r\n" * 50
    media_id = await client.upload_media(content, "application/pdf", "rekap.pdf")
    wamid = await client.send_document(BUDI, media_id, "rekap.pdf", "Rekap minggu ini", opaque="3")

    stored = graph.media[media_id]
    assert stored.content == content
    assert stored.mime == "application/pdf"
    assert stored.filename == "rekap.pdf"
    [sent] = graph.sent
    assert sent.wamid == wamid
    assert sent.body == {"id": media_id, "filename": "rekap.pdf", "caption": "Rekap minggu ini"}
    assert await client.download_media(media_id) == (content, "application/pdf")


async def test_send_image(client: WhatsAppClient, graph: FakeGraphApi) -> None:
    media_id = await client.upload_media(b"\x89PNG\r\n\x1a\n....", "image/png", "grafik.png")
    await client.send_image(BUDI, media_id)

    assert graph.sent[0].type == "image"
    assert graph.sent[0].body == {"id": media_id}


async def test_mark_read(client: WhatsAppClient, graph: FakeGraphApi) -> None:
    await client.mark_read("wamid.in-1")

    assert graph.read_marks == ["wamid.in-1"]
    assert graph.sent == []


@pytest.mark.parametrize(
    ("code", "status", "error_type"),
    [
        (130429, 429, RateLimited),
        (131056, 400, RateLimited),
        (131047, 400, WindowClosed),
        (131026, 400, Unreachable),
        (190, 401, AuthFailed),
        (131000, 500, Transient),
        (2, 503, Transient),
        (100, 400, Permanent),
        (132001, 404, Permanent),
    ],
)
async def test_graph_error_codes_map_to_send_errors(
    client: WhatsAppClient,
    graph: FakeGraphApi,
    caplog: pytest.LogCaptureFixture,
    code: int,
    status: int,
    error_type: type[SendError],
) -> None:
    graph.fail_next(code=code, status=status, message=f"(#{code}) injected failure")
    caplog.set_level(logging.DEBUG)

    with pytest.raises(error_type) as info:
        await client.send_text(BUDI, "Halo")

    assert type(info.value) is error_type
    assert str(code) in str(info.value)
    _assert_no_token(info.value)
    assert TOKEN not in caplog.text
    assert graph.sent == []


async def test_permanent_error_carries_code_message_and_details(client: WhatsAppClient, graph: FakeGraphApi) -> None:
    graph.fail_next(code=132000, message="(#132000) Number of parameters does not match", details="expected 2")

    with pytest.raises(Permanent) as info:
        await client.send_template(BUDI, Template("x", ("a",)))

    assert "132000" in str(info.value)
    assert "Number of parameters does not match" in str(info.value)
    assert "expected 2" in str(info.value)


async def test_rate_limit_scopes_and_default_retry_after(graph: FakeGraphApi) -> None:
    async with WhatsAppClient(
        TOKEN, PHONE_ID, base_url=graph.base_url, global_retry_after=7, recipient_retry_after=11
    ) as client:
        graph.fail_next(code=130429, status=429)
        with pytest.raises(RateLimited) as global_info:
            await client.send_text(BUDI, "a")
        graph.fail_next(code=131056)
        with pytest.raises(RateLimited) as pair_info:
            await client.send_text(BUDI, "b")

    assert (global_info.value.scope, global_info.value.retry_after) == ("global", 7)
    assert (pair_info.value.scope, pair_info.value.retry_after) == ("recipient", 11)


async def test_rate_limit_defaults_and_retry_after_header(client: WhatsAppClient, graph: FakeGraphApi) -> None:
    graph.fail_next(code=130429, status=429)
    with pytest.raises(RateLimited) as default_info:
        await client.send_text(BUDI, "a")
    graph.fail_next(code=131056)
    with pytest.raises(RateLimited) as pair_info:
        await client.send_text(BUDI, "b")
    graph.fail_next(code=130429, status=429, retry_after=30)
    with pytest.raises(RateLimited) as header_info:
        await client.send_text(BUDI, "c")

    assert default_info.value.retry_after == 5
    assert pair_info.value.retry_after == 6
    assert header_info.value.retry_after == 30


async def test_wrong_token_is_auth_failed_without_leaking(
    graph: FakeGraphApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "EAAG-wrong-token-9876543210"
    async with WhatsAppClient(wrong, PHONE_ID, base_url=graph.base_url) as client:
        with pytest.raises(AuthFailed) as info:
            await client.send_text(BUDI, "Halo")
        assert wrong not in repr(client)

    rendered = "".join(traceback.format_exception(info.value))
    assert wrong not in rendered
    assert "190" in str(info.value)
    assert wrong not in caplog.text


async def test_connection_refused_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with WhatsAppClient(TOKEN, PHONE_ID, base_url=f"http://127.0.0.1:{port}") as client:
        with pytest.raises(Transient) as info:
            await client.send_text(BUDI, "Halo")
    _assert_no_token(info.value)


async def test_timeout_is_transient() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        raise httpx.ReadTimeout("timed out", request=request)

    async with WhatsAppClient(TOKEN, PHONE_ID, transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(Transient, match="timed out") as info:
            await client.send_text(BUDI, "Halo")
    _assert_no_token(info.value)


async def test_server_error_without_json_is_transient() -> None:
    async with WhatsAppClient(
        TOKEN,
        PHONE_ID,
        transport=httpx.MockTransport(lambda r: httpx.Response(502, text="<html>Bad gateway")),
    ) as client:
        with pytest.raises(Transient, match="502"):
            await client.send_text(BUDI, "Halo")


async def test_success_without_message_id_is_permanent() -> None:
    async with WhatsAppClient(
        TOKEN, PHONE_ID, transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"messages": []}))
    ) as client:
        with pytest.raises(Permanent, match="no message id"):
            await client.send_text(BUDI, "Halo")


async def test_window_closed_after_24_hours(client: WhatsAppClient, graph: FakeGraphApi) -> None:
    now = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
    graph.set_clock(now)
    graph.set_last_inbound(BUDI, now - timedelta(hours=23))
    graph.set_last_inbound(SITI, now - timedelta(hours=25))

    await client.send_text(BUDI, "masih di dalam jendela")
    with pytest.raises(WindowClosed):
        await client.send_text(SITI, "di luar jendela")
    await client.send_template(SITI, Template("pengingat", ("Siti",)))

    graph.advance(timedelta(hours=2))
    with pytest.raises(WindowClosed):
        await client.send_buttons(BUDI, "sekarang tertutup", [Button("Ya", "ya")])
    assert [m.type for m in graph.sent] == ["text", "template"]


async def test_enforced_window_refuses_unknown_numbers() -> None:
    async with (
        FakeGraphApi(token=TOKEN, phone_number_id=PHONE_ID, enforce_window=True) as graph,
        WhatsAppClient(TOKEN, PHONE_ID, base_url=graph.base_url) as client,
    ):
        with pytest.raises(WindowClosed):
            await client.send_text(BUDI, "Halo")
        await client.send_template(BUDI, Template("sapaan"))


async def test_per_recipient_failure_rule(client: WhatsAppClient, graph: FakeGraphApi) -> None:
    graph.fail_for(SITI, code=131026)

    with pytest.raises(Unreachable):
        await client.send_text(SITI, "Halo")
    await client.send_text(BUDI, "Halo")
    graph.clear_failures()
    await client.send_text(SITI, "Halo lagi")

    assert graph.texts_to(BUDI) == ["Halo"]
    assert graph.texts_to(SITI) == ["Halo lagi"]


async def test_fail_next_times(client: WhatsAppClient, graph: FakeGraphApi) -> None:
    graph.fail_next(code=131000, status=500, times=2)

    for _ in range(2):
        with pytest.raises(Transient):
            await client.send_text(BUDI, "x")
    await client.send_text(BUDI, "y")
    assert graph.texts_to(BUDI) == ["y"]


async def test_fake_refuses_bad_shapes(graph: FakeGraphApi) -> None:
    """The fake itself enforces Meta's limits, so a client bug cannot slip through the tests."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{graph.base_url}/v21.0/{PHONE_ID}/messages"
    four = [{"type": "reply", "reply": {"id": str(i), "title": str(i)}} for i in range(4)]
    long_title = [{"type": "reply", "reply": {"id": "a", "title": "x" * 21}}]
    rows = [{"id": str(i), "title": str(i)} for i in range(11)]
    bodies = [
        {"type": "button", "body": {"text": "?"}, "action": {"buttons": four}},
        {"type": "button", "body": {"text": "?"}, "action": {"buttons": long_title}},
        {"type": "list", "body": {"text": "?"}, "action": {"button": "Pilih", "sections": [{"rows": rows}]}},
    ]
    async with httpx.AsyncClient(headers=headers) as http:
        for interactive in bodies:
            message = {"messaging_product": "whatsapp", "to": "628123", "type": "interactive"}
            response = await http.post(url, json={**message, "interactive": interactive})
            assert response.status_code == 400
            assert response.json()["error"]["code"] == 100
        wrong_phone = await http.post(
            f"{graph.base_url}/v21.0/999/messages",
            json={"messaging_product": "whatsapp", "to": "628123", "type": "text", "text": {"body": "x"}},
        )
        assert wrong_phone.json()["error"]["code"] == 100
    assert graph.sent == []


# ------------------------------------------------------------------------------------------- sender


def _outbound(text: str = "Halo", **kwargs: Any) -> Outbound:
    return Outbound(outbox_id=42, channel=Channel.WHATSAPP, address=BUDI, text=text, **kwargs)


def test_sender_satisfies_protocol(sender: WhatsAppSender) -> None:
    as_protocol: Sender = sender
    assert as_protocol.channel is Channel.WHATSAPP


async def test_sender_plain_text(sender: WhatsAppSender, graph: FakeGraphApi) -> None:
    sent = await sender.send(_outbound("Selamat pagi"))

    assert sender.channel is Channel.WHATSAPP
    assert graph.texts_to(BUDI) == ["Selamat pagi"]
    assert sent.provider_id == graph.sent[0].wamid
    assert graph.sent[0].opaque == "42"


async def test_sender_template_wins_over_text(sender: WhatsAppSender, graph: FakeGraphApi) -> None:
    await sender.send(_outbound("ignored", template=Template("pengingat", ("Budi",)), buttons=(Button("a", "a"),)))

    assert [m.type for m in graph.sent] == ["template"]
    assert graph.sent[0].opaque == "42"


async def test_sender_document_with_caption(sender: WhatsAppSender, graph: FakeGraphApi) -> None:
    attachment = Attachment("rekap.pdf", b"%PDF-1.4 data")
    sent = await sender.send(_outbound("Rekap terlampir", attachment=attachment))

    [message] = graph.sent
    assert message.type == "document"
    assert message.body["caption"] == "Rekap terlampir"
    assert graph.media[message.body["id"]].content == b"%PDF-1.4 data"
    assert sent.provider_id == message.wamid


async def test_sender_photo_as_image(sender: WhatsAppSender, graph: FakeGraphApi) -> None:
    attachment = Attachment("grafik.png", b"\x89PNG", kind="photo", mime="image/png")
    await sender.send(_outbound("", attachment=attachment))

    [message] = graph.sent
    assert message.type == "image"
    assert "caption" not in message.body


async def test_sender_long_caption_goes_first_as_text(sender: WhatsAppSender, graph: FakeGraphApi) -> None:
    text = "Rincian:\n" + "\n".join(f"- OPD {i} belum lapor" for i in range(100))
    assert len(text) > 1024
    sent = await sender.send(_outbound(text, attachment=Attachment("rekap.pdf", b"%PDF")))

    assert [m.type for m in graph.sent] == ["text", "document"]
    assert graph.texts_to(BUDI) == [text]
    assert "caption" not in graph.sent[1].body
    assert sent.provider_id == graph.sent[1].wamid


@pytest.mark.parametrize(("count", "kind"), [(1, "button"), (3, "button"), (4, "list"), (10, "list")])
async def test_sender_buttons_pick_interactive_kind(
    sender: WhatsAppSender, graph: FakeGraphApi, count: int, kind: str
) -> None:
    buttons = tuple(Button(f"Pilihan {i}", f"/pilih {i}") for i in range(count))
    await sender.send(_outbound("Pilih:", buttons=buttons))

    [message] = graph.sent
    assert message.type == "interactive"
    assert message.body["type"] == kind


async def test_sender_many_buttons_become_numbered_text(sender: WhatsAppSender, graph: FakeGraphApi) -> None:
    buttons = tuple(Button(f"OPD {i}", f"/opd {i}") for i in range(1, 13))
    await sender.send(_outbound("Pilih OPD:", buttons=buttons))

    [text] = graph.texts_to(BUDI)
    assert text.startswith("Pilih OPD:\n\n1. OPD 1\n2. OPD 2\n")
    assert text.endswith("12. OPD 12")


async def test_sender_long_text_with_buttons_sends_body_last(sender: WhatsAppSender, graph: FakeGraphApi) -> None:
    text = "\n".join(f"Baris {i:04d} " + "x" * 40 for i in range(40))
    await sender.send(_outbound(text, buttons=(Button("Ya", "ya"), Button("Tidak", "tidak"))))

    assert [m.type for m in graph.sent] == ["text", "interactive"]
    body = graph.sent[1].body["body"]["text"]
    assert len(body) <= 1024
    assert graph.texts_to(BUDI)[0] + "\n" + body == text


async def test_sender_splits_long_text_at_line_breaks(sender: WhatsAppSender, graph: FakeGraphApi) -> None:
    lines = [f"{i:05d} " + "laporan belum masuk " * 3 + "ya" for i in range(200)]
    text = "\n".join(lines)
    assert len(text) > 2 * 4096
    sent = await sender.send(_outbound(text))

    chunks = graph.texts_to(BUDI)
    assert len(chunks) == 4
    assert all(len(chunk) <= 4096 for chunk in chunks)
    assert "\n".join(chunks) == text
    assert all(m.opaque == "42" for m in graph.sent)
    assert sent.provider_id == graph.sent[-1].wamid


async def test_sender_invalid_shape_is_permanent(sender: WhatsAppSender, graph: FakeGraphApi) -> None:
    with pytest.raises(Permanent, match="outbox 42"):
        await sender.send(_outbound("?", buttons=(Button("ok", "x" * 300),)))
    with pytest.raises(Permanent):
        await sender.send(_outbound("   "))
    assert graph.sent == []


async def test_sender_propagates_window_closed(sender: WhatsAppSender, graph: FakeGraphApi) -> None:
    graph.fail_next(code=131047)

    with pytest.raises(WindowClosed):
        await sender.send(_outbound("Halo"))


def test_split_text_prefers_line_breaks_then_spaces() -> None:
    assert split_text("short", 10) == ["short"]
    assert split_text("aaaa\nbbbb\ncccc", 10) == ["aaaa\nbbbb", "cccc"]
    assert split_text("aaaa bbbb cccc", 10) == ["aaaa bbbb", "cccc"]
    assert split_text("a" * 25, 10) == ["a" * 10, "a" * 10, "a" * 5]
    assert split_text("1234567890\nabc", 10) == ["1234567890", "abc"]
    for chunk in split_text(("kata " * 50 + "\n") * 30, 100):
        assert 0 < len(chunk) <= 100


def test_numbered_choices() -> None:
    assert numbered_choices("Pilih:", (Button("A", "a"), Button("", "b"))) == "Pilih:\n\n1. A\n2. b"


async def test_absurd_retry_after_headers_are_capped_or_ignored(client: WhatsAppClient, graph: FakeGraphApi) -> None:
    graph.fail_next(code=130429, status=429, retry_after=10**9)
    with pytest.raises(RateLimited) as huge:
        await client.send_text(BUDI, "a")
    assert huge.value.retry_after == 3600
    graph.fail_next(code=130429, status=429, retry_after=float("inf"))
    with pytest.raises(RateLimited) as endless:
        await client.send_text(BUDI, "b")
    assert endless.value.retry_after == 5  # the default, not forever
