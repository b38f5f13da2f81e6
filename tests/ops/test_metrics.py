"""/metrics (CONTRACT §7): Prometheus text format, only from TONGBAN_METRICS_ALLOW, with request
counts and latencies by route template and status, searches, zero-result searches, coverage
answers, outbox lag, index age, webhook counters and database pool use."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.metrics import AddressList


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_requests_searches_and_coverage(client: httpx.AsyncClient) -> None:
    before = samples((await client.get("/metrics")).text)
    assert (await client.get("/search", params={"q": "社保卡"})).status_code == 200
    assert (await client.get("/search", params={"q": "qqzzxxkkvvjj"})).status_code == 200
    assert (await client.get("/matters/no-such-code")).status_code == 404
    coverage = {"query": '{ coverage(homeRegionCode: "511300") { covered } }'}
    assert (await client.post("/graphql", json=coverage)).status_code == 200
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    after = samples(response.text)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("tongban_http_requests_total", method="GET", route="/search", status="200") == 2
    assert grew("tongban_http_requests_total", method="GET", route="/matters/{code}", status="404") == 1
    assert grew("tongban_http_request_duration_seconds_count", route="/search", status="200") == 2
    assert grew("tongban_http_request_duration_seconds_bucket", route="/search", status="200", le="+Inf") == 2
    assert grew("tongban_searches_total") >= 2
    assert grew("tongban_search_zero_results_total") >= 1
    assert grew("tongban_coverage_answers_total", channel="graphql", covered="true") == 1
    assert value(after, "tongban_outbox_lag_events") == 0
    assert value(after, "tongban_index_age_seconds") == 0
    assert value(after, "tongban_db_pool_size") >= 1
    assert ("tongban_db_connections_in_use", ()) in after
    for name in (
        "tongban_webhook_deliveries_total",
        "tongban_webhook_failures_total",
        "tongban_index_failures_total",
    ):
        assert (name, ()) in after
    # no raw paths as labels: a route template per route
    assert not re.search(r'route="/matters/no-such-code"', response.text)


async def test_metrics_answer_only_allowed_addresses(app: Any) -> None:
    outside = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=outside, base_url="http://testserver") as stranger:
        response = await stranger.get("/metrics")
    assert response.status_code == 404
    assert "tongban_" not in response.text


@pytest.mark.parametrize(
    ("entries", "address", "allowed"),
    [
        (("127.0.0.1/8", "::1/128"), "127.0.0.1", True),
        (("127.0.0.1/8", "::1/128"), "127.9.9.9", True),
        (("127.0.0.1/8", "::1/128"), "::1", True),
        (("127.0.0.1/8", "::1/128"), "::ffff:127.0.0.1", True),
        (("127.0.0.1/8", "::1/128"), "10.0.0.5", False),
        (("10.0.0.0/8",), "10.0.0.5", True),
        (("192.0.2.7",), "192.0.2.7", True),
        (("192.0.2.7",), "192.0.2.8", False),
        (("127.0.0.1/8",), "not-an-address", False),
        (("127.0.0.1/8",), None, False),
    ],
)
def test_metrics_allow_list(entries: tuple[str, ...], address: str | None, allowed: bool) -> None:
    assert AddressList(entries).allows(address) is allowed
