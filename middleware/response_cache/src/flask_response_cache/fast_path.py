"""The fast hit path: cache hits of public routes answered one layer below Flask.

``FastPath`` wraps ``app.wsgi_app`` (installed by ``ResponseCache.init_app`` when
``RESPONSE_CACHE_FAST_PATH`` is true), so it sits inside any layer the app installs
later: an observer, and ``ProxyFix`` when it is applied after ``init_app``, as it
should be (the cache must see the real host and scheme). For each request it either
answers a HIT or STALE from the shared ``CacheCore`` without building a Flask
request, or hands the request unchanged to Flask, where every hook runs and the
cache is consulted inside the view (``flask_view.py``): misses, fills, bypasses,
user scopes and every error. Handing on is always safe; the fast path only ever
answers what the Flask path would have answered from the same entry.

Contract, in the order the checks run:

1. **Which requests** (``policy.may_answer_below_flask``): GET or HEAD; no body;
   no ``Authorization``; no credential cookie (its name anywhere in ``Cookie`` is
   enough to hand on); no ``Upgrade``; a query within the key limits; a host the
   app trusts (``TRUSTED_HOSTS``, checked on every request).
2. **Which routes** (``fast_path_plan.py``): the URL map matches the request the
   way Flask does (a redirect, 404 or 405 goes to Flask); only public routes whose
   every request hook and every decorator above ``@cache_response`` was declared
   safe to skip (``safety.py``), or is stood in for by the rate-limit charge, and
   that the runtime toggles leave enabled, are served here.
3. **The name** is built by ``keys.cache_name`` from the same inputs as the Flask
   path (``request.args`` parsed the way werkzeug parses it, the vary'd header
   values, ``public``, the host for ``key_host`` routes), so both paths read and
   write the same entries. Rules 1-3 depend only on the method, scheme, script
   name, path, query and ``Host`` once the app serves, so their outcome (rule,
   route, name) is remembered per process (``KNOWN_MAX``, oldest out); only names
   of routes with vary'd headers are built on every request.
4. **The lookup** is ``CacheCore.peek``. HIT and STALE are answered here; anything
   else goes to Flask. A MISS goes with its read (``flask_view.PEEKED``); when no
   entry was stored at all the read took the fill lock too, and Flask's lookup
   fills under it. A lock taken here and not used is released once Flask answered.
5. **Rate limits count hits** (``charge.py``): the charge's commands ride on the
   entry's read when they can, else the request is charged after a HIT was found,
   all or nothing. A refused request goes to Flask uncounted, where the limiter
   counts it and answers its own 429. A charged request handed on carries its
   headers in ``environ[charge.COUNTED]``.
6. **Answers** are ``replies.served_reply`` (the same headers, ETag/304, gzip
   negotiation, ``Age`` and ``Cache-Status`` as the Flask path) plus the limiter's
   headers and ``Content-Length``, finished the way werkzeug finishes a Flask
   response: a 304 loses its entity headers, a HEAD its body. Counted as ``hit`` /
   ``stale``. ``rule_environ_key``, when given, receives the matched ``Rule`` of
   every answer given here (an observer outside can name the route without
   matching again). Signals (``request_started``...) are not sent for fast hits.
7. **Never a 5xx.** An unexpected error inside the fast path is logged and the
   request goes to Flask.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES, remove_entity_headers
from werkzeug.wsgi import get_host

from . import headers as h
from . import policy
from .charge import COUNTED, NOT_RUN, ChargeTicket, Headers, remember
from .core import HIT, MISS, STALE, Lookup
from .entry import HttpEntry
from .fast_path_plan import Plan, Planner
from .flask_view import PEEKED
from .keys import cache_name, canonical_query, query_is_oversized
from .replies import Reply, remaining_seconds, served_reply
from .state import CacheState

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("flask_response_cache")

# Requests resolved to (rule, view_args, plan, name), per process: method, scheme, script
# name, path, query and Host in, oldest first out.
KNOWN_MAX = 4096
_NOT_SERVABLE = object()


def _status_line(code: int) -> str:
    """What werkzeug sends for ``code`` (``200 OK``, ``304 NOT MODIFIED``)."""
    return f"{code} {HTTP_STATUS_CODES.get(code, 'unknown').upper()}"


class FastPath:
    def __init__(
        self,
        app: Flask,
        state: CacheState,
        wsgi_app: WSGIApplication,
        *,
        rule_environ_key: str | None = None,
    ) -> None:
        self.app = app
        self.state = state
        self.wsgi_app = wsgi_app
        self.rule_environ_key = rule_environ_key
        self.planner = Planner(app, state.routes, state.hook_covers)
        self._known: dict[tuple[Any, ...], Any] = {}
        self._config = app.config
        self._cookies = state.settings.credential_cookies
        self._identifier = state.settings.identifier
        self._status_lines: dict[int, str] = {}

    # -- WSGI ------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            try:
                answer = self._answer(environ)
            except Exception:  # the cache never causes a 5xx: Flask answers instead
                log.exception("response cache fast path failed; handing the request to Flask")
                answer = None
            if answer is None:
                return self.wsgi_app(environ, start_response)
            status, headers, body = answer
            line = self._status_lines.get(status)
            if line is None:
                line = self._status_lines[status] = _status_line(status)
            start_response(line, headers)
            return [body] if body else []
        finally:
            peeked = environ.get(PEEKED)
            if peeked is not None and peeked[1].fill is not None:
                # Flask's hooks have run (store, abandon or never looked up): a lock the
                # peek took and nobody used is released now, not when it expires.
                self.state.core.abandon(peeked[1].fill)

    # -- the decision ------------------------------------------------------------

    def _answer(self, environ: WSGIEnvironment) -> Reply | None:
        method = environ.get("REQUEST_METHOD")
        if not policy.may_answer_below_flask(
            method=method,
            has_authorization="HTTP_AUTHORIZATION" in environ,
            cookie_header=environ.get("HTTP_COOKIE"),
            credential_cookies=self._cookies,
            content_length=environ.get("CONTENT_LENGTH"),
            transfer_encoding=environ.get("HTTP_TRANSFER_ENCODING"),
            upgrade="HTTP_UPGRADE" in environ,
        ):
            return None
        if not self._trusted_host(environ):
            return None
        found = self._known_request(environ, str(method))
        if found is _NOT_SERVABLE:
            return None
        rule, view_args, plan, name = found
        state = self.state
        toggle = state.toggles.get(rule.endpoint)
        if not (plan.route.enabled if toggle is None else toggle.enabled):
            return None
        if name is None:  # a route with vary'd headers: their values are part of the name
            name = self._name(environ, plan, str(method), view_args)
            if name is None:
                return None
        ticket = state.charge()(environ, rule.endpoint)
        if ticket is None:
            return None
        return self._served(environ, rule, plan, name, ticket)

    def _served(
        self, environ: WSGIEnvironment, rule: Any, plan: Plan, name: str, ticket: ChargeTicket
    ) -> Reply | None:
        """Read the entry (charging on the way when the ticket can) and answer a hit."""
        found, replies = self.state.core.peek(name, plan.allow_stale, ticket.commands(), claim=True)
        if found.outcome == MISS:  # Flask's lookup starts from this read (and its lock)
            environ[PEEKED] = (name, found)
        verdict = ticket.settle(replies) if replies else NOT_RUN
        if verdict is None:
            return None  # over a limit, nothing charged: Flask's limiter answers
        hit = found.outcome == HIT or found.outcome == STALE
        if verdict is not NOT_RUN and not hit:
            environ[COUNTED] = verdict  # charged: the Flask side must not count it again
            return None
        if not hit:
            return None
        reply = self._reply(environ, plan, found)
        if reply is None:
            if verdict is not NOT_RUN:
                environ[COUNTED] = verdict
            return None
        if verdict is NOT_RUN:
            verdict = ticket.charge()  # not charged yet: charge now, before answering
            if verdict is None:
                return None
        if self.rule_environ_key is not None:
            environ[self.rule_environ_key] = rule
        self.state.counters.add(rule.endpoint, "hit" if found.outcome == HIT else "stale")
        self.state.counters.maybe_flush()
        return self._finish(environ, reply, verdict)

    def _finish(self, environ: WSGIEnvironment, reply: Reply, verdict: Headers) -> Reply:
        reply.headers.extend(verdict)
        reply = _finished(reply)
        if environ.get("REQUEST_METHOD") == "HEAD":
            return Reply(reply.status, reply.headers, b"")
        return reply

    def _trusted_host(self, environ: WSGIEnvironment) -> bool:
        trusted = self._config.get("TRUSTED_HOSTS")
        if trusted is None:
            return True
        try:
            get_host(environ, trusted)
        except HTTPException:  # SecurityError: Flask answers 400
            return False
        return True

    def _known_request(self, environ: WSGIEnvironment, method: str) -> Any:
        key = (
            method,
            environ.get("wsgi.url_scheme"),
            environ.get("SCRIPT_NAME", ""),
            environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
            environ.get("HTTP_HOST"),
        )
        known = self._known.get(key)
        if known is None:
            known = self._resolve(environ, method)
            remember(self._known, key, known, KNOWN_MAX)
        return known

    def _resolve(self, environ: WSGIEnvironment, method: str) -> Any:
        """What a request with this method, URL and host is: ``(rule, view_args, plan,
        name)``, the name None when it depends on vary'd headers; or ``_NOT_SERVABLE``.

        Pure in those inputs once the app is set up (the URL map and the route
        table no longer change), so ``_answer`` keeps the results in ``_known``.
        """
        raw_query: str = environ.get("QUERY_STRING", "")
        if raw_query and query_is_oversized(raw_query):
            return _NOT_SERVABLE
        matched = self._match(environ)
        if matched is None:
            return _NOT_SERVABLE
        rule, view_args = matched
        plan = self.planner.plan(rule.endpoint)
        if plan is None:
            return _NOT_SERVABLE
        name = None
        if not plan.vary:
            name = self._name(environ, plan, method, view_args)
            if name is None:
                return _NOT_SERVABLE
        return rule, view_args, plan, name

    def _match(self, environ: WSGIEnvironment) -> tuple[Any, Mapping[str, Any]] | None:
        """``(rule, view_args)`` as Flask's ``create_url_adapter`` + ``match`` find them."""
        app = self.app
        url_map = app.url_map
        server_name = app.config["SERVER_NAME"]
        subdomain = None
        if url_map.host_matching:
            server_name = None
        elif not app.subdomain_matching:
            subdomain = url_map.default_subdomain or ""
        try:
            adapter = url_map.bind_to_environ(environ, server_name=server_name, subdomain=subdomain)
            rule, view_args = adapter.match(return_rule=True)
        except HTTPException:  # 404, 405, redirects: Flask answers them
            return None
        return rule, view_args

    def _name(
        self, environ: WSGIEnvironment, plan: Plan, method: str, view_args: Mapping[str, Any]
    ) -> str | None:
        route = plan.route
        raw_query: str = environ.get("QUERY_STRING", "")
        pairs: list[tuple[str, str]] = []
        if raw_query:
            try:  # exactly werkzeug's Request.args
                pairs = parse_qsl(
                    raw_query.encode("latin1").decode(),
                    keep_blank_values=True,
                    errors="werkzeug.url_quote",
                )
            except UnicodeError:
                return None
        host = None
        if route.key_host:
            try:
                host = get_host(environ, self._config.get("TRUSTED_HOSTS"))
            except HTTPException:
                return None
        return cache_name(
            endpoint=route.endpoint,
            method=method,
            view_args=view_args,
            query=canonical_query(pairs, route.query),
            vary=[(header, environ.get(key)) for header, key in plan.vary],
            scope=policy.PUBLIC,
            host=host,
        )

    def _reply(self, environ: WSGIEnvironment, plan: Plan, found: Lookup) -> Reply | None:
        """The Flask path's ``served_response``, as plain values."""
        record = found.record
        assert record is not None
        entry = HttpEntry.decode(record.payload, record.flags)
        if entry is None:
            return None
        now = self.state.core.clock()
        fresh = found.outcome == HIT
        status = h.cache_status(
            self._identifier,
            hit=True,
            ttl=remaining_seconds(record, now),
            detail=(found.detail or None) if fresh else "stale-while-revalidate",
        )
        try:
            return served_reply(
                entry,
                record,
                plan.route,
                now=now,
                gzip_ok=policy.accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING")),
                if_none_match=environ.get("HTTP_IF_NONE_MATCH"),
                x_cache=h.HIT if fresh else h.STALE,
                cache_status=status,
            )
        except ValueError:
            return None


def _finished(reply: Reply) -> Reply:
    """werkzeug's ``get_wsgi_headers``: a 304 drops entity headers, others get a length."""
    if reply.status == 304:
        headers = list(reply.headers)
        remove_entity_headers(headers)
        return Reply(304, headers, b"")
    reply.headers.append(("Content-Length", str(len(reply.body))))
    return reply
