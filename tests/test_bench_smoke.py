"""The benchmark's own parts work (not a timed test): the scale data set is a valid import file,
and bench/run.py parses its options, builds rotating requests and formats its report.

Why: the benchmark only runs by hand (minutes, a quiet machine); without this, a change to the
import format or the schema would break it silently until the next performance check.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.db import Database
from api.services.base import SYSTEM, ServiceContext
from api.services.regions import load_tree
from api.services.transfer import import_document, read_document
from bench import run as bench
from bench import scale_data


async def context(db: Database) -> ServiceContext:
    async with db.read() as session:
        tree = await load_tree(session)
    return ServiceContext(actor=SYSTEM, tree=tree, home_city="331000")


def test_generator_is_deterministic_and_uses_real_regions() -> None:
    first = scale_data.generate(50, 12, 20, seed=3)
    assert first == scale_data.generate(50, 12, 20, seed=3)
    regions = scale_data.load_regions()
    assert [len(first[s]) for s in ("matters", "halls", "agreements")] == [50, 12, 20]
    assert len({m["code"] for m in first["matters"]}) == 50
    for agreement in first["agreements"]:
        assert agreement["partnerCode"] in regions and not agreement["partnerCode"].startswith("33")
        assert regions[agreement["partnerCode"]].level in ("CITY", "COUNTY")
    for hall in first["halls"]:
        county = hall["regionCode"][:6]
        assert county in scale_data.COUNTY_SEATS and hall["regionCode"] in regions
    grown = scale_data.generate(30, 0, 0, offset=50, seed=3)
    assert set(grown) == {"matters"}
    assert not {m["code"] for m in grown["matters"]} & {m["code"] for m in first["matters"]}


async def test_generated_file_imports_cleanly_and_idempotently(db: Database, tmp_path: Path) -> None:
    path = scale_data.write(scale_data.generate(50, 10, 20, seed=3), tmp_path / "scale.json")
    document = read_document(path)
    ctx = await context(db)
    report = await import_document(db, ctx, document)
    assert (
        report.counts["matters"] == 50 and report.counts["halls"] == 10 and report.counts["agreements"] == 20
    )
    again = await import_document(db, ctx, read_document(path))
    assert sum(again.changes.values()) == 0


def test_options() -> None:
    args = bench.parse_args(["--quick", "--client", "python"])
    assert (args.matters, args.duration, args.connections, args.workers, args.client) == (
        200,
        2.0,
        32,
        1,
        "python",
    )
    args = bench.parse_args(
        ["--matters", "300", "--workers", "2", "--duration", "5", "--client", "python", "--json", "x.json"]
    )
    assert (args.matters, args.workers, args.duration, args.json) == (300, 2, 5.0, Path("x.json"))
    for bad in (["--workers", "3"], ["--connections", "0"], ["--duration", "0"], ["--matters", "-1"]):
        with pytest.raises(SystemExit):
            bench.parse_args(bad)


def test_requests_rotate_and_wrk_script_is_ascii() -> None:
    document = scale_data.generate(60, 10, 30, seed=3)
    demo = json.loads(bench.DEMO_JSON.read_text(encoding="utf-8"))
    workload = bench.build_workload(document, demo, seed=3, size=200)
    assert set(workload.requests) == set(bench.ENDPOINTS)
    for name, requests in workload.requests.items():
        distinct = {(r.path, r.body) for r in requests}
        assert len(distinct) > (40 if name == "region" else 100), name  # region: few partners at this size
    body = json.loads(workload.requests["whereToHandle"][0].body)
    assert "first: 10" in body["query"] and body["variables"]["home"]
    script = bench.wrk_script(workload.requests["search"][:5] + workload.requests["coverage"][:5])
    script.encode("ascii")
    assert script.count('\n  {"GET", "/search?') == 5 and script.count('\n  {"POST", "/graphql", "{') == 5
    assert "BENCHJSON" in script
    raw = workload.requests["coverage"][0].raw("127.0.0.1:8000")
    assert raw.startswith(b"POST /graphql HTTP/1.1\r\n") and b"Content-Length: " in raw


def _result(name: str, rps: float, p99: float) -> bench.LoadResult:
    return bench.LoadResult(name, int(rps * 10), 10.0, 0, p99 / 3, p99 / 2, p99, p99 * 2, "wrk")


def test_report_table_and_goals() -> None:
    report = bench.Report(
        settings={
            "matters": 5000,
            "halls": 300,
            "agreements": 1000,
            "connections": 32,
            "duration": 10,
            "warmup": 2,
            "workers": 2,
            "client": "wrk",
            "cpus": 2,
            "reindex_matters": 20000,
        }
    )
    report.hello = [_result("hello", 4000, 20), _result("hello", 3800, 22)]
    report.load = {
        "search": _result("search", 800, 45),
        "whereToHandle": _result("whereToHandle", 300, 80),
        "coverage": _result("coverage", 1000, 30),
    }
    report.unavailable = {"region": "HTTP 404"}
    report.timings = {"init --demo": 4.2, "reindex": 25.0}
    report.rss_mb = {"workers=1": 180.0}
    report.scaling = {
        "workers": 2,
        "search_rps": 1400.0,
        "factor": 1.75,
        "p50_ms": 10.0,
        "p95_ms": 20.0,
        "p99_ms": 40.0,
        "max_ms": 60.0,
        "errors": 0,
    }
    assert report.ratio("search") == pytest.approx(800 / 3900)
    goals = {row[0]: row[3] for row in bench.goal_rows(report)}
    assert goals["search req/s ÷ hello-world"] == "PASS"
    assert goals["whereToHandle req/s ÷ hello-world"] == "MISS"  # 300/3900 < 0.10
    assert goals["whereToHandle p99 at 32 connections"] == "MISS"
    assert goals["region p99 at 32 connections"] == "—"
    assert goals["peak RSS per worker"] == "PASS" and goals["tongban init --demo"] == "PASS"
    assert goals["tongban reindex at 20000 matters"] == "MISS"
    assert goals["search req/s, 2 workers ÷ 1 worker"] == "PASS"
    text = bench.format_report(report)
    assert "hello-world (run 2)" in text and "0.205" in text and "not measured: HTTP 404" in text
    assert json.loads(json.dumps(report.to_json()))["load"]["search"]["rps"] == 800.0


def test_profile_summary(tmp_path: Path) -> None:
    raw = tmp_path / "p.txt"
    raw.write_text(
        f"main (x.py:1);search ({bench.ROOT}/web/public.py:250);render (/v/lib/python3.11/site-packages/jinja2/environment.py:9) 30\n"
        f"main (x.py:1);coverage ({bench.ROOT}/api/rules.py:40) 10\n",
        encoding="utf-8",
    )
    summary = bench.summarise_profile(raw)
    assert summary["own"][0] == ("render (jinja2/environment.py)", 0.75)
    assert ("search (web/public.py)", 0.75) in summary["project"]
