"""Pure webhook functions: signature, subscription handshake and payload parsing."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.whatsapp.webhook import parse_webhook, verify_signature, verify_subscription
from models.messages import Channel
from tests.fakes.graph_api import (
    combine,
    encode,
    envelope,
    make_button_reply,
    make_document,
    make_list_reply,
    make_status,
    make_template_button,
    make_text_message,
    sign,
)

SECRET = "app-secret-123"
AT = datetime(2025, 3, 10, 1, 30, 15, tzinfo=UTC)


# ------------------------------------------------------------------------------------------ signature


def test_signature_ok() -> None:
    body = encode(make_text_message("+6281234567890", "Halo", at=AT))
    assert verify_signature(SECRET, body, sign(SECRET, body)) == "ok"


def test_signature_hex_case_and_whitespace_tolerated() -> None:
    body = b'{"object":"whatsapp_business_account"}'
    header = sign(SECRET, body)
    assert verify_signature(SECRET, body, " sha256=" + header.removeprefix("sha256=").upper() + " ") == "ok"


@pytest.mark.parametrize("header", [None, "", "   "])
def test_signature_missing(header: str | None) -> None:
    assert verify_signature(SECRET, b"{}", header) == "missing"


def test_signature_bad() -> None:
    body = encode(make_text_message("+6281234567890", "Halo"))
    good = sign(SECRET, body)
    assert verify_signature(SECRET, body + b" ", good) == "bad"
    assert verify_signature("other-secret", body, good) == "bad"
    assert verify_signature(SECRET, body, good.replace("sha256=", "sha1=")) == "bad"
    assert verify_signature(SECRET, body, "sha256=") == "bad"
    assert verify_signature(SECRET, body, "sha256=zzzz") == "bad"
    assert verify_signature(SECRET, body, "sha256=ñandú") == "bad"
    assert verify_signature(SECRET, body, good.removeprefix("sha256=")) == "bad"


def test_signature_without_app_secret_fails_closed() -> None:
    body = b"{}"
    assert verify_signature("", body, sign("", body)) == "bad"


# -------------------------------------------------------------------------------------- subscription


def test_subscription_returns_challenge() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "vt", "hub.challenge": "1158201444"}
    assert verify_subscription(params, "vt") == "1158201444"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "vt", "hub.challenge": "1"},
        {"hub.verify_token": "vt", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": "vt"},
        {"hub.mode": "subscribe", "hub.verify_token": "vtñ", "hub.challenge": "1"},
    ],
)
def test_subscription_refused(params: dict[str, str]) -> None:
    assert verify_subscription(params, "vt") is None


def test_subscription_refused_without_configured_token() -> None:
    assert verify_subscription({"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}, "") is None


# ------------------------------------------------------------------------------------------- parsing


def test_parse_text_message() -> None:
    batch = parse_webhook(make_text_message("6281234567890", "  Halo Sigap ", "wamid.A", name="Budi S", at=AT))

    assert batch.statuses == []
    [message] = batch.messages
    assert message.wamid == "wamid.A"
    assert message.from_ == "+6281234567890"
    assert message.profile_name == "Budi S"
    assert message.timestamp == AT
    assert message.timestamp.tzinfo is not None
    assert message.phone_number_id == "1055"
    incoming = message.incoming
    assert incoming.channel is Channel.WHATSAPP
    assert incoming.address == "+6281234567890"
    assert incoming.text == "  Halo Sigap "
    assert incoming.body == "Halo Sigap"
    assert incoming.payload is None
    assert incoming.display_name == "Budi S"
    assert incoming.message_id == "wamid.A"
    assert incoming.at == AT


def test_parse_command_text() -> None:
    [message] = parse_webhook(make_text_message("+628111", "/status LKPJ")).messages
    assert message.incoming.command == "status"
    assert message.incoming.args == ["LKPJ"]


def test_parse_button_reply() -> None:
    payload = make_button_reply("+6281234567890", "/lapor sudah", "Sudah", "wamid.B", context_wamid="wamid.out-7")
    [message] = parse_webhook(payload).messages

    assert message.type == "interactive"
    assert message.incoming.payload == "/lapor sudah"
    assert message.incoming.text == "Sudah"
    assert message.incoming.body == "/lapor sudah"
    assert message.incoming.command == "lapor"
    assert message.incoming.extra["context_id"] == "wamid.out-7"


def test_parse_list_reply() -> None:
    payload = make_list_reply("+6281234567890", "/opd 3", "Bappeda", "wamid.C", description="Badan Perencanaan")
    [message] = parse_webhook(payload).messages

    assert message.incoming.payload == "/opd 3"
    assert message.incoming.text == "Bappeda"
    assert message.wamid == "wamid.C"


def test_parse_template_quick_reply() -> None:
    [message] = parse_webhook(make_template_button("+6281234567890", "SUDAH_LAPOR", "Sudah")).messages

    assert message.type == "button"
    assert message.incoming.payload == "SUDAH_LAPOR"
    assert message.incoming.text == "Sudah"


def test_parse_document() -> None:
    payload = make_document("+6281234567890", "media-778", "LKPJ 2024.pdf", "wamid.D", caption="laporan kami")
    [message] = parse_webhook(payload).messages

    incoming = message.incoming
    assert incoming.document_name == "LKPJ 2024.pdf"
    assert incoming.document_ref == "media-778"
    assert incoming.text == "laporan kami"
    assert incoming.extra["mime_type"] == "application/pdf"
    assert incoming.message_id == "wamid.D"


def test_parse_status_with_opaque_outbox_id() -> None:
    batch = parse_webhook(make_status("wamid.out-1", "delivered", "4242", recipient="+6281234567890", at=AT))

    assert batch.messages == []
    [status] = batch.statuses
    assert status.wamid == "wamid.out-1"
    assert status.status == "delivered"
    assert status.timestamp == AT
    assert status.recipient == "+6281234567890"
    assert status.outbox_id == 4242
    assert status.error_code is None


@pytest.mark.parametrize("opaque", [None, "abc", "-1", "12.5", "", "٣"])
def test_parse_status_without_integer_opaque(opaque: str | None) -> None:
    [status] = parse_webhook(make_status("wamid.out-1", "read", opaque)).statuses
    assert status.outbox_id is None


def test_parse_failed_status_with_error() -> None:
    payload = make_status(
        "wamid.out-2",
        "failed",
        "17",
        error_code=131047,
        error_title="Re-engagement message",
        error_details="More than 24 hours have passed",
    )
    [status] = parse_webhook(payload).statuses

    assert status.status == "failed"
    assert status.outbox_id == 17
    assert status.error_code == 131047
    assert status.error_title == "Re-engagement message"
    assert status.error_detail == "More than 24 hours have passed"


def test_parse_batch_with_several_entries() -> None:
    payload = combine(
        make_text_message("+628111", "satu", "wamid.1"),
        make_status("wamid.out-1", "sent", "1"),
        make_text_message("+628222", "dua", "wamid.2", name="Siti"),
    )
    batch = parse_webhook(payload)

    assert [m.wamid for m in batch.messages] == ["wamid.1", "wamid.2"]
    assert [m.profile_name for m in batch.messages] == ["Budi", "Siti"]
    assert [s.outbox_id for s in batch.statuses] == [1]


def test_unknown_fields_and_types_are_tolerated() -> None:
    payload = make_text_message("+628111", "halo", "wamid.1")
    value = payload["entry"][0]["changes"][0]["value"]
    value["brand_new_field"] = {"x": [1, 2]}
    value["messages"][0]["identity"] = {"acknowledged": True}
    value["messages"].append(
        {"from": "628111", "id": "wamid.loc", "timestamp": "1741570215", "type": "location", "location": {}}
    )
    value["messages"].append(
        {"from": "628111", "id": "wamid.r", "timestamp": "1741570215", "type": "reaction", "reaction": {}}
    )
    batch = parse_webhook(payload)

    assert [m.wamid for m in batch.messages] == ["wamid.1", "wamid.loc"]
    assert batch.messages[1].incoming.text == ""
    assert batch.messages[1].incoming.extra["type"] == "location"


def _break(payload: dict[str, Any], path: list[Any], value: object) -> dict[str, Any]:
    broken = copy.deepcopy(payload)
    target: Any = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return broken


MESSAGE = ["entry", 0, "changes", 0, "value", "messages", 0]
STATUS = ["entry", 0, "changes", 0, "value", "statuses", 0]


def _bad_message(path: list[Any], value: object) -> dict[str, Any]:
    return _break(make_text_message("+628111", "x", "wamid.bad"), [*MESSAGE, *path], value)


def _bad_status(path: list[Any], value: object, status: str = "sent") -> dict[str, Any]:
    return _break(make_status("wamid.bad", status, "5"), [*STATUS, *path], value)


@pytest.mark.parametrize(
    "broken",
    [
        _bad_message(["id"], None),
        _bad_message(["id"], ["wamid.bad"]),
        _bad_message(["from"], "not-a-number"),
        _bad_message(["from"], None),
        _bad_message(["timestamp"], "yesterday"),
        _bad_message(["timestamp"], None),
        _bad_message(["timestamp"], "9" * 40),
        _bad_message(["type"], "reaction"),
        _break(
            make_button_reply("+628111", "a", "A", "wamid.bad"),
            [*MESSAGE, "interactive"],
            {"type": "nfm_reply"},
        ),
        _break(make_template_button("+628111", "", "", "wamid.bad"), [*MESSAGE, "button"], {}),
        _bad_message([], "a string, not a message"),
        _bad_status(["status"], "exploded"),
        _bad_status(["id"], 12.5),
        _bad_status(["timestamp"], "-1"),
    ],
)
def test_malformed_entries_are_skipped(broken: dict[str, Any]) -> None:
    batch = parse_webhook(combine(broken, make_text_message("+628999", "ok", "wamid.good")))

    assert [m.wamid for m in batch.messages] == ["wamid.good"]
    assert batch.statuses == []


def test_odd_but_usable_entries_are_kept() -> None:
    text_without_body = _bad_message(["text"], "not-a-dict")
    failed_without_errors = _bad_status(["errors"], "oops", status="failed")
    batch = parse_webhook(combine(text_without_body, failed_without_errors))

    assert [(m.wamid, m.incoming.text) for m in batch.messages] == [("wamid.bad", "")]
    assert [(s.status, s.outbox_id, s.error_code) for s in batch.statuses] == [("failed", 5, None)]


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "text",
        42,
        {},
        {"entry": None},
        {"entry": "x"},
        {"entry": [None, 1, "x", {"changes": "x"}, {"changes": [None, {"value": []}]}]},
        {"entry": [{"changes": [{"field": "account_update", "value": {"messages": [{"id": "x"}]}}]}]},
        envelope({"messages": None, "statuses": {"id": "x"}, "contacts": "x"}),
        envelope({"messages": [{"type": "text"}], "statuses": [{}], "contacts": [{"profile": None}]}),
    ],
)
def test_garbage_never_raises(payload: object) -> None:
    batch = parse_webhook(payload)
    assert batch.messages == []
    assert batch.statuses == []


def test_signed_round_trip() -> None:
    payload = combine(make_text_message("+628111", "halo", "wamid.1"), make_status("wamid.o", "read", "9"))
    body = encode(payload)
    assert verify_signature(SECRET, body, sign(SECRET, body)) == "ok"
    batch = parse_webhook(payload)
    assert len(batch.messages) == 1
    assert batch.statuses[0].outbox_id == 9
