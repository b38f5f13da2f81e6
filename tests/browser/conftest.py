"""Fixtures for the browser tests: the real server on a loopback port, Debian's Chromium, axe-core.

The server is `uvicorn --factory api.app:create_app` in a subprocess, configured only through the
environment (as in production), on a copy of the demo SQLite database (and its index) that `api.cli.initialise` built once.
Chromium is the system package, launched by Playwright through `executable_path` (never
`playwright install`). Screenshots go to `test-artifacts/` (gitignored) for people to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.settings import Settings
from tests.support.chromium import playwright_launch_kwargs
from tests.support.server import running_server
from tests.support.templates import TemplateStore

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


@pytest.fixture(scope="package")
def server(template_store: TemplateStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("browser-server")
    demo = template_store.settings("sqlite", True, workdir)  # the demo database and its index
    settings = Settings(
        database_url=demo.database_url,
        index_dir=demo.index_dir,
        home_region="331000",
        secret_key="browser-test-secret",
        rate_limit_per_minute=100_000,
    )
    with running_server(settings, workdir) as url:
        yield Server(url, settings, workdir / "server.log")


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
