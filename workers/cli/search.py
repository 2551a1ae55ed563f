"""`newsflow search`, `export` and `explain`: reading the index.

`search` and `export` open the index alone: no Redis, no Celery, so they answer at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from workers.cli.common import date, fail, open_runtime, open_search, print_page, whole_number

if TYPE_CHECKING:
    from pipeline.settings import Settings

MAX_LIMIT = 1000


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("search", help="full-text search of the index")
    s.add_argument(
        "query",
        nargs="*",
        metavar="QUERY",
        help='words to find (accents optional); "exact phrase", -word, a OR b, site:S, lang:L',
    )
    s.add_argument("--site", help="only this site: the name its feed gives it (`site`), else its host without www.")
    s.add_argument("--language", help="only this language code (en, vi, ...)")
    s.add_argument("--since", type=date, metavar="DATE", help="published on or after: YYYY-MM-DD or ISO 8601")
    s.add_argument("--until", type=date, metavar="DATE", help="published before: YYYY-MM-DD or ISO 8601")
    s.add_argument(
        "--limit", type=whole_number(1, MAX_LIMIT), default=10, metavar="N", help=f"hits to show, 1 to {MAX_LIMIT}"
    )
    s.add_argument("--all", action="store_true", help="show every member of a duplicate cluster")
    s.add_argument(
        "--sort", choices=["relevance", "date"], default="relevance", help="relevance (default) or newest first"
    )
    s.add_argument("--json", action="store_true", help="one JSON object")
    s.set_defaults(func=cmd_search)

    e = sub.add_parser("export", help="every indexed article as JSON lines on stdout")
    e.add_argument("--warc", type=Path, metavar="FILE", help="the stored raw pages as WARC (FILE.warc.gz: compressed)")
    e.set_defaults(func=cmd_export)

    ex = sub.add_parser("explain", help="the kept and removed blocks of one article, with reasons")
    ex.add_argument("url", metavar="URL", help="the article's address, as fetched or canonical")
    ex.set_defaults(func=cmd_explain)


def cmd_search(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.search.base import SearchQuery

    query = SearchQuery(
        text=" ".join(args.query),
        site=args.site,
        language=args.language,
        since=args.since,
        until=args.until,
        limit=args.limit,
        collapse=not args.all,
        facets=args.json,
        sort=args.sort,
    )
    with open_search(settings) as backend:
        page = backend.search(query)
    if args.json:
        print(json.dumps(page.to_json(), ensure_ascii=False, indent=2))
    else:
        print_page(page)
    return 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    if args.warc:
        from workers.cli.archive import export_warc

        return export_warc(settings, args.warc)
    with open_search(settings) as backend:
        for art in backend.iter_all():
            sys.stdout.write(json.dumps(art.to_doc(), ensure_ascii=False) + "\n")
    return 0


def cmd_explain(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.ingest import PageRef, ProcessDeps, process_page
    from pipeline.models import article_id
    from pipeline.urls import canonicalize_url
    from workers.cli.clean import print_page as print_cleaned

    with open_runtime(settings) as rt:
        url = canonicalize_url(args.url)
        art = rt.search.get(article_id(url))
        if art is None:
            art = next((a for a in rt.search.iter_all() if url in (a.url, a.canonical_url)), None)
        if art is None:
            return fail(f"{url} is not in the index")
        page = PageRef.for_article(art, rt.state)
        if page is None:
            return fail(f"{url} has no stored raw page to explain")
        # The same process step the workers ran, reading the site's statistics without learning.
        deps = ProcessDeps(store=rt.raw_store, boilerplate=rt.boilerplate, state=rt.state, learn=False)
        cleaned = process_page(page, deps).cleaned
        print(f"site={art.site}  cluster={art.cluster_id}")
        if art.duplicate_of:
            print(f"near-duplicate of {art.duplicate_of}")
        print_cleaned(cleaned, art.canonical_url)
    return 0
