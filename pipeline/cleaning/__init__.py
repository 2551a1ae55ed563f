"""Cleaning: HTML bytes in, article text and metadata out. Pure: no network, no Redis.

`clean_page` (in `page.py`) is the one entry. The package holds its parts:
- `blocks.py`: the page cut into text blocks, in reading order, with what each knows of its place;
- `features.py`: a vector of numbers for each block (text, links, markup, position, neighbours);
- `model.py`: the shipped block classifier (boosted trees, run with NumPy) and its file;
- `page.py`: the steps around it (decoding, metadata, teaser rules, captions, repeats, bylines,
  the site's boilerplate statistics) and the audit trail of every removed block;
- `train.py`: rebuilds the model from the development sets and the golden corpus.
"""

from pipeline.cleaning.page import (
    Block,
    CleanedPage,
    block_fingerprint,
    clean_page,
    normalize_block,
    take_captions,
)

__all__ = ["Block", "CleanedPage", "block_fingerprint", "clean_page", "normalize_block", "take_captions"]
