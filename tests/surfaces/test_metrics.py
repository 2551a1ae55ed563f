"""Prometheus metrics after a real run: worker histograms through Celery signals, Redis counters, process metrics."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from demo.server import SiteServer
from pipeline.feeds import FeedConfig
from pipeline.stages import poll_work
from tests.surfaces.server import ApiServer
from workers.handoff import submit
from workers.runtime import Runtime
from workers.service import wait_until_idle
from workers.supervisor import WorkerGroup

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text answer, keyed by name and sorted labels."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_run_shows_stage_histograms_latency_and_outcome_counters(
    runtime: Runtime, workers: WorkerGroup, site: SiteServer
) -> None:
    """After one feed is ingested by real workers, /metrics has every stage's durations, the
    item-to-searchable latency, queue waits, outcome counters and the process collectors."""
    articles = 4  # the courier fixture site
    feed = FeedConfig(url=f"{site.base}/feed.xml", site="courier-metrics")
    submit(runtime.state, [poll_work(feed.model_dump(), feed.id, scheduled=False)])
    assert wait_until_idle(runtime, workers, 90)
    with ApiServer(runtime) as server:
        text = httpx.get(f"{server.base}/metrics", timeout=30).text
    found = samples(text)

    for stage, at_least in (("poll", 1), ("fetch", articles), ("clean", articles), ("index", 1)):
        assert value(found, "newsflow_stage_duration_seconds_count", stage=stage) >= at_least, stage
        assert value(found, "newsflow_stage_duration_seconds_bucket", stage=stage, le="+Inf") >= at_least, stage
        assert value(found, "newsflow_tasks_total", stage=stage, outcome="completed") >= at_least, stage
        assert value(found, "newsflow_queue_wait_seconds_count", stage=stage) >= at_least, stage
    # Every article was seen in the feed and made searchable by some index batch.
    latency = value(found, "newsflow_item_to_searchable_seconds_count")
    assert 1 <= latency <= articles
    assert 0 < value(found, "newsflow_item_to_searchable_seconds_sum") < 90 * latency
    # Counters held in Redis, and the gauges read from it.
    assert value(found, "newsflow_indexed_total") >= articles  # re-cleaned pages are indexed again
    assert value(found, "newsflow_dead_lettered_total") == 0
    assert value(found, "newsflow_queue_depth", queue="fetch") == 0
    assert value(found, "newsflow_index_pending") == 0
    assert value(found, "newsflow_redis_memory_bytes") > 0
    assert value(found, "newsflow_seen_urls") >= articles
    assert value(found, "newsflow_search_up") == 1
    # prometheus_client's own collectors describe the API process.
    assert value(found, "process_resident_memory_bytes") > 0
    assert any(name == "python_info" for name, _ in found)
    # The shipped Grafana dashboard asks only for metrics that exist.
    exported = {name for name, _ in found}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            exported |= {name, *(name + s for s in ("_bucket", "_sum", "_count") if kind == "histogram")}
    dashboard = (ROOT / "config/grafana/newsflow.json").read_text(encoding="utf-8")
    asked = set(re.findall(r"\b(newsflow_\w+|process_\w+)", dashboard))
    assert asked and asked <= exported, asked - exported


def test_histograms_are_on_metrics_from_the_start(api_runtime: Runtime) -> None:
    """Before any worker ran, /metrics has every stage's histograms at zero (`_bucket` lines),
    and the API's request latency by route, which counts the searches it answered."""
    with ApiServer(api_runtime) as server, httpx.Client(base_url=server.base, timeout=30) as client:
        found = samples(client.get("/metrics").text)
        for stage in ("poll", "fetch", "clean", "index"):
            for name in ("newsflow_stage_duration_seconds", "newsflow_queue_wait_seconds"):
                assert (f"{name}_bucket", (("le", "+Inf"), ("stage", stage))) in found, (name, stage)
                assert value(found, f"{name}_count", stage=stage) == 0
        assert ("newsflow_item_to_searchable_seconds_bucket", (("le", "0.1"),)) in found
        search_bucket = ("newsflow_api_request_duration_seconds_bucket", (("le", "+Inf"), ("route", "/api/search")))
        assert found[search_bucket] == 0
        for _ in range(3):
            assert client.get("/api/search", params={"q": "harbour"}).status_code == 200
        found = samples(client.get("/metrics").text)
    assert value(found, "newsflow_api_request_duration_seconds_count", route="/api/search") == 3
    assert value(found, "newsflow_api_request_duration_seconds_sum", route="/api/search") > 0
    assert value(found, "newsflow_api_request_duration_seconds_count", route="/metrics") >= 1
