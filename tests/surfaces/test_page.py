"""The search page in a real browser: headless Chromium (Debian's) driven by Playwright.

Set NEWSFLOW_SCREENSHOT=docs/search-page.png to refresh the README's picture of the page.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.surfaces.server import ApiServer
from workers.runtime import Runtime

pytestmark = pytest.mark.integration
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency of newsflow")
expect = playwright_api.expect


@pytest.fixture(scope="module")
def base(api_runtime: Runtime) -> Iterator[str]:
    with ApiServer(api_runtime) as server:
        yield server.base


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    with playwright_api.sync_playwright() as pw:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        browser = pw.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="en-GB")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"


def api(base: str, **params: str) -> dict[str, Any]:
    return httpx.get(f"{base}/api/search", params=params, timeout=10).json()


def test_a_shared_address_shows_results_facets_timeline_and_copies(page: Any, base: str, tmp_path: Path) -> None:
    """Opening /?q=flood shows highlighted results, site and language facets with counts, a
    bar per day whose counts match the API's, and a story's copies behind "+N duplicates"."""
    answer = api(base, q="flood")
    page.goto(f"{base}/?q=flood")
    hits = page.locator("#results .hit")
    expect(hits).to_have_count(len(answer["hits"]))
    expect(page.locator("input[name=q]")).to_have_value("flood")
    expect(hits.first.locator("h3 mark").first).to_have_text(re.compile("^flood$", re.I))
    assert hits.locator(".snippet mark").count() >= len(answer["hits"])

    sites = page.locator('#facets .facet[data-field="site"]')
    expect(sites).to_have_count(len(answer["facets"]["site"]))
    shown = {
        sites.nth(i).get_attribute("data-value"): sites.nth(i).locator(".count").inner_text()
        for i in range(sites.count())
    }
    assert shown == {site: str(n) for site, n in answer["facets"]["site"].items()}
    expect(page.locator('#facets .facet[data-field="language"]')).to_have_count(len(answer["facets"]["language"]))

    bars = page.locator("#timeline rect.bar")
    expect(bars.first).to_be_visible()
    per_day = {
        bars.nth(i).get_attribute("data-day"): int(bars.nth(i).get_attribute("data-count")) for i in range(bars.count())
    }
    assert {day: n for day, n in per_day.items() if n} == answer["facets"]["published"]

    story = hits.filter(has=page.locator(".dups"))
    expect(story).to_have_count(1)
    expect(story.locator(".dups")).to_have_text("+1 duplicate")
    story.locator(".dups").click()
    copies = story.locator(".copies li")
    expect(copies).to_have_count(1)
    expect(copies.first).to_contain_text("valleytimes.example")

    shot = Path(os.environ.get("NEWSFLOW_SCREENSHOT") or tmp_path / "search-page.png")
    page.evaluate("window.scrollTo(0, 0)")  # the click scrolled the story into view
    page.mouse.move(0, 0)
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one


def test_a_facet_click_narrows_the_results_and_the_address_keeps_it(page: Any, base: str) -> None:
    """Clicking a site narrows the results; the address says so, a reload keeps it, the chip undoes it."""
    everything = api(base, q="flood")["total"]
    narrowed = api(base, q="flood", site="valleytimes.example")["total"]
    assert 0 < narrowed < everything
    page.goto(f"{base}/?q=flood")
    expect(page.locator("#results .hit")).to_have_count(min(10, everything))
    page.locator('#facets .facet[data-field="site"][data-value="valleytimes.example"]').click()
    page.wait_for_url(re.compile(r"[?&]site=valleytimes\.example"))
    assert "q=flood" in page.url
    hits = page.locator("#results .hit")
    expect(hits).to_have_count(narrowed)
    assert set(hits.locator(".meta .site").all_inner_texts()) == {"valleytimes.example"}
    expect(page.locator("#summary strong").first).to_have_text(str(narrowed))

    page.reload()
    expect(hits).to_have_count(narrowed)
    pressed = page.locator('#facets .facet[data-value="valleytimes.example"]')
    expect(pressed).to_have_attribute("aria-pressed", "true")
    chip = page.locator("#filters .chip")
    expect(chip).to_contain_text("valleytimes.example")

    chip.click()
    page.wait_for_url(lambda url: "site=" not in url)
    expect(hits).to_have_count(min(10, everything))
    page.go_back()
    page.wait_for_url(re.compile(r"site=valleytimes\.example"))
    expect(hits).to_have_count(narrowed)


def test_pages_and_timeline_bars_live_in_the_address(page: Any, base: str) -> None:
    """Next page moves a cursor into the address; Back returns; a day's bar filters to that day."""
    total = api(base)["total"]
    assert total > 10
    page.goto(f"{base}/")
    hits = page.locator("#results .hit")
    expect(hits).to_have_count(10)
    first_page = hits.evaluate_all("els => els.map(e => e.dataset.id)")
    pages = -(-total // 10)
    where = page.locator("#pager .where")
    expect(where).to_have_text(f"Page 1 of {pages}")
    page.locator("#pager button[rel=next]").click()
    page.wait_for_url(re.compile(r"cursor=.*page=2"))
    expect(where).to_have_text(f"Page 2 of {pages}")  # drawn with the results, in one go
    expect(hits).to_have_count(min(10, total - 10))
    second_page = hits.evaluate_all("els => els.map(e => e.dataset.id)")
    assert not set(first_page) & set(second_page)
    page.go_back()
    page.wait_for_url(lambda url: "cursor=" not in url)
    expect(where).to_have_text(f"Page 1 of {pages}")
    assert hits.evaluate_all("els => els.map(e => e.dataset.id)") == first_page

    bar = page.locator("#timeline rect.bar:not(.zero)").first
    day, count = bar.get_attribute("data-day"), int(bar.get_attribute("data-count"))
    bar.click()
    page.wait_for_url(re.compile(rf"since={day}&until="))
    expect(hits).to_have_count(count)
    assert all(t.startswith(str(int(day[8:]))) for t in hits.locator(".meta time").all_inner_texts())


def keep_on_loopback(page: Any, base: str) -> list[str]:
    """Abort every request of `page` that leaves `base`; the list fills with their addresses."""
    left: list[str] = []

    def only_local(route: Any) -> None:
        url = route.request.url
        if url == base or url.startswith(f"{base}/"):
            route.continue_()
        else:
            left.append(url)
            route.abort()

    page.route("**/*", only_local)
    return left


def test_docs_render_the_operations_with_nothing_loaded_from_outside(page: Any, base: str) -> None:
    """/docs draws Swagger UI's operations (GET /api/search among them) and /redoc ReDoc's, while
    every request to a host other than the API is refused: the pages need no internet."""
    left = keep_on_loopback(page, base)
    page.goto(f"{base}/docs")
    search = page.locator(".opblock.opblock-get", has=page.locator(".opblock-summary-path", has_text="/api/search"))
    expect(search).to_have_count(1)
    expect(search.locator(".opblock-summary-description")).to_have_text("Full-text search")
    search.locator(".opblock-summary").first.click()  # opens the operation: its parameters are listed
    expect(search.locator("tr[data-param-name=q]")).to_have_count(1)

    page.goto(f"{base}/redoc")
    expect(page.locator("h2", has_text="Full-text search")).to_have_count(1)
    page.wait_for_load_state("networkidle")  # what the drawn page asks for (ReDoc's logo) has been asked
    assert left == []
