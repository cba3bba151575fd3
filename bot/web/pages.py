"""The dashboard's pages: overview, program tables, unit pages, letters, verification, export, and their files.

Mounted under /dasbor by `bot.web.dashboard` (with its guard: security headers, error pages, the app's `Deps` in
`request.app.state.deps`). Each route is thin: it reads the form (CSRF-checked) on the event loop, then runs a plain
function in the threadpool that checks the person (`viewer_of`/`require`), opens one unit of work, calls the page's
data function (`pages_overview`, `pages_unit`, `pages_work`) and renders the template.

    GET  /                          overview: each program's figure, trend chart, pace, counts
    GET  /program/{key}             league table with filters (jenis, kecamatan, status) and pages
    GET  /unit/{code}               a unit: standing, reports with evidence, letters, pauses, contacts (else 404)
    GET  /grafik/{key}.png          a program's trend chart (kept a minute per scope)
    GET  /bukti/{id}                an evidence file (its unit's viewers and its verifiers; else 404)
    GET  /surat                     the letter register (admin, pimpinan; a camat the kecamatan's)
    GET  /surat/{id}.pdf|.docx      a letter's files (whoever may see the letter; else 404)
    POST /surat/{id}/setujui|batal|diantar  approve or cancel a draft, record a hand delivery (approvers)
    GET  /verifikasi                the verification queue (verifiers, admins)
    POST /verifikasi/{id}           Sah / Tolak with a reason
    GET  /ekspor.xlsx               the status workbook (admin, pimpinan)
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.web.auth import Forbidden, deps_of, require, signed_in, viewer_of
from bot.web.pages_common import Scope, scope_of, today_of
from bot.web.pages_overview import chart_png, league_table, overview
from bot.web.pages_unit import Download, evidence_file, letter_file, unit_page
from bot.web.pages_work import TAKEN, act_on_letter, export, queue, register, verdict
from bot.web.render import render
from bot.web.security import checked_form
from jobs.letters import flow
from models.app import Deps
from models.status_book import XLSX_MIME
from models.tables import Role

CHART_SECONDS = 60.0
"""How long a drawn chart is served again for the same scope and program (drawing takes a fraction of a second)."""
CHART_KEEP = 64
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._()-]")
NOT_VERIFIER = (
    "Bapak/Ibu tidak ditunjuk sebagai verifikator bukti dukung. Verifikator setiap program diatur dalam berkas "
    "Pemda; bila perlu, hubungi admin Sigap."
)


@dataclass
class ChartCache:
    """Charts drawn lately, by (scope, program, day), each kept `CHART_SECONDS` on the app's monotonic clock."""

    kept: dict[tuple[str, str, str], tuple[float, bytes]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: tuple[str, str, str], now: float) -> bytes | None:
        """The chart under `key` if it is still fresh."""
        with self.lock:
            found = self.kept.get(key)
        return found[1] if found is not None and now - found[0] < CHART_SECONDS else None

    def put(self, key: tuple[str, str, str], now: float, png: bytes) -> None:
        """Keep a chart (the oldest make room)."""
        with self.lock:
            if len(self.kept) >= CHART_KEEP:
                for old in sorted(self.kept, key=lambda k: self.kept[k][0])[: CHART_KEEP // 2]:
                    del self.kept[old]
            self.kept[key] = (now, png)


def _cache(request: Request) -> ChartCache:
    state = request.app.state
    cache = getattr(state, "sigap_charts", None)
    if not isinstance(cache, ChartCache):
        cache = ChartCache()
        state.sigap_charts = cache
    return cache


def _with_scope(request: Request, work: Callable[[Session, Deps, Scope], Response], *roles: Role) -> Response:
    """Check the person (and role), open one unit of work, and run `work` with the person's scope."""
    viewer = require(request, *roles) if roles else viewer_of(request)
    deps = deps_of(request)
    with deps.db.uow() as uow:
        return work(uow.session, deps, scope_of(uow.session, deps, viewer))


def _download(found: Download) -> Response:
    disposition = "inline" if found.inline else "attachment"
    name = _SAFE_NAME.sub("_", found.filename) or "berkas"
    return Response(
        found.content, media_type=found.mime, headers={"content-disposition": f'{disposition}; filename="{name}"'}
    )


# -- the pages -------------------------------------------------------------------------------------------------


def _overview(request: Request) -> Response:
    def work(session: Session, deps: Deps, scope: Scope) -> Response:
        data = overview(session, deps, scope, today_of(deps))
        return render(request, "ringkasan.html", page=data)

    return _with_scope(request, work)


def _program(request: Request, key: str) -> Response:
    def work(session: Session, deps: Deps, scope: Scope) -> Response:
        data = league_table(session, deps, scope, key, today_of(deps), request.query_params)
        return render(request, "program.html", page=data)

    return _with_scope(request, work)


def _unit(request: Request, code: str) -> Response:
    def work(session: Session, deps: Deps, scope: Scope) -> Response:
        data = unit_page(session, deps, scope.viewer, code, today_of(deps), request.query_params)
        return render(request, "unit.html", page=data)

    return _with_scope(request, work)


def _chart(request: Request, key: str) -> Response:
    def work(session: Session, deps: Deps, scope: Scope) -> Response:
        today = today_of(deps)
        where = "pemda" if scope.whole else f"{scope.viewer.role.value}:{scope.viewer.unit_id}"
        cache, cache_key, now = _cache(request), (where, key, today.isoformat()), deps.clock.monotonic()
        png = cache.get(cache_key, now)
        if png is None:
            png = chart_png(session, deps, scope, key, today)
            cache.put(cache_key, now, png)
        return Response(png, media_type="image/png", headers={"cache-control": "private, max-age=60"})

    return _with_scope(request, work)


def _evidence(request: Request, evidence_id: int) -> Response:
    def work(session: Session, deps: Deps, scope: Scope) -> Response:
        return _download(evidence_file(session, deps, scope.viewer, evidence_id))

    return _with_scope(request, work)


def _letter(request: Request, letter_id: int, kind: str) -> Response:
    def work(session: Session, deps: Deps, scope: Scope) -> Response:
        return _download(letter_file(session, scope.viewer, letter_id, kind))

    return _with_scope(request, work)


def _letters(request: Request) -> Response:
    def work(session: Session, deps: Deps, scope: Scope) -> Response:
        return render(request, "surat.html", page=register(session, deps, scope, request.query_params))

    return _with_scope(request, work, Role.ADMIN, Role.PIMPINAN, Role.CAMAT)


def _letter_action(request: Request, letter_id: int, action: str, reason: str) -> Response:
    def work(session: Session, deps: Deps, scope: Scope) -> Response:
        try:
            act_on_letter(session, deps, scope.viewer, letter_id, action, reason)
        except flow.Refused as exc:
            data = register(session, deps, scope, request.query_params, str(exc), "bad")
            return render(request, "surat.html", status_code=409, page=data)
        session.commit()
        return RedirectResponse(f"/dasbor/surat?surat={letter_id}", status_code=303)

    return _with_scope(request, work, Role.ADMIN, Role.PIMPINAN)


def _verifier(request: Request) -> None:
    if not signed_in(request).may_verify:
        raise Forbidden(NOT_VERIFIER)


def _queue(request: Request) -> Response:
    _verifier(request)

    def work(session: Session, deps: Deps, scope: Scope) -> Response:
        data = queue(session, deps, scope.viewer, request.query_params)
        return render(request, "verifikasi.html", page=data)

    return _with_scope(request, work)


def _verdict(request: Request, evidence_id: int, choice: str, reason: str) -> Response:
    _verifier(request)

    def work(session: Session, deps: Deps, scope: Scope) -> Response:
        status, text = verdict(session, deps, scope.viewer, evidence_id, choice, reason)
        if status == TAKEN:
            session.commit()
            return RedirectResponse(f"/dasbor/verifikasi?putusan={evidence_id}", status_code=303)
        data = queue(session, deps, scope.viewer, request.query_params, error=text)
        return render(request, "verifikasi.html", status_code=status, page=data)

    return _with_scope(request, work)


def _export(request: Request) -> Response:
    def work(session: Session, deps: Deps, scope: Scope) -> Response:
        name, content = export(session, deps, scope, today_of(deps))
        session.commit()
        return Response(
            content, media_type=XLSX_MIME, headers={"content-disposition": f'attachment; filename="{name}"'}
        )

    return _with_scope(request, work, Role.ADMIN, Role.PIMPINAN)


# -- the routes ------------------------------------------------------------------------------------------------


def _field(form: Any, name: str, limit: int = 600) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


async def ringkasan(request: Request) -> Response:
    """GET /: the overview."""
    return await run_in_threadpool(_overview, request)


async def program(request: Request) -> Response:
    """GET /program/{key}: a program's league table."""
    return await run_in_threadpool(_program, request, str(request.path_params["key"]))


async def unit(request: Request) -> Response:
    """GET /unit/{code}: a unit's page."""
    return await run_in_threadpool(_unit, request, str(request.path_params["code"]))


async def grafik(request: Request) -> Response:
    """GET /grafik/{key}.png: a program's trend chart."""
    return await run_in_threadpool(_chart, request, str(request.path_params["key"]))


async def bukti(request: Request) -> Response:
    """GET /bukti/{id}: an evidence file."""
    return await run_in_threadpool(_evidence, request, int(request.path_params["evidence_id"]))


async def surat_berkas(request: Request) -> Response:
    """GET /surat/{id}.pdf or .docx: a letter's file."""
    params = request.path_params
    return await run_in_threadpool(_letter, request, int(params["letter_id"]), str(params["kind"]))


async def surat(request: Request) -> Response:
    """GET /surat: the letter register."""
    return await run_in_threadpool(_letters, request)


async def surat_aksi(request: Request) -> Response:
    """POST /surat/{id}/setujui, /batal or /diantar: approve or cancel a letter, or record its hand delivery."""
    action = str(request.path_params["action"])
    if action not in ("setujui", "batal", "diantar"):
        raise HTTPException(404)
    form = await checked_form(request)
    letter_id = int(request.path_params["letter_id"])
    return await run_in_threadpool(_letter_action, request, letter_id, action, _field(form, "alasan"))


async def verifikasi(request: Request) -> Response:
    """GET /verifikasi: the verification queue."""
    return await run_in_threadpool(_queue, request)


async def putuskan(request: Request) -> Response:
    """POST /verifikasi/{id}: Sah, or Tolak with a reason."""
    form = await checked_form(request)
    choice, reason = _field(form, "keputusan", 10), _field(form, "alasan")
    return await run_in_threadpool(_verdict, request, int(request.path_params["evidence_id"]), choice, reason)


async def ekspor(request: Request) -> Response:
    """GET /ekspor.xlsx: the status workbook."""
    return await run_in_threadpool(_export, request)


def page_routes() -> list[BaseRoute]:
    """The page routes (relative to the /dasbor mount)."""
    return [
        Route("/", ringkasan, methods=["GET"], name="dasbor_ringkasan"),
        Route("/program/{key}", program, methods=["GET"], name="dasbor_program"),
        Route("/unit/{code}", unit, methods=["GET"], name="dasbor_unit"),
        Route("/grafik/{key}.png", grafik, methods=["GET"], name="dasbor_grafik"),
        Route("/bukti/{evidence_id:int}", bukti, methods=["GET"], name="dasbor_bukti"),
        Route("/surat", surat, methods=["GET"], name="dasbor_surat"),
        Route("/surat/{letter_id:int}.{kind}", surat_berkas, methods=["GET"], name="dasbor_surat_berkas"),
        Route("/surat/{letter_id:int}/{action}", surat_aksi, methods=["POST"], name="dasbor_surat_aksi"),
        Route("/verifikasi", verifikasi, methods=["GET"], name="dasbor_verifikasi"),
        Route("/verifikasi/{evidence_id:int}", putuskan, methods=["POST"], name="dasbor_putuskan"),
        Route("/ekspor.xlsx", ekspor, methods=["GET"], name="dasbor_ekspor"),
    ]
