"""The dashboard's routes under /dasbor: signing in with a link from chat, signing out, the pages, the error pages.

`GET /dasbor/masuk/{token}` shows a "Masuk" button (link previews and prefetchers of chat apps only GET, so they never
use the link up); the button POSTs back and the link opens a session: the cookie `sigap_sesi` (HttpOnly,
SameSite=Lax, Path=/dasbor, 8 hours, Secure when the public URL is https). The button's form carries a random value
also set as a short-lived SameSite=Strict cookie, so another site cannot sign a browser in with its own link.
Attempts are limited per client address. `POST /dasbor/keluar` signs out.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.settings import Settings
from bot.web.auth import COOKIE, Forbidden, NotSignedIn, audit, deps_of, signed_in
from bot.web.pages import page_routes
from bot.web.render import STATIC, render
from bot.web.security import (
    CSRF_FIELD,
    AttemptLimit,
    DashboardGuard,
    RateLimited,
    WebConfig,
    checked_form,
    client_address,
    same_origin,
    web_config,
)
from models.app import Deps
from models.fmt import waktu
from models.scope import viewer_for
from models.state_tables import WebSession
from models.web_access import (
    LINK_TTL,
    SESSION_TTL,
    Current,
    LinkProblem,
    Opened,
    Refused,
    SessionEnd,
    check_link,
    check_session,
    end_session,
    redeem_link,
)

log = logging.getLogger(__name__)

PREFIX = "/dasbor"
SIGN_IN_COOKIE = "sigap_masuk"
"""The sign-in form's double-submit value (SameSite=Strict, only on /dasbor/masuk, as long as a link lives)."""
MAX_BODY = 64 * 1024
"""Largest request body under /dasbor (the forms are a few fields)."""
ASK_AGAIN = "Ketik /dasbor di chat Sigap (Telegram atau WhatsApp) untuk meminta tautan masuk yang baru."

LINK_PAGES: dict[LinkProblem, tuple[int, str, list[str]]] = {
    LinkProblem.USED: (410, "Tautan sudah dipakai", ["Setiap tautan masuk hanya berlaku satu kali.", ASK_AGAIN]),
    LinkProblem.EXPIRED: (
        410,
        "Tautan sudah kedaluwarsa",
        [f"Tautan masuk berlaku {int(LINK_TTL.total_seconds() // 60)} menit sejak dikirim.", ASK_AGAIN],
    ),
    LinkProblem.UNKNOWN: (
        400,
        "Tautan tidak dikenal",
        ["Mohon pastikan tautan dibuka utuh, persis seperti yang dikirim Sigap.", ASK_AGAIN],
    ),
    LinkProblem.REFUSED: (
        403,
        "Dasbor tidak tersedia untuk akun ini",
        ["Akun Bapak/Ibu tidak aktif atau perannya tidak dapat membuka dasbor.", "Mohon hubungi admin Sigap."],
    ),
}
SESSION_PAGES: dict[SessionEnd, tuple[str, list[str]]] = {
    SessionEnd.UNKNOWN: (
        "Silakan masuk lewat chat",
        [
            "Dasbor Sigap dibuka dengan tautan sekali pakai yang dikirim lewat chat.",
            "Ketik /dasbor di chat Sigap (Telegram atau WhatsApp), lalu buka tautan yang dikirim.",
        ],
    ),
    SessionEnd.ENDED: ("Sesi sudah berakhir", ["Bapak/Ibu sudah keluar dari dasbor.", ASK_AGAIN]),
    SessionEnd.EXPIRED: (
        "Sesi sudah berakhir",
        [f"Sesi dasbor berlaku {int(SESSION_TTL.total_seconds() // 3600)} jam sejak masuk.", ASK_AGAIN],
    ),
    SessionEnd.DEACTIVATED: (
        "Akun tidak aktif",
        ["Akun Bapak/Ibu di Sigap sudah dinonaktifkan, sehingga sesi dasbor diakhiri.", "Mohon hubungi admin Sigap."],
    ),
    SessionEnd.CHANGED: (
        "Peran Bapak/Ibu berubah",
        ["Peran atau unit Bapak/Ibu di Sigap berubah, sehingga sesi yang lama diakhiri.", ASK_AGAIN],
    ),
}
HTTP_PAGES: dict[int, tuple[str, str]] = {
    400: ("Permintaan tidak dapat dibaca", "Mohon ulangi dari halaman dasbor."),
    404: (
        "Halaman tidak ditemukan",
        "Halaman atau unit yang dicari tidak ada, atau berada di luar wilayah yang dapat Bapak/Ibu lihat.",
    ),
    405: ("Cara membuka halaman ini tidak didukung", "Mohon buka lewat menu dasbor."),
    413: ("Isian terlalu besar", "Mohon kirim isian yang lebih pendek."),
}
HOME = ("Kembali ke ringkasan", f"{PREFIX}/")


def message(request: Request, status: int, heading: str, lines: Sequence[str], **extra: Any) -> Response:
    """A page with a heading and a few lines (errors and confirmations)."""
    return render(request, "pesan.html", status_code=status, heading=heading, lines=list(lines), **extra)


def _forget_session(response: Response, request: Request) -> Response:
    if COOKIE in request.cookies:
        response.delete_cookie(COOKIE, path=PREFIX, secure=web_config(request).secure, httponly=True, samesite="lax")
    return response


async def not_signed_in(request: Request, exc: Exception) -> Response:
    """The 401 page: sign in from chat (and the dead cookie removed)."""
    reason = exc.reason if isinstance(exc, NotSignedIn) else SessionEnd.UNKNOWN
    heading, lines = SESSION_PAGES[reason]
    return _forget_session(message(request, 401, heading, lines, tone="warn"), request)


async def forbidden(request: Request, exc: Exception) -> Response:
    """The 403 page."""
    text = exc.message if isinstance(exc, Forbidden) and exc.message else ""
    lines = [text or "Halaman ini tidak tersedia untuk peran Bapak/Ibu.", "Silakan kembali ke ringkasan."]
    return message(request, 403, "Tidak tersedia", lines, tone="bad", link=HOME)


async def rate_limited(request: Request, exc: Exception) -> Response:
    """The 429 page."""
    wait = exc.retry_after if isinstance(exc, RateLimited) else 60
    lines = [f"Mohon tunggu {wait} detik, lalu buka lagi tautan dari chat.", "Tautan yang belum dipakai tetap berlaku."]
    response = message(request, 429, "Terlalu banyak percobaan", lines, tone="warn")
    response.headers["retry-after"] = str(wait)
    return response


async def http_error(request: Request, exc: Exception) -> Response:
    """A clean page for 404 (also a unit out of the viewer's scope), 405, 413 and the like."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    heading, line = HTTP_PAGES.get(status, ("Terjadi kendala", "Mohon ulangi sebentar lagi."))
    response = message(request, status, heading, [line], tone="bad", link=HOME)
    for name, value in (exc.headers or {}).items() if isinstance(exc, HTTPException) else ():
        response.headers[name] = value
    return response


HANDLERS = {NotSignedIn: not_signed_in, Forbidden: forbidden, RateLimited: rate_limited, HTTPException: http_error}


def _link_refused(request: Request, refused: Refused) -> Response:
    status, heading, lines = LINK_PAGES[refused.problem]
    return message(request, status, heading, lines, tone="bad")


def _preview(request: Request, token: str) -> Response:
    """GET of a link: the "Masuk" button, or the page saying why the link is no good (nothing is used up)."""
    deps = deps_of(request)
    now = deps.clock.now()
    with deps.db.uow() as uow:
        usable = check_link(uow.session, deps.pemda, token, now)
    if isinstance(usable, Refused):
        return _link_refused(request, usable)
    form_token = secrets.token_urlsafe(24)
    until = waktu(usable.link.expires_at, deps.calendar.zone)
    response = render(request, "masuk.html", name=usable.contact.name, until=until, form_token=form_token)
    response.set_cookie(
        SIGN_IN_COOKIE,
        form_token,
        max_age=int(LINK_TTL.total_seconds()),
        path=f"{PREFIX}/masuk",
        secure=web_config(request).secure,
        httponly=True,
        samesite="strict",
    )
    return response


def _stale_button(request: Request, token: str) -> Response:
    """A "Masuk" press without this browser's form value (another site's form, or pressed twice): the link's own
    problem when it has one, else the advice to open the link again; nothing is used up."""
    deps = deps_of(request)
    with deps.db.uow() as uow:
        usable = check_link(uow.session, deps.pemda, token, deps.clock.now())
    if isinstance(usable, Refused):
        return _link_refused(request, usable)
    lines = ["Mohon buka lagi tautan dari chat di peramban ini, lalu tekan tombol Masuk.", ASK_AGAIN]
    return message(request, 403, "Tombol Masuk sudah tidak berlaku", lines, tone="warn")


def _redeem(request: Request, token: str) -> Response:
    """POST of a link: use it once and open a session, or say why not."""
    deps = deps_of(request)
    now = deps.clock.now()
    web = web_config(request)
    with deps.db.uow() as uow:
        result = redeem_link(uow.session, deps.pemda, token, now)
        if isinstance(result, Refused):
            audit(uow.session, None, "dasbor_tautan_ditolak", at=now, actor_id=result.contact_id, alasan=result.problem)
            uow.commit()
            return _link_refused(request, result)
        assert isinstance(result, Opened)
        earlier = check_session(uow.session, request.cookies.get(COOKIE, ""), now)
        if isinstance(earlier, Current):
            end_session(uow.session, earlier.web_session, now)  # a new link replaces this browser's old session
        viewer = viewer_for(result.contact)
        audit(
            uow.session, viewer, "dasbor_masuk", f"sesi:{result.web_session.id}", at=now, alamat=client_address(request)
        )
        uow.commit()
    response = RedirectResponse(f"{PREFIX}/", status_code=303)
    response.set_cookie(
        COOKIE,
        result.token,
        max_age=int(SESSION_TTL.total_seconds()),
        path=PREFIX,
        secure=web.secure,
        httponly=True,
        samesite="lax",
    )
    response.delete_cookie(SIGN_IN_COOKIE, path=f"{PREFIX}/masuk", secure=web.secure, httponly=True, samesite="strict")
    return response


def sign_in_route(limit: AttemptLimit) -> Route:
    """/dasbor/masuk/{token}: GET shows the button, POST uses the link; both count against the address's limit."""

    async def masuk(request: Request) -> Response:
        limit.hit(client_address(request))
        token = str(request.path_params["token"])
        if request.method != "POST":
            return await run_in_threadpool(_preview, request, token)
        form = await request.form(max_files=0, max_fields=10)
        given = form.get(CSRF_FIELD)
        kept = request.cookies.get(SIGN_IN_COOKIE, "")
        fresh = isinstance(given, str) and bool(kept) and hmac.compare_digest(given.encode(), kept.encode())
        if not fresh or not same_origin(request):
            return await run_in_threadpool(_stale_button, request, token)
        return await run_in_threadpool(_redeem, request, token)

    return Route("/masuk/{token}", masuk, methods=["GET", "POST"], name="dasbor_masuk")


def _logout(request: Request) -> None:
    person = signed_in(request)
    deps = deps_of(request)
    now = deps.clock.now()
    with deps.db.uow() as uow:
        row = uow.session.get(WebSession, person.session_id)
        if row is not None:
            end_session(uow.session, row, now)
        audit(uow.session, person.viewer, "dasbor_keluar", f"sesi:{person.session_id}", at=now)
        uow.commit()


def _signed_in_or_none(request: Request) -> bool:
    try:
        signed_in(request)
    except NotSignedIn:
        return False
    return True


async def keluar(request: Request) -> Response:
    """POST: sign out (CSRF-checked) and land on GET, which says so (or offers the button while still signed in)."""
    if request.method == "POST":
        await checked_form(request)
        await run_in_threadpool(_logout, request)
        return _forget_session(RedirectResponse(f"{PREFIX}/keluar", status_code=303), request)
    if await run_in_threadpool(_signed_in_or_none, request):
        lines = ["Bapak/Ibu masih masuk. Tekan tombol Keluar di kanan atas untuk mengakhiri sesi."]
        return message(request, 200, "Keluar dari dasbor", lines, link=HOME)
    lines = ["Bapak/Ibu sudah keluar dari dasbor.", "Untuk masuk lagi, ketik /dasbor di chat Sigap."]
    return _forget_session(message(request, 200, "Sampai jumpa", lines, tone="ok"), request)


def _relative(route: BaseRoute) -> BaseRoute:
    """A page route written with its full /dasbor path, re-rooted under the mount."""
    path = getattr(route, "path", "")
    if not path.startswith(PREFIX + "/"):
        return route
    if isinstance(route, Route):
        return Route(path[len(PREFIX) :], route.endpoint, methods=list(route.methods or ()), name=route.name)
    if isinstance(route, Mount):
        return Mount(path[len(PREFIX) :], app=route.app, name=route.name)
    return route


def dashboard_routes(deps: Deps, public_url: str, *, extra: Sequence[BaseRoute] = ()) -> list[BaseRoute]:
    """The dashboard, mounted at /dasbor: sign-in and sign-out, the pages (`bot.web.pages`), static files, each
    response with the security headers and every error as a clean page. `extra`: more routes (tests)."""
    web = WebConfig(public_url.rstrip("/"))
    limit = AttemptLimit(deps.clock)
    routes: list[BaseRoute] = [
        sign_in_route(limit),
        Route("/keluar", keluar, methods=["GET", "POST"], name="dasbor_keluar"),
        Mount("/static", app=StaticFiles(directory=STATIC), name="dasbor_static"),
        *(_relative(r) for r in page_routes()),
        *(_relative(r) for r in extra),
    ]
    guard = [
        Middleware(DashboardGuard, deps=deps, web=web),
        Middleware(ExceptionMiddleware, handlers=HANDLERS),
    ]
    return [Mount(PREFIX, routes=routes, middleware=guard, max_body_size=MAX_BODY)]


@contextlib.asynccontextmanager
async def beside_console(settings: Settings, say: Callable[[str], None] = print) -> AsyncIterator[Settings]:
    """`sigap run` with no channel: the dashboard served on this computer while the console is open, so the link
    /dasbor answers there works. Yields the settings for the console: with `public_url` naming where the dashboard
    really listens (`SIGAP_PUBLIC_URL` when set; else http://127.0.0.1:<port>); unchanged when the port is taken
    (the console opens all the same)."""
    from bot.http import HttpServer, build_app
    from bot.wiring import build_deps

    deps = build_deps(settings)
    app = build_app(dashboard_routes(deps, settings.dashboard_url()))
    app.state.deps = deps
    host = settings.http_host if settings.public_url else "127.0.0.1"  # a trial on this computer stays on it
    server = HttpServer(app, host, settings.http_port)
    try:
        await server.start()
    except OSError as exc:
        log.warning("dashboard not served beside the console: port %s: %s", settings.http_port, exc.strerror)
        say(f"Dasbor web tidak dibuka: port {settings.http_port} sudah dipakai (ubah SIGAP_HTTP_PORT).")
        deps.db.dispose()
        yield settings
        return
    base = settings.public_url or f"http://127.0.0.1:{server.port}"
    deps.public_url = base
    app.state.web = WebConfig(base)
    say(f"Dasbor web: {base}{PREFIX}/ (ketik /dasbor di konsol untuk tautan masuk).")
    try:
        yield settings.model_copy(update={"public_url": base})
    finally:
        await server.stop()
        deps.db.dispose()
