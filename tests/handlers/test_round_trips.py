"""What a chat message costs PostgreSQL in round trips: counted by a proxy in front of the server.

Each round trip is a wait of the worker handling the message and work for the server; at a national deployment's
load they are most of a message's cost. The reads a command knows in advance go out together (`read_ahead`), and
the last writes go out with the COMMIT (`UnitOfWork.commit_with`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from handlers.core import handle
from models.app import Deps
from models.db import Database
from models.messages import Channel, Incoming
from tests.conftest import CAMAT_SUKAMAKMUR, KEPALA_DINKES, set_contact
from tests.fakes.pg_proxy import RoundTripProxy, round_trip_proxy

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("db", ["postgres"], indirect=True)]

KEPALA_ID, CAMAT_ID = 41001, 41002


@pytest.fixture
def counted(deps: Deps) -> Iterator[tuple[Deps, RoundTripProxy]]:
    """`deps` whose database connections go through a round-trip counting proxy."""
    set_contact(deps, KEPALA_DINKES, telegram_user_id=str(KEPALA_ID))
    set_contact(deps, CAMAT_SUKAMAKMUR, telegram_user_id=str(CAMAT_ID))
    with round_trip_proxy(deps.db.url) as (proxy, url):
        proxied = Database(url)
        try:
            yield dataclasses.replace(deps, db=proxied), proxy
        finally:
            proxied.dispose()


async def _say(deps: Deps, proxy: RoundTripProxy, chat: int, text: str, number: int) -> tuple[str, int]:
    incoming = Incoming(Channel.TELEGRAM, str(chat), text=text, message_id=str(number))
    await handle(deps, incoming, dedupe_key=f"{chat}:{number}")  # a first message opens the pool's connection
    proxy.reset()
    incoming = dataclasses.replace(incoming, message_id=str(number + 1))
    replies = await handle(deps, incoming, dedupe_key=f"{chat}:{number + 1}")
    return "\n".join(r.text for r in replies), proxy.round_trips


async def test_status_takes_four_round_trips(counted: tuple[Deps, RoundTripProxy]) -> None:
    deps, proxy = counted
    text, trips = await _say(deps, proxy, KEPALA_ID, "/status", 1)
    assert "Dinas Kesehatan (DINKES)" in text
    assert trips == 4  # BEGIN, the sender, every read of the answer, the reply with the seen-mark and the COMMIT


async def test_a_camats_status_with_the_units_below_takes_one_more(counted: tuple[Deps, RoundTripProxy]) -> None:
    deps, proxy = counted
    text, trips = await _say(deps, proxy, CAMAT_ID, "/status", 1)
    assert "Kelurahan/desa di bawahnya" in text
    assert trips == 5  # which units are below the kecamatan, read before the rest


async def test_a_figure_reported_takes_five_round_trips(counted: tuple[Deps, RoundTripProxy]) -> None:
    deps, proxy = counted
    text, trips = await _say(deps, proxy, KEPALA_ID, "/lapor katalog 12", 1)
    assert "Tercatat" in text
    # BEGIN, the sender, the figure before (is the new one plausible?), the report with where the unit stands now,
    # and the audit row, the reply and the seen-mark with the COMMIT
    assert trips == 5
