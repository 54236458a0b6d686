"""The WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Contract:

* ``app`` is ``create_app()`` configured from the environment (see ``config.py``).
* When ``TRUSTED_PROXIES`` is N > 0, werkzeug's ``ProxyFix`` trusts exactly the last N values of
  ``X-Forwarded-For``, ``-Proto``, ``-Host`` and ``-Port`` (never ``X-Forwarded-Prefix``). It is
  applied here, *after* ``create_app`` returns, so it is the OUTERMOST wrapper of
  ``app.wsgi_app``: any middleware the app installs (the response cache's WSGI layer included)
  sees the real client address, scheme and host, so cache keys and rate-limit buckets are right.
* With ``TRUSTED_PROXIES=0`` (the default) forwarding headers are ignored: every client can forge
  them, so trusting them without a proxy that overwrites them would let anyone pick their own
  rate-limit bucket or poison host-keyed cache entries. gunicorn's own scheme-header handling is
  switched off in ``gunicorn.conf.py`` for the same reason, so ProxyFix is the single authority.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app import create_app


def build_app() -> Flask:
    """Create the app and, behind N trusted proxies, wrap it in ProxyFix as the outermost layer."""
    application = create_app()
    hops = int(application.config.get("TRUSTED_PROXIES", 0))
    if hops > 0:
        application.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            application.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=0
        )
    return application


app = build_app()
