"""Where to connect and how: endpoints from keyword arguments or the environment, and the
connection options, all checked before any socket is opened."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .checks import positive_int, positive_number
from .errors import ArgumentError
from .protocol import SERVICES, Service, Session
from .protocol.urls import check_ws_url, redact
from .protocol.websocket import MAX_MESSAGE
from .proxies import ProxyOption, checked, route

ENV = {name: service.env for name, service in SERVICES.items()}
"""The environment variable behind each credential keyword, per service (see docs/connections.md)."""


class UnknownArgumentError(ArgumentError, TypeError):
    """A keyword the function does not take (a ``TypeError`` as Python would raise, and a
    ``ValueError`` as every bad argument is: docs/errors.md)."""


@dataclass(frozen=True)
class Options:
    """How a connection behaves; every field can be given as a keyword to any collector.

    - ``ping_interval``: seconds between application pings (Nexus ``PING``, ChaiNext ``ping``).
    - ``stall_timeout``: seconds without any frame before the connection is probed.
    - ``pong_timeout``: seconds a probe may go unanswered before the connection counts as dead.
    - ``max_failures``: consecutive failed connection attempts before giving up with
      :class:`~nexusdata.ConnectionFailedError` (``None``: never give up).
    - ``backoff_base`` / ``backoff_cap``: reconnect delays grow from base, doubling up to cap,
      with jitter.
    - ``connect_timeout``: seconds for the TCP/TLS/websocket handshake.
    - ``ca_file``: a CA bundle (PEM) to verify ``wss://`` servers with, e.g. a private CA.
    - ``max_message``: bytes a message may hold (its fragments together); a server sending a
      larger one is cut off with close code 1009 and reconnected to.
    - ``proxy``: the HTTP or SOCKS proxy to connect through (``http://user:password@host:port``,
      ``socks5://``, ``socks5h://``, ...), ``''`` or ``False`` for none, ``None`` (the default)
      for the environment's (``HTTPS_PROXY``, ...: :func:`~nexusdata.proxies.route`). Kept as a
      checked :class:`~nexusdata.proxies.Proxy`, whose repr masks the password.
    """

    ping_interval: float = 30.0
    stall_timeout: float = 10.0
    pong_timeout: float = 5.0
    max_failures: int | None = 8
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    connect_timeout: float = 10.0
    ca_file: str | None = None
    max_message: int = MAX_MESSAGE
    proxy: ProxyOption = None

    def __post_init__(self) -> None:
        for name in ("ping_interval", "stall_timeout", "pong_timeout", "backoff_base", "backoff_cap", "connect_timeout"):
            positive_number(getattr(self, name), name)
        if self.max_failures is not None:
            positive_int(self.max_failures, "max_failures")
        positive_int(self.max_message, "max_message")
        if self.ca_file is not None and not os.path.isfile(self.ca_file):
            raise ArgumentError(f"ca_file must be the path of a PEM CA bundle; no file at {self.ca_file!r}")
        object.__setattr__(self, "proxy", checked(self.proxy))  # frozen: set once, checked


OPTION_NAMES = frozenset(f.name for f in fields(Options))


@dataclass(frozen=True, repr=False)
class Endpoint:
    """One service's endpoint and credentials. Its repr and :attr:`display_url` never show secrets."""

    service: str
    """The service's name (a key of :data:`~nexusdata.protocol.services.SERVICES`)."""
    url: str
    credentials: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    """The service's credentials as (keyword, value) pairs; two endpoints differing only in them
    are equal (a live handle tells credentials apart by a digest)."""

    @property
    def described(self) -> Service:
        """The description of the service (:class:`~nexusdata.protocol.services.Service`)."""
        return SERVICES[self.service]

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values never to show (a token, an API secret)."""
        given = dict(self.credentials)
        return tuple(given[name] for name in self.described.secrets if given.get(name))

    @property
    def connect_url(self) -> str:
        """The URL to open: the service's path added to a bare host (and for Nexus the token)."""
        return self.described.url_of(self.url, dict(self.credentials))

    @property
    def display_url(self) -> str:
        """The URL as it may be shown to a user."""
        return redact(self.connect_url)

    def session(self, subscriptions: Iterable[Any]) -> Session[Any]:
        """A fresh protocol session for one connection."""
        return self.described.session(subscriptions, dict(self.credentials))

    def __repr__(self) -> str:
        return f"Endpoint({self.service}, {self.display_url})"


def _credential(conn: Mapping[str, Any], service: str, key: str, env: Mapping[str, str]) -> str:
    value = conn.get(key)
    if value is None:
        value = env.get(ENV[service][key])
    if value is None or value == "":
        try_sim = (
            f"; to try nexusdata without an account, use the embedded simulator:"
            f" `with nexusdata.sim.Simulator() as sim:` and pass `**sim.{service}` (or run `nexusdata sim`)"
            if key == "url"
            else ""
        )
        raise ArgumentError(f"missing {service} {key}: pass {key}= or set the environment variable {ENV[service][key]}{try_sim}")
    if not isinstance(value, str):
        raise ArgumentError(f"{key} must be a string, got {type(value).__name__}")
    return value


def split_conn(
    service: str, conn: Mapping[str, Any], extra: Iterable[str] = (), env: Mapping[str, str] | None = None
) -> tuple[Endpoint, Options, dict[str, Any]]:
    """Split a collector's ``**conn`` into the endpoint, the options and the ``extra`` keywords
    the caller handles itself, checking every one of them."""
    env = os.environ if env is None else env
    credentials = set(ENV[service])
    extra = set(extra)
    unknown = set(conn) - credentials - OPTION_NAMES - extra
    if unknown:
        accepted = ", ".join(sorted(credentials | OPTION_NAMES | extra))
        raise UnknownArgumentError(f"unexpected keyword {', '.join(sorted(unknown))}; accepted: {accepted}")
    url = check_ws_url(_credential(conn, service, "url", env), "url")
    endpoint = Endpoint(service, url, tuple((k, _credential(conn, service, k, env)) for k in SERVICES[service].credentials))
    options = Options(**{k: v for k, v in conn.items() if k in OPTION_NAMES})
    route(endpoint.connect_url, options.proxy, env)  # a malformed proxy variable is a bad argument, before connecting
    return endpoint, options, {k: v for k, v in conn.items() if k in extra}
