"""The wording of the sweep's messages: one message per person listing everything due for them.

Reminders, warnings and check-in prompts to the people of a unit; a recap per program and stage to admins and
pimpinan. `Composer` builds them from fragments computed once per sweep (thousands of units share the same
figures and stages), and gives each a WhatsApp template for when the 24-hour window is closed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlmodel import Session

from jobs import templates
from jobs.pace import SweepPace
from models.fmt import nilai, periode, sisa_hari, tanggal, tanggal_pendek
from models.ladder import SEVERITY, ContactRef, PlannedNotice
from models.messages import Button, Channel
from models.outbox import OutMessage
from models.pemda import PemdaConfig, ProgramConfig
from models.standing import current_period
from models.tables import UNIT_ROLES

MAX_BUTTONS = 3
"""WhatsApp shows at most three reply buttons: more programs than that get no buttons."""
MAX_UNITS_LISTED = 10
"""Unit codes named in one line of an admin's recap before '... dan N unit lainnya'."""

HEADLINES = {
    "checkin": "📝 Permintaan angka terbaru",
    "followup": "📝 Permintaan angka terbaru (susulan)",
    "pengingat": "🔔 Pengingat batas waktu",
    "peringatan": "⚠️ Peringatan: batas waktu sudah lewat",
    "teguran1": "⛔ Peringatan keras: tahap Surat Teguran I",
    "teguran2": "⛔ Peringatan keras: tahap Surat Teguran II",
}
_SHORT_HEADLINES = {kind: headline.split(" ", 1)[1] for kind, headline in HEADLINES.items()}
_TEGURAN_CLOSING = (
    "Keterlambatan ini sudah sampai tahap surat teguran dan tercatat. "
    "Mohon laporan dilengkapi hari ini juga melalui /lapor.",
)
CLOSINGS: dict[str, tuple[str, ...]] = {
    "teguran1": _TEGURAN_CLOSING,
    "teguran2": _TEGURAN_CLOSING,
    "peringatan": ("Mohon segera lengkapi dan laporkan melalui /lapor agar tidak berlanjut ke surat teguran.",),
    "pengingat": (
        "Mohon lengkapi dan laporkan melalui /lapor sebelum batas waktu.",
        "Bila sedang diproses, kirim /proses <program> <tanggal>, misalnya /proses katalog 10/12/2026.",
    ),
    "checkin": ("Ketuk tombol di bawah untuk melapor, atau kirim /lapor.",),
    "followup": ("Ketuk tombol di bawah untuk melapor, atau kirim /lapor.",),
}
"""The closing lines of a unit's message, by its most severe item (the highest stage decides what to do next)."""
TEMPLATE_BUILDERS = {"checkin": templates.checkin, "followup": templates.checkin, "pengingat": templates.reminder}


def _severity_rank(notice: PlannedNotice) -> int:
    return SEVERITY[notice.severity]


def _line_order(notice: PlannedNotice) -> tuple[int, str]:
    return (-SEVERITY[notice.severity], notice.program.key)


class Composer:
    """Puts together the messages of one sweep from fragments computed once (item lines, bodies, buttons).

    Thousands of units share the same figures and stages, so most lines and bodies repeat: only the
    greeting, the unit's name and the template's parameters are made per message.
    """

    def __init__(self, pemda: PemdaConfig, today: date, session: Session | None = None) -> None:
        self.pemda = pemda
        self.today = today
        self._pace = SweepPace(session, pemda, today) if session is not None else None
        """With a session: each unit's own pace on count programs in its reminder (loaded in bulk, once)."""
        self._current = {p.key: current_period(p, today) for p in pemda.programs}
        self._lines: dict[tuple[Any, ...], str] = {}
        self._bodies: dict[tuple[Any, ...], tuple[str, str, tuple[Button, ...]]] = {}

    def prepare(self, notices: Iterable[PlannedNotice]) -> None:
        """Read now what composing `notices` reads from the database (each count program's pace base, once per
        program and period), so that `compose` never does: the sweep composes while the database is busy writing."""
        if self._pace is None:
            return
        seen: set[tuple[str, str]] = set()
        for notice in notices:
            if notice.kind == "stage" and (notice.program.key, notice.period) not in seen:
                seen.add((notice.program.key, notice.period))
                self._pace.text(notice)

    def compose(self, contact: ContactRef, channel: Channel, items: Sequence[PlannedNotice]) -> OutMessage:
        """One message for one person listing everything due for them."""
        top = (max(items, key=_severity_rank) if len(items) > 1 else items[0]).severity
        if contact.role in UNIT_ROLES:
            text, summary, buttons = self._unit_message(contact, items, top)
        else:
            text, summary, buttons = self._oversight_message(contact, items)
        # set on every channel: a Telegram row that falls back to WhatsApp may land outside the 24-hour window
        template = TEMPLATE_BUILDERS.get(top, templates.warning)(self.pemda, contact.name[:60], summary[:200])
        kind = "checkin" if top in ("checkin", "followup") else top
        return OutMessage(text=text, kind=kind, buttons=buttons, template=template)

    def _unit_message(
        self, contact: ContactRef, items: Sequence[PlannedNotice], top: str
    ) -> tuple[str, str, tuple[Button, ...]]:
        unit = items[0].unit
        ordered = sorted(items, key=_line_order) if len(items) > 1 else items
        lines = tuple([self._item_line(n) for n in ordered])
        key = (top, lines, tuple([n.program.key for n in ordered]))
        body = self._bodies.get(key)
        if body is None:
            body = self._bodies[key] = self._unit_body(ordered, lines, top)
        rest, labels, buttons = body
        text = f"Yth. Bapak/Ibu {contact.name},\n{HEADLINES[top]} — {unit.name}:\n{rest}"
        return text, f"{_SHORT_HEADLINES[top]} — {unit.name}: {labels}", buttons

    @staticmethod
    def _unit_body(
        ordered: Sequence[PlannedNotice], lines: tuple[str, ...], top: str
    ) -> tuple[str, str, tuple[Button, ...]]:
        """The item lines and closing words, the programs' labels (for the summary) and the buttons."""
        programs: dict[str, ProgramConfig] = {}
        for notice in ordered:
            programs.setdefault(notice.program.key, notice.program)
        if len(programs) == 1:
            buttons: tuple[Button, ...] = (Button("Lapor sekarang", f"/lapor {next(iter(programs))}"),)
        elif len(programs) <= MAX_BUTTONS:
            buttons = tuple(Button(f"Lapor {key}", f"/lapor {key}") for key in programs)
        else:
            buttons = ()
        labels = ", ".join(p.label for p in programs.values())
        closing = CLOSINGS[top]
        if top == "pengingat":  # the example names a program of the message and its own deadline, never a past date
            first = ordered[0]
            example = f"/proses {first.program.key} {first.standing.deadline:%d/%m/%Y}"
            closing = (closing[0], f"Bila sedang diproses, kirim /proses <program> <tanggal>, misalnya {example}.")
        return "\n".join((*lines, *closing)), labels, buttons

    def _program_label(self, notice: PlannedNotice) -> str:
        """The program's label, with the period named when it is not the current one."""
        label = notice.program.label
        if notice.period != self._current.get(notice.program.key, notice.period):
            label = f"{label} {periode(notice.period)}"
        return label

    def _item_line(self, notice: PlannedNotice) -> str:
        """One bullet of a unit's message; computed once per program, stage and figure in a sweep."""
        standing = notice.standing
        kind = notice.kind
        last: date | None = None
        pace = self._pace.text(notice) if self._pace is not None and kind == "stage" else ""
        if kind == "stage":
            key: tuple[Any, ...] = (
                kind,
                notice.program.key,
                notice.period,
                notice.stage_key,
                standing.value,
                standing.target,
                standing.open_items,
                pace,
            )
        elif kind == "checkin":
            last = standing.last_report_at.date() if standing.last_report_at is not None else None
            key = (kind, notice.program.key, standing.value, standing.target, standing.open_items, last)
        else:
            key = (kind, notice.program.key)
        line = self._lines.get(key)
        if line is not None:
            return line
        today = self.today
        if kind == "checkin":
            when = f"laporan terakhir {tanggal_pendek(last)}" if last else "belum pernah melapor"
            line = f"• {notice.program.label}: mohon kirim angka terbaru ({when}; {nilai(standing)})."
        elif kind == "followup":
            line = f"• {notice.program.label}: permintaan angka terbaru hari ini belum dijawab."
        else:
            deadline = f"batas {tanggal_pendek(standing.deadline)}, {sisa_hari(standing.deadline, today)}"
            deadline += f"; {pace}" if pace else ""
            line = f"• {self._program_label(notice)} ({notice.label}): {nilai(standing)}; {deadline}."
        self._lines[key] = line
        return line

    def _oversight_message(
        self, contact: ContactRef, items: Sequence[PlannedNotice]
    ) -> tuple[str, str, tuple[Button, ...]]:
        groups: dict[tuple[str, str, str], list[PlannedNotice]] = defaultdict(list)
        for notice in items:
            groups[(notice.program.key, notice.period, notice.stage_key)].append(notice)
        today = self.today
        lines = [f"Yth. Bapak/Ibu {contact.name},", f"Rekap tindak lanjut Sigap, {tanggal(today)}:"]
        summary: list[str] = []
        ordered = sorted(groups.values(), key=lambda g: (-SEVERITY[g[0].severity], g[0].program.key))
        for group in ordered:
            first = group[0]
            codes = sorted(n.unit.code for n in group)
            late = first.standing.deadline < today
            head = f"{len(codes)} unit {'terlambat' if late else 'belum memenuhi'} {self._program_label(first)}"
            shown = ", ".join(codes[:MAX_UNITS_LISTED])
            if len(codes) > MAX_UNITS_LISTED:
                shown += f" dan {len(codes) - MAX_UNITS_LISTED} unit lainnya"
            lines.append(f"• {head} ({first.label}): {shown}.")
            summary.append(head)
        lines.append("Rincian setiap unit: /rekap.")
        return "\n".join(lines), "; ".join(summary), (Button("Lihat rekap", "/rekap"),)
