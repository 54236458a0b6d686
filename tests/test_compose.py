"""compose.yaml is a valid Compose file whose services wire together correctly.

Contract: there is no Compose engine on CI machines, so the file is checked offline in two ways:

* against the Compose Specification's JSON schema, vendored inside check-jsonschema
  (``--builtin-schema vendor.compose-spec``), which catches type errors, typos in keys and bad
  ``depends_on`` conditions; a deliberately broken copy proves the check can fail;
* by reading the YAML for what the schema cannot see: ``depends_on`` naming real services, named
  volumes being declared, every service having a healthcheck, Redis persisting its data, and the
  api waiting for healthy stores.

Neither proves the stack boots on a real engine; that needs ``docker compose up``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "compose.yaml"


def check_jsonschema_binary() -> str:
    """The check-jsonschema next to the running interpreter (the venv's), else the one on PATH."""
    beside_python = Path(sys.executable).parent / "check-jsonschema"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("check-jsonschema")
    assert found, "check-jsonschema is missing: install requirements-dev.txt"
    return found


def validate_compose(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [check_jsonschema_binary(), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_compose_file_matches_the_compose_specification() -> None:
    result = validate_compose(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_an_unknown_depends_on_condition(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    broken = yaml.safe_load(yaml.safe_dump(compose))  # deep copy
    broken["services"]["api"]["depends_on"]["redis"]["condition"] = "service_maybe"
    broken_file = tmp_path / "compose.yaml"
    broken_file.write_text(yaml.safe_dump(broken), encoding="utf-8")

    result = validate_compose(broken_file)

    assert result.returncode != 0
    assert "service_maybe" in result.stdout + result.stderr


def test_depends_on_names_only_defined_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on undefined service {dependency}"


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            # Bind mounts start with . or /; anything else is a named volume.
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} mounts undeclared volume {source}"


def test_every_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_redis_persists_with_an_append_only_file(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    command = redis["command"]
    words = command if isinstance(command, list) else command.split()
    assert words[words.index("--appendonly") + 1] == "yes"
    assert any(mount.endswith(":/data") for mount in redis["volumes"])


def test_api_waits_for_healthy_stores_and_points_at_them(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    assert api["depends_on"] == {
        "redis": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    env = api["environment"]
    assert env["APP_ENV"] == "production"
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    assert env["DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in env["DATABASE_URL"]
    # ${VAR:?message} makes compose refuse to start without a secret instead of inventing one.
    assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert env["BIND"] == "0.0.0.0:8000"
    assert "/api/v1/health" in " ".join(api["healthcheck"]["test"])


def test_api_image_runs_unprivileged_through_gunicorn_conf() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    instructions = [line.split(maxsplit=1) for line in dockerfile.splitlines() if line.strip()]
    users = [rest for keyword, *rest in instructions if keyword == "USER"]
    assert users and users[-1] != ["root"], "the image must not run as root"
    cmd = next(rest[0] for keyword, *rest in instructions if keyword == "CMD")
    assert "init-db" in cmd and "seed --if-empty" in cmd
    assert "gunicorn -c gunicorn.conf.py wsgi:app" in cmd
