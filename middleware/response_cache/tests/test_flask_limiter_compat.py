# mypy: allow-untyped-defs, allow-incomplete-defs
"""Every private detail of Flask-Limiter the adapter reads (``_flask_limiter_compat``),
checked against the installed Flask-Limiter: an upgrade that changes one fails here, not
in production as a miscount."""

from __future__ import annotations

import functools

import flask_limiter
from flask import Blueprint, Flask
from flask_limiter import HeaderNames, Limiter
from flask_limiter.util import get_remote_address
from flask_response_cache.contrib import _flask_limiter_compat as compat


def configured() -> tuple[Flask, Limiter]:
    app = Flask("compat")
    app.config.update(RATELIMIT_HEADERS_ENABLED=True, RATELIMIT_KEY_PREFIX="pre")
    limiter = Limiter(
        get_remote_address, app=app, default_limits=["5 per minute"], storage_uri="memory://"
    )
    return app, limiter


def test_the_installed_version_is_the_tested_range():
    assert compat.version_supported(), flask_limiter.__version__


def test_its_request_hooks_are_the_ones_init_app_registers():
    app, limiter = configured()
    registered = [
        *app.before_request_funcs[None],
        *app.after_request_funcs[None],
        *app.teardown_request_funcs[None],
    ]

    def as_pair(hook):
        if isinstance(hook, functools.partial):
            return hook.func, hook.args[0]
        return hook.__func__, hook.__self__

    assert {as_pair(hook) for hook in registered} == set(compat.request_hooks(limiter))


def test_its_settings_are_read_where_init_app_keeps_them():
    _, limiter = configured()
    assert compat.key_prefix(limiter) == "pre"
    assert compat.request_filters(limiter) == []
    assert compat.storage_dead(limiter) is False
    assert compat.has_meta_limits(limiter) is False
    assert compat.headers_enabled(limiter) is True
    assert set(compat.header_mapping(limiter)) == {
        HeaderNames.LIMIT,
        HeaderNames.REMAINING,
        HeaderNames.RESET,
        HeaderNames.RETRY_AFTER,
    }
    assert compat.retry_after_format(limiter) is None
    assert compat.identifies_by_endpoint(limiter)
    custom = Limiter(get_remote_address, request_identifier=lambda: "x", storage_uri="memory://")
    custom.init_app(Flask("custom"))
    assert not compat.identifies_by_endpoint(custom)


def test_limits_for_resolves_what_flask_limiter_evaluates():
    app, limiter = configured()
    bp = Blueprint("shop", __name__)
    limiter.limit("2 per second")(bp)

    @bp.get("/basket")
    def basket():
        return {}

    @app.get("/scarce")
    @limiter.limit("1 per second")
    def scarce():
        return {}

    @app.get("/unlimited")
    def unlimited():
        return {}

    app.register_blueprint(bp)
    [defaults] = compat.limits_for(limiter, app, "unlimited", evaluate_decorated=False)
    assert [str(limit.limit) for limit in defaults] == ["5 per 1 minute"]
    # A decorated limit overrides the defaults (override_defaults=True): none in the
    # before_request check, its own in the decorator's.
    before, decorated = compat.limits_for(limiter, app, "scarce", evaluate_decorated=True)
    assert before == []
    assert [str(limit.limit) for limit in decorated] == ["1 per 1 second"]
    [shop] = compat.limits_for(limiter, app, "shop.basket", evaluate_decorated=False)
    assert sorted(str(limit.limit) for limit in shop) == ["2 per 1 second"]


def test_a_limit_layer_is_recognised_and_its_mark_is_the_limiter():
    _, limiter = configured()

    def view():
        return {}

    layer = limiter.limit("1 per second")(view)
    assert compat.is_limit_layer(layer)
    assert compat.marked_by(layer, limiter)
    assert not compat.marked_by(layer, configured()[1])

    @functools.wraps(layer)
    def above(*args, **kwargs):
        return layer(*args, **kwargs)

    assert not compat.is_limit_layer(above)  # it copied the mark, it is not the layer
    assert compat.marked_by(above, limiter)
