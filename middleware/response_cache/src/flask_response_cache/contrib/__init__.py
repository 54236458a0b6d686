"""Optional adapters, each behind its own extra: ``flask_limiter`` (``[limiter]``) counts
fast-path hits with Flask-Limiter; ``sqlalchemy`` (``[sqlalchemy]``) keeps the
invalidation journal and the runtime toggles in your database."""
