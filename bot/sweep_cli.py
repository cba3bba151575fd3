"""`sigap sweep [--at 2026-11-23T08:00] [--dry-run]`: print the plan of a sweep and, without --dry-run, queue it."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Collection
from datetime import datetime
from typing import Any

from bot.settings import Settings
from jobs.sweep import sweep
from models.app import UserError
from models.calendar import WorkingCalendar
from models.fmt import waktu
from models.ladder import LetterHook, PlannedNotice, SweepResult, stage_label
from models.messages import CHAT_CHANNELS, Channel
from models.reach import CONSOLE_NOTE, SHORT, count_reasons, describe, hints, why_unreachable

UNREACHABLE = "tidak terjangkau"


def add_parser(sub: Any) -> None:
    """Register `sigap sweep` on the CLI's subparsers."""
    parser = sub.add_parser("sweep", help="menjalankan sapuan pengingat/eskalasi (atau melihat rencananya)")
    parser.add_argument(
        "--at",
        default=None,
        help="waktu sapuan, mis. 2026-11-23T08:00 (waktu setempat Pemda bila tanpa zona; bawaan: sekarang)",
    )
    parser.add_argument("--dry-run", action="store_true", help="hanya menampilkan rencana; tidak ada yang diantrekan")


def parse_at(text: str, calendar: WorkingCalendar) -> datetime:
    """An ISO date-time; without an offset it is local Pemda time."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"--at “{text}” bukan waktu yang sah. Contoh: --at 2026-11-23T08:00") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=calendar.zone)
    return value


def run(args: argparse.Namespace, settings: Settings, *, letter_hook: LetterHook | None = None) -> int:
    """Plan (and unless --dry-run, queue) a sweep; print the plan and a summary."""
    from bot.wiring import build_deps

    deps = build_deps(settings)
    at = parse_at(args.at, deps.calendar) if args.at else deps.clock.now()
    if letter_hook is None and not args.dry_run:
        from jobs.letters.hook import make_letter_hook

        letter_hook = make_letter_hook(deps.pemda, deps.calendar, deps.sends_on)
    result = sweep(
        deps.db, deps.pemda, deps.calendar, at, dry_run=args.dry_run, letter_hook=letter_hook, sends_on=deps.sends_on
    )
    for line in render(result, deps.calendar, deps.sends_on):
        print(line)
    return 0


def render(result: SweepResult, calendar: WorkingCalendar, sends_on: Collection[Channel] = CHAT_CHANNELS) -> list[str]:
    """The plan as a table plus a summary, in Indonesian; `sends_on`: the channels the sweep reached people on (who
    is not reachable, and why, is said against them)."""
    when = waktu(result.at, calendar.zone)
    mode = " (uji coba: tidak ada yang diantrekan)" if result.dry_run else ""
    lines = [f"Sapuan {when}{mode}"]
    if not result.working:
        local = result.at.astimezone(calendar.zone)
        reason = calendar.is_day_off(local.date())
        why = (
            f"hari libur ({reason})"
            if reason
            else (f"di luar jam kerja {calendar.work_start:%H.%M}-{calendar.work_end:%H.%M}")
        )
        lines.append(f"Bukan waktu kerja: {why}. Tidak ada yang dikirim.")
        return lines
    if not result.planned:
        lines.append("Tidak ada tahap yang jatuh tempo untuk unit yang belum memenuhi.")
        lines.extend(_waiting(result))
        return lines
    rows = [_row(p, sends_on) for p in sorted(result.planned, key=_order)]
    headers = ("Unit", "Program", "Tahap", "Penerima", "Kanal")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    widths = [min(w, 44) for w in widths]
    lines.append("  ".join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip())
    lines.extend("  ".join(c[: widths[i]].ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows)
    lines.extend(_summary(result, sends_on))
    lines.extend(_waiting(result))
    return lines


def _waiting(result: SweepResult) -> list[str]:
    """Letter stages due but held back, each with its reason ('menunggu tenggat Teguran I, 30 Desember')."""
    if not result.waiting:
        return []
    lines = ["", f"Tahap surat yang ditahan ({len(result.waiting)}):"]
    for item in sorted(result.waiting, key=lambda w: (w.unit.code, w.program_key)):
        lines.append(f"  {item.unit.code}  {item.program_key}  {stage_label(item.stage)}: {item.reason}")
    return lines


def _order(p: PlannedNotice) -> tuple[str, str, str, int]:
    return (p.unit.code, p.program.key, p.stage_key, p.contact.id or 0)


def _row(p: PlannedNotice, sends_on: Collection[Channel]) -> tuple[str, str, str, str, str]:
    if p.channel is not None:
        channel = p.channel.value
    else:
        why = why_unreachable(p.contact, sends_on)
        channel = f"{UNREACHABLE} ({SHORT[why]})" if why is not None else UNREACHABLE
    if p.already:
        channel += " (sudah diantrekan)"
    return (p.unit.code, p.program.key, p.label, f"{p.contact.name} ({p.contact.role})", channel)


def _summary(result: SweepResult, sends_on: Collection[Channel]) -> list[str]:
    planned = result.planned
    people = {p.contact.id for p in result.new}
    stages = Counter(p.label for p in {(p.unit.id, p.program.key, p.stage_key): p for p in planned}.values())
    by_stage = ", ".join(f"{n} {label}" for label, n in sorted(stages.items()))
    lines = [
        "",
        f"Ringkasan: {len(planned)} pemberitahuan untuk {len({p.contact.id for p in planned})} orang, "
        f"{len({(p.unit.id, p.program.key) for p in planned})} unit-program ({by_stage}).",
        f"Tidak terjangkau: {len(result.unreachable)} pemberitahuan"
        + (" (" + ", ".join(sorted({p.contact.name for p in result.unreachable})) + ")" if result.unreachable else "")
        + ".",
    ]
    lines.extend(_unreachable(result, sends_on))
    if result.dry_run:
        lines.append(
            f"Akan diantrekan: {len(result.new)} pemberitahuan dalam {len(people)} pesan; "
            f"{result.already} sudah diantrekan sebelumnya."
        )
    else:
        extra = f"; {result.letters} surat teguran diserahkan ke modul surat" if result.letters else ""
        lines.append(
            f"Diantrekan: {result.queued} pesan ({result.notices} pemberitahuan){extra}; "
            f"{result.already} pemberitahuan sudah diantrekan sebelumnya."
        )
        if result.checkins or result.followups:
            lines.append(f"Permintaan data: {result.checkins} unit-program ditanya, {result.followups} susulan.")
    return lines


def _unreachable(result: SweepResult, sends_on: Collection[Channel]) -> list[str]:
    """Why the people the sweep cannot reach are not reachable, and what to do about it (`models.reach`)."""
    people = {p.contact.id: p.contact for p in result.unreachable}
    counts = count_reasons(people.values(), sends_on)
    lines = [CONSOLE_NOTE] if not sends_on else []
    if counts:
        lines.append(f"Sebabnya, dari {len(people)} orang: {describe(counts)}.")
        lines.extend(hints(counts, sends_on))
    return lines
