#!/usr/bin/env python3
"""Build the golden corpus: static news pages, their expected article text and a manifest.

The article texts live in `src/*.txt` (hand-written, fictional); this script renders each one
through the template of its site, adds the teaser rails those sites print (titles plus the
first sentences of the site's other articles), and writes:

    <site>/<slug>.html   the page, as a crawler would fetch it
    <site>/<slug>.txt    the article body only (what cleaning must produce)
    manifest.json        one record per page

Deterministic: run it twice, get the same bytes. Standard library only.

    python tests/corpus/build.py          # rewrite the corpus
    python tests/corpus/build.py --check  # fail if the files on disk are stale

Source format (`src/*.txt`): an entry starts with `## page <key>` or `## teaser <key>`,
then `field: value` lines, a blank line, then one paragraph per line. Directives:
`! fig MODE :: caption` (MODE: full = alt repeats the caption, prefix:<words> = alt is a
truncated caption, twice = the caption is printed twice as visible text),
`! quote :: text`, `! more :: <key>` (an inline "read more" link to another entry),
and, in updates (`update: <key>`), `! replace N :: text` / `! insert N :: text` applied to
the base entry's blocks. Syndicated copies (`of: <key>`) reuse the base entry's blocks.
A `teaser` entry is an article that only appears in rails (title and lede), never as a page.
An optional `dek:` field is a standfirst: sites that print one show it under the headline
and use it as the meta description; it is not part of the expected body.
"""

# ruff: noqa: E501  -- the HTML templates keep one element per line, as the pages print them

from __future__ import annotations

import hashlib
import html
import json
import re
import sys
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"


# --------------------------------------------------------------------------- source model


@dataclass
class Block:
    kind: str  # p | fig | quote | more
    text: str = ""
    alt: str = ""  # fig: full | twice | prefix:<words>
    ref: str = ""  # more: key of the linked entry


@dataclass
class Entry:
    key: str
    kind: str  # page | teaser
    site: str
    slug: str
    title: str
    date: datetime
    section: str = ""
    author: str = ""
    topic: str = ""
    story: str = ""
    tags: list[str] = field(default_factory=list)
    source: str = ""
    credit: str = ""
    figures: str = "keep"
    variant: str = "original"  # original | syndicated | update
    base: str = ""
    id: str = ""
    query: str = ""
    encoding: str = "utf-8"
    place: str = ""
    external: str = ""
    sitename: str = ""
    dek: str = ""  # a standfirst printed under the headline, not part of the body
    blocks: list[Block] = field(default_factory=list)
    ops: list[tuple[str, int, str]] = field(default_factory=list)


def parse_source(text: str) -> list[Entry]:
    entries: list[Entry] = []
    chunks = re.split(r"^## ", text, flags=re.M)
    for chunk in chunks[1:]:
        head, _, body = chunk.partition("\n\n")
        lines = head.splitlines()
        kind, key = lines[0].split()
        meta: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            meta[name.strip()] = value.strip()
        blocks: list[Block] = []
        ops: list[tuple[str, int, str]] = []
        for line in body.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("! "):
                directive, _, arg = line[2:].partition(" :: ")
                words = directive.split(None, 1)
                if words[0] == "fig":
                    blocks.append(Block("fig", arg, alt=words[1]))
                elif words[0] == "quote":
                    blocks.append(Block("quote", arg))
                elif words[0] == "more":
                    blocks.append(Block("more", ref=arg))
                elif words[0] in ("replace", "insert"):
                    ops.append((words[0], int(words[1]), arg))
                else:
                    raise ValueError(f"{key}: unknown directive {line!r}")
            else:
                blocks.append(Block("p", line))
        entry = Entry(
            key=key,
            kind=kind,
            site=meta["site"],
            slug=meta["slug"],
            title=meta["title"],
            date=datetime.fromisoformat(meta["date"]),
            section=meta.get("section", ""),
            author=meta.get("author", ""),
            topic=meta.get("topic", ""),
            story=meta.get("story", key),
            tags=[t.strip() for t in meta.get("tags", "").split(",") if t.strip()],
            source=meta.get("source", ""),
            credit=meta.get("credit", ""),
            figures=meta.get("figures", "keep"),
            id=meta.get("id", ""),
            query=meta.get("query", ""),
            encoding=meta.get("encoding", "utf-8"),
            place=meta.get("place", ""),
            external=meta.get("external", ""),
            sitename=meta.get("sitename", ""),
            dek=meta.get("dek", ""),
            blocks=blocks,
            ops=ops,
        )
        if "update" in meta:
            entry.variant, entry.base = "update", meta["update"]
        if "of" in meta:
            entry.variant, entry.base = "syndicated", meta["of"]
        entries.append(entry)
    return entries


def resolve(entries: list[Entry]) -> dict[str, Entry]:
    """Fill updates and syndicated copies from their base entry."""
    by_key = {e.key: e for e in entries}
    for e in entries:
        e.title = nfc(e.title)
        for b in e.blocks:
            b.text = nfc(b.text)
    for e in entries:
        if e.variant == "original":
            continue
        base = by_key[e.base]
        e.story = base.story
        e.topic = e.topic or base.topic
        e.author = e.author or base.author
        e.tags = e.tags or base.tags
        e.place = e.place or base.place
        e.section = e.section or base.section
        if e.variant == "update":
            e.source = e.source or base.source
            replaced = {n: t for op, n, t in e.ops if op == "replace"}
            inserted: dict[int, list[str]] = {}
            for op, n, t in e.ops:
                if op == "insert":
                    inserted.setdefault(n, []).append(t)
            blocks: list[Block] = []
            for i, b in enumerate(base.blocks):
                blocks += [Block("p", nfc(t)) for t in inserted.get(i, [])]
                blocks.append(replace(b, text=nfc(replaced[i])) if i in replaced else b)
            blocks += [Block("p", nfc(t)) for t in inserted.get(len(base.blocks), [])]
            e.blocks = blocks
        else:
            # A syndicated copy keeps the text; the partner's own inline links do not travel.
            e.blocks = [b for b in base.blocks if b.kind != "more" and not (b.kind == "fig" and e.figures == "drop")]
    return by_key


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def slugify(s: str) -> str:
    s = s.replace("đ", "d").replace("Đ", "D")
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


def esc(s: str) -> str:
    return html.escape(s, quote=True)


def stable(*parts: str) -> int:
    return int(hashlib.sha1("|".join(parts).encode()).hexdigest()[:8], 16)


# --------------------------------------------------------------------------- text helpers


def body_paragraphs(e: Entry) -> list[str]:
    """The expected article text: paragraphs and quotes, in order (captions are kept apart)."""
    return [b.text for b in e.blocks if b.kind in ("p", "quote")]


def captions(e: Entry) -> list[str]:
    """The expected captions: each once, in order."""
    return [b.text for b in e.blocks if b.kind == "fig"]


def excerpt(e: Entry, limit: int, ellipsis: str = "...") -> str:
    """What a teaser shows: the start of the article's text, cut at a word boundary."""
    text = " ".join(b.text for b in e.blocks if b.kind in ("p", "quote"))
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:–-— ")
    return cut + ellipsis


_BLOCK_TAGS = {
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "section",
    "aside",
    "article",
    "header",
    "footer",
    "nav",
    "figure",
    "figcaption",
    "blockquote",
    "tr",
    "td",
    "table",
    "br",
    "form",
    "main",
    "body",
    "dt",
    "dd",
    "dl",
    "time_block",
}


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style", "template"):
            self.skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template"):
            self.skip -= 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def visible_text(fragment: str) -> str:
    """Visible text of an HTML fragment: one line per block element, spaces collapsed."""
    p = _TextParser()
    p.feed(fragment)
    p.close()
    lines = (" ".join(line.split()) for line in "".join(p.parts).split("\n"))
    return "\n".join(line for line in lines if line)


# --------------------------------------------------------------------------- encodings


def encode_page(text: str, encoding: str) -> bytes:
    if encoding == "utf-8":
        return text.encode("utf-8")
    if encoding == "windows-1258":
        return _encode_cp1258(text)
    return text.encode(encoding, "xmlcharrefreplace")


def _encode_cp1258(text: str) -> bytes:
    """Windows-1258 the way Vietnamese legacy CMSes wrote it: base letter + combining tone mark."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        decomposed = unicodedata.normalize("NFD", ch)
        base, marks = decomposed[0], decomposed[1:]
        done = False
        for i, mark in enumerate(marks):
            composed = unicodedata.normalize("NFC", base + mark)
            rest = marks[:i] + marks[i + 1 :]
            try:
                out += (composed + rest).encode("cp1258")
                done = len(composed) == 1
            except UnicodeEncodeError:
                continue
            if done:
                break
        if not done:
            try:
                out += decomposed.encode("cp1258")
            except UnicodeEncodeError:
                out += ch.encode("cp1258", "xmlcharrefreplace")
    return bytes(out)


# --------------------------------------------------------------------------- corpus queries


class Corpus:
    def __init__(self, entries: dict[str, Entry]) -> None:
        self.entries = entries

    def site_items(self, site: str) -> list[Entry]:
        return [e for e in self.entries.values() if e.site == site]

    def pages(self) -> list[Entry]:
        return [e for e in self.entries.values() if e.kind == "page"]

    def latest(self, e: Entry, n: int, *, window_after: float = 1.0) -> list[Entry]:
        """The site's newest items as a page crawled shortly after `e` was published shows them."""
        horizon = e.date + timedelta(days=window_after)
        items = [x for x in self.site_items(e.site) if x.key != e.key and not x.external and x.date <= horizon]
        return sorted(items, key=lambda x: (x.date, x.key), reverse=True)[:n]

    def popular(self, e: Entry, n: int) -> list[Entry]:
        """A "most read" list: stable within a week, so it repeats across the site's pages."""
        week = e.date.isocalendar()[1]
        items = [
            x
            for x in self.site_items(e.site)
            if x.key != e.key and not x.external and e.date - timedelta(days=7) <= x.date <= e.date + timedelta(days=1)
        ]
        return sorted(items, key=lambda x: stable(x.key, str(week)))[:n]

    def related(self, e: Entry, n: int, *, by: str) -> list[Entry]:
        value = getattr(e, by)
        items = [
            x
            for x in self.site_items(e.site)
            if x.key != e.key and not x.external and value and getattr(x, by) == value
        ]
        items.sort(key=lambda x: (abs((x.date - e.date).total_seconds()), x.key))
        return items[:n]

    def external(self, site: str) -> list[Entry]:
        return [x for x in self.site_items(site) if x.external]


# --------------------------------------------------------------------------- sites


VI_WEEKDAYS = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"]
AP_MONTHS = ["Jan.", "Feb.", "March", "April", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec."]
EN_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
EN_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ES_MONTHS = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
]


def vi_date(d: datetime) -> str:
    return f"{VI_WEEKDAYS[d.weekday()]}, {d:%d/%m/%Y %H:%M}"


def ap_time(d: datetime) -> str:
    hour = d.hour % 12 or 12
    ampm = "a.m." if d.hour < 12 else "p.m."
    minute = f":{d.minute:02d}" if d.minute else ""
    return f"{AP_MONTHS[d.month - 1]} {d.day}, {d.year}, {hour}{minute} {ampm}"


def uk_time(d: datetime) -> str:
    hour = d.hour % 12 or 12
    return f"{EN_DAYS[d.weekday()]} {d.day} {EN_MONTHS[d.month - 1]} {d.year}, {hour}.{d.minute:02d}{'am' if d.hour < 12 else 'pm'}"


def charset_meta(e: Entry) -> str:
    return f'<meta charset="{e.encoding}">'


class Site:
    key = ""
    name = ""
    domain = ""
    lang = ""
    sep = " – "

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus

    def url(self, e: Entry) -> str:
        raise NotImplementedError

    def link(self, e: Entry) -> str:
        return e.external or self.url(e)

    def page_title(self, e: Entry) -> str:
        return f"{e.title}{self.sep}{self.name}"

    def render(self, e: Entry) -> tuple[str, list[str]]:
        raise NotImplementedError

    def image(self, e: Entry, n: int) -> str:
        return f"https://{self.domain}/images/{e.date:%Y/%m}/{e.slug[:40]}-{n}.jpg"

    def alt_for(self, b: Block) -> str:
        if b.alt.startswith("prefix:"):
            return b.alt[len("prefix:") :]
        return b.text


# ----- 1. Báo Hà Lam: the seed's shape (WordPress "Techcity" theme) --------------------------


class BaoHaLam(Site):
    key = "baohalam"
    name = "Báo Hà Lam"
    domain = "baohalam.vn"
    lang = "vi"
    sep = " – "
    MENU = ("Thời sự", "Chính trị", "Kinh tế", "Xã hội", "Văn hóa – Thể thao", "Pháp luật", "Biên giới", "Media")

    def url(self, e: Entry) -> str:
        return f"https://baohalam.vn/{e.slug}-{e.id}.html"

    def body(self, e: Entry) -> str:
        out = []
        for i, b in enumerate(e.blocks):
            if b.kind == "p":
                out.append(f'<p style="text-align: justify;">{esc(b.text)}</p>')
            elif b.kind == "quote":
                out.append(f'<blockquote class="wp-block-quote"><p>{esc(b.text)}</p></blockquote>')
            elif b.kind == "fig" and b.alt == "twice":
                out.append(
                    f'<div class="wp-caption aligncenter" style="width: 810px">'
                    f'<img decoding="async" src="{self.image(e, i)}" alt="{esc(b.text)}" width="800" height="533">'
                    f'<p class="wp-caption-text">{esc(b.text)}</p></div>\n'
                    f'<p style="text-align: center;"><em>{esc(b.text)}</em></p>'
                )
            elif b.kind == "fig":
                out.append(
                    f'<figure class="wp-block-image aligncenter size-large">'
                    f'<img decoding="async" width="800" height="533" src="{self.image(e, i)}" '
                    f'alt="{esc(self.alt_for(b))}" class="wp-image-{stable(e.key, str(i)) % 90000 + 10000}">'
                    f'<figcaption class="wp-element-caption">{esc(b.text)}</figcaption></figure>'
                )
        return "\n".join(out)

    def teaser_block(self, cls: str, heading: str, items: list[Entry]) -> str:
        rows = []
        for x in items:
            suffix = f" – {x.sitename}" if x.external else f"{self.sep}{self.name}"
            rows.append(
                f'<div class="td-block-span12"><div class="td_module_related">'
                f'<h3 class="entry-title td-module-title"><a href="{esc(self.link(x))}" rel="bookmark">'
                f"{esc(x.title + suffix)}</a></h3>"
                f'<div class="td-excerpt">{esc(excerpt(x, 300))}</div></div></div>'
            )
        return (
            f'<div class="td_block_wrap td_block_related_posts {cls}">\n'
            f'<h4 class="td-block-title"><span>{esc(heading)}</span></h4>\n'
            f'<div class="td_block_inner">\n' + "\n".join(rows) + "\n</div>\n</div>"
        )

    def render(self, e: Entry) -> tuple[str, list[str]]:
        c = self.corpus
        url = self.url(e)
        n = stable(e.key)
        ext = c.external(self.key)
        topic = c.related(e, 4, by="topic") or c.latest(e, 3)
        topic += [x for x in c.related(e, 6, by="section") if x not in topic][: max(0, 4 - len(topic))]
        by_author = c.related(e, 3, by="author") + (ext if n % 2 == 0 else [])
        section = c.related(e, 5, by="section") + ext + c.latest(e, 5)
        seen: list[Entry] = []
        for x in section:
            if x not in seen:
                seen.append(x)
        section = seen[:8]
        blocks = [
            self.teaser_block("same-topic", "Cùng chủ đề", topic),
            self.teaser_block("same-author", "Cùng tác giả", by_author),
            self.teaser_block("same-category", "Cùng chuyên mục", section),
        ]
        featured = c.popular(e, 5)
        latest = c.latest(e, 6)
        if n % 3 == 0:
            # Widgets filled by JavaScript: only the headings reach a crawler.
            side_featured = (
                '<h4 class="widget-title">Tin nổi bật</h4><div class="widget-body" data-widget="featured"></div>'
            )
            side_latest = (
                '<h4 class="widget-title">Tin mới nhất</h4><div class="widget-body" data-widget="latest"></div>'
            )
        else:
            side_featured = (
                '<h4 class="widget-title">Tin nổi bật</h4><ul class="featured-list">'
                + "".join(f'<li><a href="{esc(self.link(x))}">{esc(x.title)}</a></li>' for x in featured)
                + "</ul>"
            )
            side_latest = (
                '<h4 class="widget-title">Tin mới nhất</h4><ul class="latest-list">'
                + "".join(
                    f'<li><a href="{esc(self.link(x))}">{esc(x.title)}</a> <span class="time">{x.date:%H:%M %d/%m}</span></li>'
                    for x in latest
                )
                + "</ul>"
            )
        side = [
            f'<section class="widget widget-featured">{side_featured}</section>',
            f'<section class="widget widget-latest">{side_latest}</section>',
        ]
        menu = "".join(
            f'<li class="menu-item"><a href="https://baohalam.vn/chuyen-muc/{slugify(m)}/">{esc(m)}</a></li>'
            for m in self.MENU
        )
        tags = "".join(f'<a href="https://baohalam.vn/tag/{slugify(t)}/" rel="tag">{esc(t)}</a>' for t in e.tags)
        source = f'\n<p class="source-link">Nguồn: {esc(url)}</p>' if e.source else ""
        page = f"""<!DOCTYPE html>
<html lang="vi" prefix="og: https://ogp.me/ns#">
<head>
{charset_meta(e)}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(self.page_title(e))}</title>
<meta name="robots" content="index, follow, max-image-preview:large">
<link rel="canonical" href="{esc(url)}">
<meta property="og:locale" content="vi_VN">
<meta property="og:type" content="article">
<meta property="og:title" content="{esc(e.title)}">
<meta property="og:url" content="{esc(url)}">
<meta property="og:site_name" content="{esc(self.name)}">
<meta property="og:image" content="{self.image(e, 0)}">
<meta property="article:section" content="{esc(e.section)}">
<meta property="article:published_time" content="{e.date.isoformat()}">
<meta name="author" content="{esc(e.author)}">
<link rel="stylesheet" id="techcity-style-css" href="https://baohalam.vn/wp-content/themes/techcity-news/style.css?ver=3.2.1" media="all">
<script src="https://baohalam.vn/wp-includes/js/jquery/jquery.min.js?ver=3.7.1" id="jquery-core-js"></script>
</head>
<body class="post-template-default single single-post postid-{e.id} single-format-standard">
<div class="td-header-top-menu"><div class="td-container">
<span class="td-header-date">{VI_WEEKDAYS[e.date.weekday()]}, {e.date:%d/%m/%Y}</span>
<span class="td-powered">Powered by Techcity</span>
</div></div>
<header class="td-header-wrap">
<div class="td-header-logo"><a href="https://baohalam.vn/"><img src="https://baohalam.vn/wp-content/uploads/2021/03/logo-bhl.png" alt="Báo Hà Lam - Cơ quan của Đảng bộ tỉnh Hà Lam"></a></div>
<nav id="td-header-menu" class="td-main-menu"><ul id="menu-main" class="sf-menu"><li class="menu-item"><a href="https://baohalam.vn/">Trang chủ</a></li>{menu}</ul></nav>
</header>
<div class="td-main-content-wrap td-container-wrap">
<div class="td-container td-post-template-default">
<div class="td-crumb-container"><div class="entry-crumbs"><span><a href="https://baohalam.vn/">Trang chủ</a></span> <i class="td-icon-right"></i> <span><a href="https://baohalam.vn/chuyen-muc/{slugify(e.section)}/">{esc(e.section)}</a></span></div></div>
<div class="td-pb-row">
<div class="td-pb-span8 td-main-content" role="main">
<div class="td-ss-main-content">
<article id="post-{e.id}" class="post-{e.id} post type-post status-publish format-standard has-post-thumbnail">
<div class="td-post-header">
<header class="td-post-title">
<h1 class="entry-title">{esc(e.title)}</h1>
<div class="td-module-meta-info">
<div class="td-post-author-name"><div class="td-author-by">Bởi</div> <a href="https://baohalam.vn/author/{slugify(e.author)}/">{esc(e.author)}</a></div>
<span class="td-post-date"><time class="entry-date updated td-module-date" datetime="{e.date.isoformat()}">{e.date:%d/%m/%Y %H:%M}</time></span>
</div>
</header>
</div>
<div class="td-post-sharing-top"><div class="td-post-sharing-visible"><a class="td-social-sharing-button td-social-facebook" href="https://www.facebook.com/sharer.php?u={esc(url)}"><span class="td-social-but-text">Facebook</span></a><a class="td-social-sharing-button td-social-zalo" href="https://sp.zalo.me/share_inline?url={esc(url)}"><span class="td-social-but-text">Zalo</span></a><a class="td-social-sharing-button td-social-print" href="#"><span class="td-social-but-text">In bài viết</span></a></div></div>
<div class="td-post-content tagdiv-type">
{self.body(e)}
<p style="text-align: right;"><strong>{esc(e.author.upper())}</strong></p>{source}
</div>
<footer>
<div class="td-post-source-tags"><ul class="td-tags td-post-small-box clearfix"><li><span>TỪ KHÓA</span></li><li>{tags}</li></ul></div>
<div class="td-post-sharing-bottom"><span class="td-post-share-title">Chia sẻ</span> <a href="https://www.facebook.com/sharer.php?u={esc(url)}">Facebook</a> <a href="https://sp.zalo.me/share_inline?url={esc(url)}">Zalo</a> <a href="mailto:?subject={esc(e.title)}">Email</a></div>
</footer>
</article>
{blocks[0]}
{blocks[1]}
{blocks[2]}
</div>
</div>
<div class="td-pb-span4 td-main-sidebar" role="complementary">
<div class="td-ss-main-sidebar">
{side[0]}
{side[1]}
<aside class="widget widget_media_image"><a href="https://dichvucong.halam.gov.vn/"><img src="https://baohalam.vn/wp-content/uploads/2023/05/banner-dvc.jpg" alt="Cổng dịch vụ công tỉnh Hà Lam"></a></aside>
</div>
</div>
</div>
</div>
</div>
<div class="td-footer-wrapper">
<div class="td-container">
<p><strong>BÁO HÀ LAM</strong> – Cơ quan của Đảng bộ Đảng Cộng sản Việt Nam tỉnh Hà Lam, tiếng nói của chính quyền và nhân dân các dân tộc tỉnh Hà Lam</p>
<p>Giấy phép hoạt động báo điện tử số 218/GP-BTTTT. Tổng Biên tập: Nông Văn Thạch</p>
<p>Địa chỉ: Số 15 đường Hoàng Văn Thụ, thành phố Hà Lam. Điện thoại: 0205.3812.460 – Email: toasoan@baohalam.vn</p>
<p>© Bản quyền thuộc về Báo Hà Lam. Ghi rõ nguồn “Báo Hà Lam” khi phát hành lại thông tin từ website này.</p>
</div>
<div class="td-sub-footer-container"><div class="td-container">Powered by Techcity</div></div>
</div>
<script src="https://baohalam.vn/wp-content/themes/techcity-news/js/tagdiv_theme.min.js?ver=3.2.1" id="td-site-min-js"></script>
</body>
</html>
"""
        teasers = [visible_text(b) for b in blocks] + [visible_text(s) for s in side]
        return page, teasers


# ----- 2. Báo Nguyệt Giang: a modern Vietnamese layout ---------------------------------------


class BaoNguyetGiang(Site):
    key = "baonguyetgiang"
    name = "Báo Nguyệt Giang"
    domain = "baonguyetgiang.vn"
    lang = "vi"
    sep = " | "
    MENU = ("Thời sự", "Chính trị", "Kinh tế", "Xã hội", "Văn hóa", "Giáo dục", "Sức khỏe", "Pháp luật", "Thể thao")

    def path(self, e: Entry) -> str:
        return f"/{slugify(e.section)}/{e.slug}-post{e.id}.html"

    def url(self, e: Entry) -> str:
        return "https://baonguyetgiang.vn" + self.path(e)

    def body(self, e: Entry, teasers: list[str]) -> str:
        out = []
        for i, b in enumerate(e.blocks[1:], start=1):
            if b.kind == "p":
                out.append(f"<p>{esc(b.text)}</p>")
            elif b.kind == "quote":
                out.append(f'<blockquote class="detail__quote"><p>{esc(b.text)}</p></blockquote>')
            elif b.kind == "fig":
                out.append(
                    f'<figure class="detail__image"><img src="{self.image(e, i)}" alt="{esc(self.alt_for(b))}" '
                    f'width="680" height="453" loading="lazy"><figcaption><p>{esc(b.text)}</p></figcaption></figure>'
                )
            elif b.kind == "more":
                x = self.corpus.entries[b.ref]
                frag = (
                    f'<div class="box-news box-news--inline"><p class="box-news__label">Xem thêm:</p>'
                    f'<h4 class="box-news__title"><a href="{esc(self.path(x))}">{esc(x.title)}</a></h4></div>'
                )
                out.append(frag)
                teasers.append(visible_text(frag))
        return "\n".join(out)

    def render(self, e: Entry) -> tuple[str, list[str]]:
        c = self.corpus
        url = self.url(e)
        teasers: list[str] = []
        related_top = c.related(e, 3, by="topic")
        top = ""
        if related_top:
            top = (
                '<div class="box-news box-news--top"><h3 class="box-news__heading">Tin liên quan</h3><ul class="list-relate">'
                + "".join(f'<li><a href="{esc(self.path(x))}">{esc(x.title)}</a></li>' for x in related_top)
                + "</ul></div>"
            )
            teasers.append(visible_text(top))
        body = self.body(e, teasers)
        credit = f'\n<p class="detail__source"><strong>{esc(e.credit)}</strong></p>' if e.credit else ""
        same = c.related(e, 6, by="section")
        cat = (
            '<section class="box-news box-news--category"><h2 class="box-news__heading">Tin cùng chuyên mục</h2>'
            + "".join(
                f'<div class="box-news__item"><h3><a href="{esc(self.path(x))}">{esc(x.title)}</a></h3>'
                f'<span class="sapo">{esc(excerpt(x, 170))}</span></div>'
                for x in same
            )
            + "</section>"
        )
        more_items = [x for x in c.latest(e, 8) if x not in same][:4]
        read_more = (
            '<section class="box-news box-news--grid"><h2 class="box-news__heading">Đọc thêm</h2><div class="grid">'
            + "".join(
                f'<div class="box-news__item"><a class="thumb" href="{esc(self.path(x))}"><img src="https://baonguyetgiang.vn/thumb/{x.id}.jpg" alt="{esc(x.title)}"></a>'
                f'<h3><a href="{esc(self.path(x))}">{esc(x.title)}</a></h3><span class="sapo">{esc(excerpt(x, 120))}</span></div>'
                for x in more_items
            )
            + "</div></section>"
        )
        latest = (
            '<div class="box"><h2 class="box__title">Tin mới nhất</h2><ul class="list">'
            + "".join(
                f'<li><a href="{esc(self.path(x))}">{esc(x.title)}</a><time datetime="{x.date.isoformat()}">{x.date:%H:%M}</time></li>'
                for x in c.latest(e, 7)
            )
            + "</ul></div>"
        )
        popular = (
            '<div class="box"><h2 class="box__title">Đọc nhiều</h2><ol class="list list--rank">'
            + "".join(f'<li><a href="{esc(self.path(x))}">{esc(x.title)}</a></li>' for x in c.popular(e, 5))
            + "</ol></div>"
        )
        teasers += [visible_text(cat), visible_text(read_more), visible_text(latest), visible_text(popular)]
        menu = "".join(f'<a class="menu__item" href="/{slugify(m)}">{esc(m)}</a>' for m in self.MENU)
        ld = json.dumps(
            {
                "@context": "https://schema.org",
                "@type": "NewsArticle",
                "headline": e.title,
                "datePublished": e.date.isoformat(),
                "author": {"@type": "Person", "name": e.author},
                "publisher": {"@type": "Organization", "name": self.name},
                "mainEntityOfPage": url,
            },
            ensure_ascii=False,
        ).replace("</", "<\\/")
        tags = " ".join(f'<a class="tag" href="/tag/{slugify(t)}.html">{esc(t)}</a>' for t in e.tags)
        page = f"""<!doctype html>
<html lang="vi-VN">
<head>
{charset_meta(e)}
<title>{esc(self.page_title(e))}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="{esc(e.blocks[0].text)}">
<meta name="author" content="{esc(e.author)}">
<link rel="canonical" href="{esc(url)}">
<meta property="og:title" content="{esc(e.title)}">
<meta property="og:description" content="{esc(e.blocks[0].text)}">
<meta property="og:url" content="{esc(url)}">
<meta property="og:site_name" content="{esc(self.name)}">
<meta property="og:type" content="article">
<meta property="article:published_time" content="{e.date.isoformat()}">
<link rel="stylesheet" href="/static/css/main.9f3c2a.css">
<script type="application/ld+json">{ld}</script>
</head>
<body class="page-detail">
<div class="cookie-consent" id="cookie-consent" role="dialog"><p>Chúng tôi sử dụng cookie để cải thiện trải nghiệm của bạn trên website. Tiếp tục truy cập nghĩa là bạn đồng ý với chính sách này.</p><button type="button" class="cookie-consent__ok">Đồng ý</button></div>
<header class="header">
<div class="header__top container"><a class="header__logo" href="/"><img src="/static/img/logo-bng.svg" alt="Báo Nguyệt Giang"></a>
<form class="header__search" action="/tim-kiem"><input type="search" name="q" placeholder="Tìm kiếm"><button type="submit">Tìm</button></form>
<a class="header__epaper" href="/bao-in">Báo in</a></div>
<nav class="menu container"><a class="menu__item menu__item--home" href="/">Trang chủ</a>{menu}</nav>
</header>
<main class="main container">
<div class="layout">
<div class="layout__left">
<article class="detail">
<ul class="breadcrumbs"><li><a href="/">Trang chủ</a></li><li><a href="/{slugify(e.section)}">{esc(e.section)}</a></li></ul>
<h1 class="detail__title">{esc(e.title)}</h1>
<div class="detail__meta"><span class="detail__author">{esc(e.author)}</span> <time class="detail__time" datetime="{e.date.isoformat()}">{vi_date(e.date)} (GMT+7)</time></div>
<div class="detail__share"><a class="share share--fb" href="https://www.facebook.com/sharer/sharer.php?u={esc(url)}">Chia sẻ Facebook</a><a class="share share--zalo" href="#">Zalo</a><button class="share share--save" type="button">Lưu tin</button></div>
<p class="detail__sapo">{esc(e.blocks[0].text)}</p>
{top}
<div class="detail__content" id="content-detail">
{body}
<p class="detail__author-bottom" style="text-align: right;"><strong>{esc(e.author)}</strong></p>{credit}
</div>
<div class="detail__tags"><span>Từ khóa:</span> {tags}</div>
{cat}
{read_more}
</article>
</div>
<aside class="layout__right col-right">
{latest}
{popular}
<div class="newsletter"><h3 class="newsletter__title">Nhận bản tin Nguyệt Giang</h3><p>Đăng ký để nhận tin tức nổi bật mỗi sáng qua email.</p><form action="/dang-ky-ban-tin" method="post"><input type="email" name="email" placeholder="Email của bạn"><button type="submit">Đăng ký</button></form></div>
</aside>
</div>
</main>
<footer class="footer">
<div class="container">
<p><strong>Báo Nguyệt Giang</strong> – Cơ quan của Đảng bộ tỉnh Nguyệt Giang</p>
<p>Giấy phép hoạt động báo điện tử số 61/GP-BTTTT. Tổng Biên tập: Trần Đình Khoa</p>
<p>Tòa soạn: 42 đường Trần Hưng Đạo, thành phố Nguyệt Giang. Đường dây nóng: 0234.3822.119</p>
<p>Thiết kế và phát triển bởi Sao Mai Media</p>
</div>
</footer>
<script src="/static/js/app.4be1d0.js" defer></script>
</body>
</html>
"""
        return page, teasers


# ----- 3. Miền Ngàn 24h: an older portal that republishes provincial papers -----------------


class MienNgan24h(Site):
    key = "mienngan24h"
    name = "Miền Ngàn 24h"
    domain = "mienngan24h.vn"
    lang = "vi"
    sep = " - "

    def path(self, e: Entry) -> str:
        return f"/{slugify(e.section)}/{e.slug}-a{e.id}.htm"

    def url(self, e: Entry) -> str:
        return "https://mienngan24h.vn" + self.path(e)

    def body(self, e: Entry, teasers: list[str]) -> str:
        out = []
        for i, b in enumerate(e.blocks):
            if b.kind == "p":
                out.append(f'<p class="Normal">{esc(b.text)}</p>')
            elif b.kind == "quote":
                out.append(f'<p class="Normal"><em>{esc(b.text)}</em></p>')
            elif b.kind == "fig":
                out.append(
                    '<table class="tplCaption" align="center" border="0" cellpadding="3" cellspacing="0"><tbody>'
                    f'<tr><td><img src="{self.image(e, i)}" alt="{esc(self.alt_for(b))}" width="500"></td></tr>'
                    f'<tr><td><p class="Image">{esc(b.text)}</p></td></tr></tbody></table>'
                )
            elif b.kind == "more":
                x = self.corpus.entries[b.ref]
                frag = f'<div class="inner-related"><a href="{esc(self.path(x))}">{esc(x.title)}</a></div>'
                out.append(frag)
                teasers.append(visible_text(frag))
        return "\n".join(out)

    def story_box(self, items: list[Entry], cls: str) -> str:
        return (
            f'<div class="box {cls}">'
            + "".join(
                f'<div class="story"><a class="story__thumb" href="{esc(self.path(x))}"><img src="https://mienngan24h.vn/Uploaded/thumb/{x.id}.jpg" alt=""></a>'
                f'<a class="story__title" href="{esc(self.path(x))}">{esc(x.title)}</a>'
                f'<p class="story__summary">{esc(excerpt(x, 220))}</p></div>'
                for x in items
            )
            + "</div>"
        )

    def render(self, e: Entry) -> tuple[str, list[str]]:
        c = self.corpus
        url = self.url(e)
        teasers: list[str] = []
        body = self.body(e, teasers)
        if e.credit:
            tail = f'<p class="author" style="text-align:right"><strong>{esc(e.author)}</strong></p>\n<div class="source-credit">{esc(e.credit)}</div>'
        else:
            tail = f'<p class="author" style="text-align:right"><strong>{esc(e.author)}</strong></p>'
        # A block with no heading at all, right under the article: the hard case.
        headless_items = [x for x in c.latest(e, 6) if x.section == e.section][:3] or c.latest(e, 3)
        headless = self.story_box(headless_items, "box-under-detail")
        zone_items = c.related(e, 6, by="section")
        zone = (
            '<div class="zone"><div class="zone-title"><span>Cùng chuyên mục</span></div>'
            + self.story_box(zone_items, "zone-list")
            + "</div>"
        )
        other = (
            '<div class="other-news"><div class="other-news__title">Tin khác</div><ul>'
            + "".join(
                f'<li><a href="{esc(self.path(x))}">{esc(x.title)}</a> <span class="date">({x.date:%d/%m})</span></li>'
                for x in c.latest(e, 10)
                if x not in zone_items and x not in headless_items
            )
            + "</ul></div>"
        )
        hot = (
            '<div class="col-right-box"><div class="title-box">Tin nổi bật</div><div class="list">'
            + "".join(f'<p><a href="{esc(self.path(x))}">{esc(x.title)}</a></p>' for x in c.popular(e, 5))
            + "</div></div>"
        )
        teasers += [visible_text(headless), visible_text(zone), visible_text(other), visible_text(hot)]
        page = f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" lang="vi" xml:lang="vi">
<head>
<meta http-equiv="Content-Type" content="text/html; charset={e.encoding}" />
<title>{esc(self.page_title(e))}</title>
<meta name="keywords" content="{esc(", ".join(e.tags))}" />
<meta name="description" content="{esc(excerpt(e, 160))}" />
<link rel="canonical" href="{esc(url)}" />
<meta property="og:title" content="{esc(e.title)}" />
<meta property="og:site_name" content="{esc(self.name)}" />
<meta property="og:url" content="{esc(url)}" />
<meta property="og:type" content="article" />
<meta property="article:published_time" content="{e.date.isoformat()}" />
<meta name="author" content="{esc(e.author)}" />
<link href="/Css/style.css?v=20190417" rel="stylesheet" type="text/css" />
</head>
<body>
<form method="post" action="{esc(self.path(e))}" id="aspnetForm">
<div id="wrapper">
<div id="header"><div class="logo"><a href="/"><img src="/Images/logo.gif" alt="Miền Ngàn 24h" /></a></div>
<div class="header-right">Hotline: 0912 345 678 | <a href="/lien-he.htm">Liên hệ quảng cáo</a></div></div>
<div id="menu"><ul>
<li><a href="/">Trang chủ</a></li><li><a href="/thoi-su.htm">Thời sự</a></li><li><a href="/kinh-te.htm">Kinh tế</a></li><li><a href="/doi-song.htm">Đời sống</a></li><li><a href="/du-lich.htm">Du lịch</a></li><li><a href="/video.htm">Video</a></li>
</ul></div>
<div id="content">
<div id="col-left">
<div class="breadcrumb"><a href="/">Trang chủ</a> » <a href="/{slugify(e.section)}.htm">{esc(e.section)}</a></div>
<div id="ctl00_cphMain_pnlDetail" class="detail">
<h1 class="title-detail">{esc(e.title)}</h1>
<div class="date-detail"><span class="date">{e.date:%d/%m/%Y %H:%M} GMT+7</span></div>
<div class="social"><a href="https://www.facebook.com/sharer/sharer.php?u={esc(url)}">Chia sẻ</a> | <a href="javascript:window.print()">In trang</a></div>
<div id="divNewsContent" class="content-detail">
{body}
{tail}
</div>
{headless}
{zone}
{other}
</div>
</div>
<div id="col-right">
{hot}
<div class="col-right-box adv"><a href="/quang-cao.htm"><img src="/Images/adv/banner-300x250.gif" alt="Quảng cáo" /></a></div>
</div>
</div>
<div id="footer"><p>Miền Ngàn 24h – Trang thông tin tổng hợp. Giấy phép số 45/GP-STTTT do Sở Thông tin và Truyền thông cấp.</p><p>Chịu trách nhiệm nội dung: Đỗ Văn Hùng. Ghi rõ nguồn khi phát hành lại thông tin từ website này.</p><p>Powered by VinaCMS 4.0</p></div>
</div>
</form>
</body>
</html>
"""
        return page, teasers


# ----- 4. The Riverside Courier: a US regional daily -------------------------------------------


class RiversideCourier(Site):
    key = "riversidecourier"
    name = "The Riverside Courier"
    domain = "www.riversidecourier.com"
    lang = "en"
    sep = " | "

    def url(self, e: Entry) -> str:
        return f"https://www.riversidecourier.com/news/{e.date:%Y/%m/%d}/{e.slug}/"

    def body(self, e: Entry, teasers: list[str]) -> str:
        out = []
        for i, b in enumerate(e.blocks):
            if b.kind in ("p", "quote"):
                out.append(f"<p>{esc(b.text)}</p>")
            elif b.kind == "fig":
                out.append(
                    f'<figure class="story-image"><div class="image-wrap"><img loading="lazy" src="{self.image(e, i)}" '
                    f'srcset="{self.image(e, i)} 1200w" alt="{esc(self.alt_for(b))}"></div>'
                    f'<figcaption class="caption">{esc(b.text)}</figcaption></figure>'
                )
            elif b.kind == "more":
                x = self.corpus.entries[b.ref]
                frag = f'<p class="related-inline"><strong>Read more:</strong> <a href="{esc(self.url(x))}">{esc(x.title)}</a></p>'
                out.append(frag)
                teasers.append(visible_text(frag))
            if i == 2 and stable(e.key) % 2 == 0:
                out.append(
                    '<aside class="inline-newsletter"><h3>Get the Morning Briefing</h3>'
                    "<p>The day's top local stories, in your inbox every weekday at 6 a.m.</p>"
                    '<form action="/newsletters/subscribe" method="post"><input type="email" name="email" placeholder="Email address">'
                    '<button type="submit">Sign up</button></form></aside>'
                )
        return "\n".join(out)

    def render(self, e: Entry) -> tuple[str, list[str]]:
        c = self.corpus
        url = self.url(e)
        teasers: list[str] = []
        body = self.body(e, teasers)
        credit = f'\n<p class="syndication-credit"><em>{esc(e.credit)}</em></p>' if e.credit else ""
        rel = c.related(e, 3, by="topic") or c.related(e, 3, by="section")
        rel = (rel + [x for x in c.latest(e, 6) if x not in rel])[:3]
        related = (
            '<section class="related-stories" aria-labelledby="related-h"><h2 id="related-h" class="section-title">Related</h2><ul class="story-list">'
            + "".join(
                f'<li class="story-list__item"><a class="story-list__headline" href="{esc(self.url(x))}">{esc(x.title)}</a>'
                f'<p class="story-list__excerpt">{esc(excerpt(x, 150, "…"))}</p></li>'
                for x in rel
            )
            + "</ul></section>"
        )
        most = (
            '<section class="rail-module most-read"><h2 class="rail-module__title">Most read</h2><ol>'
            + "".join(
                f'<li><a href="{esc(self.url(x))}?ref=most-read">{esc(x.title)}</a></li>' for x in c.popular(e, 5)
            )
            + "</ol></section>"
        )
        latest = (
            '<section class="rail-module latest"><h2 class="rail-module__title">Latest news</h2><ul>'
            + "".join(
                f'<li><a href="{esc(self.url(x))}">{esc(x.title)}</a> <time datetime="{x.date.isoformat()}">{ap_time(x.date)}</time></li>'
                for x in c.latest(e, 5)
            )
            + "</ul></section>"
        )
        teasers += [visible_text(related), visible_text(most), visible_text(latest)]
        page = f"""<!DOCTYPE html>
<html lang="en-US">
<head>
{charset_meta(e)}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(self.page_title(e))}</title>
<link rel="canonical" href="{esc(url)}">
<meta name="description" content="{esc(excerpt(e, 155, "…"))}">
<meta name="author" content="{esc(e.author)}">
<meta property="og:type" content="article">
<meta property="og:title" content="{esc(e.title)}">
<meta property="og:url" content="{esc(url)}">
<meta property="og:site_name" content="{esc(self.name)}">
<meta property="og:image" content="{self.image(e, 0)}">
<meta property="article:published_time" content="{e.date.isoformat()}">
<meta property="article:section" content="{esc(e.section)}">
<meta name="twitter:card" content="summary_large_image">
<link rel="stylesheet" href="https://www.riversidecourier.com/assets/css/site.min.css?v=812">
<script async src="https://www.riversidecourier.com/assets/js/ads.js"></script>
</head>
<body class="article-page section-{slugify(e.section)}">
<div id="cookie-banner" class="consent-banner" role="region" aria-label="Cookie consent">
<p>We use cookies and similar technologies to improve your experience, measure traffic and show personalized ads. See our <a href="/privacy/">Privacy Policy</a>.</p>
<button type="button" class="consent-accept">Accept all</button> <button type="button" class="consent-manage">Manage preferences</button>
</div>
<a class="skip-link" href="#main-content">Skip to content</a>
<header class="site-header">
<div class="site-header__inner"><a class="site-logo" href="/">The Riverside Courier</a>
<nav class="nav-primary" aria-label="Sections"><ul>
<li><a href="/news/">News</a></li><li><a href="/news/local/">Local</a></li><li><a href="/business/">Business</a></li><li><a href="/sports/">Sports</a></li><li><a href="/opinion/">Opinion</a></li><li><a href="/obituaries/">Obituaries</a></li><li><a href="/e-edition/">E-Edition</a></li>
</ul></nav>
<a class="btn-subscribe" href="/subscribe/">Subscribe for $1</a> <a class="btn-login" href="/login/">Log in</a></div>
</header>
<main id="main-content" class="layout-two-col">
<article class="story">
<header class="story-header">
<p class="kicker"><a href="/news/{slugify(e.section)}/">{esc(e.section)}</a></p>
<h1 class="headline">{esc(e.title)}</h1>
<div class="byline">By <a rel="author" href="/staff/{slugify(e.author)}/">{esc(e.author)}</a> <span class="byline__role">Staff writer</span></div>
<time class="pubdate" datetime="{e.date.isoformat()}">{ap_time(e.date)}</time>
<div class="share-tools"><a href="https://www.facebook.com/sharer/sharer.php?u={esc(url)}">Share on Facebook</a> <a href="https://twitter.com/intent/tweet?url={esc(url)}">Share on X</a> <a href="mailto:?subject={esc(e.title)}">Email</a> <button type="button" class="print">Print</button></div>
</header>
<div class="story-body" itemprop="articleBody">
{body}{credit}
</div>
<div class="story-footer"><p class="corrections">Have a news tip or see an error? <a href="/contact/">Contact the newsroom</a>.</p></div>
{related}
</article>
<aside class="rail">
{most}
{latest}
<div class="rail-module promo"><p>Support local journalism. <a href="/subscribe/">Subscribe today</a>.</p></div>
</aside>
</main>
<footer class="site-footer">
<nav><a href="/about/">About us</a> · <a href="/contact/">Contact</a> · <a href="/advertise/">Advertise</a> · <a href="/privacy/">Privacy Policy</a> · <a href="/terms/">Terms of Use</a></nav>
<p>© 2024 Riverside Courier Media LLC, 410 Water Street, Millbrook. All rights reserved.</p>
<p class="powered">Powered by Inkwell CMS</p>
</footer>
</body>
</html>
"""
        return page, teasers


# ----- 5. The Coastline Post: a UK weekly with generic class names ----------------------------


class CoastlinePost(Site):
    key = "coastlinepost"
    name = "The Coastline Post"
    domain = "www.coastlinepost.co.uk"
    lang = "en"
    sep = " - "

    def path(self, e: Entry) -> str:
        return f"/{slugify(e.section)}/{e.slug}-{e.id}"

    def url(self, e: Entry) -> str:
        return "https://www.coastlinepost.co.uk" + self.path(e)

    def body(self, e: Entry, teasers: list[str]) -> str:
        out = []
        for i, b in enumerate(e.blocks):
            if b.kind in ("p", "quote"):
                out.append(f"<p>{esc(b.text)}</p>")
            elif b.kind == "fig":
                out.append(
                    f'<div class="img"><img src="{self.image(e, i)}" alt="{esc(self.alt_for(b))}">'
                    f'<p class="caption">{esc(b.text)}</p></div>'
                )
            elif b.kind == "more":
                x = self.corpus.entries[b.ref]
                frag = (
                    '<div class="box box-inline"><div class="box-title">Read more</div>'
                    f'<div class="list"><a href="{esc(self.path(x))}">{esc(x.title)}</a></div></div>'
                )
                out.append(frag)
                teasers.append(visible_text(frag))
        return "\n".join(out)

    def render(self, e: Entry) -> tuple[str, list[str]]:
        c = self.corpus
        url = self.url(e)
        teasers: list[str] = []
        body = self.body(e, teasers)
        credit = f'\n<p class="syndication"><i>{esc(e.credit)}</i></p>' if e.credit else ""
        more_from = (
            f'<div class="box"><div class="box-title">More from {esc(e.section)}</div><div class="list">'
            + "".join(
                f'<div class="list-item"><a href="{esc(self.path(x))}">{esc(x.title)}</a><p>{esc(excerpt(x, 120))}</p></div>'
                for x in c.related(e, 5, by="section")
            )
            + "</div></div>"
        )
        popular = (
            '<div class="box"><div class="box-title">Most popular</div><ol class="list">'
            + "".join(f'<li><a href="{esc(self.path(x))}">{esc(x.title)}</a></li>' for x in c.popular(e, 5))
            + "</ol></div>"
        )
        cards = ""
        if stable(e.key, "cards") % 3 != 0:
            # "You may also like", printed without any heading.
            items = [x for x in c.latest(e, 7) if x.section != e.section][:3] or c.latest(e, 3)
            cards = (
                '<div class="grid cards">'
                + "".join(
                    f'<div class="card"><a href="{esc(self.path(x))}"><img src="https://www.coastlinepost.co.uk/img/{x.id}-thumb.jpg" alt=""></a>'
                    f'<h4><a href="{esc(self.path(x))}">{esc(x.title)}</a></h4><p>{esc(excerpt(x, 100))}</p></div>'
                    for x in items
                )
                + "</div>"
            )
            teasers.append(visible_text(cards))
        teasers += [visible_text(more_from), visible_text(popular)]
        network = ""
        if stable(e.key, "network") % 2 == 0:
            # The sister paper's stories, bare headline links at the foot of the text, with
            # no heading: only their shape (and the other site) says they are not the story.
            courier = RiversideCourier(c)
            pool = sorted(c.site_items(courier.key), key=lambda x: (x.date, x.key))
            start = stable(e.key, "network-items") % (len(pool) - 2)
            items = pool[start : start + 3]
            network = "\n" + "\n".join(
                f'<p class="network-link"><a href="{esc(courier.url(x))}">{esc(x.title)}</a></p>' for x in items
            )
            teasers += [x.title for x in items]
        description = e.dek or excerpt(e, 150)
        standfirst = f'\n<h2 class="standfirst">{esc(e.dek)}</h2>' if e.dek else ""
        page = f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
{charset_meta(e)}
<title>{esc(self.page_title(e))}</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="description" content="{esc(description)}">
<meta name="author" content="{esc(e.author)}">
<meta name="article:published_time" content="{e.date.isoformat()}">
<meta property="og:title" content="{esc(e.title)}">
<meta property="og:site_name" content="{esc(self.name)}">
<meta property="og:url" content="{esc(url)}">
<meta property="og:type" content="article">
<link rel="canonical" href="{esc(url)}">
<link rel="stylesheet" href="/css/main.css?20240911">
</head>
<body>
<div class="wrapper">
<div id="header">
<div class="top"><a href="/" class="logo"><img src="/img/logo-coastline-post.png" alt="The Coastline Post"></a>
<div class="weather">Saltmarsh Bay 11°C, showers</div></div>
<div id="nav"><ul class="list">
<li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li><li><a href="/business">Business</a></li><li><a href="/whats-on">What's On</a></li><li><a href="/environment">Environment</a></li><li><a href="/announcements">Announcements</a></li><li><a href="/jobs">Jobs</a></li>
</ul></div>
</div>
<div class="breadcrumb"><a href="/">Home</a> &gt; <a href="/{slugify(e.section)}">{esc(e.section)}</a></div>
<div class="row">
<div class="col-left">
<div class="article">
<h1 class="title">{esc(e.title)}</h1>{standfirst}
<div class="meta"><span class="author">By {esc(e.author)}</span> <span class="date">{uk_time(e.date)}</span></div>
<div class="share"><span>Share this article</span> <a href="https://www.facebook.com/sharer/sharer.php?u={esc(url)}">Facebook</a> <a href="https://twitter.com/intent/tweet?url={esc(url)}">X</a> <a href="https://wa.me/?text={esc(url)}">WhatsApp</a> <a href="mailto:?body={esc(url)}">Email</a></div>
<div class="article-text">
{body}{credit}{network}
</div>
<div class="share"><span>Share this article</span> <a href="https://www.facebook.com/sharer/sharer.php?u={esc(url)}">Facebook</a> <a href="https://twitter.com/intent/tweet?url={esc(url)}">X</a> <a href="https://wa.me/?text={esc(url)}">WhatsApp</a></div>
</div>
{cards}
<div class="box comments"><div class="box-title">Comments</div><p>Comments are closed on this article.</p></div>
</div>
<div class="col-right">
{more_from}
{popular}
<div class="box box-newsletter"><div class="box-title">Newsletter</div><p>Get the Coastline Post headlines every Friday.</p><form action="/newsletter" method="post"><input type="email" name="email" placeholder="Your email"><button>Subscribe</button></form></div>
</div>
</div>
<div id="footer">
<p>The Coastline Post, 3 Quay Street, Saltmarsh Bay, West Carrow. Registered in England No. 04417723.</p>
<p>The Coastline Post is a member of the Independent Press Standards Organisation. <a href="/privacy">Privacy notice</a> | <a href="/cookies">Cookie settings</a></p>
<p>Website by Harbourside Digital</p>
</div>
</div>
</body>
</html>
"""
        return page, teasers


# ----- 6. Le Journal des Vallées: a French regional daily ------------------------------------


class JournalDesVallees(Site):
    key = "journaldesvallees"
    name = "Le Journal des Vallées"
    domain = "www.journaldesvallees.fr"
    lang = "fr"
    sep = " - "

    def path(self, e: Entry) -> str:
        return f"/{slugify(e.section)}/{e.slug}_{e.id}"

    def url(self, e: Entry) -> str:
        return "https://www.journaldesvallees.fr" + self.path(e)

    def body(self, e: Entry, teasers: list[str]) -> str:
        out = []
        for i, b in enumerate(e.blocks):
            if b.kind == "p":
                out.append(f"<p>{esc(b.text)}</p>")
            elif b.kind == "quote":
                out.append(f"<blockquote><p>{esc(b.text)}</p></blockquote>")
            elif b.kind == "fig":
                out.append(
                    f'<figure class="illustration"><img src="{self.image(e, i)}" alt="{esc(self.alt_for(b))}" width="960" height="640">'
                    f"<figcaption>{esc(b.text)}</figcaption></figure>"
                )
            elif b.kind == "more":
                x = self.corpus.entries[b.ref]
                frag = (
                    '<aside class="encadre lire-aussi"><p class="encadre__titre">À lire aussi</p>'
                    f'<ul><li><a href="{esc(self.path(x))}">{esc(x.title)}</a></li></ul></aside>'
                )
                out.append(frag)
                teasers.append(visible_text(frag))
        return "\n".join(out)

    def render(self, e: Entry) -> tuple[str, list[str]]:
        c = self.corpus
        url = self.url(e)
        teasers: list[str] = []
        body = self.body(e, teasers)
        rubrique = (
            '<section class="meme-rubrique"><h2 class="bloc-titre">Dans la même rubrique</h2><div class="liste-articles">'
            + "".join(
                f'<article class="carte"><h3><a href="{esc(self.path(x))}">{esc(x.title)}</a></h3><p class="chapo">{esc(excerpt(x, 180, "…"))}</p></article>'
                for x in c.related(e, 4, by="section")
            )
            + "</div></section>"
        )
        plus_lus = (
            '<div class="bloc plus-lus"><h2 class="bloc-titre">Les plus lus</h2><ol>'
            + "".join(f'<li><a href="{esc(self.path(x))}">{esc(x.title)}</a></li>' for x in c.popular(e, 5))
            + "</ol></div>"
        )
        fil = (
            '<div class="bloc fil-info"><h2 class="bloc-titre">Le fil info</h2><ul>'
            + "".join(
                f'<li><span class="heure">{x.date:%Hh%M}</span> <a href="{esc(self.path(x))}">{esc(x.title)}</a></li>'
                for x in c.latest(e, 6)
            )
            + "</ul></div>"
        )
        teasers += [visible_text(rubrique), visible_text(plus_lus), visible_text(fil)]
        place = f'<p class="surtitre">{esc(e.place)}</p>\n' if e.place else ""
        page = f"""<!DOCTYPE html>
<html lang="fr">
<head>
{charset_meta(e)}
<title>{esc(self.page_title(e))}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="{esc(excerpt(e, 160, "…"))}">
<meta name="author" content="{esc(e.author)}">
<link rel="canonical" href="{esc(url)}">
<meta property="og:title" content="{esc(e.title)}">
<meta property="og:site_name" content="{esc(self.name)}">
<meta property="og:url" content="{esc(url)}">
<meta property="og:type" content="article">
<meta property="og:locale" content="fr_FR">
<meta property="article:published_time" content="{e.date.isoformat()}">
<link rel="stylesheet" href="/squelettes/css/jdv.css?1731">
</head>
<body class="page-article">
<div id="bandeau-rgpd" class="rgpd"><p>Avec votre accord, nous et nos partenaires utilisons des cookies pour stocker et accéder à des informations sur votre appareil, mesurer l'audience et personnaliser la publicité.</p><button type="button">Accepter</button> <button type="button">Paramétrer</button> <a href="#" class="continuer">Continuer sans accepter</a></div>
<header class="entete">
<a class="logo" href="/"><img src="/squelettes/img/logo-jdv.svg" alt="Le Journal des Vallées"></a>
<nav class="rubriques"><ul><li><a href="/actualite">Actualité</a></li><li><a href="/vallee">Vallée</a></li><li><a href="/economie">Économie</a></li><li><a href="/sports">Sports</a></li><li><a href="/loisirs">Loisirs</a></li><li><a href="/avis-de-deces">Avis de décès</a></li></ul></nav>
<a class="abonnement" href="/abonnement">Je m'abonne</a>
</header>
<div class="page">
<main class="colonne-principale">
<article class="article-detail" itemscope itemtype="https://schema.org/NewsArticle">
{place}<h1 itemprop="headline">{esc(e.title)}</h1>
<div class="infos"><span class="signature" itemprop="author">Par {esc(e.author)}</span> <time itemprop="datePublished" datetime="{e.date.isoformat()}">Publié le {e.date:%d/%m/%Y à %Hh%M}</time></div>
<div class="texte" itemprop="articleBody">
{body}
</div>
<div class="partage"><span>Partager :</span> <a href="https://www.facebook.com/sharer/sharer.php?u={esc(url)}">Facebook</a> <a href="https://twitter.com/intent/tweet?url={esc(url)}">X</a> <a href="https://www.linkedin.com/sharing/share-offsite/?url={esc(url)}">LinkedIn</a> <a href="mailto:?subject={esc(e.title)}">Envoyer par mail</a></div>
{rubrique}
</article>
</main>
<aside class="colonne">
{plus_lus}
{fil}
<div class="bloc abonnement-promo"><p>Abonnez-vous dès 1 euro le premier mois et accédez à tous nos articles.</p><a href="/abonnement">Je découvre les offres</a></div>
</aside>
</div>
<footer class="pied">
<p>Le Journal des Vallées – 12, avenue de la Libération, Saint-Aubin-sur-Sarlonne</p>
<p><a href="/mentions-legales">Mentions légales</a> | <a href="/contact">Contact</a> | <a href="/publicite">Publicité</a> | <a href="/cookies">Gestion des cookies</a></p>
<p>Propulsé par Rédac CMS</p>
</footer>
</body>
</html>
"""
        return page, teasers


# ----- 7. Diario del Altiplano: a Spanish-language regional daily ----------------------------


class DiarioDelAltiplano(Site):
    key = "diariodelaltiplano"
    name = "Diario del Altiplano"
    domain = "diariodelaltiplano.com"
    lang = "es"
    sep = " | "

    def path(self, e: Entry) -> str:
        return f"/{slugify(e.section)}/{e.date:%Y/%m/%d}/{e.slug}.html"

    def url(self, e: Entry) -> str:
        return "https://diariodelaltiplano.com" + self.path(e)

    def body(self, e: Entry, teasers: list[str]) -> str:
        out = []
        for i, b in enumerate(e.blocks):
            if b.kind in ("p", "quote"):
                out.append(f"<p>{esc(b.text)}</p>")
            elif b.kind == "fig":
                out.append(
                    f'<div class="foto"><img src="{self.image(e, i)}" alt="{esc(self.alt_for(b))}">'
                    f'<div class="epigrafe">{esc(b.text)}</div></div>'
                )
            elif b.kind == "more":
                x = self.corpus.entries[b.ref]
                frag = (
                    f'<p class="lea-tambien"><b>Lea también:</b> <a href="{esc(self.path(x))}">{esc(x.title)}</a></p>'
                )
                out.append(frag)
                teasers.append(visible_text(frag))
        return "\n".join(out)

    def render(self, e: Entry) -> tuple[str, list[str]]:
        c = self.corpus
        url = self.url(e)
        teasers: list[str] = []
        body = self.body(e, teasers)
        if stable(e.key, "chunks") % 2 == 0:
            # The story in two chunks with an advert between them, as ad-funded sites print it.
            parts = body.split("\n")
            half = len(parts) // 2
            body = "\n".join(
                [*parts[:half], '</div>\n<div class="publicidad"><span>Publicidad</span></div>\n<div class="cuerpo">', *parts[half:]]
            )
        rel_items = c.related(e, 3, by="topic") or c.related(e, 3, by="section")
        relacionadas = (
            '<div class="relacionadas"><h3>Noticias relacionadas</h3><ul>'
            + "".join(
                f'<li><a href="{esc(self.path(x))}">{esc(x.title)}</a><p class="resumen">{esc(excerpt(x, 200))}</p></li>'
                for x in rel_items
            )
            + "</ul></div>"
        )
        interesar = ""
        if stable(e.key, "int") % 2 == 0:
            items = [x for x in c.latest(e, 8) if x not in rel_items][:4]
            interesar = (
                '<div class="te-puede-interesar"><h3>Te puede interesar</h3>'
                + "".join(
                    f'<div class="nota-chica"><a href="{esc(self.path(x))}">{esc(x.title)}</a><span class="bajada">{esc(excerpt(x, 140))}</span></div>'
                    for x in items
                )
                + "</div>"
            )
            teasers.append(visible_text(interesar))
        leido = (
            '<div class="modulo mas-leido"><h3>Lo más leído</h3><ol>'
            + "".join(f'<li><a href="{esc(self.path(x))}">{esc(x.title)}</a></li>' for x in c.popular(e, 5))
            + "</ol></div>"
        )
        ultimas = (
            '<div class="modulo ultimas"><h3>Últimas noticias</h3><ul>'
            + "".join(
                f'<li><a href="{esc(self.path(x))}">{esc(x.title)}</a><p>{esc(excerpt(x, 90))}</p></li>'
                for x in c.latest(e, 5)
            )
            + "</ul></div>"
        )
        teasers += [visible_text(relacionadas), visible_text(leido), visible_text(ultimas)]
        fecha = f"{e.date.day} de {ES_MONTHS[e.date.month - 1]} de {e.date.year}"
        page = f"""<!DOCTYPE html>
<html lang="es">
<head>
{charset_meta(e)}
<title>{esc(self.page_title(e))}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="{esc(excerpt(e, 160))}">
<link rel="canonical" href="{esc(url)}">
<meta property="og:title" content="{esc(e.title)}">
<meta property="og:site_name" content="{esc(self.name)}">
<meta property="og:url" content="{esc(url)}">
<meta property="og:type" content="article">
<meta property="article:published_time" content="{e.date.isoformat()}">
<meta property="article:author" content="{esc(e.author)}">
<link rel="stylesheet" href="/css/estilos.css?v=3">
</head>
<body>
<div class="aviso-cookies" id="aviso-cookies"><p>Este sitio utiliza cookies propias y de terceros para mejorar su experiencia de navegación.</p><button type="button">Aceptar</button></div>
<header id="cabecera">
<div class="fecha-hoy">{fecha}</div>
<a class="logo" href="/">Diario del Altiplano</a>
<nav id="menu"><ul><li><a href="/">Portada</a></li><li><a href="/ciudad/">Ciudad</a></li><li><a href="/provincias/">Provincias</a></li><li><a href="/economia/">Economía</a></li><li><a href="/cultura/">Cultura</a></li><li><a href="/deportes/">Deportes</a></li><li><a href="/opinion/">Opinión</a></li></ul></nav>
</header>
<div class="contenedor">
<div class="principal">
<div class="nota">
<span class="seccion"><a href="/{slugify(e.section)}/">{esc(e.section)}</a></span>
<h1 class="titulo">{esc(e.title)}</h1>
<div class="firma">Por <b>{esc(e.author)}</b> | <time datetime="{e.date.isoformat()}">{fecha}</time></div>
<div class="cuerpo">
{body}
</div>
<div class="compartir">Compartir en: <a href="https://wa.me/?text={esc(url)}">WhatsApp</a> <a href="https://www.facebook.com/sharer/sharer.php?u={esc(url)}">Facebook</a> <a href="https://twitter.com/intent/tweet?url={esc(url)}">X</a></div>
{relacionadas}
{interesar}
</div>
</div>
<div class="lateral">
{leido}
{ultimas}
<div class="modulo suscripcion"><h3>Suscríbase</h3><p>Reciba la edición digital cada mañana en su correo.</p><form action="/suscripcion" method="post"><input type="email" name="correo" placeholder="Correo electrónico"><button type="submit">Enviar</button></form></div>
</div>
</div>
<footer id="pie">
<p>Diario del Altiplano © 2024 – Todos los derechos reservados. Calle Sucre 318, Villa Paredes.</p>
<p>Desarrollado por Andes Web</p>
</footer>
</body>
</html>
"""
        return page, teasers


SITES = [BaoHaLam, BaoNguyetGiang, MienNgan24h, RiversideCourier, CoastlinePost, JournalDesVallees, DiarioDelAltiplano]


# --------------------------------------------------------------------------- build


def build() -> dict[str, bytes]:
    """Every output file, path relative to this folder -> bytes."""
    entries: list[Entry] = []
    for path in sorted(SRC.glob("*.txt")):
        entries += parse_source(path.read_text(encoding="utf-8"))
    by_key = resolve(entries)
    corpus = Corpus(by_key)
    sites = {cls.key: cls(corpus) for cls in SITES}
    files: dict[str, bytes] = {}
    manifest: list[dict[str, object]] = []
    for e in sorted(corpus.pages(), key=lambda x: (x.site, x.date, x.key)):
        site = sites[e.site]
        page, teasers = site.render(e)
        paras = body_paragraphs(e)
        check_page(e, page, paras + captions(e), teasers)
        rel = f"{e.site}/{e.slug}"
        files[rel + ".html"] = encode_page(page, e.encoding)
        files[rel + ".txt"] = ("\n\n".join(paras) + "\n").encode("utf-8")
        url = site.url(e) + (f"?{e.query}" if e.query else "")
        record: dict[str, object] = {
            "path": rel + ".html",
            "expected": rel + ".txt",
            "site": e.site,
            "site_name": site.name,
            "url": url,
            "canonical_url": site.url(e),
            "language": site.lang,
            "title": e.title,
            "encoding": e.encoding,
            "published": e.date.isoformat(),
            "author": e.author,
            "story": e.story,
            "topic": e.topic,
            "variant": e.variant,
        }
        if e.base:
            base = by_key[e.base]
            record["duplicate_of"] = f"{base.site}/{base.slug}.html"
        if e.source:
            record["source_url"] = site.url(e)
        if e.credit:
            record["credit"] = e.credit
        record["captions"] = captions(e)
        record["teasers"] = teasers
        manifest.append(record)
    files["manifest.json"] = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    return files


def check_page(e: Entry, page: str, paras: list[str], teasers: list[str]) -> None:
    """Guard the generator: every expected paragraph and teaser line is visible on the page."""
    text = visible_text(page)
    lines = set(text.splitlines())
    for p in paras:
        if p not in lines:
            raise AssertionError(f"{e.key}: paragraph not visible as a block: {p[:60]!r}")
    for t in teasers:
        for line in t.splitlines():
            if line not in text:
                raise AssertionError(f"{e.key}: teaser line not visible: {line[:60]!r}")
    body = [p for p in paras if p not in captions(e)]
    words = sum(len(p.split()) for p in body)
    if not 120 <= words <= 700:
        raise AssertionError(f"{e.key}: body has {words} words, want 120-700")
    if not 3 <= len(body) <= 12:
        raise AssertionError(f"{e.key}: body has {len(paras)} paragraphs, want 4-12")


def main(argv: list[str]) -> int:
    files = build()
    if "--check" in argv:
        stale = [p for p, data in files.items() if not (HERE / p).is_file() or (HERE / p).read_bytes() != data]
        for p in stale:
            print(f"stale: {p}", file=sys.stderr)
        return 1 if stale else 0
    for rel, data in files.items():
        target = HERE / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    print(f"wrote {len(files)} files ({sum(1 for p in files if p.endswith('.html'))} pages)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
