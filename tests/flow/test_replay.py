"""Dead letters replayed: failed work goes back through the work ledger, none is lost on the way."""

from __future__ import annotations

import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from demo.server import SiteServer
from pipeline.stages import fetch_work
from tests.faults import harness
from tests.support import SITES
from workers import tasks
from workers.handoff import submit
from workers.runtime import Runtime
from workers.service import wait_until_idle
from workers.supervisor import WorkerGroup

pytestmark = pytest.mark.integration
PAGE = SITES / "courier/news/2025/03/orchard-growers-count-frost-damage.html"


def test_dead_letters_replay_through_the_command_and_land(runtime: Runtime, workers: WorkerGroup) -> None:
    """A page that answered 404 is dead-lettered; once it is back, `newsflow dead-letters --replay` queues
    it again in a fresh process (no crash), the letter leaves the list, and the article is indexed."""
    state = {"status": 404}

    def flaky(h: BaseHTTPRequestHandler) -> None:
        body = PAGE.read_bytes() if state["status"] == 200 else b"gone"
        h.send_response(state["status"])
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    with SiteServer(SITES / "courier", routes={"/flaky.html": flaky}) as server:
        url = f"{server.base}/flaky.html"
        submit(runtime.state, [fetch_work(url)])
        assert wait_until_idle(runtime, workers, 60)
        letters = runtime.state.dead.entries()
        assert [letter.args[0] for letter in letters] == [url]
        assert "404" in letters[0].error
        state["status"] = 200
        env = harness.base_env(Path(runtime.settings.data_dir), REDIS_URL=runtime.redis_url)
        replay = subprocess.run(
            [sys.executable, "-m", "workers.cli", "dead-letters", "--replay"], env=env, capture_output=True, text=True
        )
        assert replay.returncode == 0, replay.stderr
        assert "queued 1 dead letter(s) again" in replay.stdout
        assert runtime.state.dead.count() == 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not [a for a in runtime.search.iter_all() if a.url == url]:
            wait_until_idle(runtime, workers, 10)
        assert [a.title for a in runtime.search.iter_all() if a.url == url] == ["Orchard growers count frost damage"]


def test_an_index_rejection_is_a_dead_letter_that_replays(runtime: Runtime, workers: WorkerGroup) -> None:
    """A document the backend refuses is dead-lettered as `index.rejected` work; replaying it offers the
    same document to the backend again (refused again here, so it is a dead letter once more)."""
    runtime.state.commit(index={"not-an-article": '{"title": "no id, no url"}'})
    tasks.index.delay()
    assert wait_until_idle(runtime, workers, 30)
    [letter] = runtime.state.dead.entries()
    assert letter.task == "index.rejected" and letter.work is not None
    assert letter.work.kwargs == {"doc_id": "not-an-article"}
    assert runtime.state.pending.count() == 0
    replayed = runtime.state.dead.take_for_replay(time.time())
    submit(runtime.state, [r.work for r in replayed if r.work is not None])
    assert wait_until_idle(runtime, workers, 30)
    [again] = runtime.state.dead.entries()
    assert again.task == "index.rejected" and "invalid document" in again.error
