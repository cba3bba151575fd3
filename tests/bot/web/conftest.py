"""The dashboard under test: the app on a migrated database with the sample roster, signed-in clients, a browser.

- `web_app` / `client`: the one Starlette app with the dashboard mounted (as `sigap run` builds it), on both
  databases, over the sample kabupaten and the fake clock (`deps`); `client` is a Starlette `TestClient`.
- `signed_in(client, contact)`: a one-time link made by the code /dasbor uses, opened and redeemed as a person
  would (GET, then the "Masuk" button); returns the client with its session cookie. `csrf_of(client)` reads the
  session's CSRF token from a page, for POST forms.
- `live_dashboard`: the same app served by a real uvicorn (`bot.http.HttpServer`) on 127.0.0.1, a free port;
  `browser`: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright's async API.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.testclient import TestClient

from bot.http import HttpServer, build_app
from bot.web.dashboard import dashboard_routes
from models.app import Deps
from models.tables import Contact
from models.web_access import create_link

PUBLIC_URL = "http://testserver"
"""The public base URL the test app is configured with (TestClient's own address)."""
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def dashboard_app(deps: Deps, public_url: str = PUBLIC_URL, extra: Sequence[BaseRoute] = ()) -> Starlette:
    """The app `sigap run` serves (webhooks would sit beside), with the dashboard mounted and `app.state.deps` set."""
    deps.public_url = public_url  # what /dasbor puts in front of its links
    app = build_app(dashboard_routes(deps, public_url, extra=extra))
    app.state.deps = deps
    return app


@pytest.fixture
def web_app(deps: Deps) -> Starlette:
    """The dashboard app over the sample kabupaten, on SQLite and on PostgreSQL."""
    return dashboard_app(deps)


@pytest.fixture
def client(web_app: Starlette) -> Iterator[TestClient]:
    """A browser-like client of `web_app` (cookies kept; redirects not followed, so each step can be checked)."""
    with TestClient(web_app, base_url=PUBLIC_URL, follow_redirects=False) as test_client:
        yield test_client


def link_path(deps: Deps, contact: Contact) -> str:
    """A fresh one-time sign-in link for `contact` (path only), made by the code /dasbor uses."""
    with deps.db.uow() as uow:
        token = create_link(uow.session, contact, deps.clock.now())
        uow.commit()
    return f"/dasbor/masuk/{token}"


def signed_in(client: TestClient, contact: Contact) -> TestClient:
    """`client` signed in as `contact` through a one-time link (opened, then the "Masuk" button pressed)."""
    app = client.app
    assert isinstance(app, Starlette)
    path = link_path(app.state.deps, contact)
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = _CSRF.search(page.text)
    assert found is not None
    done = client.post(path, data={"csrf": found.group(1)}, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/dasbor/"
    return client


def csrf_of(client: TestClient) -> str:
    """The CSRF token of `client`'s session, as its pages carry it (the logout form)."""
    page = client.get("/dasbor/keluar")
    found = _CSRF.search(page.text)
    assert found is not None, "not signed in"
    return found.group(1)


@dataclass
class LiveDashboard:
    """The dashboard served for real: its base URL and the app's deps."""

    url: str
    deps: Deps

    def link(self, contact: Contact) -> str:
        """A full one-time sign-in link for `contact`."""
        return self.url + link_path(self.deps, contact)


@pytest.fixture
async def live_dashboard(deps: Deps) -> AsyncIterator[LiveDashboard]:
    """The dashboard app on uvicorn at 127.0.0.1, a free port, for as long as the test runs."""
    server = HttpServer(dashboard_app(deps, "http://127.0.0.1"), "127.0.0.1", 0, grace=1)
    await server.start()
    try:
        yield LiveDashboard(f"http://127.0.0.1:{server.port}", deps)
    finally:
        await server.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium (Debian's package, never a downloaded build) under Playwright's async API."""
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 (one stat, before anything runs)
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does it)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield launched
        finally:
            await launched.close()
