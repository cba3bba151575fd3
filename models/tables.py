"""Database tables. Every datetime column holds UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back as an aware UTC datetime (SQLite forgets zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        """Refuse naive datetimes and normalise to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        """Attach UTC to values the driver hands back without a zone."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_column(*, nullable: bool = True, index: bool = False) -> Column[datetime]:
    """A UTC datetime column."""
    return Column(UTCDateTime(), nullable=nullable, index=index)


def utcnow() -> datetime:
    """The current time, aware UTC (for defaults only; logic takes time from the injected clock)."""
    return datetime.now(UTC)


class Role(StrEnum):
    """What a person may do."""

    ADMIN = "admin"
    PIMPINAN = "pimpinan"
    KEPALA = "kepala"
    OPERATOR = "operator"
    CAMAT = "camat"


ROLE_LABELS: dict[Role, str] = {
    Role.ADMIN: "Admin",
    Role.PIMPINAN: "Pimpinan",
    Role.KEPALA: "Kepala OPD",
    Role.OPERATOR: "Operator OPD",
    Role.CAMAT: "Camat",
}

UNIT_ROLES: tuple[str, ...] = (Role.KEPALA.value, Role.OPERATOR.value, Role.CAMAT.value)
"""The roles that answer for a unit (they hear its reminders, letters and unit-targeted broadcasts)."""

MAX_ID = 2**31 - 1
"""The largest row id there can be (a 32-bit key on PostgreSQL): a typed number above it names nothing."""

UNIT_KINDS = (
    "sekretariat",
    "inspektorat",
    "dinas",
    "badan",
    "bagian",
    "satpol",
    "rsud",
    "kecamatan",
    "kelurahan",
    "desa",
)


class Unit(SQLModel, table=True):
    """An OPD, a kecamatan office, or a kelurahan/desa under a kecamatan."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=32)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    aliases: str = Field(default="", max_length=200)
    parent_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    active: bool = True

    def alias_list(self) -> list[str]:
        """The short names people type for this unit, lower-case."""
        return [a.strip().lower() for a in self.aliases.split(",") if a.strip()]


class Contact(SQLModel, table=True):
    """A person the bot talks to, bound to one unit and one role."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    role: str = Field(max_length=16, index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    title: str = Field(default="", max_length=200)
    nip: str = Field(default="", max_length=32)
    telegram_user_id: str | None = Field(default=None, unique=True, max_length=32)
    wa_number: str | None = Field(default=None, unique=True, max_length=20)
    preferred_channel: str | None = Field(default=None, max_length=16)
    language: str = Field(default="id", max_length=8)
    active: bool = True
    unreachable_telegram: bool = False
    unreachable_whatsapp: bool = False
    wa_last_inbound_at: datetime | None = Field(default=None, sa_column=utc_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))

    def address(self, channel: str) -> str | None:
        """Where this person is reached on `channel`: Telegram user id, WhatsApp number, or the console's contact id."""
        if channel == "telegram":
            return self.telegram_user_id
        if channel == "whatsapp":
            return self.wa_number
        return str(self.id)

    def marked_unreachable(self, channel: str) -> bool:
        """Whether the bot found this person unreachable on `channel` (they blocked it) and has not heard since."""
        if channel == "telegram":
            return self.unreachable_telegram
        if channel == "whatsapp":
            return self.unreachable_whatsapp
        return False


class Invite(SQLModel, table=True):
    """A one-time code that binds whoever uses it to a unit and role."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=32)
    unit_id: int = Field(foreign_key="unit.id")
    role: str = Field(max_length=16)
    name_hint: str = Field(default="", max_length=120)
    created_by_id: int | None = Field(default=None, foreign_key="contact.id")
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    expires_at: datetime = Field(sa_column=utc_column(nullable=False))
    used_by_id: int | None = Field(default=None, foreign_key="contact.id")
    used_at: datetime | None = Field(default=None, sa_column=utc_column())


class Program(SQLModel, table=True):
    """An obligation the bot chases, mirrored from the Pemda file."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, index=True, max_length=32)
    title: str = Field(max_length=200)
    measure: str = Field(max_length=16)
    target: float = 0
    total_target: float | None = None
    unit_label: str = Field(default="", max_length=40)
    period: str = Field(default="year", max_length=10)
    applies_to: str = Field(default="", max_length=300)
    active: bool = True


class ChecklistItem(SQLModel, table=True):
    """One indicator of a checklist program (MCP), answered by one unit."""

    __table_args__ = (UniqueConstraint("program_key", "period", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    program_key: str = Field(max_length=32, index=True)
    period: str = Field(max_length=10)
    area: str = Field(max_length=120)
    code: str = Field(max_length=32)
    title: str = Field(max_length=300)
    unit_id: int = Field(foreign_key="unit.id", index=True)


class Verification(StrEnum):
    """How far a report has been checked."""

    SELF = "self"
    PENDING = "pending"
    """Evidence sent, waiting for the program's verifier."""
    VERIFIED = "verified"
    REJECTED = "rejected"


class ReportSource(StrEnum):
    """Where a figure came from."""

    CHAT = "chat"
    IMPORT = "impor"
    """Read from an export of LKPP's systems (a file or the INAPROC API)."""


class Report(SQLModel, table=True):
    """One status update; rows are only ever added, the latest one that is neither rejected nor withdrawn counts."""

    __table_args__ = (Index("ix_report_lookup", "program_key", "period", "unit_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id")
    program_key: str = Field(max_length=32)
    period: str = Field(max_length=10)
    value: float | None = None
    item_code: str | None = Field(default=None, max_length=32)
    item_status: str | None = Field(default=None, max_length=16)
    title: str | None = Field(default=None, max_length=300)
    note: str = Field(default="", max_length=500)
    evidence_url: str | None = Field(default=None, max_length=500)
    reporter_id: int | None = Field(default=None, foreign_key="contact.id")
    channel: str = Field(max_length=16)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    verification: str = Field(default=Verification.SELF.value, max_length=16)
    withdrawn_at: datetime | None = Field(default=None, sa_column=utc_column())
    """Set when the reporter (within a day) or an admin withdrew the report: it no longer counts; the row stays."""
    source: str = Field(
        default=ReportSource.CHAT.value, sa_column=Column(String(16), nullable=False, server_default="chat")
    )
    observed_at: datetime | None = Field(default=None, sa_column=utc_column())
    """The moment the figure describes when it differs from `created_at` (an import: the export's date)."""
    withdrawn_by_id: int | None = Field(default=None, foreign_key="contact.id")
    withdraw_reason: str = Field(default="", sa_column=Column(String(300), nullable=False, server_default=""))


class AuditLog(SQLModel, table=True):
    """Who did what, when, from which channel."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    actor_id: int | None = Field(default=None, foreign_key="contact.id")
    channel: str = Field(max_length=16)
    action: str = Field(max_length=40)
    target: str = Field(default="", max_length=200)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))


class ChatState(SQLModel, table=True):
    """Where a guided conversation stands, so it survives a restart."""

    contact_id: int = Field(foreign_key="contact.id", primary_key=True)
    flow: str = Field(max_length=32)
    data: str = Field(default="{}", sa_column=Column(Text, nullable=False, server_default="{}"))
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


class InboundSeen(SQLModel, table=True):
    """Provider message ids already processed (Telegram update_id, WhatsApp wamid)."""

    channel: str = Field(primary_key=True, max_length=16)
    key: str = Field(primary_key=True, max_length=128)
    at: datetime = Field(sa_column=utc_column(nullable=False))


class InboundMessage(SQLModel, table=True):
    """A webhook body as received, written before Sigap answers 200; handled again after a crash until done."""

    __tablename__ = "inbound_message"
    __table_args__ = (
        UniqueConstraint("channel", "key"),
        Index("ix_inbound_message_processed_at", "processed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    key: str = Field(max_length=128)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(sa_column=utc_column(nullable=False))
    processed_at: datetime | None = Field(default=None, sa_column=utc_column())
    attempts: int = 0
    last_error: str = Field(default="", max_length=500)


class DayOff(SQLModel, table=True):
    """A day off added on top of the national calendar (cuti bersama, local holiday)."""

    day: date = Field(primary_key=True)
    reason: str = Field(max_length=120)
    created_by_id: int | None = Field(default=None, foreign_key="contact.id")
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class Pause(SQLModel, table=True):
    """A unit's 'sedang diproses' pause of reminders, or an admin's dispensation."""

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    program_key: str = Field(max_length=32)
    period: str = Field(max_length=10)
    kind: str = Field(max_length=16)
    until: date | None = None
    reason: str = Field(default="", max_length=300)
    created_by_id: int | None = Field(default=None, foreign_key="contact.id")
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column())


class OutboxStatus(StrEnum):
    """Lifecycle of an outgoing message."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    DEAD = "dead"


OPEN_STATUSES: tuple[str, ...] = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)
"""Outbox rows still waiting or being sent."""

SENT_STATUSES: tuple[str, ...] = (OutboxStatus.SENT.value, OutboxStatus.DELIVERED.value, OutboxStatus.READ.value)
"""Outbox rows the platform accepted (and perhaps delivered or showed as read), in that order."""


class Failure(StrEnum):
    """Why an outbox row failed, as a code (its `last_error` says it in words for people)."""

    NONE = ""
    UNREACHABLE = "unreachable"
    """The person blocked the bot (or the platform says they cannot be reached) on every channel they have."""


class Outbox(SQLModel, table=True):
    """Every message the bot sends on its own, written before it is sent."""

    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    idem_key: str = Field(unique=True, max_length=200)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    channel: str = Field(max_length=16)
    kind: str = Field(max_length=24)
    text: str = Field(sa_column=Column(Text, nullable=False))
    buttons: str = Field(default="[]", sa_column=Column(Text, nullable=False, server_default="[]"))
    template_name: str | None = Field(default=None, max_length=64)
    template_params: str = Field(default="[]", sa_column=Column(Text, nullable=False, server_default="[]"))
    attachment_id: int | None = Field(default=None, foreign_key="stored_file.id")
    use_template: bool = False
    status: str = Field(default=OutboxStatus.PENDING.value, max_length=12)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=utc_column(nullable=False))
    claimed_until: datetime | None = Field(default=None, sa_column=utc_column())
    provider_id: str | None = Field(default=None, max_length=128, index=True)
    last_error: str = Field(default="", max_length=500)
    failure: str = Field(default=Failure.NONE.value, sa_column=Column(String(16), nullable=False, server_default=""))
    broadcast_id: int | None = Field(default=None, foreign_key="broadcast.id", index=True)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=utc_column())
    delivered_at: datetime | None = Field(default=None, sa_column=utc_column())
    read_at: datetime | None = Field(default=None, sa_column=utc_column())


class StoredFile(SQLModel, table=True):
    """A file the bot keeps to send (letters), with its hash."""

    __tablename__ = "stored_file"

    id: int | None = Field(default=None, primary_key=True)
    filename: str = Field(max_length=200)
    mime: str = Field(max_length=100)
    sha256: str = Field(max_length=64)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class BroadcastStatus(StrEnum):
    """Lifecycle of a broadcast: previewed, confirmed and sending, every row settled, or cancelled before sending."""

    DRAFT = "draft"
    SENDING = "sending"
    FINISHED = "finished"
    CANCELLED = "cancelled"


class Broadcast(SQLModel, table=True):
    """An admin's broadcast: its audience, text and where its progress is shown."""

    id: int | None = Field(default=None, primary_key=True)
    created_by_id: int = Field(foreign_key="contact.id")
    channel: str = Field(max_length=16)
    audience: str = Field(sa_column=Column(Text, nullable=False))
    """The target as the admin wrote it (a long list of unit codes is kept whole)."""
    text: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default=BroadcastStatus.DRAFT.value, max_length=16)
    total: int = 0
    progress_chat: str | None = Field(default=None, max_length=64)
    progress_message_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    confirmed_at: datetime | None = Field(default=None, sa_column=utc_column())
    finished_at: datetime | None = Field(default=None, sa_column=utc_column())


class Notice(SQLModel, table=True):
    """Ledger of stage notices queued: each (program, unit, period, stage) reaches a person once."""

    __table_args__ = (UniqueConstraint("program_key", "unit_id", "period", "stage", "contact_id"),)

    id: int | None = Field(default=None, primary_key=True)
    program_key: str = Field(max_length=32)
    unit_id: int = Field(foreign_key="unit.id")
    period: str = Field(max_length=10)
    stage: str = Field(max_length=32)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    channel: str = Field(max_length=16)
    outbox_id: int | None = Field(default=None, foreign_key="outbox.id")
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class Checkin(SQLModel, table=True):
    """A weekly request for a fresh figure, and whether it was answered."""

    __table_args__ = (UniqueConstraint("unit_id", "program_key", "week"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    program_key: str = Field(max_length=32)
    week: str = Field(max_length=10)
    asked_at: datetime = Field(sa_column=utc_column(nullable=False))
    followup_at: datetime | None = Field(default=None, sa_column=utc_column())
    answered_at: datetime | None = Field(default=None, sa_column=utc_column())


class LetterStatus(StrEnum):
    """Lifecycle of a warning letter."""

    DRAFT = "draft"
    APPROVED = "approved"
    SENT = "sent"
    RECEIVED = "received"
    CANCELLED = "cancelled"


class LetterSequence(SQLModel, table=True):
    """The last number issued in a year's register."""

    __tablename__ = "letter_sequence"

    year: int = Field(primary_key=True)
    last: int = 0


class LetterDelivery(StrEnum):
    """How a letter reached its unit."""

    NONE = ""
    CHAT = "chat"
    """Sent through the outbox to the unit's kepala/operator/camat."""
    HAND = "tangan"
    """Handed over on paper; an approver recorded it with /teguran diantar."""


class Letter(SQLModel, table=True):
    """A warning letter (surat teguran) in the register: a numbered letter, or a draft that gets its number on approval.

    One letter may cover several programs of one unit (`LetterItem`); `program_key` and `period` name the first.
    """

    __table_args__ = (
        UniqueConstraint("year", "seq"),
        Index("ix_letter_unit_stage", "unit_id", "stage"),
    )

    id: int | None = Field(default=None, primary_key=True)
    year: int | None = None
    seq: int | None = None
    number: str | None = Field(default=None, unique=True, max_length=100)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    program_key: str = Field(max_length=32)
    period: str = Field(max_length=10)
    stage: str = Field(max_length=16)
    status: str = Field(default=LetterStatus.DRAFT.value, max_length=16, index=True)
    pdf_id: int | None = Field(default=None, foreign_key="stored_file.id")
    docx_id: int | None = Field(default=None, foreign_key="stored_file.id")
    sha256: str = Field(default="", max_length=64)
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    letter_date: date | None = None
    """The date printed on the letter: the day it was approved and numbered."""
    new_deadline: date | None = None
    """The deadline the letter sets (letter date + `letters.new_deadline_working_days` working days)."""
    approved_by_id: int | None = Field(default=None, foreign_key="contact.id")
    approved_at: datetime | None = Field(default=None, sa_column=utc_column())
    sent_at: datetime | None = Field(default=None, sa_column=utc_column())
    delivery: str = Field(
        default=LetterDelivery.NONE.value, sa_column=Column(String(8), nullable=False, server_default="")
    )
    received_by_id: int | None = Field(default=None, foreign_key="contact.id")
    received_at: datetime | None = Field(default=None, sa_column=utc_column())
    receipt_escalated_at: datetime | None = Field(default=None, sa_column=utc_column())
    cancel_reason: str = Field(default="", sa_column=Column(String(300), nullable=False, server_default=""))
    restarted_at: datetime | None = Field(default=None, sa_column=utc_column())
    """Set when an admin restarted the ladder after this (cancelled) letter: the stage may be drafted again."""
    restarted_by_id: int | None = Field(default=None, foreign_key="contact.id")

    @property
    def label_number(self) -> str:
        """The agenda number, or 'rancangan #12' while the letter is a draft without one."""
        return self.number or f"rancangan #{self.id}"


class LetterItem(SQLModel, table=True):
    """One program (and period) a letter is about: a unit behind on three programs gets one letter with three items."""

    __tablename__ = "letter_item"
    __table_args__ = (
        UniqueConstraint("letter_id", "program_key", "period"),
        Index("ix_letter_item_unit", "unit_id", "program_key", "period", "stage"),
    )

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letter.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    program_key: str = Field(max_length=32)
    period: str = Field(max_length=10)
    stage: str = Field(max_length=16)
    summary: str = Field(default="", max_length=500)


class LetterEvent(SQLModel, table=True):
    """One step in a letter's status history."""

    __tablename__ = "letter_event"

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letter.id", index=True)
    at: datetime = Field(sa_column=utc_column(nullable=False))
    actor_id: int | None = Field(default=None, foreign_key="contact.id")
    status: str = Field(max_length=16)
    note: str = Field(default="", max_length=300)


class SweepLock(SQLModel, table=True):
    """One row that a sweep updates first, so sweeps never overlap (SQLite's write lock; PG uses an advisory lock)."""

    __tablename__ = "sweep_lock"

    id: int = Field(default=1, primary_key=True)
    last_run_at: datetime | None = Field(default=None, sa_column=utc_column())


class EvidenceStatus(StrEnum):
    """Where a piece of evidence (bukti dukung) stands with its verifier."""

    WAITING = "menunggu"
    ACCEPTED = "sah"
    REJECTED = "ditolak"


class Evidence(SQLModel, table=True):
    """A file a unit sent as evidence for a report (an MCP indicator, an innovation, a figure), and its verdict."""

    __table_args__ = (Index("ix_evidence_queue", "status", "uploaded_at"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    program_key: str = Field(max_length=32)
    period: str = Field(max_length=10)
    item_code: str | None = Field(default=None, max_length=32)
    file_id: int = Field(foreign_key="stored_file.id")
    filename: str = Field(max_length=200)
    mime: str = Field(max_length=100)
    size: int = 0
    sha256: str = Field(max_length=64)
    uploaded_by_id: int | None = Field(default=None, foreign_key="contact.id")
    uploaded_at: datetime = Field(sa_column=utc_column(nullable=False))
    status: str = Field(default=EvidenceStatus.WAITING.value, max_length=16)
    verifier_id: int | None = Field(default=None, foreign_key="contact.id")
    verified_at: datetime | None = Field(default=None, sa_column=utc_column())
    reason: str = Field(default="", sa_column=Column(String(500), nullable=False, server_default=""))
    reminded_at: datetime | None = Field(default=None, sa_column=utc_column())


class SatkerMap(SQLModel, table=True):
    """How a satker (work unit) named in an LKPP export maps to a Sigap unit; confirmed once by an admin."""

    __tablename__ = "satker_map"
    __table_args__ = (UniqueConstraint("satker_key"),)

    id: int | None = Field(default=None, primary_key=True)
    satker_key: str = Field(max_length=200)
    """The satker's code, or its name lower-cased with spaces collapsed."""
    satker_label: str = Field(max_length=300)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    """None: not a unit of ours (ignored on purpose)."""
    confirmed_by_id: int | None = Field(default=None, foreign_key="contact.id")
    confirmed_at: datetime | None = Field(default=None, sa_column=utc_column())


class FigureImport(SQLModel, table=True):
    """One import of figures from an export or the INAPROC API: a dated snapshot and what it changed."""

    __tablename__ = "figure_import"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    sha256: str = Field(max_length=64, index=True)
    as_of: datetime = Field(sa_column=utc_column(nullable=False))
    imported_at: datetime = Field(sa_column=utc_column(nullable=False))
    imported_by_id: int | None = Field(default=None, foreign_key="contact.id")
    rows: int = 0
    matched: int = 0
    unmatched: int = 0
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    snapshot: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    """The computed figures per unit and program (JSON), as they were at `as_of`."""
