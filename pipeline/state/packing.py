"""Compact forms of the ids and fingerprints that per-site state keeps by the thousand.

Redis keeps a small hash or list in one flat listpack only while its entries stay short
(`hash-max-listpack-value`, 64 bytes by default), and every byte of an entry is paid once
per page or block. So page ids and block fingerprints are stored as raw bytes, not hex.
"""

from __future__ import annotations

import hashlib

FP_BYTES = 8  # a block fingerprint: 16 hex characters, or a digest of any other string

# A packed page id starts with a tag saying how to read it back.
_HEX_ID = b"\x01"
_TEXT_ID = b"\x02"


def pack_fingerprint(fp: str) -> bytes:
    """`FP_BYTES` bytes for a fingerprint: its own bytes when it is hex of that length, else a digest."""
    if len(fp) == 2 * FP_BYTES:
        try:
            raw = bytes.fromhex(fp)
        except ValueError:
            raw = b""
        if len(raw) == FP_BYTES:
            return raw
    return hashlib.blake2b(fp.encode("utf-8"), digest_size=FP_BYTES).digest()


def pack_id(page_id: str) -> bytes:
    """A page id in fewer bytes (hex ids at half their length), and reversibly."""
    if page_id and len(page_id) % 2 == 0:
        try:
            raw = bytes.fromhex(page_id)
        except ValueError:
            raw = b""
        if raw.hex() == page_id:
            return _HEX_ID + raw
    return _TEXT_ID + page_id.encode("utf-8")


def unpack_id(packed: bytes) -> str:
    """The page id `pack_id` packed."""
    tag, rest = packed[:1], packed[1:]
    if tag == _HEX_ID:
        return rest.hex()
    if tag == _TEXT_ID:
        return rest.decode("utf-8")
    raise ValueError(f"not a packed page id: {packed!r}")
