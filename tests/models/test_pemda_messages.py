"""The Pemda file's problems are told in Bahasa Indonesia: the key, what is wrong and the right form.

The admin who keeps the file is not a programmer: no message may be pydantic's own English. Clock times are
accepted as admins write them ("7:30", "07.30") and normalised.
"""

from __future__ import annotations

import re
from datetime import time

import pytest
from pydantic_core import ErrorDetails

from models.pemda import PemdaConfig, PemdaFileError, parse_pemda
from models.pemda_check import message

MINIMAL = """
[pemda]
name = "Pemerintah Kabupaten Contoh"
short_name = "Kabupaten Contoh"
place = "Contoh"

[letterhead]
office = "SEKRETARIAT DAERAH"
address = "Jalan Merdeka 1"

[signatory]
title = "BUPATI CONTOH"
name = "Budi"

[[programs]]
key = "katalog"
title = "Produk Tayang e-Katalog"
measure = "count"
"""

ENGLISH = re.compile(r"should|required|permitted|Input|instance of|characters|at least|greater|less than", re.I)


def problems(text: str) -> list[str]:
    """The problem lines of a file that does not pass, each asserted free of English."""
    with pytest.raises(PemdaFileError) as info:
        parse_pemda(text)
    lines = str(info.value).splitlines()
    assert lines[0].startswith("sigap.toml: isi tidak valid")
    found = [line.removeprefix("  - ") for line in lines[1:]]
    assert [line for line in found if ENGLISH.search(line)] == []
    return found


def with_lines(section: str, *lines: str) -> str:
    """MINIMAL with lines added right under `section` (a header such as '[pemda]'), or at the end as a new section."""
    if section in MINIMAL:
        return MINIMAL.replace(section + "\n", section + "\n" + "\n".join(lines) + "\n", 1)
    return MINIMAL + "\n" + section + "\n" + "\n".join(lines) + "\n"


def test_the_minimal_file_passes() -> None:
    pemda = parse_pemda(MINIMAL)
    assert pemda.pemda.work_start == time(8, 0) and pemda.sweep.times == [time(8, 0), time(13, 0)]


# ---------------------------------------------------------------------------------------------- clock times


@pytest.mark.parametrize("written", ["7:30", "07.30", "07:30", "7.30", " 07:30 ", "07:30:00"])
def test_a_time_is_accepted_as_admins_write_it(written: str) -> None:
    pemda = parse_pemda(with_lines("[pemda]", f'work_start = "{written}"'))
    assert pemda.pemda.work_start == time(7, 30)


def test_every_time_in_the_file_takes_the_same_forms() -> None:
    text = with_lines("[pemda]", 'work_start = "7:15"', 'work_end = "15.45"')
    text += '\n[checkin]\nat = "9.00"\nfollowup_at = "13.30"\n[sweep]\ntimes = ["7:00", "12.30", "16:00"]\n'
    text += '[digest]\nat = "6.45"\n'
    pemda = parse_pemda(text)
    assert (pemda.pemda.work_start, pemda.pemda.work_end) == (time(7, 15), time(15, 45))
    assert (pemda.checkin.at, pemda.checkin.followup_at) == (time(9, 0), time(13, 30))
    assert pemda.sweep.times == [time(7, 0), time(12, 30), time(16, 0)]
    assert pemda.digest.at == time(6, 45)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"7:3"', 'pemda.work_start: "7:3" bukan jam yang sah; tulis jam seperti "07:30"'),
        ('"25:00"', 'pemda.work_start: "25:00" bukan jam yang sah; tulis jam seperti "07:30"'),
        ('"07:60"', 'pemda.work_start: "07:60" bukan jam yang sah; tulis jam seperti "07:30"'),
        ('"jam 8"', 'pemda.work_start: "jam 8" bukan jam yang sah; tulis jam seperti "07:30"'),
        ("8", 'pemda.work_start: 8 bukan jam yang sah; tulis jam dalam tanda kutip seperti "07:30"'),
        ("7.30", 'pemda.work_start: 7.3 bukan jam yang sah; tulis jam dalam tanda kutip seperti "07:30"'),
    ],
)
def test_a_wrong_time_is_refused_with_the_form_to_write(value: str, expected: str) -> None:
    assert problems(with_lines("[pemda]", f"work_start = {value}")) == [expected]


def test_wrong_times_elsewhere_name_their_key() -> None:
    text = MINIMAL + '\n[sweep]\ntimes = ["8.00", "jam 1"]\n[checkin]\nfollowup_at = "13"\n[digest]\nat = "pagi"\n'
    assert problems(text) == [
        'checkin.followup_at: "13" bukan jam yang sah; tulis jam seperti "07:30"',
        'sweep.times[2]: "jam 1" bukan jam yang sah; tulis jam seperti "07:30"',
        'digest.at: "pagi" bukan jam yang sah; tulis jam seperti "07:30"',
    ]


def test_working_hours_out_of_order_show_both_times() -> None:
    assert problems(with_lines("[pemda]", 'work_start = "16.00"', 'work_end = "8:00"')) == [
        'pemda: work_start ("16:00") harus sebelum work_end ("08:00"), misalnya work_start = "08:00" dan '
        'work_end = "16:00"'
    ]


def test_times_read_back_from_a_dump_stay_the_same() -> None:
    pemda = parse_pemda(with_lines("[pemda]", 'work_start = "7:30"'))
    assert PemdaConfig.model_validate(pemda.model_dump()) == pemda
    assert PemdaConfig.model_validate(pemda.model_dump(mode="json")) == pemda


# -------------------------------------------------------------------------------------------- unknown keys


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            with_lines("[pemda]", 'work_strat = "08:00"'),
            "pemda.work_strat: kunci ini tidak dikenal; mungkin maksudnya work_start?",
        ),
        (
            with_lines("[pemda]", 'Work-Start = "08:00"'),
            "pemda.Work-Start: kunci ini tidak dikenal; mungkin maksudnya work_start?",
        ),
        (
            with_lines("[pemda]", 'mulai = "08:00"'),
            "pemda.mulai: kunci ini tidak dikenal; yang dikenal di [pemda]: name, short_name, head_title, place, "
            "timezone, work_start, work_end",
        ),
        (
            with_lines("[[programs]]", "tarket = 10"),
            "programs[1].tarket: kunci ini tidak dikenal; mungkin maksudnya target?",
        ),
        (
            with_lines("[digest]", "stale_days = 3"),
            "digest.stale_days: kunci ini tidak dikenal di [digest]; tempatnya di bagian [checkin]",
        ),
        (
            with_lines("[signatorys]", 'title = "X"'),
            "signatorys: bagian ini tidak dikenal; mungkin maksudnya signatory?",
        ),
        (
            with_lines("[letters]", 'approver = ["admin"]'),
            "letters.approver: kunci ini tidak dikenal; mungkin maksudnya approvers?",
        ),
    ],
)
def test_an_unknown_key_is_named_and_the_close_one_suggested(text: str, expected: str) -> None:
    assert problems(text) == [expected]


def test_a_renamed_section_is_both_unknown_and_missing() -> None:
    text = MINIMAL.replace("[letterhead]", "[kop]")
    assert problems(text) == [
        "letterhead: bagian ini wajib ada; tambahkan [letterhead] beserta isinya (lihat sigap.example.toml)",
        "kop: bagian ini tidak dikenal; yang dikenal: pemda, letterhead, signatory, letters, ladder, checkin, "
        "sweep, holidays, whatsapp_templates, evidence, figures, digest, programs",
    ]


# -------------------------------------------------------------------------------------- each kind of problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            with_lines("[letters]", 'approvers = ["admin", "wali kota"]'),
            'letters.approvers[2]: "wali kota" bukan pilihan yang dikenal; pilih salah satu: "admin", "pimpinan"',
        ),
        (
            with_lines("[letters]", 'approvers = ["pimpinann"]'),
            'letters.approvers[1]: "pimpinann" bukan pilihan yang dikenal; pilih salah satu: "admin", "pimpinan" '
            '(mungkin maksudnya "pimpinan"?)',
        ),
        (
            MINIMAL.replace('measure = "count"', 'measure = "jumlah"'),
            'programs[1].measure: "jumlah" bukan pilihan yang dikenal; pilih salah satu: "count", "percent", '
            '"checklist", "submission"',
        ),
        (
            MINIMAL.replace('measure = "count"', ""),
            'programs[1].measure: wajib diisi; tambahkan baris seperti measure = "count"; pilih salah satu: '
            '"count", "percent", "checklist", "submission"',
        ),
        (MINIMAL.replace('place = "Contoh"', ""), 'pemda.place: wajib diisi; tambahkan baris seperti place = "..."'),
        (
            MINIMAL.replace('[[programs]]\nkey = "katalog"\ntitle = "Produk Tayang e-Katalog"\nmeasure = "count"', ""),
            "programs: wajib ada; tambahkan minimal satu [[programs]]",
        ),
        (
            "programs = []\n" + MINIMAL.split("[[programs]]")[0],
            "programs: tidak boleh kosong; tulis paling sedikit 1 [[programs]]",
        ),
        (
            MINIMAL.replace('name = "Budi"', "name = 5"),
            'signatory.name: harus berupa teks dalam tanda kutip (tertulis 5), misalnya name = "5"',
        ),
        (
            MINIMAL.replace('name = "Pemerintah Kabupaten Contoh"', 'name = "Ab"'),
            'pemda.name: terlalu pendek (tertulis "Ab"); isi paling sedikit 3 karakter',
        ),
        (
            with_lines("[letters]", 'receipt_working_days = "dua"'),
            'letters.receipt_working_days: harus bilangan bulat tanpa tanda kutip (tertulis "dua"), '
            "misalnya receipt_working_days = 2",
        ),
        (
            with_lines("[letters]", "receipt_working_days = 2.5"),
            "letters.receipt_working_days: harus bilangan bulat tanpa tanda kutip (tertulis 2.5), "
            "misalnya receipt_working_days = 2",
        ),
        (
            with_lines("[letters]", "receipt_working_days = 0"),
            "letters.receipt_working_days: harus antara 1 dan 30 (tertulis 0); misalnya receipt_working_days = 2",
        ),
        (
            with_lines("[[programs]]", "target = -1"),
            "programs[1].target: tidak boleh kurang dari 0 (tertulis -1); misalnya target = 1",
        ),
        (
            with_lines("[evidence]", "max_mb = 0"),
            "evidence.max_mb: harus lebih dari 0 (tertulis 0); misalnya max_mb = 20",
        ),
        (
            with_lines("[[programs]]", 'target = "sepuluh"'),
            'programs[1].target: harus angka tanpa tanda kutip (tertulis "sepuluh"), misalnya target = 1',
        ),
        (
            with_lines("[letters]", 'require_approval = "ya"'),
            'letters.require_approval: harus true atau false tanpa tanda kutip (tertulis "ya"), '
            "misalnya require_approval = true",
        ),
        (
            with_lines("[[programs]]", 'applies_to = "dinas"'),
            'programs[1].applies_to: harus berupa daftar dalam kurung siku (tertulis "dinas"), '
            'misalnya applies_to = ["dinas"]',
        ),
        (
            with_lines("[[holidays]]", 'date = "24-12-2026"', 'reason = "Cuti bersama"'),
            'holidays[1].date: bukan tanggal yang sah (tertulis "24-12-2026"); tulis tahun-bulan-tanggal seperti '
            '"2026-12-24"',
        ),
        (
            with_lines("[[programs]]", 'deadlines = { "2026" = "14-12-2026" }'),
            'programs[1].deadlines.2026: bukan tanggal yang sah (tertulis "14-12-2026"); tulis tahun-bulan-tanggal '
            'seperti "2026-12-24"',
        ),
        (
            with_lines("[[programs]]", 'deadlines = "2026-12-14"'),
            'programs[1].deadlines: harus berupa tabel (tertulis "2026-12-14"), misalnya '
            'deadlines = { "2026" = "2026-12-24" }',
        ),
        (
            with_lines("[[programs]]", 'verifier = "admin"'),
            'programs[1].verifier: harus berupa tabel berisi kunci-kunci, bukan satu nilai (tertulis "admin"), '
            'misalnya verifier = { role = "admin", unit = "..." }',
        ),
        (
            "signatory = 1\n" + MINIMAL.replace("[signatory]\n", "[letterhead.x]\n"),
            "signatory: harus berupa bagian berisi kunci-kunci, bukan satu nilai (tertulis 1); tulis [signatory], "
            "kuncinya di bawahnya",
        ),
        (
            MINIMAL.replace('key = "katalog"', 'key = "e-Katalog"'),
            'programs[1].key: bentuknya tidak sesuai (tertulis "e-Katalog"); pakai huruf kecil, angka atau garis '
            'bawah, diawali huruf, 2-32 karakter, misalnya key = "katalog"',
        ),
        (
            with_lines("[[programs]]", 'deadline = "15 Desember"'),
            'programs[1].deadline: bentuknya tidak sesuai (tertulis "15 Desember"); tulis "BB-HH" (bulan-tanggal) '
            'seperti deadline = "12-15", atau "+N" (N hari setelah periode berakhir) seperti deadline = "+10"',
        ),
        (
            with_lines("[[ladder]]", "offset_days = 120", 'kind = "pengingat"'),
            "ladder[1].offset_days: harus antara -90 dan 90 (tertulis 120); misalnya offset_days = 1",
        ),
    ],
)
def test_each_problem_is_told_in_indonesian_with_the_right_form(text: str, expected: str) -> None:
    assert expected in problems(text)


def test_a_problem_pydantic_has_no_translation_for_is_still_indonesian() -> None:
    error = ErrorDetails(type="url_parsing", loc=("pemda", "name"), msg="Input should be a valid URL", input="x")
    said = message(PemdaConfig, error)
    assert said == (
        'nilai ini tidak dapat diterima (tertulis "x"); bandingkan dengan contoh di sigap.example.toml '
        "(kode: url_parsing)"
    )
    assert not ENGLISH.search(said)
