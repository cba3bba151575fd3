"""The dashboard's address: SIGAP_PUBLIC_URL, and the console's own dashboard (`sigap run` with no channel)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from bot.settings import SAMPLE_ROSTER, Settings, describe_errors
from bot.web.dashboard import beside_console
from bot.wiring import build_deps
from handlers.core import handle
from models.db import Database
from models.messages import Channel, Incoming
from models.roster import import_roster
from tests.conftest import ADMIN, contact_named


def test_the_public_url_is_a_bare_base_address() -> None:
    assert (
        Settings(_env_file=None, public_url="https://sigap.example.go.id/").public_url == "https://sigap.example.go.id"
    )
    for wrong in ("sigap.example.go.id", "ftp://x.go.id", "https://x.go.id/sigap", "https://x.go.id?a=1"):
        with pytest.raises(ValidationError) as caught:
            Settings(_env_file=None, SIGAP_PUBLIC_URL=wrong)
        assert "SIGAP_PUBLIC_URL: tulis alamat dasar saja" in describe_errors(caught.value)


def test_the_console_links_to_this_computer_unless_an_address_is_set() -> None:
    assert Settings(_env_file=None, http_port=8081).dashboard_url() == "http://127.0.0.1:8081"
    assert Settings(_env_file=None, public_url="https://a.go.id").dashboard_url() == "https://a.go.id"
    with_channel = Settings(_env_file=None, telegram_bot_token="123:ABC")
    assert with_channel.dashboard_url() == ""  # a real deployment names its address


async def test_the_console_serves_the_dashboard_its_link_opens(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    db = Database(url)
    db.upgrade()
    with db.uow() as uow:
        import_roster(uow.session, SAMPLE_ROSTER)
        uow.commit()
    db.dispose()
    said: list[str] = []
    settings = Settings(_env_file=None, database_url=url, http_port=0)
    async with beside_console(settings, say=said.append) as served:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", served.public_url) and not served.public_url.endswith(":0")
        assert said == [f"Dasbor web: {served.public_url}/dasbor/ (ketik /dasbor di konsol untuk tautan masuk)."]
        deps = build_deps(served)  # what the console builds
        admin = contact_named(deps, ADMIN)
        replies = await handle(deps, Incoming(Channel.CONSOLE, str(admin.id), text="/dasbor"))
        link = re.findall(r"http://\S+/dasbor/masuk/\S+", replies[0].text)[0]
        assert link.startswith(served.public_url)
        async with httpx.AsyncClient(timeout=10) as client:
            page = await client.get(link)
            assert page.status_code == 200 and "Masuk ke Dasbor Sigap" in page.text
            form = re.findall(r'name="csrf" value="([^"]+)"', page.text)[0]
            done = await client.post(link, data={"csrf": form})
            assert done.status_code == 303 and "sigap_sesi" in done.headers["set-cookie"]
        deps.db.dispose()
