"""Figures from LKPP's INAPROC API: fetch the Pemda's packages of the year, plan, apply, and tell the admins.

The API is behind `FiguresFeed` (`bot.inaproc` implements it with httpx), so this module never sees HTTP. Every
dataset is fetched before anything is written: a refused token (`FeedRefused`) or an API that keeps failing
(`FeedFailed`) leaves the database as it was. The e-purchasing packages give katalog (and P3DN when the Pemda file
computes it from realised spend); the RUP packages give P3DN when it is computed from planned spend. Applied daily
by the scheduler (`notify=True`): the admins hear what changed, once per import, and which satkers nobody has mapped
yet, once per such list; a refused token is told to them once a day.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Literal, Protocol

from sqlmodel import Session, col, select

from jobs import templates
from models.app import Deps
from models.figure_plan import MapHint, apply_figures, chat_hint, cli_hint, plan_figures
from models.figure_read import ExportError, json_records, read_export
from models.outbox import OutMessage, choose_channel, insert_rows, outbox_row
from models.pemda import PemdaConfig
from models.tables import Contact, Role

log = logging.getLogger(__name__)

Dataset = Literal["epurchasing", "rup"]
SOURCE = "INAPROC"
REFUSED = "token ditolak: minta peran Data Integrator ke LKPP"
"""What a 401 or 403 from the API means for the people running Sigap."""
NOTICE_LINES = 10


class FeedRefused(Exception):
    """The API refused the token (401, 403); nothing was written."""


class FeedFailed(Exception):
    """The API could not be read (it kept failing, or answered something else than its envelope); nothing was
    written. The message says what happened, in Indonesian."""


class FiguresFeed(Protocol):
    """Where the Pemda's packages come from: every row of one dataset for a Pemda (`kode_klpd`) and a year."""

    async def fetch(self, dataset: Dataset, kode_klpd: str, tahun: int) -> list[dict[str, object]]:
        """All rows, every page read; `FeedRefused` for a refused token, `FeedFailed` when it cannot be read."""
        ...


def datasets(pemda: PemdaConfig) -> list[Dataset]:
    """The datasets the Pemda's figures come from: e-purchasing always (katalog), RUP for planned P3DN."""
    return ["epurchasing"] if pemda.figures.p3dn_spend == "realisasi" else ["epurchasing", "rup"]


async def sync_figures(deps: Deps, feed: FiguresFeed, *, apply: bool = True, notify: bool = False) -> str:
    """Fetch, plan and (with `apply`) write the year's figures; the preview or what changed, for the CLI.

    With `notify` (the daily job) the admins are told what changed and which satkers to map, through the outbox.
    """
    pemda = deps.pemda
    kode = pemda.figures.kode_klpd.strip()
    if not kode:
        raise FeedFailed(
            "Kode KLPD Pemda belum diisi: tambahkan kode_klpd di bagian [figures] berkas Pemda (mis. kode_klpd = "
            '"D123"), lalu coba lagi.'
        )
    now = deps.clock.now()
    tahun = deps.calendar.local_date(now).year
    fetched: dict[Dataset, list[dict[str, object]]] = {}
    try:
        for dataset in datasets(pemda):
            fetched[dataset] = await feed.fetch(dataset, kode, tahun)
    except FeedRefused:
        if notify:
            await asyncio.to_thread(queue_refused, deps)
        raise
    return await asyncio.to_thread(_write, deps, fetched, f"{kode} tahun {tahun}", apply, notify)


def _write(deps: Deps, fetched: dict[Dataset, list[dict[str, object]]], scope: str, apply: bool, notify: bool) -> str:
    now = deps.clock.now()
    figures = deps.pemda.figures
    texts: list[str] = []
    exports = {}
    for dataset, rows in fetched.items():
        if not rows:
            texts.append(f"{SOURCE}: belum ada paket {dataset} untuk {scope}; tidak ada yang diubah.")
            continue
        try:
            exports[dataset] = read_export(json_records(rows), figures.fields, figures.kode_klpd.strip())
        except ExportError as exc:
            problems = "; ".join(str(p) for p in exc.problems[:5])
            raise FeedFailed(
                f"Data {dataset} dari INAPROC tidak dapat dipakai; tidak ada yang diubah. {problems}"
            ) from None
    hint: MapHint = chat_hint if notify else cli_hint
    with deps.db.uow() as uow:
        for dataset, export in exports.items():
            source = f"{SOURCE} {dataset}"
            plan = plan_figures(uow.session, deps.pemda, export, source=source, as_of=now, zone=deps.calendar.zone)
            if not apply:
                texts.append(plan.describe(hint))
                continue
            record = apply_figures(uow.session, plan, now)
            texts.append(plan.outcome(record, hint))
            if notify and record is not None:
                text = plan.outcome(record, chat_hint, NOTICE_LINES, unmatched=False)
                _tell_admins(deps, uow.session, f"impor:{record.id}", text)
            if notify and plan.unmatched:  # the same satkers unmapped are told once, however often they come back
                keys = ",".join(sorted(u.key for u in plan.unmatched))
                digest = hashlib.sha256(keys.encode()).hexdigest()[:16]
                _tell_admins(deps, uow.session, f"satker:{digest}", plan.unmatched_text(chat_hint, NOTICE_LINES))
        if apply:
            uow.commit()
    return "\n\n".join(texts)


def queue_refused(deps: Deps) -> int:
    """Tell every admin, once a day, that the API refused the token; returns how many were told."""
    text = (
        f"Impor angka dari INAPROC gagal: {REFUSED}, lalu ganti INAPROC_TOKEN dan jalankan ulang Sigap. "
        "Tidak ada angka yang diubah."
    )
    day = deps.calendar.local_date(deps.clock.now()).isoformat()
    with deps.db.uow() as uow:
        told = _tell_admins(deps, uow.session, f"ditolak:{day}", text)
        uow.commit()
    return told


def _tell_admins(deps: Deps, session: Session, event: str, text: str) -> int:
    """Queue `text` to every active admin on their channel; the same `event` reaches each admin once."""
    now = deps.clock.now()
    admins = session.exec(select(Contact).where(Contact.role == Role.ADMIN.value, col(Contact.active).is_(True))).all()
    rows = []
    for admin in admins:
        channel = choose_channel(admin, on=deps.sends_on)
        if channel is None:
            continue
        message = OutMessage(text=text, kind="alert", template=templates.broadcast(deps.pemda, text))
        rows.append(outbox_row(f"angka:{event}:{admin.id}", admin, message, now, channel=channel))
    insert_rows(session, rows)
    return len(rows)
