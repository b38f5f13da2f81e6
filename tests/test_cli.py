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


def run(
    args: list[str], settings: Settings, cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TONGBAN_DATABASE_URL": settings.database_url,
        "TONGBAN_INDEX_DIR": str(settings.index_dir),
        "TONGBAN_SECRET_KEY": "cli-test",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    return subprocess.run(
        TONGBAN + args, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=300
    )


def test_init_demo_twice_changes_nothing_the_second_time(settings: Settings, tmp_path: Path) -> None:
    result = run(["init", "--demo"], settings, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "变更: 无" in result.stdout
    assert "新增行政区划 0 个" in result.stdout


def test_import_with_unknown_region_exits_non_zero_and_names_the_row(
    settings: Settings, tmp_path: Path
) -> None:
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
    assert (tmp_path / "before.json").read_text(encoding="utf-8") == (tmp_path / "after.json").read_text(
        encoding="utf-8"
    )


def test_import_of_unreadable_file_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    result = run(["import", str(broken)], settings, tmp_path)
    assert result.returncode != 0
    assert "不是有效的 JSON" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_user_and_token_commands(settings: Settings, tmp_path: Path) -> None:
    made = run(
        ["user", "add", "luqiao-staff", "--role", "county", "--region", "331004"],
        settings,
        tmp_path,
        stdin="a long enough password\n",
    )
    assert made.returncode == 0, made.stderr
    token = run(["token", "add", "luqiao-staff"], settings, tmp_path)
    assert token.returncode == 0 and token.stdout.strip().startswith("tb_")
    wrong = run(
        ["user", "add", "x", "--role", "county", "--region", "511300"],
        settings,
        tmp_path,
        stdin="a long enough password\n",
    )
    assert wrong.returncode != 0 and "region" in wrong.stderr


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(entry.name))
    return kids


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the TCP sockets listening on `port` (state 0A in /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[1].endswith(f":{port:04X}") and parts[3] == "0A":
            found.add(parts[9])
    return found


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def test_serve_with_two_workers_gives_each_its_own_listening_socket(
    settings: Settings, tmp_path: Path
) -> None:
    """A burst of keep-alive connections must reach both workers: with one shared socket asyncio let
    the first worker to wake accept the whole burst, and 2 workers served no more than 1."""
    import socket
    import time

    import httpx

    assert run(["init", "--demo"], settings, tmp_path).returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "TONGBAN_DATABASE_URL": settings.database_url,
        "TONGBAN_INDEX_DIR": str(settings.index_dir),
        "TONGBAN_SECRET_KEY": "cli-test",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [*TONGBAN, "serve", "--workers", "2", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline:
            workers = [
                k for k in _children(server.pid) if "spawn_main" in Path(f"/proc/{k}/cmdline").read_text()
            ]
            if len(workers) == 2 and len(_listening_inodes(port)) == 2:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            time.sleep(0.3)
        else:
            pytest.fail(
                f"wanted 2 workers listening on 2 sockets, saw {len(workers)} workers and "
                f"{len(_listening_inodes(port))} listening sockets: "
                + (tmp_path / "serve.log").read_text(errors="replace")[-2000:]
            )
        listening = _listening_inodes(port)
        assert len(listening) == 2
        assert all(len(_socket_inodes(w) & listening) == 1 for w in workers)  # one each, not one shared
        clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}") for _ in range(16)]
        try:
            assert all(c.get("/healthz").status_code == 200 for c in clients)
        finally:
            for c in clients:
                c.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert server.returncode == 0


def test_serve_runs_workers_with_the_collector_tuned_for_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    """`tongban serve` builds its app with `create_served_app`, which sets the serving GC thresholds
    (full collections under load were the p99 tail); `create_app` itself leaves the process alone."""
    import gc

    import uvicorn

    from api import app as app_module
    from api import cli

    configs = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, *a, **k: configs.append(self.config))
    assert cli._serve(Settings(), "127.0.0.1", 0, 1) == 0
    assert configs[0].app == "api.app:create_served_app" and configs[0].factory

    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        app_module.create_app(Settings())
        assert gc.get_threshold() == (700, 10, 10)
        app_module.create_served_app()
        assert gc.get_threshold() == app_module.SERVING_GC_THRESHOLDS
    finally:
        gc.set_threshold(*before)


def test_served_workers_exempt_each_catalog_snapshot_from_the_collector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A served worker freezes what is alive after each snapshot loads (a full collection walked
    the snapshot for ~90 ms and found nothing); `create_app` alone leaves the collector be."""
    import gc

    from api import app as app_module

    hooks: list[object] = []
    real = app_module.create_app
    monkeypatch.setattr(
        app_module, "create_app", lambda *a, **k: hooks.append(k.get("on_catalog_load")) or real(*a, **k)
    )
    before = gc.get_threshold()
    try:
        app_module.create_served_app()
    finally:
        gc.set_threshold(*before)
    assert hooks == [app_module.exempt_long_lived]

    kept = [object() for _ in range(3)]  # tracked containers stand in for a snapshot
    holder = {"kept": kept}
    try:
        app_module.exempt_long_lived()
        assert gc.get_freeze_count() > 0
        assert not any(obj is holder for obj in gc.get_objects())  # no collection walks it now
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
    assert any(obj is holder for obj in gc.get_objects())
