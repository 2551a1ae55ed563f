"""The address guard against every spelling of a forbidden address: refused in one line, before any connection.

The session allows 127.0.0.1/32 only; 127.0.0.2 and ::1 stand in for the private networks a
fetcher must never reach. Listeners on them count connections, so "refused" means "never dialled".
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from demo.server import SiteServer
from pipeline.errors import AddressRefused
from pipeline.fetching import Fetcher
from pipeline.urls import canonicalize_url, ip_literal
from tests.feeds.helpers import LOCAL, local_fetcher, redirect
from tests.hostile.servers import Listener
from workers.runtime import Runtime

# Every spelling browsers accept of 127.0.0.2 ...
SPELLINGS_V4 = [
    "127.0.0.2",
    "0177.0.0.2",
    "0x7f.0.0.2",
    "0x7F.0x0.0x0.0x2",
    "0x7f000002",
    "2130706434",
    "017700000002",
    "127.2",
    "127.0.2",
    "127.000.000.002",
    "127.0.0.2.",
]
# ... IPv6 forms that are it or carry it (mapped, compatible, NAT64, 6to4), and ::1 written four ways.
SPELLINGS_127_0_0_2 = [
    *SPELLINGS_V4,
    "[::ffff:127.0.0.2]",
    "[::ffff:7f00:2]",
    "[0:0:0:0:0:ffff:127.0.0.2]",
    "[::127.0.0.2]",
    "[64:ff9b::127.0.0.2]",
    "[2002:7f00:2::]",
]
SPELLINGS_LOOPBACK_6 = ["[::1]", "[0:0:0:0:0:0:0:1]", "[0000::0001]", "[::0:1]"]


@pytest.mark.parametrize("host", SPELLINGS_V4)
def test_every_ipv4_spelling_reads_as_the_address(host: str) -> None:
    """Octal, hex, one-number and short forms and a trailing dot all read as 127.0.0.2, as a browser reads them."""
    assert str(ip_literal(host.rstrip("."))) == "127.0.0.2"


def _spell(value: int, style: str) -> str:
    return {"dec": str(value), "oct": "0" + format(value, "o"), "hex": hex(value)}[style]


@given(st.integers(0, 2**32 - 1), st.integers(1, 4), st.lists(st.sampled_from(["dec", "oct", "hex"]), min_size=4))
def test_any_spelling_of_any_ipv4_address_reads_back(value: int, parts: int, styles: list[str]) -> None:
    """Any address cut into 1-4 parts (the last takes the remaining bytes), each in any radix, reads back the same."""
    head = [(value >> (8 * (3 - i))) & 0xFF for i in range(parts - 1)]
    last = value & ((1 << (8 * (5 - parts))) - 1)
    host = ".".join(_spell(n, style) for n, style in zip([*head, last], styles, strict=False))
    assert int(ip_literal(host) or -1) == value


@pytest.mark.parametrize("host", SPELLINGS_127_0_0_2 + SPELLINGS_LOOPBACK_6)
def test_guard_refuses_every_spelling_before_connecting(host: str) -> None:
    """With 127.0.0.1/32 allowed, each spelling of 127.0.0.2 or ::1 is refused by the guard with a one-line reason."""
    url = f"http://{host}:8080/a.html"
    with pytest.raises(AddressRefused) as refused:
        LOCAL.check_url(url)
    message = str(refused.value)
    assert message.startswith(f"fetch {url}: ") and "\n" not in message
    assert "not fetched" in message


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("http://0x7f.1/a", "http://127.0.0.1/a"),
        ("http://2130706433:8080/a", "http://127.0.0.1:8080/a"),
        ("http://[::FFFF:127.0.0.1]/a", "http://[::ffff:7f00:1]/a"),
        ("http://[0:0::1]/a", "http://[::1]/a"),
    ],
)
def test_canonical_url_spells_an_address_one_way(written: str, canonical: str) -> None:
    """One address written several ways is one canonical URL, as a browser would write it."""
    assert canonicalize_url(written) == canonical


@pytest.mark.parametrize("host", ["1.2.3.256", "09.1.1.1", "1.2.3.4.5", "4294967296", "[fe80::1%25eth0]", "a.123"])
def test_hosts_that_are_broken_addresses_are_not_urls(host: str) -> None:
    """A host that looks like an address but is not one is refused, not guessed at."""
    with pytest.raises(ValueError):
        canonicalize_url(f"http://{host}/a")
    with pytest.raises(AddressRefused, match="not a valid address"):
        LOCAL.check_url(f"http://{host}/a")


@pytest.fixture
def listener_v4() -> Iterator[Listener]:
    with Listener("127.0.0.2") as listener:
        yield listener


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    f = local_fetcher(total_timeout=3.0, read_timeout=2.0)
    yield f
    f.close()


def _loopback6() -> Listener | None:
    try:
        return Listener("::1", socket.AF_INET6)
    except OSError:
        return None


@pytest.mark.integration
def test_no_spelling_of_a_forbidden_address_gets_a_connection(listener_v4: Listener, fetcher: Fetcher) -> None:
    """A server on 127.0.0.2 (and on ::1 where the machine has IPv6) sees no connection from any spelling."""
    listener6 = _loopback6()
    with listener6 or Listener("127.0.0.1") as other:
        targets = [f"http://{h}:{listener_v4.port}/a.html" for h in SPELLINGS_127_0_0_2]
        if listener6 is not None:
            targets += [f"http://{h}:{other.port}/a.html" for h in SPELLINGS_LOOPBACK_6]
        for url in targets:
            with pytest.raises(AddressRefused) as refused:
                fetcher.fetch(url)
            assert "\n" not in str(refused.value)
        assert listener_v4.connections == 0
        assert other.connections == 0


@pytest.mark.integration
def test_redirect_to_an_odd_spelling_is_refused(listener_v4: Listener, fetcher: Fetcher, tmp_path: Path) -> None:
    """An allowed host redirecting to 0x7f.0.0.2 or [::ffff:127.0.0.2] does not get past the guard."""
    routes = {
        "/hex": redirect(f"http://0x7f.0.0.2:{listener_v4.port}/a"),
        "/mapped": redirect(f"http://[::ffff:127.0.0.2]:{listener_v4.port}/a"),
        "/number": redirect(f"http://2130706434:{listener_v4.port}/a"),
    }
    with SiteServer(tmp_path, routes=routes) as allowed:
        for path in routes:
            with pytest.raises(AddressRefused) as refused:
                fetcher.fetch(allowed.base + path)
            # Said of the page asked for, naming the target it was sent to.
            assert str(refused.value).startswith(f"fetch {allowed.base + path}: http://"), refused.value
    assert listener_v4.connections == 0


@pytest.mark.integration
def test_allowed_address_in_an_odd_spelling_is_fetched(fetcher: Fetcher, tmp_path: Path) -> None:
    """The guard judges the address, not its spelling: 127.0.0.1 written in hex or as one number is allowed."""
    (tmp_path / "a.html").write_text("<p>here</p>")
    with SiteServer(tmp_path) as srv:
        port = srv.base.rsplit(":", 1)[1]
        for host in ("0x7f.0.0.1", "2130706433", "0177.1"):
            result = fetcher.fetch(f"http://{host}:{port}/a.html")
            assert result.body == b"<p>here</p>"
            assert result.final_url == f"http://127.0.0.1:{port}/a.html"


@pytest.mark.integration
def test_polite_fetch_refuses_odd_spellings_in_one_line(runtime: Runtime, listener_v4: Listener) -> None:
    """Through politeness (robots.txt first, as the fetch task does), odd spellings end as AddressRefused, not a crash."""
    listener6 = _loopback6()
    with listener6 or Listener("127.0.0.1") as other:
        urls = [f"http://0177.0.0.2:{listener_v4.port}/a", f"http://[::ffff:127.0.0.2]:{listener_v4.port}/a"]
        if listener6 is not None:
            urls.append(f"http://[::1]:{other.port}/a")
        for url in urls:
            with pytest.raises(AddressRefused) as refused:
                runtime.politeness.fetch(url, runtime.fetcher)
            assert "\n" not in str(refused.value)
            # Said of the page, though its robots.txt is what was asked for first.
            assert str(refused.value).startswith(f"fetch {url}: ") and "robots.txt" in str(refused.value)
        assert listener_v4.connections == 0 and other.connections == 0


@pytest.mark.integration
def test_a_name_that_resolves_to_a_refused_address_is_said_of_the_page(listener_v4: Listener) -> None:
    """`localhost` resolves to loopback addresses; with nothing allowed, the refusal names the
    page asked for, then the name and what it resolved to, in one line, and dials nothing."""
    from pipeline.fetching import AddressGuard, FetchLimits

    fetcher = Fetcher(FetchLimits(read_timeout=5.0, total_timeout=10.0), AddressGuard())
    url = f"http://localhost:{listener_v4.port}/a.html"
    try:
        with pytest.raises(AddressRefused) as refused:
            fetcher.fetch(url)
    finally:
        fetcher.close()
    message = str(refused.value)
    assert message.startswith(f"fetch {url}: localhost resolves to ") and "\n" not in message
    assert listener_v4.connections == 0
