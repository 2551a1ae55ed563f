"""`newsflow run` and `newsflow demo`: the pipeline itself (orchestrated by workers.service)."""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import threading
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from workers.cli.common import DEFAULT_FEEDS, open_runtime, print_page

if TYPE_CHECKING:
    from pipeline.settings import Settings
    from workers.runtime import Runtime


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser(
        "run",
        help="start Redis (if embedded), workers and the scheduler",
        description=(
            "Start Redis (if embedded), workers and the scheduler. The feeds file's feeds are registered (added, "
            "or their settings updated); every registered feed that is not paused is polled, those added by "
            "`feeds add`, `feeds import` or an earlier file too. A feed taken out of the file stays registered "
            "until `newsflow feeds remove`."
        ),
    )
    run.add_argument(
        "--feeds", type=Path, metavar="FILE", help="feeds file (YAML); default: settings, then config/feeds.yaml"
    )
    run.add_argument("--once", action="store_true", help="poll every feed once, wait until all work is done, exit")
    run.add_argument(
        "--timeout", type=float, default=1800.0, metavar="SECONDS", help="with --once: give up after this many seconds"
    )
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser(
        "demo",
        help="serve the bundled demo sites, ingest them and search",
        description=(
            "Serve the bundled demo sites on 127.0.0.1, ingest them and search. The demo starts from an empty "
            "directory of its own, `<data dir>/demo`, with its own embedded Redis whatever REDIS_URL says. "
            "Its articles go to the embedded index there, or, with ELASTICSEARCH_URL set, to an index of their "
            "own in that cluster, `<elasticsearch_index>-demo`, beside yours. One demo at a time: a "
            "second one, or one started while a command still uses the last demo's data, stops with exit "
            "code 75 and removes nothing."
        ),
    )
    demo.set_defaults(func=cmd_demo)


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.feeds import load_feeds
    from workers.service import print_summary, run_pipeline

    feeds = load_feeds(args.feeds or settings.feeds_file or DEFAULT_FEEDS)
    with open_runtime(settings) as rt:
        rt.raw_store.check()  # a missing bucket stops the run here, not every page later
        if not args.once:
            run_pipeline(rt, feeds, once=False)
            return 0
        with RunProgress(rt) as progress:
            summary = run_pipeline(rt, feeds, once=True, timeout=args.timeout, on_start=progress.start)
    print_summary(summary)
    if not summary["feeds"]:
        print(
            "newsflow: no feed to poll: list feeds in a feeds file (`--feeds FILE`, see "
            "config/feeds.yaml), or register one with `newsflow feeds add URL`",
            file=sys.stderr,
        )
    return 0


class RunProgress:
    """Bars for `run --once` on a terminal: feeds polled, pages fetched, cleaned and indexed of
    the totals known so far, read from the state layer's counters every half second.

    Each stage's total is what the stage before it handed on (URLs queued, pages fetched,
    pages cleaned and re-cleaned), so a bar's total grows while feeds reveal new articles."""

    STEPS = ("feeds polled", "fetched", "cleaned", "indexed")

    def __init__(self, rt: Runtime, every: float = 0.5) -> None:
        self.rt = rt
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._before: dict[str, int] = {}

    def __enter__(self) -> RunProgress:
        from workers.cli.display import progress_bars

        self._bars_cm = progress_bars()
        self.bars = self._bars_cm.__enter__()
        return self

    def start(self) -> None:
        """Called once the feeds are registered, the workers started; nothing off a terminal."""
        from pipeline import scheduling
        from workers.cli.display import progress_on_stderr

        if not progress_on_stderr():
            return

        state = self.rt.state
        self._before = state.stats()
        self.feeds = sum(1 for f in scheduling.all_feeds(state) if not state.feed_state(f.id).get("paused"))
        self.ids = [self.bars.add_task(name, total=None) for name in self.STEPS]
        self._thread = threading.Thread(target=self._loop, name="run-progress", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.update()
            except Exception:  # a bar that misses a beat (Redis away) must not stop the run
                continue

    def update(self) -> None:
        now = self.rt.state.stats()
        keys = ("feeds_polled", "urls_queued", "fetched", "cleaned", "recleaned", "indexed")
        polled, queued, fetched, cleaned, recleaned, indexed = (now.get(k, 0) - self._before.get(k, 0) for k in keys)
        # Index writes of the articles handed on: fresh pages and the pages cleaned again as the
        # site's boilerplate was learned. Only counters: the search backend is not asked (a
        # backend that does not answer must not hold up, or mark, the run).
        steps = ((polled, self.feeds), (fetched, queued), (cleaned, fetched), (indexed, cleaned + recleaned))
        for task, (done, total) in zip(self.ids, steps, strict=True):
            self.bars.update(task, completed=done, total=max(total, done))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            with suppress(Exception):
                self.update()
        self._bars_cm.__exit__(None, None, None)


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from workers.runlock import DemoDirectory

    with DemoDirectory(settings.data_dir / "demo") as data_dir:
        return _demo(settings, data_dir)


def _demo(settings: Settings, data_dir: Path) -> int:
    from contextlib import ExitStack

    from demo import DEMO_QUERIES, demo_sites
    from demo.server import SiteServer
    from pipeline.feeds import FeedConfig
    from pipeline.search.base import SearchQuery
    from workers.service import print_summary, run_pipeline

    demo_settings = settings.model_copy(
        update={
            "data_dir": data_dir,
            "redis_url": None,
            "redis_cluster": False,
            "broker_url": None,
            # With a cluster, an index of its own beside yours: never your articles' alias.
            "elasticsearch_index": f"{settings.elasticsearch_index}-demo",
            "host_delay": 0.0,
            "allow_private_networks": "127.0.0.1/32",
        }
    )
    with open_runtime(demo_settings) as rt, ExitStack() as stack:
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
            print_page(rt.search.search(SearchQuery(text=query, limit=5)))
    index = f"NEWSFLOW_ELASTICSEARCH_INDEX={shlex.quote(demo_settings.elasticsearch_index)} "
    where = f"NEWSFLOW_DATA_DIR={shlex.quote(str(data_dir))} {index if settings.elasticsearch_url else ''}"
    again = f"{where}{own_command()} search {shlex.quote(DEMO_QUERIES[0])}"
    print(f"\nData kept in {data_dir}; search it again with:\n  {again}")
    return 0


def own_command() -> str:
    """How a shell here runs this newsflow: its bare name when PATH finds this very command,
    else its path (`.venv/bin/newsflow` from the checkout), else `python -m workers.cli`."""
    script = Path(sys.executable).with_name("newsflow")
    if not script.is_file():
        return f"{shlex.quote(sys.executable)} -m workers.cli"
    found = shutil.which("newsflow")
    if found and Path(found).resolve() == script.resolve():
        return "newsflow"
    try:
        return shlex.quote(str(script.relative_to(Path.cwd())))
    except ValueError:
        return shlex.quote(str(script))
