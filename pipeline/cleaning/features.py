"""Numbers that describe each block, the same on every site and in every language.

Per block: its text (length, words, punctuation, digits, a cut excerpt's "…"), its links
(density, count, whether they stay on the site), its markup (tag, depth, landmarks, class
and id words of its ancestors), its place (position in the page, distance from the densest
run of prose), repetition among its siblings (cards and lists: the same structure, again
and again), the heading that governs it (a "Related" or "Cùng chủ đề" heading in any of the
languages we know), and its neighbours' text and links. `FEATURES` names the columns.
"""

from __future__ import annotations

import math
import re
from operator import itemgetter
from urllib.parse import urlsplit

import numpy as np

from pipeline.cleaning.blocks import CLASS_FAMILIES, HEADING_TAGS, LANDMARKS, TOKEN_BUCKETS, TOKEN_SHIFT, TextBlock

# Headings that open a list of other stories, in the languages of the pages we read.
RELATED_HEADING = re.compile(
    r"\b(related|more (from|on|in|stories|news|articles)|read (more|also|next)|see also|also (read|on)|"
    r"recommended|popular|most (read|viewed|popular|shared|commented)|trending|latest|top stories|"
    r"you (may|might) (also )?like|editor'?s picks|what to read next|further reading|other (news|stories)|"
    r"previous|next (story|article|post)|"
    r"cùng chủ đề|cùng chuyên mục|cùng tác giả|tin liên quan|tin mới|tin khác|tin nổi bật|đọc nhiều|xem thêm|"
    r"bài viết liên quan|có thể bạn quan tâm|"
    r"weitere artikel|mehr zum thema|auch interessant|meistgelesen|das könnte sie auch interessieren|"
    r"à lire aussi|lire aussi|sur le même sujet|les plus lus|articles similaires|"
    r"te puede interesar|lo más leído|más noticias|noticias relacionadas|"
    r"leia também|mais lidas|notícias relacionadas|"
    r"leggi anche|articoli correlati|più letti|"
    r"baca juga|berita terkait|terpopuler|"
    r"czytaj także|lees ook|läs också|les også|se også|"
    r"читайте также|похожие|関連記事|相关阅读|相关新闻|관련 기사)",
    re.IGNORECASE,
)
# Headings over readers' comments.
COMMENT_HEADING = re.compile(
    r"(\d+\s+)?(comments?|responses?|replies|reply|leave a (reply|comment)|join the (discussion|conversation)|"
    r"discussion|reader comments|kommentare?|commentaires?|comentarios?|comentários|commenti|bình luận|ý kiến bạn đọc|"
    r"komentar|reacties|kommentarer)\b",
    re.IGNORECASE,
)
# What a site says to its reader rather than the story: calls to subscribe, follow, share or
# read on, advertising and affiliate disclosures, the labels of contents boxes. Phrases of
# each language's web usage, not of any one site.
PROMPT_WORDS = re.compile(
    r"\b(subscri(be|ption)|newsletter|sign(ing)? up|join (our|the|us)|follow us|download (our|the) app|"
    r"advertisement|advertising|sponsored|affiliate|commissions?|we (may )?earn|qualifying purchases|disclos(ure|e)|"
    r"editorial (note|policy|guidelines|standards)|all rights reserved|copyright|cookies?|privacy policy|"
    r"terms of (use|service)|share (this|on|via)|leave a (comment|reply)|rate this|click here|continue reading|"
    r"read more|table of contents|key takeaways|jump to|skip to|written by|reviewed by|fact.checked by|"
    r"about the author|log ?in|register|"
    r"abonn(ieren|ement|ez)|jetzt (lesen|anmelden|testen)|anzeige|werbung|lesen sie (auch|mehr)|teilen|"
    r"inhaltsverzeichnis|s'abonner|inscrivez|publicité|partager|lire (aussi|la suite)|"
    r"suscr[ií](be|bete|birse|pción)|publicidad|compartir|le[ae] (también|más)|únete|"
    r"assine|publicidade|compartilh|leia (também|mais)|iscriviti|pubblicità|leggi anche|"
    r"reklama|czytaj (też|także|więcej)|berlangganan|iklan|baca juga|"
    r"đăng ký|quảng cáo|chia sẻ|xem thêm|tin liên quan|bình luận)\b",
    re.IGNORECASE,
)
# The two word lists again, matched against lower-cased text: Python's case-insensitive
# search tries every alternative at every position several times slower, and these run on
# every block. (The lists are lower case; only a Turkish dotted capital I, which lowers to two
# characters, could end a match differently.)
_RELATED_LOWER = re.compile(RELATED_HEADING.pattern)
_PROMPT_LOWER = re.compile(PROMPT_WORDS.pattern)
# "Read also: <headline>", "Mehr zum Thema: ...": a short label and a colon opening the block.
LABEL_COLON = re.compile(r"^\W{0,3}\w+(\s\w+){0,2}\s?:\s*\S")
_DATE = re.compile(
    r"\b(\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}|"
    r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2}|\d{1,2} (jan|feb|mar|apr|may|jun|jul|aug|"
    r"sep|oct|nov|dec)|\d+ (minutes?|hours?|days?|mins?|hrs?) ago|tháng \d{1,2})",
    re.IGNORECASE,
)
# Punctuation counted mark by mark (`str.count`), and a block's last character looked at
# directly: both cheaper than a regular expression over the whole text.
_PUNCT_CHARS = ".,;:!?。、，"
_first = itemgetter(0)  # a word's first character (`str.split` gives no empty word)
_SENTENCE_ENDS = tuple(".!?。»”\"')")
_TAG_CODES = {
    "p": 0,
    "div": 1,
    "li": 2,
    "td": 3,
    "th": 3,
    "h1": 4,
    "h2": 5,
    "h3": 5,
    "h4": 6,
    "h5": 6,
    "h6": 6,
    "dd": 7,
    "dt": 7,
    "blockquote": 8,
    "pre": 9,
    "figcaption": 10,
    "section": 11,
    "article": 11,
    "span": 12,
    "header": 13,
    "footer": 13,
    "nav": 13,
    "aside": 13,
}
N_TAGS = 15  # the codes above and "other"
PROMPT_MAX_CHARS = 400  # a call to the reader is a line or two; a longer block is prose that names one
PROSE_CHARS = 80  # a block this long with few links reads as prose
WINDOW = 3  # neighbours on each side averaged into the block's surroundings

FEATURES: list[str] = [
    "log_chars",
    "log_words",
    "link_density",
    "log_links",
    "punct_per_word",
    "ends_sentence",
    "mean_word_len",
    "digit_share",
    "upper_share",
    "cut_excerpt",
    "has_date",
    "related_words",
    "onsite_links",
    "is_heading",
    "depth",
    "prompt_words",
    "label_colon",
    *[f"tag_{i}" for i in range(N_TAGS)],
    *[f"in_{name}" for name in LANDMARKS],
    *[f"class_{i}" for i in range(CLASS_FAMILIES)],
    *[f"own_class_{i}" for i in range(CLASS_FAMILIES)],
    *[f"class_word_{i}" for i in range(TOKEN_BUCKETS)],
    *[f"own_class_word_{i}" for i in range(TOKEN_BUCKETS)],
    "position",
    "char_position",
    "in_main_run",
    "before_main_run",
    "after_main_run",
    "rep_self",
    "rep_parent",
    "rep_grandparent",
    "heading_related",
    "heading_distance",
    "heading_is_h1",
    "heading_comment",
    "in_main_parent",
    "child_of_main_parent",
    "main_parent_share",
    "prev_link_density",
    "next_link_density",
    "prev_log_chars",
    "next_log_chars",
    "around_prose",
    "around_link_density",
    "same_parent_run",
    "page_log_blocks",
    "page_link_density",
    "trafilatura",
    "around_trafilatura",
]


def host_of(url: str) -> str:
    """The host of an address, or "" when it does not parse."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:  # "http://[::1" and the like
        return ""


def _signature(el: object) -> tuple[str, str]:
    get = getattr(el, "get", None)
    return (getattr(el, "tag", ""), get("class") or "" if get else "")


def _repetition(el: object, cache: dict[object, dict[tuple[str, str], int]]) -> int:
    """How many of `el`'s siblings (itself included) share its tag and class."""
    parent = el.getparent()  # type: ignore[attr-defined]
    if parent is None:
        return 1
    # Keyed by the element itself, which the cache keeps alive: the id of a proxy lxml has
    # freed is soon another element's.
    counts = cache.get(parent)
    if counts is None:
        counts = {}
        for child in parent:
            sig = _signature(child)
            counts[sig] = counts.get(sig, 0) + 1
        cache[parent] = counts
    return counts.get(_signature(el), 1)


def _main_run(values: list[float]) -> tuple[int, int]:
    """The run of blocks with the most prose: a maximum-sum window, where link-heavy and
    short blocks cost a little (Kadane's algorithm)."""
    best, best_span = 0.0, (0, -1)
    total, start = 0.0, 0
    for i, v in enumerate(values):
        if total <= 0:
            total, start = 0.0, i
        total += v
        if total > best:
            best, best_span = total, (start, i)
    return best_span


def _bit_columns(values: list[int], width: int) -> np.ndarray:
    """The low `width` bits (at most 64) of each value as 0/1 columns, one row per value."""
    raw = np.array(values, dtype="<u8").view(np.uint8).reshape(len(values), 8)
    return np.unpackbits(raw, axis=1, bitorder="little")[:, :width]


_WORD_MASK = (1 << TOKEN_BUCKETS) - 1
_FAMILY_MASK = (1 << CLASS_FAMILIES) - 1


def _around(values: np.ndarray) -> np.ndarray:
    """The mean of each value's neighbourhood (WINDOW on each side, cut at the page's ends)."""
    n = values.size
    sums = np.concatenate(([0.0], np.cumsum(values, dtype=np.float64)))
    idx = np.arange(n)
    lo = np.clip(idx - WINDOW, 0, n)
    hi = np.clip(idx + WINDOW + 1, 0, n)
    means: np.ndarray = (sums[hi] - sums[lo]) / (hi - lo)
    return means


def _ends_sentence(text: str) -> bool:
    """The text's last character (before one final line break) closes a sentence or a quote."""
    return text.removesuffix("\n").endswith(_SENTENCE_ENDS)


def _onsite_share(links: list[str], page_host: str) -> float:
    """The share of `links` that stay on the page's site (relative addresses do)."""
    onsite = 0
    for href in links:
        if href.startswith("/") and not href.startswith("//"):
            onsite += 1
        elif href.startswith(("http:", "https:", "//")):
            host = host_of(href)
            onsite += host == page_host or host.endswith("." + page_host) or page_host.endswith("." + host)
        elif not href.startswith(("#", "javascript:", "mailto:")):
            onsite += 1
    return onsite / len(links)


def block_features(blocks: list[TextBlock], page_host: str) -> np.ndarray:
    """One row of `FEATURES` per block.

    The per-block loop gathers plain Python values; the matrix is filled column by column
    afterwards (writing numbers one at a time into a NumPy row costs more than computing them).
    """
    n = len(blocks)
    x = np.zeros((n, len(FEATURES)), dtype=np.float32)
    if n == 0:
        return x
    col = {name: i for i, name in enumerate(FEATURES)}
    rep_cache: dict[object, dict[tuple[str, str], int]] = {}
    total_chars = sum(b.chars for b in blocks) or 1
    total_link = sum(b.link_chars for b in blocks)
    text_rows: list[tuple[float, ...]] = []
    context_rows: list[tuple[float, ...]] = []
    tag_codes: list[int] = []
    prose_value: list[float] = []
    heading_related = False
    heading_at = -100
    heading_h1 = False
    heading_comment = False
    parent_prose: dict[int, float] = {}
    parents: dict[int, object] = {}
    chars_so_far = 0
    previous_parent: object = None
    rep_parent = rep_grand = 0.0
    log = math.log
    log1p = math.log1p
    for i, b in enumerate(blocks):
        text = b.text
        chars = b.chars
        words = text.split()
        n_words = len(words) or 1
        link_density = min(1.0, b.link_chars / chars) if chars else 0.0
        el = b.element
        tag = el.tag
        lower = text.lower() if chars <= PROMPT_MAX_CHARS else ""
        related = chars <= 80 and _RELATED_LOWER.search(lower) is not None
        is_heading = tag in HEADING_TAGS
        digits = sum(map(str.isdigit, text))
        text_rows.append(
            (
                log1p(chars),
                log1p(n_words),
                link_density,
                log1p(len(b.links)),
                sum(map(text.count, _PUNCT_CHARS)) / n_words,
                1.0 if _ends_sentence(text) else 0.0,
                (chars - n_words + 1) / n_words,
                digits / chars if chars else 0.0,
                sum(map(str.isupper, map(_first, words))) / n_words,
                1.0 if text.endswith(("…", "...")) else 0.0,
                # Every form _DATE knows holds a digit (`isdigit` takes in every `\d`).
                1.0 if digits and _DATE.search(text) else 0.0,
                1.0 if related else 0.0,
                _onsite_share(b.links, page_host) if b.links else 0.0,
                1.0 if is_heading else 0.0,
                b.depth,
                1.0 if chars <= PROMPT_MAX_CHARS and _PROMPT_LOWER.search(lower) is not None else 0.0,
                1.0 if LABEL_COLON.match(text) is not None else 0.0,
            )
        )
        tag_codes.append(_TAG_CODES.get(tag, N_TAGS - 1))
        parent = el.getparent()
        if parent is None:
            rep_parent = rep_grand = 0.0
        elif parent is not previous_parent:  # else a run of blocks in one parent: both are known
            rep_parent = log(_repetition(parent, rep_cache))
            grand = parent.getparent()
            rep_grand = 0.0 if grand is None else log(_repetition(grand, rep_cache))
        if is_heading or (related and chars <= 60):
            heading_related = related
            heading_at = i
            heading_h1 = tag == "h1"
            heading_comment = chars <= 80 and COMMENT_HEADING.match(text) is not None
            governed = (0.0, 0.0, 0.0, 0.0)
        else:
            governed = (
                1.0 if heading_comment else 0.0,
                1.0 if heading_related else 0.0,
                log1p(min(i - heading_at, 100)),
                1.0 if heading_h1 else 0.0,
            )
        context_rows.append(
            (
                i / n,
                chars_so_far / total_chars,
                log(_repetition(el, rep_cache)),
                rep_parent,
                rep_grand,
                *governed,
                1.0 if i and previous_parent is parent else 0.0,
            )
        )
        chars_so_far += chars
        previous_parent = parent
        is_prose = chars >= PROSE_CHARS and link_density < 0.3
        if is_prose and parent is not None:
            key = id(parent)
            parent_prose[key] = parent_prose.get(key, 0.0) + chars
            parents[key] = parent
        prose_value.append(chars * (1 - link_density) if is_prose else -25.0 - 50.0 * link_density)
    x[:, : len(_TEXT_COLUMNS)] = text_rows
    x[:, [col[name] for name in _CONTEXT_COLUMNS]] = context_rows
    rows = np.arange(n)
    x[rows, col["tag_0"] + np.array(tag_codes)] = 1.0
    land = _bit_columns([b.landmarks for b in blocks], 64)[:, [v.bit_length() - 1 for v in LANDMARKS.values()]]
    x[:, col["in_article"] : col["in_article"] + len(LANDMARKS)] = land
    classes = [b.classes for b in blocks]
    own = [b.own_classes for b in blocks]
    x[:, col["class_0"] : col["class_0"] + CLASS_FAMILIES] = _bit_columns(
        [c & _FAMILY_MASK for c in classes], CLASS_FAMILIES
    )
    x[:, col["own_class_0"] : col["own_class_0"] + CLASS_FAMILIES] = _bit_columns(
        [c & _FAMILY_MASK for c in own], CLASS_FAMILIES
    )
    x[:, col["class_word_0"] : col["class_word_0"] + TOKEN_BUCKETS] = _bit_columns(
        [c >> TOKEN_SHIFT & _WORD_MASK for c in classes], TOKEN_BUCKETS
    )
    x[:, col["own_class_word_0"] : col["own_class_word_0"] + TOKEN_BUCKETS] = _bit_columns(
        [c >> TOKEN_SHIFT & _WORD_MASK for c in own], TOKEN_BUCKETS
    )
    ld = x[:, col["link_density"]].copy()
    lc = x[:, col["log_chars"]].copy()
    prose = np.array([v > 0 for v in prose_value], dtype=np.float32)
    if parent_prose:
        # The element whose children hold the most prose: the story's own box.
        key = max(parent_prose, key=parent_prose.__getitem__)
        main = parents[key]
        x[:, col["main_parent_share"]] = parent_prose[key] / total_chars
        inside = {id(e) for e in main.iter()}  # type: ignore[attr-defined]
        for i, b in enumerate(blocks):
            if id(b.element) in inside:
                x[i, col["in_main_parent"]] = 1.0
                if b.element.getparent() is main:
                    x[i, col["child_of_main_parent"]] = 1.0
    start, end = _main_run(prose_value)
    x[:, col["in_main_run"]] = (rows >= start) & (rows <= end)
    x[:, col["before_main_run"]] = np.log1p(np.clip(start - rows, 0, None))
    x[:, col["after_main_run"]] = np.log1p(np.clip(rows - end, 0, None))
    x[1:, col["prev_link_density"]] = ld[:-1]
    x[:-1, col["next_link_density"]] = ld[1:]
    x[1:, col["prev_log_chars"]] = lc[:-1]
    x[:-1, col["next_log_chars"]] = lc[1:]
    x[:, col["around_prose"]] = _around(prose)
    x[:, col["around_link_density"]] = _around(ld)
    chosen = np.array([b.extra.get("trafilatura", 0.0) for b in blocks], dtype=np.float32)
    x[:, col["trafilatura"]] = chosen
    x[:, col["around_trafilatura"]] = _around(chosen)
    x[:, col["page_log_blocks"]] = math.log1p(n)
    x[:, col["page_link_density"]] = total_link / total_chars
    return x


# The columns the per-block loop fills, in the order it computes them.
_TEXT_COLUMNS = FEATURES[: FEATURES.index("label_colon") + 1]
_CONTEXT_COLUMNS = (
    "position",
    "char_position",
    "rep_self",
    "rep_parent",
    "rep_grandparent",
    "heading_comment",
    "heading_related",
    "heading_distance",
    "heading_is_h1",
    "same_parent_run",
)
