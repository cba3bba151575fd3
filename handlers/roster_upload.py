"""The roster by chat: an admin sends the .xlsx/.csv file, sees what it would change, taps Terapkan or Batal.

Sent with the caption "nonaktifkan", units and contacts missing from the file are deactivated too (like --prune).
The file is fetched through the channel's `FileSource` (`Deps.files`) and read at once; its rows wait in the chat
state (flow "roster") with the fingerprint of the plan that was shown. "Terapkan" sends `/roster terapkan
<fingerprint>`: the rows are planned again against the database as it is now and applied only when that plan is
still the one shown; otherwise the new preview is shown instead. "Batal" (`/roster batal`) drops the upload.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from handlers.base import Command, Ctx, fetch_file, load_state_data
from models.app import UserError
from models.messages import Button, Reply
from models.roster import RosterError, Rows, apply_plan, plan_roster, read_bytes
from models.tables import Role

FLOW = "roster"
SUFFIXES = (".xlsx", ".csv")
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
PREVIEW_LINES = 20
"""At most this many people (or units) shown per kind of change; the counts are always complete."""
MAX_PROBLEMS = 20
ONLY_ADMINS = (
    "Mohon maaf, roster unit dan kontak hanya dapat diubah oleh admin Sigap. "
    "Bila ada data yang perlu diperbaiki, silakan sampaikan kepada admin."
)
WRONG_TYPE = "Berkas roster harus .xlsx atau .csv. Silakan simpan dalam salah satu bentuk itu, lalu kirim lagi."
HOW_TO = (
    "Untuk memperbarui roster, kirim berkas .xlsx atau .csv (kolom unit_code, unit_name, unit_kind, parent_code, "
    "aliases, contact_name, role, phone, telegram_id, nip, jabatan) ke percakapan ini. Sigap menampilkan pratinjaunya "
    "dulu; tidak ada yang disimpan sebelum Bapak/Ibu mengetuk Terapkan."
)
STALE = (
    "Pratinjau itu sudah tidak berlaku (data atau berkasnya berubah), jadi belum ada yang disimpan. "
    "Pratinjau terbaru:\n"
)
PRUNE_WORD = "nonaktifkan"
PRUNE_HOW = f"keterangan “{PRUNE_WORD}” saat mengirim berkasnya"


@dataclass(frozen=True)
class Upload:
    """A roster file read and waiting for Terapkan / Batal."""

    name: str
    rows: Rows
    prune: bool = False


def is_spreadsheet(name: str | None) -> bool:
    """Whether a file name is one the roster accepts."""
    return Path(name or "").suffix.lower() in SUFFIXES


async def upload(ctx: Ctx) -> list[Reply]:
    """A file arrived: fetch, read and check it, and show what it would change with Terapkan / Batal."""
    incoming = ctx.incoming
    if ctx.role is not Role.ADMIN:
        raise UserError(ONLY_ADMINS)
    name = Path(incoming.document_name or "").name or "roster"
    if not is_spreadsheet(name):
        raise UserError(WRONG_TYPE)
    content = await fetch_file(
        ctx,
        incoming.document_ref,
        MAX_BYTES,
        too_large="Berkas roster terlalu besar (lebih dari 5 MB). "
        "Hapus lembar atau kolom yang tidak perlu, lalu kirim lagi.",
    )
    try:
        rows = read_bytes(name, content)
    except RosterError as exc:
        return [_problems(name, exc)]
    if len(rows) > MAX_ROWS:
        raise UserError(f"Berkas roster berisi {len(rows)} baris; paling banyak {MAX_ROWS}. Mohon bagi berkasnya.")
    return _preview(ctx, Upload(name, rows, prune=PRUNE_WORD in incoming.text.lower().split()))


async def roster(ctx: Ctx) -> list[Reply]:
    """/roster [terapkan <kode> | batal]: apply or drop the upload waiting for a decision; bare, how to upload."""
    args = ctx.incoming.args
    action = args[0].lower() if args else ""
    pending = _pending(ctx)
    if action == "batal":
        if pending is None:
            return [Reply("Tidak ada roster yang menunggu. Tidak ada yang berubah.")]
        ctx.clear_state()
        return [Reply("Baik, roster tidak diterapkan. Tidak ada yang berubah.")]
    if pending is None:
        if action == "terapkan":
            raise UserError(
                "Tidak ada roster yang menunggu untuk diterapkan. "
                "Kirim berkas roster (.xlsx atau .csv) ke sini untuk melihat pratinjaunya."
            )
        return [Reply(HOW_TO)]
    if action != "terapkan":
        return _preview(ctx, pending)
    shown = args[1] if len(args) > 1 else ""
    try:
        plan = plan_roster(ctx.session, pending.rows, prune=pending.prune)
    except RosterError as exc:
        ctx.clear_state()
        return [_problems(pending.name, exc)]
    if not plan.changed or plan.fingerprint != shown:
        return _preview(ctx, pending, intro=STALE)
    result = apply_plan(ctx.session, plan)
    ctx.audit("roster.terapkan", pending.name, **plan.audit_counts())
    ctx.clear_state()
    return [Reply(f"Roster {pending.name} sudah diterapkan. {result.summary()}")]


ROSTER = Command(
    "roster",
    roster,
    "memperbarui roster unit dan kontak: kirim berkas .xlsx/.csv, periksa pratinjau, lalu terapkan",
    "/roster",
    frozenset({Role.ADMIN}),
)
"""The /roster command (the Terapkan / Batal buttons send it), listed in `handlers.commands`."""


def _preview(ctx: Ctx, upload: Upload, *, intro: str = "") -> list[Reply]:
    try:
        plan = plan_roster(ctx.session, upload.rows, prune=upload.prune)
    except RosterError as exc:
        return _drop(ctx, _problems(upload.name, exc))
    if not plan.changed:
        summary = plan.describe(PREVIEW_LINES, prune_option=PRUNE_HOW)
        text = f"{intro}Roster {upload.name}: {summary}\nTidak ada yang perlu diterapkan."
        return _drop(ctx, Reply(text))
    if any(c.contact_id == ctx.me.id for c in plan.contacts_deactivated):
        return _drop(
            ctx,
            Reply(
                f"Roster {upload.name} akan menonaktifkan akun Bapak/Ibu sendiri, jadi tidak diterapkan. "
                "Tambahkan baris Bapak/Ibu ke berkas, lalu kirim lagi."
            ),
        )
    ctx.set_state(FLOW, name=upload.name, rows=upload.rows, prune=upload.prune)
    text = (
        f"{intro}Pratinjau roster {upload.name} (belum ada yang disimpan):\n"
        f"{plan.describe(PREVIEW_LINES, prune_option=PRUNE_HOW)}\n\n"
        "Ketuk Terapkan untuk menyimpan perubahan ini, atau Batal."
    )
    buttons = (Button("Terapkan", f"/roster terapkan {plan.fingerprint}"), Button("Batal", "/roster batal"))
    return [Reply(text, buttons)]


def _drop(ctx: Ctx, reply: Reply) -> list[Reply]:
    """Close a waiting upload (if any) and answer `reply`."""
    if _pending(ctx) is not None:
        ctx.clear_state()
    return [reply]


def _pending(ctx: Ctx) -> Upload | None:
    """The upload waiting for Terapkan / Batal."""
    state = ctx.get_state()
    if state is None or state.flow != FLOW:
        return None
    data = load_state_data(state)
    raw = data.get("rows")
    if not isinstance(raw, list):
        return None
    rows: Rows = []
    for item in raw:
        if isinstance(item, list) and len(item) == 2 and isinstance(item[0], int) and isinstance(item[1], dict):
            rows.append((item[0], {str(k): str(v) for k, v in item[1].items()}))
    return Upload(str(data.get("name") or "roster"), rows, prune=data.get("prune") is True)


def _problems(name: str, error: RosterError) -> Reply:
    shown = error.problems[:MAX_PROBLEMS]
    lines = [f"Roster {name} belum dapat dipakai; tidak ada yang disimpan. Mohon perbaiki dulu:"]
    lines += [f"- {problem}" for problem in shown]
    if len(error.problems) > len(shown):
        lines.append(f"- … dan {len(error.problems) - len(shown)} masalah lain")
    lines.append("Setelah diperbaiki, kirim lagi berkasnya.")
    return Reply("\n".join(lines))


