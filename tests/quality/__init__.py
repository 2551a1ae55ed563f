"""Quality gates: the cleaning scored on the golden corpus and the public development sets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FLOORS_FILE = Path(__file__).with_name("floors.json")


def floors(section: str) -> dict[str, Any]:
    """The pinned floors of one set (raising is free; lowering is a commit that says why)."""
    result: dict[str, Any] = json.loads(FLOORS_FILE.read_text(encoding="utf-8"))[section]
    return result


def benchmark_gate(ground_truth: Path, seconds: int) -> list[pytest.MarkDecorator]:
    """Marks of a gate on a public set: skipped where `../shared/benchmarks/` is not beside the clone."""
    return [
        pytest.mark.quality,
        pytest.mark.timeout(seconds),
        pytest.mark.skipif(not ground_truth.is_file(), reason="no ../shared/benchmarks here"),
    ]
