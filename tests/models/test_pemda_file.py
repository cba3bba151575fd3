"""The Pemda file: the example is valid; a wrong file names the key and the problem."""

from __future__ import annotations

import pytest

from bot.settings import EXAMPLE_PEMDA
from models.pemda import PemdaFileError, load_pemda, parse_pemda


def test_example_file_has_the_four_programs() -> None:
    pemda = load_pemda(EXAMPLE_PEMDA)
    assert [p.key for p in pemda.programs] == ["inovasi", "katalog", "p3dn", "mcp"]
    katalog = pemda.program("ekatalog")
    assert katalog is not None and katalog.total_target == 500
    p3dn = pemda.program("p3dn")
    assert p3dn is not None and p3dn.measure == "percent" and p3dn.target == 40
    mcp = pemda.program("mcp")
    assert mcp is not None and all(item.unit for item in mcp.checklist)
    assert [s.key for s in pemda.ladder] == ["H-14", "H-7", "H-3", "H-1", "H+1", "H+7", "H+14"]


def _broken(old: str, new: str) -> str:
    text = EXAMPLE_PEMDA.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('timezone = "Asia/Jakarta"', 'timezone = "Asia/Bandung"', "pemda.timezone: zona waktu tidak dikenal"),
        ("target = 40", "target = 140", "programs[3]: target persentase tidak boleh di atas 100"),
        ("target = 10 ", 'target = "sepuluh" ', "programs[2].target"),
        ('measure = "count"', 'measure = "jumlah"', "programs[2].measure"),
        ('deadline = "12-15"', 'deadline = "13-45"', "programs[1]: deadline '13-45'"),
        ("[letterhead]", "[kop]", "kop: bagian ini tidak dikenal"),
        ('approvers = ["admin"]', 'approvers = ["admin", "wali kota"]', 'letters.approvers[2]: "wali kota" bukan'),
    ],
)
def test_wrong_file_names_key_and_problem(old: str, new: str, expected: str) -> None:
    with pytest.raises(PemdaFileError) as info:
        parse_pemda(_broken(old, new))
    assert expected in str(info.value)


def test_not_toml_at_all() -> None:
    with pytest.raises(PemdaFileError, match="bukan TOML yang sah"):
        parse_pemda("[pemda\nname=")
