"""`newsflow drift`: its arguments, and the rich table of sites on a terminal (pure: rendered to a string)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from pipeline.drift import DriftLimits
from workers.cli import build_parser
from workers.cli.display import drift_table
from workers.cli.drift import cmd_list

ALARM = {"site": "a.example", "at": 1_764_500_000, "kinds": ["body_length_fell"], "changes": ["median fell"]}


def rendered(sites: list[dict], limits: DriftLimits) -> str:
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(drift_table(sites, limits))
    return out.getvalue()


def test_the_table_shows_each_site_s_windows_against_their_size_and_its_alarm() -> None:
    """A row a site: pages held of how many, and "ok" or the alarm with its time and changes; the
    caption counts sites and alarms and says the rule with the limits in force."""
    limits = DriftLimits(baseline_pages=30, recent_pages=10, length_ratio=0.4)
    sites = [
        {"site": "a.example", "baseline_pages": 30, "baseline_target": 30, "recent_pages": 4, "recent_target": 10}
        | {"alarm": ALARM},
        {"site": "b.example", "baseline_pages": 7, "baseline_target": 30, "recent_pages": 0, "recent_target": 10}
        | {"alarm": None},
    ]
    text = rendered(sites, limits)
    a = next(line for line in text.splitlines() if "a.example" in line)
    assert "30/30" in a and "4/10" in a and "ALARM since 2025-11-30T10:53:20+00:00: median fell" in a
    b = next(line for line in text.splitlines() if "b.example" in line)
    assert "7/30" in b and "ok" in b and "ALARM" not in b
    caption = " ".join(text.split())
    assert "2 site(s), 1 alarm(s)" in caption and "each 10 new pages" in caption and "below 40%" in caption


@pytest.mark.parametrize(
    ("words", "as_json"),
    [
        (["drift"], False),
        (["drift", "list"], False),
        (["drift", "--json"], True),
        (["drift", "list", "--json"], True),
        (["drift", "--json", "list"], True),
    ],
)
def test_drift_and_drift_list_are_one_command_and_take_json_either_side(words: list[str], as_json: bool) -> None:
    args = build_parser().parse_args(words)
    assert args.func is cmd_list and args.json is as_json


def test_accept_wants_a_site_or_all_but_not_both() -> None:
    """`drift accept` alone, or with a site and --all, is a usage error (exit 2)."""
    parser = build_parser()
    assert parser.parse_args(["drift", "accept", "--all"]).all
    for words in (["drift", "accept"], ["drift", "accept", "a.example", "--all"]):
        with pytest.raises(SystemExit) as stopped:
            parser.parse_args(words)
        assert stopped.value.code == 2
