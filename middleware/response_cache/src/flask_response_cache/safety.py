"""Which request hooks and view layers a cache hit answered below Flask may skip.

The fast path (``fast_path.py``) answers a hit without running Flask: no
``url_value_preprocessor``, ``before_request``, ``after_request`` or
``teardown_request`` hook of the app or of the route's blueprints, and none of the
decorators that sit above ``@cache_response`` on the view. It serves a route only
when every one of those was *declared* safe to skip for an anonymous GET/HEAD cache
hit, by its owner, next to its code:

    from flask_response_cache import fast_hit_safe

    @app.before_request
    @fast_hit_safe("only checks request bodies of writes")
    def require_json_body(): ...

    def require_api_key(view):            # a decorator
        @functools.wraps(view)
        @fast_hit_safe("never: this guards the view")   # <- do NOT do this for a guard
        def wrapper(*args, **kwargs): ...

A declaration is a claim that skipping the code changes nothing for such a hit: a
guard that can refuse an anonymous GET must never be declared (its route then stays
on the Flask path, where every hook and every decorator above ``@cache_response``
runs before a hit is served). Undeclared code keeps the route on the Flask path and is
named once in a start-up log line.

- ``fast_hit_safe(reason)``: a decorator for functions you own (hooks, and the
  wrappers your own decorators return). It marks the function's code, so every
  closure made from it is covered and ``functools.wraps`` cannot copy the mark to
  a layer that wraps it.
- ``declare_fast_hit_safe(obj, reason)``: for callables you cannot decorate: a bound
  method or ``functools.partial`` as registered (that binding only: another instance
  of the same class is not covered), or a plain function (its code).
- ``declare_fast_hit_safe_decorator(decorator, reason)``: a third party's decorator
  (flask-smorest's ``bp.arguments(...)``): the wrappers it returns share their code
  objects, found by applying it once to a probe function and following
  ``__wrapped__`` from its result down to the probe (a decorator may add several
  layers: flask-smorest's ``arguments`` adds webargs' too).
- ``skip_reason(obj)``: the declared reason, or None.

Declarations are process-wide and permanent (they describe code, not an app).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from types import CodeType
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_lock = threading.Lock()
_by_code: dict[CodeType, str] = {}
_by_binding: dict[tuple[Any, int], tuple[Any, str]] = {}  # (function, id(instance)) -> kept


def unwrap_hook(obj: Any) -> tuple[Any, Any]:
    """``(function, bound instance or None)`` of a hook as Flask keeps it."""
    while isinstance(obj, functools.partial):
        if obj.args:
            return obj.func, obj.args[0]
        obj = obj.func
    if hasattr(obj, "__func__") and hasattr(obj, "__self__"):  # a bound method
        return obj.__func__, obj.__self__
    return obj, None


def _code(function: Any) -> CodeType | None:
    code = getattr(function, "__code__", None)
    return code if isinstance(code, CodeType) else None


def _check_reason(reason: str) -> None:
    if not isinstance(reason, str) or not reason.strip():
        raise TypeError("say why skipping it is safe: fast_hit_safe('reason')")


def fast_hit_safe(reason: str) -> Callable[[F], F]:
    """Declare a function you own safe to skip for an anonymous GET/HEAD cache hit."""
    _check_reason(reason)

    def mark(function: F) -> F:
        code = _code(function)
        if code is None:
            raise TypeError(f"fast_hit_safe marks Python functions, not {function!r}")
        with _lock:
            _by_code[code] = reason
        return function

    return mark


def declare_fast_hit_safe(obj: Callable[..., Any], reason: str) -> None:
    """Declare a hook you cannot decorate (a bound method, a partial, a function)."""
    _check_reason(reason)
    function, instance = unwrap_hook(obj)
    if instance is not None:
        with _lock:
            # The instance is kept alive with its entry, so its id is never reused.
            _by_binding[(function, id(instance))] = (instance, reason)
        return
    fast_hit_safe(reason)(function)


def declare_fast_hit_safe_decorator(decorator: Callable[[Any], Any], reason: str) -> None:
    """Declare every wrapper that ``decorator`` returns (probed once)."""
    _check_reason(reason)

    def probe() -> None:  # pragma: no cover - never called
        return None

    layer = decorator(probe)
    if layer is probe or _code(layer) is None:
        raise TypeError(f"{decorator!r} returns the function unchanged: nothing to declare")
    while layer is not probe:
        fast_hit_safe(reason)(layer)
        layer = getattr(layer, "__wrapped__", None)
        if layer is None:
            raise TypeError(f"{decorator!r} hides what it wraps (no functools.wraps)")


def skip_reason(obj: Any) -> str | None:
    """Why skipping ``obj`` is safe, or None when nobody declared it."""
    function, instance = unwrap_hook(obj)
    if instance is not None:
        kept = _by_binding.get((function, id(instance)))
        if kept is not None and kept[0] is instance:
            return kept[1]
    code = _code(function)
    return _by_code.get(code) if code is not None else None


def describe(obj: Any, *, layer: bool = False) -> str:
    """A hook's ``module.qualname`` (partials unwrapped), for log lines. A view layer's
    own names are the view's (``functools.wraps``), so it is named by its code:
    ``file:line (function)`` of the decorator that made it."""
    function, _ = unwrap_hook(obj)
    code = _code(function)
    if layer and code is not None:
        return f"{code.co_filename}:{code.co_firstlineno} ({code.co_name})"
    module = getattr(function, "__module__", None) or "?"
    return f"{module}.{getattr(function, '__qualname__', repr(function))}"
