"""The `tongban` command as staff run it: real processes, real files, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.settings import Settings

TONGBAN = [sys.executable, "-m", "api.cli"]


def run(args: list[str], settings: Settings, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TONGBAN_DATABASE_URL": settings.database_url,
        "TONGBAN_INDEX_DIR": str(settings.index_dir),
        "TONGBAN_SECRET_KEY": "cli-test",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    return subprocess.run(TONGBAN + args, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=300)


def test_init_demo_twice_changes_nothing_the_second_time(settings: Settings, tmp_path: Path) -> None:
    result = run(["init", "--demo"], settings, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "变更: 无" in result.stdout
    assert "新增行政区划 0 个" in result.stdout


def test_import_with_unknown_region_exits_non_zero_and_names_the_row(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "agreements": [
                    {"key": "good", "partnerCode": "511300", "localCode": "331004", "signedOn": "2024-01-01"},
                    {"key": "bad", "partnerCode": "000000", "localCode": "331004", "signedOn": "2024-01-01"},
                ]
            }
        ),
        encoding="utf-8",
    )
    before = run(["export", str(tmp_path / "before.json")], settings, tmp_path)
    assert before.returncode == 0, before.stderr
    result = run(["import", str(bad)], settings, tmp_path)
    assert result.returncode != 0
    assert "agreements 第2条 (bad) 字段 partnerCode" in result.stderr and "000000" in result.stderr
    run(["export", str(tmp_path / "after.json")], settings, tmp_path)
    assert (tmp_path / "before.json").read_text(encoding="utf-8") == (tmp_path / "after.json").read_text(encoding="utf-8")


def test_import_of_unreadable_file_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    result = run(["import", str(broken)], settings, tmp_path)
    assert result.returncode != 0
    assert "不是有效的 JSON" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_user_and_token_commands(settings: Settings, tmp_path: Path) -> None:
    made = run(["user", "add", "luqiao-staff", "--role", "county", "--region", "331004"], settings, tmp_path, stdin="a long enough password\n")
    assert made.returncode == 0, made.stderr
    token = run(["token", "add", "luqiao-staff"], settings, tmp_path)
    assert token.returncode == 0 and token.stdout.strip().startswith("tb_")
    wrong = run(["user", "add", "x", "--role", "county", "--region", "511300"], settings, tmp_path, stdin="a long enough password\n")
    assert wrong.returncode != 0 and "region" in wrong.stderr
