"""The metrics an operator scrapes from `/metrics` (Prometheus text format, CONTRACT §7).

The metric objects live here so any module can count with one import (`from api import metrics`,
then e.g. `metrics.WEBHOOK_DELIVERIES.inc()`). Under `tongban serve` every worker writes its values
to files in a per-run folder (prometheus-client's multiprocess mode: `tongban serve` sets
`PROMETHEUS_MULTIPROC_DIR` before any worker starts) and whichever worker answers the scrape adds
them up; an app created on its own (tests, embedders) keeps them in its process.

Names and labels (route = the route's template, never the raw path, so the label set stays small):

| metric | type | labels |
| --- | --- | --- |
| `tongban_http_requests_total` | counter | method, route, status |
| `tongban_http_request_duration_seconds` | histogram | route, status |
| `tongban_searches_total` / `tongban_search_zero_results_total` | counter | |
| `tongban_coverage_answers_total` | counter | channel (graphql, page), covered |
| `tongban_outbox_lag_events` | gauge | outbox rows the index has not applied (at scrape) |
| `tongban_index_age_seconds` | gauge | seconds since the index last held every outbox row |
| `tongban_index_failures_total` / `tongban_index_repairs_total` | counter | |
| `tongban_webhook_deliveries_total` / `tongban_webhook_failures_total` | counter | attempts / failed attempts (delivered = the difference) |
| `tongban_webhook_given_up_total` | counter | deliveries marked failed after 24 hours |
| `tongban_db_connections_in_use` / `tongban_db_pool_size` | gauge | summed over live workers |
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

#: request latency buckets (seconds): the pages answer in a few milliseconds, the tail matters
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter("tongban_http_requests", "HTTP requests answered", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "tongban_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["route", "status"],
    buckets=LATENCY_BUCKETS,
)
SEARCHES = Counter("tongban_searches", "Searches of the matter index (results pages and GraphQL)")
ZERO_RESULT_SEARCHES = Counter("tongban_search_zero_results", "Searches that found no matter")
COVERAGE_ANSWERS = Counter("tongban_coverage_answers", "Coverage answers given", ["channel", "covered"])
OUTBOX_LAG = Gauge(
    "tongban_outbox_lag_events",
    "Outbox rows not yet applied to the search index",
    multiprocess_mode="livemostrecent",
)
INDEX_AGE = Gauge(
    "tongban_index_age_seconds",
    "Seconds since the search index last held every outbox row",
    multiprocess_mode="livemostrecent",
)
INDEX_FAILURES = Counter("tongban_index_failures", "Search index updates that failed on the index's side")
INDEX_REPAIRS = Counter("tongban_index_repairs", "Background rebuilds started because index updates failed")
WEBHOOK_DELIVERIES = Counter(
    "tongban_webhook_deliveries", "Webhook delivery attempts (each POST, retries included)"
)
WEBHOOK_FAILURES = Counter(
    "tongban_webhook_failures", "Webhook delivery attempts that failed (non-2xx, timeout, refused)"
)
WEBHOOK_GIVEN_UP = Counter(
    "tongban_webhook_given_up", "Webhook deliveries given up after 24 hours of failed attempts"
)
DB_IN_USE = Gauge(
    "tongban_db_connections_in_use",
    "Database connections checked out of the pools",
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "tongban_db_pool_size", "Configured database pool size (without overflow)", multiprocess_mode="livesum"
)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition() -> tuple[bytes, str]:
    """The current values in the text format: this process's, or every worker's in multiprocess mode."""
    if multiprocess_dir() is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def worker_exited(pid: int) -> None:
    """Drop a dead worker's live gauges (its counters stay counted)."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)


class AddressList:
    """`TONGBAN_METRICS_ALLOW`: addresses and networks (`127.0.0.1`, `10.0.0.0/8`, `::1`)."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks = [ipaddress.ip_network(entry, strict=False) for entry in entries]

    def allows(self, address: str | None) -> bool:
        if not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip.version == net.version and ip in net for net in self.networks)


def watch_pool(engine: Any) -> None:
    """Count checked-out connections of an engine's pool (SQLAlchemy pool events)."""
    from sqlalchemy import event

    sync_engine = getattr(engine, "sync_engine", engine)
    size = getattr(sync_engine.pool, "size", None)
    if callable(size):
        DB_POOL_SIZE.inc(size())

    @event.listens_for(sync_engine, "checkout")
    def _checkout(*_args: Any) -> None:
        DB_IN_USE.inc()

    @event.listens_for(sync_engine, "checkin")
    def _checkin(*_args: Any) -> None:
        DB_IN_USE.dec()


def unwatch_pool(engine: Any) -> None:
    sync_engine = getattr(engine, "sync_engine", engine)
    size = getattr(sync_engine.pool, "size", None)
    if callable(size):
        DB_POOL_SIZE.dec(size())
