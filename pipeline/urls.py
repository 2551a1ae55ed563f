"""URL canonicalisation: one article reached by many URLs gets one canonical form."""

from __future__ import annotations

import ipaddress
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

from pipeline.errors import InvalidURL

# Query parameters that only track the visitor and never change the page.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "ref_src",
        "ref_url",
        "cmpid",
        "ncid",
        "ocid",
        "sr_share",
        "spm",
        "zarsrc",
        "gidzl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "vero_id",
        "at_medium",
        "at_campaign",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "itm_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_SHOWN = 300  # characters of a URL quoted in an error message


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def ip_literal(host: str) -> IPAddress | None:
    """The address a URL host spells, None when the host is a name.

    Reads every spelling a browser accepts (the WHATWG URL standard): `127.0.0.2`, `0177.0.0.2`,
    `0x7f.0.0.2`, `2130706434`, `127.2`, a trailing dot, and IPv6 with or without brackets.
    Raises ValueError for a host that is an address but not a valid one (`1.2.3.999`, a zone id).
    """
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        if "%" in host:
            raise ValueError(f"IPv6 address with a zone id: {host!r}")
        return ipaddress.IPv6Address(host)
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if _ipv4_number(parts[-1]) is None:
        return None  # the last label is not a number: a name
    numbers = [_ipv4_number(part) for part in parts]
    if len(numbers) > 4 or None in numbers:
        raise ValueError(f"not a valid IPv4 address: {host!r}")
    *head, last = [n for n in numbers if n is not None]
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        raise ValueError(f"not a valid IPv4 address: {host!r}")
    value = last + sum(n << (8 * (3 - i)) for i, n in enumerate(head))
    return ipaddress.IPv4Address(value)


def _ipv4_number(part: str) -> int | None:
    """One part of an IPv4 host in decimal, octal (leading 0) or hex (0x); None if it is not a number."""
    radix = 10
    if part[:2] in ("0x", "0X"):
        part, radix = part[2:], 16
        if not part:
            return 0
    elif len(part) > 1 and part.startswith("0"):
        part, radix = part[1:], 8
    digits = "0123456789abcdef"[:radix]
    if not part or any(c not in digits for c in part.lower()):
        return None
    return int(part, radix)


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonicalize_url(url: str, base: str | None = None) -> str:
    """Canonical form of an http(s) URL.

    Lower-cases scheme and host, writes IP hosts in their standard form, drops default ports,
    fragments, tracking parameters and empty queries, normalises percent-escapes and sorts the
    remaining parameters.
    Raises InvalidURL (a ValueError) for anything that is not an absolute http(s) URL.
    """
    try:
        return _canonical(url, base)
    except InvalidURL:
        raise
    except ValueError as exc:  # from urllib or ipaddress: an address that cannot be read
        raise InvalidURL(f"not a valid URL ({exc}): {_shown(url)}") from None


def request_url(url: str, base: str | None = None) -> str:
    """The address to ask a server for: `url` resolved against `base` and checked as
    `canonicalize_url` checks it, its scheme, host and port spelled as there and its fragment
    dropped, but its path and query as written. A server may read them raw ("?/topic/12/",
    "?OpenDocument&Start=2", a tracking parameter a redirect asks for), so a redirect is
    followed to the address it gives; the canonical form only names the article."""
    return _as_written(url, base, canonicalize_url(url, base))  # raises InvalidURL as it does


def name_and_address(url: str, base: str | None = None) -> tuple[str, str | None]:
    """The canonical URL that names the page, and the address to ask for (`request_url`) where
    it differs from that name, else None. Raises InvalidURL as `canonicalize_url` does."""
    canonical = canonicalize_url(url, base)
    address = _as_written(url, base, canonical)
    return canonical, (address if address != canonical else None)


def _as_written(url: str, base: str | None, canonical: str) -> str:
    """`url` with the scheme, host and port of its `canonical` form, its path and query as written."""
    named = urlsplit(canonical)
    url = url.strip()
    parts = urlsplit(urljoin(base, url) if base else url)
    return urlunsplit((named.scheme, named.netloc, parts.path or "/", parts.query, ""))


def _shown(url: str) -> str:
    """A URL for an error message: on one line, and not a megabyte of it."""
    return repr(url) if len(url) <= MAX_SHOWN else repr(url[:MAX_SHOWN]) + f" (+{len(url) - MAX_SHOWN} characters)"


def _canonical(url: str, base: str | None) -> str:
    url = url.strip()
    if base:
        url = urljoin(base, url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidURL(f"not an http(s) URL: {_shown(url)}")
    host = ascii_host(parts.hostname or "")
    if not host.strip("."):  # "…" is "..." once IDNA-mapped: dots name no host
        raise InvalidURL(f"URL has no host: {_shown(url)}")
    addr = ip_literal(host)  # one spelling per address: 0x7f.1 and 127.0.0.1 are one host
    if addr is not None:
        host = f"[{addr}]" if addr.version == 6 else str(addr)
    try:
        port = parts.port
    except ValueError:
        raise InvalidURL(f"URL has an invalid port: {_shown(url)}") from None
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _normalize_path(parts.path or "/")
    return urlunsplit((scheme, netloc, path, _canonical_query(parts.query), ""))


def _canonical_query(query: str) -> str:
    """The query's parameters without the tracking ones, sorted, each escaped one way. A
    parameter written without "=" ("?OpenDocument", "?print") stays so: some servers (Lotus
    Domino, old CGI scripts) read "?OpenDocument=" as another request, and the canonical URL is
    the one fetched."""
    params = []
    for piece in query.split("&"):
        if not piece:
            continue
        key, eq, value = piece.partition("=")
        key, value = (unquote(s.replace("+", " ")) for s in (key, value))  # as `parse_qsl` reads them
        if not is_tracking_param(key):
            params.append((key, value, bool(eq)))
    return "&".join(quote(k, safe="") + (f"={quote(v, safe='')}" if eq else "") for k, v, eq in sorted(params))


def ascii_host(hostname: str) -> str:
    """A URL's host as it goes on the wire: IDNA-encoded, lower case, without a trailing dot."""
    host = hostname.rstrip(".")
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return host.lower()


def _normalize_path(path: str) -> str:
    # Decode then re-encode so %7E and ~, or %c3%a9 and %C3%A9, compare equal.
    segments: list[str] = []
    for seg in path.split("/"):
        if seg == ".":
            continue
        if seg == "..":
            if len(segments) > 1:
                segments.pop()
            continue
        segments.append(quote(unquote(seg), safe="!$&'()*+,;=:@~-._"))
    result = "/".join(segments)
    return result if result.startswith("/") else "/" + result


def host_of(url: str) -> str:
    """The host (lower case, no port) of a URL."""
    return (urlsplit(url).hostname or "").lower()


def site_of(url: str) -> str:
    """A site key for a URL: host (and a non-default port) without a leading `www.`."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    host = host[4:] if host.startswith("www.") else host
    try:
        port = parts.port
    except ValueError:
        port = None
    if port and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        return f"{host}:{port}"
    return host
