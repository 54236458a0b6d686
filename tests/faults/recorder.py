"""Per-case reliability figures, and the pytest plugin that collects them into JSON.

Contract:
- A test of the fault, scale-out, attack or fuzz suites calls
  ``reliability_case.record(case=..., fault=..., behaviour=..., **figures)`` once,
  *before* asserting, so a failing case still reports what it measured. The record
  rides on pytest's ``record_property`` (key ``reliability``); without the plugin
  it is inert.
- ``pytest -p tests.faults.recorder --reliability-json PATH`` (``make reliability``)
  writes every selected test's outcome (passed, failed, skipped, xfailed), its
  duration and its record, if any, to PATH; ``scripts/reliability_report.py``
  renders ``docs/reliability.md`` from that file. Tests that record nothing (the
  older suites the report also collects) appear with their outcome only.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

PROPERTY = "reliability"


@dataclass
class CaseRecord:
    group: str  # "fault", "scale-out", "cluster", "attack", "fuzz"
    case: str
    fault: str  # the fault injected or the input sent
    behaviour: str  # what the system did, in a sentence
    catalogue: list[int] = field(default_factory=list)  # reliability-anchors section 9 rows
    figures: dict[str, Any] = field(default_factory=dict)


class CaseRecorder:
    """What a test hands to ``record``; one record per test (the last one wins)."""

    def __init__(self, record_property: Any, group: str) -> None:
        self._record_property = record_property
        self.group = group

    def record(
        self,
        case: str,
        fault: str,
        behaviour: str,
        catalogue: list[int] | tuple[int, ...] = (),
        group: str | None = None,
        **figures: Any,
    ) -> CaseRecord:
        record = CaseRecord(group or self.group, case, fault, behaviour, list(catalogue), figures)
        self._record_property(PROPERTY, json.dumps(asdict(record)))
        return record


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reliability-json",
        default=None,
        help="write every test's outcome and reliability figures to this JSON file",
    )


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--reliability-json")
    if path:
        config.pluginmanager.register(ResultsWriter(Path(path)), "reliability-results")


def _redis_version() -> str:
    try:
        done = subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip()


class ResultsWriter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.started = time.time()
        self.results: dict[str, dict[str, Any]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self.results.setdefault(
            report.nodeid, {"nodeid": report.nodeid, "outcome": "passed", "duration": 0.0}
        )
        entry["duration"] = round(entry["duration"] + report.duration, 3)
        for name, value in report.user_properties:
            if name == PROPERTY:
                entry["record"] = json.loads(str(value))
        if hasattr(report, "wasxfail"):
            entry["outcome"] = "xpassed" if report.passed else "xfailed"
            entry["reason"] = str(report.wasxfail)
        elif report.failed:
            entry["outcome"] = "failed" if report.when == "call" else "error"
            entry["reason"] = str(report.longrepr)[-2000:]
        elif report.skipped:
            entry["outcome"] = "skipped"
            longrepr = report.longrepr
            entry["reason"] = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "generated_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "wall_seconds": round(time.time() - self.started, 1),
            "python": platform.python_version(),
            "machine": f"{platform.system()} {platform.machine()}",
            "redis": _redis_version(),
            "postgres": bool(os.environ.get("TEST_DATABASE_URL")),
            "results": list(self.results.values()),
        }
        self.path.write_text(json.dumps(document, indent=1))
