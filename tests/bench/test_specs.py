"""The benchmark's app targets are ``make run``, changed only where a benchmark must be."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.peers import specs
from bench.peers.specs import APP_VARIANTS, HIGH_LIMITS, MAKE_RUN, Context, build_specs

ROOT = Path(__file__).resolve().parents[2]
# What every app target adds to `make run`: where the data is, a port, raised limits, and a
# metrics directory of its own.
BENCH_ONLY = {"DATABASE_URL", "REDIS_URL", "PORT", "PROMETHEUS_MULTIPROC_DIR", *HIGH_LIMITS}


@pytest.fixture
def built(tmp_path, monkeypatch):
    # A shell that set things make run would read: the targets must not inherit them.
    for name, value in {"APP_ENV": "production", "SERVER_TIMING": "true", "ACCESS_LOG": "off",
                        "WEB_CONCURRENCY": "8", "CACHE_ENABLED": "false"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    ctx = Context(ROOT, ROOT / ".venv/bin/python", tmp_path, tmp_path / "b.db", 7000,
                  tmp_path / "hit.txt", "postgresql://u@127.0.0.1/bench")  # fmt: skip
    return {spec.name: spec for spec in build_specs(ctx)}


def test_every_app_target_is_make_run_from_the_repository(built):
    apps = [name for name in built if name.startswith("app")]
    assert sorted(apps) == sorted(APP_VARIANTS)
    for name in apps:
        assert built[name].argv == MAKE_RUN and built[name].cwd == ROOT


def test_the_app_adds_only_what_a_benchmark_must(built):
    env, shell = built["app"].env, specs._base_env()
    added = {key for key in env if shell.get(key) != env[key]} - {"PYTEST_CURRENT_TEST"}
    assert added == BENCH_ONLY
    for inherited in ("APP_ENV", "SERVER_TIMING", "ACCESS_LOG", "WEB_CONCURRENCY", "CACHE_ENABLED"):
        assert inherited not in env


def test_each_variant_changes_only_its_settings(built):
    base = built["app"].env
    for name, settings in APP_VARIANTS.items():
        env = built[name].env
        changed = {
            key for key in set(env) | set(base)
            if env.get(key) != base.get(key) and key not in ("PORT", "PROMETHEUS_MULTIPROC_DIR")
        }  # fmt: skip
        extra = {"SECRET_KEY"} if settings.get("APP_ENV") == "production" else set()
        if name == "app-nocache-pg":
            extra |= {"DATABASE_URL"}
        assert changed == (set(settings) - {"PROMETHEUS_MULTIPROC_DIR"}) | extra, name
        assert all(env[key] == value for key, value in settings.items()), name


def test_make_run_serves_gunicorn_with_its_config_file():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("\nrun:") :].split("\n\n", 1)[0]
    assert 'exec "$(VENV)/bin/gunicorn" -c gunicorn.conf.py wsgi:app' in recipe
    assert "PROMETHEUS_MULTIPROC_DIR=" in recipe  # the one setting make run adds
