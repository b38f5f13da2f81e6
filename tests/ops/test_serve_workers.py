"""`tongban serve --workers 2` as an operator runs it: one rate limit for the host (the workers
share their buckets), /metrics adding up every worker's counts (multiprocess mode), JSON log lines
with the worker's pid and the request id. The limiter and the metrics do not touch the database,
so SQLite stands for both backends here."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.settings import Settings
from tests.ops.test_metrics import samples, value
from tests.support.server import ROOT, _free_port

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


@contextlib.contextmanager
def served(
    settings: Settings, workdir: Path, workers: int, extra_env: dict[str, str]
) -> Iterator[tuple[str, Path]]:
    port = _free_port()
    env = {
        **os.environ,
        "TONGBAN_DATABASE_URL": settings.database_url,
        "TONGBAN_INDEX_DIR": str(settings.index_dir),
        "TONGBAN_SECRET_KEY": settings.secret_key,
        "TONGBAN_HOME_REGION": settings.home_region,
        "PYTHONPATH": str(ROOT),
        **extra_env,
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("TONGBAN_RUN_DIR", None)
    log = workdir / "serve.log"
    command = [
        sys.executable,
        "-m",
        "api.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        ready = 0
        while ready < workers * 3:  # a few answers in a row: every worker is up
            if process.poll() is not None:
                pytest.fail(f"serve exited {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"not ready after 90 s:\n{log.read_text(errors='replace')[-3000:]}")
            try:
                ready = ready + 1 if httpx.get(url + "/readyz", timeout=5).status_code == 200 else 0
            except httpx.HTTPError:
                ready = 0
            time.sleep(0.2)
        yield url, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_two_workers_share_one_rate_limit_and_one_metrics_view(settings: Settings, tmp_path: Path) -> None:
    per_minute = 60  # a burst of 10, then one a second, for each address on the whole host
    planted = "planted-" + uuid.uuid4().hex  # a query string is never logged (uvicorn's access line did)
    with served(
        settings,
        tmp_path,
        2,
        {"TONGBAN_RATE_LIMIT_PER_MINUTE": str(per_minute), "TONGBAN_LOG_FORMAT": "json"},
    ) as (url, log):
        statuses = []
        started = time.monotonic()
        for number in range(40):
            # a new connection each time: the kernel spreads them over both workers' sockets
            with httpx.Client(base_url=url, timeout=10) as fresh:
                statuses.append(
                    fresh.get(
                        "/search",
                        params={"q": "社保卡", "token": planted},
                        headers={"X-Request-ID": f"limit-{number}"},
                    ).status_code
                )
        elapsed = time.monotonic() - started
        allowed = statuses.count(200)
        assert set(statuses) <= {200, 429}, statuses
        # one budget for the host: the burst plus what refilled meanwhile (per worker it was twice that)
        assert allowed <= 10 + int(elapsed * per_minute / 60) + 1, (allowed, elapsed, statuses)
        assert statuses.count(429) >= 40 - allowed > 0

        found = samples(httpx.get(url + "/metrics", timeout=10).text)
        counted = sum(
            value(found, "tongban_http_requests_total", method="GET", route="/search", status=str(s))
            for s in (200, 429)
        )
        assert counted == 40  # every worker's requests, whichever answered the scrape
        assert value(found, "tongban_db_pool_size") >= 2  # both workers' pools
        refused = httpx.get(url + "/metrics", headers={"X-Forwarded-For": "203.0.113.5"}, timeout=10)
        assert refused.status_code == 404  # a proxied outsider is not loopback

    assert planted not in log.read_text()
    lines = [json.loads(line) for line in log.read_text().splitlines()]  # every line is JSON
    access = [line for line in lines if line["logger"] == "tongban.access" and line.get("route") == "/search"]
    assert len(access) == 40
    assert {line["request_id"] for line in access} == {f"limit-{n}" for n in range(40)}
    assert len({line["pid"] for line in access}) == 2, "the load did not reach both workers"
