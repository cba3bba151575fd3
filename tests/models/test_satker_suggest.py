"""The closest unit suggested for a satker of an LKPP export may differ in the words many units share, never in the
word that tells units apart: a DPRD satker is not the Sekretariat Daerah."""

from __future__ import annotations

from models.satkers import closest_unit
from models.tables import Unit

DROP = ("Kabupaten Teluk Wondama",)


def units(*rows: tuple[str, str, str]) -> list[Unit]:
    return [Unit(code=code, name=name, kind="sekretariat", aliases=aliases) for code, name, aliases in rows]


def test_a_dprd_satker_is_not_suggested_as_the_sekretariat_daerah() -> None:
    pemda = units(("SETDA", "Sekretariat Daerah", "setda"), ("DINKES", "Dinas Kesehatan", "dinkes"))
    assert closest_unit("SEKRETARIAT DPRD KABUPATEN TELUK WONDAMA", pemda, DROP) is None
    with_dprd = [*pemda, *units(("SETWAN", "Sekretariat DPRD", "setwan,dprd"))]
    assert closest_unit("SEKRETARIAT DPRD KABUPATEN TELUK WONDAMA", with_dprd, DROP) == ("SETWAN", "Sekretariat DPRD")


def test_a_typo_or_a_shared_word_still_finds_the_unit() -> None:
    pemda = units(("DINKES", "Dinas Kesehatan", "dinkes"), ("DISDIK", "Dinas Pendidikan", "disdik"))
    assert closest_unit("DINAS KESEHATN KABUPATEN TELUK WONDAMA", pemda, DROP) == ("DINKES", "Dinas Kesehatan")
    assert closest_unit("KANTOR DINAS PENDIDIKAN", pemda, DROP) == ("DISDIK", "Dinas Pendidikan")
