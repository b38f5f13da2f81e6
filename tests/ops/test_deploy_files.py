"""The deploy/ files that CI cannot run (systemd is not there): each unit is well formed, runs a
command `tongban` has, with the options it accepts, and the timers are the ones documented."""

from __future__ import annotations

import configparser
import shlex
import subprocess
from pathlib import Path

import pytest

from api.cli import build_parser
from tests.support.server import ROOT

SYSTEMD = ROOT / "deploy" / "systemd"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((SYSTEMD / name).read_text(encoding="utf-8"))
    return parser


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("tongban@.service", ["serve", "--host", "127.0.0.1", "--port", "8001", "--workers", "2"]),
        ("tongban-reindex@.service", ["reindex"]),
    ],
)
def test_units_run_commands_tongban_has(name: str, command: list[str]) -> None:
    service = unit(name)["Service"]
    words = shlex.split(service["ExecStart"].replace("%i", "8001"))
    assert words[0] == "/opt/tongban/.venv/bin/tongban" and words[1:] == command
    build_parser().parse_args(words[1:])  # exits on an unknown option
    assert service["User"] == "tongban" and "EnvironmentFile" in service


def test_instance_unit_waits_for_readiness_and_keeps_state_apart() -> None:
    service = unit("tongban@.service")["Service"]
    assert "/readyz" in service["ExecStartPost"]
    text = (SYSTEMD / "tongban@.service").read_text(encoding="utf-8")
    for line in (
        "TONGBAN_INDEX_DIR=/var/lib/tongban/index-%i",
        "TONGBAN_RUN_DIR=/run/tongban-%i",
        "RuntimeDirectory=tongban-%i",
    ):
        assert line in text


@pytest.mark.parametrize(
    ("timer", "calendar", "service"),
    [
        ("tongban-backup.timer", "*-*-* 02:30:00", "tongban-backup.service"),
        ("tongban-reindex@.timer", "Sun *-*-* 03:30:00", "tongban-reindex@.service"),
    ],
)
def test_timers(timer: str, calendar: str, service: str) -> None:
    assert unit(timer)["Timer"]["OnCalendar"] == calendar
    assert unit(timer)["Timer"]["Persistent"] in ("true", "yes")
    assert (SYSTEMD / service).is_file()  # a timer starts the service of its own name


def test_backup_unit_runs_the_backup_script() -> None:
    service = unit("tongban-backup.service")["Service"]
    assert service["ExecStart"] == "/opt/tongban/deploy/backup.sh"
    script = ROOT / "deploy" / "backup.sh"
    assert script.stat().st_mode & 0o111
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0


def test_backup_script_refuses_what_it_cannot_back_up(tmp_path: Path) -> None:
    script = str(ROOT / "deploy" / "backup.sh")
    sqlite = subprocess.run(
        ["bash", script],
        env={
            "PATH": "/usr/bin:/bin",
            "TONGBAN_DATABASE_URL": "sqlite+aiosqlite:///x.db",
            "TONGBAN_BACKUP_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
    )
    assert sqlite.returncode == 2 and "tongban export" in sqlite.stderr
    unset = subprocess.run(["bash", script], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert unset.returncode != 0 and "TONGBAN_DATABASE_URL" in unset.stderr
    assert list(tmp_path.iterdir()) == []
