"""Fixtures for the browser tests: the real server on a loopback port, Debian's Chromium, axe-core.

The server is `uvicorn --factory api.app:create_app` in a subprocess, configured only through the
environment (as in production), on a demo SQLite database built with `api.cli.initialise`.
Chromium is the system package, launched by Playwright through `executable_path` (never
`playwright install`). Screenshots go to `test-artifacts/` (gitignored) for people to look at.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.settings import Settings
from tests.support.chromium import playwright_launch_kwargs

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
AXE_PATH = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_VERSION = "4.14.1"

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@dataclass(frozen=True)
class Server:
    url: str
    settings: Settings
    log: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from api.cli import initialise

    workdir = tmp_path_factory.mktemp("browser-server")
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{workdir / 'tongban.db'}",
        index_dir=workdir / "index",
        home_region="331000",
        secret_key="browser-test-secret",
        rate_limit_per_minute=100_000,
    )
    # In a worker thread: pytest-asyncio may already run an event loop in this one.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, initialise(settings, demo=True, quiet=True)).result()
    port = _free_port()
    env = {
        **os.environ,
        "TONGBAN_DATABASE_URL": settings.database_url,
        "TONGBAN_INDEX_DIR": str(settings.index_dir),
        "TONGBAN_SECRET_KEY": settings.secret_key,
        "TONGBAN_HOME_REGION": settings.home_region,
        "TONGBAN_RATE_LIMIT_PER_MINUTE": "100000",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    }
    log = workdir / "server.log"
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "api.app:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"server exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"server not ready after 60 s:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield Server(url, settings, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# Package scope: Playwright's sync API keeps an event loop running in this thread while it is
# open, and pytest-asyncio cannot start its own loops then; closing it when tests/browser is done
# lets the async tests that follow run.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    try:
        launch = playwright_launch_kwargs()
    except RuntimeError as error:
        pytest.fail(str(error))
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(**launch)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_PATH.is_file():
        pytest.fail(
            f"axe-core is missing ({AXE_PATH.relative_to(ROOT)}): add "
            f'"axe-core": "{AXE_VERSION}" to package.json devDependencies and run scripts/bootstrap'
        )
    return AXE_PATH.read_text(encoding="utf-8")
