"""Time to clean hostile pages, one at a time, and what the bounds cut from each.

    .venv/bin/python bench/hostile_pages.py [--only NAME ...]

Each page is a short real story followed by what a broken or hostile site adds (100,000
links, a 1 MB title, 100,000 paragraphs, ...), built here. The figure that matters is the
wall time of `clean_page` on one core: every page must clean in a few seconds, into a
document whose fields stay within `pipeline.limits.PageLimits`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.cleaning import clean_page  # noqa: E402
from pipeline.errors import Dropped, PermanentError  # noqa: E402

URL = "https://riverside-courier.example/news/council-backs-the-new-footbridge-2025-4411.html"
STORY = "".join(
    f"<p>{p}</p>"
    for p in (
        "The council voted on Tuesday to fund a new footbridge over the river, ending two years of argument.",
        "Work is due to start in the spring and should take eighteen months, the council's engineer said.",
        "Residents on both banks had asked for a crossing since the old ferry stopped running in 2019.",
    )
)


def page(after: str = "", head: str = "", title: str = "Council backs the new footbridge") -> bytes:
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title>{head}</head>"
        f"<body><article>{STORY}</article>{after}</body></html>"
    ).encode()


N = 100_000
PAGES: dict[str, Callable[[], bytes]] = {
    "100k same-site links": lambda: page(
        "<ul>"
        + "".join(
            f'<li><a href="/news/story-number-{i}-of-the-day.html">Story {i} of the day</a></li>' for i in range(N)
        )
        + "</ul>"
    ),
    "100k headline paragraphs": lambda: page(
        "".join(
            f'<p><a href="https://elsewhere.example/a/story-{i}-x.html">Story {i} of a day</a></p>' for i in range(N)
        )
    ),
    "1 MB title": lambda: page(title="Footbridge " * 100_000),
    "100k paragraphs": lambda: page("".join(f"<p>Paragraph {i} of the report.</p>" for i in range(N))),
    "4 MB paragraph": lambda: page("<p>" + "word " * 800_000 + "</p>"),
    "50k figures": lambda: page(
        "".join(f'<figure><img src="/{i}.jpg"><figcaption>Picture {i}</figcaption></figure>' for i in range(50_000))
    ),
    "50k table rows": lambda: page(
        "<table>" + "".join(f"<tr><td>{i}</td><td>x</td></tr>" for i in range(50_000)) + "</table>"
    ),
    "100k tags, 1 MB author": lambda: page(
        head=f'<meta name="keywords" content="{",".join(f"t{i}" for i in range(N))}">'
        f'<meta name="author" content="{"A" * 1_000_000}">'
    ),
    "20,000 nested divs": lambda: page("<div>" * 20_000 + STORY + "</div>" * 20_000),
    "50k headline + blurb pairs": lambda: page(
        "".join(
            f'<p><a href="/news/story-number-{i}-of-the-day.html">Story {i} of the day</a></p><p>Blurb {i} and…</p>'
            for i in range(50_000)
        )
    ),
    "20k previous/next lines": lambda: page(
        "".join(
            f'<p>Previous: <a href="/news/story-{i}-x.html">Story {i} of a day</a> | '
            f'Next: <a href="/news/story-{i + 1}-x.html">Story {i + 1} of a day</a></p>'
            for i in range(20_000)
        )
    ),
    "100k <br> headline lines": lambda: page(
        "<p>"
        + "<br>".join(f'<a href="/news/story-{i}-x.html">Story {i} of a day</a> (12 May)' for i in range(N))
        + "</p>"
    ),
    # No story at all: read as not an article, so trafilatura's full cascade reads it whole.
    "shop of 20k products": lambda: (
        '<!DOCTYPE html><html><head><title>Garden chairs | Shop</title><meta property="og:type" '
        'content="product.group"></head><body><h1>Garden chairs</h1><ul>'
        + "".join(
            f'<li class="product"><a href="/p/{i}">Garden chair model {i}</a>'
            f'<span class="price">${i % 90 + 10}.99</span><button>Add to cart</button></li>'
            for i in range(20_000)
        )
        + "</ul></body></html>"
    ).encode(),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", help="names of pages to time (default: all)")
    args = ap.parse_args(argv)
    print(f"{'page':<26} {'MB':>5} {'seconds':>8}  outcome")
    for name, build in PAGES.items():
        if args.only and name not in args.only:
            continue
        raw = build()
        started = time.perf_counter()
        try:
            cleaned = clean_page(raw, URL)
            outcome = (
                f"body {len(cleaned.body)} chars, title {len(cleaned.title)}, related {len(cleaned.related)}, "
                f"captions {len(cleaned.captions)}, tags {len(cleaned.tags)}; cut {cleaned.truncated}"
            )
        except (Dropped, PermanentError) as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        print(f"{name:<26} {len(raw) / 1e6:>5.1f} {time.perf_counter() - started:>8.2f}  {outcome}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
