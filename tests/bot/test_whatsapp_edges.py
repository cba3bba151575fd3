"""WhatsApp delivery reports only ever touch our own rows: not another number's, not another person's."""

from __future__ import annotations

from models.tables import OutboxStatus
from tests.bot.test_whatsapp_e2e import SLAMET, SRI, Rig, queue, reminder_for, rig, row
from tests.conftest import KEPALA_DINKES
from tests.fakes.graph_api import make_status

__all__ = ["rig"]


def _from_number(payload: dict[str, object], phone_number_id: str) -> dict[str, object]:
    entry = payload["entry"][0]  # type: ignore[index]
    entry["changes"][0]["value"]["metadata"]["phone_number_id"] = phone_number_id
    return payload


async def test_statuses_of_another_business_number_are_ignored(rig: Rig) -> None:
    row_id = queue(rig.deps, KEPALA_DINKES, "reminder:katalog:other-number", reminder_for(rig.deps))
    await rig.dispatch()
    sent = row(rig.deps, row_id)
    assert sent.status == OutboxStatus.SENT.value and sent.provider_id
    other = make_status("wamid.of-another-app", "read", str(row_id), recipient=SLAMET, at=rig.clock.now())
    assert (await rig.post(_from_number(other, "2099"))).status_code == 200
    assert row(rig.deps, row_id).status == OutboxStatus.SENT.value


async def test_a_status_matched_by_outbox_id_must_be_for_the_rows_person(rig: Rig) -> None:
    row_id = queue(rig.deps, KEPALA_DINKES, "reminder:katalog:other-person", reminder_for(rig.deps))
    await rig.dispatch()
    stray = make_status("wamid.for-someone-else", "read", str(row_id), recipient=SRI, at=rig.clock.now())
    assert (await rig.post(stray)).status_code == 200
    assert row(rig.deps, row_id).status == OutboxStatus.SENT.value
    own = make_status("wamid.first-part", "read", str(row_id), recipient=SLAMET, at=rig.clock.now())
    await rig.post(own)
    assert row(rig.deps, row_id).status == OutboxStatus.READ.value
