"""Raw pages, stored compressed and content-addressed, so any page can be cleaned again.

Two stores behind one interface (`RawStore`): a directory (the embedded default) and an
S3-compatible bucket (many hosts, no shared disk). Both keep a page as gzip under the same
key, `ab/cd/<sha256>.gz`, so a directory can be copied into a bucket (`aws s3 sync`) as is.
`open_raw_store(settings)` picks one from `NEWSFLOW_RAW_STORE`.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import PermanentError, RawStoreMisconfigured, TransientError
from pipeline.settings import Settings, parse_location

_KEY = re.compile(r"(?:^|/)([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})\.gz$")
# botocore's own defaults are 60 s per read and 3 attempts in "legacy" mode (no back-off on
# throttling). A worker holding one page should give up sooner and retry better.
S3_CONNECT_TIMEOUT = 10.0
S3_READ_TIMEOUT = 30.0
S3_MAX_ATTEMPTS = 5
PRUNE_BATCH = 1000  # pages deleted at once: the most one S3 DeleteObjects request takes


@dataclass(frozen=True)
class StoredPage:
    """One stored page as the store lists it: its digest, compressed size and when it was stored."""

    ref: str
    size: int
    stored_at: float  # seconds since the epoch


def digest_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def key_of(ref: str) -> str:
    """The store key of a page digest (`ab/cd/<ref>.gz`); a reference that is no digest is refused."""
    if len(ref) != 64 or any(c not in "0123456789abcdef" for c in ref):
        raise PermanentError(f"raw page reference {ref!r} is not a SHA-256 digest")
    return f"{ref[:2]}/{ref[2:4]}/{ref}.gz"


def ref_of(key: str) -> str | None:
    """The digest a store key holds, or None for anything else found in the store."""
    match = _KEY.search(key)
    if match is None or not match.group(3).startswith(match.group(1) + match.group(2)):
        return None
    return match.group(3)


class RawStore:
    """Pages by the SHA-256 of their content, gzip-compressed.

    Subclasses move compressed bytes (`_read`, `_write`, `_list`, `_delete`); the digest,
    the compression and the pruning rule live here, once.
    """

    location: str  # where the pages are, for messages

    def put(self, body: bytes) -> str:
        """Store a page (if not stored yet) and return its digest."""
        ref = digest_of(body)
        key = key_of(ref)
        if not self._has(key):
            # mtime=0: one page compresses to the same bytes on every worker, at any time.
            self._write(key, gzip.compress(body, compresslevel=6, mtime=0))
        return ref

    def get(self, ref: str) -> bytes:
        data = self._read(key_of(ref))
        if data is None:
            raise PermanentError(f"raw page {ref} is not in {self.location}; fetch the URL again")
        return gzip.decompress(data)

    def exists(self, ref: str) -> bool:
        return self._has(key_of(ref))

    def iter_pages(self) -> Iterator[StoredPage]:
        """Every stored page with its size and storage time, in no particular order."""
        return self._list()

    def prune(self, older_than: float, now: float | None = None) -> tuple[int, int]:
        """Delete pages stored more than `older_than` seconds ago; return (pages, bytes) freed.

        A pruned page can no longer be cleaned again without fetching it (re-cleaning and
        `reprocess` dead-letter it, saying so); the index keeps its article.
        """
        cutoff = (time.time() if now is None else now) - older_than
        old = (page for page in self._list() if page.stored_at < cutoff)
        pages = freed = 0
        # In batches as the listing goes: a store of millions of pages is never held in memory.
        while batch := list(itertools.islice(old, PRUNE_BATCH)):
            deleted = set(self._delete([page.ref for page in batch]))
            pages += len(deleted)
            freed += sum(page.size for page in batch if page.ref in deleted)
        return pages, freed

    def check(self) -> None:
        """Raise RawStoreMisconfigured (or TransientError) now, at start-up, rather than on every page."""

    def _has(self, key: str) -> bool:
        raise NotImplementedError

    def _read(self, key: str) -> bytes | None:
        raise NotImplementedError

    def _write(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    def _list(self) -> Iterator[StoredPage]:
        raise NotImplementedError

    def _delete(self, refs: list[str]) -> Iterable[str]:
        """Delete pages; return the digests deleted (one another process removed first is not)."""
        raise NotImplementedError


class DirectoryRawStore(RawStore):
    """Gzip files under one directory.

    Writes are atomic (temp file, then rename), so a reader never sees half a page and two
    workers storing the same page write the same file. Several hosts can share it only
    through a shared file system; for many hosts use the S3 store.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.location = str(self.root)

    def _has(self, key: str) -> bool:
        return (self.root / key).exists()

    def _read(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None

    def _write(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _list(self) -> Iterator[StoredPage]:
        for path in self.root.glob("*/*/*.gz"):
            ref = ref_of(path.relative_to(self.root).as_posix())
            if ref is None:
                continue
            try:
                info = path.stat()
            except FileNotFoundError:
                continue  # pruned meanwhile
            yield StoredPage(ref, info.st_size, info.st_mtime)

    def _delete(self, refs: list[str]) -> Iterator[str]:
        for ref in refs:
            try:
                (self.root / key_of(ref)).unlink()
            except FileNotFoundError:
                continue  # another process pruned it first
            yield ref

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)


class S3RawStore(RawStore):
    """Objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2), under an optional prefix.

    The client is boto3's, configured by the standard `AWS_*` variables (credentials,
    `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE`), with timeouts and
    retries of its own when they are not set. Errors that may pass (network, 5xx, throttling,
    a bucket missing mid-run) are TransientError, so the page is retried, never lost.
    """

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.location = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.client = client if client is not None else s3_client()

    def _object(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what: str, method: str, **params: Any) -> Any:
        """One S3 request; its failures as newsflow's outcomes, each saying what and where."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(Bucket=self.bucket, **params)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in {"404", "NoSuchKey", "NotFound"}:
                raise
            hint = "create it, or fix NEWSFLOW_RAW_STORE" if code == "NoSuchBucket" else "retrying later"
            raise TransientError(f"raw store {self.location}: {what} failed ({code or exc}); {hint}") from exc
        except BotoCoreError as exc:
            raise TransientError(f"raw store {self.location}: {what} failed ({exc}); retrying later") from exc

    def _has(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._call(f"looking up {key}", "head_object", Key=self._object(key))
        except ClientError:
            return False
        return True

    def _read(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            answer = self._call(f"reading {key}", "get_object", Key=self._object(key))
        except ClientError:
            return None
        from botocore.exceptions import BotoCoreError

        body = answer["Body"]
        try:
            return bytes(body.read())
        except BotoCoreError as exc:  # the connection broke or stalled mid-body
            raise TransientError(f"raw store {self.location}: reading {key} failed ({exc}); retrying later") from exc
        finally:
            body.close()

    def _write(self, key: str, data: bytes) -> None:
        self._call(
            f"storing {key}",
            "put_object",
            Key=self._object(key),
            Body=data,
            ContentType="application/gzip",
            ContentMD5=_content_md5(data),
        )

    def _list(self) -> Iterator[StoredPage]:
        token: dict[str, str] = {}
        prefix = f"{self.prefix}/" if self.prefix else ""
        while True:
            answer = self._call("listing pages", "list_objects_v2", Prefix=prefix, **token)
            for item in answer.get("Contents", []):
                ref = ref_of(item["Key"][len(prefix) :])
                if ref is not None:
                    yield StoredPage(ref, int(item["Size"]), item["LastModified"].timestamp())
            if not answer.get("IsTruncated"):
                return
            token = {"ContinuationToken": answer["NextContinuationToken"]}

    def _delete(self, refs: list[str]) -> list[str]:
        objects = [{"Key": self._object(key_of(ref))} for ref in refs]
        answer = self._call("deleting pages", "delete_objects", Delete={"Objects": objects, "Quiet": True})
        if errors := answer.get("Errors", []):
            first = errors[0]
            raise TransientError(
                f"raw store {self.location}: {len(errors)} page(s) not deleted"
                f" ({first.get('Key')}: {first.get('Code')}); run prune-raw again"
            )
        return refs

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        endpoint = self.client.meta.endpoint_url
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in {"404", "NoSuchBucket", "NotFound"}:
                raise RawStoreMisconfigured(
                    f"raw store bucket {self.bucket!r} does not exist at {endpoint}: create it"
                    f" (`aws s3 mb s3://{self.bucket}`, or `mc mb` on MinIO) or fix NEWSFLOW_RAW_STORE"
                ) from None
            if code in {"403", "AccessDenied", "Forbidden"}:
                raise RawStoreMisconfigured(
                    f"raw store bucket {self.bucket!r} at {endpoint} refuses these credentials:"
                    " check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the bucket policy"
                ) from None
            raise TransientError(f"raw store bucket {self.bucket!r} at {endpoint}: {code or exc}") from None
        except NoCredentialsError:
            raise RawStoreMisconfigured(
                f"raw store {self.location}: no AWS credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            ) from None
        except BotoCoreError as exc:
            raise TransientError(f"raw store {self.location} at {endpoint} does not answer ({exc})") from None


def _content_md5(data: bytes) -> str:
    """The Content-MD5 header: the server refuses a body damaged on the way."""
    import base64

    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


def s3_client() -> Any:
    """A boto3 S3 client from the standard AWS_* environment, with newsflow's timeouts and retries."""
    import boto3
    from botocore.config import Config

    custom_endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    config = Config(
        connect_timeout=S3_CONNECT_TIMEOUT,
        read_timeout=S3_READ_TIMEOUT,
        retries={
            "mode": os.environ.get("AWS_RETRY_MODE") or "standard",
            "total_max_attempts": int(os.environ.get("AWS_MAX_ATTEMPTS") or S3_MAX_ATTEMPTS),  # the first included
        },
        # MinIO, Ceph and most S3 look-alikes serve buckets by path, not by subdomain.
        s3={"addressing_style": "path" if custom_endpoint else "auto"},
        # Not every look-alike takes the CRC checksums boto3 sends by default since 1.36;
        # Content-MD5 (sent with every page) guards the body on any of them.
        request_checksum_calculation=os.environ.get("AWS_REQUEST_CHECKSUM_CALCULATION")
        or ("when_required" if custom_endpoint else "when_supported"),
        response_checksum_validation=os.environ.get("AWS_RESPONSE_CHECKSUM_VALIDATION")
        or ("when_required" if custom_endpoint else "when_supported"),
    )
    return boto3.session.Session().client("s3", config=config)


def open_raw_store(settings: Settings) -> RawStore:
    """The raw store the settings name: `NEWSFLOW_RAW_STORE`, else `<data dir>/raw`."""
    location = settings.raw_store or str(settings.data_dir / "raw")
    s3 = parse_location(location)
    if s3 is None:
        return DirectoryRawStore(Path(location).expanduser())
    return S3RawStore(*s3)
