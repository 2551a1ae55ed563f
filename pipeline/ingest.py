"""The stages of the flow as plain functions: fetch a page, process it into an article, index.

Each takes its collaborators as arguments (state, fetcher, raw store, backends), so the
Celery tasks in `workers/` stay short adapters and the stages are testable without Celery.
Messages between stages are small dicts of references (`PageRef`), never page bodies.
`process_page` is the one process step: the task, `reprocess`, `explain` and the quality
benchmark all call it.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from pipeline import drift
from pipeline.cleaning import CleanedPage, block_fingerprint, clean_page
from pipeline.cleaning.model import BlockModel
from pipeline.dedup import NearDupIndex, content_hash
from pipeline.drift import DriftLimits
from pipeline.errors import Dropped, PermanentError, TransientError
from pipeline.fetching import PageFetcher
from pipeline.models import Article, Extraction, article_id
from pipeline.search.base import IndexOutcome, SearchBackend
from pipeline.sniff import binary_kind
from pipeline.stages import process_work
from pipeline.state import StateStore, WorkItem
from pipeline.state.boilerplate import BoilerplateStats
from pipeline.state.drift import PageSample
from pipeline.storage import RawStore
from pipeline.urls import canonicalize_url, site_of


@dataclass
class PageRef:
    """What the fetch stage hands to the process stage."""

    url: str  # canonical URL the feed gave
    final_url: str  # after redirects
    ref: str  # raw page digest in the RawStore
    fetched_at: str
    charset: str | None = None
    feed: str | None = None
    site: str | None = None
    language: str | None = None
    published: str | None = None  # the feed entry's date, used when the page has none
    reason: str = "new"  # "new" or "reclean"

    def to_msg(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_msg(cls, msg: dict[str, Any]) -> PageRef:
        return cls(**{k: v for k, v in msg.items() if k in cls.__dataclass_fields__})

    @classmethod
    def for_article(cls, article: Article, state: StateStore | None = None) -> PageRef | None:
        """The page an indexed article came from: its page record when its site still keeps it (a
        recent page: charset, final URL and feed date included), else what the article itself
        says. None without a raw page."""
        if not article.raw_ref:
            return None
        if state is not None and article.site:
            raw = state.pages.recall(article_id(article.url), article.site)
            if raw:
                page = cls.from_msg(json.loads(raw))
                if page.ref == article.raw_ref:
                    return page
        return cls(
            url=article.url,
            final_url=article.canonical_url,
            ref=article.raw_ref,
            fetched_at=article.fetched_at.isoformat() if article.fetched_at else "",
            feed=article.feed,
            site=article.site,
            language=article.language,
        )

    @property
    def page_id(self) -> str:
        return article_id(self.url)

    def work(self) -> WorkItem:
        """The process stage's work item for this page."""
        return process_work(self.to_msg(), self.page_id)


def fetch_page(
    url: str,
    *,
    address: str | None = None,
    fetcher: PageFetcher,
    store: RawStore,
    feed: str | None = None,
    site: str | None = None,
    language: str | None = None,
    published: str | None = None,
) -> PageRef:
    """Fetch one article page and store it; return the reference for the process stage.

    `url` is the page's canonical URL, its identity; `address`, the link as the feed wrote it,
    is what the server is asked for when given (a server may read the query raw: "?/topic/12/",
    "?OpenDocument", the order of its parameters). Workers pass a `PoliteFetcher`: robots.txt,
    the host's back-off, concurrency cap and rate limit (shared through Redis) decide when the
    request goes (`HostBusy` when not soon).
    """
    if address is not None:
        try:
            named = canonicalize_url(address)
        except ValueError as exc:
            raise PermanentError(f"fetch {url}: the address to ask for is no valid URL ({exc}); not fetched") from None
        if named != url:
            raise PermanentError(f"fetch {url}: the address to ask for, {address!r}, is another page; not fetched")
    result = fetcher.fetch(address or url)
    ref = store.put(result.body)
    return PageRef(
        url=url,
        final_url=result.final_url,
        ref=ref,
        fetched_at=result.fetched_at.isoformat(),
        charset=result.charset,
        feed=feed,
        site=site,
        language=language,
        published=published,
    )


@dataclass
class ProcessDeps:
    """What the process step reads and learns from. `learn=False` (explain) reads the site's
    boilerplate statistics without recording the page, and assigns no cluster."""

    store: RawStore
    boilerplate: BoilerplateStats | None = None
    neardup: NearDupIndex | None = None
    state: StateStore | None = None
    learn: bool = True
    drift: DriftLimits = field(default_factory=DriftLimits)  # when a site's extraction counts as changed
    model: BlockModel | None = None  # the block classifier; None: the shipped one
    kind_model: BlockModel | None = None  # the page-kind model; None: the shipped one
    drop_not_articles: bool = False  # Settings.drop_not_articles


@dataclass
class ProcessOutcome:
    article: Article
    cleaned: CleanedPage
    reclean: list[WorkItem] = field(default_factory=list)  # pages to clean again (process work)

    def document(self) -> str:
        """The article as the JSON the index stage takes."""
        return json.dumps(self.article.to_doc(), ensure_ascii=False)


def trusted_canonical(canonical: str | None, final: str) -> str:
    """The page's canonical URL when it can be its identity, else the fetched URL.

    A site that declares its home page (or a section page that the article sits under) as
    every article's canonical would fold all its articles into one: such a canonical names a
    listing, not this article, and is ignored.
    """
    if not canonical or canonical == final:
        return final
    cpath = urlsplit(canonical).path.rstrip("/")
    fpath = urlsplit(final).path.rstrip("/")
    if not cpath and fpath:
        return final  # the site's root
    if fpath.startswith(cpath + "/") and cpath.count("/") < fpath.count("/"):
        return final  # a section above the article
    return canonical


def process_page(page: PageRef, deps: ProcessDeps) -> ProcessOutcome:
    """Clean a stored page into an Article, learning site boilerplate and near-duplicates."""
    body = deps.store.get(page.ref)
    # Checked again by clean_page; here before the page is recorded for re-cleaning.
    if (kind := binary_kind(body, page.charset)) is not None:
        raise Dropped("not_html", f"{page.url}: the body is {kind}, not an HTML page; not cleaned")
    final = canonicalize_url(page.final_url)
    site = page.site or site_of(final)
    crossed: set[str] = set()
    # The page id must be known before cleaning for the boilerplate statistics; the
    # canonical link can only move it within the site, which keeps the counts honest.
    page_id = page.page_id
    bp = deps.boilerplate

    def known_boilerplate(fps: list[str]) -> set[str]:
        if bp is None:
            return set()
        if not deps.learn:
            return bp.known(site, fps)
        obs = bp.observe(site, page_id, fps, now=time.time())
        crossed.update(obs.crossed)
        return obs.boilerplate

    if deps.learn and deps.state is not None:
        deps.state.pages.remember(page_id, json.dumps(page.to_msg()), site)
    try:
        cleaned = clean_page(
            body,
            final,
            charset=page.charset,
            boilerplate=known_boilerplate,
            model=deps.model,
            kind_model=deps.kind_model,
        )
    except Dropped as exc:
        if exc.reason == "no_text":
            _watch_drift(page, site, deps, PageSample(0, True, 0))
        raise
    if deps.drop_not_articles and not cleaned.is_article:
        raise Dropped(
            "not_article",
            f"{final}: read as not an article (page-kind score {cleaned.not_article:.2f}; drop_not_articles is on)",
        )
    canonical = trusted_canonical(cleaned.canonical_url, final)
    doc_id = article_id(canonical)
    if canonical not in (final, page.url) and deps.neardup is not None and deps.neardup.differs(doc_id, cleaned.body):
        # Another page already stands under that canonical with a different story.
        canonical, doc_id = final, article_id(final)
    if deps.learn and deps.state is not None and canonical != page.url:
        # Another URL of this article will not be fetched again.
        deps.state.seen.claim(canonical)
    article = _article(page, cleaned, doc_id=doc_id, canonical=canonical, site=site)
    _watch_drift(page, site, deps, PageSample(len(cleaned.body), False, article.extraction.removed.get("teaser", 0)))
    if deps.neardup is not None and deps.learn:
        verdict = deps.neardup.assign(doc_id, cleaned.body)
        article.cluster_id = verdict.cluster_id
        article.duplicate_of = verdict.duplicate_of
    reclean: list[WorkItem] = []
    if bp is not None and deps.state is not None and crossed:
        seen_ids = {page_id}
        for fp in sorted(crossed):
            for other in bp.pages_with(site, fp):
                if other in seen_ids:
                    continue
                seen_ids.add(other)
                raw = deps.state.pages.recall(other, site)
                if raw:
                    old = PageRef.from_msg(json.loads(raw))
                    old.reason = "reclean"
                    reclean.append(old.work())
    return ProcessOutcome(article, cleaned, reclean)


def _watch_drift(page: PageRef, site: str, deps: ProcessDeps, sample: PageSample) -> None:
    """Feed the site's drift alarm with a freshly fetched page (a re-clean is no new evidence)."""
    if deps.learn and deps.state is not None and page.reason == "new":
        drift.observe(deps.state.drift, site, sample, time.time(), deps.drift)


def _article(page: PageRef, cleaned: CleanedPage, *, doc_id: str, canonical: str, site: str) -> Article:
    removed = cleaned.removed_counts()
    extraction = Extraction(
        kept_blocks=len(cleaned.kept),
        removed=removed,
        removed_fingerprints={
            reason: [b.fingerprint for b in cleaned.blocks if b.reason == reason] for reason in removed
        },
        extractor=f"newsflow-{cleaned.extractor}",
        not_article=cleaned.not_article,
    )
    if cleaned.teaser_texts:
        extraction.removed["teaser"] = extraction.removed.get("teaser", 0) + len(cleaned.teaser_texts)
        extraction.removed_fingerprints.setdefault("teaser", []).extend(
            block_fingerprint(t) for t in cleaned.teaser_texts
        )
    published = cleaned.published_at or (datetime.fromisoformat(page.published) if page.published else None)
    return Article(
        id=doc_id,
        url=page.url,
        canonical_url=canonical,
        site=site,
        feed=page.feed,
        title=cleaned.title,
        body=cleaned.body,
        summary=cleaned.summary,
        authors=cleaned.authors,
        published_at=published,
        fetched_at=datetime.fromisoformat(page.fetched_at) if page.fetched_at else datetime.now(UTC),
        language=cleaned.language or page.language,
        section=cleaned.section,
        tags=cleaned.tags,
        image=cleaned.image,
        related=cleaned.related,
        captions=cleaned.captions,
        source_url=cleaned.source_url,
        content_hash=content_hash(cleaned.body),
        raw_ref=page.ref,
        extraction=extraction,
        cluster_id=doc_id,
    )


def index_pending(state: StateStore, backend: SearchBackend, batch_size: int) -> IndexOutcome:
    """Index up to `batch_size` pending documents and return the outcome.

    Documents leave the pending set only once the backend has them (or refused them, and
    they are set aside for a replay), so a worker lost in the middle loses nothing: the next
    index task takes them again.
    """
    docs = state.pending.batch(batch_size)
    if not docs:
        return IndexOutcome()
    articles = []
    bad: dict[str, str] = {}
    for doc_id, raw in docs.items():
        try:
            articles.append(Article.from_doc(json.loads(raw)))
        except ValueError as exc:
            bad[doc_id] = f"invalid document: {exc}"
    try:
        outcome = backend.index(articles)
    except TransientError:
        state.pending.mark_backend_away(time.time())
        raise
    outcome.rejected.update(bad)
    indexed = {doc_id: docs[doc_id] for doc_id in outcome.indexed if doc_id in docs}
    rejected = {doc_id: docs[doc_id] for doc_id in outcome.rejected if doc_id in docs}
    state.pending.settle(indexed, rejected)
    if indexed:
        # It answers again: what it took just before it went away is sent once more.
        outcome.resent = state.pending.resend_recent()
    return outcome
