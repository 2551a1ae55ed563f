"""Fetching against hostile and broken servers on 127.0.0.1: each ends as it should, and fast."""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from demo.server import SiteServer
from pipeline.cleaning import clean_page
from pipeline.errors import AddressRefused, DeadlineExceeded, PermanentError, TooLarge
from pipeline.fetching import AddressGuard, Fetcher, FetchLimits
from tests.feeds.helpers import local_fetcher, redirect
from tests.fetching.vietnamese import encode_cp1258
from tests.hostile.servers import drip_body, drip_headers, send, slow_redirect

pytestmark = pytest.mark.integration
CAP = 1_000_000


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


def _status(code: int, headers: dict[str, str]) -> Callable[[BaseHTTPRequestHandler], None]:
    def handler(h: BaseHTTPRequestHandler) -> None:
        h.send_response(code)
        for k, v in {**headers, "Content-Length": "0"}.items():
            h.send_header(k, v)
        h.end_headers()

    return handler


BOMB = b"\0" * (200 * CAP)  # 200 MB of zeros: ~200 kB compressed


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteServer]:
    routes = {
        "/gzip-bomb.html": send(gzip.compress(BOMB, 9), {"Content-Encoding": "gzip"}),
        "/deflate-bomb.html": send(zlib.compress(BOMB, 9), {"Content-Encoding": "deflate"}),
        "/small.gz.html": send(gzip.compress(b"<p>fine</p>"), {"Content-Encoding": "gzip"}),
        "/raw-deflate.html": send(zlib.compress(b"<p>fine</p>")[2:-4], {"Content-Encoding": "deflate"}),
        "/endless.html": _endless,
        "/big.html": send(b"x" * (2 * CAP), {}),
        "/drip-headers.html": drip_headers(every=0.1, seconds=60),
        "/drip-body.html": drip_body(every=0.1, seconds=60),
        # Four hops of 0.6 s each: every hop answers well within the read timeout.
        "/hop-1.html": slow_redirect("/hop-2.html", 0.6),
        "/hop-2.html": slow_redirect("/hop-3.html", 0.6),
        "/hop-3.html": slow_redirect("/hop-4.html", 0.6),
        "/hop-4.html": slow_redirect("/small.gz.html", 0.6),
        "/loop-a.html": redirect("/loop-b.html"),
        "/loop-b.html": redirect("/loop-a.html"),
        "/self.html": redirect("/self.html"),
        **{f"/chain-{i}.html": redirect(f"/chain-{i + 1}.html") for i in range(8)},
        "/no-location.html": _status(302, {}),
        "/to-ftp.html": redirect("ftp://127.0.0.1/luu-tru.html"),
        "/to-javascript.html": redirect("javascript:alert(document.cookie)"),
        "/to-broken-host.html": redirect("http://[::1/x"),
        "/to-bad-port.html": redirect("http://127.0.0.1:99999/x"),
        "/brotli.html": send(b"\x1b\x03", {"Content-Encoding": "br"}),
        "/corrupt.gz.html": send(gzip.compress(b"<p>tin</p>")[:10] + b"\xff" * 64, {"Content-Encoding": "gzip"}),
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
    with pytest.raises(TooLarge, match="byte limit"):
        fetcher.fetch(server.base + path)


@pytest.mark.parametrize("path", ["/small.gz.html", "/raw-deflate.html"])
def test_honest_compressed_bodies_decode(server: SiteServer, fetcher: Fetcher, path: str) -> None:
    """gzip and deflate (wrapped or raw) pages come out decoded."""
    assert fetcher.fetch(server.base + path).body == b"<p>fine</p>"


def test_declared_oversized_body_is_refused_before_reading(server: SiteServer, fetcher: Fetcher) -> None:
    """A Content-Length over the cap is refused from the headers, with the declared size on the error."""
    with pytest.raises(TooLarge) as refused:
        fetcher.fetch(server.base + "/big.html")
    assert refused.value.declared == 2 * CAP and refused.value.limit == CAP
    assert "declared" in str(refused.value)


def test_endless_body_stopped_at_the_cap(server: SiteServer, fetcher: Fetcher) -> None:
    """A body that never ends, without Content-Length, is cut at the byte cap."""
    with pytest.raises(TooLarge, match="byte limit"):
        fetcher.fetch(server.base + "/endless.html")


@pytest.mark.parametrize("path", ["/drip-headers.html", "/drip-body.html", "/hop-1.html"])
def test_slow_answers_are_cut_at_the_total_deadline(server: SiteServer, fetcher: Fetcher, path: str) -> None:
    """Headers or a body dripped a byte every 100 ms (never idle for the read timeout), or a chain of slow
    redirects, end at the 2 s total deadline as a permanent error that says so, not after the server's 60 s."""
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as cut:
        fetcher.fetch(server.base + path)
    took = time.monotonic() - started
    assert isinstance(cut.value, PermanentError)
    assert str(cut.value) == f"fetch {server.base}{path}: no complete answer within 2 s (total deadline); dead-lettered"
    assert took < 10, f"the fetch took {took:.1f} s; the deadline was 2 s and the server drips for 60 s"


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/loop-a.html", "redirect loop"),
        ("/self.html", "redirect loop"),
        ("/chain-0.html", "more than 5 redirects"),
        ("/no-location.html", "redirect without Location"),
        ("/to-ftp.html", "bad redirect target"),
        ("/to-javascript.html", "bad redirect target"),
        ("/to-broken-host.html", "bad redirect target"),
        ("/to-bad-port.html", "bad redirect target"),
        ("/brotli.html", "content encoding 'br' not supported"),
        ("/corrupt.gz.html", "corrupt compressed body"),
    ],
)
def test_broken_redirects_and_encodings_are_permanent_one_line_errors(
    server: SiteServer, fetcher: Fetcher, path: str, said: str
) -> None:
    """Loops, long chains, a missing or hostile Location (ftp:, javascript:, a broken host or port), an
    encoding we did not ask for and a corrupt gzip body each end as a permanent error saying which."""
    with pytest.raises(PermanentError, match=said) as failed:
        fetcher.fetch(server.base + path)
    assert str(failed.value).startswith(f"fetch {server.base}{path}: ") and "\n" not in str(failed.value)


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
    with SiteServer(tmp_path, routes={"/a.html": send(encode_cp1258(html), {"Content-Type": ctype})}) as srv:
        result = fetcher.fetch(srv.base + "/a.html")
    cleaned = clean_page(result.body, result.final_url, charset=result.charset)
    assert cleaned.title == TITLE
    for para in PARAS:
        assert para in cleaned.body


def test_a_name_server_that_never_answers_is_cut_at_the_deadline() -> None:
    """The site's own name server can stall too: the lookup is waited for only until the
    fetch's deadline. (The stalled lookup here would, once released, name 127.0.0.2, which the
    guard refuses: waiting it out would end in AddressRefused instead.)"""
    release = threading.Event()

    def stalled_lookup(host: str, port: int, **kwargs: object) -> list[tuple[object, ...]]:
        release.wait(30)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", port))]

    fetcher = Fetcher(FetchLimits(total_timeout=1.0), AddressGuard(lookup=stalled_lookup))
    try:
        with pytest.raises(DeadlineExceeded):
            fetcher.fetch("http://stalled-dns.example/news/1.html")
    finally:
        release.set()
        fetcher.close()
