"""docs/partner_sync.py, the partner-side example, run as a partner would run it (a separate
process, the `gql` client) against a live tongban server: a full first sync, an empty second one,
and an incremental one that picks up exactly the matter that changed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from api.settings import Settings
from tests.conftest import make_token
from tests.support.server import running_server

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "docs" / "partner_sync.py"


def run_sync(url: str, state: Path) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--url", url + "/graphql", "--region", "511302", "--state", str(state)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


async def test_partner_sync_example_against_a_live_server(settings: Settings, tmp_path: Path) -> None:
    admin = await make_token(settings, "example-admin", "admin", "331000")
    state = tmp_path / "sync.json"
    with running_server(settings, tmp_path) as url:
        first = run_sync(url, state)
        saved = json.loads(state.read_text(encoding="utf-8"))
        assert first["changes"] > 0 and first["refreshed"] == len(saved["coverage"]) > 10
        assert saved["coverage"]["M-008"]["covered"] is True
        assert "一地签约、全市共享" in saved["coverage"]["M-008"]["explanation"]

        assert run_sync(url, state) == {"changes": 0, "refreshed": 0, "covered": first["covered"]}

        # the city narrows a matter to citywide: the next sync refreshes that matter only
        changed = httpx.post(
            url + "/graphql",
            json={
                "query": 'mutation { upsertMatter(input: {code: "M-008", name: "社会保障卡申领", scope: CITYWIDE}) { code } }'
            },
            headers={"Authorization": f"Bearer {admin}"},
            timeout=30,
        ).json()
        assert "errors" not in changed, changed
        third = run_sync(url, state)
        assert third == {"changes": 1, "refreshed": 1, "covered": first["covered"] - 1}
        after = json.loads(state.read_text(encoding="utf-8"))
        assert after["coverage"]["M-008"]["covered"] is False
        assert after["cursor"] != saved["cursor"]
