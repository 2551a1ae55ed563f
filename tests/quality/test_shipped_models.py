"""The shipped models are what their training scripts build from the named data today.

A rule that changes what `read_page` finds (a teaser, a block, a feature) changes the training
table too; a model left as it was then no longer comes from the code beside it, and the
held-out fold models, trained by that code, no longer stand for it. Rebuild both with
`python -m pipeline.cleaning.train` and `python -m pipeline.cleaning.train_kind`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bench.quality import DEFAULT_WCXB
from pipeline.cleaning import train, train_kind
from pipeline.cleaning.kind import KIND_MODEL_FILE
from pipeline.cleaning.model import MODEL_FILE
from tests.quality import benchmark_gate

pytestmark = benchmark_gate(DEFAULT_WCXB / "ground-truth.json.gz", 600)


def differences(shipped: Path, rebuilt: Path) -> list[str]:
    """The arrays of two saved models that differ, by name."""
    with np.load(shipped) as a, np.load(rebuilt) as b:
        names = sorted(set(a.files) | set(b.files))
        return [n for n in names if n not in a.files or n not in b.files or not np.array_equal(a[n], b[n])]


@pytest.mark.parametrize(
    ("shipped", "build", "command"),
    [
        (MODEL_FILE, train.main, "python -m pipeline.cleaning.train"),
        (KIND_MODEL_FILE, train_kind.main, "python -m pipeline.cleaning.train_kind"),
    ],
    ids=["block model", "page-kind model"],
)
def test_the_shipped_model_is_what_its_training_script_builds(
    tmp_path: Path, shipped: Path, build: Callable[[list[str]], int], command: str
) -> None:
    rebuilt = tmp_path / shipped.name
    assert build(["--out", str(rebuilt)]) == 0
    changed = differences(shipped, rebuilt)
    assert not changed, (
        f"{shipped.name} is not what the code builds today ({', '.join(changed)} differ): run `{command}`"
    )


def test_a_model_trained_on_other_data_is_told_apart() -> None:
    """The comparison sees a change: the block model against the page-kind model's arrays."""
    assert differences(MODEL_FILE, KIND_MODEL_FILE)
