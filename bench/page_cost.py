"""CPU time per results page, in-process: the ASGI app called directly (no sockets, no client).

Usage (from the repository root)::

    .venv/bin/python bench/page_cost.py                    # this checkout: ms of CPU per page
    .venv/bin/python bench/page_cost.py --against HEAD~3   # interleaved A/B: HEAD~3 vs this checkout
    .venv/bin/python bench/page_cost.py --profile prof.txt # cProfile one round (this checkout)
    .venv/bin/python bench/page_cost.py --endpoint region  # another endpoint of bench/run.py

Why: ``bench/run.py`` measures req/s against a hello-world over loopback, which on a shared
machine measures the neighbours as much as the app. This script measures what the app itself
costs a page: the same data (``tongban init --demo`` + ``bench/scale_data.py``'s 5,000 matters,
300 halls, 1,000 agreements, seed 8) and the same 2,000 rotating requests as ``bench/run.py``
(its ``build_workload``), served by the app exactly as ``tongban serve`` builds it
(``create_served_app``: GC thresholds, logging at INFO with the access line, to /dev/null here;
the run folder with the shared rate-limit table and prometheus' multiprocess metrics; the rate
limit off, as the benchmark has it), and counts the process's CPU time (``time.process_time``:
user + system of every thread of the process) per page over whole rounds of the 2,000 requests,
after one warm-up round. Each request is what wrk sends (no cookies: every page is a first visit
that mints a CSRF cookie and token, as in the benchmark), answered in full by the whole
middleware stack; the search log's once-a-second writes run in the same event loop and count.

Figures: each round's CPU ms per page; the median of the rounds. With ``--against REV`` the
other tree (``git archive REV``, into a temporary folder) and this checkout are run alternately,
``--runs`` times each, each run in a fresh process of ``--rounds`` rounds, and the medians of the
runs' medians are compared: neighbours' load then falls on both alike.

The data folder (``--folder``, default ``/tmp/tongban-page-cost-<matters>-<seed>``) is built once
(~1 - 2 minutes) and reused while its settings match.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import run as bench_run  # noqa: E402
from bench import scale_data  # noqa: E402

ENDPOINTS = ("search", "region", "whereToHandle", "coverage")
PREPARED = "page_cost.json"


# ----------------------------------------------------------------------------- the data


def folder_for(args: argparse.Namespace) -> Path:
    if args.folder is not None:
        return args.folder
    return Path(tempfile.gettempdir()) / f"tongban-page-cost-{args.matters}-{args.seed}"


def prepare(args: argparse.Namespace) -> tuple[Path, list[dict[str, Any]]]:
    """The database and index (built once per settings) and the endpoint's rotating requests."""
    folder = folder_for(args)
    wanted = {
        "matters": args.matters,
        "halls": args.halls,
        "agreements": args.agreements,
        "seed": args.seed,
    }
    marker = folder / PREPARED
    document_file = folder / "scale.json"
    ready = marker.is_file() and json.loads(marker.read_text())["settings"] == wanted
    if not ready:
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        env = bench_run.bench_env(folder)
        log = folder / "prepare.log"
        tongban = bench_run.tongban_command()
        say(f"preparing {folder}: tongban init --demo …")
        bench_run.run_timed([*tongban, "init", "--demo"], env, folder, log, timeout=900)
        say(f"… {args.matters} matters, {args.halls} halls, {args.agreements} agreements: import …")
        document = scale_data.generate(args.matters, args.halls, args.agreements, seed=args.seed)
        scale_data.write(document, document_file)
        bench_run.run_timed([*tongban, "import", str(document_file)], env, folder, log, timeout=1800)
        marker.write_text(json.dumps({"settings": wanted, "made": time.time()}))
    document = json.loads(document_file.read_text(encoding="utf-8"))
    demo = json.loads(bench_run.DEMO_JSON.read_text(encoding="utf-8"))
    workload = bench_run.build_workload(document, demo, seed=args.seed, size=args.distinct)
    requests = [
        {"method": r.method, "path": r.path, "body": r.body.decode(), "content_type": r.content_type}
        for r in workload.requests[args.endpoint]
    ]
    return folder, requests


# ----------------------------------------------------------------------------- one measuring process


def _scope(request: dict[str, Any]) -> dict[str, Any]:
    path, _, query = request["path"].partition("?")
    headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"tongban-bench"), (b"accept", b"*/*")]
    body = request["body"].encode()
    if request["method"] == "POST":
        headers += [
            (b"content-type", request["content_type"].encode()),
            (b"content-length", str(len(body)).encode()),
        ]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request["method"],
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode("ascii"),
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def _call(app: Any, request: dict[str, Any]) -> tuple[int, bytes]:
    scope = _scope(request)
    body = request["body"].encode()
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def _deterministic() -> Any:
    """Fix what a page draws at random (CSRF cookie and token nonce, the search log's token) and
    the token's timestamp, so one request gives one page whatever the code path; returns the
    reset to call before each request."""
    import base64
    import hashlib
    import itertools
    import secrets

    from itsdangerous import timed

    counter = itertools.count()

    def token_urlsafe(nbytes: int | None = 32) -> str:
        # random-looking, as real ones are (a run of "A"s would make itsdangerous compress a token)
        digest = hashlib.sha512(str(next(counter)).encode()).digest()[: nbytes or 32]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def token_hex(nbytes: int | None = 32) -> str:
        return f"{next(counter):x}".rjust((nbytes or 32) * 2, "0")

    secrets.token_urlsafe = token_urlsafe
    secrets.token_hex = token_hex
    from api.services import search_log

    if hasattr(search_log, "new_token"):  # the search's token begins with the clock's second
        search_log.new_token = lambda: token_hex(12)  # type: ignore[attr-defined]
    timed.TimestampSigner.get_timestamp = lambda self: 1_800_000_000  # type: ignore[method-assign]

    def reset() -> None:
        nonlocal counter
        counter = itertools.count()

    return reset


async def _dump(app: Any, requests: list[dict[str, Any]], out: Path) -> dict:
    """Each request's status, headers (but the request id) and body digest, one JSON line each."""
    import hashlib

    reset = _deterministic()
    with out.open("w") as handle:
        for request in requests:
            reset()
            scope = _scope(request)
            answer: dict[str, Any] = {"path": request["path"], "body": request["body"]}
            chunks: list[bytes] = []

            async def receive(body: bytes = request["body"].encode()) -> dict[str, Any]:
                return {"type": "http.request", "body": body, "more_body": False}

            async def send(
                message: dict[str, Any], answer: dict[str, Any] = answer, chunks: list = chunks
            ) -> None:
                if message["type"] == "http.response.start":
                    answer["status"] = message["status"]
                    answer["headers"] = sorted(
                        [k.decode(), v.decode("latin-1")]
                        for k, v in message["headers"]
                        if k != b"x-request-id"
                    )
                elif message["type"] == "http.response.body":
                    chunks.append(message.get("body", b""))

            await app(scope, receive, send)
            answer["sha256"] = hashlib.sha256(b"".join(chunks)).hexdigest()
            answer["text"] = b"".join(chunks).decode("utf-8", "replace")
            handle.write(json.dumps(answer, ensure_ascii=False) + "\n")
    return {"dumped": len(requests), "rounds_ms": [0.0], "median_ms": 0.0, "statuses": {}, "mean_bytes": 0}


async def _measure(
    folder: Path, requests: list[dict[str, Any]], rounds: int, profile: str | None, dump: Path | None = None
) -> dict:
    from api.app import create_served_app
    from api.observability import configure_logging
    from api.settings import load_settings

    app = create_served_app()
    configure_logging(load_settings(), stream=open(os.devnull, "w"))  # noqa: SIM115 - for the process's life
    per_round: list[float] = []
    async with app.router.lifespan_context(app):
        search = app.state.tongban.search
        for _ in range(200):  # the index opens in the background
            if search is None or search.is_ready():
                break
            await asyncio.sleep(0.05)
        if dump is not None:
            return await _dump(app, requests, dump)
        statuses: dict[int, int] = {}
        size = 0
        for request in requests:  # warm-up round: caches as a running server has them
            status, body = await _call(app, request)
            statuses[status] = statuses.get(status, 0) + 1
            size += len(body)
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
        for _ in range(rounds):
            await asyncio.sleep(0)
            if profiler is not None:
                profiler.enable()
            started = time.process_time()
            for request in requests:
                await _call(app, request)
            per_round.append((time.process_time() - started) * 1000 / len(requests))
            if profiler is not None:
                profiler.disable()
        if profiler is not None and profile:
            import pstats

            with open(profile, "w") as out:
                stats = pstats.Stats(profiler, stream=out)
                stats.sort_stats("tottime").print_stats(45)
                stats.sort_stats("cumulative").print_stats(70)
    return {
        "rounds_ms": per_round,
        "median_ms": statistics.median(per_round),
        "statuses": statuses,
        "mean_bytes": size / max(1, len(requests)),
    }


def child(args: argparse.Namespace) -> int:
    """Measure the app of this checkout or of --tree and print JSON."""
    if args.tree is not None:
        sys.path.insert(0, str(args.tree))
    folder, requests = prepare(args)
    run_dir = Path(tempfile.mkdtemp(prefix="tongban-page-cost-run-"))
    metrics_dir = run_dir / "metrics"
    metrics_dir.mkdir()
    env = bench_run.bench_env(folder)
    for name in (
        "TONGBAN_DATABASE_URL",
        "TONGBAN_INDEX_DIR",
        "TONGBAN_SECRET_KEY",
        "TONGBAN_RATE_LIMIT_PER_MINUTE",
    ):
        os.environ[name] = env[name]
    os.environ["TONGBAN_RUN_DIR"] = str(run_dir)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)  # before prometheus_client is imported
    from api.middleware import SharedBuckets

    SharedBuckets.create(run_dir / SharedBuckets.FILE_NAME)
    try:
        from web.survey import SharedSubmissionLimiter

        SharedSubmissionLimiter.create(run_dir / SharedSubmissionLimiter.FILE_NAME)
    except ImportError:
        pass
    result = asyncio.run(_measure(folder, requests, args.rounds, args.profile, args.dump))
    result["loadavg"] = os.getloadavg()[0]
    print(json.dumps(result))
    import shutil

    shutil.rmtree(run_dir, ignore_errors=True)
    return 0


# ----------------------------------------------------------------------------- served, under wrk


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _thread_cpu(pid: int) -> dict[str, tuple[float, float]]:
    """(user, system) seconds of each thread of `pid`, by thread id."""
    found = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a thread that ended meanwhile
        tick = os.sysconf("SC_CLK_TCK")
        found[tid] = (int(fields[11]) / tick, int(fields[12]) / tick)
    return found


def _split(
    pid: int, before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
) -> tuple[float, float, float]:
    """(main thread user, main thread system, every other thread) seconds between two readings:
    the event loop's own work apart from the database's and the search log's threads."""
    main = str(pid)
    user = after.get(main, (0.0, 0.0))[0] - before.get(main, (0.0, 0.0))[0]
    system = after.get(main, (0.0, 0.0))[1] - before.get(main, (0.0, 0.0))[1]
    other = sum(sum(after[t]) - sum(before.get(t, (0.0, 0.0))) for t in after if t != main)
    return user, system, other


def served(args: argparse.Namespace) -> int:
    """`tongban serve --workers 1` on the same data under wrk: the worker's CPU ms per answer
    (from /proc, so it holds on a shared machine) beside req/s and latencies (which do not).
    With --against REV, REV's server and this checkout's are measured alternately."""
    folder, raw = prepare(args)
    requests = [bench_run.Request(r["method"], r["path"], r["body"].encode(), r["content_type"]) for r in raw]
    trees: list[tuple[str, Path]] = [("this checkout", ROOT)]
    if args.against:
        trees.insert(0, (args.against, export_tree(args.against)))
    cpu: dict[str, list[float]] = {name: [] for name, _ in trees}
    rps: dict[str, list[float]] = {name: [] for name, _ in trees}
    for run in range(args.runs):
        for name, tree in trees:
            env = bench_run.bench_env(folder)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))
            env.pop("TONGBAN_RUN_DIR", None)
            command = [str(bench_run.PYTHON), "-m", "api.cli", "serve", "--workers", "1"]
            server = bench_run.start_server("tongban", command, env, tree, folder / "served.log", "/healthz")
            try:
                pids = server.worker_pids() or [server.proc.pid]
                # warm-up: every request once (the caches a running server has), then the load
                bench_run.run_wrk("warm", server.base, requests, args.connections, 4, folder)
                before = sum(_cpu_seconds(p) for p in pids)
                threads_before = _thread_cpu(pids[0])
                result = bench_run.run_wrk(
                    args.endpoint, server.base, requests, args.connections, args.seconds, folder
                )
                used = sum(_cpu_seconds(p) for p in pids) - before
                user, system, other = _split(pids[0], threads_before, _thread_cpu(pids[0]))
            finally:
                server.stop()
            per = used * 1000 / max(1, result.requests)
            cpu[name].append(per)
            rps[name].append(result.rps)
            answers = max(1, result.requests)
            print(
                f"served run {run + 1} {name}: {result.requests} answers, {result.rps:.0f} req/s, "
                f"worker CPU {per:.3f} ms/answer (main thread {user * 1000 / answers:.3f} user + "
                f"{system * 1000 / answers:.3f} sys, other threads {other * 1000 / answers:.3f}), "
                f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms "
                f"(x{result.p99_ms / max(result.p50_ms, 1e-9):.1f}), load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    for name, _ in trees:
        print(
            f"served {args.endpoint}: {name}: median worker CPU {statistics.median(cpu[name]):.3f} ms/answer, "
            f"median {statistics.median(rps[name]):.0f} req/s"
        )
    if args.against:
        ratio = statistics.median(cpu["this checkout"]) / statistics.median(cpu[args.against])
        print(f"served {args.endpoint}: CPU per answer, this checkout / {args.against} = {ratio:.3f}")
    return 0


# ----------------------------------------------------------------------------- orchestration


def say(message: str) -> None:
    print(f"[page_cost] {message}", file=sys.stderr, flush=True)


def run_child(
    tree: Path, args: argparse.Namespace, profile: str | None = None, dump: Path | None = None
) -> dict[str, Any]:
    command = [
        sys.executable,
        str(ROOT / "bench" / "page_cost.py"),
        "--child",
        "--endpoint",
        args.endpoint,
        "--rounds",
        str(args.rounds),
        "--matters",
        str(args.matters),
        "--halls",
        str(args.halls),
        "--agreements",
        str(args.agreements),
        "--seed",
        str(args.seed),
        "--distinct",
        str(args.distinct),
        "--folder",
        str(folder_for(args)),
        "--tree",
        str(tree),
    ]
    if profile:
        command += ["--profile", profile]
    if dump is not None:
        command += ["--dump", str(dump)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
    env.pop("TONGBAN_RUN_DIR", None)
    done = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"measuring {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def export_tree(rev: str) -> Path:
    target = Path(tempfile.mkdtemp(prefix="tongban-page-cost-tree-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    # files made by scripts/bootstrap, not in git (htmx from npm): from this checkout where missing
    static = ROOT / "web" / "static"
    for path in static.rglob("*"):
        copy = target / path.relative_to(ROOT)
        if path.is_file() and not copy.exists():
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(path.read_bytes())
    return target


def same_as(args: argparse.Namespace) -> int:
    """Every request answered by REV and by this checkout: the same status, headers and body?"""
    work = Path(tempfile.mkdtemp(prefix="tongban-page-cost-same-"))
    answers = {}
    for name, tree in ((args.same_as, export_tree(args.same_as)), ("this checkout", ROOT)):
        out = work / f"{len(answers)}.jsonl"
        run_child(tree, args, dump=out)
        answers[name] = [json.loads(line) for line in out.read_text().splitlines()]
    before, after = answers.values()
    differ = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    for a, b in differ[:3]:
        import difflib

        texts = (a.pop("text").splitlines(), b.pop("text").splitlines())
        print(
            f"DIFFERENT: {a['path']}" + ("" if a == b else f"\n  {args.same_as}: {a}\n  this checkout: {b}")
        )
        print(
            "\n".join(
                list(difflib.unified_diff(*texts, args.same_as, "this checkout", n=0, lineterm=""))[:20]
            )
        )
    print(
        f"{args.endpoint}: {len(before) - len(differ)} of {len(before)} answers identical to {args.same_as}"
    )
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/page_cost.py",
        description="CPU ms per page, in-process, over bench/run.py's data and rotating requests.",
    )
    parser.add_argument("--endpoint", choices=ENDPOINTS, default="search")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds per run (default 3)")
    parser.add_argument("--runs", type=int, default=3, help="runs (fresh processes) per tree (default 3)")
    parser.add_argument("--against", metavar="REV", help="also measure this git revision, interleaved")
    parser.add_argument("--profile", metavar="OUT", help="cProfile the measured rounds into OUT (text)")
    parser.add_argument("--matters", type=int, default=5000)
    parser.add_argument("--halls", type=int, default=300)
    parser.add_argument("--agreements", type=int, default=1000)
    parser.add_argument("--distinct", type=int, default=2000, help="rotating requests (default 2000)")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--folder", type=Path, help="data folder (built once, reused)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the figures as JSON")
    parser.add_argument(
        "--served",
        action="store_true",
        help="instead: tongban serve under wrk, the worker's CPU ms per answer (from /proc)",
    )
    parser.add_argument("--connections", type=int, default=32, help="with --served (default 32)")
    parser.add_argument("--seconds", type=float, default=6, help="with --served: per run (default 6)")
    parser.add_argument(
        "--same-as",
        metavar="REV",
        help="instead: answer every request with this checkout and with REV (randomness fixed) and "
        "compare status, headers and body byte for byte",
    )
    parser.add_argument("--dump", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    if args.served:
        return served(args)

    prepare(args)  # once, before any measuring process
    if args.same_as:
        return same_as(args)
    trees: list[tuple[str, Path]] = [("this checkout", ROOT)]
    if args.against:
        trees.insert(0, (args.against, export_tree(args.against)))
    if args.profile:
        result = run_child(ROOT, args, profile=str(Path(args.profile).resolve()))
        say(f"profile written to {args.profile}; {result['median_ms']:.3f} ms/page under cProfile")
        return 0
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in trees}
    for run in range(args.runs):
        for name, tree in trees:
            result = run_child(tree, args)
            results[name].append(result)
            rounds = ", ".join(f"{ms:.3f}" for ms in result["rounds_ms"])
            say(
                f"run {run + 1} {name}: {result['median_ms']:.3f} ms/page (rounds {rounds}; "
                f"statuses {result['statuses']}; {result['mean_bytes']:.0f} B; load {result['loadavg']:.2f})"
            )
    summary = {name: statistics.median(r["median_ms"] for r in runs) for name, runs in results.items()}
    for name, ms in summary.items():
        print(
            f"{args.endpoint}: {name}: median {ms:.3f} ms CPU per page ({1000 / ms:.0f} pages/s of one core)"
        )
    if args.against:
        before, after = summary[args.against], summary["this checkout"]
        print(f"{args.endpoint}: this checkout / {args.against} = {after / before:.3f}")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "runs": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
