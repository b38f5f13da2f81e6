"""Search quality: recall@5 and MRR of our search vs a plain substring search over names.

Usage: ``.venv/bin/python bench/search_eval.py [--source demo|csv|both] [--misses]``

Document sets:
* ``demo``: ``api/data/demo.json`` (the extended import format, with curated keywords);
* ``csv``: the real national matter lists in ``/work/shared/data`` merged by
  ``group_key`` (社保卡申领 and 社会保障卡申领 are one matter, the other names become
  aliases), plus the demo's sample matters, with NO keywords and no guides: this measures
  what the analysis and the synonym dictionary achieve on official names alone.

A query counts as found at rank r when the r-th hit's name or one of its aliases contains
one of the query's expected names (``bench/eval_queries.json``).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from search_index import SearchIndex, sanitize_query  # noqa: E402

DEMO_JSON = ROOT / "api" / "data" / "demo.json"
SHARED = Path("/work/shared/data")
QUERIES = Path(__file__).with_name("eval_queries.json")
SAMPLE_NAMES = [
    ("S-001", "居民户口簿补领", "公安局", "PROVINCE_WIDE"),
    ("S-002", "机动车驾驶证换领", "公安局", "PROVINCE_WIDE"),
    ("S-005", "城乡居民医保参保登记", "医疗保障局", "CITYWIDE"),
    ("S-006", "灵活就业人员参保登记", "人力资源社会保障局", "CITYWIDE"),
]
# matters_national_more.csv has no group_key: its rows join a group by exact name, or by
# these restatements of the same national item
_MORE_TO_GROUP = {
    "城乡居民养老保险登记和待遇申请": "rural_urban_pension_enrol_and_benefit",
    "门诊慢特病费用结算": "outpatient_chronic_disease_settlement",
    "电子缴税": "tax_e_payment",
    "完税证明开具": "tax_payment_certificate",
    "社保费申报": "employer_social_insurance_declaration",
}


def guide_text(guide: dict[str, Any] | None) -> str:
    """The searchable guide text the app passes: conditions + materials + steps + walkthrough."""
    if not guide:
        return ""
    parts = [guide.get("conditions") or ""]
    parts += [m.get("name") or "" for m in guide.get("materials") or [] if isinstance(m, dict)]
    parts += [s for s in guide.get("steps") or [] if isinstance(s, str)]
    parts.append(guide.get("walkthrough") or "")
    return "\n".join(p for p in parts if p)


def demo_documents(path: Path = DEMO_JSON) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        {
            "code": m["code"],
            "name": m["name"],
            "aliases": m.get("aliases") or [],
            "keywords": m.get("keywords") or [],
            "department": m.get("department") or "",
            "scope": m.get("scope") or "CROSS_PROVINCE",
            "guide_text": guide_text(m.get("guide")),
        }
        for m in data.get("matters", [])
    ]


def csv_documents(folder: Path = SHARED) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    by_name: dict[str, str] = {}

    def add(key: str, name: str, department: str) -> None:
        g = groups.setdefault(key, {"names": [], "department": ""})
        if name not in g["names"]:
            g["names"].append(name)
        g["department"] = g["department"] or department
        by_name[name] = key

    with open(folder / "matters_national.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            add(row["group_key"] or row["name"], row["name"].strip(), row.get("department") or "")
    with open(folder / "matters_national_more.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            name = row["name"].strip()
            key = by_name.get(name) or _MORE_TO_GROUP.get(name) or name
            add(key, name, row.get("department") or "")
    docs = []
    for i, g in enumerate(groups.values(), 1):
        docs.append(
            {
                "code": f"N-{i:03d}",
                "name": g["names"][0],
                "aliases": g["names"][1:],
                "keywords": [],
                "department": g["department"],
                "scope": "CROSS_PROVINCE",
                "guide_text": "",
            }
        )
    for code, name, dept, scope in SAMPLE_NAMES:
        docs.append(
            {
                "code": code,
                "name": name,
                "aliases": [],
                "keywords": [],
                "department": dept,
                "scope": scope,
                "guide_text": "",
            }
        )
    return docs


def _names(doc: dict[str, Any]) -> list[str]:
    return [doc["name"], *doc.get("aliases", [])]


def _satisfies(doc: dict[str, Any], expect: list[str]) -> bool:
    return any(e in n for n in _names(doc) for e in expect)


def substring_search(docs: list[dict[str, Any]], text: str, limit: int = 10) -> list[str]:
    """The baseline: names (or aliases) containing the whole query, shortest name first."""
    q = sanitize_query(text)
    if not q:
        return []
    found = [d for d in docs if any(q in n for n in _names(d))]
    found.sort(key=lambda d: len(d["name"]))
    return [d["code"] for d in found[:limit]]


def evaluate(
    label: str, docs: list[dict[str, Any]], queries: list[dict[str, Any]], show_misses: bool
) -> float:
    by_code = {d["code"]: d for d in docs}
    usable = [q for q in queries if any(_satisfies(d, q["expect"]) for d in docs)]
    skipped = len(queries) - len(usable)
    with tempfile.TemporaryDirectory() as tmp:
        idx = SearchIndex(Path(tmp) / "index")
        t0 = time.perf_counter()
        idx.rebuild(docs, applied_id=0)
        build_s = time.perf_counter() - t0
        stats = {"ours": defaultdict(float), "substring": defaultdict(float)}
        kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        sets: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        misses = []
        for q in usable:
            ours = [h.code for h in idx.search(q["q"], limit=10)]
            base = substring_search(docs, q["q"])
            for name, codes in (("ours", ours), ("substring", base)):
                rank = next((i for i, c in enumerate(codes, 1) if _satisfies(by_code[c], q["expect"])), None)
                stats[name]["r5"] += 1 if rank and rank <= 5 else 0
                stats[name]["mrr"] += 1 / rank if rank else 0
                if name == "ours":
                    kinds[q["kind"]][0] += 1 if rank and rank <= 5 else 0
                    kinds[q["kind"]][1] += 1
                    sets[q.get("set", "dev")][0] += 1 if rank and rank <= 5 else 0
                    sets[q.get("set", "dev")][1] += 1
                    if not rank or rank > 5:
                        misses.append((q["q"], rank, [by_code[c]["name"] for c in ours[:5]]))
        idx.close()
    n = len(usable)
    print(f"\n== {label}: {len(docs)} matters, {n} queries ({skipped} skipped: expected matter absent)")
    print(f"   index build {build_s * 1000:.0f} ms")
    print(f"   {'':12}{'recall@5':>10}{'MRR':>8}")
    for name in ("ours", "substring"):
        print(f"   {name:12}{stats[name]['r5'] / n:>10.3f}{stats[name]['mrr'] / n:>8.3f}")
    print("   ours recall@5 by set: " + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(sets.items())))
    print("   ours by kind: " + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(kinds.items())))
    if show_misses or misses:
        for text, rank, top in misses:
            print(f"   miss: {text!r} rank={rank} top5={top}")
    return stats["ours"]["r5"] / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", choices=["demo", "csv", "both"], default="both")
    parser.add_argument("--misses", action="store_true", help="list every query not found in the top 5")
    args = parser.parse_args()
    queries = json.loads(QUERIES.read_text(encoding="utf-8"))["queries"]
    results = []
    if args.source in ("demo", "both"):
        if DEMO_JSON.exists():
            results.append(
                evaluate(f"demo.json ({DEMO_JSON.relative_to(ROOT)})", demo_documents(), queries, args.misses)
            )
        else:
            print(f"(no {DEMO_JSON}; skipping the demo set)")
    if args.source in ("csv", "both"):
        results.append(
            evaluate(
                "national CSVs merged by group_key + samples, names only",
                csv_documents(),
                queries,
                args.misses,
            )
        )
    return 0 if results and min(results) >= 0.9 else 1


if __name__ == "__main__":
    raise SystemExit(main())
