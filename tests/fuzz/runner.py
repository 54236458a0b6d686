"""Fuzz every operation of an OpenAPI schema with schemathesis strategies and Hypothesis.

Contract: ``fuzz(schema, examples, cookies=..., headers=..., checks=...)`` draws
``examples`` positive and ``examples`` negative cases per operation (``operation.as_strategy`` under
``@given``, no deadline, derandomized so a run is reproducible), sends each one
(``case.call``: in-process for a WSGI schema, over HTTP for a URL one) and runs
the checks: no server error, and status code, content type, headers and body
conforming to the document (``CHECKS``; ``CHECKS_SESSIONS_DOWN`` accepts the
by-design session-store 503). It returns every status seen and every failure
(operation, status, first line of the check's message) instead of stopping at
the first, so a report can count them.

(schemathesis' own pytest integration for fixture-built schemas reads a pytest
attribute that pytest 9.2 removed, ``request.node._nodeid``; driving its
strategies directly avoids it.)
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def is_session_store_503(response: Any) -> bool:
    """The by-design answer of a route that needs the session while the store is down
    (D11): 503, ``Retry-After``, the JSON error shape."""
    if response.status_code != 503 or not response.headers.get("retry-after"):
        return False
    try:
        return bool(json.loads(response.content).get("status") == "error")
    except ValueError:
        return False


def not_a_server_error_but_the_session_503(ctx: Any, response: Any, case: Any) -> bool | None:
    """``not_a_server_error``, except the documented session-store 503."""
    if is_session_store_503(response):
        return True
    return not_a_server_error(ctx, response, case)


# For runs where sessions live in a Redis that is down.
CHECKS_SESSIONS_DOWN = [not_a_server_error_but_the_session_503, *CHECKS[1:]]


@dataclass
class FuzzResult:
    operations: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    session_503: int = 0  # by design: the session store was down (D11)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        """5xx answers other than the by-design session-store 503."""
        return sum(n for code, n in self.statuses.items() if code >= 500) - self.session_503


def _summary(failure: BaseException) -> str:
    """The failing checks' titles and messages, without schemathesis' banner."""
    failures = failure.exceptions if isinstance(failure, FailureGroup) else (failure,)
    parts = []
    for item in failures:
        title = getattr(item, "title", type(item).__name__)
        message = " ".join(str(getattr(item, "message", item)).split())
        parts.append(f"{title}: {message[:300]}")
    return " | ".join(parts)


@dataclass
class Run:
    examples: int
    cookies: dict[str, str]
    headers: dict[str, str]
    checks: list[Any]
    call: dict[str, Any]


def fuzz(
    schema: Any,
    examples: int,
    cookies: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    checks: list[Any] | None = None,
    **call: Any,
) -> FuzzResult:
    run = Run(examples, cookies or {}, headers or {}, checks or CHECKS, call)
    result = FuzzResult()
    for found in schema.get_all_operations():
        operation = found.ok()
        result.operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_operation(operation, mode, run, result)
    return result


def _fuzz_operation(operation: Any, mode: GenerationMode, run: Run, result: FuzzResult) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=run.examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def one(case: Any) -> None:
        # Cookies, not a Cookie header: the WSGI client replaces that header with its jar.
        case.cookies = {**(case.cookies or {}), **run.cookies}
        case.headers = {**(case.headers or {}), **run.headers}
        response = case.call(**run.call)
        result.statuses[response.status_code] += 1
        if is_session_store_503(response):
            result.session_503 += 1
        try:
            case.validate_response(response, checks=run.checks)
        except (AssertionError, FailureGroup) as failure:
            result.failures.append(
                f"{operation.label} [{mode.value}] -> {response.status_code}: {_summary(failure)}"
            )

    try:
        one()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # Nothing to get wrong: the operation takes no input (GET /health, /auth/me).
