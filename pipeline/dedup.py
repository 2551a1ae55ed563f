"""Duplicate articles: exact fingerprints and MinHash near-duplicates with LSH bands in Redis.

Signatures are pure functions of the text (`minhash`, `similarity`); `NearDupIndex` keeps
the LSH bands in Redis so every worker finds what every other worker indexed.
The cluster of an article is the earliest-seen article it is a near-duplicate of, so two
copies processed at the same moment on two workers still agree on one cluster.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from dataclasses import dataclass

import numpy as np

from pipeline.state.neardup import NearDupStore

NUM_PERM = 128
# 32 bands of 4 rows: a pair at Jaccard 0.5 becomes a candidate with p ~ 0.87, at 0.6 with
# p ~ 0.99, at 0.2 with p ~ 0.05; candidates are then checked on the full signature.
BANDS = 32
ROWS = NUM_PERM // BANDS
SHINGLE = 4
_MERSENNE = np.uint64((1 << 61) - 1)
_rng = np.random.default_rng(20240611)  # fixed seed: signatures must match across processes
# a, x < 2**32 keeps a*x inside 64 bits, so (a*x mod p + b) mod p never overflows.
_A = _rng.integers(1, 1 << 32, NUM_PERM, dtype=np.uint64)
_B = _rng.integers(0, (1 << 61) - 1, NUM_PERM, dtype=np.uint64)
_WORD = re.compile(r"\w+", re.UNICODE)
# Part of every key: signatures made with other parameters must never be compared.
SIG_VERSION = f"m{NUM_PERM}b{BANDS}"


def normalize_words(text: str) -> list[str]:
    """Words of a text, NFC and case-folded."""
    return _WORD.findall(unicodedata.normalize("NFC", text).casefold())


def content_hash(text: str) -> str:
    """Exact fingerprint of a cleaned body, blind to case, spacing and punctuation."""
    return hashlib.sha256(" ".join(normalize_words(text)).encode("utf-8")).hexdigest()


def shingles(text: str, k: int = SHINGLE) -> set[str]:
    words = normalize_words(text)
    if len(words) < k:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}


def minhash(text: str) -> np.ndarray:
    """A MinHash signature (NUM_PERM unsigned 64-bit values) of the text's word shingles."""
    sh = shingles(text)
    if not sh:
        return np.full(NUM_PERM, np.iinfo(np.uint64).max, dtype=np.uint64)
    hv = np.array(
        [int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=4).digest(), "little") for s in sh],
        dtype=np.uint64,
    )
    prod = (_A[:, None] * hv[None, :]) % _MERSENNE
    return np.asarray(((prod + _B[:, None]) % _MERSENNE).min(axis=1), dtype=np.uint64)


def similarity(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.count_nonzero(sig_a == sig_b)) / NUM_PERM


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def band_digests(sig: np.ndarray) -> list[str]:
    """One digest per LSH band of a signature: documents sharing one are candidates."""
    return [hashlib.blake2b(sig[i * ROWS : (i + 1) * ROWS].tobytes(), digest_size=8).hexdigest() for i in range(BANDS)]


@dataclass
class DupVerdict:
    cluster_id: str
    duplicate_of: str | None
    similarity: float


class NearDupIndex:
    """LSH over MinHash signatures, kept in Redis (`NearDupStore`), shared by every worker."""

    def __init__(self, store: NearDupStore, threshold: float = 0.45, ttl_days: float = 30.0) -> None:
        self.store = store
        self.threshold = threshold
        self.ttl = int(ttl_days * 86400)

    def differs(self, doc_id: str, body: str) -> bool:
        """True when `doc_id` is known with a text that is not a near-duplicate of `body`: two
        pages claiming one canonical URL with different stories are two articles."""
        [(blob, _first)] = self.store.signatures([doc_id])
        return blob is not None and similarity(minhash(body), np.frombuffer(blob, dtype=np.uint64)) < self.threshold

    def assign(self, doc_id: str, body: str) -> DupVerdict:
        """Register `doc_id` and return its cluster: the earliest-seen near-duplicate's."""
        sig = minhash(body)
        candidates = sorted(self.store.register(doc_id, sig.tobytes(), band_digests(sig), self.ttl))
        mine = self.store.first_seen(doc_id) or time.time()
        matches: list[tuple[float, str, float]] = []  # (first seen, id, similarity)
        for cid, (blob, first) in zip(candidates, self.store.signatures(candidates), strict=True):
            if blob is None:
                continue
            sim = similarity(sig, np.frombuffer(blob, dtype=np.uint64))
            if sim >= self.threshold:
                matches.append((first or mine, cid, sim))
        if not matches:
            verdict = DupVerdict(doc_id, None, 0.0)
        else:
            best = max(matches, key=lambda m: m[2])
            root = min([*matches, (mine, doc_id, 1.0)])
            if root[1] == doc_id:
                verdict = DupVerdict(doc_id, None, best[2])
            else:
                # The root may itself belong to an older cluster that we are not a candidate of.
                verdict = DupVerdict(self.store.cluster_of(root[1]) or root[1], best[1], best[2])
        self.store.set_cluster(doc_id, verdict.cluster_id, self.ttl)
        return verdict
