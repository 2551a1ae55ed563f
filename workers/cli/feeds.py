"""`newsflow feeds list|load|add|remove|pause|resume|import|export`: the registered feeds."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from workers.cli.common import fail, open_runtime

if TYPE_CHECKING:
    from pipeline.feeds import FeedConfig
    from pipeline.settings import Settings
    from workers.runtime import Runtime


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fd = sub.add_parser("feeds", help="the registered feeds")
    fsub = fd.add_subparsers(metavar="ACTION")
    fl = fsub.add_parser("list", help="every feed with its health and next poll")
    fl.add_argument("--json", action="store_true", help="the feeds as one JSON object")
    fl.set_defaults(func=cmd_list)
    fload = fsub.add_parser("load", help="register the feeds of a YAML file")
    fload.add_argument("file", type=Path, metavar="FILE", help="a feeds file (YAML), as `run --feeds` reads")
    fload.set_defaults(func=cmd_load)
    fadd = fsub.add_parser(
        "add",
        help="register a feed, or the feeds a site's home page announces",
        description=(
            "Register a feed, or the feeds a site's home page announces. A feed registered already keeps its "
            "schedule, and its site name, language and interval unless given here."
        ),
    )
    fadd.add_argument("url", help="a feed URL, or a site's page with <link rel=alternate> feeds")
    fadd.add_argument("--site", help="site name shown in search (default: the host)")
    fadd.add_argument("--language", help="language of the feed's articles, e.g. vi")
    fadd.add_argument("--interval", type=float, help="fixed poll interval in seconds (default: adaptive)")
    fadd.add_argument("--no-discover", action="store_true", help="register the URL as given, without fetching it")
    fadd.set_defaults(func=cmd_add)
    for name, helptext, func in (
        ("remove", "forget a feed (by URL or id)", cmd_remove),
        ("pause", "stop polling a feed until resumed", cmd_pause),
        ("resume", "poll a paused feed again, at once", cmd_resume),
    ):
        fp = fsub.add_parser(name, help=helptext)
        fp.add_argument("feeds", nargs="+", metavar="FEED", help="feed URL or id")
        fp.set_defaults(func=func)
    fimp = fsub.add_parser("import", help="register the feeds of an OPML file (- for stdin)")
    fimp.add_argument("file", metavar="OPML", help="an OPML file, or - for standard input")
    fimp.set_defaults(func=cmd_import)
    fexp = fsub.add_parser("export", help="every registered feed as OPML on stdout")
    fexp.set_defaults(func=cmd_export)


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline import scheduling

    with open_runtime(settings) as rt:
        feeds = scheduling.feed_health(rt.state)
    if args.json:
        print(json.dumps(feeds, indent=2))
    else:
        from workers.cli.display import show_feeds

        show_feeds(feeds)
    return 0


def cmd_load(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.feeds import load_feeds

    return _register(settings, load_feeds(args.file))


def _register(settings: Settings, feeds: list[FeedConfig]) -> int:
    from pipeline import scheduling

    with open_runtime(settings) as rt:
        scheduling.register_feeds(rt.state, feeds, time.time())
    print(f"registered {len(feeds)} feed(s)")
    return 0


def cmd_add(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline import scheduling
    from pipeline.feeds import FeedConfig, find_feeds

    with open_runtime(settings) as rt:
        urls = [args.url] if args.no_discover else find_feeds(args.url, rt.polite_fetcher, settings.max_feed_bytes)
        if not urls:
            return fail(f"{args.url} is not a feed and announces none; give the feed's URL")
        feeds, said = [], []
        for url in urls:
            feed = FeedConfig(url=url, site=args.site, language=args.language, interval=args.interval)
            known = scheduling.get_feed(rt.state, feed.id)
            if known is not None:
                # A feed registered already keeps what this command does not set (its site's
                # name above all: articles, `--site` and the facets go by it).
                given = {
                    k: v
                    for k, v in (("site", args.site), ("language", args.language), ("interval", args.interval))
                    if v is not None
                }
                feed = known.model_copy(update={**given, "address": feed.address})
                verb = "updated" if feed != known else "already registered:"
            else:
                verb = "added"
            feeds.append(feed)
            said.append(f"{verb} {feed.url}  (id {feed.id})")
        scheduling.register_feeds(rt.state, feeds, time.time())
    print("\n".join(said))
    return 0


def _each_feed(settings: Settings, refs: list[str], action: Callable[[Runtime, str], bool], verb: str) -> int:
    from pipeline import scheduling

    missing = 0
    with open_runtime(settings) as rt:
        for ref in refs:
            feed = scheduling.find_feed(rt.state, ref)
            if feed is None or not action(rt, feed.id):
                fail(f"no registered feed {ref!r}; see `newsflow feeds list`")
                missing += 1
            else:
                print(f"{verb} {feed.url}")
    return 1 if missing else 0


def cmd_remove(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline import scheduling

    return _each_feed(settings, args.feeds, lambda rt, fid: scheduling.remove_feed(rt.state, fid), "removed")


def cmd_pause(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline import scheduling

    return _each_feed(settings, args.feeds, lambda rt, fid: scheduling.pause_feed(rt.state, fid), "paused")


def cmd_resume(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline import scheduling

    return _each_feed(
        settings, args.feeds, lambda rt, fid: scheduling.resume_feed(rt.state, fid, time.time()), "resumed"
    )


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.opml import read_opml

    data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    return _register(settings, read_opml(data))


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline import scheduling
    from pipeline.opml import write_opml

    with open_runtime(settings) as rt:
        feeds = sorted(scheduling.all_feeds(rt.state), key=lambda f: f.url)
    sys.stdout.buffer.write(write_opml(feeds))
    sys.stdout.flush()
    return 0
