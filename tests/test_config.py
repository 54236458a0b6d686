"""Every setting read by config.load_config: defaults, parsing and refusals (pure, no I/O)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
import sqlalchemy as sa

from config import DEFAULT_SQLITE, ROOT, ConfigError, load_config

PRODUCTION = {"APP_ENV": "production", "SECRET_KEY": "s" * 32}


def redis_kwargs(url):
    """What redis-py will connect with, parsed without connecting."""
    return redis.ConnectionPool.from_url(url).connection_kwargs


# --- defaults ----------------------------------------------------------------------------------


def test_an_empty_environment_gives_working_defaults():
    config = load_config({})

    assert config["APP_ENV"] == "development"
    assert config["SQLALCHEMY_DATABASE_URI"] == DEFAULT_SQLITE
    assert config["REDIS_URL"] is None
    assert config["REDIS_TIMEOUT"] == 0.25
    assert config["RATELIMIT_API"] == "100 per 15 minutes"
    assert config["RATELIMIT_AUTH"] == "10 per 15 minutes"
    assert config["RATELIMIT_ENABLED"] is True
    assert config["CACHE_ENABLED"] is True
    assert config["TRUSTED_PROXIES"] == 0
    assert config["MAX_CONTENT_LENGTH"] == 1024 * 1024


def test_default_database_is_a_sqlite_file_under_instance():
    url = sa.engine.make_url(load_config({})["SQLALCHEMY_DATABASE_URI"])

    assert url.drivername == "sqlite"
    assert url.database == str(ROOT / "instance" / "app.db")


def test_load_config_reads_only_the_mapping_it_is_given(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:////elsewhere.db")
    monkeypatch.setenv("REDIS_URL", "redis://elsewhere:6379/0")

    config = load_config({})

    assert config["SQLALCHEMY_DATABASE_URI"] == DEFAULT_SQLITE
    assert config["REDIS_URL"] is None


def test_session_cookie_is_httponly_and_samesite_lax_everywhere():
    for env in ({}, PRODUCTION):
        config = load_config(env)
        assert config["SESSION_COOKIE_HTTPONLY"] is True
        assert config["SESSION_COOKIE_SAMESITE"] == "Lax"


# --- APP_ENV and SECRET_KEY --------------------------------------------------------------------


def test_production_refuses_to_start_without_a_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config({"APP_ENV": "production"})


@pytest.mark.parametrize("secret", ["", "short", "x" * 15, " " * 20])
def test_production_refuses_a_short_or_blank_secret_key(secret):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config({"APP_ENV": "production", "SECRET_KEY": secret})


def test_production_uses_the_given_secret_and_secure_cookies():
    config = load_config(PRODUCTION)

    assert config["APP_ENV"] == "production"
    assert config["SECRET_KEY"] == "s" * 32
    assert config["SESSION_COOKIE_SECURE"] is True


def test_app_env_is_case_insensitive():
    assert load_config({**PRODUCTION, "APP_ENV": " Production "})["APP_ENV"] == "production"


@pytest.mark.parametrize("env", ["development", "testing"])
def test_outside_production_a_random_secret_is_generated(env):
    first = load_config({"APP_ENV": env})
    second = load_config({"APP_ENV": env})

    assert len(first["SECRET_KEY"]) >= 32
    assert first["SECRET_KEY"] != second["SECRET_KEY"]
    assert first["SESSION_COOKIE_SECURE"] is False


def test_outside_production_a_given_secret_is_kept():
    assert load_config({"SECRET_KEY": "mine"})["SECRET_KEY"] == "mine"


@pytest.mark.parametrize("value", ["prod", "staging", ""])
def test_unknown_app_env_is_refused(value):
    with pytest.raises(ConfigError, match="APP_ENV"):
        load_config({"APP_ENV": value})


# --- DATABASE_URL ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given, expected",
    [
        ("postgres://u:p@db:5432/app", "postgresql+psycopg://u:p@db:5432/app"),
        ("postgresql://u:p@db/app", "postgresql+psycopg://u:p@db/app"),
        ("postgresql+psycopg://u@db/app", "postgresql+psycopg://u@db/app"),
        ("  postgres://u@db/app  ", "postgresql+psycopg://u@db/app"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        ("", DEFAULT_SQLITE),
    ],
)
def test_database_url_is_normalised_for_psycopg_3(given, expected):
    url = load_config({"DATABASE_URL": given})["SQLALCHEMY_DATABASE_URI"]

    assert url == expected
    sa.engine.make_url(url)  # parses


# --- REDIS_URL and the REDIS_HOST form ---------------------------------------------------------


def test_redis_url_is_used_as_given():
    assert load_config({"REDIS_URL": " rediss://:pw@r:6380/2 "})["REDIS_URL"] == (
        "rediss://:pw@r:6380/2"
    )


def test_blank_redis_url_means_embedded_mode():
    assert load_config({"REDIS_URL": "  "})["REDIS_URL"] is None


def test_redis_url_wins_over_the_host_form():
    env = {"REDIS_URL": "redis://a:1/0", "REDIS_HOST": "b", "REDIS_PORT": "2"}

    assert load_config(env)["REDIS_URL"] == "redis://a:1/0"


def test_redis_host_alone_builds_a_url_on_the_default_port():
    url = load_config({"REDIS_HOST": "cache.internal"})["REDIS_URL"]

    assert url == "redis://cache.internal:6379/0"
    assert redis_kwargs(url)["host"] == "cache.internal"
    assert redis_kwargs(url)["port"] == 6379


def test_redis_host_form_uses_port_password_and_tls():
    password = "p@ss:w/rd #1"
    env = {"REDIS_HOST": "r", "REDIS_PORT": "6380", "REDIS_PASSWORD": password, "REDIS_TLS": "1"}

    url = load_config(env)["REDIS_URL"]

    assert url.startswith("rediss://")
    kwargs = redis_kwargs(url)
    assert (kwargs["host"], kwargs["port"], kwargs["password"]) == ("r", 6380, password)


def test_redis_host_form_accepts_an_ipv6_address():
    url = load_config({"REDIS_HOST": "::1", "REDIS_PORT": "7000"})["REDIS_URL"]

    assert url == "redis://[::1]:7000/0"
    assert redis_kwargs(url)["port"] == 7000


def test_redis_port_and_tls_are_ignored_without_a_host():
    assert load_config({"REDIS_PORT": "6380", "REDIS_TLS": "true"})["REDIS_URL"] is None


@pytest.mark.parametrize(
    "env, name",
    [
        ({"REDIS_HOST": "r", "REDIS_PORT": "abc"}, "REDIS_PORT"),
        ({"REDIS_HOST": "r", "REDIS_PORT": "0"}, "REDIS_PORT"),
        ({"REDIS_HOST": "r", "REDIS_PORT": "70000"}, "REDIS_PORT"),
        ({"REDIS_HOST": "r", "REDIS_TLS": "maybe"}, "REDIS_TLS"),
        ({"REDIS_TIMEOUT": "soon"}, "REDIS_TIMEOUT"),
        ({"REDIS_TIMEOUT": "0"}, "REDIS_TIMEOUT"),
        ({"REDIS_TIMEOUT": "-1"}, "REDIS_TIMEOUT"),
        ({"REDIS_TIMEOUT": "inf"}, "REDIS_TIMEOUT"),
        ({"REDIS_TIMEOUT": "nan"}, "REDIS_TIMEOUT"),
    ],
)
def test_bad_redis_settings_are_refused_at_start_up(env, name):
    with pytest.raises(ConfigError, match=name):
        load_config(env)


def test_redis_timeout_accepts_a_fraction_of_a_second():
    assert load_config({"REDIS_TIMEOUT": "0.05"})["REDIS_TIMEOUT"] == 0.05


# --- rate limits -------------------------------------------------------------------------------


def test_rate_limits_can_be_overridden():
    env = {"RATELIMIT_API": "5 per minute", "RATELIMIT_AUTH": "2/second"}

    config = load_config(env)

    assert (config["RATELIMIT_API"], config["RATELIMIT_AUTH"]) == ("5 per minute", "2/second")


def test_blank_rate_limits_keep_their_defaults():
    config = load_config({"RATELIMIT_API": " ", "RATELIMIT_AUTH": ""})

    assert (config["RATELIMIT_API"], config["RATELIMIT_AUTH"]) == (
        "100 per 15 minutes",
        "10 per 15 minutes",
    )


@pytest.mark.parametrize("name", ["RATELIMIT_API", "RATELIMIT_AUTH"])
def test_a_malformed_rate_limit_is_refused_at_start_up(name):
    with pytest.raises(ConfigError, match=name):
        load_config({name: "lots"})


# --- booleans ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["CACHE_ENABLED", "RATELIMIT_ENABLED"])
@pytest.mark.parametrize(
    "raw, expected",
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        (" on ", True),
        ("0", False),
        ("false", False),
        ("No", False),
        ("off", False),
    ],
)
def test_boolean_settings_parse_the_usual_spellings(name, raw, expected):
    assert load_config({name: raw})[name] is expected


@pytest.mark.parametrize("name", ["CACHE_ENABLED", "RATELIMIT_ENABLED"])
def test_a_blank_boolean_keeps_its_default(name):
    assert load_config({name: ""})[name] is True


@pytest.mark.parametrize("name", ["CACHE_ENABLED", "RATELIMIT_ENABLED"])
@pytest.mark.parametrize("raw", ["maybe", "2", "truee", "enabled"])
def test_a_bad_boolean_is_refused(name, raw):
    with pytest.raises(ConfigError, match=name):
        load_config({name: raw})


# --- integers ----------------------------------------------------------------------------------


def test_trusted_proxies_and_max_content_length_are_integers():
    config = load_config({"TRUSTED_PROXIES": "2", "MAX_CONTENT_LENGTH": "2048"})

    assert config["TRUSTED_PROXIES"] == 2
    assert config["MAX_CONTENT_LENGTH"] == 2048


def test_blank_integers_keep_their_defaults():
    config = load_config({"TRUSTED_PROXIES": "", "MAX_CONTENT_LENGTH": " "})

    assert config["TRUSTED_PROXIES"] == 0
    assert config["MAX_CONTENT_LENGTH"] == 1024 * 1024


@pytest.mark.parametrize(
    "name, raw",
    [
        ("TRUSTED_PROXIES", "one"),
        ("TRUSTED_PROXIES", "-1"),
        ("TRUSTED_PROXIES", "1.5"),
        ("MAX_CONTENT_LENGTH", "1MB"),
        ("MAX_CONTENT_LENGTH", "0"),
        ("MAX_CONTENT_LENGTH", "-5"),
    ],
)
def test_a_bad_integer_is_refused(name, raw):
    with pytest.raises(ConfigError, match=name):
        load_config({name: raw})


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_session_lifetime_is_bounded():
    lifetime = load_config({})["PERMANENT_SESSION_LIFETIME"]

    assert timedelta(0) < lifetime <= timedelta(hours=8)


def test_the_fast_path_switch_comes_from_the_environment():
    assert load_config({})["RESPONSE_CACHE_FAST_PATH"] is True
    assert load_config({"RESPONSE_CACHE_FAST_PATH": "false"})["RESPONSE_CACHE_FAST_PATH"] is False


@pytest.mark.parametrize(("raw", "mode"), [("", "buffered"), ("LINE", "line"), ("off", "off")])
def test_access_log_mode(raw, mode):
    assert load_config({"ACCESS_LOG": raw})["ACCESS_LOG"] == mode


def test_an_unknown_access_log_mode_is_refused():
    with pytest.raises(ConfigError, match="ACCESS_LOG"):
        load_config({"ACCESS_LOG": "verbose"})
