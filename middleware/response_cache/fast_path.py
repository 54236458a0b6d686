"""The fast hit path: cache hits of public routes answered one layer below Flask.

``FastPath`` wraps ``app.wsgi_app`` (installed by ``ResponseCache.init_app``
when ``RESPONSE_CACHE_FAST_PATH`` is true, so it sits inside any layer the app
installs later, such as an observer, and inside ``ProxyFix``). For each request
it either answers a HIT or STALE from the shared ``CacheCore`` without building
a Flask request, or hands the request unchanged to Flask, whose hooks then apply
the full logic (``flask_hooks.py``): misses, fills, bypasses, user scopes and
every error. Handing on is always safe; the fast path only ever answers what
the Flask path would have answered from the same entry.

Contract, in the order the checks run:

1. **Which requests.** GET or HEAD; no body (``Content-Length`` > 0 or
   chunked); no ``Authorization``; no session cookie (the cookie name appearing
   anywhere in ``Cookie`` is enough to hand on); no ``Upgrade``; a query within
   the key limits (``keys.query_is_oversized``); a host the app trusts
   (``TRUSTED_HOSTS``, checked on every request). Anything else goes to Flask.
2. **Which routes.** The URL map matches the request the way Flask does
   (``bind_to_environ`` with Flask's server-name and subdomain rules, then
   ``match``; a redirect, 404 or 405 goes to Flask). Only endpoints declared
   ``scope="public"``, currently enabled by the runtime toggles (the same
   ``ToggleView`` as the Flask path, so the same refresh period) and whose
   every request hook is accounted for (rule 6) are served here.
3. **The name** is built by ``keys.cache_name`` from the same inputs as the
   Flask path (``request.args`` parsed the way werkzeug parses it, the vary'd
   header values, ``public``, the host for ``key_host`` routes), so both paths
   read and write the same entries. Rules 1-3 depend only on the method,
   scheme, script name, path, query and ``Host`` once the app serves (its URL
   map and routes no longer change), so their outcome (rule, route, name) is
   remembered per process under those values (``KNOWN_MAX``, oldest out);
   only names of routes with vary'd headers are built on every request.
4. **The lookup** is ``CacheCore.peek``: trust lease, epoch and connection
   checks as for ``lookup``, read-only. HIT and STALE are answered here;
   anything else (miss, a stale entry nobody is refreshing, an untrusted or
   unavailable store, an entry that does not decode) goes to Flask, which
   takes the fill lock, fills or bypasses exactly as without a fast path.
   A MISS goes with its read (``flask_hooks.PEEKED``), so Flask does not read
   the entry again; when no entry was stored at all, the read took the fill
   lock too (``peek(claim=True)``), and Flask's lookup fills under it. Once
   Flask has answered, a lock taken here and not used (a refusal, a bypass, a
   different name) is released at once.
5. **Rate limits count hits.** An app with a rate limiter passes ``charge``:
   ``charge(environ, endpoint)`` returns a ``ChargeTicket`` (how to count this
   request), or None when it cannot count it here (the request then goes to
   Flask uncounted, and Flask's limiter counts it). A ticket either rides
   along on the entry's read (``commands``, one round trip; ``settle`` reads
   their replies; the ticket must make sure that Flask does not count the
   request again if it is handed on after that) or, when it cannot, is
   ``charge``\\ d after a HIT was found and before answering. Either way the
   verdict is the list of rate-limit headers to add, or a refusal ``Reply``
   (a 429), answered as is with ``X-Cache: BYPASS`` and ``Cache-Status:
   ...; detail=not-looked-up``, as the Flask path answers a request its
   limiter refused.
6. **Skipped hooks are accounted for.** Answering below Flask skips Flask's
   request hooks (URL value preprocessors, ``before_request``,
   ``after_request``, ``teardown_request``) of the app and of the route's
   blueprints. A route is served here only when each of those hooks is the
   cache's own, or named (``module.qualname``, partials unwrapped) in
   ``accounted_hooks`` by the app, which thereby vouches that skipping it
   changes nothing for an anonymous cache hit (``charge`` stands in for the
   rate limiter's hooks, for example). A hook nobody vouched for keeps the
   route on the Flask path and logs one warning: a maintenance switch or a
   security header added later cannot be skipped silently. Signals
   (``request_started``...) are not sent for fast hits.
7. **Answers** are ``replies.served_reply`` (the same headers, ETag/304,
   gzip negotiation, ``Age`` and ``Cache-Status`` as the Flask path), plus
   ``Content-Length``, finished the way werkzeug finishes a Flask response: a
   304 loses its entity headers, a HEAD its body. The per-endpoint counters
   (``hit``/``stale``) count them and are flushed on the same schedule.
   ``rule_environ_key``, when given, receives the matched ``Rule`` of every
   answer given here (an observer outside can then name the route without
   matching again).
8. **Never a 5xx.** An unexpected error inside the fast path is logged and the
   request goes to Flask.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES, remove_entity_headers
from werkzeug.wsgi import get_host

from middleware.response_cache import headers as h
from middleware.response_cache import policy
from middleware.response_cache.core import HIT, MISS, STALE
from middleware.response_cache.entry import HttpEntry
from middleware.response_cache.flask_hooks import PEEKED
from middleware.response_cache.keys import cache_name, canonical_query, query_is_oversized
from middleware.response_cache.replies import Reply, remaining_seconds, served_reply
from middleware.response_cache.routes import CachedRoute
from middleware.response_cache.state import CacheState

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("response_cache")

Verdict = list[tuple[str, str]] | Reply

# Requests resolved to (rule, view_args, plan, name), per process: method, scheme, script
# name, path, query and Host in, oldest first out.
KNOWN_MAX = 4096
_NOT_SERVABLE = object()

# The extension's own Flask hooks (flask_hooks.py): the fast path does their work.
OWN_HOOKS = frozenset(
    f"middleware.response_cache.flask_hooks.{name}"
    for name in ("before_request", "after_request", "teardown_request")
)


class ChargeTicket(Protocol):
    """How one request is counted by the app's rate limiter (see rule 5)."""

    def commands(self) -> Sequence[tuple[Any, ...]]:
        """Raw commands that count the request, to run with the entry's read (or none)."""
        ...

    def settle(self, results: list[Any]) -> Verdict:
        """The verdict from the replies to ``commands``, which ran."""
        ...

    def charge(self) -> Verdict:
        """Count the request now (no pipeline) and return the verdict."""
        ...


Charge = Callable[["WSGIEnvironment", str], ChargeTicket | None]


class _Free:
    """The ticket of an app without a rate limiter: nothing to count, no headers."""

    def commands(self) -> Sequence[tuple[Any, ...]]:
        return ()

    def settle(self, results: list[Any]) -> Verdict:
        return []

    def charge(self) -> Verdict:
        return []


FREE: ChargeTicket = _Free()


def _free_charge(environ: WSGIEnvironment, endpoint: str) -> ChargeTicket | None:
    return FREE


def hook_name(hook: Any) -> str:
    """``module.qualname`` of a hook, partials unwrapped (bound methods keep their class)."""
    while isinstance(hook, functools.partial):
        hook = hook.func
    module = getattr(hook, "__module__", None) or "?"
    return f"{module}.{getattr(hook, '__qualname__', repr(hook))}"


def remember(memo: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    """``memo[key] = value``, dropping the oldest entries beyond ``limit`` (thread-safe
    enough for a cache: a race loses an entry, never raises)."""
    while len(memo) >= limit:
        try:
            del memo[next(iter(memo))]
        except (KeyError, RuntimeError, StopIteration):  # another thread got there first
            break
    memo[key] = value


def _status_line(code: int) -> str:
    """What werkzeug sends for ``code`` (``200 OK``, ``304 NOT MODIFIED``)."""
    return f"{code} {HTTP_STATUS_CODES.get(code, 'unknown').upper()}"


def _environ_key(header: str) -> str:
    """Where ``request.headers.get(header)`` reads from (werkzeug's EnvironHeaders)."""
    key = header.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the fast path needs about one servable endpoint, computed once."""

    route: CachedRoute
    vary: tuple[tuple[str, str], ...]  # (header, environ key)
    allow_stale: bool


class FastPath:
    def __init__(
        self,
        app: Flask,
        state: CacheState,
        wsgi_app: WSGIApplication,
        *,
        charge: Charge | None = None,
        accounted_hooks: Iterable[Any] = (),
        rule_environ_key: str | None = None,
    ) -> None:
        self.app = app
        self.state = state
        self.wsgi_app = wsgi_app
        self.charge: Charge = charge or _free_charge
        self.accounted = OWN_HOOKS | frozenset(
            hook if isinstance(hook, str) else hook_name(hook) for hook in accounted_hooks
        )
        self.rule_environ_key = rule_environ_key
        self._plans: dict[str, _Plan | None] = {}
        self._known: dict[tuple[Any, ...], Any] = {}
        self._config = app.config
        self._cookie = state.settings.session_cookie_name
        self._identifier = state.settings.identifier
        self._refused_status = h.cache_status(
            state.settings.identifier, fwd="bypass", detail="not-looked-up"
        )
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
        if method != "GET" and method != "HEAD":
            return None
        if "HTTP_AUTHORIZATION" in environ:
            return None
        cookie = environ.get("HTTP_COOKIE")
        if cookie and self._cookie in cookie:
            return None
        length = environ.get("CONTENT_LENGTH")
        chunked = environ.get("HTTP_TRANSFER_ENCODING")
        if (length or chunked) and policy.has_request_body(length, chunked):
            return None
        raw_query: str = environ.get("QUERY_STRING", "")
        if "HTTP_UPGRADE" in environ:  # websocket handshakes and the like: Flask's business
            return None
        trusted = self._config.get("TRUSTED_HOSTS")
        if trusted is not None:
            try:
                get_host(environ, trusted)
            except HTTPException:  # SecurityError: Flask answers 400
                return None
        key = (
            method,
            environ.get("wsgi.url_scheme"),
            environ.get("SCRIPT_NAME", ""),
            environ.get("PATH_INFO", ""),
            raw_query,
            environ.get("HTTP_HOST"),
        )
        known = self._known.get(key)
        if known is None:
            known = self._resolve(environ, method, raw_query)
            remember(self._known, key, known, KNOWN_MAX)
        if known is _NOT_SERVABLE:
            return None
        rule, view_args, plan, name = known
        endpoint: str = rule.endpoint
        route = plan.route
        state = self.state
        toggle = state.toggles.get(endpoint)
        if not (route.enabled if toggle is None else toggle.enabled):
            return None
        if name is None:  # a route with vary'd headers: their values are part of the name
            name = self._name(environ, plan, method, view_args, raw_query)
            if name is None:
                return None
        ticket = self.charge(environ, endpoint)
        if ticket is None:
            return None
        found, extras = state.core.peek(name, plan.allow_stale, ticket.commands(), claim=True)
        if found.outcome == MISS:  # Flask's lookup starts from this read (and its lock)
            environ[PEEKED] = (name, found)
        verdict = ticket.settle(extras) if extras else None  # counted with the read
        reply = None
        if not isinstance(verdict, Reply):  # a refusal needs no entry: Flask refuses first
            if found.outcome != HIT and found.outcome != STALE:
                return None
            reply = self._reply(environ, plan, found.outcome == HIT, found)
            if reply is None:
                return None
            if verdict is None:
                verdict = ticket.charge()  # not counted yet: count now, before answering
        if self.rule_environ_key is not None:
            environ[self.rule_environ_key] = rule
        if isinstance(verdict, Reply):
            return self._refused(method, verdict)
        assert reply is not None
        state.counters.add(endpoint, "hit" if found.outcome == HIT else "stale")
        state.counters.maybe_flush()
        reply.headers.extend(verdict)
        if method == "HEAD":
            return Reply(reply.status, reply.headers, b"")
        return reply

    def _resolve(self, environ: WSGIEnvironment, method: str, raw_query: str) -> Any:
        """What a request with this method, URL and host is: ``(rule, view_args, plan,
        name)``, the name None when it depends on vary'd headers; or ``_NOT_SERVABLE``.

        Pure in those inputs once the app is set up (the URL map and the route
        table no longer change), so ``_answer`` keeps the results in ``_known``.
        """
        if raw_query and query_is_oversized(raw_query):
            return _NOT_SERVABLE
        matched = self._match(environ)
        if matched is None:
            return _NOT_SERVABLE
        rule, view_args = matched
        if rule.endpoint in self._plans:
            plan = self._plans[rule.endpoint]
        else:
            plan = self._plan_for(rule.endpoint)
        if plan is None:
            return _NOT_SERVABLE
        name = None
        if not plan.vary:
            name = self._name(environ, plan, method, view_args, raw_query)
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
        self,
        environ: WSGIEnvironment,
        plan: _Plan,
        method: str,
        view_args: Mapping[str, Any],
        raw_query: str,
    ) -> str | None:
        route = plan.route
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

    def _reply(
        self, environ: WSGIEnvironment, plan: _Plan, fresh: bool, found: Any
    ) -> Reply | None:
        """The Flask path's ``served_response``, as plain values finished like werkzeug's."""
        record = found.record
        entry = HttpEntry.decode(record.payload, record.flags)
        if entry is None:
            return None
        now = self.state.core.clock()
        status = h.cache_status(
            self._identifier,
            hit=True,
            ttl=remaining_seconds(record, now),
            detail=(found.detail or None) if fresh else "stale-while-revalidate",
        )
        try:
            reply = served_reply(
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
        return _finished(reply)

    def _refused(self, method: str, refusal: Reply) -> Reply:
        """The limiter's refusal, with the headers the Flask path's after_request adds."""
        headers = list(refusal.headers)
        headers += [("X-Cache", h.BYPASS), ("Cache-Status", self._refused_status)]
        reply = _finished(Reply(refusal.status, headers, refusal.body))
        if method == "HEAD":
            return Reply(reply.status, reply.headers, b"")
        return reply

    # -- per-endpoint plans --------------------------------------------------------

    def _plan_for(self, endpoint: str) -> _Plan | None:
        route = self.state.routes.get(endpoint)
        plan = None
        if route is not None and route.scope == policy.PUBLIC:
            unaccounted = self._unaccounted_hooks(endpoint)
            if unaccounted:
                log.warning(
                    "response cache: hits of %s stay on the Flask path; the fast path would"
                    " skip request hooks nobody accounted for: %s",
                    endpoint,
                    ", ".join(sorted(unaccounted)),
                )
            else:
                vary = tuple((header, _environ_key(header)) for header in route.vary)
                plan = _Plan(route, vary, route.stale_while_revalidate > 0)
        self._plans[endpoint] = plan
        return plan

    def _unaccounted_hooks(self, endpoint: str) -> set[str]:
        app = self.app
        names: list[str | None] = [None]
        blueprint = endpoint.rpartition(".")[0]
        while blueprint:  # Flask's request.blueprints: "a.b" is registered under "a"
            names.append(blueprint)
            blueprint = blueprint.rpartition(".")[0]
        registries: tuple[Mapping[str | None, list[Any]], ...] = (
            app.url_value_preprocessors,
            app.before_request_funcs,
            app.after_request_funcs,
            app.teardown_request_funcs,
        )
        found = set()
        for registry in registries:
            for key in names:
                for hook in registry.get(key, ()):
                    found.add(hook_name(hook))
        return found - self.accounted


def _finished(reply: Reply) -> Reply:
    """werkzeug's ``get_wsgi_headers``: a 304 drops entity headers, others get a length."""
    if reply.status == 304:
        headers = list(reply.headers)
        remove_entity_headers(headers)
        return Reply(304, headers, b"")
    reply.headers.append(("Content-Length", str(len(reply.body))))
    return reply
