"""Fetching against hostile and broken servers on 127.0.0.1: each ends as it should, and fast."""

from __future__ import annotations

import gzip
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from demo.server import SiteServer
from pipeline.cleaning import clean_page
from pipeline.errors import AddressRefused, PermanentError, TransientError
from pipeline.fetching import Fetcher
from tests.feeds.helpers import local_fetcher, redirect
from tests.fetching.vietnamese import encode_cp1258

pytestmark = pytest.mark.integration
CAP = 1_000_000


def _send(body: bytes, headers: dict[str, str]) -> Callable[[BaseHTTPRequestHandler], None]:
    def handler(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        for k, v in {"Content-Type": "text/html", "Content-Length": str(len(body)), **headers}.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    return handler


def _endless(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Connection", "close")
    h.end_headers()
    try:
        while True:
            h.wfile.write(b"<p>" + b"x" * 65536 + b"</p>")
    except (BrokenPipeError, ConnectionResetError):
        pass
    h.close_connection = True


def _slow_drip(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Connection", "close")
    h.end_headers()
    try:
        for _ in range(60):
            h.wfile.write(b"<p>a</p>")
            h.wfile.flush()
            time.sleep(0.1)
    except (BrokenPipeError, ConnectionResetError):
        pass
    h.close_connection = True


BOMB = b"\0" * (200 * CAP)  # 200 MB of zeros: ~200 kB compressed


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteServer]:
    routes = {
        "/gzip-bomb.html": _send(gzip.compress(BOMB, 9), {"Content-Encoding": "gzip"}),
        "/deflate-bomb.html": _send(zlib.compress(BOMB, 9), {"Content-Encoding": "deflate"}),
        "/small.gz.html": _send(gzip.compress(b"<p>fine</p>"), {"Content-Encoding": "gzip"}),
        "/raw-deflate.html": _send(zlib.compress(b"<p>fine</p>")[2:-4], {"Content-Encoding": "deflate"}),
        "/endless.html": _endless,
        "/slow.html": _slow_drip,
        "/loop-a.html": redirect("/loop-b.html"),
        "/loop-b.html": redirect("/loop-a.html"),
    }
    with SiteServer(Path(tmp_path_factory.mktemp("hostile")), routes=routes) as srv:
        yield srv


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    f = local_fetcher(max_bytes=CAP, total_timeout=2.0, read_timeout=1.0)
    yield f
    f.close()


@pytest.mark.parametrize("path", ["/gzip-bomb.html", "/deflate-bomb.html"])
def test_decompression_bomb_stopped_at_the_decoded_cap(server: SiteServer, fetcher: Fetcher, path: str) -> None:
    """A small compressed body that inflates to 200 MB is refused once the decoded bytes pass the cap."""
    with pytest.raises(PermanentError, match="byte limit"):
        fetcher.fetch(server.base + path)


@pytest.mark.parametrize("path", ["/small.gz.html", "/raw-deflate.html"])
def test_honest_compressed_bodies_decode(server: SiteServer, fetcher: Fetcher, path: str) -> None:
    """gzip and deflate (wrapped or raw) pages come out decoded."""
    assert fetcher.fetch(server.base + path).body == b"<p>fine</p>"


def test_endless_body_stopped_at_the_cap(server: SiteServer, fetcher: Fetcher) -> None:
    """A body that never ends, without Content-Length, is cut at the byte cap."""
    with pytest.raises(PermanentError, match="byte limit"):
        fetcher.fetch(server.base + "/endless.html")


def test_slow_drip_cut_by_the_total_deadline(server: SiteServer, fetcher: Fetcher) -> None:
    """A server dripping bytes every 100 ms (never idle for the read timeout) is cut by the total deadline."""
    with pytest.raises(TransientError, match="total time limit"):
        fetcher.fetch(server.base + "/slow.html")


def test_redirect_loop_ends(server: SiteServer, fetcher: Fetcher) -> None:
    """Two pages redirecting to each other end as a permanent error."""
    with pytest.raises(PermanentError, match="redirect loop"):
        fetcher.fetch(server.base + "/loop-a.html")


def test_redirect_to_a_forbidden_address_is_refused_before_any_request(tmp_path: Path, fetcher: Fetcher) -> None:
    """An allowed host redirecting to 127.0.0.2 is refused by the guard; 127.0.0.2 never sees a request."""
    (tmp_path / "page.html").write_text("<p>secret</p>")
    with SiteServer(tmp_path, host="127.0.0.2") as forbidden:
        with SiteServer(tmp_path, routes={"/go": redirect(f"{forbidden.base}/page.html")}) as allowed:
            with pytest.raises(AddressRefused, match=r"127\.0\.0\.2"):
                fetcher.fetch(allowed.base + "/go")
            assert allowed.requests == ["/go"]
        assert forbidden.requests == []


TITLE = "Chính quyền thân thiện với người dân"
PARAS = [
    "Ủy ban nhân dân xã An Bình vừa ra mắt mô hình chính quyền thân thiện, phục vụ người dân tốt hơn mỗi ngày.",
    "Người dân đến làm thủ tục được hướng dẫn tận tình, hồ sơ được giải quyết nhanh chóng và đúng hẹn.",
    "Mô hình sẽ được nhân rộng ra các xã khác trong huyện trong năm tới, theo lãnh đạo địa phương.",
]


@pytest.mark.parametrize("where", ["header", "meta"])
def test_windows_1258_page_comes_out_right(tmp_path: Path, fetcher: Fetcher, where: str) -> None:
    """A Vietnamese page in windows-1258 (tone marks as combining bytes) is fetched and cleaned to the right text."""
    meta = '<meta charset="windows-1258">' if where == "meta" else ""
    html = f"<html><head>{meta}<title>{TITLE}</title></head><body><article><h1>{TITLE}</h1>"
    html += "".join(f"<p>{p}</p>" for p in PARAS) + "</article></body></html>"
    ctype = "text/html; charset=windows-1258" if where == "header" else "text/html"
    with SiteServer(tmp_path, routes={"/a.html": _send(encode_cp1258(html), {"Content-Type": ctype})}) as srv:
        result = fetcher.fetch(srv.base + "/a.html")
    cleaned = clean_page(result.body, result.final_url, charset=result.charset)
    assert cleaned.title == TITLE
    for para in PARAS:
        assert para in cleaned.body
