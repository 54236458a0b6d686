"""Optional adapters to other Flask extensions.

- ``flask_limiter`` (extra ``[limiter]``): counts fast-path hits with Flask-Limiter.
- ``sqlalchemy`` (extra ``[sqlalchemy]``): keeps the invalidation journal and the runtime
  toggles in your database.
- ``flask_login`` (no extra: it imports nothing from Flask-Login): tells the fast path that
  Flask-Login's ``after_request`` hook is safe to skip for the requests it answers.
- ``flask_wtf`` (no extra, likewise): the same for the CSRF ``before_request`` hook of
  Flask-WTF's ``CSRFProtect``.
"""
