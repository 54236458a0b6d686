"""Fixtures of the fuzz suite: the reliability recorder (see ``tests/faults/recorder.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.faults.recorder import CaseRecorder


@pytest.fixture
def reliability_case(record_property: Any) -> CaseRecorder:
    return CaseRecorder(record_property, group="fuzz")
