# The api image used by compose.yaml: the runtime requirements only, code owned by root and run
# by an unprivileged user, gunicorn configured by gunicorn.conf.py from the environment.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Requirements first, so a code change does not reinstall the dependencies (layer cache); the
# response-cache package is one of them (requirements.txt installs it from its folder).
COPY requirements.txt ./
COPY middleware/response_cache/ middleware/response_cache/
RUN pip install -r requirements.txt

# A fixed uid so volume permissions are predictable. The code stays root-owned and read-only to
# the app; only instance/ (the default SQLite location, unused when DATABASE_URL is set) is
# writable.
RUN useradd --system --uid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app
COPY . .
RUN mkdir -p instance && chown app:app instance

USER app

# Inside a container the published port cannot reach loopback; compose sets the same value.
ENV BIND=0.0.0.0:8000
EXPOSE 8000

# Tables and seed data are idempotent, so every start may run them; exec hands PID 1 to gunicorn
# so `docker stop` (SIGTERM) triggers its graceful shutdown.
CMD ["sh", "-c", "flask --app app init-db && flask --app app seed --if-empty && exec gunicorn -c gunicorn.conf.py wsgi:app"]
