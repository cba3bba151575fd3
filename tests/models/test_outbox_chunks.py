"""Cutting a long text into chat messages, in one place (`models.outbox`), and queueing each chunk as its own row."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import col, select

from models.db import Database
from models.messages import Attachment, Button, Channel, Reply
from models.outbound import Template
from models.outbox import (
    LAST_LIMIT,
    TEXT_LIMIT,
    OutMessage,
    chunk_key,
    chunk_texts,
    enqueue,
    queue_replies,
    split_tail,
    split_text,
    units,
)
from models.tables import Contact, Outbox

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
YES = Button("Ya", "/ya")


def paragraphs(count: int, words: int = 60) -> str:
    return "\n\n".join(f"Paragraf {n}: " + "kata " * words for n in range(count))


def test_a_short_text_is_one_message() -> None:
    assert split_text("satu\ndua") == ["satu\ndua"]
    assert chunk_texts("Halo", Channel.TELEGRAM, buttons=2) == ["Halo"]


def test_a_long_text_is_cut_between_paragraphs_then_lines() -> None:
    text = paragraphs(40)
    chunks = split_text(text)
    assert len(chunks) > 2 and all(units(c) <= TEXT_LIMIT for c in chunks)
    assert all(c.startswith("Paragraf ") for c in chunks)  # every chunk starts a paragraph
    assert "\n\n".join(chunks) == text
    table = "\n".join(f"baris {n}: " + "x" * 70 for n in range(200))
    assert all(c.startswith("baris ") for c in split_text(table))
    assert "\n".join(split_text(table)) == table


def test_words_and_only_an_overlong_word_are_cut() -> None:
    text = " ".join(f"kata{n}" for n in range(400))
    assert " ".join(split_text(text, 100)) == text
    url = "https://contoh.go.id/" + "a" * 250
    assert split_text(f"lihat\n{url}\nselesai", 100) == ["lihat", url[:100], url[100:200], url[200:] + "\nselesai"]


def test_an_emoji_counts_twice_as_telegram_counts() -> None:
    chunks = split_text("\n".join(["🔔" * 24] * 4), 100)
    assert [len(c) for c in chunks] == [49, 49] and all(units(c) <= 100 for c in chunks)


def test_the_last_chunk_fits_a_caption_or_a_whatsapp_button_body() -> None:
    text = paragraphs(12)
    on_whatsapp = chunk_texts(text, Channel.WHATSAPP, buttons=2)
    assert units(on_whatsapp[-1]) <= LAST_LIMIT and "\n\n".join(on_whatsapp) == text
    assert units(chunk_texts(text, Channel.TELEGRAM, buttons=2)[-1]) > LAST_LIMIT  # Telegram buttons take 4,096
    with_file = chunk_texts("x" * 1500, Channel.TELEGRAM, attachment=True)
    assert [len(c) for c in with_file] == [476, 1024]  # the caption is the last 1,024
    assert split_tail("kepala\n\nbadan\nakhir", 12) == ("kepala", "badan\nakhir")


def test_chunk_keys_stay_distinct_when_the_key_is_long() -> None:
    key = "k" * 300
    keys = [chunk_key(key, i) for i in range(12)]
    assert keys[0] == key[:200] and len(set(keys)) == 12 and all(len(k) <= 200 for k in keys)


def person(db: Database, *, telegram: str | None = None, whatsapp: str | None = None) -> Contact:
    with db.uow() as uow:
        contact = Contact(name="Kepala Uji", role="kepala", telegram_user_id=telegram, wa_number=whatsapp)
        uow.session.add(contact)
        uow.commit()
        return contact


def test_a_long_reply_is_queued_chunk_by_chunk_with_buttons_and_file_last(sqlite_db: Database) -> None:
    contact = person(sqlite_db, telegram="42")
    file = Attachment("rekap.pdf", b"%PDF-1.4 rekap", "document", "application/pdf")
    with sqlite_db.uow() as uow:
        replies = queue_replies(
            uow.session,
            contact,
            Channel.TELEGRAM,
            "m1",
            [Reply("Sebentar."), Reply(paragraphs(30), (YES,), attachment=file)],
            NOW,
        )
        uow.commit()
        rows = uow.session.exec(select(Outbox).order_by(col(Outbox.id))).all()
    assert [r.outbox_id for r in replies] == [row.id for row in rows] and len(rows) > 3
    assert [row.idem_key for row in rows[:3]] == ["reply|telegram|m1|0", "reply|telegram|m1|1", "reply|telegram|m1|1#2"]
    assert [bool(r.buttons) for r in replies] == [False] * (len(rows) - 1) + [True]
    assert [r.attachment is not None for r in replies] == [False] * (len(rows) - 1) + [True]
    assert [row.attachment_id is not None for row in rows] == [False] * (len(rows) - 1) + [True]
    assert units(rows[-1].text) <= LAST_LIMIT  # goes as the file's caption
    assert "\n\n".join(row.text for row in rows[1:]) == paragraphs(30)


def test_a_whatsapp_message_with_a_template_stays_one_row(sqlite_db: Database) -> None:
    """Outside the 24-hour window it goes as its one template; the sender cuts its text inside the window."""
    contact = person(sqlite_db, whatsapp="+6281200000001")
    text = paragraphs(30)
    template = Template("sigap_pengingat", ("Kepala Uji", "ringkasan"))
    with sqlite_db.uow() as uow:
        enqueue(uow.session, "digest|1", contact, OutMessage(text, "digest", (YES,), template), NOW)
        uow.commit()
        rows = uow.session.exec(select(Outbox)).all()
    assert [(row.idem_key, row.text, row.template_name) for row in rows] == [("digest|1", text, "sigap_pengingat")]
