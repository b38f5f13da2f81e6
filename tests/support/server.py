"""A real tongban server process for browser tests: uvicorn on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server(settings: Settings, workdir: Path) -> Iterator[str]:
    """`uvicorn --factory api.app:create_app` on a free loopback port against `settings`; yields
    its URL once /healthz answers 200, and stops it afterwards."""
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
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _add_accounts(settings: Settings, accounts: tuple[tuple[str, str, str, str], ...]) -> None:
    from api.db import Database
    from api.services.base import SYSTEM
    from api.services.regions import load_tree
    from api.services.users import add_user

    database = Database(settings.database_url)
    try:
        async with database.write() as session:
            tree = await load_tree(session)
            for name, password, role, region in accounts:
                await add_user(session, SYSTEM, tree, settings.home_region, name, password, role, region)
    finally:
        await database.dispose()


@contextlib.contextmanager
def demo_server(workdir: Path, *accounts: tuple[str, str, str, str]) -> Iterator[str]:
    """A served demo database on SQLite (a copy of the session's demo template and its index) with
    staff `accounts` (name, password, role, region), for browser journeys: its base URL while the
    block runs."""
    import asyncio
    import concurrent.futures

    from tests.support import templates

    demo = templates.shared().settings("sqlite", True, workdir)
    settings = Settings(
        database_url=demo.database_url,
        index_dir=demo.index_dir,
        home_region="331000",
        secret_key=f"browser-secret-{workdir.name}",
    )
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:  # no event loop may run here
        pool.submit(asyncio.run, _add_accounts(settings, accounts)).result()
    with running_server(settings, workdir) as url:
        yield url
