"""Prometheus metrics: what the cache, the limiter and Redis are doing, per endpoint.

Contract (every name is documented for operators in ``docs/operations.md``):

- Per request, from the finished response only (so they hold whether the cache answered inside
  Flask or below it, and whatever the cache's internals are):
  ``http_request_duration_seconds{endpoint,cache}`` (histogram; ``cache`` is the lower-cased
  ``X-Cache`` value, or ``none`` for a route the cache does not handle),
  ``http_responses_total{endpoint,status}``,
  ``response_cache_outcomes_total{endpoint,outcome}`` (hit, miss, stale, bypass: one per response
  that carried ``X-Cache``) and ``rate_limit_rejections_total{endpoint}`` (every 429: the API
  limits and the per-account login throttle). ``endpoint`` is the Flask endpoint name, or
  ``unmatched`` for a URL no route matched (so a scanner cannot mint label values).
- At scrape time, in the process that answers the scrape:
  ``redis_circuit_breaker_state{state}`` (1 for the current state of that worker's breaker,
  0 for the others; absent in embedded mode), ``cache_invalidations_pending`` (``cache_outbox``
  rows not yet applied to Redis; absent if the database cannot be read) and, when a source was
  registered with ``set_cache_counter_source`` (``init_observability`` registers the response
  cache's when the app has one), the cache's own shared counters as
  ``response_cache_stores_total{endpoint}`` and ``response_cache_errors_total{endpoint}``: totals
  over every process sharing the cache's Redis, so every instance reports the same value (take
  ``max``, not ``sum``, across instances).
- Under gunicorn with ``PROMETHEUS_MULTIPROC_DIR`` set, per-request metrics are written to that
  directory by every worker and each scrape merges them (prometheus-client multiprocess mode;
  gunicorn.conf.py empties the directory at start and marks dead workers). Without it, each app
  has a private registry. Nothing is ever registered on prometheus-client's global registry.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping

from flask import Flask, current_app
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from observability.request_log import Observation

log = logging.getLogger(__name__)

EXTENSION_KEY = "observability.metrics"
CACHE_OUTCOMES = frozenset({"hit", "miss", "stale", "bypass"})
BREAKER_STATES = ("closed", "open", "half_open")
UNMATCHED = "unmatched"
# Cache hits are sub-millisecond; the default buckets start at 5 ms and would lump them together.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

CounterSource = Callable[[], Mapping[str, Mapping[str, int]]]


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip() or None


class Metrics:
    """The per-request metrics of one app (one set per process)."""

    def __init__(self, multiprocess: bool) -> None:
        self.multiprocess = multiprocess
        # In multiprocess mode the values live in files and a scrape builds its own registry.
        self.registry: CollectorRegistry | None = None if multiprocess else CollectorRegistry()
        registry = self.registry
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from the WSGI call to the last byte of the response, by cache outcome.",
            ["endpoint", "cache"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.responses = Counter(
            "http_responses", "Responses by status code.", ["endpoint", "status"], registry=registry
        )
        self.cache_outcomes = Counter(
            "response_cache_outcomes",
            "Responses by X-Cache value (hit, miss, stale, bypass).",
            ["endpoint", "outcome"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "rate_limit_rejections",
            "429 answers (API rate limits and the per-account login throttle).",
            ["endpoint"],
            registry=registry,
        )
        self.cache_counter_source: CounterSource | None = None

    def observe(self, observation: Observation) -> None:
        endpoint = observation.endpoint or UNMATCHED
        outcome = (observation.cache or "").lower()
        cache_label = outcome if outcome in CACHE_OUTCOMES else "none"
        self.latency.labels(endpoint, cache_label).observe(observation.duration)
        self.responses.labels(endpoint, str(observation.status)).inc()
        if cache_label != "none":
            self.cache_outcomes.labels(endpoint, cache_label).inc()
        if observation.status == 429:
            self.rate_limited.labels(endpoint).inc()


class ScrapeTimeCollector:
    """Values read when Prometheus scrapes, in the scraping request's app context."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        return []  # nothing to check at registration; collect() needs an app context

    def collect(self) -> Iterator[Metric]:
        yield from breaker_state()
        yield from pending_invalidations()
        if self.metrics.cache_counter_source is not None:
            yield from cache_counters(self.metrics.cache_counter_source)


def breaker_state() -> Iterable[Metric]:
    link = current_app.extensions.get("redis_link")
    breaker = getattr(link, "breaker", None)
    if breaker is None:
        return []
    state = str(breaker.state)
    family = GaugeMetricFamily(
        "redis_circuit_breaker_state",
        "1 for the Redis circuit breaker's current state in the worker that answered the scrape.",
        labels=["state"],
    )
    for name in BREAKER_STATES if state in BREAKER_STATES else (*BREAKER_STATES, state):
        family.add_metric([name], 1.0 if name == state else 0.0)
    return [family]


def pending_invalidations() -> Iterable[Metric]:
    from models import cache_outbox

    query = select(func.count()).select_from(cache_outbox).where(cache_outbox.c.applied.is_(False))
    try:
        pending = db.session.execute(query).scalar_one()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("metrics: cannot count pending invalidations: %s", exc)
        return []
    return [
        GaugeMetricFamily(
            "cache_invalidations_pending",
            "Committed writes whose cache invalidation has not reached Redis yet (cache_outbox).",
            value=float(pending),
        )
    ]


def cache_counters(source: CounterSource) -> Iterable[Metric]:
    stores = CounterMetricFamily(
        "response_cache_stores", "Entries stored (the cache's shared counter).", labels=["endpoint"]
    )
    errors = CounterMetricFamily(
        "response_cache_errors",
        "Storage errors (the cache's shared counter).",
        labels=["endpoint"],
    )
    for endpoint, counters in sorted(source().items()):
        stores.add_metric([endpoint], float(counters.get("store", 0)))
        errors.add_metric([endpoint], float(counters.get("error", 0)))
    return [stores, errors]


def response_cache_counters() -> Mapping[str, Mapping[str, int]]:
    """The response cache's shared counters (every process, every instance), read-only."""
    from flask_response_cache import StorageUnavailable

    from cache import response_cache

    try:
        endpoints: Mapping[str, Mapping[str, int]] = response_cache.stats()["endpoints"]
        return endpoints
    except StorageUnavailable:
        return {}  # Redis is down: the series pause; the breaker gauge says why


def init_metrics(app: Flask) -> Metrics:
    metrics = Metrics(multiprocess=multiprocess_dir() is not None)
    app.extensions[EXTENSION_KEY] = metrics
    return metrics


def app_metrics(app: Flask) -> Metrics:
    metrics: Metrics = app.extensions[EXTENSION_KEY]
    return metrics


def set_cache_counter_source(app: Flask, source: CounterSource) -> None:
    """Export the cache's own store/error counters: ``source()`` maps endpoint -> counters."""
    app_metrics(app).cache_counter_source = source


def render_metrics(accept: str | None) -> tuple[bytes, str]:
    """The exposition of the current app's metrics, in the format ``accept`` asks for."""
    metrics = app_metrics(current_app)
    scrape = CollectorRegistry()
    if metrics.multiprocess:
        MultiProcessCollector(scrape)
    else:
        assert metrics.registry is not None
        scrape.register(metrics.registry)
    scrape.register(ScrapeTimeCollector(metrics))
    encoder, content_type = choose_encoder(accept or "")
    return encoder(scrape), content_type
