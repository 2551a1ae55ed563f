"""Both raw stores keep one contract: content addressing, gzip, exists, listing, pruning by age.

The S3 store runs against moto's S3 server on loopback, through boto3 as in production.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import PermanentError, TransientError
from pipeline.settings import Settings
from pipeline.storage import (
    DirectoryRawStore,
    RawStore,
    RawStoreMisconfigured,
    S3RawStore,
    key_of,
    open_raw_store,
    parse_location,
    ref_of,
)

DAY = 86400.0
PAGES = [
    "<html><body><p>Chính quyền thân thiện với người dân</p></body></html>".encode(),
    b"<html><body><p>The council met on Tuesday.</p></body></html>",
    "<html><body><p>Le conseil municipal s'est réuni mardi.</p></body></html>".encode("cp1252"),
]


@pytest.fixture(params=["directory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> RawStore:
    if request.param == "directory":
        return DirectoryRawStore(tmp_path / "raw")
    bucket: str = request.getfixturevalue("bucket")
    return S3RawStore(bucket, "pages/v1")


def test_a_page_is_stored_once_under_its_digest_and_read_back(store: RawStore) -> None:
    refs = [store.put(body) for body in PAGES]
    assert refs == [hashlib.sha256(body).hexdigest() for body in PAGES]
    assert store.put(PAGES[0]) == refs[0]
    assert [store.get(ref) for ref in refs] == PAGES
    assert all(store.exists(ref) for ref in refs)
    listed = {page.ref: page for page in store.iter_pages()}
    assert set(listed) == set(refs)
    assert all(page.size > 0 and abs(page.stored_at - time.time()) < 600 for page in listed.values())


def test_a_missing_page_says_to_fetch_again_and_a_bad_reference_is_refused(store: RawStore) -> None:
    absent = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(absent)
    with pytest.raises(PermanentError, match=rf"raw page {absent} is not in .*fetch the URL again"):
        store.get(absent)
    with pytest.raises(PermanentError, match="not a SHA-256 digest"):
        store.get("../../etc/passwd")


def test_prune_deletes_only_pages_stored_before_the_cutoff(store: RawStore) -> None:
    refs = [store.put(body) for body in PAGES]
    # Nothing is old yet: a cutoff a day back keeps everything...
    assert store.prune(DAY) == (0, 0)
    # ...and, seen from 40 days on, every page is older than 30 days.
    pages, freed = store.prune(30 * DAY, now=time.time() + 40 * DAY)
    assert pages == 3 and freed == sum(p for p in (len(gzip.compress(b, compresslevel=6)) for b in PAGES))
    assert not any(store.exists(ref) for ref in refs)
    assert list(store.iter_pages()) == []


def test_the_s3_store_keeps_the_directory_layout_under_its_prefix(s3: Any, bucket: str, tmp_path: Path) -> None:
    """One key scheme for both: a directory synced into a bucket is a valid store as is."""
    on_disk = DirectoryRawStore(tmp_path)
    ref = on_disk.put(PAGES[1])
    in_bucket = S3RawStore(bucket, "/archive/")
    assert in_bucket.put(PAGES[1]) == ref
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [f"archive/{key_of(ref)}"]
    assert (tmp_path / key_of(ref)).read_bytes() == s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()


def test_objects_that_are_not_pages_are_left_alone(s3: Any, bucket: str) -> None:
    store = S3RawStore(bucket, "raw")
    ref = store.put(PAGES[0])
    s3.put_object(Bucket=bucket, Key="raw/README.txt", Body=b"kept by hand")
    s3.put_object(Bucket=bucket, Key="other/" + key_of(ref), Body=b"another prefix")
    assert [page.ref for page in store.iter_pages()] == [ref]
    assert store.prune(0, now=time.time() + DAY) == (1, len(gzip.compress(PAGES[0], compresslevel=6)))
    left = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert left == ["other/" + key_of(ref), "raw/README.txt"]


def test_a_missing_bucket_is_one_clear_error_at_start_up(aws_env: dict[str, str]) -> None:
    store = S3RawStore("newsflow-no-such-bucket")
    with pytest.raises(
        RawStoreMisconfigured, match=re.escape("'newsflow-no-such-bucket' does not exist at http://127.0.0.1")
    ):
        store.check()
    # Met while running instead, it is an outage to retry, not a page to dead-letter.
    with pytest.raises(TransientError, match="NoSuchBucket"):
        store.put(PAGES[0])


def test_an_endpoint_that_does_not_answer_is_transient(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.search.noida import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    store = S3RawStore("newsflow-raw")
    with pytest.raises(TransientError, match="does not answer"):
        store.check()
    with pytest.raises(TransientError, match="retrying later"):
        store.get(hashlib.sha256(b"x").hexdigest())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("s3://news-raw", ("news-raw", "")),
        ("s3://news-raw/", ("news-raw", "")),
        ("s3://news.raw-2/pages/2026/", ("news.raw-2", "pages/2026")),
        ("/var/lib/newsflow/raw", None),
        ("relative/raw", None),
    ],
)
def test_raw_store_locations_parse(value: str, expected: tuple[str, str] | None) -> None:
    assert parse_location(value) == expected


@pytest.mark.parametrize("value", ["gs://bucket/x", "s3://", "s3://Upper_Case", "s3://a"])
def test_a_raw_store_that_is_neither_is_a_settings_error(value: str) -> None:
    with pytest.raises(ValueError, match="NEWSFLOW_RAW_STORE"):
        Settings(raw_store=value)


def test_settings_pick_the_store(tmp_path: Path, aws_env: dict[str, str]) -> None:
    default = open_raw_store(Settings(data_dir=tmp_path))
    assert isinstance(default, DirectoryRawStore) and default.root == tmp_path / "raw"
    elsewhere = open_raw_store(Settings(data_dir=tmp_path, raw_store=str(tmp_path / "pages")))
    assert isinstance(elsewhere, DirectoryRawStore) and elsewhere.root == tmp_path / "pages"
    s3 = open_raw_store(Settings(data_dir=tmp_path, raw_store="s3://news-raw/v1/"))
    assert isinstance(s3, S3RawStore) and s3.location == "s3://news-raw/v1"
    assert s3.client.meta.endpoint_url == aws_env["AWS_ENDPOINT_URL"]


def test_keys_and_digests_round_trip() -> None:
    ref = hashlib.sha256(b"page").hexdigest()
    assert ref_of(key_of(ref)) == ref
    assert ref_of("prefix/" + key_of(ref)) == ref
    wrong: list[Callable[[], object]] = [lambda: ref_of(f"ff/ff/{ref}.gz"), lambda: ref_of(f"{ref}.gz")]
    assert [check() for check in wrong] == [None, None]


def test_prune_goes_past_one_delete_request(s3: Any, bucket: str) -> None:
    """More pages than one DeleteObjects request takes (1,000) are all pruned."""
    store = S3RawStore(bucket, "raw")
    for n in range(1003):
        body = f"<p>page {n}</p>".encode()
        s3.put_object(Bucket=bucket, Key=f"raw/{key_of(hashlib.sha256(body).hexdigest())}", Body=gzip.compress(body))
    pages, freed = store.prune(DAY, now=time.time() + 2 * DAY)
    assert pages == 1003 and freed > 0
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
