"""Raw pages, stored compressed and content-addressed, so any page can be cleaned again."""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import time
from pathlib import Path

from pipeline.errors import PermanentError


class RawStore:
    """Gzip files named by the SHA-256 of their content, under one directory.

    Writes are atomic (temp file, then rename), so a reader never sees half a page and two
    workers storing the same page write the same file. In a distributed deployment the
    directory is a volume shared by the fetch and process workers.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _path(self, ref: str) -> Path:
        if len(ref) != 64 or any(c not in "0123456789abcdef" for c in ref):
            raise PermanentError(f"raw page reference {ref!r} is not a SHA-256 digest")
        return self.root / ref[:2] / ref[2:4] / f"{ref}.gz"

    def put(self, body: bytes) -> str:
        ref = hashlib.sha256(body).hexdigest()
        path = self._path(ref)
        if path.exists():
            return ref
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(gzip.compress(body, compresslevel=6))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return ref

    def get(self, ref: str) -> bytes:
        path = self._path(ref)
        try:
            return gzip.decompress(path.read_bytes())
        except FileNotFoundError:
            raise PermanentError(f"raw page {ref} is not in {self.root}; fetch the URL again") from None

    def exists(self, ref: str) -> bool:
        return self._path(ref).exists()

    def prune(self, older_than: float, now: float | None = None) -> tuple[int, int]:
        """Delete pages stored more than `older_than` seconds ago; return (files, bytes) freed.

        A pruned page can no longer be cleaned again without fetching it (re-cleaning and
        `reprocess` dead-letter it, saying so); the index keeps its article.
        """
        cutoff = (time.time() if now is None else now) - older_than
        files = freed = 0
        for path in self.root.glob("*/*/*.gz"):
            try:
                info = path.stat()
                if info.st_mtime < cutoff:
                    path.unlink()
                    files += 1
                    freed += info.st_size
            except FileNotFoundError:
                continue  # another process pruned it first
        return files, freed
