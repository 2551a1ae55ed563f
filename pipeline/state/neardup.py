"""The near-duplicate index's Redis side: MinHash signatures, LSH band sets and clusters.

The similarity logic is in `pipeline.dedup`; this store only keeps and reads what every
worker must share. Everything expires after the index's TTL.
"""

from __future__ import annotations

import time

from pipeline.state import keys
from pipeline.state.client import Client, text


class NearDupStore:
    def __init__(self, client: Client, version: str) -> None:
        self.r = client
        self.version = version

    def register(self, doc_id: str, signature: bytes, bands: list[str], ttl: int) -> set[str]:
        """Record a document's signature and bands; return the other documents sharing a band."""
        band_keys = [keys.lsh_band(self.version, i, digest) for i, digest in enumerate(bands)]
        pipe = self.r.pipeline(transaction=False)
        pipe.set(keys.minhash(self.version, doc_id), signature, ex=ttl)
        pipe.set(keys.first_seen(doc_id), repr(time.time()), nx=True, ex=ttl)
        for key in band_keys:
            pipe.sadd(key, doc_id)
            pipe.expire(key, ttl)
        pipe.execute()
        pipe = self.r.pipeline(transaction=False)
        for key in band_keys:
            pipe.smembers(key)
        found = {text(m) for members in pipe.execute() for m in members}
        found.discard(doc_id)
        return found

    def signatures(self, doc_ids: list[str]) -> list[tuple[bytes | None, float | None]]:
        """(signature bytes, first-seen time) of each document, None where expired."""
        pipe = self.r.pipeline(transaction=False)
        for doc_id in doc_ids:
            pipe.get(keys.minhash(self.version, doc_id))
            pipe.get(keys.first_seen(doc_id))
        raw = pipe.execute()
        return [
            (raw[2 * i], float(raw[2 * i + 1]) if raw[2 * i + 1] is not None else None) for i in range(len(doc_ids))
        ]

    def first_seen(self, doc_id: str) -> float | None:
        raw = self.r.get(keys.first_seen(doc_id))
        return float(raw) if raw is not None else None

    def cluster_of(self, doc_id: str) -> str | None:
        raw = self.r.get(keys.cluster(doc_id))
        return text(raw) if raw else None

    def set_cluster(self, doc_id: str, cluster_id: str, ttl: int) -> None:
        self.r.set(keys.cluster(doc_id), cluster_id, ex=ttl)
