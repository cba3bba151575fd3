"""Bulk inserts (the sweep's outbox and ledger rows): COPY on PostgreSQL, executemany on SQLite, the same rows as
the ORM writes, whatever the text holds; a key already there is skipped; nothing survives a rollback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

import models.db
from models.db import Database, bulk_insert, bulk_insert_while
from models.outbox import OUTBOX_COLUMNS, outbox_fixed
from models.tables import Contact, Outbox

WIB = timezone(timedelta(hours=7))
AT = datetime(2026, 12, 8, 8, 0, tzinfo=WIB)
TEXTS = (
    "Yth. Bapak/Ibu Sri 'Ani' \"Sri\",\n🔔 Pengingat — Dinas Kesehatan: é ñ 中文",
    "tab\there, carriage\r\nreturn, backslash \\ and \\N and \\\\N, a lone \\t",
    "",
    "\\.\nthe line above ends COPY's old text format",
    "emoji 👩‍💼 and a zero-width\u200bjoiner, «quotes», ‘single’",
)
VARYING = (*OUTBOX_COLUMNS, "next_attempt_at", "use_template")


def a_contact(db: Database) -> int:
    with db.uow() as uow:
        contact = Contact(name="Sri", role="kepala", created_at=AT)
        uow.session.add(contact)
        uow.commit()
    assert contact.id is not None
    return contact.id


def rows(prefix: str, contact_id: int) -> list[tuple[Any, ...]]:
    """One row per text: JSON with quotes and non-ASCII, NULLs, aware datetimes in WIB and UTC, booleans."""
    made = []
    for i, text in enumerate(TEXTS):
        made.append(
            (
                f"{prefix}|{i}",
                contact_id,
                "telegram" if i % 2 else "whatsapp",
                "pengingat",
                text,
                '[["Lapor \\"sekarang\\"", "/lapor katalog"], ["Tab\\there", "\\\\x"]]' if i % 2 else "[]",
                None if i % 2 else "sigap_pengingat",
                f'["{text[:10]!r}", "Sri \\"Ani\\""]' if i % 2 else "[]",
                None,
                AT + timedelta(minutes=i) if i % 2 else (AT + timedelta(minutes=i)).astimezone(UTC),
                bool(i % 2),
            )
        )
    return made


def written(db: Database, prefix: str) -> dict[str, dict[str, Any]]:
    """The rows whose key starts with `prefix`, by the rest of the key, every column but id and key."""
    with db.uow() as uow:
        found = uow.session.exec(select(Outbox).where(col(Outbox.idem_key).startswith(f"{prefix}|"))).all()
    return {row.idem_key.split("|", 1)[1]: row.model_dump(exclude={"id", "idem_key"}) for row in found}


def test_bulk_rows_read_back_as_the_orm_writes_them(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    contact_id = a_contact(db)
    fixed = {name: value for name, value in outbox_fixed(AT).items() if name not in VARYING}
    with db.uow() as uow:
        bulk_insert(uow.session, Outbox.__table__, VARYING, rows("bulk", contact_id), "(idem_key)", fixed=fixed)  # type: ignore[attr-defined]
        reference = [dict(zip(VARYING, row, strict=True)) | fixed for row in rows("orm", contact_id)]
        uow.session.execute(insert(Outbox), reference)
        uow.commit()
    with monkeypatch.context() as patch:  # the statement-per-row path the sweep used on PostgreSQL before COPY
        patch.setattr(models.db, "copy_insert", models.db.executemany_insert)
        with db.uow() as uow:
            bulk_insert(uow.session, Outbox.__table__, VARYING, rows("many", contact_id), "(idem_key)", fixed=fixed)  # type: ignore[attr-defined]
            uow.commit()
    bulk, orm, many = written(db, "bulk"), written(db, "orm"), written(db, "many")
    assert len(bulk) == len(TEXTS)
    assert bulk == orm == many
    assert [bulk[str(i)]["text"] for i in range(len(TEXTS))] == list(TEXTS)
    assert bulk["1"]["template_name"] is None and bulk["1"]["attachment_id"] is None
    assert bulk["1"]["next_attempt_at"] == AT + timedelta(minutes=1)  # the same instant, read back in UTC
    assert bulk["1"]["next_attempt_at"].utcoffset() == timedelta(0)
    assert bulk["1"]["use_template"] is True and bulk["0"]["use_template"] is False


def test_keys_already_there_are_skipped_and_rows_keep_their_order(db: Database) -> None:
    contact_id = a_contact(db)
    fixed = outbox_fixed(AT)
    first = [(f"k|{i}", contact_id, "telegram", "pengingat", f"pesan {i}", "[]", None, "[]", None) for i in range(3)]
    with db.uow() as uow:
        bulk_insert(uow.session, Outbox.__table__, OUTBOX_COLUMNS, first[:2], "(idem_key)", fixed=fixed)  # type: ignore[attr-defined]
        uow.commit()
    again = [(*row[:4], "diubah", *row[5:]) for row in first]
    later = [(f"k|{i}", contact_id, "telegram", "pengingat", f"pesan {i}", "[]", None, "[]", None) for i in (9, 5, 7)]
    with db.uow() as uow:  # twice in one transaction, with a key repeated within the batch
        bulk_insert(uow.session, Outbox.__table__, OUTBOX_COLUMNS, again + again[2:], "(idem_key)", fixed=fixed)  # type: ignore[attr-defined]
        bulk_insert(uow.session, Outbox.__table__, OUTBOX_COLUMNS, later, "(idem_key)", fixed=fixed)  # type: ignore[attr-defined]
        uow.commit()
    with db.uow() as uow:
        found = uow.session.exec(select(Outbox).order_by(col(Outbox.id))).all()
    assert [(r.idem_key, r.text) for r in found] == [
        ("k|0", "pesan 0"),
        ("k|1", "pesan 1"),
        ("k|2", "diubah"),
        ("k|9", "pesan 9"),
        ("k|5", "pesan 5"),
        ("k|7", "pesan 7"),
    ]


def test_a_rolled_back_bulk_insert_leaves_nothing_and_the_next_one_works(db: Database) -> None:
    contact_id = a_contact(db)
    row = ("r|1", contact_id, "telegram", "pengingat", "pesan", "[]", None, "[]", None)
    with db.uow() as uow:
        bulk_insert(uow.session, Outbox.__table__, OUTBOX_COLUMNS, [row], "(idem_key)", fixed=outbox_fixed(AT))  # type: ignore[attr-defined]
        assert len(uow.session.exec(select(Outbox)).all()) == 1
    assert written(db, "r") == {}
    with db.uow() as uow:
        bulk_insert(uow.session, Outbox.__table__, OUTBOX_COLUMNS, [row], "(idem_key)", fixed=outbox_fixed(AT))  # type: ignore[attr-defined]
        uow.commit()
    assert list(written(db, "r")) == ["1"]


def test_a_row_the_database_refuses_fails_the_whole_insert_as_sqlalchemy_reports_it(db: Database) -> None:
    contact_id = a_contact(db)
    good = ("f|1", contact_id, "telegram", "pengingat", "pesan", "[]", None, "[]", None)
    stranger = ("f|2", contact_id + 1000, "telegram", "pengingat", "pesan", "[]", None, "[]", None)
    with db.uow() as uow, pytest.raises(IntegrityError):
        bulk_insert_while(
            uow.session,
            Outbox.__table__,  # type: ignore[attr-defined]
            OUTBOX_COLUMNS,
            [good, stranger],
            lambda: None,
            "(idem_key)",
            fixed=outbox_fixed(AT),
        )
    assert written(db, "f") == {}
