#!/usr/bin/env python3
"""Build the two static demo sites served by `newsflow demo` (standard library only).

    python demo/build.py          # rewrite sites/ and expected.json
    python demo/build.py --check  # fail if the files on disk are stale

Texts live in `src/stories.txt` (format: `## page <key>`, `field: value` lines, a blank
line, one paragraph per line; `! fig full|prefix:<words> :: caption`, `! quote :: text`;
`of: <key>` republishes another entry's text). Every absolute URL is written with the
literal `{{BASE}}`, which `SiteServer` replaces with http://127.0.0.1:PORT.

The build also checks the demo's promise: the phrase "Chính quyền thân thiện" is in the
body of exactly one article, while every other page carries it in a teaser block, so a
search for "chinh quyen than thien" finds one story once teasers are cleaned away.
"""

# ruff: noqa: E501  -- the HTML templates keep one element per line, as the pages print them

from __future__ import annotations

import html
import json
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
SITES = HERE / "sites"
BASE = "{{BASE}}"
PHRASE = "chinh quyen than thien"


@dataclass
class Entry:
    key: str
    site: str
    slug: str
    title: str
    date: datetime
    section: str
    author: str = ""
    credit: str = ""
    of: str = ""
    blocks: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, text, alt)


def parse(text: str) -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    for chunk in re.split(r"^## ", text, flags=re.M)[1:]:
        head, _, body = chunk.partition("\n\n")
        lines = head.splitlines()
        key = lines[0].split()[1]
        meta = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        blocks = []
        for line in body.splitlines():
            line = unicodedata.normalize("NFC", line.strip())
            if not line or line.startswith("#"):
                continue
            if line.startswith("! "):
                directive, _, arg = line[2:].partition(" :: ")
                words = directive.split(None, 1)
                blocks.append((words[0], arg, words[1] if len(words) > 1 else ""))
            else:
                blocks.append(("p", line, ""))
        out[key] = Entry(
            key=key,
            site=meta["site"],
            slug=meta["slug"],
            title=unicodedata.normalize("NFC", meta["title"]),
            date=datetime.fromisoformat(meta["date"]),
            section=meta["section"],
            author=meta.get("author", ""),
            credit=meta.get("credit", ""),
            of=meta.get("of", ""),
            blocks=blocks,
        )
    for e in out.values():
        if e.of:
            base = out[e.of]
            e.blocks, e.author = list(base.blocks), base.author
    return out


def esc(s: str) -> str:
    return html.escape(s, quote=True)


def fold(s: str) -> str:
    s = unicodedata.normalize("NFD", s.replace("đ", "d").replace("Đ", "D"))
    s = "".join(c for c in s if not unicodedata.combining(c)).lower()
    return " ".join(re.findall(r"\w+", s))


def body_text(e: Entry) -> list[str]:
    return [text for kind, text, _ in e.blocks if kind in ("p", "quote", "fig")]


def excerpt(e: Entry, limit: int) -> str:
    text = " ".join(t for k, t, _ in e.blocks if k in ("p", "quote"))
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:– ") + "..."


def alt(kind_alt: str, caption: str) -> str:
    return kind_alt[len("prefix:") :] if kind_alt.startswith("prefix:") else caption


# --------------------------------------------------------------------------- Báo Sơn Nguyên


VN_NAME = "Báo Sơn Nguyên"


def vn_path(e: Entry) -> str:
    return f"tin-tuc/{e.slug}.html"


def vn_url(e: Entry) -> str:
    return f"{BASE}/{vn_path(e)}"


def vn_teasers(heading: str, cls: str, items: list[Entry]) -> str:
    rows = "\n".join(
        f'<div class="item-news"><h3 class="title-news"><a href="{vn_url(x)}">{esc(x.title)} – {VN_NAME}</a></h3>'
        f'<p class="sapo-news">{esc(excerpt(x, 300))}</p></div>'
        for x in items
    )
    return f'<div class="box-related {cls}">\n<h4 class="box-title">{esc(heading)}</h4>\n{rows}\n</div>'


def render_vn(e: Entry, site: list[Entry]) -> str:
    others = sorted((x for x in site if x.key != e.key), key=lambda x: x.date, reverse=True)
    by_gap = sorted(others, key=lambda x: abs((x.date - e.date).total_seconds()))
    featured = sorted(others, key=lambda x: (x.key != "v1", x.date))[:4]  # the editors pin v1
    blocks = [
        vn_teasers("Cùng chủ đề", "cung-chu-de", by_gap[:3]),
        vn_teasers("Cùng tác giả", "cung-tac-gia", [x for x in others if x.author == e.author] + by_gap[3:4]),
        vn_teasers("Cùng chuyên mục", "cung-chuyen-muc", others),
    ]
    body = []
    for i, (kind, text, a) in enumerate(e.blocks):
        if kind == "p":
            body.append(f'<p style="text-align: justify;">{esc(text)}</p>')
        elif kind == "quote":
            body.append(f"<blockquote><p>{esc(text)}</p></blockquote>")
        elif kind == "fig":
            body.append(
                f'<figure class="image aligncenter"><img src="{BASE}/anh/{e.slug[:30]}-{i}.jpg" alt="{esc(alt(a, text))}" width="800" height="533">'
                f"<figcaption>{esc(text)}</figcaption></figure>"
            )
    url = vn_url(e)
    latest = "".join(
        f'<li><a href="{vn_url(x)}">{esc(x.title)}</a><span class="time">{x.date:%H:%M %d/%m/%Y}</span>'
        f'<p class="sapo">{esc(excerpt(x, 160))}</p></li>'
        for x in others
    )
    hot = "".join(f'<li><a href="{vn_url(x)}">{esc(x.title)}</a></li>' for x in featured)
    return f"""<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(e.title)} – {VN_NAME}</title>
<link rel="canonical" href="{url}">
<meta property="og:type" content="article">
<meta property="og:title" content="{esc(e.title)}">
<meta property="og:site_name" content="{VN_NAME}">
<meta property="og:url" content="{url}">
<meta property="article:published_time" content="{e.date.isoformat()}">
<meta property="article:section" content="{esc(e.section)}">
<meta name="author" content="{esc(e.author)}">
<link rel="alternate" type="application/rss+xml" title="{VN_NAME}" href="{BASE}/feed.xml">
</head>
<body class="single-post">
<div class="topbar"><span class="powered">Powered by Techcity</span> <span class="today">{e.date:%d/%m/%Y}</span></div>
<header class="site-header">
<a class="logo" href="{BASE}/"><img src="{BASE}/anh/logo.png" alt="{VN_NAME}"></a>
<nav class="main-menu"><ul><li><a href="{BASE}/">Trang chủ</a></li><li><a href="{BASE}/">Thời sự</a></li><li><a href="{BASE}/">Chính trị</a></li><li><a href="{BASE}/">Kinh tế</a></li><li><a href="{BASE}/">Xã hội</a></li><li><a href="{BASE}/">Văn hóa – Du lịch</a></li></ul></nav>
</header>
<div class="container">
<main class="content-area">
<article class="post">
<h1 class="entry-title">{esc(e.title)}</h1>
<div class="entry-meta"><time datetime="{e.date.isoformat()}">{e.date:%d/%m/%Y %H:%M}</time> <span class="author">{esc(e.author)}</span></div>
<div class="share"><a href="https://www.facebook.com/sharer.php?u={url}">Facebook</a> <a href="https://sp.zalo.me/share_inline?url={url}">Zalo</a></div>
<div class="entry-content">
{chr(10).join(body)}
<p style="text-align: right;"><strong>{esc(e.author.upper())}</strong></p>
<p class="source">Nguồn: {url}</p>
</div>
</article>
{blocks[0]}
{blocks[1]}
{blocks[2]}
</main>
<aside class="sidebar">
<section class="widget"><h4 class="widget-title">Tin nổi bật</h4><ul>{hot}</ul></section>
<section class="widget"><h4 class="widget-title">Tin mới nhất</h4><ul>{latest}</ul></section>
</aside>
</div>
<footer class="site-footer">
<p><strong>BÁO SƠN NGUYÊN</strong> – Cơ quan của Đảng bộ tỉnh Sơn Nguyên</p>
<p>Địa chỉ: Số 8 đường Trần Phú, thành phố Sơn Nguyên. Ghi rõ nguồn “{VN_NAME}” khi phát hành lại thông tin từ website này.</p>
<p>Powered by Techcity</p>
</footer>
</body>
</html>
"""


def rss(site: list[Entry]) -> str:
    items = "\n".join(
        f"""<item>
<title>{esc(x.title)}</title>
<link>{vn_url(x)}</link>
<guid isPermaLink="true">{vn_url(x)}</guid>
<pubDate>{format_datetime(x.date)}</pubDate>
<category>{esc(x.section)}</category>
<description>{esc(excerpt(x, 200))}</description>
</item>"""
        for x in sorted(site, key=lambda x: x.date, reverse=True)
    )
    newest = max(x.date for x in site)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
<title>{VN_NAME}</title>
<link>{BASE}/</link>
<atom:link href="{BASE}/feed.xml" rel="self" type="application/rss+xml"/>
<description>Tin tức tỉnh Sơn Nguyên</description>
<language>vi</language>
<lastBuildDate>{format_datetime(newest)}</lastBuildDate>
{items}
</channel>
</rss>
"""


# --------------------------------------------------------------------------- The Highland Herald


EN_NAME = "The Highland Herald"


def en_path(e: Entry) -> str:
    return f"tieng-viet/{e.slug}.html" if e.of else f"news/{e.slug}.html"


def en_url(e: Entry) -> str:
    return f"{BASE}/{en_path(e)}"


def render_en(e: Entry, site: list[Entry], partner: list[Entry]) -> str:
    others = sorted((x for x in site if x.key != e.key), key=lambda x: x.date, reverse=True)
    vi = bool(e.of)
    related = [x for x in others if x.section == e.section][:3] or others[:3]
    related = (related + [x for x in others if x not in related])[:3]
    most_read = sorted(others, key=lambda x: x.slug)[:4]
    body = []
    for i, (kind, text, a) in enumerate(e.blocks):
        if kind in ("p", "quote"):
            body.append(f"<p>{esc(text)}</p>")
        elif kind == "fig":
            body.append(
                f'<figure><img src="{BASE}/media/{e.slug[:30]}-{i}.jpg" alt="{esc(alt(a, text))}">'
                f"<figcaption>{esc(text)}</figcaption></figure>"
            )
    if e.credit:
        body.append(f'<p class="republished"><em>{esc(e.credit)}</em></p>')
    url = en_url(e)
    rel_html = "".join(
        f'<li><a href="{en_url(x)}">{esc(x.title)}</a><p>{esc(excerpt(x, 140))}</p></li>' for x in related
    )
    most_html = "".join(f'<li><a href="{en_url(x)}">{esc(x.title)}</a></li>' for x in most_read)
    partner_html = "".join(
        f'<li lang="vi"><a href="https://baosonnguyen.vn/{vn_path(x)}">{esc(x.title)}</a><p>{esc(excerpt(x, 200))}</p></li>'
        for x in partner
    )
    labels = (
        ("Tin liên quan", "Đọc nhiều", "Từ đối tác: Báo Sơn Nguyên", "Chia sẻ")
        if vi
        else ("Related", "Most read", "From our partner: Báo Sơn Nguyên", "Share")
    )
    byline = f"Theo {esc(e.author)}, Báo Sơn Nguyên" if vi else f"By {esc(e.author)}"
    return f"""<!DOCTYPE html>
<html lang="{"vi" if vi else "en"}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(e.title)} | {EN_NAME}</title>
<link rel="canonical" href="{url}">
<meta property="og:type" content="article">
<meta property="og:title" content="{esc(e.title)}">
<meta property="og:site_name" content="{EN_NAME}">
<meta property="og:url" content="{url}">
<meta property="article:published_time" content="{e.date.isoformat()}">
<meta name="author" content="{esc(e.author)}">
<link rel="alternate" type="application/atom+xml" title="{EN_NAME}" href="{BASE}/feed.xml">
</head>
<body>
<div class="cookie-notice"><p>This site uses cookies to count visits. <button type="button">OK</button></p></div>
<header class="masthead">
<a class="brand" href="{BASE}/">{EN_NAME}</a>
<p class="tagline">News from Son Nguyen and the northern highlands, in English and Vietnamese</p>
<nav><a href="{BASE}/">Home</a> <a href="{BASE}/">Travel</a> <a href="{BASE}/">Business</a> <a href="{BASE}/">Environment</a> <a href="{BASE}/">Tiếng Việt</a></nav>
</header>
<div class="page">
<main>
<article class="article">
<p class="section-label">{esc(e.section)}</p>
<h1>{esc(e.title)}</h1>
<p class="byline">{byline} · <time datetime="{e.date.isoformat()}">{e.date:%d %b %Y, %H:%M}</time></p>
<div class="article-body">
{chr(10).join(body)}
</div>
<div class="share-bar">{labels[3]}: <a href="https://www.facebook.com/sharer.php?u={url}">Facebook</a> <a href="https://twitter.com/intent/tweet?url={url}">X</a></div>
</article>
<section class="rail related"><h2>{labels[0]}</h2><ul>{rel_html}</ul></section>
</main>
<aside class="sidebar">
<section class="rail most-read"><h2>{labels[1]}</h2><ol>{most_html}</ol></section>
<section class="rail partner"><h2>{labels[2]}</h2><ul>{partner_html}</ul></section>
<div class="newsletter"><h3>Highland Herald Weekly</h3><p>Our best stories every Friday.</p><form><input type="email" placeholder="you@example.com"><button>Sign up</button></form></div>
</aside>
</div>
<footer><p>© 2025 {EN_NAME}. Independent bilingual news.</p><p>Powered by Inkwell CMS</p></footer>
</body>
</html>
"""


def atom(site: list[Entry]) -> str:
    entries = "\n".join(
        f"""<entry{' xml:lang="vi"' if x.of else ""}>
<id>{en_url(x)}</id>
<title>{esc(x.title)}</title>
<link rel="alternate" type="text/html" href="{en_url(x)}"/>
<published>{x.date.isoformat()}</published>
<updated>{x.date.isoformat()}</updated>
<author><name>{esc(x.author)}</name></author>
<category term="{esc(x.section)}"/>
<summary>{esc(excerpt(x, 200))}</summary>
</entry>"""
        for x in sorted(site, key=lambda x: x.date, reverse=True)
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
<id>{BASE}/</id>
<title>{EN_NAME}</title>
<subtitle>News from Son Nguyen and the northern highlands</subtitle>
<link rel="self" type="application/atom+xml" href="{BASE}/feed.xml"/>
<link rel="alternate" type="text/html" href="{BASE}/"/>
<updated>{max(x.date for x in site).isoformat()}</updated>
{entries}
</feed>
"""


def index(name: str, lang: str, items: list[tuple[str, str]]) -> str:
    links = "\n".join(f'<li><a href="{BASE}/{path}">{esc(title)}</a></li>' for path, title in items)
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head><meta charset="utf-8"><title>{esc(name)}</title><link rel="alternate" href="{BASE}/feed.xml"></head>
<body><h1>{esc(name)}</h1><ul>
{links}
</ul></body>
</html>
"""


# --------------------------------------------------------------------------- build and check


def build() -> dict[str, bytes]:
    entries = parse((HERE / "src" / "stories.txt").read_text(encoding="utf-8"))
    vn = [e for e in entries.values() if e.site == "baosonnguyen"]
    en = [e for e in entries.values() if e.site == "highlandherald"]
    partner = [entries["v1"], entries["v3"]]
    files: dict[str, str] = {}
    expected = {}
    for e in sorted(vn, key=lambda x: x.date):
        files[f"baosonnguyen/{vn_path(e)}"] = render_vn(e, vn)
        expected[f"baosonnguyen/{vn_path(e)}"] = e
    for e in sorted(en, key=lambda x: x.date):
        files[f"highlandherald/{en_path(e)}"] = render_en(e, en, partner)
        expected[f"highlandherald/{en_path(e)}"] = e
    files["baosonnguyen/feed.xml"] = rss(vn)
    files["highlandherald/feed.xml"] = atom(en)
    files["baosonnguyen/index.html"] = index(
        VN_NAME, "vi", [(vn_path(e), e.title) for e in sorted(vn, key=lambda x: x.date, reverse=True)]
    )
    files["highlandherald/index.html"] = index(
        EN_NAME, "en", [(en_path(e), e.title) for e in sorted(en, key=lambda x: x.date, reverse=True)]
    )
    files["baosonnguyen/site.json"] = (
        json.dumps({"name": VN_NAME, "language": "vi", "feed": "feed.xml"}, ensure_ascii=False, indent=2) + "\n"
    )
    files["highlandherald/site.json"] = (
        json.dumps({"name": EN_NAME, "language": "en", "feed": "feed.xml"}, ensure_ascii=False, indent=2) + "\n"
    )
    check(files, expected)
    manifest = {
        path: {
            "title": e.title,
            "language": "vi" if (e.site == "baosonnguyen" or e.of) else "en",
            "story": e.of or e.key,
            "body": "\n\n".join(body_text(e)),
        }
        for path, e in expected.items()
    }
    out = {f"sites/{p}": s.encode("utf-8") for p, s in files.items()}
    out["expected.json"] = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    return out


def check(files: dict[str, str], expected: dict[str, Entry]) -> None:
    """The demo's promise, asserted at build time."""
    tokens = PHRASE.split()
    hits = []
    for path, e in expected.items():
        body = fold(" ".join(body_text(e)))
        if PHRASE in body:
            hits.append(path)
        elif all(re.search(rf"\b{t}\b", body) for t in tokens):
            raise AssertionError(f"{path}: body holds every word of {PHRASE!r}; the demo search would match it")
        page = fold(html.unescape(re.sub(r"<[^>]+>", " ", files[path])))
        if PHRASE not in page:
            raise AssertionError(f"{path}: no teaser carries {PHRASE!r}; the demo would show nothing to clean")
    if hits != ["baosonnguyen/tin-tuc/tong-ket-5-nam-xay-dung-mo-hinh-chinh-quyen-than-thien-cap-xa.html"]:
        raise AssertionError(f"phrase found in bodies of {hits}")


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
    print(f"wrote {len(files)} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
