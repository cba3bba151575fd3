"""Hostile input through the whole core, on SQLite and PostgreSQL: NUL and control characters, huge and odd text,
button payloads nobody sent. Every message gets a reply, nothing crashes, and what is stored is clean."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from handlers.core import handle
from models.app import Deps
from models.messages import MAX_TEXT, Channel, Incoming
from models.tables import AuditLog, Broadcast, Contact, Report
from tests.conftest import ADMIN, KEPALA_DINKES, contact_named

COMMANDS = [
    "/lapor",
    "/lapor katalog",
    "/lapor p3dn",
    "/lapor inovasi",
    "/lapor mcp",
    "/status",
    "/rekap",
    "/siaran",
    "/siaran kirim",
    "/teguran",
    "/teguran setujui",
    "/tarik",
    "/riwayat",
    "/undang",
    "/proses",
    "/libur tambah",
    "/dispensasi",
    "/start",
    "/unit",
    "/bantuan",
    "",
]
NASTY = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Z", "Cc", "Cf"))
    | st.sampled_from("\x00\u202e/,.;"),
    max_size=300,
)


def _stored_texts(deps: Deps) -> list[str]:
    with deps.db.uow() as uow:
        session = uow.session
        texts = [r.title or "" for r in session.exec(select(Report)).all()]
        texts += [r.note for r in session.exec(select(Report)).all()]
        texts += [b.text + b.audience for b in session.exec(select(Broadcast)).all()]
        texts += [a.detail for a in session.exec(select(AuditLog)).all()]
        texts += [c.name for c in session.exec(select(Contact).where(col(Contact.id) > 0)).all()]
    return texts


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    command=st.sampled_from(COMMANDS),
    rest=NASTY,
    who=st.sampled_from([ADMIN, KEPALA_DINKES, None]),
    as_payload=st.booleans(),
    huge=st.booleans(),
)
def test_any_input_gets_a_reply_and_stores_nothing_dirty(
    deps: Deps, command: str, rest: str, who: str | None, as_payload: bool, huge: bool
) -> None:
    text = f"{command} {rest}".strip() or rest
    if huge:
        text = (text + " ") * 40 + "x" * 20_000
    address = str(contact_named(deps, who).id) if who is not None else "999999"
    name = ("\x00" + rest) * 30
    incoming = (
        Incoming(Channel.CONSOLE, address, payload=text, display_name=name)
        if as_payload
        else Incoming(Channel.CONSOLE, address, text=text, display_name=name)
    )
    assert "\x00" not in incoming.body and len(incoming.body) <= MAX_TEXT and len(incoming.display_name) <= 120
    replies = asyncio.run(handle(deps, incoming))
    assert replies, text
    for reply in replies:
        assert reply.text.strip()
        assert "Traceback" not in reply.text and "gangguan" not in reply.text, reply.text
    for stored in _stored_texts(deps):
        assert "\x00" not in stored and "\x1b" not in stored
