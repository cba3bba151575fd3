"""/jejak: who did what, when and from where — the audit log read back, for admins and pimpinan.

Newest first, `PAGE` entries a page, for the whole Pemda or one unit (`/jejak dinkes`): an entry is about a unit when
it names the unit as its target or in its details (a withdrawn report, a move between units). Each action is said in
Indonesian with what it was about; an action this table does not know is shown by its code, never left out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select

from handlers.base import Command, Ctx, find_unit, page_number
from handlers.riwayat import CHANNEL_WORDS
from models.app import UserError
from models.fmt import angka, periode, tanggal, zone_abbr
from models.messages import Button, Reply
from models.tables import ROLE_LABELS, AuditLog, Contact, Role

PAGE = 20
"""Entries a page (a page fits one chat message)."""
LINE = 220
"""Characters of one entry at most (a long reason is cut)."""
CHANNELS = {**CHANNEL_WORDS, "web": "dasbor web", "cli": "server"}
"""Where an action was done, as /riwayat names a report's channel, and the dashboard and the command line."""
ROLE_WORDS = {role.value: label for role, label in ROLE_LABELS.items()}

Detail = dict[str, Any]


def _with(text: str, value: Any) -> str:
    return f"{text}: {value}" if value not in (None, "") else text


def _program(d: Detail) -> str:
    parts = [str(d.get(key)) for key in ("program", "item", "status") if d.get(key) not in (None, "")]
    value = d.get("value")
    if isinstance(value, int | float):
        parts.append(angka(float(value)))
    return " ".join(parts)


def _day(target: str) -> str:
    try:
        return tanggal(date.fromisoformat(target))
    except ValueError:
        return target


SAID: dict[str, Callable[[str, Detail], str]] = {
    "report.created": lambda t, d: f"laporan dicatat: {t} {_program(d)}",
    "report.withdrawn": lambda t, d: _with(
        f"laporan #{t} ditarik ({d.get('unit', '')} {d.get('program', '')})", d.get("reason")
    ),
    "report.moved": lambda t, d: f"laporan #{d.get('report')} {t} dipindah ke {periode(str(d.get('period_to', '')))}",
    "evidence.uploaded": lambda t, d: f"bukti dukung #{d.get('evidence')} dikirim: {t} {_program(d)}",
    "evidence.accepted": lambda t, d: f"bukti dukung #{t} dinyatakan sah ({_program(d)})",
    "evidence.rejected": lambda t, d: _with(f"bukti dukung #{t} ditolak ({_program(d)})", d.get("reason")),
    "invite.created": lambda t, d: f"kode undangan dibuat: {t} {d.get('role', '')}",
    "invite.renewed": lambda t, d: f"kode undangan diperbarui: {t} {d.get('role', '')}",
    "contact.bound": lambda t, d: f"mendaftar sebagai {d.get('role', '')} {t}",
    "contact.moved": lambda t, d: (
        f"{d.get('name', '')} pindah: {d.get('from_role', '')} {d.get('from_unit') or '-'} → {d.get('to_role', '')} {t}"
    ),
    "contact.replaced": lambda t, d: f"{d.get('name', '')} ({d.get('role', '')} {t}) digantikan dan dinonaktifkan",
    "roster.terapkan": lambda t, d: f"roster {t} diterapkan",
    "angka.terapkan": lambda t, d: f"angka LKPP {t} diterapkan",
    "angka.petakan": lambda t, d: (
        f"satker “{t}” dipetakan ke {d['unit']}" if d.get("unit") else f"satker “{t}” ditandai bukan milik Pemda"
    ),
    "libur.tambah": lambda t, d: _with(f"hari libur ditambah {_day(t)}", d.get("reason")),
    "libur.ubah": lambda t, d: f"alasan hari libur {_day(t)} diubah: {d.get('previous', '')} → {d.get('reason', '')}",
    "libur.hapus": lambda t, d: _with(f"hari libur dihapus {_day(t)}", d.get("reason")),
    "pause.proses": lambda t, d: f"sedang diproses: {t} {d.get('program', '')} sampai {_day(str(d.get('until', '')))}",
    "pause.dispensasi": lambda t, d: _with(f"dispensasi: {t} {d.get('program', '')}", d.get("reason")),
    "pause.dispensasi_cabut": lambda t, d: f"dispensasi dicabut: {t} {d.get('program', '')}",
    "broadcast.draft": lambda t, d: f"draf siaran #{t} ke {d.get('audience', '')} ({d.get('recipients', 0)} orang)",
    "broadcast.sent": lambda t, d: f"siaran #{t} dikirim ke {d.get('recipients', 0)} orang",
    "broadcast.cancelled": lambda t, d: f"siaran #{t} dibatalkan",
    "letter.approved": lambda t, d: f"surat teguran #{t} disetujui",
    "letter.approved_all": lambda t, d: (
        f"{d['count']} surat teguran yang menunggu disetujui ({', '.join(d.get('units', []))})"
        if d.get("count")
        else "semua surat teguran yang menunggu disetujui"
    ),
    "letter.cancelled": lambda t, d: _with(f"surat teguran #{t} dibatalkan", d.get("reason")),
    "letter.hand_delivered": lambda t, d: f"surat teguran #{t} dicatat diantar langsung",
    "letter.received": lambda t, d: f"surat teguran #{t} dikonfirmasi diterima",
    "letter.restarted": lambda t, d: f"tangga teguran surat #{t} dimulai ulang",
    "status.export": lambda t, d: f"ekspor status ({t})",
    "outbox.retried": lambda t, d: (
        f"{d.get('pesan', 0)} pesan mati dikirim ulang (sejak {d.get('hari', '?')} hari terakhir)"
    ),
    "dasbor_tautan": lambda t, d: "tautan masuk dasbor dibuat",
    "dasbor_masuk": lambda t, d: "masuk ke dasbor web",
    "dasbor_keluar": lambda t, d: "keluar dari dasbor web",
    "dasbor_tautan_ditolak": lambda t, d: _with("tautan dasbor ditolak", d.get("alasan")),
    "dasbor_sesi_diakhiri": lambda t, d: _with("sesi dasbor diakhiri", d.get("alasan")),
}
"""Each action in words, from its target and details."""


def said(action: str, target: str, detail: str) -> str:
    """One action in Indonesian; an unknown one by its code and target."""
    try:
        loaded = json.loads(detail) if detail else {}
    except ValueError:
        loaded = {}
    details: Detail = loaded if isinstance(loaded, dict) else {}
    words = SAID.get(action)
    if words is None:
        return " ".join(part for part in (action, target) if part)
    try:
        return " ".join(words(target, details).split())
    except (KeyError, TypeError, ValueError):
        return " ".join(part for part in (action, target) if part)


def _page_and_unit(args: list[str]) -> tuple[int, str]:
    words = list(args)
    page = page_number(words[-1]) if words else None
    if page is not None:
        words.pop()
    return page or 1, " ".join(words)


async def jejak(ctx: Ctx) -> list[Reply]:
    """/jejak [unit] [halaman]: the audit log, newest first."""
    page, asked = _page_and_unit(ctx.incoming.args)
    query = select(AuditLog, Contact).join(Contact, col(AuditLog.actor_id) == col(Contact.id), isouter=True)
    scope = ctx.pemda.pemda.short_name
    suffix = ""
    if asked:
        unit = find_unit(ctx.session, asked)
        query = query.where(
            or_(
                col(AuditLog.target) == unit.code,
                col(AuditLog.detail).contains(f'unit": "{unit.code}"'),
                col(AuditLog.detail).like(f'%"units": [%"{unit.code}"%'),  # one entry about many units
            )
        )
        scope, suffix = f"{unit.name} ({unit.code})", f" {unit.code.lower()}"
    rows = ctx.session.exec(query.order_by(col(AuditLog.id).desc()).offset((page - 1) * PAGE).limit(PAGE + 1)).all()
    if not rows:
        if page > 1:
            raise UserError(f"Jejak {scope} tidak sampai halaman {page}. Ketik /jejak{suffix} untuk yang terbaru.")
        return [Reply(f"Belum ada yang tercatat di jejak {scope}.")]
    zone = ctx.deps.calendar.zone
    lines = [f"Jejak {scope}, terbaru di atas (halaman {page}):"]
    for entry, actor in rows[:PAGE]:
        at = entry.at.astimezone(zone).strftime("%d/%m %H.%M")
        where = CHANNELS.get(entry.channel, entry.channel)
        who = f"{actor.name} ({ROLE_WORDS.get(actor.role, actor.role)}, {where})" if actor else f"sistem ({where})"
        line = f"{at} · {who} · {said(entry.action, entry.target, entry.detail)}"
        lines.append(line if len(line) <= LINE else line[: LINE - 1] + "…")
    buttons: list[Button] = []
    if page > 1:
        buttons.append(Button("◀ Lebih baru", f"/jejak{suffix} {page - 1}"))
    if len(rows) > PAGE:
        buttons.append(Button("Lebih lama ▶", f"/jejak{suffix} {page + 1}"))
    lines.append(f"Waktu dalam {zone_abbr(zone)}. Satu unit saja: /jejak <unit>, mis. /jejak dinkes.")
    return [Reply("\n".join(lines), tuple(buttons))]


JEJAK = Command(
    "jejak",
    jejak,
    "jejak kegiatan: siapa melakukan apa, kapan, lewat apa",
    "/jejak [unit] [halaman]",
    frozenset({Role.ADMIN, Role.PIMPINAN}),
)
