"""The short byte forms per-site state stores page ids and block fingerprints in (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.state.packing import FP_BYTES, pack_fingerprint, pack_id, unpack_id


@given(st.text())
def test_any_page_id_comes_back_from_its_packed_form(page_id: str) -> None:
    """Packing a page id loses nothing, whatever the id."""
    assert unpack_id(pack_id(page_id)) == page_id


@given(st.binary(min_size=16, max_size=16))
def test_a_hex_page_id_packs_to_half_its_length(raw: bytes) -> None:
    """A hex id (as `article_id` makes) is stored as its bytes, plus a one-byte tag."""
    assert len(pack_id(raw.hex())) == len(raw) + 1
    assert unpack_id(pack_id(raw.hex().upper())) == raw.hex().upper()  # not lowered on the way


@given(st.text())
def test_every_fingerprint_packs_to_the_same_width(fp: str) -> None:
    """Hex fingerprints are their own bytes; any other string is digested to the same width."""
    packed = pack_fingerprint(fp)
    assert len(packed) == FP_BYTES
    assert pack_fingerprint(fp) == packed


def test_a_hex_fingerprint_is_its_own_bytes_and_others_do_not_collide_with_it() -> None:
    """`block_fingerprint`'s 16 hex characters pack to their 8 bytes; other strings differ."""
    assert pack_fingerprint("00ff10ab00ff10ab") == bytes.fromhex("00ff10ab00ff10ab")
    packed = {pack_fingerprint(f"site-rail-{k}") for k in range(1000)}
    assert len(packed) == 1000
