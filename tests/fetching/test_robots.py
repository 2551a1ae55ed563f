"""robots.txt as newsflow reads it (protego, with our group rules) and the politeness key of a URL: pure."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.politeness import agent_token, host_key, parse_robots
from tests.fetching.samples import ROBOTS


def test_robots_rules_longest_match_wins() -> None:
    """RFC 9309 matching: the longest rule wins, Allow wins ties, `*` and `$` work, other agents' groups ignored."""
    rules = parse_robots(ROBOTS, "newsflow")
    assert not rules.allowed("http://x/private/a.html")
    assert rules.allowed("http://x/private/open/a.html")
    assert not rules.allowed("http://x/docs/file.pdf")
    assert rules.allowed("http://x/docs/file.pdf?page=2")
    assert rules.allowed("http://x/news/a.html")
    assert rules.crawl_delay == 2
    assert not parse_robots(ROBOTS, "otherbot").allowed("http://x/news/a.html")


def test_robots_group_for_our_agent_beats_the_star_group() -> None:
    """A group naming newsflow is the one obeyed, even if the `*` group is stricter."""
    rules = parse_robots("User-agent: *\nDisallow: /\n\nUser-agent: newsflow\nDisallow: /tmp/\n", "newsflow")
    assert rules.allowed("http://x/news/a.html") and not rules.allowed("http://x/tmp/a")


@pytest.mark.parametrize(
    "group",
    ["news", "News", "newsf", "newsflow-beta", "newsflowbot", "flow", "User agent: news", "useragent news"],
)
def test_robots_group_of_another_agent_never_governs_newsflow(group: str) -> None:
    """A group whose name starts, extends or ends our token (`news`, `newsflowbot`) is another crawler's:
    newsflow obeys the `*` group (RFC 9309 matches the product token exactly), however the line is spelled."""
    line = group if " " in group else f"User-agent: {group}"
    rules = parse_robots(f"{line}\nDisallow: /\nCrawl-delay: 30\n\nUser-agent: *\nDisallow: /private/\n", "newsflow")
    assert rules.allowed("http://x/news/a.html")
    assert not rules.allowed("http://x/private/a.html")
    assert rules.crawl_delay is None


@pytest.mark.parametrize("line", ["User-agent: newsflow", "user-agent: NewsFlow/0.2", "User-agent: newsflow # us"])
def test_robots_group_naming_our_token_in_any_case_or_with_a_version_is_ours(line: str) -> None:
    """`NewsFlow/0.2` names the product token newsflow: its group governs us, not `*`."""
    rules = parse_robots(f"User-agent: *\nDisallow: /\n\n{line}\nDisallow: /tmp/\nCrawl-delay: 3\n", "newsflow")
    assert rules.allowed("http://x/a.html") and not rules.allowed("http://x/tmp/a.html")
    assert rules.crawl_delay == 3


def test_robots_percent_encoding_matches_both_ways() -> None:
    """/caf%C3%A9 in robots.txt blocks /café, and the reverse."""
    assert not parse_robots("User-agent: *\nDisallow: /caf%C3%A9\n", "newsflow").allowed("http://x/café/menu")
    assert not parse_robots("User-agent: *\nDisallow: /café\n", "newsflow").allowed("http://x/caf%C3%A9/menu")


def test_agent_token_is_the_product_token() -> None:
    """The token matched against groups is the User-Agent's product name, lower-cased."""
    assert agent_token("NewsFlow/0.1 (+https://github.com/newsflow/newsflow)") == "newsflow"


@given(st.text(max_size=500), st.text(alphabet="/abc*$?=.", max_size=30))
def test_robots_parsing_never_raises(text: str, path: str) -> None:
    """Any robots.txt text parses, and any path gets a verdict."""
    parse_robots(text, "newsflow").allowed("http://x/" + path)


def test_host_key_scopes_scheme_host_and_port() -> None:
    """robots.txt and limits are per scheme, host and port, default ports made explicit."""
    assert host_key("http://Example.com/a") == "http://example.com:80"
    assert host_key("https://example.com:8443/a") == "https://example.com:8443"
