"""The WSGI layer that times every request, stamps its id, and reports it once.

Contract:
- ``RequestObserver(app)`` wraps ``app.wsgi_app``. It must be the outermost layer the app
  installs (``init_observability`` runs last in ``create_app``; only ``ProxyFix``, added by
  wsgi.py, sits outside it), so a cache hit answered below Flask's dispatch is seen like any other
  response.
- The response's ``X-Request-ID`` is always the current request's id (``request_log``): any
  ``X-Request-ID`` coming from below (a stored response, a view) is replaced, never duplicated.
- When the response body has been iterated to its end or closed (WSGI ``close()``: the server
  sent it, or the client went away), whichever comes first, one ``Observation`` goes to every
  sink: the access log and the metrics. The route is the matched URL rule: recorded by
  ``remember_rule`` (a URL value preprocessor: it runs on every request Flask dispatches, before
  any ``before_request`` hook can answer), else matched here against the URL map (a response
  answered below Flask).
- ``Server-Timing: app;dur=<ms, 3 decimals>`` (W3C Server Timing) when ``server_timing`` is
  true (setting ``SERVER_TIMING``, default off): the time from entering this layer until the
  app below calls ``start_response``. For a hit answered by the fast path (its body is already
  bytes) that is the whole server-side handling of the request. This layer owns the header:
  any ``Server-Timing`` coming from below (a view, or a stored response replaying one) is
  dropped, on or off, so a response carries exactly one, fresh, or none. The header is added
  here, above the response cache, so a stored entry never holds it. Off, the cost is nil (no
  clock read, no formatting); on, one ``perf_counter`` and one f-string.
- Timing uses ``time.perf_counter`` (monotonic); nothing here touches Redis or the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from time import perf_counter
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from flask import Flask, request
from flask_response_cache import fast_hit_safe
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule

from observability.request_log import ENVIRON_KEY, REQUEST_ID_HEADER, Observation, request_id_from

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Sink = Callable[[Observation], None]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]
SERVER_TIMING_HEADER = "Server-Timing"
# Headers this layer owns: whatever the layers below say under these names is dropped.
_OWNED = frozenset({REQUEST_ID_HEADER.lower(), SERVER_TIMING_HEADER.lower()})
# Flask clears environ["werkzeug.request"] when its request context ends, so the rule is kept here.
RULE_KEY = "observability.url_rule"
_NOT_DISPATCHED = object()


@fast_hit_safe("the fast path leaves the matched rule under RULE_KEY itself")
def remember_rule(_endpoint: str | None, _values: dict[str, Any] | None) -> None:
    """Flask URL value preprocessor: note the matched rule (None: no route matched)."""
    request.environ[RULE_KEY] = request.url_rule


class _Outcome:
    """What start_response saw: filled in by the app below, read when the body is closed."""

    __slots__ = ("cache", "status")

    def __init__(self) -> None:
        self.status = 500  # the app raised before starting a response
        self.cache: str | None = None


class _ReportingBody:
    """The app's response body, reporting once: when exhausted or closed, whichever is first.

    Exhaustion matters for clients that never call ``close()`` (werkzeug's test client).
    """

    __slots__ = ("_body", "_done", "_iterator", "_report")

    def __init__(self, body: Iterable[bytes], report: Callable[[], None]) -> None:
        self._body = body
        self._iterator: Iterator[bytes] = iter(body)
        self._report = report
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._iterator)
        except StopIteration:
            self._finish()
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._finish()

    def _finish(self) -> None:
        if not self._done:
            self._done = True
            self._report()


class RequestObserver:
    def __init__(self, app: Flask, sinks: Iterable[Sink], *, server_timing: bool = False) -> None:
        self.app = app
        self.wsgi_app: WSGIApplication = app.wsgi_app
        self.sinks = tuple(sinks)
        self.server_timing = server_timing

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = perf_counter()
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        environ[ENVIRON_KEY] = request_id
        outcome = _Outcome()
        timed = self.server_timing

        def observed_start_response(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            elapsed_ms = (perf_counter() - started) * 1000.0 if timed else 0.0
            outcome.status = int(status.split(" ", 1)[0])
            kept = [(name, value) for name, value in headers if name.lower() not in _OWNED]
            outcome.cache = next((v for n, v in kept if n.lower() == "x-cache"), None)
            kept.append((REQUEST_ID_HEADER, request_id))
            if timed:
                kept.append((SERVER_TIMING_HEADER, f"app;dur={elapsed_ms:.3f}"))
            return start_response(status, kept, exc_info)

        def finish() -> None:
            self._report(environ, request_id, outcome, perf_counter() - started)

        try:
            body = self.wsgi_app(environ, observed_start_response)
        except BaseException:
            finish()
            raise
        return _ReportingBody(body, finish)

    def _report(
        self, environ: WSGIEnvironment, request_id: str, outcome: _Outcome, duration: float
    ) -> None:
        rule = self._rule_for(environ)
        observation = Observation(
            request_id=request_id,
            method=str(environ.get("REQUEST_METHOD", "")),
            endpoint=rule.endpoint if rule else None,
            route=rule.rule if rule else None,
            status=outcome.status,
            duration=duration,
            cache=outcome.cache.strip().upper() if outcome.cache else None,
        )
        for sink in self.sinks:
            sink(observation)

    def _rule_for(self, environ: WSGIEnvironment) -> Rule | None:
        noted: Any = environ.get(RULE_KEY, _NOT_DISPATCHED)
        if noted is not _NOT_DISPATCHED:
            return cast(Rule | None, noted)  # None: Flask dispatched and nothing matched (404)
        try:
            rule, _ = self.app.url_map.bind_to_environ(environ).match(return_rule=True)
        except HTTPException:  # NotFound, MethodNotAllowed, RequestRedirect
            return None
        return rule
