"""`newsflow clean FILE-or-URL [--json]`: what the cleaner keeps and removes on one page.

No Redis, no index: the page is read from disk or fetched (through the same fetcher and
address guard as the workers), cleaned by `pipeline.cleaning.clean_page`, and shown: the
kept blocks, the removed ones with their reasons (and the block classifier's class and
scores of each), the teaser blocks cut from the page,
the related links, the captions, and anything the bounds cut. The cross-page boilerplate
statistics are not consulted (they live in Redis): `newsflow explain URL` shows those.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the cleaner is imported when the command runs: other commands stay fast
    from pipeline.cleaning import CleanedPage
    from pipeline.settings import Settings

PREVIEW_CHARS = 160


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `clean` on the CLI's subparsers."""
    p = sub.add_parser("clean", help="clean one page (a file or a URL), show what is kept and removed")
    p.add_argument("source", metavar="FILE-or-URL", help="an HTML file, or an http(s):// URL to fetch")
    p.add_argument("--url", help="with a file: the address the page was published at (links are read against it)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=cmd_clean)


def cmd_clean(settings: Settings, args: argparse.Namespace) -> int:
    """Clean one page and print the result; 0 when it holds an article, 1 otherwise."""
    from pipeline.cleaning import clean_page
    from pipeline.errors import Dropped, NewsflowError

    source: str = args.source
    try:
        body, url, charset = _read(settings, source, args.url)
        cleaned = clean_page(body, url, charset=charset)
    except OSError as exc:
        print(f"newsflow clean: cannot read {source}: {exc.strerror or exc}; nothing was cleaned", file=sys.stderr)
        return 1
    except Dropped as exc:  # an outcome, not a failure: the page holds no article text
        print(f"newsflow clean: {exc.detail or exc.reason}", file=sys.stderr)
        return 1
    except NewsflowError as exc:  # the fetch failed or was refused, or the page cannot be parsed
        print(f"newsflow clean: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(as_json(cleaned, url), ensure_ascii=False, indent=1))
    else:
        print_page(cleaned, url)
    return 0


def _read(settings: Settings, source: str, url: str | None) -> tuple[bytes, str, str | None]:
    """(page bytes, the URL to read it against, the charset the server named)."""
    if source.startswith(("http://", "https://")):
        from pipeline.fetching import Fetcher

        fetcher = Fetcher.from_settings(settings)
        try:
            result = fetcher.fetch(source)
        finally:
            fetcher.close()
        return result.body, result.final_url, result.charset
    path = Path(source)
    return path.read_bytes(), url or path.resolve().as_uri(), None


def as_json(cleaned: CleanedPage, url: str) -> dict[str, Any]:
    from pipeline.cleaning import block_fingerprint

    return {
        "url": url,
        "title": cleaned.title,
        "canonical_url": cleaned.canonical_url,
        "published_at": cleaned.published_at.isoformat() if cleaned.published_at else None,
        "authors": cleaned.authors,
        "language": cleaned.language,
        "extractor": cleaned.extractor,
        "not_article": cleaned.not_article,
        "body": cleaned.body,
        "blocks": [
            {"text": b.text, "fingerprint": b.fingerprint, "removed": b.reason, "class": b.label, "scores": b.scores}
            for b in cleaned.blocks
        ],
        "teaser_blocks": [{"text": t, "fingerprint": block_fingerprint(t)} for t in cleaned.teaser_texts],
        "related": [link.model_dump() for link in cleaned.related],
        "captions": cleaned.captions,
        "removed": cleaned.removed_counts(),
        "truncated": cleaned.truncated,
    }


def print_page(cleaned: CleanedPage, url: str) -> None:
    from pipeline.cleaning import block_fingerprint

    print(cleaned.title or "(no title)")
    when = cleaned.published_at.isoformat() if cleaned.published_at else "-"
    print(f"{cleaned.canonical_url or url}  published={when}  authors={', '.join(cleaned.authors) or '-'}")
    kept = len(cleaned.kept)
    print(f"kept {kept} blocks ({len(cleaned.body)} characters) by {cleaned.extractor}; removed: {_counts(cleaned)}")
    kind = "an article" if cleaned.is_article else "not an article: read by trafilatura"
    print(f"page kind: {kind} (probability it is not one: {cleaned.not_article:.2f})")
    print("each block: kept or why it went, the classifier's probability that it is article text, its text")
    for b in cleaned.blocks:
        mark = "KEEP" if b.reason is None else f"DROP {b.reason}"
        score = "  -  " if b.score is None else f"{b.score:.2f} "
        print(f"[{mark:<17}] {score} {b.fingerprint} {_preview(b.text)}")
    for text in cleaned.teaser_texts:
        print(f"[{'DROP teaser block':<17}] {block_fingerprint(text)} {_preview(text)}")
    print(f"related links ({len(cleaned.related)}):")
    for link in cleaned.related:
        print(f"  {link.url}  {_preview(link.title, 80)}")
    if cleaned.captions:
        print(f"captions ({len(cleaned.captions)}):")
        for caption in cleaned.captions:
            print(f"  {_preview(caption)}")
    if cleaned.truncated:
        print("cut by the bounds: " + ", ".join(f"{k} {n}" for k, n in cleaned.truncated.items()))


def _counts(cleaned: CleanedPage) -> str:
    counts = {k: n for k, n in cleaned.removed_counts().items() if not k.startswith("cut:")}
    if cleaned.teaser_texts:
        counts["teaser block"] = len(cleaned.teaser_texts)
    return ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items())) or "nothing"


def _preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
