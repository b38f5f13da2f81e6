"""The benchmark of issue 8: tongban against a hello-world baseline, on one machine, in one run.

Usage (from the repository root)::

    .venv/bin/python bench/run.py                      # full run, 5-7 minutes on 2 cores (most of it
                                                       # the app's own import of 20,000 matters)
    .venv/bin/python bench/run.py --quick              # tiny sizes, 2 s per endpoint (smoke run)
    .venv/bin/python bench/run.py --workers 2          # also the search page with 2 workers (scaling goal)
    .venv/bin/python bench/run.py --json bench.json    # save every figure as JSON too
    .venv/bin/python bench/run.py --profile prof/      # then py-spy each endpoint under load (needs py-spy)

Options: ``--matters N`` (5000) ``--halls N`` (300) ``--agreements N`` (1000) ``--duration S`` (10,
per endpoint) ``--warmup S`` (2) ``--max-duration S`` (40) ``--connections N`` (32) ``--distinct N``
(2000 requests per endpoint) ``--workers 1|2`` (1) ``--reindex-matters N`` (20000; 0 skips that
step) ``--client auto|wrk|python`` (auto: wrk when installed) ``--keep`` (keep the temporary folder
and print its path) ``--seed N``.

What it does, in order (all in a new temporary folder; nothing in the checkout is touched):

1. ``tongban init --demo`` into a fresh SQLite database and index (timed: goal ≤ 30 s);
2. generates the scale data set (bench/scale_data.py: 5,000 matters, 300 halls in the real Taizhou
   counties and towns, 1,000 agreements with real partner regions outside Zhejiang) and runs
   ``tongban import`` on it (timed, for information);
3. starts the server the way the README does — ``tongban serve --host 127.0.0.1 --port P --workers 1``
   as a subprocess with ``TONGBAN_DATABASE_URL`` / ``TONGBAN_INDEX_DIR`` pointing at the folder — and
   waits for ``/healthz`` 200; starts bench/hello.py (Starlette hello-world, uvicorn, same flags);
4. loads each from loopback (wrk with a generated Lua script that rotates through the requests, or
   a small asyncio keep-alive client), after a warm-up: hello-world, the search results page
   ``/search?q=…&home=…``, GraphQL ``whereToHandle(first: 10)`` and ``coverage`` (POST JSON, with
   variables), the region page ``/regions/{code}``, then hello-world again; queries, home regions,
   matters and locations rotate through ``--distinct`` (2,000) requests per endpoint, so neither
   one cached URL nor a small per-URL cache can answer them all; after each warm-up and each
   measurement it waits until the server has worked off what is still queued, and an endpoint too
   slow to answer 3 × connections requests in the window is measured again over a longer one
   (``--max-duration``, 40 s);
5. reads the server's peak RSS (``VmHWM`` in /proc/PID/status; per worker with ``--workers 2``);
6. with ``--workers 2``: restarts the server with 2 workers and loads the search page again;
7. stops the servers, grows the data to ``--reindex-matters`` matters (generate + import) and times
   ``tongban reindex``.

Every figure is printed in one table with the goal next to it (PASS/MISS). The ratio is the
endpoint's req/s over hello-world's req/s (the mean of the two hello-world runs) in the same run, so
it holds on a noisy machine; the 1-minute load average before and after is printed too.
The rate limit is switched off for the server under test (``TONGBAN_RATE_LIMIT_PER_MINUTE=0``),
otherwise a single loopback address would be answered 429 after the first burst.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import scale_data  # noqa: E402

PYTHON = Path(sys.executable)
VENV_BIN = PYTHON.parent
DEMO_JSON = ROOT / "api" / "data" / "demo.json"

# ----------------------------------------------------------------------------- goals (issue 8)

RATIO_GOALS = {"search": 0.15, "whereToHandle": 0.10}
P99_GOAL_MS = 50.0
RSS_GOAL_MB = 250.0
INIT_GOAL_S = 30.0
REINDEX_GOAL_S = 20.0
SCALING_GOAL = 1.6

ENDPOINTS = ("search", "whereToHandle", "coverage", "region")

# ----------------------------------------------------------------------------- realistic requests

# Colloquial and official queries citizens type (the search page must handle both).
SEARCH_QUERIES = [
    "社保卡丢了",
    "异地看病报销",
    "买房提公积金",
    "宝宝上户口",
    "gongjijin",
    "sbk",
    "办社保卡",
    "社保卡坏了换一张",
    "退休了取公积金",
    "驾照到期换证",
    "驾驶证换证",
    "开无犯罪证明",
    "无犯罪记录证明",
    "营业执照怎么办",
    "开公司",
    "个体户注册",
    "身份证丢了",
    "临时身份证",
    "居住证",
    "户口迁移",
    "投靠子女落户",
    "大学生毕业户口",
    "医保转移",
    "养老保险转移",
    "社保转移",
    "失业登记",
    "公积金贷款证明",
    "公积金查询",
    "不动产登记",
    "房产证查询",
    "抵押登记",
    "完税证明",
    "个税",
    "结婚登记",
    "出生证明",
    "老年人优待证",
    "慢性病报销",
    "门诊慢特病",
    "灵活就业参保",
    "城乡居民医保",
    "学历公证",
    "排污许可",
    "生产许可证",
    "户口本补办",
    "异地就医备案",
    "yidijiuyi",
    "shebaoka",
    "gjj",
    "医保",
    "公积金",
    "社保",
    "户口",
    "驾照",
    "身份证",
    "护照",
    "就业创业证",
    "职业资格证书查询",
    "残疾人补贴",
    "退役军人优待证",
    "教师资格证",
    "食品经营许可证",
    "道路运输证",
]
GRAPHQL_WHERE = """query WhereToHandle($home: String!, $matter: String!, $lat: Float, $lon: Float) {
  whereToHandle(homeRegionCode: $home, matterCode: $matter, latitude: $lat, longitude: $lon, first: 10) {
    hall { id name address phone openingHours latitude longitude region { code name } }
    distanceKm modes explanation
    agreements { title signedOn partner { code name } }
  }
}"""
GRAPHQL_COVERAGE = """query Coverage($home: String!, $matter: String) {
  coverage(homeRegionCode: $home, matterCode: $matter) {
    covered explanation
    homeRegion { code fullName }
    matter { code name scope }
    agreements { title signedOn effectiveFrom expiresOn status partner { code name } }
    localRegions { code name }
  }
}"""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes = b""
    content_type: str = ""

    def raw(self, host: str) -> bytes:
        lines = [
            f"{self.method} {self.path} HTTP/1.1",
            f"Host: {host}",
            "User-Agent: tongban-bench",
            "Accept: */*",
        ]
        if self.body or self.method == "POST":
            lines += [f"Content-Type: {self.content_type}", f"Content-Length: {len(self.body)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + self.body


@dataclass
class Workload:
    """The rotating request lists, one per endpoint, drawn from the data actually loaded."""

    requests: dict[str, list[Request]]
    notes: dict[str, str] = field(default_factory=dict)


def _graphql(query: str, variables: dict[str, Any]) -> Request:
    body = json.dumps(
        {"query": query, "variables": variables}, ensure_ascii=True, separators=(",", ":")
    ).encode()
    return Request("POST", "/graphql", body, "application/json")


def build_workload(
    document: dict[str, Any], demo: dict[str, Any], seed: int = 8, size: int = 2000
) -> Workload:
    """`size` requests per endpoint: realistic queries × home regions (partners, their counties,
    other regions, Zhejiang, Taizhou), cross-province matters and locations near the county seats."""
    rng = random.Random(seed)
    regions = scale_data.load_regions()
    agreements = list(document.get("agreements", [])) + list(demo.get("agreements", []))
    partners = sorted({a["partnerCode"] for a in agreements})
    children: dict[str, list[str]] = {}
    for code, row in regions.items():
        if row.parent:
            children.setdefault(row.parent, []).append(code)
    inside_partner = sorted({c for p in partners for c in children.get(p, []) if regions[c].level != "TOWN"})
    outside = scale_data.partner_candidates(regions)
    zhejiang = sorted(
        c for c, r in regions.items() if c.startswith("33") and not c.startswith("3310") and r.level != "TOWN"
    )
    taizhou = sorted(c for c in regions if c.startswith("3310") and c != "331000")

    def home() -> str:
        roll = rng.random()
        if roll < 0.45 or not inside_partner:
            return rng.choice(partners) if partners else rng.choice(outside)
        if roll < 0.65:
            return rng.choice(inside_partner)
        if roll < 0.85:
            return rng.choice(outside)
        if roll < 0.95:
            return rng.choice(zhejiang)
        return rng.choice(taizhou)

    matters = list(document.get("matters", [])) + list(demo.get("matters", []))
    cross = [m for m in matters if m.get("scope", "CROSS_PROVINCE") == "CROSS_PROVINCE"] or matters
    names = [m["name"] for m in matters]
    seats = list(scale_data.COUNTY_SEATS.values())

    def query() -> str:
        roll = rng.random()
        if roll < 0.6:
            return rng.choice(SEARCH_QUERIES)
        name = rng.choice(names)
        return name if roll < 0.8 else name[: max(2, len(name) // 2)]

    search, where, coverage, region = [], [], [], []
    for _ in range(size):
        params = {"q": query(), "home": home()}
        if rng.random() < 0.3:
            params["near"] = rng.choice(sorted(scale_data.COUNTY_SEATS))
        search.append(Request("GET", "/search?" + urllib.parse.urlencode(params)))
        variables: dict[str, Any] = {"home": home(), "matter": rng.choice(cross)["code"]}
        if rng.random() < 0.7:
            lat, lon = rng.choice(seats)
            variables["lat"] = round(lat + rng.uniform(-0.1, 0.1), 4)
            variables["lon"] = round(lon + rng.uniform(-0.1, 0.1), 4)
        where.append(_graphql(GRAPHQL_WHERE, variables))
        cov: dict[str, Any] = {"home": home()}
        if rng.random() < 0.8:
            cov["matter"] = rng.choice(matters)["code"]
        coverage.append(_graphql(GRAPHQL_COVERAGE, cov))
        region.append(Request("GET", f"/regions/{rng.choice(partners) if rng.random() < 0.7 else home()}"))
    return Workload({"search": search, "whereToHandle": where, "coverage": coverage, "region": region})


# ----------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_env(folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "TONGBAN_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'tongban.db'}",
            "TONGBAN_INDEX_DIR": str(folder / "index"),
            "TONGBAN_SECRET_KEY": "bench-only-secret-key-not-for-production",
            "TONGBAN_RATE_LIMIT_PER_MINUTE": "0",
            # The checkout's code, whatever the editable install maps (and bench.hello for workers).
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def tongban_command() -> list[str]:
    script = VENV_BIN / "tongban"
    return [str(script)] if script.exists() else [str(PYTHON), "-m", "api.cli"]


def run_timed(args: list[str], env: dict[str, str], cwd: Path, log: Path, timeout: float) -> float:
    """Run a command to completion (bounded); its wall time in seconds. Output goes to `log`."""
    started = time.perf_counter()
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(args)}\n".encode())
        out.flush()
        proc = subprocess.run(
            args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False
        )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[-2:])} exited {proc.returncode}; see {log}:\n{tail(log)}")
    return elapsed


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        """The processes that answer requests: the server itself, or its children with workers > 1."""
        kids = descendants(self.proc.pid)
        return kids or [self.proc.pid]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)  # the group this script created
                self.proc.wait(timeout=5)


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        try:
            text = Path(f"/proc/{parent}/task/{parent}/children").read_text()
            kids = [int(k) for k in text.split()]
        except OSError:
            kids = []
            for stat in Path("/proc").glob("[0-9]*/stat"):
                with contextlib.suppress(OSError, ValueError, IndexError):
                    if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                        kids.append(int(stat.parent.name))
        found += kids
        frontier += kids
    # multiprocessing's resource tracker is no worker: keep processes that run the app
    return [p for p in found if "resource_tracker" not in cmdline(p)]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM (peak resident set) from /proc, in MiB; None when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def start_server(
    name: str,
    args: list[str],
    env: dict[str, str],
    cwd: Path,
    log: Path,
    ready_path: str,
    timeout: float = 120,
) -> Server:
    port = free_port()
    args = [*args, "--host", "127.0.0.1", "--port", str(port)]
    out = log.open("ab")
    out.write(f"\n$ {' '.join(args)}\n".encode())
    out.flush()
    proc = subprocess.Popen(
        args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    out.close()
    server = Server(name, proc, port, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited {proc.returncode} while starting; see {log}:\n{tail(log)}")
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(server.base + ready_path, timeout=2) as response,
        ):
            if response.status == 200:
                return server
        time.sleep(0.25)
    server.stop()
    raise RuntimeError(f"{name} not ready on {ready_path} after {timeout:.0f} s; see {log}:\n{tail(log)}")


# ----------------------------------------------------------------------------- checking the answers


def fetch(base: str, request: Request, timeout: float = 30) -> tuple[int, bytes]:
    req = urllib.request.Request(base + request.path, data=request.body or None, method=request.method)
    if request.content_type:
        req.add_header("Content-Type", request.content_type)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def check_endpoint(base: str, name: str, requests: list[Request], sample: int = 12) -> tuple[bool, str]:
    """A few requests of the rotation, answered correctly? (200, and no GraphQL `errors`.)"""
    nonempty = 0
    for request in requests[:sample]:
        try:
            status, body = fetch(base, request)
        except OSError as exc:
            return False, f"{type(exc).__name__}: {exc}"
        if status != 200:
            return (
                False,
                f"HTTP {status} for {request.method} {urllib.parse.unquote(request.path)}: {body[:200]!r}",
            )
        if request.path == "/graphql":
            answer = json.loads(body)
            if answer.get("errors"):
                return False, f"GraphQL errors: {json.dumps(answer['errors'], ensure_ascii=False)[:300]}"
            data = answer.get("data") or {}
            value = data.get("whereToHandle", data.get("coverage"))
            if value:
                nonempty += 1
    if name == "whereToHandle":
        return True, f"{nonempty}/{min(sample, len(requests))} sampled answers list halls"
    return True, ""


# ----------------------------------------------------------------------------- load generation


@dataclass
class LoadResult:
    name: str
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    client: str
    drain_s: float = 0.0  # how long the server kept working after the load stopped

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


WRK_LUA = """
-- generated by bench/run.py: rotate through the requests, one request table per thread
local specs = {
%s
}
local reqs = {}
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end
local i = 0
function init(args)
  -- built here, not at load time: wrk.headers gets its Host header only after the script loads
  for n, s in ipairs(specs) do
    local headers = {}
    if s[4] then headers["Content-Type"] = s[4] end
    reqs[n] = wrk.format(s[1], s[2], headers, s[3])
  end
  i = ((id or 1) * 97) %% #reqs
end
function request()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCHJSON {"requests":%%d,"duration_us":%%d,"errors":%%d,"p50":%%d,"p95":%%d,"p99":%%d,"max":%%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def _lua_string(text: str) -> str:
    # json.dumps of ASCII text is a valid Lua 5.1 string literal (\" \\ \n \t escapes only).
    return json.dumps(text, ensure_ascii=True)


def wrk_script(requests: list[Request]) -> str:
    entries = []
    for r in requests:
        body = _lua_string(r.body.decode("ascii")) if r.body else "nil"
        ctype = _lua_string(r.content_type) if r.content_type else "nil"
        entries.append(f"  {{{_lua_string(r.method)}, {_lua_string(r.path)}, {body}, {ctype}}},")
    return WRK_LUA % "\n".join(entries)


def run_wrk(
    name: str,
    base: str,
    requests: list[Request],
    connections: int,
    duration: float,
    script_dir: Path,
    threads: int = 1,
) -> LoadResult:
    script = script_dir / f"{name}.lua"
    script.write_text(wrk_script(requests), encoding="ascii")
    args = [
        "wrk",
        f"-t{threads}",
        f"-c{max(connections, threads)}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        f"{max(10, round(2 * duration))}s",
        "-s",
        str(script),
        base + "/",
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            data = json.loads(line[len("BENCHJSON ") :])
            return LoadResult(
                name,
                data["requests"],
                data["duration_us"] / 1e6,
                data["errors"],
                data["p50"] / 1000,
                data["p95"] / 1000,
                data["p99"] / 1000,
                data["max"] / 1000,
                "wrk",
            )
    raise RuntimeError(
        f"wrk gave no result (exit {proc.returncode}): {proc.stdout[-500:]} {proc.stderr[-500:]}"
    )


async def _python_load(
    host: str, port: int, raws: list[bytes], connections: int, duration: float
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    deadline = started + duration

    async def connection(offset: int) -> None:
        nonlocal errors
        index = offset
        reader = writer = None
        while time.perf_counter() < deadline:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                assert reader is not None
                raw = raws[index % len(raws)]
                index += 1
                sent = time.perf_counter()
                writer.write(raw)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(b":") for line in head.split(b"\r\n")[1:] if line)
                }
                if b"content-length" in headers:
                    await reader.readexactly(int(headers[b"content-length"]))
                elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                        await reader.readexactly(size + 2)
                        if size == 0:
                            break
                latencies.append(time.perf_counter() - sent)
                if status >= 400:
                    errors += 1
                if headers.get(b"connection", b"").lower() == b"close":
                    writer.close()
                    reader = writer = None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                errors += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                await asyncio.sleep(0.01)
        if writer is not None:
            writer.close()

    tasks = [asyncio.create_task(connection(i * 97)) for i in range(connections)]
    await asyncio.wait(tasks, timeout=duration + 15)
    for task in tasks:
        task.cancel()
    return latencies, errors, time.perf_counter() - started


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def run_python_client(
    name: str, base: str, requests: list[Request], connections: int, duration: float
) -> LoadResult:
    parsed = urllib.parse.urlsplit(base)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    raws = [r.raw(f"{host}:{port}") for r in requests]
    latencies, errors, elapsed = asyncio.run(_python_load(host, port, raws, connections, duration))
    values = sorted(latencies)
    ms = [v * 1000 for v in values]
    return LoadResult(
        name,
        len(values),
        min(elapsed, duration + 15),
        errors,
        percentile(ms, 50),
        percentile(ms, 95),
        percentile(ms, 99),
        ms[-1] if ms else 0.0,
        "python",
    )


def drain(base: str, probe: str, limit: float = 120.0) -> float:
    """Wait until the server has finished the requests a load left behind; the seconds it took.

    wrk closes its connections when its time is up, but the server still works through every
    request it had accepted (a slow page can leave many seconds of work queued). Without this, that
    backlog would eat into the next measurement. Drained = three answers in a row within 100 ms.
    """
    started = time.monotonic()
    fast = 0
    while time.monotonic() - started < limit:
        sent = time.monotonic()
        try:
            with urllib.request.urlopen(base + probe, timeout=limit) as response:
                response.read()
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
            continue
        fast = fast + 1 if time.monotonic() - sent < 0.1 else 0
        if fast >= 3:
            break
    return time.monotonic() - started


def load(
    client: str,
    name: str,
    base: str,
    requests: list[Request],
    connections: int,
    duration: float,
    warmup: float,
    script_dir: Path,
    probe: str = "/",
    max_duration: float | None = None,
) -> LoadResult:
    """Warm up, let the server catch up, measure, let it catch up again (so the next load starts clean).

    A very slow endpoint answers its connections in convoys (asyncio interleaves all accepted
    requests, so they finish together, about connections × service time after they arrived); a
    short window then catches almost none of them and req/s comes out far too low. So when fewer
    than 3 × connections answers came back, the measurement is made again over a longer window
    (at most `max_duration` seconds), long enough for several convoys.
    """

    def once(seconds: float) -> LoadResult:
        if client == "wrk":
            return run_wrk(name, base, requests, connections, seconds, script_dir)
        return run_python_client(name, base, requests, connections, seconds)

    if warmup > 0:
        once(warmup)
        drain(base, probe)
    result = once(duration)
    result.drain_s = drain(base, probe)
    minimum = 3 * connections
    if max_duration is not None and result.requests < minimum and max_duration > duration:
        longer = min(max_duration, max(2 * duration, minimum / max(result.rps, 0.5)))
        result = once(longer)
        result.drain_s = drain(base, probe)
    return result


# ----------------------------------------------------------------------------- profiling


def py_spy() -> str | None:
    found = VENV_BIN / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


PROJECT_DIRS = tuple(f"{ROOT / d}/" for d in ("api", "web", "search_index"))


def summarise_profile(raw: Path, top: int = 12) -> dict[str, list[tuple[str, float]]]:
    """From py-spy's collapsed stacks (``--full-filenames``): the frames with most own time, and the
    project frames (api/, web/, search_index/) with most inclusive time, as shares of all samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        own[_short(frames[-1])] += count
        for frame in {_short(f) for f in frames if any(d in f for d in PROJECT_DIRS)}:
            inclusive[frame] += count
    if not total:
        return {"own": [], "project": []}
    return {
        "own": [(f, n / total) for f, n in own.most_common(top)],
        "project": [(f, n / total) for f, n in inclusive.most_common(top)],
    }


def _short(frame: str) -> str:
    """``func (/abs/path/pkg/file.py:12)`` → ``func (pkg/file.py)``: one entry per function (lines
    of one function add up), the file relative to the checkout or site-packages."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    if not where:
        return name
    for prefix in (f"{ROOT}/", "site-packages/", "/lib/python3."):
        if prefix in where:
            where = where.split(prefix, 1)[1]
            if prefix == "/lib/python3.":
                where = where.split("/", 1)[-1]
            break
    else:
        where = "/".join(where.split("/")[-2:])
    return f"{name} ({where})"


def profile_endpoints(
    server: Server,
    workload: Workload,
    client: str,
    connections: int,
    duration: float,
    folder: Path,
    out: Path,
) -> dict[str, Any]:
    tool = py_spy()
    if tool is None:
        return {"skipped": "py-spy not installed (.venv/bin/pip install py-spy)"}
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    pid = server.worker_pids()[0]
    for name in ENDPOINTS:
        if name not in workload.requests:
            continue
        raw = out / f"{name}.collapsed.txt"
        spy = subprocess.Popen(
            [
                tool,
                "record",
                "--pid",
                str(pid),
                "--rate",
                "200",
                "--duration",
                str(max(1, round(duration))),
                "--gil",
                "--full-filenames",
                "--format",
                "raw",
                "--output",
                str(raw),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        load(client, name, server.base, workload.requests[name], connections, duration, 0, folder, "/healthz")
        try:
            spy.wait(timeout=duration + 30)
        except subprocess.TimeoutExpired:
            spy.kill()
        if raw.exists():
            results[name] = summarise_profile(raw)
    return results


# ----------------------------------------------------------------------------- the report


@dataclass
class Report:
    settings: dict[str, Any]
    load: dict[str, LoadResult] = field(default_factory=dict)
    hello: list[LoadResult] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    checks: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)
    scaling: dict[str, Any] = field(default_factory=dict)
    loadavg: dict[str, float] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)

    @property
    def hello_rps(self) -> float:
        return statistics.fmean(h.rps for h in self.hello) if self.hello else 0.0

    def ratio(self, name: str) -> float | None:
        result = self.load.get(name)
        return result.rps / self.hello_rps if result and self.hello_rps else None

    def to_json(self) -> dict[str, Any]:
        def result(r: LoadResult) -> dict[str, Any]:
            return {**asdict(r), "rps": round(r.rps, 1)}

        return {
            "settings": self.settings,
            "hello": [result(h) for h in self.hello],
            "hello_rps": round(self.hello_rps, 1),
            "load": {k: {**result(v), "ratio": round(self.ratio(k) or 0, 4)} for k, v in self.load.items()},
            "unavailable": self.unavailable,
            "checks": self.checks,
            "timings_s": {k: round(v, 2) for k, v in self.timings.items()},
            "peak_rss_mb": {k: round(v, 1) for k, v in self.rss_mb.items()},
            "scaling": self.scaling,
            "loadavg": self.loadavg,
            "goals": [list(g) for g in goal_rows(self)],
            "profile": self.profile,
        }


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("PASS" if ok else "MISS")


def goal_rows(report: Report) -> list[tuple[str, str, str, str]]:
    """(goal, target, measured, PASS/MISS/—) for every goal of issue 8."""
    rows: list[tuple[str, str, str, str]] = []
    for name, target in RATIO_GOALS.items():
        ratio = report.ratio(name)
        rows.append(
            (
                f"{name} req/s ÷ hello-world",
                f"≥ {target:.2f}×",
                "n/a" if ratio is None else f"{ratio:.3f}×",
                verdict(None if ratio is None else ratio >= target),
            )
        )
    for name in ENDPOINTS:
        result = report.load.get(name)
        rows.append(
            (
                f"{name} p99 at {report.settings.get('connections')} connections",
                f"≤ {P99_GOAL_MS:.0f} ms",
                "n/a" if result is None else f"{result.p99_ms:.1f} ms",
                verdict(None if result is None else result.p99_ms <= P99_GOAL_MS),
            )
        )
    rss = report.rss_mb.get("workers=1")
    rows.append(
        (
            "peak RSS per worker",
            f"≤ {RSS_GOAL_MB:.0f} MB",
            "n/a" if rss is None else f"{rss:.0f} MB",
            verdict(None if rss is None else rss <= RSS_GOAL_MB),
        )
    )
    init = report.timings.get("init --demo")
    rows.append(
        (
            "tongban init --demo",
            f"≤ {INIT_GOAL_S:.0f} s",
            "n/a" if init is None else f"{init:.1f} s",
            verdict(None if init is None else init <= INIT_GOAL_S),
        )
    )
    reindex = report.timings.get("reindex")
    label = f"tongban reindex at {report.settings.get('reindex_matters_loaded', report.settings.get('reindex_matters'))} matters"
    rows.append(
        (
            label,
            f"≤ {REINDEX_GOAL_S:.0f} s",
            "n/a" if reindex is None else f"{reindex:.1f} s",
            verdict(None if reindex is None else reindex <= REINDEX_GOAL_S),
        )
    )
    factor = report.scaling.get("factor")
    if report.settings.get("workers", 1) > 1:
        rows.append(
            (
                f"search req/s, {report.settings['workers']} workers ÷ 1 worker",
                f"≥ {SCALING_GOAL:.1f}×",
                "n/a" if factor is None else f"{factor:.2f}×",
                verdict(None if factor is None else factor >= SCALING_GOAL),
            )
        )
    return rows


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    def width(text: str) -> int:  # CJK characters take two columns in a terminal
        return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)

    widths = [max(width(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            pad = " " * (widths[i] - width(cell))
            out.append(pad + cell if i in right else cell + pad)
        return "  ".join(out).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *[line(r) for r in rows]])


def format_report(report: Report) -> str:
    s = report.settings
    lines = [
        f"tongban benchmark — {s.get('matters')} matters, {s.get('halls')} halls, {s.get('agreements')} agreements "
        f"(+ demo); {s.get('connections')} connections, {s.get('duration')} s per endpoint after {s.get('warmup')} s warm-up; "
        f"client {s.get('client')}; {s.get('cpus')} CPUs; load average {report.loadavg.get('before', 0):.2f} → "
        f"{report.loadavg.get('after', 0):.2f}",
        "",
    ]
    header = ["endpoint", "req/s", "× hello", "p50 ms", "p95 ms", "p99 ms", "max ms", "n", "errors", "goal"]
    rows: list[list[str]] = []
    for index, hello in enumerate(report.hello, start=1):
        rows.append(
            [
                f"hello-world (run {index})",
                f"{hello.rps:.0f}",
                "1.000",
                f"{hello.p50_ms:.1f}",
                f"{hello.p95_ms:.1f}",
                f"{hello.p99_ms:.1f}",
                f"{hello.max_ms:.1f}",
                str(hello.requests),
                str(hello.errors),
                "",
            ]
        )
    labels = {
        "search": "GET /search?q=&home= (page)",
        "whereToHandle": "POST /graphql whereToHandle(first:10)",
        "coverage": "POST /graphql coverage",
        "region": "GET /regions/{code} (page)",
    }
    for name in ENDPOINTS:
        result = report.load.get(name)
        if result is None:
            rows.append(
                [
                    labels[name],
                    "—",
                    "—",
                    "—",
                    "—",
                    "—",
                    "—",
                    "—",
                    "—",
                    "not measured: " + report.unavailable.get(name, "?")[:60],
                ]
            )
            continue
        ratio = report.ratio(name) or 0.0
        goal = []
        if name in RATIO_GOALS:
            goal.append(f"×≥{RATIO_GOALS[name]:.2f} {verdict(ratio >= RATIO_GOALS[name])}")
        goal.append(f"p99≤{P99_GOAL_MS:.0f} {verdict(result.p99_ms <= P99_GOAL_MS)}")
        rows.append(
            [
                labels[name],
                f"{result.rps:.0f}",
                f"{ratio:.3f}",
                f"{result.p50_ms:.1f}",
                f"{result.p95_ms:.1f}",
                f"{result.p99_ms:.1f}",
                f"{result.max_ms:.1f}",
                str(result.requests),
                str(result.errors),
                ", ".join(goal),
            ]
        )
    if report.scaling.get("search_rps"):
        sc = report.scaling
        rows.append(
            [
                f"GET /search, {s.get('workers')} workers",
                f"{sc['search_rps']:.0f}",
                f"{sc['search_rps'] / report.hello_rps:.3f}" if report.hello_rps else "—",
                f"{sc['p50_ms']:.1f}",
                f"{sc['p95_ms']:.1f}",
                f"{sc['p99_ms']:.1f}",
                f"{sc['max_ms']:.1f}",
                str(sc.get("requests", "")),
                str(sc["errors"]),
                f"{sc['factor']:.2f}× of 1 worker",
            ]
        )
    lines.append(_table(header, rows, right={1, 2, 3, 4, 5, 6, 7, 8}))
    longer = [
        f"{n} {r.seconds:.0f} s"
        for n, r in report.load.items()
        if r.seconds > 1.5 * float(s.get("duration") or 0)
    ]
    if longer:
        lines.append(
            "(too few answers in the normal window, so measured over a longer one: " + ", ".join(longer) + ")"
        )
    if any(r.requests < 200 for r in report.load.values()):
        lines.append(
            "(n < 200: too few answers for stable percentiles; the endpoint is the bottleneck, not the client)"
        )
    lines += [
        "",
        _table(["goal (issue 8)", "target", "measured", ""], [list(r) for r in goal_rows(report)], right={2}),
    ]
    other = [[k, f"{v:.1f} s"] for k, v in report.timings.items()]
    other += [[f"peak RSS ({k})", f"{v:.0f} MB"] for k, v in report.rss_mb.items()]
    if other:
        lines += ["", _table(["other figure", "value"], other, right={1})]
    notes = [f"{k}: {v}" for k, v in report.checks.items() if v]
    if notes:
        lines += ["", *notes]
    for name, summary in report.profile.items():
        if not isinstance(summary, dict) or "own" not in summary:
            lines += ["", f"profile: {summary}"]
            continue
        lines += ["", f"profile {name} (py-spy, share of samples): own time"]
        lines += [f"  {share * 100:5.1f}%  {frame}" for frame, share in summary["own"][:8]]
        lines += ["  project frames, inclusive:"]
        lines += [f"  {share * 100:5.1f}%  {frame}" for frame, share in summary["project"][:8]]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="tongban vs hello-world on this machine (issue 8); see the module docstring.",
    )
    parser.add_argument(
        "--matters", type=int, default=5000, help="matters in the scale data set (default 5000)"
    )
    parser.add_argument("--halls", type=int, default=300)
    parser.add_argument("--agreements", type=int, default=1000)
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds of load per endpoint (default 10)"
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of warm-up per endpoint (default 2)"
    )
    parser.add_argument(
        "--max-duration",
        type=float,
        default=40.0,
        help="an endpoint with fewer than 3 × connections answers is measured again, up to this long",
    )
    parser.add_argument(
        "--connections", type=int, default=32, help="concurrent keep-alive connections (default 32)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: also load the search page with 2 workers (goal ≥ 1.6× of 1 worker)",
    )
    parser.add_argument(
        "--reindex-matters",
        type=int,
        default=20000,
        help="grow the data to this many matters and time `tongban reindex` (0: skip)",
    )
    parser.add_argument(
        "--distinct",
        type=int,
        default=2000,
        help="distinct requests each endpoint rotates through (default 2000)",
    )
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes and 2 s per endpoint, for smoke runs"
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write every figure to this JSON file")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="afterwards, py-spy each endpoint under load into DIR"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder (database, index, logs)"
    )
    parser.add_argument("--seed", type=int, default=8)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quick:
        args.matters, args.halls, args.agreements = (
            min(args.matters, 200),
            min(args.halls, 30),
            min(args.agreements, 50),
        )
        args.duration, args.warmup = min(args.duration, 2.0), min(args.warmup, 0.5)
        args.max_duration = min(args.max_duration, 6.0)
        args.reindex_matters = min(args.reindex_matters, 1000)
    if not 1 <= args.distinct <= 20000:
        parser.error("--distinct must be in [1, 20000]")
    for name in ("matters", "halls", "agreements", "reindex_matters"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be ≥ 0")
    if (
        args.duration <= 0
        or args.duration > 300
        or args.warmup < 0
        or args.warmup > 60
        or args.max_duration > 600
    ):
        parser.error("--duration must be in (0, 300], --warmup in [0, 60] and --max-duration at most 600")
    if not 1 <= args.connections <= 1000:
        parser.error("--connections must be in [1, 1000]")
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "python"
    elif args.client == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install -y wrk), use --client python")
    return args


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def measure(args: argparse.Namespace, folder: Path) -> Report:
    env = bench_env(folder)
    log = folder / "bench.log"
    tongban = tongban_command()
    report = Report(
        settings={
            "matters": args.matters,
            "halls": args.halls,
            "agreements": args.agreements,
            "duration": args.duration,
            "warmup": args.warmup,
            "max_duration": args.max_duration,
            "distinct": args.distinct,
            "connections": args.connections,
            "workers": args.workers,
            "client": args.client,
            "reindex_matters": args.reindex_matters,
            "cpus": os.cpu_count(),
            "seed": args.seed,
            "quick": args.quick,
        }
    )
    report.loadavg["before"] = os.getloadavg()[0]

    say("tongban init --demo …")
    report.timings["init --demo"] = run_timed([*tongban, "init", "--demo"], env, folder, log, timeout=600)

    say(f"generating {args.matters} matters, {args.halls} halls, {args.agreements} agreements …")
    started = time.perf_counter()
    document = scale_data.generate(args.matters, args.halls, args.agreements, seed=args.seed)
    scale_file = scale_data.write(document, folder / "scale.json")
    report.timings["generate scale data"] = time.perf_counter() - started
    say("tongban import scale.json …")
    report.timings[f"import scale data ({args.matters} matters)"] = run_timed(
        [*tongban, "import", str(scale_file)], env, folder, log, timeout=1800
    )
    demo = json.loads(DEMO_JSON.read_text(encoding="utf-8"))
    workload = build_workload(document, demo, seed=args.seed, size=args.distinct)

    servers: list[Server] = []
    try:
        say("starting tongban serve and the hello-world …")
        app = start_server(
            "tongban", [*tongban, "serve", "--workers", "1"], env, folder, folder / "server.log", "/healthz"
        )
        servers.append(app)
        hello = start_server(
            "hello",
            [str(PYTHON), str(ROOT / "bench" / "hello.py"), "--workers", "1"],
            env,
            folder,
            folder / "hello.log",
            "/",
        )
        servers.append(hello)
        hello_requests = [Request("GET", "/")]

        for name in ENDPOINTS:
            ok, note = check_endpoint(app.base, name, workload.requests[name])
            if ok:
                report.checks[name] = note
            else:
                report.unavailable[name] = note
                say(f"{name}: not measured — {note}")

        def run(name: str, base: str, requests: list[Request], probe: str) -> LoadResult:
            say(
                f"load {name}: {args.warmup:g} s warm-up + {args.duration:g} s, {args.connections} connections ({args.client})"
            )
            result = load(
                args.client,
                name,
                base,
                requests,
                args.connections,
                args.duration,
                args.warmup,
                folder,
                probe,
                max_duration=args.max_duration,
            )
            if result.seconds > args.duration * 1.5:
                say(
                    f"  {name}: only a few answers in {args.duration:g} s; measured again over {result.seconds:.0f} s"
                )
            if result.drain_s > 1:
                say(
                    f"  {name}: the server took {result.drain_s:.1f} s to finish the requests left when the load stopped"
                )
            return result

        report.hello.append(run("hello", hello.base, hello_requests, "/"))
        for name in ENDPOINTS:
            if name not in report.unavailable:
                report.load[name] = run(name, app.base, workload.requests[name], "/healthz")
        report.hello.append(run("hello", hello.base, hello_requests, "/"))
        rss = [peak_rss_mb(p) for p in app.worker_pids()]
        report.rss_mb["workers=1"] = max((r for r in rss if r is not None), default=0.0)
        hello_rss = [peak_rss_mb(p) for p in hello.worker_pids()]
        report.rss_mb["hello-world"] = max((r for r in hello_rss if r is not None), default=0.0)

        if args.profile:
            say(f"profiling each endpoint with py-spy into {args.profile} …")
            report.profile = profile_endpoints(
                app, workload, args.client, args.connections, args.duration, folder, args.profile
            )

        if args.workers > 1 and "search" in report.load:
            app.stop()
            servers.remove(app)
            say(f"restarting tongban serve with {args.workers} workers …")
            app2 = start_server(
                "tongban",
                [*tongban, "serve", "--workers", str(args.workers)],
                env,
                folder,
                folder / "server.log",
                "/healthz",
            )
            servers.append(app2)
            # every worker must have opened its index before the load starts
            time.sleep(2)
            result = run(f"search-{args.workers}w", app2.base, workload.requests["search"], "/healthz")
            report.scaling = {
                "workers": args.workers,
                "search_rps": result.rps,
                "factor": result.rps / report.load["search"].rps,
                "p50_ms": result.p50_ms,
                "p95_ms": result.p95_ms,
                "p99_ms": result.p99_ms,
                "max_ms": result.max_ms,
                "requests": result.requests,
                "errors": result.errors,
            }
            rss = [peak_rss_mb(p) for p in app2.worker_pids()]
            report.rss_mb[f"workers={args.workers}, per worker"] = max(
                (r for r in rss if r is not None), default=0.0
            )
    finally:
        for server in servers:
            server.stop()

    if args.reindex_matters > 0:
        extra = max(0, args.reindex_matters - args.matters)
        if extra:
            say(f"growing to {args.reindex_matters} matters: generate + import {extra} more …")
            grown = scale_data.generate(extra, 0, 0, offset=args.matters, seed=args.seed)
            grown_file = scale_data.write(grown, folder / "grow.json")
            report.timings[f"import {extra} more matters"] = run_timed(
                [*tongban, "import", str(grown_file)], env, folder, log, timeout=3600
            )
        report.settings["reindex_matters_loaded"] = count_matters(folder / "tongban.db")
        say("tongban reindex …")
        report.timings["reindex"] = run_timed([*tongban, "reindex"], env, folder, log, timeout=1800)
    report.loadavg["after"] = os.getloadavg()[0]
    return report


def count_matters(database: Path) -> int | None:
    import sqlite3

    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
            return int(conn.execute("SELECT count(*) FROM matters").fetchone()[0])
    except sqlite3.Error:
        return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="tongban-bench-"))
    try:
        report = measure(args, folder)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        say(f"failed: {exc}")
        say(f"logs kept in {folder}")
        return 1
    except KeyboardInterrupt:
        say(f"interrupted; logs kept in {folder}")
        return 130
    print(format_report(report), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        say(f"wrote {args.json}")
    if args.keep:
        say(f"kept {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
