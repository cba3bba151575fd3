"""The dashboard's guards: security headers on every response, CSRF-checked forms, a limit on link redemption.

No inline <script> or style="" anywhere: the CSP allows scripts, styles and images from the dashboard itself only
(images also as data: URLs), no framing, forms posting only back to it, and no referrer (links carry tokens).
"""

from __future__ import annotations

import hmac
from collections import deque
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.web.auth import Forbidden, current_deps, signed_in
from models.app import Deps
from models.clock import Clock

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
}
NO_STORE = "no-store"
STATIC_PREFIX = "/dasbor/static/"
CSRF_FIELD = "csrf"
MAX_FIELDS = 200


@dataclass(frozen=True)
class WebConfig:
    """How the dashboard is reached: the public base URL, and whether cookies are Secure (it is https)."""

    public_url: str

    @property
    def secure(self) -> bool:
        """Whether the public URL is https (then every cookie is Secure)."""
        return self.public_url.lower().startswith("https://")

    @property
    def origin(self) -> str:
        """scheme://host[:port] of the public URL."""
        scheme, _, rest = self.public_url.partition("://")
        return f"{scheme.lower()}://{rest.split('/', 1)[0].lower()}" if rest else ""


class DashboardGuard:
    """ASGI middleware over the /dasbor mount: the app's `Deps` for the request, and the security headers."""

    def __init__(self, app: ASGIApp, deps: Deps, web: WebConfig) -> None:
        self.app = app
        self.deps = deps
        self.web = web

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        owner = scope.get("app")
        if owner is not None:  # what the app was given first stays (the runner's own deps and address)
            if getattr(owner.state, "deps", None) is None:
                owner.state.deps = self.deps
            if getattr(owner.state, "web", None) is None:
                owner.state.web = self.web
        static = str(scope.get("path", "")).startswith(STATIC_PREFIX)

        async def guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                if not static and "cache-control" not in headers:
                    headers["cache-control"] = NO_STORE
            await send(message)

        token = current_deps.set(self.deps)
        try:
            await self.app(scope, receive, guarded)
        finally:
            current_deps.reset(token)


def web_config(request: Request) -> WebConfig:
    """The dashboard's `WebConfig` (set on the app by `DashboardGuard`)."""
    web = getattr(request.app.state, "web", None)
    return web if isinstance(web, WebConfig) else WebConfig("")


def same_origin(request: Request) -> bool:
    """Whether a POST may come from the dashboard's own pages: an Origin header naming a site must be the public
    URL's origin or the address the request came to. Under Referrer-Policy no-referrer browsers send "null" for
    their own forms, so a missing or "null" Origin leaves the decision to the CSRF token."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    own = f"{request.url.scheme}://{request.url.netloc}".lower()
    return origin.lower() in {own, web_config(request).origin}


async def checked_form(request: Request) -> FormData:
    """The posted form of a signed-in person, when its CSRF token is the session's; `Forbidden` (403) otherwise
    (`NotSignedIn` without a live session)."""
    person = await run_in_threadpool(signed_in, request)
    if not same_origin(request):
        raise Forbidden("Permintaan datang dari luar dasbor.")
    form = await request.form(max_files=0, max_fields=MAX_FIELDS)
    given = form.get(CSRF_FIELD)
    if not isinstance(given, str) or not given or not hmac.compare_digest(given.encode(), person.csrf.encode()):
        raise Forbidden("Formulir ini sudah tidak berlaku.")
    return form


class RateLimited(Exception):
    """Too many attempts from one address: the 429 page, with `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


@dataclass
class AttemptLimit:
    """At most `limit` attempts per `window` seconds from one client address (in memory, on the app's clock)."""

    clock: Clock
    limit: int = 10
    window: float = 60.0
    max_addresses: int = 10_000
    _seen: dict[str, deque[float]] = field(default_factory=dict)

    def hit(self, address: str) -> None:
        """Count one attempt from `address`; `RateLimited` when it is one too many (not counted then)."""
        now = self.clock.monotonic()
        times = self._seen.get(address)
        if times is None:
            if len(self._seen) >= self.max_addresses:
                self._forget(now)
            times = self._seen[address] = deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            raise RateLimited(max(1, int(times[0] + self.window - now + 0.999)))
        times.append(now)

    def _forget(self, now: float) -> None:
        stale = [a for a, t in self._seen.items() if not t or t[-1] <= now - self.window]
        for address in stale or list(self._seen)[: len(self._seen) // 2]:
            del self._seen[address]


def client_address(request: Request) -> str:
    """The client's address (uvicorn puts the proxy's X-Forwarded-For there when the proxy is trusted)."""
    return request.client.host if request.client is not None else "?"
