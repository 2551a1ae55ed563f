"""`newsflow feeds add|list|pause|resume|remove|import|export` against the session's Redis and a local site."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demo.server import SiteServer
from pipeline import scheduling
from workers.cli import main
from workers.runtime import Runtime

pytestmark = pytest.mark.integration


def _list(capsys: pytest.CaptureFixture[str]) -> dict[str, dict]:
    capsys.readouterr()
    assert main(["feeds", "list", "--json"]) == 0
    return {f["url"]: f for f in json.loads(capsys.readouterr().out)}


def test_feeds_commands_round_trip(runtime: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A home page's announced feeds are added; pause, resume, export, remove and import behave."""
    (tmp_path / "index.html").write_text(
        '<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml">'
        '<link rel="alternate" type="application/atom+xml" href="/atom.xml"></head><body>home</body></html>'
    )
    (tmp_path / "rss.xml").write_text("<rss version='2.0'><channel><title>t</title></channel></rss>")
    with SiteServer(tmp_path) as srv:
        assert main(["feeds", "add", f"{srv.base}/", "--language", "vi"]) == 0
        # A feed URL given directly is added as it is.
        assert main(["feeds", "add", f"{srv.base}/rss.xml"]) == 0
    rss, atom = f"{srv.base}/rss.xml", f"{srv.base}/atom.xml"
    feeds = _list(capsys)
    assert set(feeds) == {rss, atom}
    assert feeds[rss]["health"] == "new" and feeds[rss]["next_poll"]

    assert main(["feeds", "pause", rss]) == 0
    assert _list(capsys)[rss]["health"] == "paused"
    assert main(["feeds", "resume", rss]) == 0
    assert _list(capsys)[rss]["health"] == "new"

    capsys.readouterr()
    assert main(["feeds", "export"]) == 0
    opml = tmp_path / "feeds.opml"
    opml.write_text(capsys.readouterr().out)
    assert main(["feeds", "remove", rss, atom]) == 0
    assert _list(capsys) == {}
    assert main(["feeds", "remove", rss]) == 1  # unknown now: said so, non-zero exit
    assert main(["feeds", "import", str(opml)]) == 0
    assert set(_list(capsys)) == {rss, atom}


def test_adding_a_registered_feed_again_keeps_what_it_does_not_set(
    runtime: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`feeds add` of a feed registered already keeps its site's name, language and interval
    unless given anew, and says whether anything changed."""
    (tmp_path / "rss.xml").write_text("<rss version='2.0'><channel><title>t</title></channel></rss>")
    with SiteServer(tmp_path) as srv:
        rss = f"{srv.base}/rss.xml"
        args = ["--site", "Valley Post", "--language", "vi", "--interval", "600"]
        assert main(["feeds", "add", "--no-discover", rss, *args]) == 0
        capsys.readouterr()
        assert main(["feeds", "add", rss]) == 0  # discovery finds the feed itself
        assert capsys.readouterr().out.startswith(f"already registered: {rss}")
        feed = scheduling.find_feed(runtime.state, rss)
        assert feed and (feed.site, feed.language, feed.interval) == ("Valley Post", "vi", 600)
        assert main(["feeds", "add", "--no-discover", rss, "--site", "Hill Post"]) == 0
        assert capsys.readouterr().out.startswith(f"updated {rss}")
        feed = scheduling.find_feed(runtime.state, rss)
        assert feed and (feed.site, feed.language, feed.interval) == ("Hill Post", "vi", 600)
    assert main(["feeds", "remove", rss]) == 0
