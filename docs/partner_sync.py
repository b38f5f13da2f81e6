"""Keep a partner region's copy of its 通办 coverage in step with tongban, incrementally.

A partner region (here: whoever runs this script) wants to know, for every matter, whether its
people can handle it in Taizhou and why. The first run reads every matter's coverage; later runs
ask only for the changes since the stored cursor (`changes(after: …)`) and refresh what they can
affect: a changed matter refreshes that matter, a changed agreement, region, relation or setting
refreshes everything (coverage follows from agreements), a hall change nothing (halls do not
change coverage; ask `whereToHandle` when you need them).

    pip install 'gql[httpx]==4.4.0'         # or: pip install 'tongban[partner-example]'
    python docs/partner_sync.py --url https://tongban.example/graphql --region 511302 --state sync.json

The state file (JSON) holds the cursor and the coverage: {"cursor", "coverage": {code: {...}}}.
Add --token when your account has one (then liaison contact changes are included as well).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXTransport

CHANGES = gql("""
query Changes($after: String) {
  changes(after: $after, first: 100) {
    edges { node { seq entity key action } }
    pageInfo { hasNextPage endCursor }
  }
}""")

MATTERS = gql("""
query Matters($after: String) {
  matters(first: 100, after: $after) {
    edges { node { code name } }
    pageInfo { hasNextPage endCursor }
  }
}""")

COVERAGE = gql("""
query Coverage($home: String!, $matter: String!) {
  coverage(homeRegionCode: $home, matterCode: $matter) {
    covered explanation agreements { id title }
    matter { code name }
  }
}""")

#: Kinds of change after which every matter's coverage may differ.
EVERYTHING = {"agreement", "region", "relation", "setting"}


def read_changes(client: Client, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Every change after `cursor`, and the cursor to store (unchanged when nothing is new)."""
    found: list[dict[str, Any]] = []
    while True:
        page = client.execute(CHANGES, variable_values={"after": cursor})["changes"]
        found += [edge["node"] for edge in page["edges"]]
        cursor = page["pageInfo"]["endCursor"] or cursor
        if not page["pageInfo"]["hasNextPage"]:
            return found, cursor


def all_matter_codes(client: Client) -> list[str]:
    codes: list[str] = []
    after = None
    while True:
        page = client.execute(MATTERS, variable_values={"after": after})["matters"]
        codes += [edge["node"]["code"] for edge in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            return codes


def coverage_of(client: Client, home: str, code: str) -> dict[str, Any]:
    answer = client.execute(COVERAGE, variable_values={"home": home, "matter": code})["coverage"]
    return {
        "name": answer["matter"]["name"] if answer["matter"] else code,
        "covered": answer["covered"],
        "explanation": answer["explanation"],
        "agreements": [a["title"] for a in answer["agreements"]],
    }


def sync(url: str, region: str, state_path: Path, token: str | None = None) -> dict[str, Any]:
    state = json.loads(state_path.read_text(encoding="utf-8")) if state_path.exists() else {}
    headers = {"Authorization": f"Bearer {token}"} if token else None
    transport = HTTPXTransport(url=url, headers=headers, timeout=30)
    with Client(transport=transport, fetch_schema_from_transport=False) as client:
        first_run = "cursor" not in state
        changes, cursor = read_changes(client, state.get("cursor"))
        coverage: dict[str, Any] = state.get("coverage", {})
        if first_run or any(c["entity"] in EVERYTHING for c in changes):
            wanted = set(all_matter_codes(client))
            coverage = {code: value for code, value in coverage.items() if code in wanted}
        else:
            wanted = {c["key"] for c in changes if c["entity"] == "matter"}
        for code in sorted(wanted):
            try:
                coverage[code] = coverage_of(client, region, code)
            except TransportQueryError as error:  # e.g. a matter withdrawn since: NOT_FOUND
                if not any(
                    (e.get("extensions") or {}).get("code") == "NOT_FOUND" for e in error.errors or []
                ):
                    raise
                coverage.pop(code, None)
    state = {"url": url, "region": region, "cursor": cursor, "coverage": coverage}
    tmp = state_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(state_path)  # the cursor moves only together with what it covers
    summary = {
        "changes": len(changes),
        "refreshed": len(wanted),
        "covered": sum(v["covered"] for v in coverage.values()),
    }
    print(json.dumps(summary, ensure_ascii=False))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", required=True, help="the GraphQL endpoint, e.g. https://tongban.example/graphql"
    )
    parser.add_argument("--region", required=True, help="your region's code (GB/T 2260), e.g. 511302")
    parser.add_argument(
        "--state", required=True, type=Path, help="the JSON file that keeps cursor and coverage"
    )
    parser.add_argument("--token", help="an API token (optional)")
    args = parser.parse_args(argv)
    sync(args.url, args.region, args.state, args.token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
