"""The dashboard's letter register says what /teguran says of a letter not yet delivered: to be handed over when
nobody in Sigap receives it, and that it need not go out once the unit met the program."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.applications import Starlette

from models.app import Deps
from models.clock import FakeClock
from tests.bot.web.test_pages import browser_of, text_of
from tests.conftest import ADMIN, KEPALA_DINKES, console_person
from tests.handlers.test_letter_trial import TELEGRAM_ONLY
from tests.handlers.test_letters_flow import H_PLUS_7, run_hook


async def test_the_register_page_says_to_hand_over_then_that_it_need_not(
    deps: Deps, clock: FakeClock, web_app: Starlette
) -> None:
    clock.set(H_PLUS_7)
    deps.sends_on = TELEGRAM_ONLY  # DINKES's people have only WhatsApp numbers: the letter goes on paper
    letter = run_hook(deps, "DINKES")
    admin = console_person(deps, ADMIN)
    await admin.text(f"/teguran setujui {letter.id}")
    browser = browser_of(web_app, deps, ADMIN)
    html = browser.get("/dasbor/surat").text
    page = text_of(html)
    assert f"tanpa penerima di Sigap: antar langsung, lalu catat (di chat: /teguran diantar {letter.id})" in page
    assert f'action="/dasbor/surat/{letter.id}/diantar"' in html  # the button that records it
    assert "surat untuk unit tanpa penerima di Sigap diantar langsung" in page

    clock.set(datetime(2026, 12, 23, 3, 0, tzinfo=UTC))
    await console_person(deps, KEPALA_DINKES).text("/lapor katalog 10")
    browser = browser_of(web_app, deps, ADMIN)  # a new sign-in: a session lasts 8 hours
    html = browser.get("/dasbor/surat").text
    page = text_of(html)
    assert "Unit sudah memenuhi e-Katalog lokal tahun 2026 sejak 23 Des 2026: surat tidak perlu diantar" in page
    assert "antar langsung, lalu catat" not in page and f"/dasbor/surat/{letter.id}/diantar" not in html
    unit_page = text_of(browser.get("/dasbor/unit/DINKES").text)
    assert "surat tidak perlu diantar" in unit_page
