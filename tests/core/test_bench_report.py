"""The benchmarks' Markdown fragments: tables that cannot break, and where and when they were measured."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.redis_memory import fragment_tables
from bench.report import Provenance, markdown_table, write_fragment


def test_a_table_escapes_pipes_and_refuses_a_ragged_row() -> None:
    """A cell's `|` cannot split its row, and a row of the wrong width is an error naming it."""
    table = markdown_table(["a", "b"], [["x|y", 2]])
    assert table.splitlines() == ["| a | b |", "| --- | --- |", "| x\\|y | 2 |"]
    with pytest.raises(ValueError, match="a row of 1 cells under a header of 2"):
        markdown_table(["a", "b"], [["only one"]])


def test_provenance_names_the_command_date_commit_and_machine() -> None:
    """The line says which command ran, on which day, at which commit, on what, under what load."""
    line = Provenance(["bench/redis_memory.py", "--articles", "200"]).line()
    assert "`.venv/bin/python bench/redis_memory.py --articles 200`" in line
    assert re.search(r"on \d{4}-\d{2}-\d{2} \(\d{2}:\d{2} UTC\)", line)
    assert re.search(r"commit [0-9a-f]{7,}|unknown commit", line)
    assert re.search(r"\d+ cores, \d+ GiB, Python 3\.\d+", line)
    assert "load average" in line


def test_a_fragment_holds_the_tables_then_the_note_then_the_provenance(tmp_path: Path) -> None:
    """write_fragment makes the folder and writes what the documentation includes, provenance last."""
    out = tmp_path / "figures" / "x.md"
    write_fragment(out, Provenance(["bench/x.py"]), [markdown_table(["n"], [[1]])], notes="One run.")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("| n |\n| --- |\n| 1 |\n")
    assert text.index("One run.") < text.index("Measured by `.venv/bin/python bench/x.py`")


def test_redis_memory_tables_come_from_its_results() -> None:
    """bench/redis_memory.py's fragment: a row per size, and bytes per article by key family."""
    results = [
        {"articles": 10000, "bytes_per_article": 1297, "near_duplicate_recall": 0.985, "copies": 197,
         "ms_per_article": 0.4, "bytes_per_article[nf:ndx]": 276, "bytes_per_article[nf:core:seen]": 11},
        {"articles": 100000, "bytes_per_article": 653, "near_duplicate_recall": 0.982, "copies": 1997,
         "ms_per_article": 0.3, "bytes_per_article[nf:ndx]": 311},
    ]  # fmt: skip
    sizes, by_family = fragment_tables(results)
    assert "| 100,000 | 653 | 0.982 (of 1,997) | 0.3 |" in sizes
    assert "| key family, bytes per article | 10,000 articles | 100,000 articles |" in by_family
    assert "| `nf:core:seen` | 11 | 0 |" in by_family and "| `nf:ndx` | 276 | 311 |" in by_family


def test_the_capacity_model_multiplies_its_inputs() -> None:
    """bench/capacity.py: memory by window, shards by size or count, workers by the peak rate."""
    from bench.capacity import Inputs, size, tables

    inputs = Inputs(
        neardup_bytes=500, seen_bytes=10, doc_bytes=4000, shard_gb=40, peak=2, clean_per_core=40, stage_ms=0
    )
    big = size(50_000, 2_000_000, inputs)
    assert big.redis_neardup == 2_000_000 * 30 * 500 and big.redis_seen == 2_000_000 * 180 * 10
    assert big.es_shards_month == 7  # 60.9 M articles of 4 kB: 244 GB, in shards of at most 40 GB
    assert big.es_shards_total == 7 * 2 * 13  # a replica each, twelve months kept and this one
    assert abs(big.process_cores - 2_000_000 / 86400 * 2 / 40) < 1e-9
    small = size(10, 1_000, inputs)
    assert small.es_shards_month == 1
    assert "**total**" in tables([small, big], inputs)[0]
