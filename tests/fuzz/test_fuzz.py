"""Short fuzz runs of the entry points that read outside input (the long run: bench/fuzz.py). Pure code.

Derandomized: every run tries the same cases, so a failure here is a regression, not luck.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import FeedCase, PageCase, any_urls, check_feed, check_page, check_url, feeds, pages

SHORT = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    # Pages are built around real ones (10 kB and up) and some inputs are huge on purpose.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


@SHORT
@given(pages())
def test_any_page_cleans_or_is_dropped_with_a_reason(case: PageCase) -> None:
    """Broken prologs, BOMs, NULs, cut tags, deep nesting, huge attributes, any charset: a bounded
    cleaned page or Dropped/PermanentError in one line, never a refusal to parse; a harmless
    prolog changes nothing."""
    check_page(case)


@SHORT
@given(feeds())
def test_any_feed_parses_or_is_refused_with_a_reason(case: FeedCase) -> None:
    """RSS, Atom, RSS 1.0, JSON Feed and sitemaps, broken: canonical entries or PermanentError in one line."""
    check_feed(case)


@settings(SHORT, max_examples=600)
@given(any_urls(), st.one_of(st.none(), any_urls()))
def test_any_url_canonicalises_to_itself_or_is_refused_with_a_reason(url: str, base: str | None) -> None:
    """An http(s) URL that canonicalises to itself (and whose host and site read), or InvalidURL in one line."""
    check_url(url, base)
