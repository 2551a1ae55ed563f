"""Teaser blocks recognised by their structure inside one page.

A teaser block is a run of repeated items, each led by a link to another article of the
same site whose anchor text is the item's title, often with a short excerpt, a date or a
label. Headings such as "Cùng chủ đề" or "Related" are not needed: the structure decides.
The same search finds:
- a lone short paragraph that is mostly a link to another article ("Read more: ..."),
- a pop-up card of a person's stories set inside a sentence (the sentence stays),
- a row of three or more paragraphs that are each only a headline link, to any site (a
  network's cross-promotion),
- headlines set one to a line with <br> in one paragraph or cell, a date or label beside
  each, under at most a short heading line,
- the "previous story / next story" line: its links, and words that only say which way,
- the unlinked blurb cut short ("…") right under a standalone headline link, and the
  heading over two or more such items in a row ("Related posts" written as paragraphs).
A link that a sentence runs into is prose, not a title, unless it is most of a headline
that is linked only in part.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html

from pipeline.models import RelatedLink
from pipeline.urls import canonicalize_url, site_of

CONTAINER_TAGS = {"ul", "ol", "div", "section", "aside", "nav", "table", "tbody", "footer", "dl", "span"}
INLINE_TAGS = {"span"}  # containers that sit inside a line of text
MAX_ITEM_CHARS = 900  # a teaser item is a title and an excerpt, never a whole story
MIN_TITLE_CHARS = 12
# A lone item longer than this is a headline over a story (a blog's short post), not a
# teaser: single teasers ("Read more: <title>", a featured story) carry a line of excerpt.
SINGLE_ITEM_MAX_CHARS = 400
MAX_FOLLOWERS_PER_ITEM = 3  # pieces after an item's title (excerpt, date, label, "more")
RUN_IN_TITLE_SHARE = 0.4  # of a headline linked in part: see _linked_in_part
# An item linked to the page itself holds more than its title and a line: the story is set
# in the box under its own linked headline (a blog's post), not listed in a rail.
SELF_ITEM_MAX_CHARS = 300
HEADING_MAX_CHARS = 80
HEADLINE_CANDIDATES = 10  # <h1>s looked at for the page's own headline (logos come first)
HEADLINE_HOLDERS = {"p", "h3", "h4", "h5"}
MIN_HEADLINE_RUN = 3
HEADLINE_SHARE = 0.9  # of its paragraph that a headline link covers
INLINE_MAX_CHARS = 220  # "Read more: <title>" standing alone between paragraphs
LINE_LIST_TAGS = {"p", "div", "td", "font", "span"}  # holders of a list written with <br>
LINE_LIST_MAX_CHARS = 2000
LINE_TITLE_SHARE = 0.6  # of its line that a headline link covers (the rest a date or a label)
EXCERPT_MAX_CHARS = 320  # the blurb under a related post's headline: a sentence or two, cut short
EXCERPT_TAGS = {"p", "div", "span"}
# Words of a "« Previous story: <title> | Next story: <title> »" line besides its titles: they
# only say which way the link goes. English, German, French, Spanish, Italian, Portuguese,
# Dutch and Vietnamese.
_WAY_WORDS = frozenset(
    word
    for line in (
        "previous prev next older newer story post article entry",
        "vorheriger vorherige voriger vorige nächster nächste artikel beitrag zurück weiter",
        "précédent précédente suivant suivante",
        "anterior siguiente artículo entrada noticia",
        "precedente successivo successiva articolo",
        "próximo próxima notícia artigo",
        "volgende bericht",
        "bài tin trước sau tiếp theo",
    )
    for word in line.split()
)
_WORDS = re.compile(r"\w+")
# Links read per page. Real pages hold up to about 2,200 (the most in both development sets);
# a hostile one holds 100,000, and reading each would take a minute. Past this many, the
# page's further links are taken as plain links (their text stays for the extractor to weigh).
MAX_PAGE_LINKS = 5000
HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6", "header", "strong", "b", "span", "div", "p"}
_ID = re.compile(r"\d{4}")
_PAGE_FILE = re.compile(r"\.(s?html?|php|aspx?)$")
_UNREAD = {"script", "style", "noscript", "template"}  # text no reader sees
_NOT_PAGES = ("#", "javascript:", "mailto:", "tel:")  # hrefs that lead to no page
_WORD_END = re.compile(r"([^\W\d_]|[,;'’”\"])$")  # text that ends mid-sentence (not a date, not "Label:")
# Pages about people, tags and sections: their links are bylines and menus, not teasers.
_NOT_ARTICLE_PATH = re.compile(
    r"/(author|authors|autor|tac-gia|tag|tags|topic|topics|chu-de|category|categories|section|sections|"
    r"people|profile|profiles|user|users|search|contributor|contributors|staff|writer|writers)(/|$)",
    re.IGNORECASE,
)


@dataclass
class TeaserBlock:
    element: lxml_html.HtmlElement
    links: list[RelatedLink] = field(default_factory=list)
    text: str = ""
    kind: str = "list"  # "list", "inline", or "excerpt" (an unlinked blurb under an inline teaser)
    headed: bool = False  # the first of a run of inline teasers: a heading right before it is theirs


def text_of(el: lxml_html.HtmlElement) -> str:
    # Join text nodes with spaces: "<h3>Title</h3><p>Excerpt" must not read "TitleExcerpt".
    return _joined(el.itertext())


def _solid(text: str | None) -> int:
    """Characters of `text` other than white space."""
    return 0 if not text or text.isspace() else len("".join(text.split()))


def _joined(pieces: Iterable[str]) -> str:
    return " ".join(" ".join(pieces).split())  # str.split() and \\s agree on what is white space


def bounded_text(el: lxml_html.HtmlElement, limit: int) -> str | None:
    """`text_of(el)`, or None as soon as it surely has more than `limit` characters.

    Counts the characters other than whitespace (a lower bound of the normalised length)
    and stops reading there, so a long element is never joined whole.
    """
    pieces = []
    seen = 0
    for piece in el.itertext():
        seen += len("".join(piece.split()))
        if seen > limit:
            return None
        pieces.append(piece)
    text = _joined(pieces)
    return text if len(text) <= limit else None


@functools.lru_cache(maxsize=32768)  # per worker process: a few MB
def article_url_of(href: str, page_url: str, page_site: str) -> str | None:
    """Canonical URL of `href` when it points to an article of the page's site.

    The page itself counts: rails often list the story being read among the others. It
    is left out of `related` (see `_PageScan.related_links`).
    """
    if not href or href.startswith(_NOT_PAGES):
        return None
    # Menus and off-site links are most of a page's links: rule them out on the raw href
    # before paying for joining and canonicalisation, then check the canonical form again.
    if href.startswith(("http://", "https://", "/")) and not _article_path(unquote(_raw_path(href))):
        return None
    try:
        joined = urljoin(page_url, href)  # "//[x/a.html": an address that does not parse
        if site_of(joined) != page_site or not _article_path(unquote(urlsplit(joined).path)):
            return None
        url = canonicalize_url(joined)
    except ValueError:
        return None
    if site_of(url) != page_site or not _article_path(urlsplit(url).path):
        return None
    return url


def _raw_path(href: str) -> str:
    """The path of an absolute (http://host/path), scheme-relative or root-relative href."""
    if not href.startswith("/") or href.startswith("//"):
        start = href.find("/", href.find("//") + 2)
        href = href[start:] if start >= 0 else "/"
    for mark in "?#":
        href = href.split(mark, 1)[0]
    return href


def _article_path(path: str) -> bool:
    path = path.rstrip("/")
    if _NOT_ARTICLE_PATH.search(path):
        return False
    # Some segment reads like an article: a slug of 3+ words, an id, or a page file name.
    # (The slug is not always last: /news/some-story-title/live/.) Each test is linear in the
    # segment: a pattern for "two hyphens" backtracked for three minutes over a 200 kB one.
    return any(
        seg.count("-") >= 2 or _ID.search(seg) is not None or _PAGE_FILE.search(seg) is not None
        for seg in path.split("/")
        if seg
    )


class _PageScan:
    """The teaser search over one parsed page.

    Element texts are cached for the length of one search (the tree does not change
    during it), and large elements are ruled out by a bounded count of their characters
    before their whole text is ever built: most containers of a page are far too long to
    be a teaser item, and joining their text at every level of the tree is what a naive
    search spends its time on.
    """

    def __init__(self, page_url: str) -> None:
        self.page_url = page_url
        self.page_site = site_of(page_url)
        parts = urlsplit(page_url)
        self.origin = f"{parts.scheme}://{parts.netloc}/"
        self._texts: dict[lxml_html.HtmlElement, str] = {}
        self._linked: set[lxml_html.HtmlElement] = set()
        self._verdicts: dict[str, str | None] = {}  # href -> article URL or None, for this page
        self._sizes: dict[lxml_html.HtmlElement, int] = {}  # characters other than whitespace, see measure
        self.links_unread = 0  # links past MAX_PAGE_LINKS
        self.headline_holders: set[lxml_html.HtmlElement] = set()  # see find_headline

    def find_headline(self, top: lxml_html.HtmlElement) -> None:
        """Note the elements that hold the page's headline: its first <h1> that is no link
        (among the first few: a hostile page may hold thousands, each deep inside a link)."""
        for h in itertools.islice(top.iter("h1"), HEADLINE_CANDIDATES):
            if h.find(".//a") is None and not any(a.tag == "a" for a in h.iterancestors()):
                self.headline_holders = set(h.iterancestors())
                return

    def mark_links(self, top: lxml_html.HtmlElement) -> None:
        """Note every element that holds a link to another article: only those can be or
        hold a teaser, so the search skips the rest of the page without reading its text."""
        anchors = top.iter("a")
        for a in itertools.islice(anchors, MAX_PAGE_LINKS):
            if not self.link(a.get("href", "")):
                continue
            el: lxml_html.HtmlElement | None = a
            while el is not None and el not in self._linked:
                self._linked.add(el)
                el = el.getparent()
        self.links_unread = sum(1 for _ in anchors)

    def measure(self, top: lxml_html.HtmlElement) -> None:
        """Count the characters other than whitespace under every element, in one pass from
        the leaves up, so `bounded_text` rules out a long element without reading it. (Script
        and style text is left out: the counts stay lower bounds of each element's text.)"""
        sizes = self._sizes
        open_counts = [0]  # characters so far of each element open on the way down
        for event, el in etree.iterwalk(top, events=("start", "end")):
            if event == "start":
                open_counts.append(0 if el.tag in _UNREAD else _solid(el.text))
            else:
                n = sizes[el] = open_counts.pop()
                open_counts[-1] += n + _solid(el.tail)  # a tail is its parent's text

    def size(self, el: lxml_html.HtmlElement) -> int:
        """Characters other than white space under `el` (scripts and styles not counted)."""
        return self._sizes.get(el, 0)

    def holds_link(self, el: lxml_html.HtmlElement) -> bool:
        return el in self._linked

    def text(self, el: lxml_html.HtmlElement) -> str:
        got = self._texts.get(el)
        if got is None:
            got = self._texts[el] = text_of(el)
        return got

    def bounded_text(self, el: lxml_html.HtmlElement, limit: int) -> str | None:
        """The text of `el`, or None when it has more than `limit` characters.

        Stops reading as soon as the characters other than whitespace (a lower bound of
        the normalised length) pass the limit, so a long element is never joined whole.
        """
        got = self._texts.get(el)
        if got is None:
            size = self._sizes.get(el)
            if size is None:  # not measured (added to the tree after `measure`)
                got = bounded_text(el, limit)
                if got is None:
                    return None
            elif size > limit:
                return None
            else:
                got = text_of(el)
            self._texts[el] = got
        return got if len(got) <= limit else None

    def link(self, href: str) -> str | None:
        """The article URL an href of this page leads to, or None (see `article_url_of`)."""
        try:
            return self._verdicts[href]
        except KeyError:
            pass
        if self.links_unread:
            return None  # a page past the cap: only the links read by mark_links count
        # An absolute or root-relative href means the same on every page of the site: keyed
        # by the site's origin, the cache serves the menus and rails of its next pages too.
        base = self.origin if href.startswith(("http://", "https://", "/")) else self.page_url
        verdict = self._verdicts[href] = article_url_of(href, base, self.page_site)
        return verdict

    def article_anchor(self, el: lxml_html.HtmlElement) -> tuple[str, str, lxml_html.HtmlElement] | None:
        """The first link in `el` to another article: its URL, anchor text and element."""
        anchors = [el] if el.tag == "a" else el.iter("a")
        first: tuple[str, str, lxml_html.HtmlElement] | None = None
        for a in anchors:
            url = self.link(a.get("href", ""))
            if not url:
                continue
            title = self.text(a) or (a.get("title") or "").strip()
            # An image link often comes first with no text; the title link follows it.
            if len(title) >= MIN_TITLE_CHARS:
                return url, title, a
            first = first or (url, title, a)
        return first

    def group_items(self, children: list[lxml_html.HtmlElement]) -> tuple[list[tuple[str, str, str]], int, int] | None:
        """Group siblings into items, each starting at a child led by an article link.

        Returns (items as (url, title, text)), characters covered by items, characters
        before the first item (a heading, if short); None when some child is too long to
        belong to a teaser block at all (it would make an item too long, or a heading).
        """
        pieces: list[tuple[str, str, list[str]]] = []  # (url, title, texts) of each item
        lead_chars = covered = followers = 0
        for child in children:
            text = self.bounded_text(child, MAX_ITEM_CHARS)
            if text is None:
                return None
            led_by = self.item_title(child, text)
            if led_by is not None:
                pieces.append((*led_by, [text]))
                covered += len(text)
            elif pieces:
                pieces[-1][2].append(text)
                covered += len(text)
                followers += bool(text)
            else:
                lead_chars += len(text)
                if lead_chars > HEADING_MAX_CHARS:
                    return None
        # An item is a title with an excerpt, a date, a label: a few pieces at most. A list
        # whose pieces mostly lead with no link (bullet points of prose) is not teasers.
        if followers > MAX_FOLLOWERS_PER_ITEM * len(pieces):
            return None
        items = [(url, title, " ".join(t for t in texts if t)) for url, title, texts in pieces]
        return items, covered, lead_chars

    def teaser_list(self, el: lxml_html.HtmlElement) -> TeaserBlock | None:
        if not self.holds_link(el):
            return None
        children = [c for c in el if isinstance(c.tag, str)]
        # Look through single wrappers (<div><ul>...</ul></div>) to the repeated level, unless
        # the single child is itself one teaser item (a rail that holds one story so far).
        while len(children) == 1 and self.item_title(children[0]) is None:
            children = [c for c in children[0] if isinstance(c.tag, str)]
        if not children:
            return None
        grouped = self.group_items(children)
        if grouped is None:
            return None
        items, covered, lead = grouped
        if not items:
            return None
        # One item is a teaser block only when it is framed as one: a list, or under a heading.
        # Inside a line of prose (a <span>) it takes several: one is a link in a sentence,
        # several are a hover card or a "related" strip set in the text.
        if len(items) == 1 and (
            el.tag in INLINE_TAGS or not (lead > 0 or el.tag in {"ul", "ol"} or len(children) == 1)
        ):
            return None
        urls = {url for url, _, _ in items}
        # Several items that all lead to one story are one link twice (an image and its title),
        # unless a heading frames them as a rail that lists another story twice.
        if len(items) > 1 and len(urls) < 2 and (lead == 0 or urls == {self.page_url}):
            return None
        if all(url == self.page_url for url, _, _ in items):
            return None  # the story's own headline, linked to itself (blogs do): the article, not a teaser
        if any(url == self.page_url and len(text) > SELF_ITEM_MAX_CHARS for url, _, text in items):
            return None  # the story itself under its linked headline, a "previous post" link beside it
        if len(items) == 1 and len(items[0][2]) > SINGLE_ITEM_MAX_CHARS:
            return None  # one headline over paragraphs of prose: a short story, not a teaser
        if any(len(text) > MAX_ITEM_CHARS for _, _, text in items):
            return None
        total = len(self.text(el))
        if total == 0 or covered < 0.8 * (total - lead):
            return None
        if el in self.headline_holders:
            return None  # the page's own headline stands in it: the story's header, not a rail
        return TeaserBlock(element=el, links=self.links_in(el, items), text=self.text(el))

    def links_in(self, el: lxml_html.HtmlElement, items: list[tuple[str, str, str]]) -> list[RelatedLink]:
        """Every titled article link of a teaser block, each once: the items' own, then any
        that an item's tail holds (a rail of one lead story with a list of others under it)."""
        titles: dict[str, str] = {}
        for url, title, _ in items:
            titles.setdefault(url, title)
        for url, title in self.titled_links(el):
            titles.setdefault(url, title)
        return self.related_links(titles.items())

    def headline_runs(self, top: lxml_html.HtmlElement) -> list[TeaserBlock]:
        """Paragraphs that are nothing but a headline link, three or more in a row.

        A network's cross-promotion ("from our sister site") links to articles of another
        site, so the same-site rule of teaser lists misses it; but prose never reads as a
        row of bare headlines, whichever site they point to.
        """
        holders: dict[lxml_html.HtmlElement, RelatedLink] = {}
        for a in itertools.islice(top.iter("a"), MAX_PAGE_LINKS):
            holder = a.getparent()
            if holder is None or holder.tag not in HEADLINE_HOLDERS or holder in holders:
                continue
            title = self.text(a)
            if len(title) < MIN_TITLE_CHARS or len(title.split()) < 3:
                continue
            # The link is (nearly) all of its paragraph; a longer paragraph is not read whole.
            if self.bounded_text(holder, int(len(title) / HEADLINE_SHARE)) is None:
                continue
            url = _headline_url(a.get("href", ""), self.page_url)
            if url:
                holders[holder] = RelatedLink(url=url, title=title)
        runs: list[TeaserBlock] = []
        run: list[lxml_html.HtmlElement] = []
        for holder in [*holders, None]:
            if run and holder is not None and run[-1].getnext() is holder:
                run.append(holder)
                continue
            if len(run) >= MIN_HEADLINE_RUN:
                runs.extend(TeaserBlock(element=h, links=[holders[h]], text=self.text(h), kind="inline") for h in run)
            run = [holder] if holder is not None else []
        return runs

    def related_links(self, links: Iterable[tuple[str, str]]) -> list[RelatedLink]:
        """Links of a teaser block as `related` entries, the page itself left out."""
        return [RelatedLink(url=url, title=title) for url, title in links if url != self.page_url]

    def titled_links(self, el: lxml_html.HtmlElement) -> Iterator[tuple[str, str]]:
        """(url, anchor text) of the links in `el` to other articles, titled ones only."""
        for a in el.iter("a"):
            url = self.link(a.get("href", ""))
            if url and len(title := self.text(a)) >= MIN_TITLE_CHARS:
                yield url, title

    def many_stories(self, el: lxml_html.HtmlElement) -> bool:
        """True when `el` links, with titles, to more than one other article."""
        urls = set()
        for url, _ in self.titled_links(el):
            urls.add(url)
            if len(urls) > 1:
                return True
        return False

    def item_title(self, el: lxml_html.HtmlElement, text: str | None = None) -> tuple[str, str] | None:
        """(url, title) when `el` is one teaser item: a short element led by a titled link to
        another article; else None.

        The link must be the element's title (leading it, or most of it), not words of
        prose, and the element one story, not a whole list of them.
        """
        if not self.holds_link(el):
            return None
        text = self.bounded_text(el, MAX_ITEM_CHARS) if text is None else text
        if not text or len(text) > MAX_ITEM_CHARS:
            return None
        found = self.article_anchor(el)
        if (
            found
            and len(found[1]) >= MIN_TITLE_CHARS
            and _leads(found[1], text)
            and (not _in_running_text(found[2], el) or _linked_in_part(found[1], text))
            and not self.many_stories(el)
        ):
            return found[0], found[1]
        return None

    def inline_teaser(self, el: lxml_html.HtmlElement) -> TeaserBlock | None:
        if not self.holds_link(el):
            return None
        if el.tag == "a":
            # A link standing alone between paragraphs ("Also on ...: <title>"), not one in prose.
            parent = el.getparent()
            if parent is None or parent.tag not in {"div", "section", "article", "main", "body", "aside"}:
                return None
            if (el.tail or "").strip():
                return None
        elif el.tag not in {"p", "div", "li", "h3", "h4", "strong"} or len(el) > 4:
            return None
        text = self.bounded_text(el, INLINE_MAX_CHARS)
        if not text:
            return None
        if el.tag == "strong" and not _on_a_line_of_its_own(el):
            return None  # a bold link inside a sentence: words of the story
        found = self.article_anchor(el)
        if not found:
            return None
        if len(found[1]) < 0.6 * len(text):
            return self.way_line(el, text)
        if el.tag == "a":
            card = self.card_around(el, found[0])
            if card is not None:
                return card
        return TeaserBlock(element=el, links=self.related_links([found[:2]]), text=text, kind="inline")

    def line_list(self, el: lxml_html.HtmlElement) -> TeaserBlock | None:
        """Headlines one to a line in a single element ("<p><b>Related</b><br><a>Title</a>
        (12 May)<br><a>Title</a> (9 May)</p>"): two or more lines, each mostly a headline
        link to another article of the site, and at most a short heading line first."""
        if el.tag not in LINE_LIST_TAGS or el.find("br") is None or not self.holds_link(el):
            return None
        if self.bounded_text(el, LINE_LIST_MAX_CHARS) is None:
            return None
        texts: list[list[str]] = [[el.text or ""]]
        anchors: list[list[lxml_html.HtmlElement]] = [[]]
        for child in el:
            if child.tag == "br":
                texts.append([child.tail or ""])
                anchors.append([])
                continue
            if isinstance(child.tag, str):
                if child.tag in _UNREAD or child.find(".//br") is not None:
                    return None  # lines inside lines: not one flat list
                texts[-1].append(self.text(child))
                anchors[-1].extend(child.iter("a"))
            texts[-1].append(child.tail or "")
        items: list[tuple[str, str]] = []
        for n, (pieces, links) in enumerate(zip(texts, anchors, strict=True)):
            line = _joined(pieces)
            if not line:
                continue
            found = next(
                ((url, title) for a in links if (url := self.link(a.get("href", ""))) and (title := self.text(a))),
                None,
            )
            if found and len(found[1]) >= MIN_TITLE_CHARS and len(found[1]) >= LINE_TITLE_SHARE * len(line):
                items.append(found)
            elif n == 0 and not links and len(line) <= HEADING_MAX_CHARS:
                continue  # the list's heading
            else:
                return None
        if len(items) < 2 or len({url for url, _ in items}) < 2 or el in self.headline_holders:
            return None
        return TeaserBlock(element=el, links=self.related_links(items), text=self.text(el))

    def way_line(self, el: lxml_html.HtmlElement, text: str) -> TeaserBlock | None:
        """A "« Previous story: <title> | Next story: <title> »" line: one or two links to
        other articles, and around them only words that say which way they go."""
        titled = list(itertools.islice(self.titled_links(el), 3))
        if not 1 <= len(titled) <= 2:
            return None
        rest = text
        for _, title in titled:
            rest = rest.replace(title, " ", 1)
        words = _WORDS.findall(rest.lower())
        if not words or any(w not in _WAY_WORDS for w in words):
            return None  # a sentence around the links, or no word that says which way
        return TeaserBlock(element=el, links=self.related_links(titled), text=text, kind="inline")

    def excerpts_after(self, found: list[TeaserBlock]) -> list[TeaserBlock]:
        """The unlinked blurbs cut short ("…") right under standalone headline links, as
        related posts are often written: "<p><a>Title</a></p><p>Blurb…</p>", repeated. Cutting
        the links alone would leave the blurbs in the story. The first of two or more such
        items in a row, each with its blurb, is marked `headed`: the heading over them goes
        with them. (Two bare links under a heading may be the story's own "see also".)"""
        teasers = {b.element: b for b in found if b.kind == "inline"}
        excerpts: dict[lxml_html.HtmlElement, TeaserBlock] = {}
        for el in teasers:
            nxt = el.getnext()
            if (el.tail or "").strip() or nxt is None or nxt in teasers or nxt.tag not in EXCERPT_TAGS:
                continue
            if next(nxt.iter("a"), None) is not None:
                continue
            text = self.bounded_text(nxt, EXCERPT_MAX_CHARS)
            if text and text.rstrip(")]").endswith(("…", "...")):
                excerpts[nxt] = TeaserBlock(element=nxt, text=text, kind="excerpt")

        def item_after(el: lxml_html.HtmlElement) -> lxml_html.HtmlElement | None:
            """The next item after teaser `el` and its blurb, when both have blurbs."""
            blurb = el.getnext()
            if blurb not in excerpts or (blurb.tail or "").strip():
                return None
            nxt = blurb.getnext()
            return nxt if nxt in teasers and nxt.getnext() in excerpts else None

        following = {after for el in teasers if (after := item_after(el)) is not None}
        for el, block in teasers.items():
            if el not in following and item_after(el) is not None:
                block.headed = True
        return list(excerpts.values())

    def card_around(self, a: lxml_html.HtmlElement, url: str) -> TeaserBlock | None:
        """The card a standalone link titles: its short <div>, led by the link, the rest an
        excerpt or a date with no other link ("<div><a>Title</a><p>Excerpt…</p></div>").
        Cutting the link alone would leave the excerpt in the story. (A link in an <li> is
        never standalone: the list's items are read as a teaser list.)"""
        parent = a.getparent()
        if parent is None or parent.tag != "div" or parent in self.headline_holders:
            return None
        text = self.bounded_text(parent, SINGLE_ITEM_MAX_CHARS)
        if not text or sum(1 for _ in parent.iter("a")) > 1:
            return None
        led = self.item_title(parent, text)
        if led is None or led[0] != url:
            return None
        return TeaserBlock(element=parent, links=self.related_links([led]), text=text, kind="inline")


def _on_a_line_of_its_own(el: lxml_html.HtmlElement) -> bool:
    """True when no words of the same line surround `el` (lines end at <br> and at the
    parent's edges): a bold link set apart, not a phrase inside a sentence."""
    prev, nxt = el.getprevious(), el.getnext()
    parent = el.getparent()
    before = prev.tail if prev is not None else (parent.text if parent is not None else "")
    if (before or "").strip() or (el.tail or "").strip():
        return False
    return (prev is None or prev.tag == "br") and (nxt is None or nxt.tag == "br")


def _headline_url(href: str, page_url: str) -> str | None:
    """The canonical URL of `href` when it reads like an article, on any site."""
    if not href or href.startswith(_NOT_PAGES):
        return None
    try:
        url = canonicalize_url(urljoin(page_url, href))
    except ValueError:
        return None
    return url if url != page_url and _article_path(urlsplit(url).path) else None


def _in_running_text(a: lxml_html.HtmlElement, item: lxml_html.HtmlElement) -> bool:
    """True when words of a sentence run straight into the link ("If you plan to <a>retire
    early</a>, ..."): a link in prose. A label in an element of its own ("<span>Sport</span>
    <a>"), or one that ends in a separator ("Read more: <a>"), still leads a title."""
    node = a
    while node is not item and node.getparent() is not None:
        prev = node.getprevious()
        before = (prev.tail if prev is not None else node.getparent().text) or ""
        before = before.strip()
        if before and _WORD_END.search(before):
            return True
        if prev is not None:
            return False
        node = node.getparent()
    return False


def _linked_in_part(title: str, text: str) -> bool:
    """A headline whose link starts mid-way ("The strange life and <a>mysterious death of
    a coder</a>"): the link is much of it, and it does not end as a sentence does."""
    return len(title) >= RUN_IN_TITLE_SHARE * len(text) and not text.rstrip().endswith(".")


def _leads(title: str, text: str) -> bool:
    at = text.find(title)
    return 0 <= at <= 40 or len(title) >= 0.5 * len(text)


@dataclass
class TeaserSearch:
    blocks: list[TeaserBlock]  # outermost first; nested matches are not reported twice
    page_chars: int  # characters other than white space of the page's text, teasers included


def find_teaser_blocks(root: lxml_html.HtmlElement, page_url: str) -> list[TeaserBlock]:
    """Teaser blocks of a page, outermost first; nested matches are not reported twice."""
    return search_teasers(root, page_url).blocks


def search_teasers(root: lxml_html.HtmlElement, page_url: str) -> TeaserSearch:
    """The teaser blocks of a page, and the size of its text (measured on the way)."""
    scan = _PageScan(page_url)
    found: list[TeaserBlock] = []
    body = root.find("body")
    top = body if body is not None else root
    scan.mark_links(top)
    scan.measure(top)
    scan.find_headline(top)
    stack = [top]
    while stack:
        el = stack.pop()
        if not isinstance(el.tag, str) or el.tag in {"script", "style", "head"}:
            continue
        block = None
        if el.tag in CONTAINER_TAGS:
            block = scan.teaser_list(el)
        if block is None:
            block = scan.line_list(el)
        if block is None:
            block = scan.inline_teaser(el)
        if block is not None:
            found.append(block)
            continue
        stack.extend(reversed([c for c in el if scan.holds_link(c)]))
    inside = {b.element for b in found}
    found.extend(b for b in scan.headline_runs(top) if not inside.intersection(b.element.iterancestors()))
    found.extend(scan.excerpts_after(found))
    return TeaserSearch(found, scan.size(top))


def remove_teasers(
    root: lxml_html.HtmlElement, page_url: str, blocks: list[TeaserBlock] | None = None
) -> list[TeaserBlock]:
    """Cut teaser blocks (and the short heading right before each) out of the tree."""
    if blocks is None:
        blocks = find_teaser_blocks(root, page_url)
    for block in blocks:
        el = block.element
        prev = el.getprevious()
        if (block.kind == "list" or block.headed) and _is_heading(prev):
            block.text = f"{text_of(prev)} {block.text}"
            _drop(prev)
        parent = el.getparent()
        _drop(el)
        # A wrapper left holding nothing but a heading was part of the teaser block too.
        # (Not a line of prose: the words around a hover card are the sentence's own.)
        while parent is not None and parent.tag not in {"body", "html", "main", "article", *INLINE_TAGS}:
            left = bounded_text(parent, HEADING_MAX_CHARS)
            if left is None or parent.find(".//img") is not None:
                break
            grand = parent.getparent()
            if left:
                block.text = f"{left} {block.text}"
            _drop(parent)
            parent = grand
    return blocks


def _is_heading(el: lxml_html.HtmlElement | None) -> bool:
    """A short title-like element: the "Related" or "Cùng chủ đề" above a teaser list."""
    if el is None or not isinstance(el.tag, str) or el.tag not in HEADING_TAGS:
        return False
    text = text_of(el)
    if not 0 < len(text) <= HEADING_MAX_CHARS or el.findall(".//p"):
        return False
    # A short sentence of the article is not a heading: headings rarely end like sentences.
    return el.tag in {"h1", "h2", "h3", "h4", "h5", "h6"} or not text.endswith((".", "!", "?", '"', "”", "»"))


def _drop(el: lxml_html.HtmlElement) -> None:
    # drop_tree keeps the element's tail text in the document.
    if el.getparent() is not None:
        el.drop_tree()
