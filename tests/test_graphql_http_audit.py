"""GraphQL over HTTP: npm `graphql-http`'s audit suite passes with no warnings against a live server,
and the two media types answer as partners' clients expect (old `application/json` unchanged)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from api.schema.view import wants_graphql_response
from api.settings import Settings
from tests.support.server import running_server

ROOT = Path(__file__).resolve().parents[1]
AUDIT = ROOT / "scripts" / "graphql-http-audit.mjs"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def test_graphql_http_audit_all_ok(settings: Settings, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "graphql-http").is_dir():
        pytest.fail("node and node_modules/graphql-http are needed: run scripts/bootstrap")
    with running_server(settings, tmp_path) as url:
        done = subprocess.run(
            [node, str(AUDIT), url + "/graphql"], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    failing = [r for r in report["results"] if r["status"] != "ok"]
    assert failing == [], json.dumps(failing, ensure_ascii=False, indent=1)
    assert report["ok"] >= 61 and report["warn"] == 0 and report["error"] == 0
    assert done.returncode == 0


@pytest.mark.parametrize(
    ("accept", "wanted"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("application/json", False),
        (GRAPHQL_RESPONSE, True),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", True),
        (f"application/json, {GRAPHQL_RESPONSE};q=0.5", False),
        (f"{GRAPHQL_RESPONSE};q=0", False),
        (f"{GRAPHQL_RESPONSE}, */*;q=0.1", True),
        ("Application/GraphQL-Response+JSON;q=abc", True),
    ],
)
def test_accept_negotiation(accept: str | None, wanted: bool) -> None:
    assert wants_graphql_response(accept) is wanted


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{", None, "GRAPHQL_PARSE_FAILED"),
        ("{ noSuchField }", None, "GRAPHQL_VALIDATION_FAILED"),
        ("query Q($c: Int!) { regions(first: $c) { totalCount } }", {"c": "x"}, "BAD_INPUT"),
    ],
)
async def test_request_errors_by_media_type(client, query: str, variables: dict | None, code: str) -> None:
    body = {"query": query, "variables": variables}
    new = await client.post("/graphql", json=body, headers={"Accept": GRAPHQL_RESPONSE})
    assert new.status_code == 400
    assert new.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert "data" not in new.json()
    assert new.json()["errors"][0]["extensions"]["code"] == code
    old = await client.post("/graphql", json=body, headers={"Accept": "application/json"})
    assert old.status_code == 200
    assert old.headers["content-type"].startswith("application/json")
    assert old.json()["data"] is None
    assert old.json()["errors"][0]["extensions"]["code"] == code
    assert new.headers["vary"] == old.headers["vary"] == "Accept"


async def test_field_errors_keep_data_and_200_with_new_media_type(client) -> None:
    response = await client.post(
        "/graphql",
        json={"query": '{ a: region(code: "331004") { name } b: agreement(id: "x") { id } }'},
        headers={"Accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"]["a"]["name"] and body["errors"][0]["path"] == ["b"]
