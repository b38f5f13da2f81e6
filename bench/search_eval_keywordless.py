"""Search quality on matters that have NO keywords: recall@1, recall@5 and MRR (issue 16).

Usage: ``.venv/bin/python bench/search_eval_keywordless.py [--misses] [--json OUT]``

Documents: the real national cross-province matters of ``/work/shared/data`` (merged by
``group_key`` as in ``search_eval.py``; the other official names of a matter are its aliases),
the demo's four sample names, and the official matter names of
``bench/keywordless_extra_matters.json`` -- names and departments only: no keywords, no guides.

Questions: ``bench/keywordless_queries.txt`` (kind | question | expected names), written as
citizens ask before the lexicon was tuned. A question counts as found at rank r when the r-th hit's
name or one of its aliases contains one of the expected names. The substring search of
``search_eval.py`` is reported beside ours as the floor.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_eval import _satisfies, csv_documents, substring_search  # noqa: E402

from search_index import SearchIndex  # noqa: E402

HERE = Path(__file__).resolve().parent
EXTRA = HERE / "keywordless_extra_matters.json"
QUESTIONS = HERE / "keywordless_queries.txt"
HOLDOUT = HERE / "keywordless_holdout.txt"


def documents() -> list[dict[str, Any]]:
    docs = csv_documents()
    for m in json.loads(EXTRA.read_text(encoding="utf-8"))["matters"]:
        docs.append(
            {
                "code": m["code"],
                "name": m["name"],
                "aliases": [],
                "keywords": [],
                "department": m["department"],
                "scope": "CROSS_PROVINCE",
                "guide_text": "",
            }
        )
    return docs


def questions(path: Path = QUESTIONS) -> list[dict[str, Any]]:
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        kind, q, expect = (part.strip() for part in raw.split("|"))
        out.append({"kind": kind, "q": q, "expect": [e for e in expect.split("/") if e]})
    return out


def evaluate(
    docs: list[dict[str, Any]], qs: list[dict[str, Any]], show_misses: bool, label: str = "keyword-less set"
) -> dict[str, Any]:
    by_code = {d["code"]: d for d in docs}
    missing = [q["q"] for q in qs if not any(_satisfies(d, q["expect"]) for d in docs)]
    if missing:
        raise SystemExit(f"questions whose expected matter is not in the set: {missing}")
    totals = {name: defaultdict(float) for name in ("ours", "substring")}
    kinds: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0, 0])
    misses = []
    with tempfile.TemporaryDirectory() as tmp:
        idx = SearchIndex(Path(tmp) / "index")
        idx.rebuild(docs, applied_id=0)
        for q in qs:
            ours = [h.code for h in idx.search(q["q"], limit=10)]
            base = substring_search(docs, q["q"])
            for name, codes in (("ours", ours), ("substring", base)):
                rank = next((i for i, c in enumerate(codes, 1) if _satisfies(by_code[c], q["expect"])), None)
                totals[name]["r1"] += rank == 1
                totals[name]["r5"] += bool(rank and rank <= 5)
                totals[name]["mrr"] += 1 / rank if rank else 0.0
                if name == "ours":
                    k = kinds[q["kind"]]
                    k[0] += rank == 1
                    k[1] += bool(rank and rank <= 5)
                    k[2] += 1 / rank if rank else 0.0
                    k[3] += 1
                    if not rank or rank > 5:
                        misses.append((q["kind"], q["q"], rank, [by_code[c]["name"] for c in ours[:3]]))
        idx.close()
    n = len(qs)
    result = {
        "documents": len(docs),
        "questions": n,
        **{f"{name}_{m}": round(v / n, 3) for name, t in totals.items() for m, v in t.items()},
        "by_kind": {
            k: {"n": v[3], "r1": v[0], "r5": v[1], "mrr": round(v[2] / v[3], 3)}
            for k, v in sorted(kinds.items())
        },
    }
    print(f"== {label}: {len(docs)} matters, {n} questions")
    print(f"   {'':12}{'recall@1':>10}{'recall@5':>10}{'MRR':>8}")
    for name in ("ours", "substring"):
        t = totals[name]
        print(f"   {name:12}{t['r1'] / n:>10.3f}{t['r5'] / n:>10.3f}{t['mrr'] / n:>8.3f}")
    print("   ours by kind (found@5/n): " + ", ".join(f"{k} {v[1]}/{v[3]}" for k, v in sorted(kinds.items())))
    if show_misses:
        for kind, text, rank, top in misses:
            print(f"   miss [{kind}] {text!r} rank={rank} top3={top}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--misses", action="store_true", help="list every question not found in the top 5")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    docs = documents()
    result = evaluate(docs, questions(), args.misses)
    holdout = evaluate(docs, questions(HOLDOUT), args.misses, "holdout (written after the lexicon)")
    if args.json:
        both = {"main": result, "holdout": holdout}
        args.json.write_text(json.dumps(both, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0 if result["ours_r5"] >= 0.85 else 1


if __name__ == "__main__":
    raise SystemExit(main())
