"""Cleaning: HTML bytes in, article text and metadata out. Pure: no network, no Redis.

The steps, in order:
1. decode (`pipeline.charset`: header charset, then the page's own declaration, then detection);
2. metadata: title (site suffix split off), site name, canonical URL, date, authors, language;
3. teaser blocks cut from the tree by structure (`pipeline.teasers`), their links kept; a
   list found inside the story's `<article>` that is mostly not link text stays (`_story_list`);
4. image captions taken apart (each once, for the `captions` field);
5. the rest cut into text blocks (`blocks.py`), each scored by the block classifier
   (`features.py`, `model.py`) as article, teaser or boilerplate; the article blocks are kept.
   When it keeps next to nothing, or less than half of what trafilatura reads as the page's
   text, trafilatura's full cascade reads the page, then the page's densest block of prose
   (`pipeline.fallback`). A page the page-kind model reads as not an article (a listing, a
   forum, a shop) is read whole by trafilatura instead, and so is one it leans to reading so
   when that reading holds half as much text again as the classifier kept;
6. the headline, bylines, credits (a source's, a picture's), calls to action, the site's
   notes to its reader (`_reader_note`) and markup leftovers dropped;
7. repeats within the page dropped (a caption printed again as text, unless the page was read
   whole as not an article; a paragraph twice);
8. a "Source: <url>" line moved to `source_url`;
9. blocks the caller knows to be site boilerplate dropped (`boilerplate` argument).
Every removed block is recorded with its reason, for the audit trail.
"""

from __future__ import annotations

import functools
import hashlib
import operator
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import trafilatura
from lxml import etree
from lxml import html as lxml_html

from pipeline.charset import decode_html
from pipeline.cleaning.blocks import LANDMARKS, TextBlock, cut_blocks
from pipeline.cleaning.features import RELATED_HEADING, _ends_sentence, block_features, host_of
from pipeline.cleaning.kind import NOT_ARTICLE_SCORE, not_article_score
from pipeline.cleaning.model import CLASSES, BlockModel, shipped_model
from pipeline.errors import Dropped, PermanentError
from pipeline.fallback import fallback_paragraphs
from pipeline.limits import DEFAULT_LIMITS, PageLimits, T, count_nodes, cut_list, cut_text, cut_tree
from pipeline.metadata import PageMetadata, read_metadata
from pipeline.models import RelatedLink
from pipeline.sniff import binary_kind
from pipeline.teasers import (
    HEADING_MAX_CHARS,
    MAX_PAGE_LINKS,
    TeaserBlock,
    remove_teasers,
    search_teasers,
    text_of,
)

_TITLE_SEPARATORS = (" – ", " — ", " - ", " | ", " :: ", " · ", " » ")
_SOURCE_LINE = re.compile(r"^\s*(nguồn|source|quelle|fuente|sumber)\s*:\s*(\S+)\s*$", re.IGNORECASE)
_URL = re.compile(r"https?://\S+")
# Text that only a machine reads, left in the page by markup (microdata, hidden fields):
# a bare timestamp, or the address of an image.
_MACHINE_TEXT = re.compile(
    r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"
    r"|https?://\S+\.(jpe?g|png|gif|webp|avif|svg)(\?\S*)?)$",
    re.IGNORECASE,
)
_CAPTION_CLASS = re.compile(r"caption|epigraf|legend|l[ée]gende|bildunterschrift|chu-?thich|keterangan", re.I)
# Comments and processing instructions out: left in, they change what the extractor picks.
# `huge_tree`: libxml2 otherwise stops reading at 256 levels of nesting, and a story inside
# 300 `<div>`s was lost as "no article text". With it, 2,048 levels (`_too_deep` says when a
# page goes deeper); the byte cap on pages bounds the rest of what the option lifts.
_PARSERS = threading.local()  # one per thread: a parser's error log tells of its own last page


def _parser() -> lxml_html.HTMLParser:
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = lxml_html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False, huge_tree=True)
        # Every element an HtmlElement, chosen inside lxml: lxml.html's own lookup calls back into
        # Python for each element the code touches (form and input classes we never use), and that
        # callback was a tenth of the cleaning time.
        parser.set_element_class_lookup(
            etree.ElementDefaultClassLookup(
                element=lxml_html.HtmlElement,
                comment=lxml_html.HtmlComment,
                pi=lxml_html.HtmlProcessingInstruction,
                entity=lxml_html.HtmlEntity,
            )
        )
        _PARSERS.parser = parser
    return parser


MAX_CAPTION_CHARS = 400
MIN_BOILERPLATE_CHARS = 20
REPEAT_MIN_CHARS = 80
TEMPLATE_REPEATS = 3  # a paragraph printed this many times is part of the content's pattern
_CALL_TO_ACTION = re.compile(
    r"\b(subscri(be|ption)|sign up|newsletter|follow (us|me|him|her|them)\b|share (this|it)\b|"
    r"like this (story|article)|follow (\S+ ){1,7}?on (twitter|facebook|instagram|x)\b|listen (to|back)|"
    r"follow .{1,80} at https?://|"
    r"contributed (reporting|to (this|the) report)|"
    r"write to .{1,60}@|reach the (reporter|reporters|writer|author)\b|"
    r"if you (enjoyed|liked) this (article|story|post)|for your personal,? non-?commercial use|"
    r"(may|might) (get|earn|receive) a (share|commission)|"
    r"click here|all rights reserved|have a tip|contact the author|"
    # Other languages: whole phrases only; their verbs alone ("chia sẻ", "compartir") are
    # everyday words of reported speech.
    r"chia sẻ bài viết|theo dõi chúng tôi|đăng ký nhận|bản quyền thuộc|"
    r"partager cet article|abonnez-vous|tous droits réservés|"
    r"compartir en|suscr[ií]bete|todos los derechos reservados|"
    r"artikel teilen|jetzt abonnieren|alle rechte vorbehalten|"
    r"bagikan artikel|berlangganan|hak cipta)",
    re.IGNORECASE,
)
# A reporter's address or profile on a line of its own: "jane.doe@paper.com", "twitter.com/jdoe", "@jdoe".
_CONTACT = re.compile(
    r"^([\w.+-]+@[\w-]+(\.[\w-]+)+|(https?://)?(www\.)?(twitter|x|facebook|instagram|threads|bsky)\.(com|net|app)/[\w./-]+"
    r"|@\w{2,30})$",
    re.IGNORECASE,
)
# "5 min read", "Reading time: 3 minutes", in the languages of our corpus and a few more.
_READING_TIME = re.compile(
    r"^(\d+\s*(min|mins|minute|minutes|phút)\s*(read|đọc)"
    r"|(reading time|tempo de leitura|temps de lecture|tiempo de lectura|lesezeit|thời gian đọc)\s*:?\s*\d+\s*\w*)$",
    re.IGNORECASE,
)
# A list of tags or topics under the story: "Tags: flood, Tanner River", "Từ khóa: ...".
_TAG_LABELS = (
    r"(tags?|tagged( with)?|topics?|categor(y|ies)|filed under|related topics|từ khóa|thẻ|chủ đề|étiquettes|"
    r"mots-clés|thèmes|etiquetas|palabras clave|temas|schlagwörter|themen)"
)
_TAG_LINE = re.compile(rf"^{_TAG_LABELS}\s*(?P<colon>:)?\s*\S", re.IGNORECASE)
_TAG_LABEL = re.compile(rf"^{_TAG_LABELS}\s*:?$", re.IGNORECASE)  # the label on a line of its own
_BYLINE = re.compile(r"^(by|par|von|por|oleh|bởi)\s+\S.*$", re.IGNORECASE)
_CREDIT = re.compile(
    r"^(theo|nguồn|source|sources|via|quelle|fuente|sumber|d'après|according to)\s*:?\s+\S.{0,50}$", re.IGNORECASE
)
# A picture's credit printed as a line of the text, wherever the picture stands: "Foto: dpa",
# "(Credit: Jane Roe / Agency)", "Crédits photos : AFP", "© Agency / Photographer", a
# copyright line. A block up to MAX_CREDIT_CHARS long; a longer one is prose that may name one.
_PICTURE_CREDIT = re.compile(
    r"©|^\(?\s*(photo(graph)?s?|fotos?|bild(er)?|credits?|photo ?credits?|image credits?|crédits? photos?"
    r"|foto ?credits?|ảnh|beitragsbild|titelbild|symbolbild|bildquelle|bildnachweis|fotonachweis|quelle bild)\s*:",
    re.IGNORECASE,
)
MAX_CREDIT_CHARS = 150
# "Read also: <headline>", "Lea más: ...", "Xem thêm: ...": a related story's link printed as a
# line of the story, up to READ_ALSO_MAX_CHARS. The label must open the line and end in a colon
# ("Related to the above: ..." is prose, and so is a bare "More ...:").
_READ_ALSO_LINE = re.compile(
    r"^\W{0,3}((read (more|also|next)|also read|see also|related( reading| articles?| stories| posts?| videos?"
    r"| content| links?| coverage)?|xem thêm|đọc thêm|tin liên quan|lire aussi|à lire aussi|voir aussi"
    r"|lea (también|más)|lea|ver (también|más)|mira (también|más)|te puede interesar|puedes ver|leia (também|mais)"
    r"|veja (também|mais)|leggi anche|baca juga|czytaj (też|także|więcej)|lesen sie (auch|mehr)|mehr zum thema"
    r"|auch interessant|siehe auch|zum weiterlesen|weiterlesen|schon gelesen|das könnte (dich|sie) auch interessieren)"
    r"\s*[:：]|(schon gelesen|puedes ver)\s*\?)\s*\S",
)
READ_ALSO_MAX_CHARS = 250
# What the site says to its reader in the middle of the text: an advert's label on a line of its
# own, a count of comments, a call to sign up that opens a sentence, an affiliate disclosure.
# The model weighs these words as features; on the pages of sites it never saw it still kept
# them where the rest of the block looked like prose.
_AD_LABEL = re.compile(
    r"^\W{0,3}(advertisement|advertising|sponsored|anzeige|werbung|publicité|publicidad|pubblicità|reklama|iklan"
    r"|quảng cáo)\W{0,3}$",
)
_COMMENT_COUNT = re.compile(
    r"^(\d+\s+(comments?|responses?|replies|kommentare?|commentaires?|comentarios?|comentários|reacties|bình luận)"
    r"|(comments?|kommentare?|commentaires?|comentarios?|bình luận)\s*\(\d+\)|kommentieren|kommentare insgesamt\b.*)$",
)
_SIGN_UP = re.compile(
    r"(^|[.!?]\s+)\W{0,3}(sign up|subscribe|join our|get our newsletter|never miss|don't miss|jetzt abonnieren"
    r"|abonnieren sie|melden sie sich|abonnez-vous|inscrivez-vous|suscr[ií]bete|únete|assine|iscriviti|đăng ký)\b",
)
_AFFILIATE = re.compile(
    r"qualifying purchases|amazon (associate|affiliate)|(contains?|uses|includes?|use) (some )?affiliate[ -]links"
    r"|affiliate[ -]links? (are|is) used|\b(we|i) (may |might |could )?(earn|receive|get|make) (a |an )?(small |tiny )?"
    r"(commission|kickback|share)|supported by commissions|earn commissions from|handelt es sich um affiliate"
    r"|sind (sogenannte )?\W?affiliate|enthält (affiliate|werbung)|^\W{0,2}werbung(\s*[.:*]|\s+für\s)"
    r"|liens? d'affiliation|enlaces de afiliad",
)
# A heading that is nothing but the words of a related-stories box ("Related", "Zum Weiterlesen",
# "Xem thêm"): whatever stands under it, it is not the story's own heading.
_RELATED_ONLY = re.compile(
    r"^\W{0,3}(related( articles| posts| stories| content| reading)?|read (more|also|next)|see also|also read"
    r"|you (may|might) also like|more (stories|articles|news)|recommended (for you|stories|articles|reading)"
    r"|most (read|viewed|popular)|zum weiterlesen|weiterlesen|schon gelesen"
    r"|das (thema )?könnte (dich|sie) auch interessieren"
    r"|lesen sie auch|mehr zum thema|auch interessant|à lire aussi|lire aussi|sur le même sujet|te puede interesar"
    r"|lea también|leia também|leggi anche|baca juga|czytaj (też|także)|tin liên quan|xem thêm|bài viết liên quan"
    r"|có thể bạn quan tâm|cùng chủ đề)\W{0,3}$",
)
# A call to log in, to comment or to install the site's app, the paywall's offer, and the
# placeholder a consent tool prints where an embedded post or map would load.
_SITE_CALL = re.compile(
    r"(you must|you need to) be (logged in|signed in|registered) to (post|comment|reply|view|read|see|access)"
    r"|sie müssen (sich )?(angemeldet|eingeloggt|registriert) sein|sie müssen sich (einloggen|anmelden|registrieren)"
    r"|vous devez être (connecté|inscrit)|debes (iniciar sesión|estar registrado)"
    r"|enter your e-?mail (address )?(below|here) to|download (our|the) .{0,30}apps? for (ios|android|iphone)"
    r"|download our app|instant access to the full (article|text)"
    r"|verraten sie (gerne|uns) in den kommentaren|let us know in the comments|leave (us )?a comment below"
    r"|empfohlener redaktioneller inhalt|externe[nr]? inhalte?\b|inhalt (von|aus) \S{1,60} (zu )?laden"
    r"|click (on )?the button (below )?to load|^\w+ freischalten$|^(bild|video|inhalt|karte) anzeigen$",
)
SITE_CALL_MAX_CHARS = 300
# The site's disclaimer for the pages it links to: "The Courier is not responsible for the
# content of external sites", "Für den Inhalt externer Seiten ... keine Haftung".
_LINK_DISCLAIMER = re.compile(
    r"(not|n't|cannot be held) (be )?responsible for the contents? of (any )?(external|third[- ]party|linked|other)"
    r" (internet |web ?)?(sites|websites|pages|links)"
    r"|für (den|die) inhalte? (externer|verlinkter|fremder) (seiten|links|internetseiten|webseiten)"
    r"|keine haftung für (die )?inhalte? (externer|verlinkter|fremder)"
    r"|(n'est|ne sont) pas responsables? du contenu des sites (externes|extérieurs|tiers)"
    r"|no (se hace|es) responsable (de|del) (los )?contenidos? de (los )?sitios (externos|de terceros)"
    r"|không chịu trách nhiệm (về|đối với) nội dung (của )?các (trang|website|liên kết) bên ngoài",
)
# A dateline of its own: "Aktualisiert am 17.01.2021", "Updated on 09/10/2025"; a wire's
# initials under the story: "aja/PAP", "dpa/lno"; "Written by Jane Roe" wherever it stands.
_UPDATED_LINE = re.compile(
    r"^\W{0,2}(aktualisiert|zuletzt aktualisiert|updated|last updated|mis à jour|actualizado|atualizado|cập nhật)"
    r"( am| on| le| el| em| lúc)?\s*:?\s*\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\S*"
    r"(\s*(um\s*)?\d{1,2}[:.]\d{2}(\s*uhr)?)?\W{0,2}$",
)
_AGENCY_INITIALS = re.compile(
    r"^\(?[a-zäöü]{2,4}(/[a-zäöü]{2,4})*/(dpa|afp|ap|pap|reuters|kna|epd|apa|sda|ats|ansa|efe|dts|rtr|sid)\)?\.?$",
)
_WRITTEN_BY = re.compile(
    r"^\W{0,2}(written|reviewed|fact[- ]checked|medically reviewed|geschrieben|verfasst|escrito|écrit|redigido|scritto)"
    r"\s+(by|von|por|par|da)\s+\S.{0,50}$",
)
DATELINE_MAX_CHARS = 70
AD_LABEL_MAX_CHARS = 40
SIGN_UP_MAX_CHARS = 160
AFFILIATE_MAX_CHARS = 400
# The labels forum software prints beside each post ("Joined", "Posts: 1,077", "Reaction
# score", "10+ Year Member"), and a shop's or a loading page's status lines ("Out of stock",
# "Loading..."): short lines of the software, never of what its users wrote.
_SOFTWARE_LABEL = re.compile(
    r"^\W{0,3}(joined|join date|messages|posts|reaction score|points|likes received|trophy points|registered"
    r"|registered user|(new|full|junior|senior|well-known|active) member|member|\d+\+? years? member|location|threads"
    r"|thread starter|you are not logged in|likes)\b\s*:?\s*[\d.,]*\s*$",
)
_STATUS_LINE = re.compile(
    r"^\W{0,3}(loading|wird geladen|chargement( en cours)?|cargando|đang tải|out of stock|in stock|sold out"
    r"|free shipping|added to (your )?cart.*|add to (cart|basket|bag|wishlist)|in den warenkorb|ajouter au panier"
    r"|añadir al carrito)\W{0,3}$",
)
SOFTWARE_LABEL_MAX_CHARS = 40
RELATED_WORDS_WITHIN = 8  # characters: a related-stories heading opens with its words ("Browse related")
MIN_CUT_COPY_CHARS = 30  # a shorter cut copy could be any sentence's opening words
HEAD_BLOCKS = 2  # a headline or standfirst is looked for among the first blocks only
MIN_STANDFIRST_CHARS = 40
MAX_STANDFIRST_CHARS = 200  # deks run 60-160 characters; a sapo is a paragraph
# "TTO - ", "(Dân trí) - ", "HLO – ", "WASHINGTON (AP) — ": the dateline that opens a lede.
_DATELINE = re.compile(r"^[(\w][\w.()\s]{0,30}\s?[-–—]\s")
# A wire service's credits under the story: "(Reporting by ...; Editing by ...)".
_NEWSROOM_CREDITS = re.compile(r"^\(?(additional )?(reporting|writing|editing) by \S", re.IGNORECASE)
MIN_ARTICLE_CHARS = 60  # shorter than a one-sentence brief: a menu or an empty page
FALLBACK_WHEN_CHARS = 200  # the extractor kept less than this: see pipeline/fallback.py
# The classifier kept fewer words than this share of trafilatura's reading: it gave up on the
# page, and trafilatura's full cascade reads it (`_reading_given_up`). Chosen on the article
# pages of ScrapingHub and wcxb-dev, where each fold of sites, choosing from 0.3-1.0 on the
# other four, chose 0.5; trafilatura-eval, never looked at for it, is the check.
GIVE_UP_SHARE = 0.5
# When the extractor's fast path kept less than this, or less than this share of the page's
# text, its full cascade is tried (on the development sets: about one page in fourteen; it
# recovers much of the recall the fast path loses, and more share than this costs precision).
FULL_CASCADE_MIN_CHARS = 300
FULL_CASCADE_SHARE = 0.2
CASCADE_KEEPS_SHARE = 0.5  # of the fast path's text: less, and both are kept (see _both_readings)
FULL_CASCADE_MAX_NODES = 12_000
# A block at least this likely to be article text is kept. On held-out folds 0.55 kept less of
# what is not the story at the same F1 on article pages (wcxb-dev teaser leakage 8.8% -> 7.6%),
# but cost trafilatura-eval 0.8 points of recall, past the gate's one point behind trafilatura.
KEEP_SCORE = 0.45
# On a page read as not an article, a line of trafilatura's reading that the classifier took
# for boilerplate is left out when shorter than this (menu items, "Log in", "Reaction score");
# a longer one may be a forum post, which it reads as comments, or a product's description.
# On held-out folds of the 348 wcxb-dev pages so read, 120 left out 3 more must-exclude
# snippets (57 leaked against 60) and cost service pages 1.8 points of F1, shop pages 1.1.
CHROME_MAX_CHARS = 60
# A list the teaser search found inside the story's `<article>` stays when less than this
# share of its text is link text (`_story_list`). On wcxb-dev, where it was chosen, most of
# such lists' words are the page's own (a documentation hub's child pages, each with a line
# on what it holds, a course's modules) in its annotators' reading.
STORY_LIST_LINK_SHARE = 0.6
# The training scripts read their pages without that exception (`read_page(story_lists=False)`):
# the classifier learns from what is left once the teaser search has cut its lists. Trained with
# the lists kept, the models leaked more on held-out folds of wcxb-dev (must-exclude snippets
# 2.58% to 2.66%, shop pages 0.6591 to 0.6522) for 0.0012 of article F1 (2026-12-07).
STORY_LISTS_IN_TRAINING = False
_CHROME_TAGS = frozenset({"nav", "header", "footer", "aside"})
# The same four as `TextBlock.landmarks` bits.
_CHROME_LANDMARKS = functools.reduce(operator.or_, (LANDMARKS[tag] for tag in _CHROME_TAGS))
# A page the page-kind model leans to reading as not an article (this or more, under
# `NOT_ARTICLE_SCORE`) is read whole as one is, when that reading holds at least
# `WHOLE_READING_SHARE` times the text the classifier kept: a listing or a forum thread whose
# items the classifier read as teasers. On wcxb-dev, each fold of sites choosing among
# 0.7/0.8/0.9 and 1.25/1.5/2 (or none) on the other four raised the held-out mean F1 of its
# pages from 0.8360 to 0.8391; 0.9 alone left its articles as they were (0.9506 to 0.9505).
UNSURE_NOT_ARTICLE = 0.9
WHOLE_READING_SHARE = 1.5
# A page's reading whole flattens its layout table (`_flattens_layout`) when one row holds a
# cell with a kept block of this many characters or more and another with chrome of at least
# `LAYOUT_CHROME_CHARS` (shorter chrome, "Home" or "Log in", is also a data table's label).
LAYOUT_KEPT_CHARS = 80
LAYOUT_CHROME_CHARS = 40
# The check reads the first `LAYOUT_ROWS` long rows of the reading and the `LAYOUT_SAMPLE`
# longest blocks of each side, so that a page of a thousand rows costs it no more than one of ten.
LAYOUT_ROWS = 20
LAYOUT_SAMPLE = 20


@dataclass
class Block:
    text: str
    fingerprint: str
    reason: str | None = None  # None: kept; else why it was removed
    label: str | None = None  # the classifier's class (`model.CLASSES`); None: a block it did not read
    scores: dict[str, float] | None = None  # the classifier's probability of each class

    @property
    def score(self) -> float | None:
        """The classifier's probability that the block is article text."""
        return None if self.scores is None else self.scores["article"]


@dataclass
class CleanedPage:
    title: str
    body: str
    blocks: list[Block]
    site_name: str | None
    canonical_url: str | None
    published_at: datetime | None
    authors: list[str]
    language: str | None
    section: str | None
    tags: list[str]
    image: str | None
    summary: str
    source_url: str | None
    related: list[RelatedLink] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    teaser_texts: list[str] = field(default_factory=list)
    # What the bounds of `pipeline.limits` cut: "title_chars" -> characters cut, "related" ->
    # links left out, "page_elements" -> elements of a huge page never read, and so on.
    truncated: dict[str, int] = field(default_factory=dict)
    # "classifier"; "trafilatura" when the classifier kept next to nothing, or the page is
    # not an article (or likely not one, and read whole holds much more), and trafilatura's
    # reading was used; "fallback" when that found nothing and the page's densest prose was read.
    extractor: str = "classifier"
    # The page-kind model's probability that the page is not an article (`kind.py`): a
    # section front, a forum thread, a shop, service or documentation page.
    not_article: float = 0.0

    @property
    def is_article(self) -> bool:
        return self.not_article < NOT_ARTICLE_SCORE

    @property
    def kept(self) -> list[Block]:
        return [b for b in self.blocks if b.reason is None]

    def removed_counts(self) -> dict[str, int]:
        """Removed blocks by reason, and what the bounds cut as "cut:<what>" (see `truncated`)."""
        counts: dict[str, int] = {}
        for b in self.blocks:
            if b.reason:
                counts[b.reason] = counts.get(b.reason, 0) + 1
        counts.update({f"cut:{what}": n for what, n in self.truncated.items()})
        return counts


def normalize_block(text: str) -> str:
    """Block text for comparison: NFC, case-folded, whitespace collapsed, trailing dots cut."""
    text = unicodedata.normalize("NFC", text).casefold()
    text = " ".join(text.split())
    return text.rstrip(".…· ").strip()


def _squash(text: str) -> str:
    """Text without any white space, case-folded: robust to how each tool joins inline tags."""
    return "".join(unicodedata.normalize("NFC", text).split()).casefold()


def block_fingerprint(text: str) -> str:
    return hashlib.sha1(normalize_block(text).encode("utf-8")).hexdigest()[:16]


@dataclass
class ReadPage:
    """A page parsed and prepared for the block classifier: the steps that cleaning and
    training share."""

    root: lxml_html.HtmlElement
    meta: PageMetadata
    canonical: str
    teasers: list[TeaserBlock]
    page_chars: int
    headings: tuple[set[str], set[str]]
    captions: list[str]
    truncated: dict[str, int]
    blocks: list[TextBlock]
    fast_text: str  # trafilatura's fast path over the page (a feature; the fallback reads it too)


def read_page(
    body: bytes,
    url: str,
    *,
    charset: str | None = None,
    limits: PageLimits = DEFAULT_LIMITS,
    story_lists: bool = True,
) -> ReadPage:
    """Decode, parse, read the metadata, cut the teaser rails the rules recognise and the
    captions, and cut what is left into text blocks.

    `story_lists=False` cuts the lists `_story_list` would keep as well, as the teaser search
    alone finds them: how the training scripts read their pages (see `STORY_LISTS_IN_TRAINING`)."""
    if (kind := binary_kind(body, charset)) is not None:
        raise Dropped("not_html", f"clean {url}: the body is {kind}, not an HTML page; not cleaned")
    text = decode_html(body, charset)
    try:
        parser = _parser()
        root = lxml_html.document_fromstring(text, parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise PermanentError(f"clean {url}: HTML cannot be parsed ({exc})") from None
    if _too_deep(parser):
        raise PermanentError(
            f"clean {url}: HTML nested more than 2,048 elements deep, past what the parser reads; not cleaned"
        )
    truncated = {"page_elements": cut_tree(root, limits.page_elements)}
    if count_nodes(root) > MAX_PAGE_LINKS:
        truncated["links_unread"] = max(0, sum(1 for _ in root.iter("a")) - MAX_PAGE_LINKS)
    meta = read_metadata(root, url)
    canonical = meta.canonical_url or url
    search = search_teasers(root, canonical)
    teasers = [t for t in search.blocks if not (story_lists and _story_list(t))]
    # Cut before classification: the classifier then never weighs teaser text as content.
    remove_teasers(root, canonical, teasers)
    headings = _page_headings(root)
    page_chars = search.page_chars - sum(len(_squash(t.text)) for t in teasers)
    captions, truncated["captions"] = take_captions(root, limits.captions)
    blocks = cut_blocks(root, limits.blocks * 4)
    # trafilatura's reading of the page, as one feature among others: which blocks its fast
    # path keeps. (In held-out trials without it the classifier scored 0.4-0.8 points lower on
    # ScrapingHub and about 1.4 on trafilatura-eval, the same on wcxb-dev; it is more than a
    # quarter of the cleaning's time.)
    fast_text = _trafilatura(root, url, fast=True)
    chosen = _squash(fast_text)
    for b in blocks:
        b.extra["trafilatura"] = 1.0 if _squash(b.text) in chosen else 0.0
    return ReadPage(root, meta, canonical, teasers, page_chars, headings, captions, truncated, blocks, fast_text)


def _story_list(block: TeaserBlock) -> bool:
    """A list the teaser search found that is the story's own: inside the page's `<article>`,
    outside its `<nav>`, `<aside>`, `<header>` and `<footer>`, under no related box's heading,
    each item led by its link and then a line of its own, so that most of its text is not
    link text (a documentation hub's "<a>Generics</a> - Types which take parameters", a
    course's modules). It stays for the classifier to weigh."""
    el = block.element
    if block.kind != "list" or el.tag in _CHROME_TAGS:
        return False
    above = {a.tag for a in el.iterancestors()}
    if "article" not in above or above & _CHROME_TAGS:
        return False
    prev = el.getprevious()
    heads = (prev.text_content() if prev is not None else "", text_of(el[0]) if len(el) else "")
    if any(h and len(h) <= HEADING_MAX_CHARS and RELATED_HEADING.search(h.lower()) for h in heads):
        return False
    links = sum(len(text_of(a)) for a in el.iter("a"))
    if links >= STORY_LIST_LINK_SHARE * max(1, len(block.text)):
        return False
    items = [c for c in el if isinstance(c.tag, str)]
    while len(items) == 1:
        items = [c for c in items[0] if isinstance(c.tag, str)]
    # Headlines linked in part ("Khai trương chợ <a>phiên vùng cao</a>") are no such list.
    led = 0
    for item in items:
        anchor = item if item.tag == "a" else item.find(".//a")
        title = text_of(anchor) if anchor is not None else ""
        led += bool(title) and text_of(item).startswith(title)
    return bool(items) and led * 3 >= len(items) * 2


def classify_blocks(page: ReadPage, model: BlockModel | None = None, x: np.ndarray | None = None) -> np.ndarray:
    """Class probabilities of the page's blocks (see `model.CLASSES`); `x`, their features
    when already computed."""
    model = model or shipped_model()
    return model.scores(block_features(page.blocks, host_of(page.canonical)) if x is None else x)


def clean_page(
    body: bytes,
    url: str,
    *,
    charset: str | None = None,
    boilerplate: Callable[[list[str]], Collection[str]] | None = None,
    limits: PageLimits = DEFAULT_LIMITS,
    model: BlockModel | None = None,
    kind_model: BlockModel | None = None,
) -> CleanedPage:
    """Extract the article of one page. Raises Dropped when there is no article text.

    `boilerplate(fingerprints)` answers which of the page's block fingerprints the site
    prints on many pages; it is asked once, with every candidate block. Every field is
    held within `limits`; what they cut is in `CleanedPage.truncated`. `model` and `kind_model`
    replace the shipped block classifier and page-kind model (the bench scores each page with
    models that never saw its site).

    A page the page-kind model reads as not an article (`kind.NOT_ARTICLE_SCORE`) is read by
    trafilatura's full cascade instead of the block classifier, which learned from articles
    only: on held-out folds of wcxb-dev that read listings, forums and shop pages closer to
    what their annotators chose. A page it leans to reading so (`UNSURE_NOT_ARTICLE`) is read
    the same way when that reading holds `WHOLE_READING_SHARE` times what the classifier kept.
    """
    page = read_page(body, url, charset=charset, limits=limits)
    root, meta, teasers, captions, truncated = page.root, page.meta, page.teasers, page.captions, page.truncated
    related: dict[str, RelatedLink] = {}
    for t in teasers:
        for link in t.links:
            related.setdefault(link.url, link)
    x = block_features(page.blocks, host_of(page.canonical))
    scores = classify_blocks(page, model, x)
    not_article = not_article_score(page, x, kind_model)
    blocks = []
    # The scores as Python floats (NumPy's scalars cost more to read one by one than the rest
    # of this loop). They are float32: the bar is too, as NumPy would compare them.
    keep_at = float(np.float32(KEEP_SCORE))
    for tb, p in zip(page.blocks, scores.tolist(), strict=True):
        # Article at KEEP_SCORE or above; else the likelier of boilerplate and teaser.
        label = "article" if p[1] >= keep_at else "teaser" if p[2] > p[0] else "boilerplate"
        probabilities = {name: round(v, 4) for name, v in zip(CLASSES, p, strict=True)}
        reason = None if label == "article" else label
        blocks.append(Block(tb.text, block_fingerprint(tb.text), reason, label, probabilities))
    extractor = "classifier"
    read_whole = False  # the text is trafilatura's reading of the page as served, captions in place
    kept = [b.text for b in blocks if b.reason is None]
    whole = _whole_page_reading(body, charset, url, limits) if not_article >= UNSURE_NOT_ARTICLE else None
    teaser_texts = [t.text for t in teasers]
    # Read whole unless that reading flattens a layout table into rows of data (then the
    # classifier's reading stays): checked last, only on a page that would be read so.
    if (
        whole is not None
        and (not_article >= NOT_ARTICLE_SCORE or _reads_more(whole, kept))
        and not _flattens_layout(whole, blocks, teaser_texts)
    ):
        # trafilatura chooses the page's part; the chrome the classifier found in it stays out.
        chrome = _chrome_lines(blocks, page.blocks)
        blocks, extractor = _read_instead(blocks, whole, root, extractor, only_if_longer=False, leave_out=chrome)
        read_whole = extractor == "trafilatura"
    elif (read := _reading_given_up(page, url, kept)) is not None:
        # The classifier gave up on the page: trafilatura reads it, then the page's densest prose.
        blocks, extractor = _read_instead(blocks, read, root, extractor, only_if_longer=True)
    caption_norms = [normalize_block(c) for c in captions]
    title = _split_title(meta.title, meta.site_name)
    top_headings = page.headings[0]
    for b in blocks:
        # The classifier drops the headline with the page's chrome; say what it is.
        if b.reason in CLASSES and normalize_block(b.text) in top_headings:
            b.reason = "headline"
    for b in blocks:
        if b.reason is None and _is_title_line(b.text, title):
            b.reason = "title"
    _mark_headline(blocks, page.headings, meta.description)
    source_url = _take_source_line(blocks)
    _mark_bylines(blocks, meta.authors)
    _mark_calls_to_action(blocks)
    _mark_related_headings(blocks)
    for b in blocks:
        if b.reason is not None:
            continue
        text = b.text.strip()
        if _MACHINE_TEXT.match(text):
            b.reason = "markup"
        elif not read_whole and len(b.text) <= MAX_CREDIT_CHARS and _PICTURE_CREDIT.search(b.text):
            b.reason = "credit"
        else:
            b.reason = _reader_note(text, read_whole)
    # A caption printed once more as plain text under its picture goes. Not on a page read
    # whole (`_whole_page_reading`): that reading kept the captions in place, so a line that
    # matches one is the caption itself, printed once; on a listing or a shop page it is
    # often an item's only text.
    for b in blocks:
        if b.reason is None and captions and not read_whole and _is_caption_copy(b.text, caption_norms):
            b.reason = "caption"
    _mark_repeats(blocks)
    if boilerplate is not None:
        _mark_boilerplate(blocks, boilerplate)
    kept = [b.text for b in blocks if b.reason is None]
    if sum(len(k) for k in kept) < MIN_ARTICLE_CHARS:
        raise Dropped("no_text", f"clean {url}: no article text found (a menu, an index or an empty page)")
    cleaned = CleanedPage(
        title=title,
        body="\n\n".join(kept),
        blocks=blocks,
        site_name=meta.site_name,
        canonical_url=meta.canonical_url,
        published_at=meta.published_at,
        authors=meta.authors,
        language=meta.language,
        section=meta.section,
        tags=meta.tags,
        image=meta.image,
        summary=meta.description or kept[0][:300],
        source_url=source_url,
        related=list(related.values()),
        captions=captions,
        teaser_texts=teaser_texts,
        extractor=extractor,
        not_article=round(not_article, 4),
    )
    _bound(cleaned, limits, {k: n for k, n in truncated.items() if n})
    return cleaned


def _bound(page: CleanedPage, limits: PageLimits, truncated: dict[str, int]) -> None:
    """Hold every field of `page` within `limits`, noting in `page.truncated` what was cut."""

    def text(value: str, limit: int, what: str) -> str:
        value, n = cut_text(value, limit)
        if n:
            truncated[what] = truncated.get(what, 0) + n
        return value

    def items(values: list[T], limit: int, what: str) -> list[T]:
        values, n = cut_list(values, limit)
        if n:
            truncated[what] = n
        return values

    def url(value: str | None, what: str) -> str | None:
        if value is not None and len(value) > limits.url_chars:
            truncated[what] = 1  # a cut address leads nowhere: left out whole
            return None
        return value

    page.blocks = _within_block_limit(page.blocks, limits.blocks, truncated)
    room = limits.body_chars
    for b in page.blocks:
        if b.reason is not None:
            continue
        if room <= 0:
            b.reason = "over_limit"
            continue
        if len(b.text) > room:
            b.text = text(b.text, room, "body_chars")
            b.fingerprint = block_fingerprint(b.text)
        room -= len(b.text) + 2  # the blank line between blocks
    page.body = "\n\n".join(b.text for b in page.blocks if b.reason is None)
    page.title = text(page.title, limits.title_chars, "title_chars")
    page.summary = text(page.summary, limits.summary_chars, "summary_chars")
    page.authors = [
        text(a, limits.author_chars, "author_chars") for a in items(page.authors, limits.authors, "authors")
    ]
    page.tags = [text(t, limits.tag_chars, "tag_chars") for t in items(page.tags, limits.tags, "tags")]
    page.captions = [
        text(c, limits.caption_chars, "caption_chars") for c in items(page.captions, limits.captions, "captions")
    ]
    page.related = [
        link.model_copy(update={"title": text(link.title, limits.related_title_chars, "related_title_chars")})
        for link in items(page.related, limits.related, "related")
        if url(link.url, "related_url") is not None
    ]
    page.teaser_texts = items(page.teaser_texts, limits.teaser_blocks, "teaser_blocks")
    for name in ("site_name", "section"):
        value = getattr(page, name)
        if value is not None:
            setattr(page, name, text(value, limits.label_chars, f"{name}_chars"))
    page.canonical_url = url(page.canonical_url, "canonical_url")
    page.image = url(page.image, "image")
    page.source_url = url(page.source_url, "source_url")
    page.truncated = truncated


def _read_instead(
    blocks: list[Block],
    read: str,
    root: lxml_html.HtmlElement,
    extractor: str,
    *,
    only_if_longer: bool,
    leave_out: Collection[str] = (),
) -> tuple[list[Block], str]:
    """The page's blocks with trafilatura's reading `read` in place of the kept ones (or, when
    it found next to nothing, the page's densest prose); unchanged when that finds nothing, or
    (`only_if_longer`) less than the classifier kept. Lines whose `normalize_block` text is in
    `leave_out` are left out (they are among the removed blocks already). Also says which
    extractor chose the text."""
    texts = [t for t in (line.strip().strip("|").strip() for line in read.split("\n")) if t]
    if leave_out:
        texts = [t for t in texts if normalize_block(t) not in leave_out]
    chosen = "trafilatura"
    if sum(len(t) for t in texts) < FALLBACK_WHEN_CHARS and (found := fallback_paragraphs(root)):
        texts, chosen = found, "fallback"
    kept_chars = sum(len(b.text) for b in blocks if b.reason is None)
    if not texts or (only_if_longer and sum(len(t) for t in texts) <= kept_chars):
        return blocks, extractor
    return [*[b for b in blocks if b.reason is not None], *(Block(t, block_fingerprint(t)) for t in texts)], chosen


def _chrome_lines(blocks: list[Block], text_blocks: list[TextBlock]) -> set[str]:
    """What a page read whole leaves out of trafilatura's reading (`normalize_block` texts):
    the blocks under `CHROME_MAX_CHARS` the classifier took for boilerplate (menu items, "Log
    in", "Reaction score"), save a sentence with no link that stands outside the page's
    navigation, header, footer and asides. The classifier learned from articles, and on a shop
    or listing page such a line is an item's own text ("Plant a crop and make sure it gets
    rain.", "Free returns within 30 days."), where chrome is links and labels. `blocks` are the
    classifier's reading of `text_blocks`, one for one."""
    return {
        normalize_block(b.text)
        for b, tb in zip(blocks, text_blocks, strict=True)
        if b.label == "boilerplate"
        and len(b.text) < CHROME_MAX_CHARS
        and (tb.link_chars or tb.landmarks & _CHROME_LANDMARKS or not _ends_sentence(b.text))
    }


def _whole_page_reading(body: bytes, charset: str | None, url: str, limits: PageLimits) -> str:
    """trafilatura's full cascade over the page as served, its teaser rails and captions left
    in: on a page that is not an article (a section front, a shop's catalogue) the lists are
    what it holds. Parsed again, as `read_page` has cut them from its tree.

    The cascade's reading alone: the fast path's, read over the tree without its lists, added
    to it as on articles (`_both_readings`) cost every type of such page on held-out folds of
    wcxb-dev (forums 2.6 points of F1) and brought in more of what they should not hold. And
    the cascade reads the page however many elements it has, up to `limits.page_elements`:
    read by the fast path, a large catalogue or documentation page lost most of its text."""
    root = lxml_html.document_fromstring(decode_html(body, charset), parser=_parser())
    cut_tree(root, limits.page_elements)
    return _trafilatura(root, url, fast=False) or _trafilatura(root, url, fast=True)


def _flattens_layout(whole: str, blocks: list[Block], teasers: list[str]) -> bool:
    """trafilatura read the page's layout table as a table of data: in one row of its reading
    (cells joined by " | "), one cell holds text the classifier kept as the article and another
    holds a block it took for boilerplate, or a teaser rail the search cut.

    Older sites set the whole page in one table: the menu, the story and the "most read" box
    are cells of one row. Read as data, that row is one line of text, so the menu cannot be
    left out of it (the chrome rule works line by line), and a story with a short address and
    no declared type, which the page-kind model may score high, would be printed after its
    site's menu. None of the 2,645 development pages reads so (their reading is the same with
    or without this check); pages of our own in that old layout do."""
    kept = _longest([b.text for b in blocks if b.reason is None and len(b.text) >= LAYOUT_KEPT_CHARS])
    if not kept:
        return False
    chrome = [b.text for b in blocks if b.label == "boilerplate" and len(b.text) >= LAYOUT_CHROME_CHARS]
    chrome += [t for t in teasers if len(t) >= LAYOUT_CHROME_CHARS]
    chrome_norms = [n for n in _longest(chrome) if not any(n in k for k in kept)]  # not a part of the story
    if not chrome_norms:
        return False
    rows = 0
    for line in whole.split("\n"):
        if len(line) < LAYOUT_KEPT_CHARS + LAYOUT_CHROME_CHARS or " | " not in line:
            continue
        cells = [normalize_block(c) for c in line.strip().strip("|").split(" | ")]
        with_kept = {i for i, c in enumerate(cells) if len(c) >= LAYOUT_KEPT_CHARS and any(k in c for k in kept)}
        with_chrome = {
            i for i, c in enumerate(cells) if len(c) >= LAYOUT_CHROME_CHARS and any(n in c for n in chrome_norms)
        }
        if with_kept and with_chrome - with_kept:
            return True
        rows += 1
        if rows >= LAYOUT_ROWS:  # a layout's rows come first and are few; a table of data has many
            break
    return False


def _longest(texts: list[str]) -> list[str]:
    """The `LAYOUT_SAMPLE` longest of `texts`, as `normalize_block` gives them."""
    return [normalize_block(t) for t in sorted(texts, key=len, reverse=True)[:LAYOUT_SAMPLE]]


def _reads_more(whole: str, kept: list[str]) -> bool:
    """trafilatura's reading of the whole page holds `WHOLE_READING_SHARE` times the text the
    classifier kept, or more (line breaks not counted)."""
    return len(whole) - whole.count("\n") >= WHOLE_READING_SHARE * max(1, sum(len(k) for k in kept))


def _reading_given_up(page: ReadPage, url: str, kept: list[str]) -> str | None:
    """trafilatura's reading of a page the classifier gave up on, else None.

    It gave up when it kept next to nothing (`FALLBACK_WHEN_CHARS`), or fewer than
    `GIVE_UP_SHARE` of the words trafilatura reads as the page's text: then the classifier
    has taken the page's main text for teasers or chrome (a forum thread, a listing, a story
    split over cells), and trafilatura's full cascade reads it instead."""
    read = extract_text(page.root, url, page.fast_text, page.page_chars)
    if sum(len(k) for k in kept) < FALLBACK_WHEN_CHARS:
        return read
    if sum(len(k.split()) for k in kept) >= GIVE_UP_SHARE * len(read.split()):
        return None
    if read is page.fast_text:  # the cascade has not read it yet
        read = extract_text(page.root, url, page.fast_text, page.page_chars, cascade=True)
    return read


def extract_text(
    root: lxml_html.HtmlElement, url: str, fast_text: str, page_chars: int, *, cascade: bool = False
) -> str:
    """The main text of a parsed page, by trafilatura (which works on a copy of the tree).

    Its fast path's text first (`fast_text`, read once by `read_page`). Its full cascade (a
    comparison with readability and jusText, retries for recall) costs more and is run where
    the fast path kept little of the page's text (`page_chars`, white space left out), or when
    asked (`cascade`); it is quadratic in the page's size, so a huge page never gets it.
    """
    text = fast_text
    if not cascade and len(text) >= FULL_CASCADE_MIN_CHARS and len(text) >= FULL_CASCADE_SHARE * page_chars:
        return text
    if count_nodes(root) > FULL_CASCADE_MAX_NODES:
        return text
    return _both_readings(text, _trafilatura(root, url, fast=False))


def _both_readings(fast: str, full: str) -> str:
    """The full cascade's text, after the fast path's when the cascade left most of it out.

    The cascade may settle on another part of the page (a longer block of comments or of
    links, a neighbouring box) and drop the short text the fast path had found; that text
    was read as the page's main text once, so it stays, ahead of the cascade's.
    """
    lines = [line for line in fast.split("\n") if line.strip()]
    if sum(len(line) for line in lines if line in full) >= CASCADE_KEEPS_SHARE * len(fast):
        return full
    return f"{fast}\n{full}"


def _too_deep(parser: etree.HTMLParser) -> bool:
    """Whether the last page `parser` read went past its nesting limit (what lay deeper is lost)."""
    return any(e.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT for e in parser.error_log)


def _trafilatura(root: lxml_html.HtmlElement, url: str, *, fast: bool) -> str:
    extracted = trafilatura.bare_extraction(
        root,
        url=url,
        fast=fast,
        include_comments=False,
        include_tables=True,
        include_images=False,
        deduplicate=False,
    )
    text = getattr(extracted, "text", None) if extracted is not None else None
    return text or ""


def take_captions(root: lxml_html.HtmlElement, limit: int = DEFAULT_LIMITS.captions) -> tuple[list[str], int]:
    """Cut image captions out of the tree; return them, each once, in page order (at most
    `limit`), and how many more the page held.

    Captions are kept apart from the body (the `captions` field): a figure's caption, an
    element whose class says caption, or the one short text of a box that holds a picture.
    A truncated copy (an alt text cut short, printed before the caption) counts once.
    """
    found: list[str] = []

    def take(el: lxml_html.HtmlElement, text: str) -> None:
        found.append(text)
        if el.getparent() is not None:
            el.drop_tree()

    for fig in list(root.iter("figure")):
        caption = fig.find(".//figcaption")
        if caption is not None and text_of(caption):
            take(fig, text_of(caption))
    # Boxes that hold a picture: only there can a text be the caption beside it.
    picture_boxes = set()
    for img in root.iter("img"):
        picture_boxes.add(img.getparent())
        picture_boxes.update(holder.getparent() for holder in img.iterancestors("a", "picture"))
    for el in list(root.iter("p", "div", "span", "figcaption", "em", "small", "table", "td")):
        parent = el.getparent()
        cls = el.get("class")
        by_class = cls is not None and _CAPTION_CLASS.search(cls) is not None
        if not (by_class or parent in picture_boxes or el.tag == "table"):
            continue  # the usual case, decided without reading the element
        if parent is None or el.getroottree().getroot() is not root:
            continue  # already cut with an ancestor
        if by_class or (parent in picture_boxes and _beside_image(el, parent)) or _caption_table(el):
            text = text_of(el)
            if 0 < len(text) <= MAX_CAPTION_CHARS:
                take(el, text)
    return _dedupe_captions(found, limit)


def _caption_table(el: lxml_html.HtmlElement) -> bool:
    """An old-style caption: a small table holding one picture and one short text."""
    if el.tag != "table" or len(el.findall(".//img")) != 1 or el.findall(".//a[@href]"):
        return False
    return 0 < len(text_of(el)) <= MAX_CAPTION_CHARS and len(el.findall(".//tr")) <= 3


def _within_block_limit(blocks: list[Block], limit: int, truncated: dict[str, int]) -> list[Block]:
    """At most `limit` blocks, the kept ones first, in page order. Cut in page order alone, a
    page with thousands of removed blocks before its text (a menu of thousands of links, or
    a page the classifier gave up on, whose reading is listed after every removed block)
    would lose its body and be stored with none."""
    if len(blocks) <= limit:
        return blocks
    kept = min(limit, sum(1 for b in blocks if b.reason is None))
    removed = limit - kept
    out = []
    for b in blocks:
        if b.reason is None and kept:
            out.append(b)
            kept -= 1
        elif b.reason is not None and removed:
            out.append(b)
            removed -= 1
    truncated["blocks"] = len(blocks) - limit
    return out


def _dedupe_captions(captions: list[str], limit: int) -> tuple[list[str], int]:
    """Each caption once (the full form of a cut copy), at most `limit`; and how many more there were."""
    out: list[str] = []
    norms: list[str] = []
    for n, text in enumerate(captions):
        if len(out) >= limit:
            return out, len(captions) - n
        norm = normalize_block(text)
        for i, old in enumerate(norms):
            if norm == old or old.startswith(norm):
                break
            if norm.startswith(old):  # the earlier copy was cut short
                out[i], norms[i] = text, norm
                break
        else:
            out.append(text)
            norms.append(norm)
    return out, 0


def _is_caption_copy(text: str, captions: list[str]) -> bool:
    norm = normalize_block(text)
    return any(c.startswith(norm) for c in captions)


def _beside_image(el: lxml_html.HtmlElement, parent: lxml_html.HtmlElement) -> bool:
    """`el` is the only text of a small box that holds a picture: that box's caption."""
    if parent.tag in {"body", "article", "main"} or (el.tag == "p" and el.findall(".//a")):
        return False
    siblings = [c for c in parent if isinstance(c.tag, str) and c is not el]
    if not siblings or not all(
        c.tag == "img" or (c.tag in {"a", "picture"} and c.find(".//img") is not None) for c in siblings
    ):
        return False
    return not (parent.text or "").strip()


def _split_title(title: str, site_name: str | None) -> str:
    """Drop a trailing (or leading) site name: "Story – Báo X" -> "Story"."""
    title = title.strip()
    for sep in _TITLE_SEPARATORS:
        if sep not in title:
            continue
        head, _, tail = title.rpartition(sep)
        if site_name and normalize_block(tail) == normalize_block(site_name):
            return head.strip()
        first, _, rest = title.partition(sep)
        if site_name and normalize_block(first) == normalize_block(site_name):
            return rest.strip()
        # Without og:site_name, a short last part after the separator is the usual site suffix.
        if not site_name and len(tail) <= 40 and len(head) >= 2 * len(tail):
            return head.strip()
    return title


def _is_title_line(text: str, title: str) -> bool:
    return bool(title) and normalize_block(text) == normalize_block(title)


def _page_headings(root: lxml_html.HtmlElement) -> tuple[set[str], set[str]]:
    """Normalised texts of the page's top headings (h1) and of its sub-headings (h2, h3)."""
    top = {normalize_block(text_of(h)) for h in root.iter("h1")}
    sub = {normalize_block(text_of(h)) for h in root.iter("h2", "h3")}
    return top - {""}, sub - {""}


def _mark_headline(blocks: list[Block], headings: tuple[set[str], set[str]], description: str | None) -> None:
    """The headline and standfirst printed above the article are not its body.

    At the head of the text only: a block that is the page's h1 (the headline, when the
    page's <title> words it differently), and a sub-heading that repeats the page's
    description (the standfirst: a lede printed as a paragraph stays, it is the story).
    """
    top, sub = headings
    summary = normalize_block(description or "")
    for b in [b for b in blocks if b.reason is None][:HEAD_BLOCKS]:
        text = normalize_block(b.text)
        if text in top:
            b.reason = "headline"
        elif text in sub and len(summary) >= MIN_STANDFIRST_CHARS and text.startswith(summary) and _is_dek(b.text):
            b.reason = "standfirst"


def _is_dek(text: str) -> bool:
    """A standfirst line, not a lede set as a heading: Vietnamese sites print their sapo, the
    story's first paragraph, as an h2; it is longer, or opens with the paper's dateline."""
    text = text.strip()
    return len(text) <= MAX_STANDFIRST_CHARS and not _DATELINE.match(text)


def _take_source_line(blocks: list[Block]) -> str | None:
    for b in reversed(blocks):
        m = _SOURCE_LINE.match(b.text)
        if m and _URL.match(m.group(2)):
            b.reason = "source_line"
            return m.group(2).rstrip(".,;)")
    return None


def _mark_bylines(blocks: list[Block], authors: list[str]) -> None:
    """The author's name or a credit line ("Theo Báo X", "Source: Y") at either end of the text,
    and the reporter's contact or the reading time on a line of their own near either end."""
    live = [b for b in blocks if b.reason is None]
    names = {normalize_block(a) for a in authors}
    ends = {id(b) for b in [*live[:1], *live[-2:]]}  # the byline itself: first block, or the last two
    for b in [*live[:2], *live[-3:]]:
        text = b.text.strip()
        if len(text) > 60:
            continue
        if _CONTACT.match(text) or _READING_TIME.match(text):
            b.reason = "byline"
            continue
        if id(b) not in ends:
            continue
        words = text.split()
        shouted = 1 <= len(words) <= 5 and text.isupper()
        if shouted or normalize_block(text) in names or _BYLINE.match(text) or _CREDIT.match(text):
            b.reason = "byline"


def _mark_calls_to_action(blocks: list[Block]) -> None:
    """Short "share this / subscribe / follow us" lines, newsroom credits and tag lists at
    the ends of the text.

    Cross-page statistics catch these once a site has a few pages; this catches them on
    the first page too. Only short blocks at the very start or end are considered.
    """
    live = [b for b in blocks if b.reason is None]
    for b in [*live[:1], *live[-5:]]:
        if len(b.text) <= 240 and (_CALL_TO_ACTION.search(b.text) or _NEWSROOM_CREDITS.match(b.text.strip())):
            b.reason = "boilerplate"
    tail = live[-4:]
    for i, b in enumerate(tail):
        text = b.text.strip()
        if b.reason is not None or len(text) > 300:
            continue
        if _is_tag_line(text):
            b.reason = "boilerplate"
        elif _TAG_LABEL.match(text) and i + 1 < len(tail) and _is_list(tail[i + 1].text):
            b.reason = tail[i + 1].reason = "boilerplate"  # the list under its label


def _mark_related_headings(blocks: list[Block]) -> None:
    """A short heading that opens with the words of a related-stories box ("Related",
    "See also", "Most read", "Weitere Artikel"), kept while the block right under it was
    removed: the box went and left its heading behind. A heading kept over kept text, or
    one whose related words come late ("12 cameras recommended"), stays."""
    live = [i for i, b in enumerate(blocks) if b.reason is None]
    for j, i in enumerate(live):
        text = blocks[i].text.strip()
        if not (0 < len(text) <= HEADING_MAX_CHARS and len(text.split()) <= 10) or _ends_sentence(text):
            continue
        under = live[j + 1] if j + 1 < len(live) else len(blocks)
        if under == i + 1 or not any(b.reason in ("teaser", "boilerplate") for b in blocks[i + 1 : under]):
            continue
        found = RELATED_HEADING.search(text)
        if found is not None and found.start() <= RELATED_WORDS_WITHIN and not text[:1].isdigit():
            blocks[i].reason = "teaser"


def _reader_note(text: str, read_whole: bool) -> str | None:
    """Why a kept line is the site talking to its reader, not the story (None: it is not).

    "teaser": a "Read also: <headline>" line, or a heading that is only a related box's words;
    "prompt": an advert's label, a count of comments, a call to sign up, to log in, to comment
    or to install the app, an affiliate disclosure, a disclaimer for the external sites it
    links to, a consent tool's placeholder for an embed;
    "byline": a line that only dates the story, a wire's initials, "Written by <name>";
    "chrome": a status line ("Loading...", "Out of stock"), and on a page read whole (a forum
    thread, a shop) the labels of forum software. A page read whole keeps its calls and
    disclosures: on a shop or a service page they are often its content."""
    n = len(text)
    text = text.lower()  # the patterns are lower case: matched without IGNORECASE, several times faster
    if n <= SOFTWARE_LABEL_MAX_CHARS and _STATUS_LINE.match(text):
        return "chrome"
    if read_whole:
        return "chrome" if n <= SOFTWARE_LABEL_MAX_CHARS and _SOFTWARE_LABEL.match(text) else None
    if n <= READ_ALSO_MAX_CHARS and (_READ_ALSO_LINE.match(text) or _RELATED_ONLY.match(text)):
        return "teaser"
    if n <= AD_LABEL_MAX_CHARS and (_AD_LABEL.match(text) or _COMMENT_COUNT.match(text)):
        return "prompt"
    if (n <= SIGN_UP_MAX_CHARS and _SIGN_UP.search(text)) or (n <= AFFILIATE_MAX_CHARS and _AFFILIATE.search(text)):
        return "prompt"
    if n <= SITE_CALL_MAX_CHARS and (_SITE_CALL.search(text) or _LINK_DISCLAIMER.search(text)):
        return "prompt"
    if n <= DATELINE_MAX_CHARS and any(p.match(text) for p in (_UPDATED_LINE, _AGENCY_INITIALS, _WRITTEN_BY)):
        return "byline"
    return None


def _is_list(text: str) -> bool:
    text = text.strip()
    return len(text) <= 300 and text.count(",") >= 2 and not text.endswith(".")


def _is_tag_line(text: str) -> bool:
    """A label and a list ("Tags: a, b", "Tags a, b, c"), not a sentence that starts with "Topics"."""
    m = _TAG_LINE.match(text)
    if m is None:
        return False
    return m.group("colon") is not None or _is_list(text)


def _mark_repeats(blocks: list[Block]) -> None:
    """Keep the first of identical blocks, and the full form of a truncated one."""
    seen: dict[str, int] = {}
    live = [b for b in blocks if b.reason is None]
    norms = [normalize_block(b.text) for b in live]
    times = Counter(norms)
    for i, b in enumerate(live):
        norm = norms[i]
        # A whole paragraph twice, or a short line twice in a row. Short lines that recur
        # far apart (a recipe's "1 tsp. olive oil", a table's labels) are content, and so
        # is a paragraph printed again and again (the question put to each person of a
        # survey, the same meal on each day of a plan): a printing slip happens once.
        if norm in seen:
            gap = i - seen[norm]
            short = len(norm) < REPEAT_MIN_CHARS
            if (short and gap <= 2) or (not short and (gap == 1 or times[norm] < TEMPLATE_REPEATS)):
                b.reason = "repeat"
                continue
        # A cut copy of an earlier block ("Good morning! This is the news you need to...").
        cut = b.text.rstrip().endswith(("...", "…")) and len(norm) >= MIN_CUT_COPY_CHARS
        if cut and any(earlier.startswith(norm) for earlier in seen):
            b.reason = "repeat"
            continue
        # A short block that the next block starts with: a cut alt text before its caption.
        if i + 1 < len(live):
            nxt = normalize_block(live[i + 1].text)
            if len(norm) < len(nxt) and nxt.startswith(norm) and len(norm) <= 200:
                b.reason = "repeat"
                continue
        seen[norm] = i


def _mark_boilerplate(blocks: list[Block], boilerplate: Callable[[list[str]], Collection[str]]) -> None:
    candidates = [b for b in blocks if b.reason is None and len(b.text) >= MIN_BOILERPLATE_CHARS]
    known = set(boilerplate([b.fingerprint for b in candidates]))
    hit = [b for b in candidates if b.fingerprint in known]
    if not hit:
        return
    # A page whose text is mostly "known boilerplate" is a copy of an article the site
    # printed elsewhere, not a page of chrome: its body is never boilerplate.
    kept_chars = sum(len(b.text) for b in blocks if b.reason is None)
    if sum(len(b.text) for b in hit) >= 0.6 * kept_chars:
        return
    for b in hit:
        b.reason = "boilerplate"
