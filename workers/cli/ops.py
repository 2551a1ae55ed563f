"""Operator commands: `status`, `dead-letters`, `reprocess`, `reindex`, `prune`, `prune-raw`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from workers.cli.common import open_runtime, open_search

if TYPE_CHECKING:
    from pipeline.settings import Settings
    from workers.runtime import Runtime


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    st = sub.add_parser("status", help="queues, dead letters, feeds, index size")
    st.add_argument("--json", action="store_true", help="everything as one JSON object")
    st.add_argument("--watch", action="store_true", help="refresh in place every 2 s until Ctrl-C")
    st.set_defaults(func=cmd_status)

    dl = sub.add_parser("dead-letters", help="list dead letters, or replay them")
    dl.add_argument("--replay", action="store_true", help="queue every dead letter again")
    dl.add_argument("--json", action="store_true", help="the dead letters as one JSON object")
    dl.set_defaults(func=cmd_dead_letters)

    rp = sub.add_parser(
        "reprocess",
        help="queue every stored page for cleaning again (no fetching); workers (`newsflow run`) do the work",
    )
    rp.set_defaults(func=cmd_reprocess)

    ri = sub.add_parser(
        "reindex",
        help="embedded: build the Tantivy index from the live one (SQLite before the upgrade) and switch to it;"
        " Elasticsearch: rebuild each month's index beside the live one and swap its aliases",
    )
    ri.set_defaults(func=cmd_reindex)

    pn = sub.add_parser(
        "prune",
        help="delete indexed articles older than some days (by publication date, else fetch date):"
        " on Elasticsearch whole monthly indices, then the older articles of the month at the cutoff",
    )
    _older_than(pn)
    pn.add_argument("--dry-run", action="store_true", help="say what would be removed, and remove nothing")
    pn.set_defaults(func=cmd_prune)

    pr = sub.add_parser("prune-raw", help="delete stored raw pages older than some days (the index keeps its articles)")
    _older_than(pr)
    pr.set_defaults(func=cmd_prune_raw)


def _days(value: str) -> float:
    """An argparse type: an age in days, at least 1 (recent pages are re-cleaned as sites are learned)."""
    try:
        days = float(value)
    except ValueError:
        days = 0.0
    if not 1 <= days < 1e6:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of days from 1")
    return days


def _older_than(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--older-than", type=_days, required=True, metavar="DAYS", help="age in days, at least 1")


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    from workers.cli.display import show_status, watch_status

    with open_runtime(settings) as rt:
        if args.watch:
            return watch_status(lambda: status_report(rt))
        report = status_report(rt)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        show_status(report)
    return 0


def status_report(rt: Runtime) -> dict[str, Any]:
    """Everything `status` shows (and `status --json` prints), read once."""
    from pipeline import scheduling
    from pipeline.search import backend_name

    settings = rt.settings
    stats = rt.state.stats()
    ledger = rt.state.work.counts()
    return {
        "redis": "embedded" if settings.embedded else "external",
        "search": backend_name(settings),
        "queues": rt.state.broker.depths(),
        "in_flight": rt.state.broker.in_flight(),
        "work": {"open": ledger.total, "waiting": ledger.waiting, "running": ledger.running},
        "dead_letters": rt.state.dead.count(),
        "articles_indexed": rt.index_size(),
        "waiting_to_index": rt.state.pending.count(),
        "worker_restarts": stats.get("worker_restarts", 0),
        "redis_outages": stats.get("redis_outages", 0),
        "redis_memory_bytes": rt.state.used_memory(),
        "seen_urls": rt.state.seen.count(),
        "drift": rt.state.drift.alarms(),
        "events": rt.state.counters.events(10),
        "stats": stats,
        "feeds": scheduling.feed_health(rt.state),
        "imports": [i for i in rt.state.imports.all() if i.get("state") != "done"],
    }


def cmd_dead_letters(settings: Settings, args: argparse.Namespace) -> int:
    with open_runtime(settings) as rt:
        if args.replay:
            return _replay(rt)
        items = [letter.to_dict() for letter in rt.state.dead.entries()]
    if args.json:
        print(json.dumps(items, indent=2, ensure_ascii=False))
    else:
        from workers.cli.display import show_dead_letters

        show_dead_letters(items)
    return 0


def _replay(rt: Any) -> int:
    """Move every dead letter back into the work ledger (one script per batch, so none is lost
    however this process ends), then publish them."""

    from workers.handoff import publish

    total = stale = 0
    while letters := rt.state.dead.take_for_replay(time.time()):
        publish(rt.state, [letter.work for letter in letters if letter.work is not None])
        total += len(letters)
        stale += sum(1 for letter in letters if letter.work is None)
    if stale:
        print(f"newsflow: {stale} dead letter(s) of an older version carry no work to replay; dropped", file=sys.stderr)
    print(
        f"queued {total - stale} dead letter(s) again; workers (`newsflow run`, or your worker hosts) take them,"
        " and what they do not take now stays in the work ledger"
    )
    return 0


def cmd_reprocess(settings: Settings, args: argparse.Namespace) -> int:
    """Queue every indexed article's stored raw page for cleaning again (workers do the work)."""
    from pipeline.ingest import PageRef
    from workers.cli.display import progress_bars
    from workers.handoff import submit

    with open_runtime(settings) as rt, progress_bars() as bars:
        bar = bars.add_task("pages queued", total=rt.index_size())
        n = 0
        for art in rt.search.iter_all():
            bars.advance(bar)
            page = PageRef.for_article(art, rt.state)
            if page is None:
                continue
            page.reason = "reclean"
            submit(rt.state, [page.work()])
            n += 1
    print(
        f"queued {n} stored page(s) for cleaning again. They wait in the `process` queue until workers"
        " run: start `newsflow run` (or your `celery -A workers worker` hosts) to clean and re-index them;"
        " `newsflow status` shows the queue."
    )
    return 0


def cmd_reindex(settings: Settings, args: argparse.Namespace) -> int:
    from workers.cli.display import progress_bars

    if not settings.elasticsearch_url:
        if settings.search_backend == "sqlite":
            print(
                "newsflow: reindex builds the Tantivy index; NEWSFLOW_SEARCH_BACKEND=sqlite needs none", file=sys.stderr
            )
            return 2
        from pipeline.search.migrate import rebuild_embedded

        with progress_bars() as bars:
            bar = bars.add_task("articles", total=None)
            done = rebuild_embedded(settings, lambda n, total: bars.update(bar, completed=n, total=total))
        late = f" (+{done.caught_up} written meanwhile)" if done.caught_up else ""
        print(f"reindexed {done.source} into {done.target}: {done.copied} article(s){late}; switched to it")
        if done.previous:
            print(f"the previous index is kept at {done.previous}; delete it when you like")
        print("restart `newsflow serve` and `newsflow run` if they are running: they read the old index until then")
        return 0

    with open_search(settings) as search, progress_bars() as bars:
        backend: Any = search
        bar = bars.add_task("documents", total=None)

        def progress(done: int, total: int) -> None:
            bars.update(bar, completed=done, total=total)

        result = backend.reindex(progress=progress)
    for month in result.months:
        late = f" (+{month.caught_up} written meanwhile)" if month.caught_up else ""
        sources = ", ".join(month.sources) or "nothing"
        print(f"{month.month}: {month.target} from {sources}, {month.copied} document(s){late}")
    print(f"reindexed {len(result.months)} month(s), {result.copied} document(s); the aliases moved month by month")
    for name in result.retired:
        print(f"{name}, the single index from before the monthly ones, is out of the alias; delete it when you like")
    if result.rejected:
        print(f"newsflow: {len(result.rejected)} document(s) were refused and not copied", file=sys.stderr)
    return 0


def cmd_prune(settings: Settings, args: argparse.Namespace) -> int:
    """Delete the articles dated before the cutoff from the index (whole months on Elasticsearch)."""
    from datetime import UTC, datetime, timedelta

    before = datetime.now(UTC) - timedelta(days=args.older_than)
    with open_search(settings) as search:
        pruned = search.prune(before, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    print(
        f"{verb} {pruned.articles} article(s) published (or, undated, fetched) before"
        f" {before:%Y-%m-%d %H:%M} UTC, {args.older_than:g} day(s) ago"
    )
    for name, n in pruned.dropped.items():
        print(f"  {name}: the whole index, {n} article(s)")
    for name, n in pruned.deleted.items():
        print(f"  {name}: {n} article(s)")
    print("their raw pages stay in the raw store: `newsflow prune-raw --older-than DAYS` deletes those")
    return 0


def cmd_prune_raw(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.storage import open_raw_store

    store = open_raw_store(settings)
    files, freed = store.prune(args.older_than * 86400)
    days = args.older_than
    print(f"pruned {files} raw page(s), {freed / 1e6:.1f} MB, older than {days:g} day(s), from {store.location}")
    return 0
