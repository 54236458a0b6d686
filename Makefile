# Everyday commands. A newcomer with Python >= 3.11 and nothing else runs `make run` and gets
# the API at http://127.0.0.1:8000/api/v1/posts (SQLite file, in-process cache, no Redis needed).
#
# The venv is (re)installed only when a requirements file changes: stamp files inside the venv
# record the last successful install.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY = $(VENV)/bin/python
PYTEST_ARGS ?=

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install install-dev run test lint fmt bench bench-quick reliability clean distclean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "} {printf "  make %-12s %s\n", $$1, $$2}'

# Creates the venv if it is missing, after checking the interpreter, and refuses a venv built
# from an older Python (a leftover from another project) instead of failing later in pip.
define ensure_venv
	@if [ ! -x "$(PY)" ]; then \
		if ! command -v "$(PYTHON)" >/dev/null 2>&1; then \
			echo "error: '$(PYTHON)' not found. Install Python 3.11 or newer, or run make PYTHON=/path/to/python3.11" >&2; \
			exit 1; \
		fi; \
		if ! "$(PYTHON)" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then \
			echo "error: Python >= 3.11 is required, but '$(PYTHON)' is $$("$(PYTHON)" -V 2>&1). Run make PYTHON=/path/to/python3.11" >&2; \
			exit 1; \
		fi; \
		echo "creating $(VENV) with $$("$(PYTHON)" -V 2>&1)"; \
		"$(PYTHON)" -m venv "$(VENV)" || { \
			echo "error: '$(PYTHON) -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2; \
			rm -rf "$(VENV)"; exit 1; }; \
	fi
	@"$(PY)" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo "error: $(VENV) runs $$("$(PY)" -V 2>&1); Python >= 3.11 is required. Run make distclean" >&2; \
		exit 1; }
	@# Best effort: an old pip still installs the pins, so an offline machine is not blocked here.
	@"$(PY)" -m pip install --quiet --upgrade pip || echo "warning: could not upgrade pip; continuing"
endef

# The response-cache package's own metadata (its dependencies, its extras) is an input too.
PACKAGE_META = middleware/response_cache/pyproject.toml

$(VENV)/.installed-runtime: requirements.txt $(PACKAGE_META)
	$(ensure_venv)
	"$(PY)" -m pip install --quiet -r requirements.txt
	@touch "$@"

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(PACKAGE_META)
	$(ensure_venv)
	"$(PY)" -m pip install --quiet -r requirements-dev.txt
	@touch "$@"

install: $(VENV)/.installed-runtime ## create the venv and install the runtime requirements

install-dev: $(VENV)/.installed-dev ## install the test and lint tools too

run: $(VENV)/.installed-runtime ## create tables, seed an empty DB, serve on 127.0.0.1:$PORT (8000)
	@# instance/ is git-ignored, so a fresh clone has no directory for the default SQLite file.
	@mkdir -p instance
	"$(VENV)/bin/flask" --app app init-db
	"$(VENV)/bin/flask" --app app seed --if-empty
	@# /metrics adds up every worker only in prometheus-client's multiprocess mode;
	@# gunicorn.conf.py empties this directory at start-up. Override it to opt out.
	@# exec: gunicorn replaces the shell, so Ctrl-C and SIGTERM reach its master directly.
	PROMETHEUS_MULTIPROC_DIR="$${PROMETHEUS_MULTIPROC_DIR-$(CURDIR)/instance/prometheus}" \
		exec "$(VENV)/bin/gunicorn" -c gunicorn.conf.py wsgi:app

test: $(VENV)/.installed-dev ## run the test suite (extra flags: make test PYTEST_ARGS="-k cache -x")
	"$(PY)" -m pytest $(PYTEST_ARGS)

# All three checks always run, so one round shows every problem; the target fails if any did.
lint: $(VENV)/.installed-dev ## ruff lint, ruff format check, mypy
	@rc=0; \
	for check in "ruff check ." "ruff format --check ." "mypy ."; do \
		echo "$(VENV)/bin/$$check"; \
		"$(VENV)/bin/"$$check || rc=1; \
	done; \
	exit $$rc

fmt: $(VENV)/.installed-dev ## apply ruff's fixes and formatting
	"$(VENV)/bin/ruff" check --fix .
	"$(VENV)/bin/ruff" format .

# The fault, attack and fuzz suites plus the in-process suites the report collects; the
# recorder plugin writes every outcome and figure to JSON, then the report is rendered from it
# (even when a case failed, so the report shows the failure; the target still fails then).
RELIABILITY_JSON ?= test-artifacts/reliability.json
RELIABILITY_SUITES = tests/faults tests/attacks tests/fuzz \
	tests/response_cache/test_poisoning.py tests/response_cache/test_scopes.py \
	middleware/response_cache/tests/test_keys.py tests/response_cache/test_failure.py \
	tests/response_cache/test_rate_limit_hits.py tests/response_cache/test_toggles.py \
	tests/response_cache/test_stampede.py tests/test_rate_limits.py tests/test_client_address.py \
	tests/test_sessions.py tests/test_sessions_redis_down.py tests/test_sessions_survive_redis.py \
	middleware/response_cache/tests/test_redis_outage.py \
	middleware/response_cache/tests/test_write_during_outage.py tests/test_csrf.py \
	tests/blueprints/test_errors.py tests/cache_core/test_trust_and_invalidation.py \
	tests/cache_core/test_posts_invalidation.py tests/cache_core/test_stateful_freshness.py

reliability: $(VENV)/.installed-dev ## run the fault/attack/fuzz suites, regenerate docs/reliability.md
	@rc=0; \
	"$(PY)" -m pytest -p tests.faults.recorder --reliability-json "$(RELIABILITY_JSON)" \
		$(RELIABILITY_SUITES) $(PYTEST_ARGS) || rc=$$?; \
	"$(PY)" scripts/reliability_report.py "$(RELIABILITY_JSON)" docs/reliability.md || rc=1; \
	exit $$rc

bench: $(VENV)/.installed-dev ## full benchmark (see bench/)
	"$(PY)" -m bench

bench-quick: $(VENV)/.installed-dev ## short benchmark run, for a quick comparison
	"$(PY)" -m bench --quick

clean: ## remove caches and test artifacts (keeps the venv and instance/)
	rm -rf .pytest_cache .mypy_cache .ruff_cache test-artifacts .coverage
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

distclean: clean ## also remove the venv
	rm -rf "$(VENV)"
