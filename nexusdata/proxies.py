"""The proxy a connection goes through: the ``proxy=`` keyword, else the standard environment
variables (``HTTPS_PROXY`` for ``wss://``, ``HTTP_PROXY`` for ``ws://``, ``ALL_PROXY`` for both,
``NO_PROXY`` for the exceptions), checked before connecting. docs/connections.md#proxies has the
rules; everything here is pure (the environment is passed in), the tunnel is opened by the
transport.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote, urlsplit

from .errors import ArgumentError
from .protocol.urls import redact

SCHEMES = {"http": "HTTP", "socks5": "SOCKS5", "socks5h": "SOCKS5", "socks4": "SOCKS4", "socks4a": "SOCKS4"}
"""Proxy URL schemes and the protocol each speaks (``socks5h`` and ``socks4a``: the proxy looks
the server's host name up)."""
ACCEPTED = (
    "a proxy URL scheme://[user:password@]host:port with scheme http, socks5, socks5h, socks4 or socks4a"
    " (e.g. 'http://user:password@proxy.example:3128'), '' or False for no proxy, or None for the environment's"
)
VARIABLES = {
    "wss": ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"),
    "ws": ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"),
}
"""The variables that name the proxy of each URL scheme, the first set one winning (lower case
first, as curl and Python's urllib read them)."""
NO_PROXY = ("no_proxy", "NO_PROXY")
_ENTRY_PORT = re.compile(r"^(\[[^\]]+\]|[^:\[\]]+):(\d+)$")  # host:port, [v6]:port


@dataclass(frozen=True, repr=False)
class Proxy:
    """One proxy: where it is, how to speak to it, its credentials and where it was named
    (``proxy=`` or a variable). Its repr and :attr:`display` never show the password."""

    scheme: str
    host: str
    port: int
    username: str = ""
    password: str = field(default="", compare=False)
    source: str = "proxy="

    @property
    def protocol(self) -> str:
        """``HTTP``, ``SOCKS5`` or ``SOCKS4``."""
        return SCHEMES[self.scheme]

    @property
    def remote_dns(self) -> bool:
        """Whether the proxy looks the server's host name up (an HTTP proxy always does)."""
        return self.scheme in ("http", "socks5h", "socks4a")

    @property
    def address(self) -> str:
        """``host:port``, an IPv6 address in brackets."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def display(self) -> str:
        """The proxy's URL as it may be shown: the password masked."""
        user = f"{self.username}{':***' if self.password else ''}@" if self.username or self.password else ""
        return f"{self.scheme}://{user}{self.address}"

    def __repr__(self) -> str:
        return f"Proxy({self.display} from {self.source})"


ProxyOption = Proxy | str | Literal[False] | None
"""What ``proxy=`` takes: a URL (a :class:`Proxy` once checked), ``''`` or ``False`` for none,
``None`` for the environment's."""


def parse(value: object, source: str = "proxy=") -> Proxy:
    """``value`` as a :class:`Proxy`, else an :class:`ArgumentError` naming ``source`` (``proxy=`` or
    the variable it came from) and what is accepted. A variable's value may leave out ``http://``,
    as curl and requests allow."""
    name = "proxy" if source == "proxy=" else source
    if not isinstance(value, str) or not value.strip():
        raise ArgumentError(f"{name} must be {ACCEPTED}; got {type(value).__name__}")
    text = value.strip()
    if source != "proxy=" and "://" not in text:
        text = f"http://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ArgumentError(f"{name} must be {ACCEPTED}; its port is not a number from 1 to 65535 in {redact(text)!r}") from None
    scheme = parts.scheme.lower()
    if scheme == "https":
        raise ArgumentError(
            f"{name} must be {ACCEPTED}: https:// proxies (TLS to the proxy itself) are not supported, and a proxy that"
            f" takes plain HTTP (most do, also for wss:// servers and in HTTPS_PROXY) is written http://; got {redact(text)!r}"
        )
    if scheme not in SCHEMES or "://" not in text:
        raise ArgumentError(f"{name} must be {ACCEPTED}; got {redact(text)!r}")
    if not parts.hostname:
        raise ArgumentError(f"{name} must be {ACCEPTED}; no host in {redact(text)!r}")
    if port is None or port == 0:
        raise ArgumentError(f"{name} must be {ACCEPTED}; no port in {redact(text)!r} (e.g. :3128 for HTTP, :1080 for SOCKS)")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ArgumentError(f"{name} must be {ACCEPTED}; a proxy URL has no path or query, got {redact(text)!r}")
    return Proxy(scheme, parts.hostname, port, unquote(parts.username or ""), unquote(parts.password or ""), source)


def checked(value: object) -> Proxy | Literal[False] | None:
    """``proxy=`` as kept by the options: a checked :class:`Proxy`, ``False`` for none (``''`` too)
    or ``None`` for the environment's; anything else is an :class:`ArgumentError`."""
    if value is None or value is False or isinstance(value, Proxy):
        return value
    if value == "":
        return False
    if isinstance(value, str):
        return parse(value)
    raise ArgumentError(f"proxy must be {ACCEPTED}; got {value!r}")


@dataclass(frozen=True)
class Route:
    """How a connection reaches its server: through ``proxy`` (``None``: directly), and why."""

    proxy: Proxy | None
    why: str

    def __str__(self) -> str:
        if self.proxy is None:
            return f"no proxy ({self.why})"
        return f"through the {self.proxy.protocol} proxy {self.proxy.display} (from {self.proxy.source})"


def route(url: str, option: ProxyOption, env: Mapping[str, str]) -> Route:
    """The route to the ``ws://`` or ``wss://`` ``url``: ``proxy=`` when given (whatever
    ``NO_PROXY`` says), none when it is ``False``; else the scheme's proxy variable, unless
    ``NO_PROXY`` lists the host or the host is this machine (``localhost``, ``127.0.0.0/8``,
    ``::1``), which no proxy elsewhere can reach. A malformed variable is an :class:`ArgumentError`."""
    proxy = checked(option)
    if proxy is False:
        return Route(None, "turned off by proxy=")
    if proxy is not None:
        return Route(proxy, "proxy=")
    host, port = target(url)
    variable = next((name for name in VARIABLES.get(urlsplit(url).scheme, ()) if env.get(name, "").strip()), None)
    if variable is None:
        return Route(None, "no proxy variable is set")
    listed = next((name for name in NO_PROXY if env.get(name, "").strip()), None)  # lower case first, as curl
    match = no_proxy_match(host, port, env[listed]) if listed else None
    if listed and match is not None:
        return Route(None, f"{listed} lists {match!r}")
    if is_loopback(host):
        return Route(None, f"{host} is this machine: {variable} is not used for it")
    return Route(parse(env[variable], variable), variable)


def target(url: str) -> tuple[str, int]:
    """The host and port a ``ws://`` or ``wss://`` URL connects to (80 and 443 by default)."""
    parts = urlsplit(url)
    return (parts.hostname or "").rstrip("."), parts.port or (443 if parts.scheme == "wss" else 80)


def is_address(host: str) -> bool:
    """Whether ``host`` is an IP address rather than a name."""
    return _address(host) is not None


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine: ``localhost`` (and its subdomains) or a loopback address."""
    host = host.lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    address = _address(host)
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return address is not None and (address.is_loopback or (mapped is not None and mapped.is_loopback))


def no_proxy_match(host: str, port: int, entries: str) -> str | None:
    """The entry of a ``NO_PROXY`` value (comma or space separated) that lets ``host:port``
    connect directly, or ``None``. Entries: ``*`` (every host), a domain (itself and its
    subdomains; a leading ``.`` or ``*.`` changes nothing), an IP address or CIDR range (matched
    against an address in the URL, names are not looked up), each optionally with ``:port``."""
    host = host.lower().rstrip(".")
    address = _address(host)
    for entry in re.split(r"[\s,]+", entries.strip()):
        if not entry:
            continue
        if entry == "*":
            return entry
        name, only_port = _split_entry(entry.lower())
        if only_port is not None and only_port != port:
            continue
        if "/" in name or _address(name) is not None:
            try:
                network = ipaddress.ip_network(name, strict=False)
            except ValueError:
                continue
            if address is not None and address in network:
                return entry
            continue
        domain = name.removeprefix("*").strip(".")
        if domain and (host == domain or host.endswith(f".{domain}")):
            return entry
    return None


def _split_entry(entry: str) -> tuple[str, int | None]:
    """A ``NO_PROXY`` entry's host and port (``None``: any); a bare IPv6 address has no port."""
    if _address(entry) is not None:
        return entry, None
    match = _ENTRY_PORT.match(entry)
    if match is None:
        return entry.strip("[]"), None
    return match[1].strip("[]"), int(match[2])


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
