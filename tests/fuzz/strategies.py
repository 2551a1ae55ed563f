"""Hostile inputs for newsflow's entry points, shared by the fuzz tests and `bench/fuzz.py`."""

from __future__ import annotations

# A 2008 content system wrote the page's keywords where the encoding goes, and never closed
# the declaration: about 850 characters and no `?>`, then ordinary HTML.
_KEYWORDS = ", ".join(
    ["ilashack", "necessarily", "palestinian", "harbour", "lights", "summer", "volunteers", "storm"] * 12
    + ["festival", "Sri Lanka"]
)
BROKEN_DECLARATION = f'<?xml version="1.0" encoding="{_KEYWORDS}" />'
