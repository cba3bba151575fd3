"""/lapor reads figures the Indonesian way, asks when a figure could be read two ways, and asks "Yakin?" before
recording a figure that looks wrong; nothing is recorded until the person answers, and a double tap records once."""

from __future__ import annotations

from sqlmodel import col, select

from models.app import Deps
from models.messages import Channel
from models.tables import Report
from tests.conftest import ADMIN, KEPALA_DINKES, Person, console_person


def _with_katalog_target(deps: Deps, target: float) -> Deps:
    """The sample Pemda with another per-unit katalog target (the sample's 10 makes 1.250 look wrong)."""
    programs = [p.model_copy(update={"target": target}) if p.key == "katalog" else p for p in deps.pemda.programs]
    pemda = deps.pemda.model_copy(update={"programs": programs})
    return Deps(db=deps.db, pemda=pemda, clock=deps.clock, calendar=deps.calendar)


def _kepala(deps: Deps) -> Person:
    return Person(deps, Channel.CONSOLE, console_person(deps, KEPALA_DINKES).address, KEPALA_DINKES)


def _values(deps: Deps, program: str = "katalog") -> list[float | None]:
    with deps.db.uow() as uow:
        rows = uow.session.exec(select(Report).where(Report.program_key == program).order_by(col(Report.id))).all()
        return [r.value for r in rows]


def _notes(deps: Deps) -> list[str]:
    with deps.db.uow() as uow:
        return [r.note for r in uow.session.exec(select(Report).order_by(col(Report.id))).all()]


async def test_figures_are_read_the_indonesian_way_and_shown_back(deps: Deps) -> None:
    kepala = _kepala(_with_katalog_target(deps, 500_000))
    assert "e-Katalog lokal: 1.250 produk." in await kepala.text("/lapor katalog 1.250")
    assert "e-Katalog lokal: 1.250.000 produk." in await kepala.text("/lapor katalog 1.250.000")
    assert "P3DN/UMKK: 42,5 %." in await kepala.text("/lapor p3dn 42,5")
    assert "P3DN/UMKK: 40 %." in await kepala.text("/lapor p3dn 40%")
    assert "P3DN/UMKK: 41 %." in await kepala.text("/lapor p3dn 41 %")
    assert "P3DN/UMKK: 43 %." in await kepala.text("/lapor p3dn 43 persen")
    assert _values(deps) == [1250, 1_250_000]
    assert _values(deps, "p3dn") == [42.5, 40, 41, 43]


async def test_a_figure_read_two_ways_is_asked_with_a_button_per_reading(deps: Deps) -> None:
    kepala = _kepala(_with_katalog_target(deps, 500_000))
    replies = await kepala.say("/lapor katalog 1,000 termasuk produk UMKM baru")
    text = replies[0].text
    assert "“1,000” bisa dibaca 1.000 produk atau 1 produk" in text
    assert "titik memisahkan ribuan" in text and "koma menandai desimal" in text
    assert [(b.label, b.payload) for b in replies[0].buttons] == [
        ("1.000 produk", "/lapor katalog 1.000"),
        ("1 produk", "/lapor katalog 1"),
    ]
    assert _values(deps) == []  # nothing recorded by a question
    done = await kepala.say("x", payload=replies[0].buttons[0].payload)
    assert "e-Katalog lokal: 1.000 produk." in done[0].text
    assert _values(deps) == [1000]
    assert _notes(deps) == ["termasuk produk UMKM baru"]  # the note sent with the figure is kept


async def test_a_dot_in_a_percent_is_asked_about(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    replies = await kepala.say("/lapor p3dn 1.5")
    assert "“1.5” bisa dibaca 15 % atau 1,5 %" in replies[0].text
    assert [b.payload for b in replies[0].buttons] == ["/lapor p3dn 15", "/lapor p3dn 1,5"]
    one = await kepala.say("/lapor p3dn 1.25")
    assert "“1.25” kurang jelas" in one[0].text and "Maksud Anda 1,25 %?" in one[0].text
    assert [b.label for b in one[0].buttons] == ["1,25 %"]
    assert _values(deps, "p3dn") == []
    assert "P3DN/UMKK: 1,25 %." in (await kepala.say("x", payload=one[0].buttons[0].payload))[0].text


async def test_space_grouped_and_short_groups_are_asked_and_the_typed_answer_counts(deps: Deps) -> None:
    kepala = _kepala(_with_katalog_target(deps, 500_000))
    spaced = await kepala.say("/lapor katalog 1 000")
    assert "“1 000” bisa dibaca 1.000 produk atau 1 produk" in spaced[0].text
    assert "e-Katalog lokal: 1.000 produk." in await kepala.text("1.000")  # typed instead of tapped
    short = await kepala.say("/lapor katalog 1.25")
    assert [b.label for b in short[0].buttons] == ["1.250 produk", "125 produk"]
    assert _values(deps) == [1000]


async def test_wrong_figures_are_refused_naming_what_was_typed(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    cases = {
        "/lapor katalog -5": "Angka tidak boleh negatif: “-5”.",
        "/lapor p3dn -1": "tidak boleh negatif",
        "/lapor p3dn 100,5": "Persentase “100,5” tidak boleh lebih dari 100 %.",
        "/lapor katalog 40%": "“40%” memakai tanda %",
        "/lapor katalog 1.250,5": "“1.250,5” harus bilangan bulat",
    }
    for text, expected in cases.items():
        reply = await kepala.text(text)
        assert expected in reply and "Contoh yang benar: /lapor" in reply, text
    assert _values(deps) == [] and _values(deps, "p3dn") == []


async def test_a_drop_below_half_asks_yakin_and_records_only_after_ya(deps: Deps) -> None:
    kepala = _kepala(_with_katalog_target(deps, 500_000))
    await kepala.text("/lapor katalog 1.000")
    asked = await kepala.say("/lapor katalog 1")
    assert "Yakin? Sebelumnya 1.000, sekarang 1" in asked[0].text
    assert [b.label for b in asked[0].buttons] == ["Ya, catat", "Batal"]
    assert _values(deps) == [1000]  # not recorded yet
    assert "1.000 dari target" in await kepala.text("/status")
    yes = asked[0].buttons[0].payload
    assert yes.startswith("/lapor katalog 1 ")  # the exact figure rides on the button
    assert "e-Katalog lokal: 1 produk." in (await kepala.say("x", payload=yes))[0].text
    again = await kepala.say("x", payload=yes)  # a double tap
    assert "Sudah tercatat" in again[0].text
    assert _values(deps) == [1000, 1]  # recorded once


async def test_batal_on_yakin_records_nothing_and_a_late_ya_asks_again(deps: Deps) -> None:
    kepala = _kepala(_with_katalog_target(deps, 500_000))
    await kepala.text("/lapor katalog 1.000")
    asked = await kepala.say("/lapor katalog 300")
    assert "Yakin? Sebelumnya 1.000, sekarang 300" in asked[0].text
    assert "dibatalkan" in (await kepala.say("x", payload=asked[0].buttons[1].payload))[0].text
    assert _values(deps) == [1000]
    late = await kepala.say("x", payload=asked[0].buttons[0].payload)  # "Ya, catat" of the cancelled question
    assert "Yakin?" in late[0].text
    assert _values(deps) == [1000]


async def test_a_typed_ya_or_tidak_answers_yakin(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    await kepala.text("/lapor p3dn 45")
    assert "Yakin? Sebelumnya 45 %, sekarang 20 %" in await kepala.text("/lapor p3dn 20")
    assert "tidak dicatat" in await kepala.text("tidak")
    assert "Yakin?" in await kepala.text("/lapor p3dn 20")
    assert "P3DN/UMKK: 20 %." in await kepala.text("ya")
    assert "P3DN/UMKK: 44 %." in await kepala.text("/lapor p3dn 44")  # no longer below half of the latest
    assert _values(deps, "p3dn") == [45, 20, 44]


async def test_more_than_ten_times_the_target_asks_yakin(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    assert "Tercatat" in await kepala.text("/lapor katalog 100")  # exactly ten times the target of 10
    asked = await kepala.say("/lapor katalog 1.500")
    assert "Yakin? Sekarang 1.500 produk, lebih dari sepuluh kali target (10 produk)." in asked[0].text
    assert _values(deps) == [100]
    assert "1.500 produk" in (await kepala.say("x", payload=asked[0].buttons[0].payload))[0].text
    assert _values(deps) == [100, 1500]


async def test_the_admins_yakin_button_names_the_unit(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    asked = await admin.say("/lapor dinkes katalog 500")
    assert asked[0].buttons[0].payload.startswith("/lapor DINKES katalog 500 ")
    assert "Tercatat untuk Dinas Kesehatan" in (await admin.say("x", payload=asked[0].buttons[0].payload))[0].text


async def test_a_withdrawn_figure_is_not_the_previous_one(deps: Deps) -> None:
    kepala = _kepala(_with_katalog_target(deps, 500_000))
    await kepala.text("/lapor katalog 1.000")
    with deps.db.uow() as uow:
        report = uow.session.exec(select(Report)).one()
        report.withdrawn_at = deps.clock.now()
        uow.session.add(report)
        uow.commit()
    assert "e-Katalog lokal: 10 produk." in await kepala.text("/lapor katalog 10")  # no "Yakin?": 1.000 was withdrawn


async def test_a_word_of_size_or_a_second_number_after_the_figure_is_never_dropped(deps: Deps) -> None:
    """'2 juta' was recorded as 2 with 'juta' kept as a note, '5 6' as 5: now the first is asked about, the second
    refused; nothing is recorded until the person says which."""
    kepala = _kepala(_with_katalog_target(deps, 5_000_000))
    sized = await kepala.say("/lapor katalog 2 juta produk tayang")
    assert "“2 juta” kurang jelas" in sized[0].text and "Maksud Anda 2.000.000 produk?" in sized[0].text
    assert [(b.label, b.payload) for b in sized[0].buttons] == [("2.000.000 produk", "/lapor katalog 2.000.000")]
    refused = await kepala.text("/lapor katalog 5 6")
    assert "“5 6” bukan angka" in refused and "Contoh yang benar: /lapor" in refused
    assert "bukan persentase" in await kepala.text("/lapor p3dn 2 juta")
    assert _values(deps) == [] and _values(deps, "p3dn") == []
    done = await kepala.say("x", payload=sized[0].buttons[0].payload)
    assert "e-Katalog lokal: 2.000.000 produk." in done[0].text
    assert _values(deps) == [2_000_000] and _notes(deps) == ["produk tayang"]
