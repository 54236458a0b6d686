"""``make reliability`` names its suites by path: every path must exist, and every file the
report collects must be one the target runs (a moved test file would otherwise empty the
report without failing anything but that target)."""

from __future__ import annotations

import re
from pathlib import Path

from scripts.reliability_report import COLLECTED

ROOT = Path(__file__).resolve().parent.parent


def reliability_suites() -> list[str]:
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(r"^RELIABILITY_SUITES = ((?:.*\\\n)*.*)$", makefile, re.MULTILINE)
    assert match, "RELIABILITY_SUITES is not defined in the Makefile"
    return match.group(1).replace("\\\n", " ").split()


def test_every_reliability_suite_exists():
    suites = reliability_suites()
    assert len(suites) > 10
    assert [path for path in suites if not (ROOT / path).exists()] == []


def test_every_collected_file_is_run_by_the_target():
    suites = set(reliability_suites())
    assert [path for path in COLLECTED if path not in suites] == []
