"""The stages of the flow as plain functions: fetch a page, build its article, index a batch.

Each takes its collaborators as arguments (state, fetcher, raw store, backends), so the
Celery tasks in `workers/` stay short adapters and the stages are testable without Celery.
Messages between stages are small dicts of references (`PageRef`), never page bodies.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from pipeline.boilerplate import BoilerplateStats
from pipeline.cleaning import CleanedPage, block_fingerprint, clean_page
from pipeline.dedup import NearDupIndex, content_hash
from pipeline.errors import TransientError
from pipeline.fetching import Fetcher
from pipeline.models import Article, Extraction, article_id
from pipeline.politeness import Politeness
from pipeline.search.base import IndexOutcome, SearchBackend
from pipeline.state import PREFIX, StateStore, text
from pipeline.storage import RawStore
from pipeline.urls import canonicalize_url, host_of, site_of

PENDING_KEY = PREFIX + "index:pending"
PAGE_TTL = 14 * 86400
MAX_POLITE_WAIT = 10.0  # longer waits go back to the queue instead of holding a worker


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

    def to_msg(self) -> dict:
        return asdict(self)

    @classmethod
    def from_msg(cls, msg: dict) -> PageRef:
        return cls(**{k: v for k, v in msg.items() if k in cls.__dataclass_fields__})


def wait_for_host(state: StateStore, url: str, delay: float, sleep=time.sleep) -> None:
    """Honour the per-host minimum delay shared by every worker."""
    wait = state.reserve_host_slot(host_of(url), delay)
    if wait > MAX_POLITE_WAIT:
        raise TransientError(f"fetch {url}: host busy, next slot in {wait:.0f} s", retry_after=wait)
    if wait > 0:
        sleep(wait)


def fetch_page(
    url: str,
    *,
    fetcher: Fetcher,
    state: StateStore,
    store: RawStore,
    host_delay: float,
    feed: str | None = None,
    site: str | None = None,
    language: str | None = None,
    published: str | None = None,
    politeness: Politeness | None = None,
) -> PageRef:
    """Fetch one article page and store it; return the reference for the process stage.

    With `politeness`, robots.txt, the host's back-off, concurrency cap and rate limit (shared
    through Redis) decide when the request goes; without it, only the per-host delay does.
    """
    if politeness is not None:
        result = politeness.fetch(url, fetcher)
    else:
        wait_for_host(state, url, host_delay)
        result = fetcher.fetch(url)
    ref = store.put(result.body)
    state.incr("fetched")
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
class BuildResult:
    article: Article
    cleaned: CleanedPage
    reclean_pages: list[str] = field(default_factory=list)  # doc ids to clean again


def build_article(
    page: PageRef,
    *,
    store: RawStore,
    boilerplate: BoilerplateStats | None,
    neardup: NearDupIndex | None,
    state: StateStore | None = None,
) -> BuildResult:
    """Clean a stored page into an Article, learning site boilerplate and near-duplicates."""
    body = store.get(page.ref)
    final = canonicalize_url(page.final_url)
    site = page.site or site_of(final)
    crossed: set[str] = set()
    # The page id must be known before cleaning for the boilerplate statistics; the
    # canonical link can only move it within the site, which keeps the counts honest.
    provisional_id = article_id(page.url)

    def known_boilerplate(fps: list[str]) -> set[str]:
        if boilerplate is None:
            return set()
        obs = boilerplate.observe(site, provisional_id, fps, now=time.time())
        crossed.update(obs.crossed)
        return obs.boilerplate

    cleaned = clean_page(body, final, charset=page.charset, boilerplate=known_boilerplate)
    canonical = cleaned.canonical_url or final
    doc_id = article_id(canonical)
    if state is not None and canonical != page.url:
        # Another URL of this article will not be fetched again.
        state.claim_url(canonical)
    removed = cleaned.removed_counts()
    extraction = Extraction(
        kept_blocks=len(cleaned.kept),
        removed=removed,
        removed_fingerprints={
            reason: [b.fingerprint for b in cleaned.blocks if b.reason == reason] for reason in removed
        },
        extractor="trafilatura+newsflow",
    )
    if cleaned.teaser_texts:
        extraction.removed["teaser"] = extraction.removed.get("teaser", 0) + len(cleaned.teaser_texts)
        extraction.removed_fingerprints.setdefault("teaser", []).extend(
            block_fingerprint(t) for t in cleaned.teaser_texts
        )
    article = Article(
        id=doc_id,
        url=page.url,
        canonical_url=canonical,
        site=site,
        feed=page.feed,
        title=cleaned.title,
        body=cleaned.body,
        summary=cleaned.summary,
        authors=cleaned.authors,
        published_at=cleaned.published_at or (datetime.fromisoformat(page.published) if page.published else None),
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
    )
    if neardup is not None:
        verdict = neardup.assign(doc_id, cleaned.body)
        article.cluster_id = verdict.cluster_id
        article.duplicate_of = verdict.duplicate_of
    else:
        article.cluster_id = doc_id
    reclean: list[str] = []
    if boilerplate is not None:
        for fp in crossed:
            reclean.extend(p for p in boilerplate.pages_with(site, fp) if p != provisional_id)
    return BuildResult(article, cleaned, sorted(set(reclean)))


def remember_page(state: StateStore, page_id: str, page: PageRef) -> None:
    """Keep the process message of a page, so it can be cleaned again without fetching."""
    state.r.set(f"{PREFIX}page:{page_id}", json.dumps(page.to_msg()), ex=PAGE_TTL)


def recall_page(state: StateStore, page_id: str) -> PageRef | None:
    raw = state.r.get(f"{PREFIX}page:{page_id}")
    return PageRef.from_msg(json.loads(raw)) if raw else None


def queue_for_index(state: StateStore, article: Article) -> None:
    state.r.hset(PENDING_KEY, article.id, json.dumps(article.to_doc(), ensure_ascii=False))


# Delete a pending document only if nobody replaced it while we indexed the old value.
_DEL_IF_SAME = """
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 1
"""


def index_pending(state: StateStore, backend: SearchBackend, batch_size: int) -> tuple[IndexOutcome, dict[str, str]]:
    """Index up to `batch_size` pending documents; return the outcome and rejected raw docs.

    Documents leave the pending set only once the backend has them, so a worker lost in
    the middle loses nothing: the next index task takes them again.
    """
    r = state.r
    ids: list[bytes] = []
    cursor = 0
    while True:
        cursor, chunk = r.hscan(PENDING_KEY, cursor, count=batch_size)
        ids.extend(k if isinstance(k, bytes) else k.encode() for k in chunk)
        if cursor == 0 or len(ids) >= batch_size:
            break
    ids = ids[:batch_size]
    if not ids:
        return IndexOutcome(), {}
    values = r.hmget(PENDING_KEY, ids)
    docs = {text(k): v for k, v in zip(ids, values, strict=True) if v is not None}
    articles = []
    bad: dict[str, str] = {}
    for doc_id, raw in docs.items():
        try:
            articles.append(Article.from_doc(json.loads(raw)))
        except ValueError as exc:
            bad[doc_id] = f"invalid document: {exc}"
    outcome = backend.index(articles)
    outcome.rejected.update(bad)
    done = [*outcome.indexed, *outcome.rejected]
    args: list[bytes | str] = []
    for doc_id in done:
        args += [doc_id, docs[doc_id]]
    if args:
        r.eval(_DEL_IF_SAME, 1, PENDING_KEY, *args)
    rejected_docs = {doc_id: text(docs[doc_id]) for doc_id in outcome.rejected}
    return outcome, rejected_docs


def pending_count(state: StateStore) -> int:
    return int(state.r.hlen(PENDING_KEY))
