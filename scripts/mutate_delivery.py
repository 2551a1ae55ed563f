"""Remove each rule of `pipeline/delivery.py` in turn and check that a row of the decision
table (tests/core/test_delivery.py) fails without it; the file is restored after each.

    .venv/bin/python scripts/mutate_delivery.py

Prints CAUGHT or MISSED per rule and exits 1 if any rule is missed. Run it after changing a
rule or a row, and give a new rule its mutation here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "pipeline" / "delivery.py"
LOST = '            out.actions += [Release(work_id, "lost"), Publish(work_id, "lost")]\n'
NODE_RESTORE = '    out.actions += [Restore(m.tag, m.task_id, "node") for m in held if m.task_id in mine]\n'
ONE_PER_ITEM = "{m.task_id: m.queue for m in snap.held}.items()"
RUNNING = 'return KEEP_RUNNING if snap.now - run.at < snap.lease else "hung"'

# (rule, its text, the text without it)
MUTATIONS = [
    ("due", "        if when <= snap.now:\n", "        if False:\n"),
    ("not due (always publish)", "        if when <= snap.now:\n", "        if True:\n"),
    ("unpublished", "        if snap.now - recorded >= snap.grace:\n", "        if False:\n"),
    ("recent (always publish)", "        if snap.now - recorded >= snap.grace:\n", "        if True:\n"),
    ("hung release", "        if snap.now - run.at >= snap.lease:\n", "        if False:\n"),
    ("grace", "    if age < snap.grace:\n        return KEEP_GRACE\n", ""),
    ("running", RUNNING, 'return "hung"'),
    ("hung restore", RUNNING, "return KEEP_RUNNING"),
    ("lease", "    if not stale and age < snap.lease:\n", "    if False:\n"),
    ("stale", "    stale = sent is not None and snap.now - sent >= snap.grace\n", "    stale = False\n"),
    ("restore held", '        if why in ("held", "hung"):\n', '        if why in ("hung",):\n'),
    ("inspect", "        if missing > 0:\n", "        if False:\n"),
    ("counts agree (always inspect)", "        if missing > 0:\n", "        if True:\n"),
    ("held messages carried", "            carried[queue] = carried.get(queue, 0) + 1\n", "            pass\n"),
    ("only published items' held messages carry", "        if task_id in snap.carrying:\n", "        if True:\n"),
    (
        "one held message per item",
        "{m.task_id: m.queue for m in snap.held}.items()",
        "((m.task_id, m.queue) for m in snap.held)",
    ),
    ("audit queued", "        if work_id in audit.queued:\n", "        if False:\n"),
    ("audit held", "        elif work_id in audit.held:\n", "        elif False:\n"),
    ("audit recent", "        elif audit.now - sent < audit.grace:\n", "        elif False:\n"),
    ("audit lost", LOST, "            pass\n"),
    ("node runs", "        if run.node == node:\n", "        if False:\n"),
    ("other node (all runs)", "        if run.node == node:\n", "        if True:\n"),
    ("node restore", NODE_RESTORE, ""),
    ("flush", "        if now - m.since > older_than:\n", "        if False:\n"),
    ("young (flush all)", "        if now - m.since > older_than:\n", "        if True:\n"),
]


def main() -> int:
    original = RULES.read_text()
    missed = 0
    try:
        for name, rule, without in MUTATIONS:
            if original.count(rule) != 1:
                print(f"STALE {name}: its text is not (once) in {RULES.name}; update this script")
                missed += 1
                continue
            RULES.write_text(original.replace(rule, without))
            run = subprocess.run(
                [sys.executable, "-m", "pytest", "tests/core/test_delivery.py", "-q"],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            failing = [line.split("[", 1)[-1][:80] for line in run.stdout.splitlines() if line.startswith("FAILED")]
            caught = run.returncode != 0
            missed += not caught
            example = f" (e.g. [{failing[0]})" if failing else ""
            print(f"{'CAUGHT' if caught else 'MISSED'} {name}: {len(failing)} row(s) fail{example}")
    finally:
        RULES.write_text(original)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
