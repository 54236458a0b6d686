"""Operator-facing visibility: request ids, the JSON access log, Prometheus metrics.

``init_observability(app)`` wires all of it:

1. the ``access`` logger to stderr (``request_log``), one JSON line per request, buffered
   by default (``ACCESS_LOG``);
2. per-app metrics (``metrics``), multiprocess-aware, with the response cache's own store and
   error counters when the app has the cache;
3. ``RequestObserver`` (``middleware``) around ``app.wsgi_app``, feeding both, and stamping
   ``Server-Timing`` when ``SERVER_TIMING`` is true.

The ``/metrics`` endpoint that reads them is a blueprint (``blueprints/metrics.py``). Call
this last in ``create_app``: the observer must wrap every layer the app installs to see,
time and stamp every response (``init_cache`` refuses to run after it, because the
response cache's WSGI layer would then sit outside the observer).
"""

from __future__ import annotations

from flask import Flask

from observability.metrics import init_metrics, response_cache_counters, set_cache_counter_source
from observability.middleware import RequestObserver, remember_rule
from observability.request_log import configure_access_logger, current_request_id, log_access

__all__ = ["current_request_id", "init_observability", "set_cache_counter_source"]


def init_observability(app: Flask) -> None:
    configure_access_logger(app.config.get("ACCESS_LOG", "buffered"))
    metrics = init_metrics(app)
    if "response_cache" in app.extensions:
        set_cache_counter_source(app, response_cache_counters)
    app.url_value_preprocessor(remember_rule)
    app.wsgi_app = RequestObserver(  # type: ignore[method-assign]
        app,
        sinks=(log_access, metrics.observe),
        server_timing=bool(app.config.get("SERVER_TIMING", False)),
    )
