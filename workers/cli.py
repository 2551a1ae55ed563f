"""The `newsflow` command line."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline import ingest, scheduling
from pipeline.errors import NewsflowError
from pipeline.feeds import FeedConfig, load_feeds
from pipeline.models import as_utc
from pipeline.search.base import SearchQuery
from pipeline.settings import Settings
from workers.runtime import Runtime, set_runtime
from workers.service import index_size, print_summary, run_pipeline

log = logging.getLogger("newsflow")
DEFAULT_FEEDS = Path(__file__).resolve().parent.parent / "config" / "feeds.yaml"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        settings = Settings.load()
    except ValueError as exc:
        print(f"newsflow: bad settings: {exc}", file=sys.stderr)
        return 2
    try:
        return int(args.func(settings, args) or 0)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError, NewsflowError) as exc:
        print(f"newsflow: {exc}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="newsflow", description="News ingestion: feeds to clean, searchable articles.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(metavar="COMMAND")

    run = sub.add_parser("run", help="start Redis (if embedded), workers and the scheduler")
    run.add_argument("--feeds", type=Path, help="feeds file (YAML); default: settings, then config/feeds.yaml")
    run.add_argument("--once", action="store_true", help="poll every feed once, wait until all work is done, exit")
    run.add_argument("--timeout", type=float, default=1800.0, help="with --once: give up after this many seconds")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="serve the bundled demo sites, ingest them and search")
    demo.set_defaults(func=cmd_demo)

    s = sub.add_parser("search", help="full-text search of the index")
    s.add_argument("query", nargs="*", help="words to find (accents optional)")
    s.add_argument("--site")
    s.add_argument("--language")
    s.add_argument("--since", type=_date, help="YYYY-MM-DD or ISO 8601")
    s.add_argument("--until", type=_date, help="YYYY-MM-DD or ISO 8601")
    s.add_argument("--limit", type=int, default=10)
    s.add_argument("--all", action="store_true", help="show every member of a duplicate cluster")
    s.add_argument("--json", action="store_true", help="one JSON object")
    s.set_defaults(func=cmd_search)

    e = sub.add_parser("export", help="every indexed article as JSON lines on stdout")
    e.set_defaults(func=cmd_export)

    st = sub.add_parser("status", help="queues, dead letters, feeds, index size")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_status)

    ex = sub.add_parser("explain", help="the kept and removed blocks of one article, with reasons")
    ex.add_argument("url")
    ex.set_defaults(func=cmd_explain)

    dl = sub.add_parser("dead-letters", help="list dead letters, or replay them")
    dl.add_argument("--replay", action="store_true", help="queue every dead letter again")
    dl.add_argument("--json", action="store_true")
    dl.set_defaults(func=cmd_dead_letters)

    sv = sub.add_parser("serve", help="the HTTP search API, search page, /healthz and /metrics")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.set_defaults(func=cmd_serve)

    ri = sub.add_parser("reindex", help="Elasticsearch: build a new index version and swap the alias")
    ri.set_defaults(func=cmd_reindex)

    rp = sub.add_parser("reprocess", help="clean every stored page again (no fetching) and re-index")
    rp.set_defaults(func=cmd_reprocess)

    pr = sub.add_parser("prune-raw", help="delete stored raw pages older than some days (the index keeps its articles)")
    pr.add_argument("--older-than", type=float, required=True, metavar="DAYS", help="age in days, at least 1")
    pr.set_defaults(func=cmd_prune_raw)

    fd = sub.add_parser("feeds", help="the registered feeds")
    fsub = fd.add_subparsers(metavar="ACTION")
    fl = fsub.add_parser("list", help="every feed with its health and next poll")
    fl.add_argument("--json", action="store_true")
    fl.set_defaults(func=cmd_feeds_list)
    fload = fsub.add_parser("load", help="register the feeds of a YAML file")
    fload.add_argument("file", type=Path)
    fload.set_defaults(func=cmd_feeds_load)
    fadd = fsub.add_parser("add", help="register a feed, or the feeds a site's home page announces")
    fadd.add_argument("url", help="a feed URL, or a site's page with <link rel=alternate> feeds")
    fadd.add_argument("--site", help="site name shown in search (default: the host)")
    fadd.add_argument("--language", help="language of the feed's articles, e.g. vi")
    fadd.add_argument("--interval", type=float, help="fixed poll interval in seconds (default: adaptive)")
    fadd.add_argument("--no-discover", action="store_true", help="register the URL as given, without fetching it")
    fadd.set_defaults(func=cmd_feeds_add)
    for name, helptext, func in (
        ("remove", "forget a feed (by URL or id)", "cmd_feeds_remove"),
        ("pause", "stop polling a feed until resumed", "cmd_feeds_pause"),
        ("resume", "poll a paused feed again, at once", "cmd_feeds_resume"),
    ):
        fp = fsub.add_parser(name, help=helptext)
        fp.add_argument("feeds", nargs="+", metavar="FEED", help="feed URL or id")
        fp.set_defaults(func=globals()[func])
    fimp = fsub.add_parser("import", help="register the feeds of an OPML file (- for stdin)")
    fimp.add_argument("file")
    fimp.set_defaults(func=cmd_feeds_import)
    fexp = fsub.add_parser("export", help="every registered feed as OPML on stdout")
    fexp.set_defaults(func=cmd_feeds_export)
    return p


def _date(value: str) -> datetime:
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _runtime(settings: Settings) -> Runtime:
    rt = Runtime(settings)
    set_runtime(rt)
    return rt


# -- run --------------------------------------------------------------------------------------
def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    feeds_file = args.feeds or settings.feeds_file or DEFAULT_FEEDS
    feeds = load_feeds(feeds_file)
    rt = _runtime(settings)
    try:
        summary = run_pipeline(rt, feeds, once=args.once, timeout=args.timeout)
    finally:
        rt.close()
    if args.once:
        print_summary(summary)
    return 0


# -- demo -------------------------------------------------------------------------------------
def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from workers.demo import DEMO_QUERIES, SiteServer, demo_sites

    data_dir = settings.data_dir / "demo"
    shutil.rmtree(data_dir, ignore_errors=True)
    demo_settings = settings.model_copy(
        update={
            "data_dir": data_dir,
            "redis_url": None,
            "elasticsearch_url": settings.elasticsearch_url,
            "host_delay": 0.0,
            "allow_private_networks": "127.0.0.1/32",
        }
    )
    rt = _runtime(demo_settings)
    with ExitStack() as stack:
        stack.callback(rt.close)
        feeds = []
        for folder, meta in demo_sites():
            server = stack.enter_context(SiteServer(folder))
            feeds.append(
                FeedConfig(url=f"{server.base}/{meta['feed']}", site=meta["name"], language=meta.get("language"))
            )
            print(f"serving {meta['name']} at {server.base}")
        summary = run_pipeline(rt, feeds, once=True, timeout=600)
        print()
        print_summary(summary)
        for query in DEMO_QUERIES:
            print(f"\n$ newsflow search {query!r}")
            _print_page(rt.search.search(SearchQuery(text=query, limit=5)))
    print(f"\nData kept in {data_dir}; try: NEWSFLOW_DATA_DIR={data_dir} newsflow search ...")
    return 0


# -- search, export, explain ------------------------------------------------------------------
def cmd_search(settings: Settings, args: argparse.Namespace) -> int:
    rt = _runtime(settings)
    try:
        query = SearchQuery(
            text=" ".join(args.query),
            site=args.site,
            language=args.language,
            since=args.since,
            until=args.until,
            limit=args.limit,
            collapse=not args.all,
            facets=args.json,
        )
        page = rt.search.search(query)
        if args.json:
            print(json.dumps(page.to_json(), ensure_ascii=False, indent=2))
        else:
            _print_page(page)
    finally:
        rt.close()
    return 0


def _print_page(page: Any) -> None:
    import re

    print(f"{page.total} result(s)")
    for i, hit in enumerate(page.hits, 1):
        others = f"  (+{hit.cluster_size - 1} duplicate(s))" if hit.cluster_size > 1 else ""
        date = (hit.published_at or "")[:10]
        print(f"{i}. {hit.title}  [{hit.site}, {date}]{others}")
        print(f"   {hit.url}")
        snippet = re.sub(r"</?mark>", "*", hit.snippet)
        print(f"   {snippet[:300]}")


def cmd_prune_raw(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.storage import RawStore

    if args.older_than < 1:
        raise ValueError("--older-than must be at least 1 day: recent pages are re-cleaned as sites are learned")
    files, freed = RawStore(settings.raw_dir).prune(args.older_than * 86400)
    print(f"pruned {files} raw page(s), {freed / 1e6:.1f} MB, older than {args.older_than:g} day(s)")
    return 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    rt = _runtime(settings)
    try:
        for art in rt.search.iter_all():
            sys.stdout.write(json.dumps(art.to_doc(), ensure_ascii=False) + "\n")
    finally:
        rt.close()
    return 0


def cmd_explain(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.cleaning import clean_page
    from pipeline.models import article_id
    from pipeline.urls import canonicalize_url

    rt = _runtime(settings)
    try:
        url = canonicalize_url(args.url)
        art = rt.search.get(article_id(url))
        if art is None:
            match = next((a for a in rt.search.iter_all() if url in (a.url, a.canonical_url)), None)
            art = match
        if art is None or not art.raw_ref:
            print(f"newsflow: {url} is not in the index", file=sys.stderr)
            return 1
        bp = rt.boilerplate
        body = rt.raw_store.get(art.raw_ref)
        site = art.site

        def known(fps: list[str]) -> set[str]:
            return {fp for fp in fps if bp.count(site, fp) >= bp.k}

        cleaned = clean_page(body, art.url, boilerplate=known)
        print(f"{art.title}\n{art.canonical_url}  site={site}  cluster={art.cluster_id}")
        if art.duplicate_of:
            print(f"near-duplicate of {art.duplicate_of}")
        for b in cleaned.blocks:
            mark = "KEEP" if b.reason is None else f"DROP {b.reason}"
            print(f"[{mark:<17}] {b.fingerprint} {b.text[:160]}")
        for text in cleaned.teaser_texts:
            print(f"[{'DROP teaser':<17}] {text[:160]}")
        if cleaned.related:
            print("related links:")
            for link in cleaned.related:
                print(f"  {link.url}  {link.title[:80]}")
    finally:
        rt.close()
    return 0


# -- serve, reindex, reprocess ---------------------------------------------------------------
def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from workers.api import serve

    rt = _runtime(settings)
    print(f"newsflow: serving search on http://{args.host}:{args.port}/", file=sys.stderr)
    try:
        serve(rt, args.host, args.port)
    finally:
        rt.close()
    return 0


def cmd_reindex(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.elasticsearch_url:
        print("newsflow: reindex is for Elasticsearch (set ELASTICSEARCH_URL); SQLite needs none", file=sys.stderr)
        return 2
    rt = _runtime(settings)
    try:
        backend: Any = rt.search

        def progress(done: int, total: int) -> None:
            width = 40
            filled = int(width * done / total) if total else width
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
            sys.stderr.flush()

        result = backend.reindex(progress=progress)
        sys.stderr.write("\n")
        print(f"reindexed into {result.target}: {result.copied} document(s); alias swapped")
    finally:
        rt.close()
    return 0


def cmd_reprocess(settings: Settings, args: argparse.Namespace) -> int:
    """Queue every indexed article's stored raw page for cleaning again (workers do the work)."""
    from pipeline.ingest import PageRef
    from workers import tasks

    rt = _runtime(settings)
    try:
        n = 0
        for art in rt.search.iter_all():
            if not art.raw_ref:
                continue
            page = PageRef(
                url=art.url,
                final_url=art.canonical_url,
                ref=art.raw_ref,
                fetched_at=art.fetched_at.isoformat() if art.fetched_at else "",
                feed=art.feed,
                site=art.site,
                language=art.language,
                reason="reclean",
            )
            tasks.process.delay(page.to_msg())
            n += 1
        print(f"queued {n} stored page(s) for cleaning; workers pick them up (`newsflow status` shows progress)")
    finally:
        rt.close()
    return 0


# -- status, dead letters, feeds --------------------------------------------------------------
def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    from workers.supervisor import in_flight, queue_depths

    rt = _runtime(settings)
    try:
        stats = rt.state.stats()
        report = {
            "redis": "embedded" if settings.embedded else "external",
            "search": "elasticsearch" if settings.elasticsearch_url else "sqlite",
            "queues": queue_depths(rt.redis),
            "in_flight": in_flight(rt.redis),
            "dead_letters": rt.state.dead_count(),
            "articles_indexed": index_size(rt),
            "waiting_to_index": ingest.pending_count(rt.state),
            "stats": stats,
            "feeds": _feed_health(rt),
        }
        if args.json:
            print(json.dumps(report, indent=2, ensure_ascii=False))
            return 0
        print(f"redis: {report['redis']}   search: {report['search']}")
        print(
            "queues: "
            + "  ".join(f"{q}={n}" for q, n in report["queues"].items())
            + f"  in flight={report['in_flight']}"
        )
        indexed = report["articles_indexed"]
        print(
            f"articles indexed: {'unknown (search backend does not answer)' if indexed is None else indexed}"
            f"   waiting to index: {report['waiting_to_index']}   dead letters: {report['dead_letters']}"
        )
        print("counters: " + ", ".join(f"{k}={v}" for k, v in sorted(stats.items())))
        _print_feeds(report["feeds"])
    finally:
        rt.close()
    return 0


def _feed_health(rt: Runtime) -> list[dict[str, Any]]:
    return scheduling.feed_health(rt.state)


def _ts(value: Any) -> str | None:
    if value in (None, ""):
        return None
    return datetime.fromtimestamp(float(value), UTC).isoformat(timespec="seconds")


def _print_feeds(feeds: list[dict[str, Any]]) -> None:
    counts: dict[str, int] = {}
    for f in feeds:
        counts[f["health"]] = counts.get(f["health"], 0) + 1
    print(f"feeds: {len(feeds)}" + "".join(f"  {k}={v}" for k, v in sorted(counts.items())))
    for f in feeds:
        line = f"  [{f['health']}] {f['url']}  items={f['items_seen']}"
        if f.get("interval"):
            line += f"  every={f['interval']:.0f}s"
        line += f"  next={f['next_poll'] or '-'}  last new={f.get('last_new_item') or '-'}"
        print(line)
        if f["health"] == "failing":
            print(
                f"      failing since {f.get('failing_since')}, {f['consecutive_errors']} error(s) in a row;"
                f" last error: {(f['last_error'] or '')[:160]}"
            )


def cmd_dead_letters(settings: Settings, args: argparse.Namespace) -> int:
    rt = _runtime(settings)
    try:
        if args.replay:
            from workers.celery_app import app

            items = rt.state.pop_dead_letters()
            for item in items:
                app.send_task(item["task"], args=item["args"])
            print(f"queued {len(items)} dead letter(s) again")
            return 0
        items = rt.state.dead_letters()
        if args.json:
            print(json.dumps(items, indent=2, ensure_ascii=False))
        else:
            for item in items:
                when = _ts(item["at"])
                print(f"{when} {item['task']} {json.dumps(item['args'], ensure_ascii=False)[:120]}")
                print(f"    {item['error'].strip().splitlines()[-1][:300] if item['error'].strip() else ''}")
            print(f"{len(items)} dead letter(s)")
    finally:
        rt.close()
    return 0


def cmd_feeds_list(settings: Settings, args: argparse.Namespace) -> int:
    rt = _runtime(settings)
    try:
        feeds = _feed_health(rt)
        if args.json:
            print(json.dumps(feeds, indent=2))
        else:
            _print_feeds(feeds)
    finally:
        rt.close()
    return 0


def cmd_feeds_load(settings: Settings, args: argparse.Namespace) -> int:
    return _register(settings, load_feeds(args.file))


def _register(settings: Settings, feeds: list[FeedConfig]) -> int:
    rt = _runtime(settings)
    try:
        scheduling.register_feeds(rt.state, feeds, time.time())
        print(f"registered {len(feeds)} feed(s)")
    finally:
        rt.close()
    return 0


def cmd_feeds_add(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.feeds import find_feeds

    rt = _runtime(settings)
    try:
        if args.no_discover:
            urls = [args.url]
        else:
            urls = find_feeds(args.url, rt.fetcher, settings.max_feed_bytes, politeness=rt.politeness)
        if not urls:
            print(f"newsflow: {args.url} is not a feed and announces none; give the feed's URL", file=sys.stderr)
            return 1
        feeds = [FeedConfig(url=u, site=args.site, language=args.language, interval=args.interval) for u in urls]
        scheduling.register_feeds(rt.state, feeds, time.time())
        for feed in feeds:
            print(f"added {feed.url}  (id {feed.id})")
    finally:
        rt.close()
    return 0


def _feeds_action(settings: Settings, refs: list[str], action: Callable[[Runtime, str], bool], verb: str) -> int:
    rt = _runtime(settings)
    missing = 0
    try:
        for ref in refs:
            feed = scheduling.find_feed(rt.state, ref)
            if feed is None or not action(rt, feed.id):
                print(f"newsflow: no registered feed {ref!r}; see `newsflow feeds list`", file=sys.stderr)
                missing += 1
            else:
                print(f"{verb} {feed.url}")
    finally:
        rt.close()
    return 1 if missing else 0


def cmd_feeds_remove(settings: Settings, args: argparse.Namespace) -> int:
    return _feeds_action(settings, args.feeds, lambda rt, fid: scheduling.remove_feed(rt.state, fid), "removed")


def cmd_feeds_pause(settings: Settings, args: argparse.Namespace) -> int:
    return _feeds_action(settings, args.feeds, lambda rt, fid: scheduling.pause_feed(rt.state, fid), "paused")


def cmd_feeds_resume(settings: Settings, args: argparse.Namespace) -> int:
    return _feeds_action(
        settings, args.feeds, lambda rt, fid: scheduling.resume_feed(rt.state, fid, time.time()), "resumed"
    )


def cmd_feeds_import(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.opml import read_opml

    data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    return _register(settings, read_opml(data))


def cmd_feeds_export(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.opml import write_opml

    rt = _runtime(settings)
    try:
        feeds = sorted(scheduling.all_feeds(rt.state), key=lambda f: f.url)
        sys.stdout.buffer.write(write_opml(feeds))
        sys.stdout.flush()
    finally:
        rt.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
