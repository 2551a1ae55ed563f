"""The golden corpus is well-formed: cheap checks that keep the quality gate meaningful."""

from __future__ import annotations

import codecs
import json
import unicodedata
from collections import defaultdict
from pathlib import Path

import pytest

from pipeline.urls import canonicalize_url

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
REQUIRED = ("path", "expected", "site", "url", "language", "title", "encoding", "published", "story", "teasers")


@pytest.fixture(scope="module")
def manifest() -> list[dict]:
    data = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
    assert isinstance(data, list) and data, "manifest.json must be a non-empty list"
    return data


def test_records_have_the_fields_the_scoring_reads(manifest: list[dict]) -> None:
    for rec in manifest:
        missing = [k for k in REQUIRED if k not in rec]
        assert not missing, f"{rec.get('path')}: missing {missing}"
        assert isinstance(rec["teasers"], list) and all(isinstance(t, str) for t in rec["teasers"]), rec["path"]


def test_paths_and_urls_are_unique(manifest: list[dict]) -> None:
    paths = [r["path"] for r in manifest]
    assert len(paths) == len(set(paths)), "duplicate paths in the manifest"
    # The pipeline keys a page by its canonicalised feed URL: two pages must not collide.
    urls = [canonicalize_url(r["url"]) for r in manifest]
    dupes = {u for u in urls if urls.count(u) > 1}
    assert not dupes, f"pages share a URL once canonicalised: {sorted(dupes)}"


def test_files_exist_and_decode(manifest: list[dict]) -> None:
    for rec in manifest:
        html, expected = CORPUS / rec["path"], CORPUS / rec["expected"]
        assert html.is_file(), f"missing page {html}"
        assert expected.is_file(), f"missing expected text {expected}"
        codec = codecs.lookup(rec["encoding"]).name
        html.read_bytes().decode(codec)  # raises if the page is not in its declared encoding


def test_expected_texts_are_nonempty_nfc(manifest: list[dict]) -> None:
    for rec in manifest:
        text = (CORPUS / rec["expected"]).read_text(encoding="utf-8")
        assert text.strip(), f"{rec['expected']} is empty"
        assert unicodedata.is_normalized("NFC", text), f"{rec['expected']} is not NFC"


def test_every_shared_story_spans_several_urls(manifest: list[dict]) -> None:
    by_story: dict[str, set[str]] = defaultdict(set)
    counts: dict[str, int] = defaultdict(int)
    for rec in manifest:
        by_story[rec["story"]].add(canonicalize_url(rec["url"]))
        counts[rec["story"]] += 1
    shared = {s for s, n in counts.items() if n >= 2}
    assert shared, "no story has two pages: the near-duplicate measure would be empty"
    bad = {s: sorted(urls) for s, urls in by_story.items() if s in shared and len(urls) < 2}
    assert not bad, f"stories with several pages on a single URL: {bad}"
