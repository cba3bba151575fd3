"""Who can be reached now: a contact's addresses and blocks against the channels a deployment sends on; and what
was typed beyond one chat message is counted, not forgotten."""

from __future__ import annotations

import pytest

from models.ladder import ContactRef
from models.messages import CHAT_CHANNELS, MAX_TEXT, Channel, Incoming
from models.outbox import choose_channel, reachable_channels
from models.reach import CONSOLE_HINT, HINTS, Unreachable, count_reasons, describe, hints, why_unreachable

TELEGRAM_ONLY = frozenset({Channel.TELEGRAM})
WHATSAPP_ONLY = frozenset({Channel.WHATSAPP})
CONSOLE: frozenset[Channel] = frozenset()


def person(
    telegram: str | None = None,
    wa: str | None = None,
    *,
    prefers: str | None = None,
    off_telegram: bool = False,
    off_whatsapp: bool = False,
) -> ContactRef:
    return ContactRef(1, "Slamet", "kepala", 1, telegram, wa, prefers, off_telegram, off_whatsapp)


@pytest.mark.parametrize(
    ("contact", "on", "expected"),
    [
        (person(wa="+6281290001001"), CHAT_CHANNELS, None),
        (person(wa="+6281290001001"), WHATSAPP_ONLY, None),
        (person(wa="+6281290001001"), TELEGRAM_ONLY, Unreachable.ONLY_WHATSAPP),
        (person(wa="+6281290001001"), CONSOLE, Unreachable.ONLY_WHATSAPP),
        (person(telegram="5001"), WHATSAPP_ONLY, Unreachable.ONLY_TELEGRAM),
        (person(telegram="5001", wa="+6281290001001"), CONSOLE, Unreachable.NO_CHANNEL),
        (person(telegram="5001", wa="+6281290001001"), TELEGRAM_ONLY, None),
        (person(), CHAT_CHANNELS, Unreachable.NO_ADDRESS),
        (person(), CONSOLE, Unreachable.NO_ADDRESS),
        (person(wa="+6281290001001", off_whatsapp=True), CHAT_CHANNELS, Unreachable.BLOCKED),
        # blocked where the deployment sends; the other address is on a channel it does not send on
        (person(telegram="5001", wa="+6281290001001", off_telegram=True), TELEGRAM_ONLY, Unreachable.BLOCKED),
        (person(telegram="5001", wa="+6281290001001", off_telegram=True), CHAT_CHANNELS, None),
    ],
)
def test_why_unreachable(contact: ContactRef, on: frozenset[Channel], expected: Unreachable | None) -> None:
    assert why_unreachable(contact, on) is expected
    assert (choose_channel(contact, on=on) is None) is (expected is not None)


def test_the_channel_choice_keeps_to_the_channels_configured() -> None:
    both = person(telegram="5001", wa="+6281290001001", prefers="whatsapp")
    assert reachable_channels(both) == [Channel.WHATSAPP, Channel.TELEGRAM]  # default: every chat channel
    assert reachable_channels(both, TELEGRAM_ONLY) == [Channel.TELEGRAM]
    assert choose_channel(both, on=TELEGRAM_ONLY) is Channel.TELEGRAM
    assert choose_channel(both, on=TELEGRAM_ONLY, excluding=Channel.TELEGRAM) is None
    assert choose_channel(both, on=CONSOLE) is None


def test_reasons_are_counted_described_and_answered() -> None:
    people = [person(wa=f"+62812900010{i:02d}") for i in range(8)] + [person(telegram="7", off_telegram=True)]
    counts = count_reasons([*people, person(telegram="8")], TELEGRAM_ONLY)
    assert counts == {Unreachable.ONLY_WHATSAPP: 8, Unreachable.BLOCKED: 1}
    assert describe(counts) == (
        "1 memblokir bot atau tidak dapat dikirimi; 8 hanya punya nomor WhatsApp, tetapi WhatsApp belum diatur"
    )
    assert hints(counts, TELEGRAM_ONLY) == [HINTS[Unreachable.BLOCKED], HINTS[Unreachable.ONLY_WHATSAPP]]
    # on the console registering on Telegram would not help: one hint for the channels, and the roster's own gaps
    assert hints([Unreachable.ONLY_WHATSAPP, Unreachable.NO_ADDRESS], CONSOLE) == [
        CONSOLE_HINT,
        HINTS[Unreachable.NO_ADDRESS],
    ]
    assert hints([Unreachable.NO_ADDRESS], CONSOLE) == [HINTS[Unreachable.NO_ADDRESS]]


def test_incoming_counts_what_was_cut_at_one_message() -> None:
    typed = "/siaran dinkes " + "a" * 5000
    incoming = Incoming(Channel.CONSOLE, "1", text=typed)
    assert len(incoming.text) == MAX_TEXT
    assert len(incoming.text) + incoming.text_cut == len(typed)
    assert Incoming(Channel.CONSOLE, "1", text="halo\x00").text_cut == 0  # cleaning is not cutting
    again = Incoming(Channel.CONSOLE, "1", text=incoming.text, text_cut=incoming.text_cut)  # dataclasses.replace
    assert again.text_cut == incoming.text_cut
