"""The README stays true: every setting the app reads from the environment is documented
there (config.py, and redis_link/topology.py for the Redis forms)."""

from __future__ import annotations

import re
from pathlib import Path

import config
from redis_link import topology

ROOT = Path(__file__).resolve().parents[1]


def _settings_read_by_config() -> set[str]:
    source = Path(config.__file__).read_text() + Path(topology.__file__).read_text()
    return set(re.findall(r'env\.get\("([A-Z][A-Z0-9_]+)"', source)) | set(
        re.findall(r'_(?:bool|int|float|flag)\(env, "([A-Z][A-Z0-9_]+)"', source)
    )


def test_every_setting_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    settings = _settings_read_by_config()
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"} <= settings  # the scan works
    missing = sorted(name for name in settings if f"`{name}`" not in readme)
    assert missing == []


def test_readme_names_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
