"""Operator commands: `status`, `dead-letters`, `reprocess`, `reindex`, `prune-raw`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from workers.cli.common import fail, open_runtime, open_search, print_feeds, timestamp

if TYPE_CHECKING:
    from pipeline.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    st = sub.add_parser("status", help="queues, dead letters, feeds, index size")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_status)

    dl = sub.add_parser("dead-letters", help="list dead letters, or replay them")
    dl.add_argument("--replay", action="store_true", help="queue every dead letter again")
    dl.add_argument("--json", action="store_true")
    dl.set_defaults(func=cmd_dead_letters)

    rp = sub.add_parser(
        "reprocess",
        help="queue every stored page for cleaning again (no fetching); workers (`newsflow run`) do the work",
    )
    rp.set_defaults(func=cmd_reprocess)

    ri = sub.add_parser("reindex", help="Elasticsearch: build a new index version and swap the alias")
    ri.set_defaults(func=cmd_reindex)

    pr = sub.add_parser("prune-raw", help="delete stored raw pages older than some days (the index keeps its articles)")
    pr.add_argument("--older-than", type=float, required=True, metavar="DAYS", help="age in days, at least 1")
    pr.set_defaults(func=cmd_prune_raw)


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline import scheduling

    with open_runtime(settings) as rt:
        stats = rt.state.stats()
        ledger = rt.state.work.counts()
        report: dict[str, Any] = {
            "redis": "embedded" if settings.embedded else "external",
            "search": "elasticsearch" if settings.elasticsearch_url else "sqlite",
            "queues": rt.state.broker.depths(),
            "in_flight": rt.state.broker.in_flight(),
            "work": {"open": ledger.total, "waiting": ledger.waiting, "running": ledger.running},
            "dead_letters": rt.state.dead.count(),
            "articles_indexed": rt.index_size(),
            "waiting_to_index": rt.state.pending.count(),
            "worker_restarts": stats.get("worker_restarts", 0),
            "redis_outages": stats.get("redis_outages", 0),
            "events": rt.state.counters.events(10),
            "stats": stats,
            "feeds": scheduling.feed_health(rt.state),
        }
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    print(f"redis: {report['redis']}   search: {report['search']}")
    print(
        "queues: " + "  ".join(f"{q}={n}" for q, n in report["queues"].items()) + f"  in flight={report['in_flight']}"
    )
    indexed = report["articles_indexed"]
    print(
        f"articles indexed: {'unknown (search backend does not answer)' if indexed is None else indexed}"
        f"   waiting to index: {report['waiting_to_index']}   dead letters: {report['dead_letters']}"
    )
    work = report["work"]
    print(f"work: {work['open']} open ({work['running']} running, {work['waiting']} waiting to retry)")
    print(f"worker restarts: {report['worker_restarts']}   Redis outages: {report['redis_outages']}")
    for event in report["events"][:5]:
        print(f"  {timestamp(event['at'])} {event['message']}")
    print("counters: " + ", ".join(f"{k}={v}" for k, v in sorted(stats.items())))
    print_feeds(report["feeds"])
    return 0


def cmd_dead_letters(settings: Settings, args: argparse.Namespace) -> int:
    with open_runtime(settings) as rt:
        if args.replay:
            return _replay(rt)
        items = [letter.to_dict() for letter in rt.state.dead.entries()]
        if args.json:
            print(json.dumps(items, indent=2, ensure_ascii=False))
        else:
            for item in items:
                when = timestamp(item["at"])
                print(f"{when} {item['task']} {json.dumps(item['args'], ensure_ascii=False)[:120]}")
                print(f"    {item['error'].strip().splitlines()[-1][:300] if item['error'].strip() else ''}")
            print(f"{len(items)} dead letter(s)")
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
    from workers.handoff import submit

    with open_runtime(settings) as rt:
        n = 0
        for art in rt.search.iter_all():
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
    if not settings.elasticsearch_url:
        print("newsflow: reindex is for Elasticsearch (set ELASTICSEARCH_URL); SQLite needs none", file=sys.stderr)
        return 2
    with open_search(settings) as search:
        backend: Any = search

        def progress(done: int, total: int) -> None:
            width = 40
            filled = int(width * done / total) if total else width
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
            sys.stderr.flush()

        result = backend.reindex(progress=progress)
        sys.stderr.write("\n")
        print(f"reindexed into {result.target}: {result.copied} document(s); alias swapped")
    return 0


def cmd_prune_raw(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.storage import open_raw_store

    if args.older_than < 1:
        return fail("--older-than must be at least 1 day: recent pages are re-cleaned as sites are learned")
    store = open_raw_store(settings)
    files, freed = store.prune(args.older_than * 86400)
    days = args.older_than
    print(f"pruned {files} raw page(s), {freed / 1e6:.1f} MB, older than {days:g} day(s), from {store.location}")
    return 0
