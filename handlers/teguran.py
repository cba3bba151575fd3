"""/teguran (the letter register for admins: list, resend, approve, cancel) and /terima (receipt by the unit)."""

from __future__ import annotations

from sqlmodel import col, func, select

from handlers.base import Ctx
from jobs.letters import flow, receipts
from jobs.letters.register import STAGE_LABELS, stored
from jobs.letters.settled import settled_letters
from models.app import UserError
from models.fmt import tanggal_pendek
from models.messages import Attachment, Button, Reply
from models.tables import MAX_ID, Letter, LetterStatus, Unit

PER_STATUS = 15
USAGE = (
    "Cara pakai: /teguran (daftar surat), /teguran <id atau nomor surat> (kirim ulang PDF), "
    "/teguran setujui <id> (atau: /teguran setujui semua), /teguran batal <id> [alasan], "
    "/teguran diantar <id> (surat diantar langsung), /teguran ulang <id> (mulai ulang tangga setelah dibatalkan)"
)
ORDER = (
    LetterStatus.DRAFT.value,
    LetterStatus.APPROVED.value,
    LetterStatus.SENT.value,
    LetterStatus.RECEIVED.value,
    LetterStatus.CANCELLED.value,
)


def _plain_id(text: str) -> int | None:
    """`text` as a letter id when it is written in ASCII digits and small enough to exist."""
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def _letter_id(ctx: Ctx, words: list[str], usage: str) -> int:
    if not words or not (words[0].isascii() and words[0].isdigit()):
        raise UserError(f"Id surat belum ditulis. {usage}")
    letter_id = _plain_id(words[0])
    if letter_id is None:
        raise UserError(f"Surat dengan id {words[0]} tidak ada di register. Ketik /teguran untuk melihat daftarnya.")
    return letter_id


def _unit_code(ctx: Ctx, letter_id: int) -> str:
    """The code of the unit a letter is addressed to, for the audit (so `/jejak <unit>` finds the letter's actions)."""
    letter = ctx.session.get(Letter, letter_id)
    unit = ctx.session.get(Unit, letter.unit_id) if letter is not None else None
    return unit.code if unit is not None else ""


async def teguran(ctx: Ctx) -> list[Reply]:
    """/teguran [id | setujui <id>|semua | batal <id> [alasan] | diantar <id> | ulang <id>]: the letter register."""
    args = ctx.incoming.args
    if not args:
        return [_listing(ctx)]
    verb = args[0].lower()
    try:
        if verb in ("setujui", "setuju", "approve") and [a.lower() for a in args[1:2]] == ["semua"]:
            return [_approve_all(ctx, [a.lower() for a in args[2:]])]
        if verb in ("diantar", "antar"):
            letter_id = _letter_id(ctx, args[1:], "Contoh: /teguran diantar 12")
            text, recorded = flow.hand_deliver(ctx.session, ctx.pemda, ctx.deps.calendar, letter_id, ctx.me, ctx.now)
            if recorded:  # a repeat changes nothing, so it leaves no second row in /jejak
                ctx.audit("letter.hand_delivered", str(letter_id), unit=_unit_code(ctx, letter_id))
            return [Reply(text)]
        if verb in ("ulang", "mulaiulang"):
            letter_id = _letter_id(ctx, args[1:], "Contoh: /teguran ulang 12")
            text = flow.restart(ctx.session, ctx.pemda, letter_id, ctx.me, ctx.now)
            ctx.audit("letter.restarted", str(letter_id), unit=_unit_code(ctx, letter_id))
            return [Reply(text)]
        if verb in ("setujui", "setuju", "approve"):
            letter_id = _letter_id(ctx, args[1:], "Contoh: /teguran setujui 12")
            text = flow.approve(
                ctx.session, ctx.pemda, ctx.deps.calendar, letter_id, ctx.me, ctx.now, ctx.deps.sends_on
            )
            ctx.audit("letter.approved", str(letter_id), unit=_unit_code(ctx, letter_id))
            return [Reply(text)]
        if verb in ("batal", "batalkan", "cancel"):
            letter_id = _letter_id(ctx, args[1:], "Contoh: /teguran batal 12 data sudah dilengkapi")
            reason = " ".join(args[2:])[:200]
            text = flow.cancel(ctx.session, ctx.pemda, letter_id, ctx.me, ctx.now, reason)
            ctx.audit("letter.cancelled", str(letter_id), unit=_unit_code(ctx, letter_id), reason=reason)
            return [Reply(text)]
    except flow.Refused as exc:
        raise UserError(str(exc)) from None
    return _resend(ctx, " ".join(args))


async def terima(ctx: Ctx) -> list[Reply]:
    """/terima <id>: the unit confirms it received a warning letter."""
    hint = "Tekan tombol “Saya sudah menerima” pada pesan surat, atau ketik /terima <id>."
    letter_id = _letter_id(ctx, ctx.incoming.args, hint)
    if ctx.session.get(Letter, letter_id) is None:  # (the register's /teguran is not for units)
        raise UserError(
            f"Surat dengan id {letter_id} tidak ditemukan. Periksa id pada pesan surat teguran yang Bapak/Ibu terima, "
            "atau tekan tombol “Saya sudah menerima” pada pesan itu."
        )
    try:
        text = receipts.receive(
            ctx.session, ctx.pemda, ctx.deps.calendar, letter_id, ctx.me, ctx.now, ctx.deps.sends_on
        )
    except flow.Refused as exc:
        raise UserError(str(exc)) from None
    ctx.audit("letter.received", str(letter_id), unit=_unit_code(ctx, letter_id))
    return [Reply(text)]


def _approve_all(ctx: Ctx, rest: list[str]) -> Reply:
    """/teguran setujui semua: first ask (how many, which stages), then approve exactly the drafts that were shown."""
    if not flow.may_approve(ctx.pemda, ctx.me):
        raise flow.Refused("Mohon maaf, hanya admin yang dapat menyetujui surat teguran.")
    if rest[:1] == ["tidak"]:
        return Reply("Baik, tidak ada surat yang disetujui. Rancangan tetap menunggu di /teguran.")
    if rest[:1] == ["ya"] and len(rest) == 2 and _plain_id(rest[1]) is not None:
        upto = _plain_id(rest[1]) or 0
        text, approved = flow.approve_all(
            ctx.session, ctx.pemda, ctx.deps.calendar, upto, ctx.me, ctx.now, ctx.deps.sends_on
        )
        codes = select(Unit.code).join(Letter, col(Letter.unit_id) == col(Unit.id)).where(col(Letter.id).in_(approved))
        units = sorted(set(ctx.session.exec(codes).all())) if approved else []
        ctx.audit("letter.approved_all", "", upto=upto, count=len(approved), letters=approved, units=units)
        return Reply(text)
    count, upto, parts, by_hand = flow.drafts_summary(ctx.session, on=ctx.deps.sends_on)
    if not count:
        return Reply("Tidak ada surat yang menunggu persetujuan.")
    if not by_hand:
        where = " dan langsung dikirim ke unitnya."
    elif by_hand == count:
        where = (
            "; unitnya belum punya penerima di Sigap, jadi semua surat perlu diantar langsung lalu dicatat dengan "
            "/teguran diantar <id>."
        )
    else:
        where = (
            f"; {count - by_hand} langsung dikirim ke unitnya lewat Sigap, {by_hand} perlu diantar langsung karena "
            "unitnya belum punya penerima di Sigap."
        )
    return Reply(
        f"Setujui {count} surat ({parts})? Setiap surat diberi nomor agenda{where}",
        buttons=(
            Button("Ya, setujui", f"/teguran setujui semua ya {upto}"),
            Button("Tidak", "/teguran setujui semua tidak"),
        ),
    )


def _find(ctx: Ctx, text: str) -> Letter:
    wanted = text.strip()
    letter = ctx.session.exec(select(Letter).where(func.lower(col(Letter.number)) == wanted.lower())).first()
    letter_id = _plain_id(wanted)
    if letter is None and letter_id is not None:
        letter = ctx.session.get(Letter, letter_id)
    if letter is None:
        raise UserError(f"Surat “{wanted}” tidak ada di register. Ketik /teguran untuk melihat nomornya.\n{USAGE}")
    return letter


def _resend(ctx: Ctx, text: str) -> list[Reply]:
    letter = _find(ctx, text)
    unit = ctx.session.get(Unit, letter.unit_id)
    pdf = stored(ctx.session, letter.pdf_id)
    replies = [
        Reply(
            f"{flow.stage_label(letter)} {letter.label_number} untuk {unit.name if unit else letter.unit_id} "
            f"({flow.STATUS_WORDS[letter.status]}). SHA-256: {letter.sha256[:16]}…",
            attachment=Attachment(pdf.filename, pdf.content, "document", pdf.mime),
        )
    ]
    if letter.docx_id is not None:
        docx = stored(ctx.session, letter.docx_id)
        replies.append(
            Reply(
                "Versi DOCX untuk ditandatangani di aplikasi persuratan (SRIKANDI).",
                attachment=Attachment(docx.filename, docx.content, "document", docx.mime),
            )
        )
    return replies


def _listing(ctx: Ctx) -> Reply:
    """The register by status: how many, and the newest `PER_STATUS` of each (a big Pemda may have thousands)."""
    session = ctx.session
    counts: dict[str, int] = dict(session.exec(select(Letter.status, func.count()).group_by(col(Letter.status))).all())
    if not counts:
        return Reply("Register surat teguran masih kosong. Surat dirancang otomatis pada tahap teguran.")
    newest = (col(Letter.year).desc(), col(Letter.seq).desc(), col(Letter.id).desc())
    lines = [f"Register surat teguran ({sum(counts.values())} surat):"]
    approver = flow.may_approve(ctx.pemda, ctx.me)
    for status in ORDER:
        if not counts.get(status):
            continue
        group = list(
            session.exec(select(Letter).where(Letter.status == status).order_by(*newest).limit(PER_STATUS)).all()
        )
        wanted = {letter.unit_id for letter in group}
        units = {u.id: u for u in session.exec(select(Unit).where(col(Unit.id).in_(wanted))).all()}
        undelivered = status in (LetterStatus.DRAFT.value, LetterStatus.APPROVED.value)
        done = settled_letters(session, ctx.pemda, ctx.deps.calendar, group, ctx.today) if undelivered else {}
        reached = flow.reachable_units(session, wanted, ctx.deps.sends_on) if undelivered else set()
        lines.append("")
        lines.append(f"{flow.STATUS_WORDS[status].capitalize()} ({counts[status]}):")
        for letter in group:
            unit = units.get(letter.unit_id)
            flag = ""
            if letter.id in done:  # nothing left to deliver: say so rather than send someone out with it
                how = f"; batalkan dengan /teguran batal {letter.id}" if approver else ""
                flag = f" · ✅ {done[letter.id]}{how}"
            elif undelivered and letter.unit_id not in reached:
                flag = f" · ⚠️ tanpa penerima di Sigap: antar langsung, lalu /teguran diantar {letter.id}"
            stage = STAGE_LABELS.get(letter.stage, letter.stage)
            lines.append(
                f"• [{letter.id}] {stage} {letter.label_number} · {unit.code if unit else letter.unit_id} · "
                f"{flow.perihal(ctx.pemda, ctx.session, letter)} · "
                f"{tanggal_pendek(letter.letter_date or ctx.deps.calendar.local_date(letter.created_at))}{flag}"
            )
        if counts[status] > PER_STATUS:
            lines.append(f"  … dan {counts[status] - PER_STATUS} lainnya (lengkapnya: sigap letters export).")
    lines.append("")
    if approver:
        lines.append(
            "PDF: /teguran <id>. Setujui: /teguran setujui <id> (semua rancangan: /teguran setujui semua). "
            "Batalkan: /teguran batal <id> [alasan]. Diantar langsung: /teguran diantar <id>. "
            "Mulai ulang tangga setelah dibatalkan: /teguran ulang <id>."
        )
    else:
        lines.append("PDF dan DOCX sebuah surat: /teguran <id>.")
    return Reply("\n".join(lines))
