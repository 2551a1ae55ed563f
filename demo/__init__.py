"""The bundled demo: two small news sites served on 127.0.0.1, ingested, then searched.

`newsflow demo` serves each folder of `sites/` with `demo.server.SiteServer`; `build.py`
writes those folders from `src/stories.txt`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SITES_DIR = Path(__file__).resolve().parent / "sites"


def demo_sites() -> list[tuple[Path, dict[str, Any]]]:
    """Each bundled site's folder and its site.json."""
    out = []
    for folder in sorted(p for p in SITES_DIR.iterdir() if (p / "site.json").is_file()):
        out.append((folder, json.loads((folder / "site.json").read_text(encoding="utf-8"))))
    return out


# Typed without accents on purpose; the third is a story one site republished from the other.
DEMO_QUERIES = [
    "chinh quyen than thien",
    "tea buyers Europe",
    "le hoi gau tao",
]
