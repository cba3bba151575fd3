"""A wrong `.env` or an unusable database is reported in one clear message naming what to fix, never a traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import ROOT, Settings

SECRET_TOKEN = "777001:AAE-very-secret-token"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in Settings.model_fields:
        alias = Settings.model_fields[name].validation_alias
        monkeypatch.delenv(str(alias), raising=False)
    monkeypatch.setenv("SIGAP_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SIGAP_LOG_LEVEL", "WARNING")
    return tmp_path


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SIGAP_HTTP_PORT", "delapan"),
        ("SIGAP_HTTP_PORT", "70000"),
        ("SIGAP_INVITE_DAYS", "0"),
        ("TELEGRAM_RATE_GLOBAL", "cepat"),
        ("SIGAP_LOG_LEVEL", "CEREWET"),
    ],
)
def test_a_bad_setting_names_the_variable(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert name in err and ".env.example" in err
    assert "Traceback" not in err and "pydantic" not in err


def test_a_bad_setting_in_dotenv_is_reported_without_the_secret_values(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (env / ".env").write_text(f"TELEGRAM_BOT_TOKEN={SECRET_TOKEN}\nSIGAP_HTTP_PORT=80a\n", encoding="utf-8")
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "SIGAP_HTTP_PORT" in err and SECRET_TOKEN not in err


def test_unreachable_database_is_named_without_its_password(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as probe:  # a port on 127.0.0.1 where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("SIGAP_DATABASE_URL", f"postgresql://sigap:s3cr3t-pw@127.0.0.1:{port}/sigap")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", SECRET_TOKEN)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "SIGAP_DATABASE_URL" in err and f"127.0.0.1:{port}" in err
    assert "s3cr3t-pw" not in err and SECRET_TOKEN not in err and "Traceback" not in err


def test_database_without_schema_says_to_run_db_upgrade(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", SECRET_TOKEN)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "sigap db upgrade" in err and "Traceback" not in err


def test_half_configured_whatsapp_is_refused_instead_of_opening_the_console(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "EAAG-token")
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "WHATSAPP_PHONE_NUMBER_ID" in err and "EAAG-token" not in err


def test_env_example_lists_every_setting() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE))
    fields = {str(f.validation_alias) for f in Settings.model_fields.values()}
    assert listed == fields
    written = {k: v for k, v in re.findall(r"^([A-Z][A-Z0-9_]+)=(.*)$", example, flags=re.MULTILINE) if v}
    as_documented = Settings(_env_file=None, **written)
    assert as_documented.model_dump() == Settings(_env_file=None).model_dump()
