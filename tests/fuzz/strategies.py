"""Hostile inputs for newsflow's entry points, shared by the fuzz tests and `bench/fuzz.py`.

Three entry points take bytes or text from the outside: `clean_page` (a fetched page),
`parse_feed` (a fetched feed) and `canonicalize_url` (every link). Each strategy here builds
inputs around real ones (the golden corpus' pages, feeds shaped as sites print them, URLs
as feeds write them) and breaks them the ways the web does. Each `check_*` function is the
property: the call returns a result that keeps the entry point's promises, or raises one of
newsflow's own errors with a one-line reason; never another exception, never past the page
deadline. A check raises `Broken` (an AssertionError) with what went wrong.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from pipeline.cleaning import clean_page
from pipeline.errors import NewsflowError
from pipeline.feeds import parse_feed
from pipeline.limits import DEFAULT_LIMITS
from pipeline.settings import Settings
from pipeline.urls import canonicalize_url, host_of, site_of

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
# Cleaning has no clock of its own: a run past the work lease is presumed hung, and its page
# is handed to another worker (pipeline/settings.py). That is the page deadline.
PAGE_DEADLINE = float(Settings.model_fields["work_lease"].default)

# A 2008 content system wrote the page's keywords where the encoding goes, and never closed
# the declaration: about 850 characters and no `?>`, then ordinary HTML.
_KEYWORDS = ", ".join(
    ["ilashack", "necessarily", "palestinian", "harbour", "lights", "summer", "volunteers", "storm"] * 12
    + ["festival", "Sri Lanka"]
)
BROKEN_DECLARATION = f'<?xml version="1.0" encoding="{_KEYWORDS}" />'


class Broken(AssertionError):
    """A property did not hold: an unexpected exception, a hang, or a broken promise of the result."""


class Hang(Exception):
    """The call ran past its deadline."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise Hang in the block once `seconds` have passed (SIGALRM; an outer alarm is put back)."""

    def expire(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {seconds:g} s")

    start = time.monotonic()
    previous = signal.signal(signal.SIGALRM, expire)
    outer, interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:  # pytest-timeout's alarm, say: what was left of it
            signal.setitimer(signal.ITIMER_REAL, max(0.001, outer - (time.monotonic() - start)), interval)


def _call(what: str, seconds: float, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """`fn(*args)`: its result, or the NewsflowError it raised; Broken for anything else."""
    start = time.monotonic()
    try:
        with deadline(seconds):
            result = fn(*args, **kwargs)
    except NewsflowError as exc:
        reason = str(exc)
        if not reason or "\n" in reason:
            raise Broken(f"{what}: {type(exc).__name__} without a one-line reason: {reason[:300]!r}") from None
        result = exc
    except Hang:
        raise Broken(f"{what}: hung past the {seconds:g} s deadline") from None
    except Exception as exc:
        raise Broken(f"{what}: {type(exc).__name__}: {str(exc)[:300]}") from exc
    took = time.monotonic() - start
    if took > seconds:  # time spent inside C code, where the alarm waits
        raise Broken(f"{what}: took {took:.1f} s, past the {seconds:g} s deadline")
    return result


# -- pages ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Seed:
    """A real page to break: its bytes, the address it came from, a sentence of its story."""

    name: str
    body: bytes
    url: str
    sentence: str  # in the cleaned body whenever only the prolog was touched
    encoding: str = "utf-8"


_OWN_PAGES = {
    # A plain modern page.
    "en": (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>Harbour lights return | Courier</title>"
        "<meta property='og:title' content='Harbour lights return'><link rel='canonical' href='/news/lights.html'>"
        "<meta property='article:published_time' content='2008-07-04T19:30:00Z'></head><body>"
        "<nav><a href='/'>Home</a> <a href='/news/'>News</a></nav><article><h1>Harbour lights return</h1>"
        "<p>The strings of coloured lights along the harbour wall were switched on again on Friday evening.</p>"
        "<p>Volunteers spent three weekends replacing the bulbs that the winter storms had broken.</p>"
        "<p>The lights will stay on every night until the end of September, the harbour master said.</p>"
        "</article><aside><h2>Related</h2><ul><li><a href='/news/ferry.html'>Ferry returns</a></li></ul></aside>"
        "</body></html>"
    ),
    # An old XHTML page that declares itself, in Vietnamese.
    "vi": (
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n<html xmlns="http://www.w3.org/1999/xhtml" '
        'lang="vi"><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8" />'
        "<title>Lễ hội đèn lồng bên sông</title></head><body><div id='noidung'><h1>Lễ hội đèn lồng bên sông</h1>"
        "<p>Hàng nghìn chiếc đèn lồng được thả trên sông vào tối thứ bảy, thu hút đông đảo người dân.</p>"
        "<p>Ban tổ chức cho biết lễ hội năm nay kéo dài ba ngày với nhiều hoạt động văn hóa dân gian.</p>"
        "<p>Người dân được khuyến khích đi bộ hoặc đi xe đạp để tránh ùn tắc giao thông quanh bến sông.</p>"
        "</div></body></html>"
    ),
    # No <html>, no <head>: a fragment as some old servers send it.
    "es": (
        "<title>La feria del libro vuelve a la plaza</title><div class='cuerpo'>"
        "<p>La feria del libro vuelve este año a la plaza mayor después de dos años en el polideportivo.</p>"
        "<p>Más de cuarenta librerías y editoriales de la región tendrán su puesto durante diez días.</p>"
        "<p>El ayuntamiento ha previsto actividades para niños todas las tardes a partir de las cinco.</p></div>"
    ),
}


@cache
def seeds() -> tuple[Seed, ...]:
    """Three small pages written here, then one page of each site of the golden corpus (two not in UTF-8)."""
    own = [
        Seed(name, html.encode(), f"https://{name}.example/news/page-{i}.html", html.split("<p>")[2].split(".")[0])
        for i, (name, html) in enumerate(_OWN_PAGES.items())
    ]
    records = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
    chosen: dict[str, dict[str, Any]] = {}
    for record in records:  # one per site, the legacy encodings first
        if record["site"] not in chosen or record["encoding"] != "utf-8":
            chosen[record["site"]] = record
    corpus = [
        Seed(
            r["path"],
            (CORPUS / r["path"]).read_bytes(),
            r["url"],
            (CORPUS / r["expected"]).read_text(encoding="utf-8").split("\n")[0][:60],
            r["encoding"],
        )
        for r in chosen.values()
    ]
    return (*own, *corpus)


LABELS = [
    "utf-8", "UTF8", "iso-8859-1", "windows-1252", "windows-1258", "cp1258", "utf-16", "utf-16le", "utf-32",
    "gb2312", "shift_jis", "koi8-r", "x-user-defined", "x-no-such-charset", "", " utf-8 ", "utf-7", "ebcdic",
    "cp037", "unicode-1-1-utf-7", "latin1", "ascii", "hz-gb-2312", "iso-2022-jp", "replacement", "undefined",
    "base64", "idna", "rot13", "unicode_escape", "punycode", "utf-8\x00",
]  # fmt: skip
_BOMS = [codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE]
_JUNK_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
labels = st.one_of(st.sampled_from(LABELS), _JUNK_TEXT)


@st.composite
def xml_declarations(draw: st.DrawFn) -> str:
    """An XML declaration as pages print them: well formed or not, any encoding, any ending."""
    quote = draw(st.sampled_from(['"', "'", ""]))
    parts = [draw(st.sampled_from(["<?xml", "<?XML", "<?xml-stylesheet", "<?xml", "<?php"]))]
    if draw(st.booleans()):
        parts.append(f" version={quote}{draw(st.sampled_from(['1.0', '1.1', '', '2']))}{quote}")
    if draw(st.booleans()):
        label = draw(st.one_of(labels, st.just(_KEYWORDS), st.text(st.characters(codec="ascii"), max_size=900)))
        parts.append(f" encoding={quote}{label}{quote}")
    if draw(st.booleans()):
        parts.append(f" standalone={quote}yes{quote}")
    parts.append(draw(st.sampled_from(["?>", " ?>", "/>", " />", ">", "", "?", "\n"])))
    return "".join(parts)


_DOCTYPES = [
    "<!DOCTYPE html>",
    "<!doctype HTML>",
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">',
    '<!DOCTYPE html PUBLIC "a>b">',
    "<!DOCTYPE",
    '<!DOCTYPE html [<!ENTITY x "y">]>',
    "<!ELEMENT p ANY>",
]
_COMMENTS = ["<!-- x -->", "<!---->", "<!-->", "<!--->", "<!-- a --!>", "<!-- a -- >", "<!--", "<![CDATA[ x ]]>"]
_SPACES = [" ", "\n", "\r\n", "\t", "\f", "\x0b", "\x00", "\u00a0", "\ufeff", "\u2028"]


@st.composite
def prologs(draw: st.DrawFn) -> str:
    """What sites print before <html>: declarations, doctypes, comments, space, stray end tags."""
    pieces = draw(
        st.lists(
            st.one_of(
                xml_declarations(),
                st.sampled_from(_DOCTYPES),
                st.sampled_from(_COMMENTS),
                st.sampled_from(_SPACES),
                st.sampled_from(["</p>", "</html>", "</br>", "</ >", "</>", "<?>", "<!>", "<\ufeff?xml?>"]),
            ),
            max_size=6,
        )
    )
    return "".join(pieces)


# Markup that breaks parsers, pasted anywhere in a page.
_HOSTILE_MARKUP = [
    "<!--", "-->", "<script>", "</script>", "<style>", "<textarea>", "<title>", "</title>", "<plaintext>",
    "<![CDATA[", "]]>", "<?xml version='1.0'?>", "<html lang='xx'>", "<html", "</html>", "<body>", "<head>",
    "<meta charset='utf-16'>", "<meta charset='x-bogus'>", "<meta http-equiv='content-type' content='text/html; charset=koi8-r'>",
    "<base href='javascript:alert(1)'>", "<link rel='canonical' href='http://[::1'>", "<link rel=canonical href=//>",
    "<meta property='article:published_time' content='99999-99-99T99:99'>", "<meta name='author' content=''>",
    "<table><tr><td>", "<li>", "<svg><foreignObject><p>", "<math><mi>", "<template>", "<noscript>", "<frameset>",
    "&", "&#0;", "&#xD800;", "&#x110000;", "&#65534;", "&nbsp", "&amp;amp;", "<", ">", "<a href='",
    "<img alt='\u0000'>", "<p>\u200b</p>", "<figcaption>", "<h1>", "<time datetime='-1'>", "<a href='//'>x</a>",
    "<div itemprop='articleBody'>", "<article>", "</article>",
]  # fmt: skip
_FEED_MARKUP = [*_HOSTILE_MARKUP, "<!ENTITY a 'b'>", "&a;", "]]>", "<item>", "</channel>", "<entry>", "<url>"]
_BYTES = [b"\x00", b"\x01", b"\x07", b"\x1b", b"\x7f", b"\x80", b"\x9d", b"\xc3", b"\xed\xa0\x80", b"\xef\xbf\xbe",
          b"\xef\xbf\xbf", b"\xff\xfe", b"\xfe\xff", b"\xe2\x80", b"\xf4\x90\x80\x80", b"\r", b"\x0c"]  # fmt: skip


@st.composite
def nestings(draw: st.DrawFn) -> str:
    tag = draw(st.sampled_from(["div", "b", "span", "table", "li", "p", "a href='/x'", "font"]))
    depth = draw(st.integers(1, 5_000))  # libxml2 stops nesting at 256 levels; deeper costs time, not cover
    name = tag.split()[0]
    return f"<{tag}>" * depth + "deep" + (f"</{name}>" * depth if draw(st.booleans()) else "")


@st.composite
def huge_attributes(draw: st.DrawFn) -> str:
    size = draw(st.integers(1_000, 200_000))
    quote = draw(st.sampled_from(['"', "'", ""]))
    close = draw(st.sampled_from([quote + ">", "", quote]))
    return f"<div data-x={quote}{draw(st.sampled_from('a<>& ')) * size}{close}"


@st.composite
def hostile_html(draw: st.DrawFn) -> str:
    """A piece of markup: what sites paste into pages, broken on purpose."""
    return draw(
        st.one_of(
            st.sampled_from(_HOSTILE_MARKUP),
            _JUNK_TEXT,
            nestings(),
            huge_attributes(),
            st.builds(lambda n, t: f"<p>{t}</p>" * n, st.integers(1, 1_000), st.sampled_from(["word", "a b c", ""])),
            st.builds(lambda n: "<a href='/news/x.html'>Read more</a>" * n, st.integers(1, 1_000)),
        )
    )


def _encode(text: str, encoding: str) -> bytes:
    try:
        return text.encode(encoding, "xmlcharrefreplace")
    except (LookupError, UnicodeError):
        return text.encode("utf-8")


@dataclass
class PageCase:
    """A page to clean: the bytes, the header's charset, and the seed it was built from."""

    seed: Seed
    body: bytes
    charset: str | None
    prolog_only: bool = False  # only a harmless prolog was added: the story must survive
    steps: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"PageCase(seed={self.seed.name!r}, charset={self.charset!r}, steps={self.steps}, body={self.body[:400]!r}...)"


@st.composite
def pages(draw: st.DrawFn) -> PageCase:
    """A real page, broken: prolog, BOM, header charset, re-encoding, pasted markup and bytes, a cut."""
    seed = draw(st.sampled_from(seeds()))
    case = PageCase(seed, seed.body, seed.encoding if seed.encoding != "utf-8" and draw(st.booleans()) else None)
    if seed.encoding == "utf-8" and draw(st.integers(0, 3)) == 0:
        # Only what a browser ignores before the page: the story must come out the same.
        prolog = draw(
            st.lists(
                st.one_of(xml_declarations(), st.sampled_from(_DOCTYPES[:3] + _COMMENTS[:4] + [" ", "\n"])),
                min_size=1,
                max_size=4,
            )
        )
        text = "".join(prolog)
        # Harmless only when no piece names a real encoding: one garbage declaration beside a
        # well-formed `encoding="cp1258"` leaves the page declared as cp1258, and read so.
        if all("encoding" not in piece or _KEYWORDS in piece for piece in prolog):
            case.body = text.encode() + seed.body
            case.prolog_only = True
            case.steps.append(f"prolog {text[:80]!r}")
            return case
    text = seed.body.decode(seed.encoding, "replace")
    encoding = "utf-8"
    for _ in range(draw(st.integers(0, 4))):
        what = draw(st.sampled_from(["prolog", "paste", "reencode", "charset", "bytes", "cut", "bom", "nul-flood"]))
        case.steps.append(what)
        if what == "prolog":
            text = draw(prologs()) + text
        elif what == "paste":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(hostile_html()) + text[at:]
        elif what == "charset":
            case.charset = draw(st.one_of(st.none(), labels))
        elif what == "reencode":
            encoding = draw(
                st.sampled_from(["utf-16", "utf-16-be", "utf-32", "cp1258", "gb18030", "koi8-r", "shift_jis", "cp1252"])
            )
    body = _encode(text, encoding)
    for what in case.steps:
        if what == "bytes":
            at = draw(st.integers(0, len(body)))
            body = body[:at] + draw(st.one_of(st.sampled_from(_BYTES), st.binary(max_size=30))) + body[at:]
        elif what == "cut":
            body = body[: draw(st.integers(0, len(body)))]
        elif what == "bom":
            body = draw(st.sampled_from(_BOMS)) * draw(st.integers(1, 2)) + body
        elif what == "nul-flood":
            body = body.replace(b"<p>", b"<p>" + b"\x00" * draw(st.integers(1, 50)))
    case.body = body
    return case


@cache
def clean_seed(seed: Seed) -> str:
    """The body the seed page cleans to, untouched."""
    return clean_page(seed.body, seed.url, charset=seed.encoding).body


def check_page(case: PageCase, seconds: float = PAGE_DEADLINE) -> None:
    """clean_page: a bounded cleaned page, or Dropped/PermanentError with a reason; a prolog never loses the story."""
    result = _call("clean_page", seconds, clean_page, case.body, case.seed.url, charset=case.charset)
    if isinstance(result, NewsflowError):
        if "cannot be parsed" in str(result):
            raise Broken(f"clean_page: the parser refused the page: {result}")
        if case.prolog_only:
            raise Broken(f"clean_page: a prolog lost the page: {result}")
        return
    if len(result.title) > DEFAULT_LIMITS.title_chars or len(result.body) > DEFAULT_LIMITS.body_chars:
        raise Broken("clean_page: a field over its bound")
    if any(c in result.body + result.title for c in "\x00\ufffe\uffff"):
        raise Broken("clean_page: a character XML forbids reached the cleaned page")
    if case.prolog_only and result.body != clean_seed(case.seed):
        raise Broken(f"clean_page: a prolog changed the story ({case.seed.name})")


# -- feeds ----------------------------------------------------------------------------------------
_DATES = ["Fri, 04 Jul 2008 19:30:00 GMT", "2008-07-04T19:30:00Z", "2008-07-04", "99999", "", "Thu, 31 Feb 2008",
          "2008-13-45T99:99:99+99:99", "yesterday", "0000-00-00T00:00:00Z", "1e999"]  # fmt: skip


@st.composite
def urls(draw: st.DrawFn) -> str:
    """A URL as feeds and pages write them: well formed or not, every part varied."""
    scheme = draw(
        st.sampled_from(["http", "https"] * 4 + ["HTTPS", "Http", "ftp", "javascript", "data", "mailto", "", "http:"])
    )
    user = draw(st.sampled_from(["", "user@", "user:pass@", "@", "a@b@", ":@"]))
    host = draw(
        st.one_of(
            st.sampled_from(["example.org", "WWW.Example.ORG", "news.example.", "xn--bcher-kva.example", "bücher.example",
                             "тест.рф", "a" * 64 + ".example", "a..b", ".", "", "localhost", "_dmarc.example", "ex ample.org",
                             "xn--.example", "xn--zz", "b\u00fccher.\u3002example", "\u200b.example", "%65xample.org"]),
            st.ip_addresses(v=4).map(str),
            st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
            st.sampled_from(["127.1", "0x7f.1", "0177.0.0.1", "2130706433", "1.2.3.999", "256.256.256.256", "0x", "1.2.3.4.5",
                             "[::1", "::1]", "[fe80::1%25eth0]", "[::ffff:127.0.0.1]", "[v1.x]", "[]", "0.0.0.0", "4294967296"]),
            st.text(st.characters(codec="utf-8", exclude_characters="/?#"), max_size=20),
        )
    )  # fmt: skip
    port = draw(
        st.sampled_from(
            [""] * 8 + [":80", ":443", ":8080", ":0", ":65535", ":65536", ":99999999999", ":x", ":", ": 80"]
        )
    )
    segments = draw(
        st.lists(
            st.one_of(
                st.sampled_from([".", "..", "", "%7E", "~", "%2F", "%2f", "%zz", "%", "%c3%a9", "é", "a b", "%00", ";p=1", "news", "%E2%82"]),
                st.text(st.characters(codec="utf-8", exclude_characters="?#"), max_size=12),
            ),
            max_size=6,
        )
    )  # fmt: skip
    params = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["utm_source", "UTM_Medium", "fbclid", "id", "a", "", "page", "q", "a[]", "%75tm_x", "pk_c"]),
                st.one_of(st.sampled_from(["", "1", "a b", "%20", "+", "%zz", "=", "&"]), _JUNK_TEXT),
            ),
            max_size=5,
        )
    )  # fmt: skip
    query = "&".join(f"{k}={v}" if v or draw(st.booleans()) else k for k, v in params)
    url = f"{scheme}://{user}{host}{port}/{'/'.join(segments)}"
    if query or draw(st.booleans()):
        url += "?" + query
    if draw(st.booleans()):
        url += "#" + draw(_JUNK_TEXT)
    if draw(st.integers(0, 4)) == 0:  # white space, controls or junk around or inside
        at = draw(st.integers(0, len(url)))
        url = (
            url[:at]
            + draw(st.sampled_from([" ", "\t", "\n", "\x00", "\x7f", "\\", "\r\n", "\u3000", "%", "//"]))
            + url[at:]
        )
    return url


def any_urls() -> st.SearchStrategy[str]:
    """Structured URLs mostly, relative and arbitrary text sometimes."""
    relative = st.sampled_from(
        ["/news/a.html", "a.html", "../../x", "//other.example/x", "?q=1", "#top", "", " ", "\\\\x"]
    )
    return st.one_of(urls(), urls(), urls(), relative, st.text(max_size=60))


def check_url(url: str, base: str | None, seconds: float = PAGE_DEADLINE) -> None:
    """canonicalize_url: an http(s) URL that canonicalises to itself, or an InvalidURL with a reason."""
    result = _call("canonicalize_url", seconds, canonicalize_url, url, base=base)
    if isinstance(result, NewsflowError):
        if not isinstance(result, ValueError):
            raise Broken(f"canonicalize_url: {type(result).__name__} is not a ValueError, which callers catch")
        return
    if not result.startswith(("http://", "https://")):
        raise Broken(f"canonicalize_url: not an http(s) URL: {result!r}")
    again = _call("canonicalize_url again", seconds, canonicalize_url, result)
    if again != result:
        raise Broken(f"canonicalize_url: not idempotent: {result!r} -> {again!r}")
    _call("host_of", seconds, host_of, result)
    _call("site_of", seconds, site_of, result)


# Links as feeds write them: a few of every kind, and now and then any URL (those are fuzzed on
# their own: drawing each link whole made a feed ten times slower to build than to parse).
_FEED_LINKS = [
    "https://tin.example/kinh-te/gia-lua-tang.html", "/kinh-te/gia-lua-tang.html", "gia-lua-tang.html",
    "//tin.example/a.html", "HTTPS://TIN.example:443/a.html?utm_source=rss&id=2#c", "javascript:alert(1)",
    "file:///etc/passwd", "data:text/html,x", "mailto:a@tin.example", "ftp://tin.example/a", "http://tin.example:99999/",
    "http://[::1", "http://1.2.3.999/", "http://xn--bcher-kva.example/ä", "http://bücher.example/%zz", " ", "",
    "http://127.0.0.1:8000/a.html", "http://[fe80::1%25eth0]/", "https://tin.example/" + "a" * 3000,
]  # fmt: skip
feed_links = st.one_of(st.sampled_from(_FEED_LINKS), st.sampled_from(_FEED_LINKS), any_urls())


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


@st.composite
def feed_items(draw: st.DrawFn, kind: str) -> str:
    link = draw(feed_links)
    link = _xml_escape(link) if draw(st.integers(0, 3)) else link
    title = draw(
        st.one_of(
            _JUNK_TEXT, st.sampled_from(["Tin <b>mới</b>", "<![CDATA[ <p>x</p> ]]>", "&amp;&lt;", "&nbsp;", "&bogus;"])
        )
    )
    guid = draw(st.one_of(st.none(), feed_links, _JUNK_TEXT))
    date = draw(st.sampled_from(_DATES))
    if kind == "atom":
        rel = draw(st.sampled_from(["", " rel='alternate'", " rel='enclosure'", " rel='self'"]))
        return f'<entry><title>{title}</title><id>{_xml_escape(guid or "")}</id><link{rel} href="{link}"/><updated>{date}</updated></entry>'
    if kind == "rdf":
        return f'<item rdf:about="{link}"><title>{title}</title><link>{link}</link><dc:date>{date}</dc:date></item>'
    if kind == "sitemap":
        return f"<url><loc>{link}</loc><lastmod>{date}</lastmod><news:news><news:title>{title}</news:title><news:publication_date>{date}</news:publication_date></news:news></url>"
    return f"<item><title>{title}</title><link>{link}</link><guid>{_xml_escape(guid or '')}</guid><pubDate>{date}</pubDate></item>"  # fmt: skip


_FEED_SHELLS = {
    "rss": ('<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel><title>Tin</title><ttl>{ttl}</ttl>'
            "<sy:updatePeriod>{period}</sy:updatePeriod><sy:updateFrequency>{ttl}</sy:updateFrequency>", "</channel></rss>"),
    "atom": ('<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{base}"><title>Nouvelles</title>', "</feed>"),
    "rdf": ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel rdf:about="x"><title>t</title></channel>', "</rdf:RDF>"),
    "sitemap": ('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
                'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">', "</urlset>"),
}  # fmt: skip


_SOME_URLS = ["https://tin.example/a.html", "/relative.html", "javascript:void(0)", "http://[::1", "", " "]


def _json_values() -> st.SearchStrategy[Any]:
    """Any JSON value, small: what a JSON Feed holds where an object, a string or a URL belongs."""
    leaves = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _JUNK_TEXT, st.sampled_from(_SOME_URLS)
    )
    return st.recursive(
        leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_JUNK_TEXT, inner, max_size=3), max_leaves=5
    )


@st.composite
def json_feeds(draw: st.DrawFn) -> str:
    item = st.fixed_dictionaries(
        {},
        optional={
            "id": st.one_of(_JUNK_TEXT, st.integers(), st.booleans()), "url": st.one_of(feed_links, _json_values()),
            "external_url": st.sampled_from(_SOME_URLS), "title": st.one_of(_JUNK_TEXT, _json_values()),
            "date_published": st.sampled_from(_DATES), "date_modified": st.one_of(st.integers(), st.sampled_from(_DATES)),
        },
    )  # fmt: skip
    items = draw(st.one_of(st.lists(st.one_of(item, item, _json_values()), max_size=4), _json_values()))
    feed: dict[str, Any] = {
        "version": draw(st.sampled_from(["https://jsonfeed.org/version/1.1", "1", ""])),
        "items": items,
    }
    if draw(st.booleans()):
        feed["title"] = draw(_json_values())
    return json.dumps(feed, ensure_ascii=draw(st.booleans()))


@dataclass
class FeedCase:
    body: bytes
    url: str
    charset: str | None


@st.composite
def feeds(draw: st.DrawFn) -> FeedCase:
    """A feed as sites print them (RSS, RSS 1.0, Atom, JSON Feed, news sitemap), then broken like a page."""
    kind = draw(st.sampled_from(["rss", "atom", "rdf", "sitemap", "json"]))
    if kind == "json":
        text = draw(json_feeds())
    else:
        head, tail = _FEED_SHELLS[kind]
        head = head.format(ttl=draw(st.sampled_from(["60", "-1", "x", "", "99999999999999999999"])),
                           period=draw(st.sampled_from(["hourly", "HOURLY ", "fortnightly", ""])),
                           base=_xml_escape(draw(feed_links)))  # fmt: skip
        items = draw(st.lists(feed_items(kind), max_size=4))
        text = draw(st.sampled_from(['<?xml version="1.0" encoding="utf-8"?>\n', ""])) + head + "".join(items) + tail
    for _ in range(draw(st.integers(0, 3))):
        what = draw(st.sampled_from(["prolog", "paste", "cut"]))
        if what == "prolog":
            text = draw(prologs()) + text
        elif what == "paste":
            at = draw(st.integers(0, len(text)))
            text = (
                text[:at]
                + draw(
                    st.one_of(
                        st.sampled_from(_FEED_MARKUP),
                        _JUNK_TEXT,
                    )
                )
                + text[at:]
            )
        else:
            text = text[: draw(st.integers(0, len(text)))]
    body = _encode(text, draw(st.sampled_from(["utf-8", "utf-8", "utf-16", "cp1258", "gb18030", "latin-1"])))
    if draw(st.integers(0, 3)) == 0:
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(st.one_of(st.sampled_from(_BYTES + _BOMS), st.binary(max_size=20))) + body[at:]
    base = draw(
        st.sampled_from(
            ["https://tin.example/rss/home.rss", "http://127.0.0.1:8000/feed.xml", "https://xn--bcher-kva.example/"]
        )
    )
    return FeedCase(body, base, draw(st.one_of(st.none(), labels)))


def check_feed(case: FeedCase, seconds: float = PAGE_DEADLINE) -> None:
    """parse_feed: entries with canonical http(s) URLs, or PermanentError with a reason."""
    result = _call("parse_feed", seconds, parse_feed, case.body, case.url, case.charset)
    if isinstance(result, NewsflowError):
        return
    for entry in result.entries:
        if _call("canonicalize_url", seconds, canonicalize_url, entry.url) != entry.url:
            raise Broken(f"parse_feed: an entry's URL is not canonical: {entry.url!r}")
        if not isinstance(entry.title, str) or not (entry.guid is None or isinstance(entry.guid, str)):
            raise Broken(f"parse_feed: an entry's title or GUID is not text: {entry!r}")
